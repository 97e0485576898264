//! `process_pool = true`: the original system's README example,
//! `heavy_compute`, run in warm worker processes.
//!
//! Runs 4 × cores calls of about 70 ms of pure CPU twice: serially, as plain
//! fn calls on the main thread, then through the process pool (one worker
//! process per core, started by the first calls, so the pool's wall time
//! includes starting them). It prints both wall times, the speedup, and the
//! pids that computed each result, to show the calls ran outside this
//! process.
//!
//! The original's `heavy_compute` returns the sum alone; this one also
//! returns the pid of the process that computed it. Run with
//! `cargo run --release --example process_pool`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use tokengate::{OperationsCoordinator, task_token_guard};

/// Iterations per call: about 70 ms on the 2-vCPU VM the README's figures
/// come from, in a release build.
const N: u64 = 20_000_000;

/// `Σ i² mod p` for `i < n`, one dependent step at a time: each step needs
/// the previous one's remainder, so the loop can be neither folded into a
/// formula nor vectorised.
fn sum_of_squares(n: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..black_box(n) {
        acc = (acc + i * i) % 1_000_000_007;
    }
    acc
}

/// The sum, and the pid of the process that computed it.
#[task_token_guard(op = "heavy_compute", weight = "heavy", process_pool = true)]
fn heavy_compute(n: u64) -> (u64, u32) {
    (sum_of_squares(n), std::process::id())
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let calls = 4 * cores;
    let me = std::process::id();
    println!("{calls} calls of heavy_compute({N}) on {cores} logical CPUs; this process is {me}");

    let start = Instant::now();
    let serial: Vec<u64> = (0..calls).map(|_| sum_of_squares(N)).collect();
    let serial_wall = start.elapsed();
    println!(
        "serial (plain fn, main thread): {serial_wall:.1?} ({:.1?} per call)",
        serial_wall / calls as u32
    );

    let coordinator = OperationsCoordinator::start();
    let start = Instant::now();
    let tokens: Vec<_> = (0..calls).map(|_| heavy_compute(N)).collect(); // returns at once
    let results: Vec<(u64, u32)> = tokens
        .into_iter()
        .map(|token| token.wait().expect("heavy_compute failed"))
        .collect();
    let pool_wall = start.elapsed();
    println!(
        "process pool ({} worker processes): {pool_wall:.1?}",
        coordinator.stats().processes.size
    );
    println!(
        "speedup: {:.2}x (ideal on {cores} cores: {cores}x)",
        serial_wall.as_secs_f64() / pool_wall.as_secs_f64()
    );

    assert!(
        results.iter().all(|&(sum, _)| sum == serial[0]),
        "every call computed the same sum as the serial run"
    );
    let mut served: BTreeMap<u32, usize> = BTreeMap::new();
    for &(_, pid) in &results {
        *served.entry(pid).or_default() += 1;
    }
    assert!(!served.contains_key(&me), "no call ran in this process");
    println!(
        "sum: {} (same in every call and in the serial run)",
        serial[0]
    );
    for (pid, count) in &served {
        println!("  pid {pid} computed {count} call(s)");
    }
    println!(
        "worker processes alive: {:?}",
        coordinator.worker_processes()
    );
    let processes = coordinator.stats().processes;
    println!(
        "processes: {} alive ({} idle) of {}, {} started, {} lost, {} killed",
        processes.alive,
        processes.idle,
        processes.size,
        processes.spawned,
        processes.lost,
        processes.killed
    );
    coordinator.stop();
}
