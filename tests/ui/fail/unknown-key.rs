use tokengate::task_token_guard;

#[task_token_guard(op = "square", foo = "bar")]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    // The fn is still expanded, with the valid keys, so this type-checks.
    let _token: tokengate::TaskToken<u64> = square(3);
}
