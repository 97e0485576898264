//! The original's "cache storm" demo, ported: same-key pressure on sticky domains.
//!
//! Keys [101, 202, 303, 404]. Phase 1 makes one *anchor* call per key; while
//! those still run, an injection thread fires 6 storm waves (one call per key
//! each, 24 calls) 60 ms apart: 28 calls of `storm_anchor_op(n)` in all, each
//! sleeping and returning n². The fn is `sticky_anchor = "storm_token"` with
//! the default `hash_policy = "standard"`, so its domain key is the anchor plus
//! a digest of its argument: one domain per key.
//!
//! The original slept 1.5 s per call; here 150 ms, and unlike the original a
//! domain runs its calls one at a time, so each key's 7 calls take 7 × 150 ms.
//!
//! Every call records, as it runs, its key, `tokengate::current_token_id()`,
//! `tokengate::current_worker()` and its start and end. The demo checks, and
//! prints:
//!
//! * every key's calls ran on one worker;
//! * every key's calls ran in submission order (token ids in execution order
//!   equal the tokens' `id()`s in submission order), never two at once;
//! * calls of different keys ran at the same time (the domains are independent);
//! * `Stats::sticky_domains` was 4 during the storm and is 0 at the end.
//!
//! The original passed this demo by construction: its latest code keyed every
//! call on `("storm_token", ())`, so all four "keys" shared one pin that was
//! never released, and "zero misses" could not fail (reference §3.6).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use tokengate::{OperationsCoordinator, TaskToken, TokenId, task_token_guard};

const KEYS: [u64; 4] = [101, 202, 303, 404];
const STORM_WAVES: usize = 6;
const WAVE_DELAY: Duration = Duration::from_millis(60);
/// How long each call holds its worker (the original: 1.5 s).
const HOLD: Duration = Duration::from_millis(150);

/// One call, as it ran.
#[derive(Clone, Copy, Debug)]
struct Run {
    key: u64,
    id: TokenId,
    worker: usize,
    start: Instant,
    end: Instant,
}

static RUNS: Mutex<Vec<Run>> = Mutex::new(Vec::new());

#[task_token_guard(op = "storm_anchor", weight = "medium", sticky_anchor = "storm_token")]
fn storm_anchor_op(n: u64) -> u64 {
    let worker = tokengate::current_worker().expect("runs on a worker").index;
    let id = tokengate::current_token_id().expect("runs in a guarded call");
    let start = Instant::now();
    thread::sleep(HOLD);
    RUNS.lock().unwrap().push(Run {
        key: n,
        id,
        worker,
        start,
        end: Instant::now(),
    });
    n * n
}

fn overlaps(a: &Run, b: &Run) -> bool {
    a.start < b.end && b.start < a.end
}

