//! Saturating a small pool: 20 long CPU calls, visible backpressure, none lost.
//!
//! A port of the original's `run_series_saturation_demo` (20 × `series_long`,
//! a heavy busy loop). The original ran each call for 1 s; here each runs for
//! 200 ms (pass `--ms N` to change it) so the demo takes about 2 s.
//!
//! The coordinator is deliberately small: 2 core groups × 1 worker, 1 call per
//! mailbox and room for 4 waiting heavy calls. Two calls run, four wait in the
//! lane, and the submitting thread blocks on the 7th call until a worker frees a
//! slot: backpressure, instead of an unbounded queue. The demo prints when each
//! call resolved and on which worker, how long submission took, and checks that
//! all 20 calls completed.

use std::time::{Duration, Instant};

use tokengate::{OperationsCoordinator, Weight, task_token_guard};
use tokengate_examples::plain;

const CALLS: usize = 20;
const LANE_CAPACITY: usize = 4;

/// The original's `series_long`, heavy; returns the worker it ran on and the
/// loop rounds it managed.
#[task_token_guard(op = "series_long", weight = "heavy")]
fn series_long(duration: Duration) -> (usize, u64) {
    let worker = tokengate::current_worker().expect("runs on a worker").index;
    (worker, plain::series_long(duration))
}

fn call_duration() -> Duration {
    let args: Vec<String> = std::env::args().collect();
    let ms = args
        .iter()
        .position(|a| a == "--ms")
        .and_then(|i| args.get(i + 1))
        .map_or(200, |v| {
            v.parse().expect("--ms takes a number of milliseconds")
        });
    Duration::from_millis(ms)
}

fn main() {
    let duration = call_duration();
    let coordinator = OperationsCoordinator::builder()
        .core_groups(2)
        .workers_per_core(1)
        .mailbox_capacity(1)
        .lane_capacity(LANE_CAPACITY)
        .start()
        .expect("coordinator starts");
    println!(
        "{CALLS} x series_long({duration:?}) on {} workers, heavy lane capacity {LANE_CAPACITY} \
         (the original: 20 x 1 s)\n",
        coordinator.worker_count()
    );

    let start = Instant::now();
    let mut tokens = Vec::with_capacity(CALLS);
    let mut submit_times = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let before = Instant::now();
        tokens.push(series_long(duration));
        submit_times.push(before.elapsed());
    }
    let submission = start.elapsed();
    let lane = coordinator.stats().lane(Weight::Heavy).clone();
    println!(
        "submitting {CALLS} calls took {submission:.2?} (the caller blocked while the lane was full); \
         longest single call to return its token: {:.2?}",
        submit_times.iter().max().unwrap()
    );
    println!(
        "right after submission: heavy lane depth {}/{}\n",
        lane.depth, lane.capacity
    );

    println!(
        "{:>4}  {:>8}  {:>12}  {:>12}",
        "call", "worker", "started", "resolved"
    );
    let mut resolved = Vec::with_capacity(CALLS);
    for (i, mut token) in tokens.into_iter().enumerate() {
        // A generous bound: nothing should take anywhere near this long.
        let result = token
            .wait_timeout(duration * CALLS as u32 * 4)
            .expect("call resolves")
            .expect("call completes");
        let (worker, rounds) = result;
        assert!(rounds > 0);
        let started = token.started_at().unwrap() - start;
        let finished = token.finished_at().unwrap() - start;
        println!("{i:>4}  {worker:>8}  {started:>12.2?}  {finished:>12.2?}");
        resolved.push(finished);
    }
    assert_eq!(resolved.len(), CALLS, "no call lost");

    let earliest = *resolved.iter().min().unwrap();
    let latest = *resolved.iter().max().unwrap();
    let ideal = duration * CALLS as u32 / coordinator.worker_count() as u32;
    println!(
        "\nearliest resolution {earliest:.2?}, latest {latest:.2?}, spread {:.2?}",
        latest - earliest
    );
    println!(
        "total {latest:.2?} for {CALLS} x {duration:?} on {} workers (ideal {ideal:.2?})",
        coordinator.worker_count()
    );

    let stats = coordinator.stats();
    assert_eq!(stats.tokens.completed, CALLS as u64);
    assert_eq!(stats.tokens.in_flight(), 0);
    assert!(
        submission >= duration * 2,
        "the submitter should have blocked on the full lane"
    );
    println!("all {CALLS} calls completed; none lost, none failed");
    coordinator.stop();
}
