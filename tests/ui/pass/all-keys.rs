//! The documented example: every key given.
#![deny(warnings)]

use tokengate::{TaskToken, Weight, task_token_guard};

#[task_token_guard(op = "prime_check", weight = "heavy", timeout = "250ms")]
pub fn prime_operation(n: u64) -> bool {
    n >= 2 && (2..n).take_while(|d| d * d <= n).all(|d| (n / d) * d != n)
}

// Keys in any order, weight in any case, a trailing comma.
#[task_token_guard(timeout = "1.5s", weight = "Light", op = "light_one",)]
fn light_one() -> u8 {
    1
}

fn main() {
    let token: TaskToken<bool> = prime_operation(97);
    assert_eq!(token.op(), "prime_check");
    assert_eq!(token.weight(), Weight::Heavy);
    // No coordinator is running, so the call fails at once.
    assert!(token.wait().unwrap_err().is_no_coordinator());

    let token = light_one();
    assert_eq!(token.op(), "light_one");
    assert_eq!(token.weight(), Weight::Light);
    assert!(token.wait().unwrap_err().is_no_coordinator());
}
