//! The original's mixed CPU workload (workload e), ported call for call.
//!
//! Modelled, like the Python measurement, on the original's `demo/orchestrator.py`
//! with its 8 `cpu_ops` functions, their operation names and weights, and its
//! argument ranges. A seeded generator draws, in order: the batch size
//! U{10..20}; for each call, the operation and then its argument; and, after
//! the batch is resolved (`.wait()` on each token, in submission order), a sleep
//! of U(0.01, 0.2) s. The loop stops at the first batch boundary after the
//! duration (default 30 s, as measured for the original; `--secs N` or
//! `MIXED_SECS=N` to shorten it). Latency runs from just before the guarded call
//! to the return of its `.wait()`. Afterwards the same (fn, argument) list is
//! replayed serially through the plain fns: the pure CPU content.
//!
//! Differences from the Python run: the generator is SplitMix64 seeded with 42,
//! not Python's Mersenne Twister, so the draws differ (same distributions); and
//! Fibonacci numbers are computed modulo 2¹²⁸ (Python's are exact big integers).

use std::time::{Duration, Instant};

use tokengate::{OperationsCoordinator, TaskError, TaskToken};
use tokengate_benches::stats::{fmt_ns, quantile};
use tokengate_examples::{
    SplitMix64, complex_operation, fibonacci_operation, heavy_operation, moderate_operation, plain,
    prime_operation, simple_operation, string_operation, trivial_operation,
};

const PRIME_CHOICES: [u64; 12] = [97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 100, 102];

/// The 8 operations, in the order the generator indexes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Trivial,
    Simple,
    Moderate,
    Complex,
    Heavy,
    Fibonacci,
    Prime,
    String,
}

impl Op {
    const ALL: [Op; 8] = [
        Op::Trivial,
        Op::Simple,
        Op::Moderate,
        Op::Complex,
        Op::Heavy,
        Op::Fibonacci,
        Op::Prime,
        Op::String,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::Trivial => "trivial_math",
            Op::Simple => "simple_loop",
            Op::Moderate => "list_process",
            Op::Complex => "nested_loops",
            Op::Heavy => "cpu_intensive",
            Op::Fibonacci => "fibonacci",
            Op::Prime => "prime_check",
            Op::String => "string_ops",
        }
    }

    /// The orchestrator's argument range for this op.
    fn draw_argument(self, rng: &mut SplitMix64) -> u64 {
        match self {
            Op::Trivial => rng.range_inclusive(1, 100),
            Op::Simple => rng.range_inclusive(100, 500),
            Op::Moderate => rng.range_inclusive(1_000, 8_000),
            Op::Complex => rng.range_inclusive(100, 600),
            Op::Heavy => rng.range_inclusive(500, 2_000),
            Op::Fibonacci => rng.range_inclusive(100, 300),
            Op::Prime => *rng.choose(&PRIME_CHOICES),
            Op::String => rng.range_inclusive(10, 40),
        }
    }

    /// The guarded call; every result is widened to `u128` so one token type fits all.
    fn call(self, arg: u64) -> Pending {
        match self {
            Op::Trivial => Pending::U64(trivial_operation(arg)),
            Op::Simple => Pending::U64(simple_operation(arg)),
            Op::Moderate => Pending::U64(moderate_operation(arg)),
            Op::Complex => Pending::U64(complex_operation(arg)),
            Op::Heavy => Pending::U64(heavy_operation(arg)),
            Op::Fibonacci => Pending::U128(fibonacci_operation(arg)),
            Op::Prime => Pending::Bool(prime_operation(arg)),
            Op::String => Pending::Usize(string_operation(arg)),
        }
    }

    /// The same work, run inline (the serial replay and the result check).
    fn run_plain(self, arg: u64) -> u128 {
        match self {
            Op::Trivial => plain::trivial(arg).into(),
            Op::Simple => plain::simple(arg).into(),
            Op::Moderate => plain::moderate(arg).into(),
            Op::Complex => plain::complex(arg).into(),
            Op::Heavy => plain::heavy(arg).into(),
            Op::Fibonacci => plain::fibonacci(arg),
            Op::Prime => plain::is_prime(arg).into(),
            Op::String => plain::string_ops(arg) as u128,
        }
    }
}

/// A token of any of the ops' result types.
enum Pending {
    U64(TaskToken<u64>),
    U128(TaskToken<u128>),
    Bool(TaskToken<bool>),
    Usize(TaskToken<usize>),
}

