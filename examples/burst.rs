//! The original's "Medium x8" concurrency burst, ported, with an honest speedup.
//!
//! Eight threads wait on a `std::sync::Barrier`; when it opens, each calls the
//! guarded `complex_operation(dim)` (build a dim×dim matrix of i·j, sum it) for
//! one of the dims [100, 120, 140, 160, 180, 200, 110, 130] and `.wait()`s on
//! its token. Per burst we measure:
//!
//! * wall: first submission → last result;
//! * Σ of the per-task submit→result times, and the original demo's
//!   "concurrency ratio" Σ/wall, which counts overlapping *waits* as parallel
//!   work and so is not a speedup;
//! * the honest speedup: the same 8 calls run serially in this process
//!   (plain fns, no threads) ÷ wall;
//! * the same 8 calls made from one thread and then waited on: tokengate's own
//!   cost without the barrier harness.
//!
//! 1 warm-up burst, then 51 recorded; medians are printed next to the original's
//! figures (Python 3.11, 2 vCPUs; reference/original-measured.md, workload c).
//! Our calls take microseconds where Python's take milliseconds, so at this size
//! the burst mostly measures waking 8 threads on a 2-core machine.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use tokengate::OperationsCoordinator;
use tokengate_benches::stats::{fmt_ns, median};
use tokengate_examples::{complex_operation, plain};

const DIMS: [u64; 8] = [100, 120, 140, 160, 180, 200, 110, 130];
const ROUNDS: usize = 51;

/// Σ_{i,j<dim} i·j = (Σ_{i<dim} i)².
fn expected(dim: u64) -> u64 {
    let s = dim * (dim - 1) / 2;
    s * s
}

/// One burst's figures.
#[derive(Debug, Clone, Copy)]
struct Burst {
    wall: Duration,
    sum: Duration,
    submit_spread: Duration,
}

/// Runs one burst: through tokengate when `guarded`, else the plain fn inline
/// in each barrier thread (the harness alone).
fn burst(guarded: bool) -> Burst {
    let barrier = Arc::new(Barrier::new(DIMS.len()));
    let threads: Vec<_> = DIMS
        .iter()
        .map(|&dim| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                let submitted = Instant::now();
                let value = if guarded {
                    complex_operation(dim).wait().expect("burst call failed")
                } else {
                    plain::complex(dim)
                };
                let resolved = Instant::now();
                assert_eq!(value, expected(dim));
                (submitted, resolved)
            })
        })
        .collect();
    let times: Vec<(Instant, Instant)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let first_submit = times.iter().map(|t| t.0).min().unwrap();
    let last_submit = times.iter().map(|t| t.0).max().unwrap();
    let last_result = times.iter().map(|t| t.1).max().unwrap();
    Burst {
        wall: last_result - first_submit,
        sum: times.iter().map(|(s, r)| *r - *s).sum(),
        submit_spread: last_submit - first_submit,
    }
}

/// The same 8 calls made from one thread, then `.wait()`ed: tokengate without
/// the barrier harness.
fn one_thread() -> Duration {
    let start = Instant::now();
    let tokens: Vec<_> = DIMS.iter().map(|&dim| complex_operation(dim)).collect();
    for (token, dim) in tokens.into_iter().zip(DIMS) {
        assert_eq!(token.wait().expect("call failed"), expected(dim));
    }
    start.elapsed()
}

fn serial() -> Duration {
    let start = Instant::now();
    for dim in DIMS {
        assert_eq!(plain::complex(dim), expected(dim));
    }
    start.elapsed()
}

fn med(values: impl Iterator<Item = f64>) -> f64 {
    median(&values.collect::<Vec<_>>())
}

fn main() {
    let coordinator = OperationsCoordinator::start();
    burst(true);
    burst(false);
    serial();

    // Interleave the three measurements so drift in CPU speed hits all alike.
    let mut guarded = Vec::new();
    let mut harness = Vec::new();
    let mut serials = Vec::new();
    let mut singles = Vec::new();
    for _ in 0..ROUNDS {
        guarded.push(burst(true));
        harness.push(burst(false));
        serials.push(serial());
        singles.push(one_thread());
    }
    let ns = |d: Duration| d.as_nanos() as f64;
    let wall = med(guarded.iter().map(|b| ns(b.wall)));
    let sum = med(guarded.iter().map(|b| ns(b.sum)));
    let ratio = med(guarded.iter().map(|b| ns(b.sum) / ns(b.wall)));
    let spread = med(guarded.iter().map(|b| ns(b.submit_spread)));
    let serial = med(serials.iter().map(|&d| ns(d)));
    let plain_threads = med(harness.iter().map(|b| ns(b.wall)));
    let single = med(singles.iter().map(|&d| ns(d)));
    let single_speedup = med(serials.iter().zip(&singles).map(|(&s, &w)| ns(s) / ns(w)));
    let speedup = med(guarded
        .iter()
        .zip(&serials)
        .map(|(b, &s)| ns(s) / ns(b.wall)));

    println!(
        "\"Medium x8\" burst: complex_operation({DIMS:?}), 8 barrier threads, \
         medians of {ROUNDS} bursts\n"
    );
    println!("{:<40} {:>14} {:>16}", "", "tokengate", "Py-TokenGate");
    let row = |name: &str, ours: String, theirs: &str| {
        println!("{name:<40} {ours:>14} {theirs:>16}");
    };
    row(
        "wall (first submit -> last result)",
        fmt_ns(wall),
        "13.40 ms",
    );
    row("sum of per-task submit->result", fmt_ns(sum), "81.25 ms");
    row(
        "\"concurrency ratio\" (sum / wall)",
        format!("{ratio:.2}x"),
        "5.97x",
    );
    row("submit spread (barrier wake-up)", fmt_ns(spread), "-");
    row(
        "same 8 calls, serial, in-process",
        fmt_ns(serial),
        "7.19 ms",
    );
    row("speedup: serial / wall", format!("{speedup:.2}x"), "0.54x");
    row(
        "harness alone: 8 plain barrier threads",
        fmt_ns(plain_threads),
        "9.54 ms",
    );
    println!("\nwithout the barrier harness (one thread makes the 8 calls, then waits on each):");
    row("wall", fmt_ns(single), "-");
    row(
        "speedup: serial / wall",
        format!("{single_speedup:.2}x"),
        "-",
    );
    println!(
        "\nThe ratio divides summed waits by wall time; it is not a speedup. On {} cores \
         the real speedup cannot exceed {}x.",
        tokengate_benches::machine::cores(),
        tokengate_benches::machine::cores()
    );

    let stats = coordinator.stats();
    let op = stats.op("nested_loops").expect("op recorded");
    assert_eq!(op.counts.completed, (DIMS.len() * (2 * ROUNDS + 1)) as u64);
    assert_eq!(op.counts.failed + op.counts.killed + op.counts.timed_out, 0);
    coordinator.stop();
}
