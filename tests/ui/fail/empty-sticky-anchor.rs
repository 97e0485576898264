use tokengate::task_token_guard;

#[task_token_guard(sticky_anchor = "")]
fn blank(user: u64) -> u64 {
    user
}

#[task_token_guard(sticky_anchor = user)]
fn bare_word(user: u64) -> u64 {
    user
}

fn main() {
    let _a = blank(1);
    let _b = bare_word(1);
}
