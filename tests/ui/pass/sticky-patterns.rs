//! A sticky fn may bind its arguments with any pattern: the attribute binds such
//! an argument to a hidden name for the key, and the body destructures it with
//! the original pattern.
#![deny(warnings)]

use serde::Serialize;
use tokengate::{TaskToken, task_token_guard};

#[derive(Hash, Serialize)]
pub struct Point {
    pub x: i64,
    pub y: i64,
}

#[task_token_guard(sticky_anchor = "pairs")]
fn add((a, b): (u32, u32)) -> u32 {
    a + b
}

#[task_token_guard(sticky_anchor = "pairs", hash_policy = "fast")]
fn add_fast((mut a, b): (u32, u32), _: u8) -> u32 {
    a += b;
    a
}

#[task_token_guard(sticky_anchor = "points", hash_policy = "full")]
fn manhattan(Point { x, y }: Point, [dx, dy]: [i64; 2], ignored @ _: u8) -> i64 {
    let _ = ignored;
    (x + dx).abs() + (y + dy).abs()
}

// The hidden names cannot clash with the body's own.
#[task_token_guard(sticky_anchor = "clash", hash_policy = "fast")]
fn clash((__tg_arg1, b): (u8, u8), (c, d): (u8, u8)) -> u8 {
    let __tg_arg0 = c;
    __tg_arg0 + __tg_arg1 + b + d
}

// Mixed with plain names and `self`.
pub struct Grid(Vec<u8>);

impl Grid {
    #[task_token_guard(sticky_anchor = "grid", hash_policy = "none")]
    pub fn at(self, (row, col): (usize, usize)) -> Option<u8> {
        self.0.get(row * 4 + col).copied()
    }
}

fn main() {
    assert!(no_coordinator(add((1, 2))));
    assert!(no_coordinator(add_fast((1, 2), 3)));
    assert!(no_coordinator(manhattan(Point { x: 1, y: 2 }, [3, 4], 0)));
    assert!(no_coordinator(clash((1, 2), (3, 4))));
    assert!(Grid(vec![0; 16]).at((1, 2)).wait().is_err());
}

/// Whether the call failed at once for want of a coordinator, as every call
/// here does.
fn no_coordinator<T>(token: TaskToken<T>) -> bool {
    token.wait().is_err_and(|error| error.is_no_coordinator())
}
