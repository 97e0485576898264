//! A process-pool fn with 20 arguments, more than one tuple's serde impls
//! reach (16 elements): they cross to the worker process grouped into tuples
//! of 12, and arrive intact, each as its own argument.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokengate::task_token_guard;
use tokengate_tests::{builder, value, with_coordinator};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Mark {
    Plain,
    Named { name: String, rank: i8 },
}

/// The 20 arguments of `echo`, as the worker process received them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Received {
    a0: u8,
    a1: u16,
    a2: u32,
    a3: u64,
    a4: u128,
    a5: i8,
    a6: i16,
    a7: i32,
    a8: i64,
    a9: f64,
    a10: bool,
    a11: char,
    a12: String,
    a13: Vec<u8>,
    a14: Vec<u16>,
    a15: Option<String>,
    a16: (u8, String),
    a17: [i32; 3],
    a18: BTreeMap<String, u32>,
    a19: Mark,
}

/// Hands every argument back, with the pid of the process it ran in. The
/// byte vector and a pattern sit past the first group of 12.
#[task_token_guard(op = "p_many_args_echo", process_pool = true)]
#[allow(clippy::too_many_arguments)]
fn echo(
    a0: u8,
    a1: u16,
    a2: u32,
    a3: u64,
    a4: u128,
    a5: i8,
    a6: i16,
    a7: i32,
    a8: i64,
    a9: f64,
    a10: bool,
    a11: char,
    a12: String,
    a13: Vec<u8>,
    a14: Vec<u16>,
    a15: Option<String>,
    (tag, text): (u8, String),
    a17: [i32; 3],
    mut a18: BTreeMap<String, u32>,
    a19: Mark,
) -> (Received, u32) {
    // The map arrives as sent; the entry added here shows the body ran on it.
    a18.insert("seen by the worker".to_owned(), 1);
    let received = Received {
        a0,
        a1,
        a2,
        a3,
        a4,
        a5,
        a6,
        a7,
        a8,
        a9,
        a10,
        a11,
        a12,
        a13,
        a14,
        a15,
        a16: (tag, text),
        a17,
        a18,
        a19,
    };
    (received, std::process::id())
}

fn send(r: Received) -> (Received, u32) {
    value(echo(
        r.a0, r.a1, r.a2, r.a3, r.a4, r.a5, r.a6, r.a7, r.a8, r.a9, r.a10, r.a11, r.a12, r.a13,
        r.a14, r.a15, r.a16, r.a17, r.a18, r.a19,
    ))
}

#[test]
fn twenty_arguments_of_assorted_types_round_trip_through_a_worker_process() {
    with_coordinator(builder("p-many-args"), |_| {
        let extremes = Received {
            a0: u8::MAX,
            a1: u16::MAX,
            a2: u32::MAX,
            a3: u64::MAX,
            a4: u128::MAX,
            a5: i8::MIN,
            a6: i16::MIN,
            a7: i32::MIN,
            a8: i64::MIN,
            a9: -1.5e300,
            a10: true,
            a11: 'ω',
            a12: "héllo".to_owned(),
            a13: (0..=255).collect(),
            a14: vec![0, 1, u16::MAX],
            a15: Some("some".to_owned()),
            a16: (7, "seven".to_owned()),
            a17: [i32::MIN, 0, i32::MAX],
            a18: BTreeMap::from([("a".to_owned(), 1), ("b".to_owned(), 2)]),
            a19: Mark::Named {
                name: "named".to_owned(),
                rank: -3,
            },
        };
        let empties = Received {
            a0: 0,
            a1: 0,
            a2: 0,
            a3: 0,
            a4: 0,
            a5: 0,
            a6: 0,
            a7: 0,
            a8: 0,
            a9: 0.0,
            a10: false,
            a11: '\0',
            a12: String::new(),
            a13: Vec::new(),
            a14: Vec::new(),
            a15: None,
            a16: (0, String::new()),
            a17: [0; 3],
            a18: BTreeMap::new(),
            a19: Mark::Plain,
        };
        for sent in [extremes, empties] {
            let (received, pid) = send(sent.clone());
            assert_ne!(pid, std::process::id(), "the call ran in the caller");
            let mut expected = sent;
            expected.a18.insert("seen by the worker".to_owned(), 1);
            assert_eq!(received, expected);
        }
    });
}

/// Seven arguments: the encoding helper takes one parameter more, and must not
/// make clippy's `too_many_arguments` fire on the attribute.
#[task_token_guard(op = "p_seven_args", process_pool = true)]
fn seven(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8) -> u32 {
    [a, b, c, d, e, f, g].into_iter().map(u32::from).sum()
}

#[test]
fn a_process_fn_with_seven_arguments_runs() {
    with_coordinator(builder("p-seven-args"), |_| {
        assert_eq!(value(seven(1, 2, 3, 4, 5, 6, 7)), 28);
    });
}
