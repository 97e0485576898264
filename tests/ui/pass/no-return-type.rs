//! A fn with no return type returns `TaskToken<()>`; `return;` still works.
#![deny(warnings)]

use tokengate::{TaskToken, task_token_guard};

#[task_token_guard(weight = "light")]
fn log_line(line: String) {
    if line.is_empty() {
        return;
    }
    println!("{line}");
}

fn main() {
    let token: TaskToken<()> = log_line("hello".to_owned());
    assert!(token.wait().unwrap_err().is_no_coordinator());
}
