//! Fns with more arguments than one tuple of the standard library's or serde's
//! traits holds: the key, and the process pool's encoding, group them.
#![deny(warnings)]
#![allow(clippy::too_many_arguments)]

use serde::{Deserialize, Serialize};
use tokengate::{TaskToken, task_token_guard};

#[derive(Hash, Serialize, Deserialize)]
pub struct Tag(pub u8);

// One fn per hash policy, each with 20 arguments of mixed types.
#[task_token_guard(sticky_anchor = "wide")]
fn standard(
    a0: u8, a1: u16, a2: u32, a3: u64, a4: i8, a5: i16, a6: i32, a7: i64, a8: bool, a9: char,
    a10: String, a11: Vec<u8>, a12: (u8, u8), a13: Option<u32>, a14: Tag, a15: [u8; 2],
    a16: u8, a17: u8, a18: u8, (a19, _): (u8, String),
) -> u64 {
    let _ = (a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15);
    u64::from(a0) + u64::from(a1) + u64::from(a2) + a3 + u64::from(a16 + a17 + a18 + a19)
}

#[task_token_guard(sticky_anchor = "wide", hash_policy = "full", digest_policy = "fast")]
fn full(
    a0: u8, a1: u8, a2: u8, a3: u8, a4: u8, a5: u8, a6: u8, a7: u8, a8: u8, a9: u8,
    a10: u8, a11: u8, a12: u8, a13: u8, a14: u8, a15: u8, a16: u8, a17: u8, a18: u8,
    a19: Tag,
) -> u8 {
    a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15
        + a16 + a17 + a18 + a19.0
}

#[task_token_guard(sticky_anchor = "wide", hash_policy = "fast")]
fn fast(
    a0: u8, a1: u16, a2: u32, a3: u64, a4: i8, a5: i16, a6: i32, a7: i64, a8: bool, a9: char,
    a10: String, a11: Vec<u8>, a12: (u8, u8), a13: Option<u32>, a14: Tag, a15: [u8; 2],
    a16: u8, a17: u8, a18: u8, _: u8,
) -> u64 {
    let _ = (a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15);
    u64::from(a0) + u64::from(a1) + u64::from(a2) + a3 + u64::from(a16 + a17 + a18)
}

#[task_token_guard(sticky_anchor = "wide", hash_policy = "none")]
fn none(
    a0: f64, a1: f64, a2: f64, a3: f64, a4: f64, a5: f64, a6: f64, a7: f64, a8: f64, a9: f64,
    a10: f64, a11: f64, a12: f64, a13: f64, a14: f64, a15: f64, a16: f64, a17: f64, a18: f64,
    a19: f64,
) -> f64 {
    a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12 + a13 + a14 + a15
        + a16 + a17 + a18 + a19
}

// A process-pool fn encodes and decodes its 20 arguments; this one is sticky too.
#[task_token_guard(process_pool = true)]
fn process(
    a0: u8, a1: u16, a2: u32, a3: u64, a4: i8, a5: i16, a6: i32, a7: i64, a8: bool, a9: char,
    a10: String, a11: Vec<u8>, a12: (u8, u8), a13: Option<u32>, a14: Tag, a15: [u8; 2],
    a16: u8, a17: u8, mut a18: u8, (a19, _): (u8, String),
) -> u64 {
    a18 += 1;
    let _ = (a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15);
    u64::from(a0) + u64::from(a1) + u64::from(a2) + a3 + u64::from(a16 + a17 + a18 + a19)
}

#[task_token_guard(sticky_anchor = "wide", hash_policy = "fast", process_pool = true)]
fn sticky_process(
    a0: u8, a1: u8, a2: u8, a3: u8, a4: u8, a5: u8, a6: u8, a7: u8, a8: u8, a9: u8,
    a10: u8, a11: u8, a12: u8, a13: u8, a14: u8, a15: u8, a16: u8, a17: u8, a18: u8,
    a19: Vec<u8>,
) -> Vec<u8> {
    let mut all = vec![
        a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18,
    ];
    all.extend(a19);
    all
}

fn main() {
    let token: TaskToken<u64> = standard(
        0, 1, 2, 3, 4, 5, 6, 7, true, 'x', "s".to_owned(), vec![1], (1, 2), Some(3), Tag(4),
        [5, 6], 7, 8, 9, (10, "unused".to_owned()),
    );
    assert!(no_coordinator(token));
    assert!(no_coordinator(full(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, Tag(19)
    )));
    assert!(no_coordinator(fast(
        0, 1, 2, 3, 4, 5, 6, 7, true, 'x', "s".to_owned(), vec![1], (1, 2), Some(3), Tag(4),
        [5, 6], 7, 8, 9, 10,
    )));
    assert!(no_coordinator(none(
        0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
        16.0, 17.0, 18.0, 19.0
    )));
    assert!(no_coordinator(process(
        0, 1, 2, 3, 4, 5, 6, 7, true, 'x', "s".to_owned(), vec![1], (1, 2), Some(3), Tag(4),
        [5, 6], 7, 8, 9, (10, "unused".to_owned()),
    )));
    assert!(no_coordinator(sticky_process(
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, vec![19]
    )));
}

/// Whether the call failed at once for want of a coordinator, as every call
/// here does.
fn no_coordinator<T>(token: TaskToken<T>) -> bool {
    token.wait().is_err_and(|error| error.is_no_coordinator())
}
