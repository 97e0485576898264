use tokengate::task_token_guard;

#[task_token_guard]
fn longest<'a>(words: Vec<String>) -> &'a str {
    let _ = words;
    ""
}

fn main() {
    let _token = longest(Vec::new());
}
