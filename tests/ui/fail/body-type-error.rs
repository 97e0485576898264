use tokengate::task_token_guard;

// Type errors in the body point at the user's code, as without the attribute.
#[task_token_guard]
fn parse(text: String) -> u32 {
    if text.is_empty() {
        return "zero";
    }
    text.len()
}

fn main() {
    let _token = parse(String::new());
}