fn main() {
    let coordinator = OperationsCoordinator::start();
    let total = KEYS.len() * (1 + STORM_WAVES);
    println!(
        "cache storm: keys {KEYS:?}, {STORM_WAVES} storm waves {WAVE_DELAY:?} apart, {total} calls, \
         each holding its worker {HOLD:?} (the original: 1.5 s)"
    );
    println!(
        "coordinator: {} workers in {} core groups\n",
        coordinator.worker_count(),
        coordinator.core_groups()
    );
    let started = Instant::now();

    // Phase 1: one anchor call per key; let them start.
    let anchors: Vec<(u64, TaskToken<u64>)> =
        KEYS.iter().map(|&n| (n, storm_anchor_op(n))).collect();
    thread::sleep(WAVE_DELAY);
    let anchored = coordinator.stats().sticky_domains;
    println!(
        "phase 1: {} anchors made; live sticky domains: {anchored}",
        anchors.len()
    );

    // Phase 2: the storm, from an injection thread, while the anchors still run.
    let mut domains_seen = vec![anchored];
    let storm: Vec<(u64, TaskToken<u64>)> = thread::scope(|scope| {
        let injector = scope.spawn(|| {
            let mut tokens = Vec::new();
            let mut samples = Vec::new();
            for wave in 1..=STORM_WAVES {
                tokens.extend(KEYS.iter().map(|&n| (n, storm_anchor_op(n))));
                thread::sleep(WAVE_DELAY);
                let live = coordinator.stats().sticky_domains;
                samples.push(live);
                println!(
                    "    wave {wave}/{STORM_WAVES}: storm calls made {:>2}, live sticky domains {live}",
                    wave * KEYS.len()
                );
            }
            (tokens, samples)
        });
        let (tokens, samples) = injector.join().expect("injector thread");
        domains_seen.extend(samples);
        tokens
    });

    // Resolve every call, in submission order per key: anchors first.
    let submitted: Vec<(u64, TaskToken<u64>)> = anchors.into_iter().chain(storm).collect();
    let mut submission_ids: BTreeMap<u64, Vec<TokenId>> = BTreeMap::new();
    for (n, token) in &submitted {
        submission_ids.entry(*n).or_default().push(token.id());
    }
    for (n, token) in submitted {
        assert_eq!(token.wait().expect("storm call failed"), n * n);
    }
    let wall = started.elapsed();

    let mut runs = RUNS.lock().unwrap().clone();
    runs.sort_by_key(|r| r.start);
    assert_eq!(runs.len(), total, "every call ran once");
    println!("\nall {total} calls resolved with n² after {wall:.2?}\n");

    // Per key: one worker, submission order, one at a time.
    for &n in &KEYS {
        let mine: Vec<&Run> = runs.iter().filter(|r| r.key == n).collect();
        let workers: BTreeSet<usize> = mine.iter().map(|r| r.worker).collect();
        let executed: Vec<TokenId> = mine.iter().map(|r| r.id).collect();
        assert_eq!(workers.len(), 1, "key {n} ran on workers {workers:?}");
        assert_eq!(
            executed, submission_ids[&n],
            "key {n}: execution order differs from submission order"
        );
        assert!(
            mine.windows(2).all(|w| w[0].end <= w[1].start),
            "key {n}: two calls ran at once"
        );
        println!(
            "  ok  n={n}: all {} calls on worker {}, in submission order (token ids {:?}), one at a time",
            mine.len(),
            workers.first().unwrap(),
            executed
        );
    }

    // Across keys: concurrency.
    let cross_pairs = runs
        .iter()
        .enumerate()
        .flat_map(|(i, a)| runs[i + 1..].iter().map(move |b| (a, b)))
        .filter(|(a, b)| a.key != b.key && overlaps(a, b))
        .count();
    let max_at_once = runs
        .iter()
        .map(|r| {
            runs.iter()
                .filter(|o| o.start <= r.start && r.start < o.end)
                .count()
        })
        .max()
        .unwrap_or(0);
    let workers_used: BTreeSet<usize> = runs.iter().map(|r| r.worker).collect();
    assert!(cross_pairs > 0, "calls of different keys never overlapped");
    println!(
        "\n  ok  different keys ran concurrently: {cross_pairs} overlapping pairs of calls with \
         different keys, up to {max_at_once} calls at once"
    );
    println!(
        "      4 keys, 4 domains, spread over {} distinct worker(s) {:?}; serial time would be {:.2?}, \
         wall was {wall:.2?}",
        workers_used.len(),
        workers_used,
        HOLD * total as u32
    );

    // Domains: 4 during the storm, 0 once every call finished.
    let storm_max = *domains_seen.iter().max().unwrap();
    assert_eq!(storm_max, KEYS.len(), "one domain per key during the storm");
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut stats = coordinator.stats();
    while stats.sticky_domains > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
        stats = coordinator.stats();
    }
    assert_eq!(stats.sticky_domains, 0, "every domain released");
    assert_eq!(stats.tokens.completed, total as u64);
    println!(
        "  ok  live sticky domains: {domains_seen:?} (after phase 1, then after each wave); \
         {} at the end",
        stats.sticky_domains
    );

    println!(
        "\nThe original passed this demo by construction: its latest code keyed every call on \
         (\"storm_token\", ()), so all four keys shared ONE pin that was never released, and \
         \"zero misses\" could not fail. Here each key is its own domain ({storm_max} live during \
         the storm), released when its last call finishes, and the checks above could fail."
    );
    coordinator.stop();
}
