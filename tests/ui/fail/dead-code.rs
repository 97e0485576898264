#![deny(dead_code)]

use tokengate::task_token_guard;

// Lints on the user's fn still fire through the expansion.
#[task_token_guard]
fn never_called(x: u64) -> u64 {
    x
}

fn main() {}
