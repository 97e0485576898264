//! `impl Trait` in argument and return position.
#![deny(warnings)]

use tokengate::task_token_guard;

#[task_token_guard]
fn apply(f: impl FnOnce(u32) -> u32 + Send + 'static, x: u32) -> u32 {
    f(x)
}

#[task_token_guard]
fn evens(limit: u32) -> impl Iterator<Item = u32> + Send + 'static {
    (0..limit).filter(|n| n % 2 == 0)
}

fn main() {
    assert!(apply(|x| x + 1, 1).wait().unwrap_err().is_no_coordinator());
    let token = evens(10);
    assert!(token.wait().is_err());
}
