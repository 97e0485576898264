use tokengate::task_token_guard;

#[task_token_guard]
fn len(ref text: String) -> usize {
    text.len()
}

fn main() {
    let _token = len(String::new());
}
