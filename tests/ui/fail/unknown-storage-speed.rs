use tokengate::task_token_guard;

#[task_token_guard(storage_speed = "LUDICROUS")]
fn read(path: String) -> usize {
    path.len()
}

#[task_token_guard(storage_speed = FAST)]
fn bare_word() {}

fn main() {
    let _a = read(String::new());
    let _b = bare_word();
}
