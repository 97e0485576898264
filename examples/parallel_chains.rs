//! Parallel chains: four 5-step pipelines whose steps pass *tokens* to each other.
//!
//! A port of the original's `run_parallel_chains_demo(4)`: seeds 13, 77, 200
//! and 55, each through seed → filter → accumulate → reduce → finalize. Every
//! step is a guarded fn that takes the previous step's `TaskToken` as its
//! argument and `.wait()`s on it inside its worker, as the original passed
//! tokens between stages. All 20 calls are made at once, before any has run;
//! the main thread only waits for the four final tokens.
//!
//! A worker that waits on a token still queued runs it itself, so these waits
//! cannot deadlock, even with fewer workers than waiting steps.
//!
//! Each step records when it started and ended (after its input arrived) and on
//! which worker it ran. The demo checks that every chain's steps ran in order and
//! gave the same result as a serial run, and prints how much the chains overlapped.

use std::time::{Duration, Instant};

use tokengate::{OperationsCoordinator, TaskToken, task_token_guard};
use tokengate_examples::{SplitMix64, plain};

const SEEDS: [u64; 4] = [13, 77, 200, 55];
const STEPS: [&str; 5] = ["seed", "filter", "accumulate", "reduce", "finalize"];
/// Values each chain starts from.
const VALUES: usize = 200_000;

/// When and where one step ran.
#[derive(Clone, Copy, Debug)]
struct Span {
    step: &'static str,
    worker: usize,
    start: Instant,
    end: Instant,
}

/// A chain's value between steps, with the trace of the steps so far.
#[derive(Clone, Debug, Default)]
struct Link {
    data: Vec<u64>,
    trace: Vec<Span>,
}

/// The pure work of each step, shared by the guarded chain and the serial check.
mod work {
    use super::*;

    pub(super) fn seed(seed: u64) -> Vec<u64> {
        let mut rng = SplitMix64::new(seed);
        (0..VALUES).map(|_| rng.next_u64()).collect()
    }

    /// Keeps the values whose low digits (mod 100,000) are prime.
    pub(super) fn filter(data: Vec<u64>) -> Vec<u64> {
        data.into_iter()
            .filter(|v| plain::is_prime(v % 100_000))
            .collect()
    }

    /// Running (wrapping) sums.
    pub(super) fn accumulate(mut data: Vec<u64>) -> Vec<u64> {
        let mut sum = 0u64;
        for v in &mut data {
            sum = sum.wrapping_add(*v);
            *v = sum;
        }
        data
    }

    /// Folds the sums into 16 buckets.
    pub(super) fn reduce(data: Vec<u64>) -> Vec<u64> {
        let mut buckets = vec![0u64; 16];
        for (i, v) in data.into_iter().enumerate() {
            buckets[i % 16] ^= v.rotate_left(i as u32 % 64);
        }
        buckets
    }

    /// One 64-bit digest.
    pub(super) fn finalize(data: Vec<u64>) -> Vec<u64> {
        let digest = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, v| {
            (h ^ v).wrapping_mul(0x0100_0000_01b3)
        });
        vec![digest]
    }
}

/// Runs one step on the current worker and appends its span to the trace.
fn step(step: &'static str, mut link: Link, f: impl FnOnce(Vec<u64>) -> Vec<u64>) -> Link {
    let worker = tokengate::current_worker().expect("runs on a worker").index;
    let start = Instant::now();
    link.data = f(std::mem::take(&mut link.data));
    link.trace.push(Span {
        step,
        worker,
        start,
        end: Instant::now(),
    });
    link
}

fn input(prev: TaskToken<Link>) -> Link {
    prev.wait().expect("previous step failed")
}

#[task_token_guard(op = "chain_seed", weight = "light")]
fn seed(value: u64) -> Link {
    step("seed", Link::default(), |_| work::seed(value))
}

#[task_token_guard(op = "chain_filter")]
fn filter(prev: TaskToken<Link>) -> Link {
    step("filter", input(prev), work::filter)
}

#[task_token_guard(op = "chain_accumulate")]
fn accumulate(prev: TaskToken<Link>) -> Link {
    step("accumulate", input(prev), work::accumulate)
}

#[task_token_guard(op = "chain_reduce")]
fn reduce(prev: TaskToken<Link>) -> Link {
    step("reduce", input(prev), work::reduce)
}

#[task_token_guard(op = "chain_finalize", weight = "heavy")]
fn finalize(prev: TaskToken<Link>) -> Link {
    step("finalize", input(prev), work::finalize)
}

fn overlap(a: (Instant, Instant), b: (Instant, Instant)) -> Duration {
    let start = a.0.max(b.0);
    let end = a.1.min(b.1);
    end.saturating_duration_since(start)
}

fn main() {
    let coordinator = OperationsCoordinator::start();
    println!(
        "4 chains x 5 steps on {} workers; each step takes the previous step's token\n",
        coordinator.worker_count()
    );

    let start = Instant::now();
    // All 20 calls are made here, at once; nothing has run yet.
    let finals: Vec<TaskToken<Link>> = SEEDS
        .iter()
        .map(|&s| finalize(reduce(accumulate(filter(seed(s))))))
        .collect();
    let submitted = start.elapsed();
    let links: Vec<Link> = finals
        .into_iter()
        .map(|t| t.wait().expect("chain failed"))
        .collect();
    let wall = start.elapsed();

    let mut spans = Vec::new();
    for (chain, (&seed_value, link)) in SEEDS.iter().zip(&links).enumerate() {
        // Same result as the plain functions run serially.
        let serial = work::finalize(work::reduce(work::accumulate(work::filter(work::seed(
            seed_value,
        )))));
        assert_eq!(link.data, serial, "chain {chain} result");
        // Every step, in order, each starting after the previous one ended.
        let names: Vec<&str> = link.trace.iter().map(|s| s.step).collect();
        assert_eq!(names, STEPS);
        assert!(link.trace.windows(2).all(|w| w[0].end <= w[1].start));

        println!(
            "chain {chain} (seed {seed_value:>3}) -> digest {:016x}",
            link.data[0]
        );
        for s in &link.trace {
            println!(
                "    {:<10} worker {}  {:>9.2?} .. {:>9.2?}",
                s.step,
                s.worker,
                s.start - start,
                s.end - start
            );
        }
        let first = link.trace.first().unwrap();
        let last = link.trace.last().unwrap();
        spans.push((first.start, last.end));
    }

    println!("\noverlap between chains (time both were between their first start and last end):");
    for a in 0..spans.len() {
        for b in a + 1..spans.len() {
            println!(
                "    chain {a} & chain {b}: {:>9.2?}",
                overlap(spans[a], spans[b])
            );
        }
    }
    let busy: Duration = spans.iter().map(|(s, e)| *e - *s).sum();
    println!(
        "\n20 calls made in {submitted:.2?}; all chains done after {wall:.2?}; \
         the chains' spans add up to {busy:.2?} ({:.2}x the wall time)",
        busy.as_secs_f64() / wall.as_secs_f64()
    );
    assert!(busy > wall, "the chains ran concurrently");
    let stats = coordinator.stats();
    assert_eq!(stats.tokens.completed, 20);
    coordinator.stop();
}
