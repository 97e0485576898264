use tokengate::task_token_guard;

#[task_token_guard]
const fn answer() -> u32 {
    42
}

fn main() {
    let _token = answer();
}
