//! `?` and `return` in the body act on the body, as in the original fn.
#![deny(warnings)]

use std::num::ParseIntError;

use tokengate::{TaskToken, task_token_guard};

#[task_token_guard(op = "parse_sum")]
fn parse_sum(a: String, b: String) -> Result<i64, ParseIntError> {
    if a.is_empty() {
        return Ok(0);
    }
    let a: i64 = a.trim().parse()?;
    let b: i64 = b.trim().parse()?;
    Ok(a + b)
}

#[task_token_guard]
fn sign(x: i64) -> &'static str {
    if x < 0 {
        return "negative";
    }
    if x == 0 {
        return "zero";
    }
    "positive"
}

#[task_token_guard]
fn checked(numbers: Vec<u32>) -> Option<u32> {
    let first = numbers.first()?;
    Some(*first)
}

fn main() {
    let token: TaskToken<Result<i64, ParseIntError>> = parse_sum("1".into(), "2".into());
    assert!(token.wait().unwrap_err().is_no_coordinator());
    assert!(sign(-1).wait().unwrap_err().is_no_coordinator());
    assert!(checked(vec![1]).wait().unwrap_err().is_no_coordinator());
}
