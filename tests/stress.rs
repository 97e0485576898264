//! Stress: 8 threads make 200,000 mixed calls (every weight, some with
//! timeouts, some panicking, some sleeping 0–50 µs) while another thread kills
//! tokens by id and through their handles, and pauses and resumes admission
//! and operations. Every token must resolve exactly once, with a result that
//! matches its call, and the coordinator's counters must match the tokens.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokengate::{Task, TaskError, TaskToken, Weight};
use tokengate_tests::{
    ExpectedPanic, Outcomes, SplitMix64, builder, eventually, quiet_expected_panics, resolve,
};

const THREADS: u64 = 8;
/// The full count in debug builds too: it takes a few seconds there.
const TOTAL: u64 = 200_000;
const PER_THREAD: u64 = TOTAL / THREADS;
const BATCH: u64 = 250;
const _: () = assert!(TOTAL % (THREADS * BATCH) == 0);
/// Ids of recent calls, for the killer thread to kill by id.
const RING: usize = 4096;

const OPS: [&str; 3] = ["stress_light", "stress_medium", "stress_heavy"];

/// What one thread saw: outcomes, values of `Ok` results, successful kills.
#[derive(Default)]
struct Tally {
    outcomes: Outcomes,
    values: Vec<u64>,
    kills: u64,
    mismatched: Vec<(u64, u64)>,
}

impl Tally {
    fn record(&mut self, input: u64, result: Result<u64, TaskError>) {
        self.outcomes.record(&result);
        if let Ok(v) = result {
            if v != input {
                self.mismatched.push((input, v));
            }
            self.values.push(v);
        }
    }

    fn merge(&mut self, other: Tally) {
        self.outcomes.merge(&other.outcomes);
        self.values.extend(other.values);
        self.kills += other.kills;
        self.mismatched.extend(other.mismatched);
    }
}

