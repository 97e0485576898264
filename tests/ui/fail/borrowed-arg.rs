use std::borrow::Cow;

use tokengate::task_token_guard;

#[task_token_guard]
fn word_count(text: &str) -> usize {
    text.split_whitespace().count()
}

#[task_token_guard]
fn fill(buf: &mut Vec<u8>) {
    buf.push(0);
}

#[task_token_guard]
fn shout<'a>(text: Cow<'a, str>) -> String {
    text.to_uppercase()
}

fn main() {
    let _a = word_count("a b");
    let _b = fill(&mut Vec::new());
    let _c = shout(Cow::Borrowed("hi"));
}
