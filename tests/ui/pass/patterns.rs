//! Argument patterns keep working: the closure captures their bindings by move.
#![deny(warnings)]

use tokengate::task_token_guard;

pub struct Point {
    pub x: i64,
    pub y: i64,
}

#[task_token_guard]
fn add((a, b): (u32, u32)) -> u32 {
    a + b
}

#[task_token_guard]
fn countdown(mut n: u32) -> u32 {
    let mut steps = 0;
    while n > 0 {
        n -= 1;
        steps += 1;
    }
    steps
}

#[task_token_guard]
fn ignore_second(keep: u8, _: u8) -> u8 {
    keep
}

#[task_token_guard]
fn manhattan(Point { x, y }: Point, [dx, dy]: [i64; 2]) -> i64 {
    (x + dx).abs() + (y + dy).abs()
}

fn main() {
    assert!(add((1, 2)).wait().unwrap_err().is_no_coordinator());
    assert!(countdown(3).wait().unwrap_err().is_no_coordinator());
    assert!(ignore_second(1, 2).wait().unwrap_err().is_no_coordinator());
    assert!(
        manhattan(Point { x: 1, y: 2 }, [3, 4])
            .wait()
            .unwrap_err()
            .is_no_coordinator()
    );
}