impl Pending {
    fn wait(self) -> Result<u128, TaskError> {
        match self {
            Pending::U64(t) => t.wait().map(u128::from),
            Pending::U128(t) => t.wait(),
            Pending::Bool(t) => t.wait().map(u128::from),
            Pending::Usize(t) => t.wait().map(|v| v as u128),
        }
    }
}

fn duration_from_args() -> Duration {
    let args: Vec<String> = std::env::args().collect();
    let secs = args
        .iter()
        .position(|a| a == "--secs")
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var("MIXED_SECS").ok())
        .map_or(30.0, |v| {
            v.parse::<f64>().expect("--secs takes a number of seconds")
        });
    Duration::from_secs_f64(secs)
}

fn main() {
    let duration = duration_from_args();
    let coordinator = OperationsCoordinator::start();
    println!(
        "mixed cpu_ops workload for {duration:?} (seed 42), {} workers; batches of 10-20, \
         .wait() each in order, then sleep U(0.01, 0.2) s\n",
        coordinator.worker_count()
    );

    let mut rng = SplitMix64::new(42);
    let mut calls: Vec<(Op, u64)> = Vec::new();
    let mut latencies: Vec<f64> = Vec::new();
    let mut failures = 0usize;
    let mut batches = 0usize;
    let mut active = Duration::ZERO;
    let start = Instant::now();
    while start.elapsed() < duration {
        let batch_start = Instant::now();
        let size = rng.range_inclusive(10, 20);
        let mut batch = Vec::with_capacity(size as usize);
        for _ in 0..size {
            let op = *rng.choose(&Op::ALL);
            let arg = op.draw_argument(&mut rng);
            let submitted = Instant::now();
            batch.push((op, arg, submitted, op.call(arg)));
        }
        for (op, arg, submitted, token) in batch {
            match token.wait() {
                Ok(value) => {
                    latencies.push(submitted.elapsed().as_nanos() as f64);
                    assert_eq!(value, op.run_plain(arg), "{} ({arg})", op.name());
                }
                Err(err) => {
                    eprintln!("{err}");
                    failures += 1;
                }
            }
            calls.push((op, arg));
        }
        batches += 1;
        active += batch_start.elapsed();
        std::thread::sleep(Duration::from_secs_f64(rng.uniform(0.01, 0.2)));
    }
    let elapsed = start.elapsed();

    let replay_start = Instant::now();
    for &(op, arg) in &calls {
        std::hint::black_box(op.run_plain(std::hint::black_box(arg)));
    }
    let replay = replay_start.elapsed();

    let p50 = quantile(&latencies, 0.50);
    let p95 = quantile(&latencies, 0.95);
    let max = quantile(&latencies, 1.0);
    println!("{:<34} {:>14} {:>16}", "", "tokengate", "Py-TokenGate");
    let row = |name: &str, ours: String, theirs: &str| {
        println!("{name:<34} {ours:>14} {theirs:>16}");
    };
    row(
        "run time",
        format!("{:.1} s", elapsed.as_secs_f64()),
        "30 s",
    );
    row("tokens resolved", calls.len().to_string(), "2,950");
    row("failed", failures.to_string(), "0");
    row("batches", batches.to_string(), "196");
    row("submit->result latency p50", fmt_ns(p50), "34.1 ms");
    row("submit->result latency p95", fmt_ns(p95), "75.6 ms");
    row("submit->result latency max", fmt_ns(max), "142.5 ms");
    row(
        "serial replay (pure CPU)",
        fmt_ns(replay.as_nanos() as f64),
        "6.13 s",
    );
    row(
        "mean time to resolve a batch",
        fmt_ns(active.as_nanos() as f64 / batches as f64),
        "~48 ms (est.)",
    );
    row(
        "serial replay per batch (mean)",
        fmt_ns(replay.as_nanos() as f64 / batches as f64),
        "31.3 ms",
    );
    println!(
        "\nThe token count follows from the batch time: each batch also sleeps 105 ms on \
         average. The original's batch time is estimated as (30 s - 196 x 105 ms) / 196."
    );

    let stats = coordinator.stats();
    println!("\ncoordinator.stats():\n{stats}");
    assert_eq!(failures, 0);
    assert_eq!(stats.tokens.completed, calls.len() as u64);
    coordinator.stop();
}
