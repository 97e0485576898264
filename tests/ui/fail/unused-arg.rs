#![deny(unused_variables)]

use tokengate::task_token_guard;

// An argument the body never uses is still reported where it is declared.
#[task_token_guard]
fn ignores_scale(x: u64, scale: u64) -> u64 {
    x
}

fn main() {
    let _token = ignores_scale(1, 2);
}