#[test]
fn mixed_calls_with_concurrent_kills_and_pauses_resolve_exactly_once() {
    quiet_expected_panics();
    let started = Instant::now();
    let c = builder("stress").lane_capacity(4096).start().unwrap();
    let executions = Arc::new(AtomicU64::new(0));
    let ring: Vec<AtomicU64> = (0..RING).map(|_| AtomicU64::new(0)).collect();
    let cursor = AtomicUsize::new(0);
    let submitters_done = AtomicBool::new(false);
    let (to_killer, from_submitters) = mpsc::channel::<(u64, TaskToken<u64>)>();

    let total = std::thread::scope(|s| {
        let (c, ring, cursor, submitters_done) = (&c, &ring, &cursor, &submitters_done);

        // The killer: kills random recent ids, kills and waits on tokens handed
        // to it, and now and then pauses admission or an operation briefly.
        let killer = s.spawn(move || {
            let mut rng = SplitMix64::new(0xC0FF_EE00);
            let mut tally = Tally::default();
            let mut pauses = 0u64;
            loop {
                let mut batch = Vec::new();
                let disconnected = loop {
                    match from_submitters.recv_timeout(Duration::from_micros(200)) {
                        Ok(item) => {
                            batch.push(item);
                            if batch.len() >= 32 {
                                break false;
                            }
                        }
                        Err(RecvTimeoutError::Timeout) => break false,
                        Err(RecvTimeoutError::Disconnected) => break true,
                    }
                };
                for (_, t) in &batch {
                    if rng.chance(60) && t.kill() {
                        tally.kills += 1;
                    }
                }
                for (input, t) in batch {
                    tally.record(input, resolve(t));
                }
                for _ in 0..16 {
                    let id = ring[rng.below(RING as u64) as usize].load(Ordering::Relaxed);
                    if id != 0 && c.kill_token(id) {
                        tally.kills += 1;
                    }
                }
                if !submitters_done.load(Ordering::SeqCst) {
                    match rng.below(100) {
                        0..=9 => {
                            pauses += 1;
                            c.pause_admission();
                            std::thread::sleep(Duration::from_micros(rng.below(500)));
                            c.resume_admission();
                        }
                        10..=19 => {
                            pauses += 1;
                            let op = OPS[rng.below(3) as usize];
                            c.pause_operation(op);
                            std::thread::sleep(Duration::from_micros(rng.below(500)));
                            c.resume_operation(op);
                        }
                        _ => {}
                    }
                }
                if disconnected {
                    break;
                }
            }
            (tally, pauses)
        });

        let submitters: Vec<_> = (0..THREADS)
            .map(|k| {
                let to_killer = to_killer.clone();
                let executions = executions.clone();
                s.spawn(move || {
                    let mut rng = SplitMix64::new(k + 1);
                    let mut tally = Tally::default();
                    let _bound = c.enter();
                    for batch in 0..PER_THREAD / BATCH {
                        let mut tokens = Vec::with_capacity(BATCH as usize);
                        for i in 0..BATCH {
                            let input = k * PER_THREAD + batch * BATCH + i;
                            let w = rng.below(3) as usize;
                            let mut task = Task::new(OPS[w]).weight(Weight::ALL[w]);
                            if rng.chance(10) {
                                task = task.timeout(Duration::from_micros(50 + rng.below(2_000)));
                            }
                            let panics = rng.chance(2);
                            let executions = executions.clone();
                            let pause = if rng.chance(30) { rng.below(51) } else { 0 };
                            let token = task.spawn(move || {
                                executions.fetch_add(1, Ordering::Relaxed);
                                if pause > 0 {
                                    std::thread::sleep(Duration::from_micros(pause));
                                }
                                if panics {
                                    std::panic::panic_any(ExpectedPanic);
                                }
                                input
                            });
                            let slot = cursor.fetch_add(1, Ordering::Relaxed) % RING;
                            ring[slot].store(token.id(), Ordering::Relaxed);
                            match rng.below(100) {
                                0 => to_killer.send((input, token)).unwrap(),
                                1 => {
                                    if token.kill() {
                                        tally.kills += 1;
                                    }
                                    tokens.push((input, token));
                                }
                                _ => tokens.push((input, token)),
                            }
                        }
                        for (input, token) in tokens {
                            tally.record(input, resolve(token));
                        }
                    }
                    tally
                })
            })
            .collect();
        drop(to_killer);

        let mut total = Tally::default();
        for h in submitters {
            total.merge(h.join().unwrap());
        }
        submitters_done.store(true, Ordering::SeqCst);
        let (killer_tally, pauses) = killer.join().unwrap();
        total.merge(killer_tally);
        eprintln!("stress: {pauses} pauses by the killer thread");
        total
    });

    // Every call produced exactly one result, and each value is its own input.
    let o = &total.outcomes;
    assert_eq!(o.total(), TOTAL, "results: {o:?}");
    assert!(
        total.mismatched.is_empty(),
        "values from other calls: {:?}",
        &total.mismatched[..total.mismatched.len().min(5)]
    );
    let unique: HashSet<u64> = total.values.iter().copied().collect();
    assert_eq!(
        unique.len(),
        total.values.len(),
        "a value was returned twice"
    );
    assert_eq!(unique.len() as u64, o.completed);
    // Only kills, timeouts and panics happened: no rejection, shutdown, drain.
    let killed_by_kills = o.detail.get("killed").copied().unwrap_or(0);
    assert_eq!(
        killed_by_kills, o.killed,
        "unexpected kinds: {:?}",
        o.detail
    );
    assert_eq!(
        o.killed, total.kills,
        "every successful kill resolved exactly one token as killed"
    );

    // The coordinator's counters agree with the tokens.
    let s = c.stats();
    let t = s.tokens;
    assert_eq!(t.submitted, TOTAL);
    assert_eq!(
        (t.completed, t.failed, t.killed, t.timed_out),
        (o.completed, o.failed, o.killed, o.timed_out),
        "stats {t:?} vs tokens {o:?}"
    );
    assert_eq!((t.in_flight(), s.in_flight), (0, 0));
    assert_eq!((t.waiting, t.admitted, t.executing), (0, 0, 0));
    assert_eq!(c.live_tokens(), 0, "the registry keeps finished tokens");
    assert!(
        s.lanes.iter().all(|l| l.depth == 0),
        "lane slots leaked: {:?}",
        s.lanes
    );
    let per_op: u64 = s.ops.iter().map(|op| op.counts.submitted).sum();
    assert_eq!(per_op, TOTAL);

    // Bodies: every completed or panicked call ran once; no call ran twice.
    assert_eq!(s.queue_wait.count, s.run_time.count);
    let started_bodies = s.queue_wait.count;
    eventually("cancelled bodies still running return", || {
        c.stats().workers.iter().map(|w| w.ran).sum::<u64>() == started_bodies
    });
    let ran = executions.load(Ordering::SeqCst);
    assert!(o.completed + o.failed <= ran, "{ran} bodies ran for {o:?}");
    assert!(
        ran <= started_bodies,
        "{ran} bodies ran, {started_bodies} calls started"
    );
    assert!(started_bodies <= TOTAL);
    eprintln!(
        "stress: {TOTAL} calls in {:?}: {o:?}; {ran} bodies ran",
        started.elapsed()
    );
    c.stop();
}
