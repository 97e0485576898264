//! `process_pool = true` fns: serde arguments and return values, `Vec<u8>` as
//! one block, patterns, sticky keys, leads, no return type. The expansion adds
//! no warnings of its own.
#![deny(warnings)]

use serde::{Deserialize, Serialize};
use tokengate::{TaskToken, task_token_guard};

#[derive(Debug, Serialize, Deserialize)]
pub struct Order {
    pub customer: String,
    pub cents: Vec<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Verdict {
    Ship(u64),
    Hold { reason: String },
}

#[task_token_guard(op = "check_order", weight = "heavy", timeout = "2s", process_pool = true)]
pub fn check_order(order: Order, limit: u64) -> Verdict {
    let total = order.cents.iter().sum();
    if total > limit {
        return Verdict::Hold {
            reason: format!("{} over {limit}", order.customer),
        };
    }
    Verdict::Ship(total)
}

// `Vec<u8>` in and out, by any path; `mut` stays on the body's binding.
#[task_token_guard(process_pool = true)]
fn reverse(mut data: Vec<u8>, tail: std::vec::Vec<u8>) -> ::std::vec::Vec<u8> {
    data.reverse();
    data.extend(tail);
    data
}

// Patterns bind in the body as written; `_` is sent and ignored.
#[task_token_guard(process_pool = true)]
fn add((a, b): (u32, u32), Point { x, y }: Point, _: u8, [c, d]: [u8; 2]) -> u64 {
    u64::from(a + b) + (x + y) as u64 + u64::from(c + d)
}

#[derive(Serialize, Deserialize, Hash)]
pub struct Point {
    pub x: i64,
    pub y: i64,
}

// A sticky process-pool fn keys on its arguments before they are encoded.
#[task_token_guard(sticky_anchor = "customer", process_pool = true)]
fn sticky_total(customer: String, (cents, _memo): (Vec<u64>, String)) -> u64 {
    let _ = customer;
    cents.iter().sum()
}

#[task_token_guard(sticky_anchor = "grid", hash_policy = "fast", process_pool = true)]
fn sticky_fast(point: Point, bytes: Vec<u8>) -> Result<usize, String> {
    usize::try_from(point.x)
        .map(|x| x + bytes.len())
        .map_err(|err| err.to_string())
}

// A lead, and an unused argument allowed on the body's own binding.
#[task_token_guard(external_calls = ["check_order"], process_pool = true)]
fn lead(#[allow(unused_variables)] unused: u8) -> Option<u8> {
    #![allow(clippy::unnecessary_wraps)]
    None
}

// No return type; `return` and `?` work as in the original fn.
#[task_token_guard(process_pool = true)]
fn log_line(line: String) {
    if line.is_empty() {
        return;
    }
    println!("{line}");
}

#[task_token_guard(process_pool = true)]
fn parse(text: String) -> Result<i64, String> {
    let n: i64 = text.trim().parse().map_err(|_| format!("not a number: {text}"))?;
    Ok(n * 2)
}

// An associated fn without `self`; `process_pool = false` is a plain call.
pub struct Math;

impl Math {
    #[task_token_guard(op = "math_square", process_pool = true)]
    pub fn square(n: u64) -> u64 {
        n * n
    }

    #[task_token_guard(storage_speed = "FAST", process_pool = false)]
    pub fn cube(self, n: u64) -> u64 {
        n * n * n
    }
}

// Generated names cannot clash with the user's.
#[task_token_guard(process_pool = true)]
fn clash(__tg_out: u8, __tg_bytes: u8, (__tg_arg0, __tg_input): (u8, u8)) -> u8 {
    let __tg_value = __tg_arg0;
    __tg_out + __tg_bytes + __tg_value + __tg_input
}

fn main() {
    let order = Order {
        customer: "acme".to_owned(),
        cents: vec![1, 2],
    };
    let token: TaskToken<Verdict> = check_order(order, 10);
    assert_eq!(token.op(), "check_order");
    assert!(no_coordinator(token));
    let token: TaskToken<Vec<u8>> = reverse(vec![1, 2], vec![3]);
    assert!(no_coordinator(token));
    assert!(no_coordinator(add((1, 2), Point { x: 3, y: 4 }, 5, [6, 7])));
    assert!(no_coordinator(sticky_total("acme".to_owned(), (vec![1], String::new()))));
    assert!(no_coordinator(sticky_fast(Point { x: 1, y: 2 }, vec![3])));
    assert!(no_coordinator(lead(1)));
    let token: TaskToken<()> = log_line("hello".to_owned());
    assert!(no_coordinator(token));
    assert!(no_coordinator(parse("21".to_owned())));
    assert!(no_coordinator(Math::square(3)));
    assert!(no_coordinator(Math.cube(3)));
    assert!(no_coordinator(clash(1, 2, (3, 4))));
}

/// Whether the call failed at once for want of a coordinator, as every call
/// here does.
fn no_coordinator<T>(token: TaskToken<T>) -> bool {
    token.wait().is_err_and(|error| error.is_no_coordinator())
}
