#![deny(unused_must_use)]

use tokengate::task_token_guard;

#[task_token_guard]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    square(3);
}
