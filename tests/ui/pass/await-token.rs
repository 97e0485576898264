//! The token is a future: async code awaits it.
#![deny(warnings)]

use tokengate::task_token_guard;

#[task_token_guard(weight = "light")]
fn double(x: u64) -> u64 {
    x * 2
}

async fn caller() -> bool {
    double(21).await.unwrap_err().is_no_coordinator()
}

fn main() {
    assert!(futures::executor::block_on(caller()));
}
