//! Stress: 8 threads make 200,000 mixed calls (every weight, some with
//! timeouts, some panicking, some sleeping 0–50 µs) while another thread kills
//! tokens by id and through their handles, and pauses and resumes admission
//! and operations. Every token must resolve exactly once, with a result that
//! matches its call, and the coordinator's counters must match the tokens.
//!
//! The second test mixes in the routing features: sticky calls over 64 keys
//! (some with a timeout), leads whose children must follow them, and IO calls
//! of a storage tier, under the same kills and pauses; afterwards no domain,
//! pin, tier permit or live token is left behind.
//!
//! The third makes calls into lanes of a few slots, so most calls wait in line,
//! from sync threads and async tasks (which now and then detach calls by
//! dropping their tokens, some still in line), while a killer kills random
//! calls.
//!
//! The fourth runs groups (`TokenGroup`) and streaming maps under random
//! kills and member panics, joined every way (completion order, sync and
//! async; whole joins; dropped unjoined; `kill_all`): every member is handed
//! back exactly once, or killed with its dropped group.
//!
//! No call may run twice: every body records its input in a flag of its own,
//! and those flags are checked, not the coordinator's counters.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};
use tokengate::{
    KillHandle, KillReason, OperationsCoordinator, StorageSpeed, Task, TaskError, TaskToken,
    TokenGroup, TokenId, Weight, current_worker, task_token_guard,
};
use tokengate_tests::{
    ExpectedPanic, Outcomes, PATIENCE, SplitMix64, builder, eventually, quiet_expected_panics,
    resolve,
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

/// What one thread saw: outcomes, values of `Ok` results, the inputs of calls
/// whose body ran to a result (a value or a panic), successful kills.
#[derive(Default)]
struct Tally {
    outcomes: Outcomes,
    values: Vec<u64>,
    returned: Vec<u64>,
    kills: u64,
    /// Calls detached (their tokens dropped unawaited); they have no result
    /// here, and run at most once.
    detached: u64,
    mismatched: Vec<(u64, u64)>,
}

impl Tally {
    fn record(&mut self, input: u64, result: Result<u64, TaskError>) {
        self.outcomes.record(&result);
        match result {
            Ok(v) => {
                if v != input {
                    self.mismatched.push((input, v));
                }
                self.values.push(v);
                self.returned.push(input);
            }
            Err(e) if e.is_panic() => self.returned.push(input),
            Err(_) => {}
        }
    }

    fn merge(&mut self, other: Tally) {
        self.outcomes.merge(&other.outcomes);
        self.values.extend(other.values);
        self.returned.extend(other.returned);
        self.kills += other.kills;
        self.detached += other.detached;
        self.mismatched.extend(other.mismatched);
    }
}

/// Per input, how many times a body with that input started: the bodies' own
/// record, independent of the coordinator's counters.
struct RanFlags(Vec<AtomicU8>);

impl RanFlags {
    fn new(inputs: usize) -> RanFlags {
        RanFlags((0..inputs).map(|_| AtomicU8::new(0)).collect())
    }

    /// Called first thing by a body.
    fn mark(&self, input: u64) {
        self.0[input as usize].fetch_add(1, Ordering::SeqCst);
    }

    /// Checks that no body ran twice and that the body of every input in
    /// `returned` ran (exactly once); returns how many bodies ran. Call it once
    /// no body runs any more.
    #[track_caller]
    fn check(&self, returned: &[u64]) -> u64 {
        let twice: Vec<usize> = (0..self.0.len())
            .filter(|&i| self.0[i].load(Ordering::SeqCst) > 1)
            .take(5)
            .collect();
        assert!(
            twice.is_empty(),
            "bodies ran more than once, inputs {twice:?}"
        );
        let never: Vec<u64> = returned
            .iter()
            .copied()
            .filter(|&i| self.0[i as usize].load(Ordering::SeqCst) == 0)
            .take(5)
            .collect();
        assert!(
            never.is_empty(),
            "calls resolved with their body's result without running it, inputs {never:?}"
        );
        self.0
            .iter()
            .map(|f| u64::from(f.load(Ordering::SeqCst)))
            .sum()
    }
}

#[test]
fn mixed_calls_with_concurrent_kills_and_pauses_resolve_exactly_once() {
    quiet_expected_panics();
    let started = Instant::now();
    let c = builder("stress").lane_capacity(4096).start().unwrap();
    let ran = Arc::new(RanFlags::new(TOTAL as usize));
    let ring: Vec<AtomicU64> = (0..RING).map(|_| AtomicU64::new(0)).collect();
    let cursor = AtomicUsize::new(0);
    let submitters_done = AtomicBool::new(false);
    let (to_killer, from_submitters) = mpsc::channel::<(u64, TaskToken<u64>)>();

    let total = std::thread::scope(|s| {
        let (c, ring, cursor, submitters_done) = (&c, &ring, &cursor, &submitters_done);

        // The killer: kills random recent ids, kills and waits on tokens handed
        // to it, and now and then pauses admission or an operation briefly.
        let killer = s.spawn(move || {
            killer(
                c,
                ring,
                submitters_done,
                from_submitters,
                (0xC0FF_EE00, &OPS, 10),
            )
        });

        let submitters: Vec<_> = (0..THREADS)
            .map(|k| {
                let to_killer = to_killer.clone();
                let ran = ran.clone();
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
                            let ran = ran.clone();
                            let pause = if rng.chance(30) { rng.below(51) } else { 0 };
                            let token = task.spawn(move || {
                                ran.mark(input);
                                if pause > 0 {
                                    std::thread::sleep(Duration::from_micros(pause));
                                }
                                if panics {
                                    std::panic::panic_any(ExpectedPanic);
                                }
                                input
                            });
                            hand_off(
                                (ring, cursor, &to_killer),
                                &mut rng,
                                &mut tally,
                                &mut tokens,
                                (input, token),
                            );
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

    assert_eq!(s.queue_wait.count, s.run_time.count);

    // Bodies: no call ran twice, and every completed or panicked call ran
    // (per input, as the bodies recorded it). Stop first: it waits for bodies
    // that still run after their call was killed or timed out.
    c.stop();
    let ran = ran.check(&total.returned);
    eprintln!(
        "stress: {TOTAL} calls in {:?}: {o:?}; {ran} bodies ran",
        started.elapsed()
    );
}

// ----- the routing mix ---------------------------------------------------------

/// Sticky keys: each submitter owns 8, so the order in which it makes calls
/// of a key is that key's submission order.
const STICKY_KEYS: usize = (THREADS * 8) as usize;
const TIER: StorageSpeed = StorageSpeed::Moderate;
const ROUTED_OPS: [&str; 8] = [
    "stress_light",
    "stress_medium",
    "stress_heavy",
    "stress_sticky",
    "stress_sticky_timeout",
    "stress_io",
    "stress_lead",
    "stress_child",
];

/// What the routed bodies check, as counters (a failed check must not panic:
/// that would only turn into a failed token).
struct Probe {
    /// Per sticky key: a body of the key runs now.
    busy: Vec<AtomicBool>,
    /// Per sticky key: the input of the last body that ran, plus one.
    last: Vec<AtomicU64>,
    /// Bodies of one key that overlapped, or ran out of submission order.
    sticky_overlaps: AtomicU64,
    sticky_out_of_order: AtomicU64,
    /// IO bodies running now, the most ever, how many started, and how many
    /// ran on a CPU worker.
    io_active: AtomicUsize,
    io_max: AtomicUsize,
    io_started: AtomicU64,
    io_on_cpu: AtomicU64,
    /// Lead bodies running now; children made; children that ran outside
    /// their lead's group.
    leads_running: AtomicUsize,
    children_made: AtomicU64,
    children_astray: AtomicU64,
    /// Bodies of every kind that started, by input; children by their slot
    /// (their lead's input × 3 + their index).
    ran: RanFlags,
    children_ran: RanFlags,
}

impl Probe {
    fn new() -> Arc<Probe> {
        Arc::new(Probe {
            busy: (0..STICKY_KEYS).map(|_| AtomicBool::new(false)).collect(),
            last: (0..STICKY_KEYS).map(|_| AtomicU64::new(0)).collect(),
            sticky_overlaps: AtomicU64::new(0),
            sticky_out_of_order: AtomicU64::new(0),
            io_active: AtomicUsize::new(0),
            io_max: AtomicUsize::new(0),
            io_started: AtomicU64::new(0),
            io_on_cpu: AtomicU64::new(0),
            leads_running: AtomicUsize::new(0),
            children_made: AtomicU64::new(0),
            children_astray: AtomicU64::new(0),
            ran: RanFlags::new(TOTAL as usize),
            children_ran: RanFlags::new(3 * TOTAL as usize),
        })
    }
}

/// A sticky argument that is not part of the key (serializes as `()`).
struct Unkeyed<T>(T);

impl<T> Serialize for Unkeyed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl<T> Hash for Unkeyed<T> {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

fn sticky_body(key: u32, input: u64, probe: &Probe) -> u64 {
    probe.ran.mark(input);
    let k = key as usize;
    if probe.busy[k].swap(true, Ordering::SeqCst) {
        probe.sticky_overlaps.fetch_add(1, Ordering::SeqCst);
    }
    if probe.last[k].swap(input + 1, Ordering::SeqCst) > input {
        probe.sticky_out_of_order.fetch_add(1, Ordering::SeqCst);
    }
    if input % 8 == 0 {
        std::thread::sleep(Duration::from_micros(input % 40));
    }
    probe.busy[k].store(false, Ordering::SeqCst);
    input
}

#[task_token_guard(op = "stress_sticky", sticky_anchor = "stress_key")]
fn stress_sticky(key: u32, call: Unkeyed<(u64, Arc<Probe>)>) -> u64 {
    let (input, probe) = call.0;
    sticky_body(key, input, &probe)
}

/// Same anchor and argument types: its calls share the domains of
/// `stress_sticky` (the standard hash policy leaves the op out of the key).
#[task_token_guard(
    op = "stress_sticky_timeout",
    sticky_anchor = "stress_key",
    timeout = "2ms"
)]
fn stress_sticky_timeout(key: u32, call: Unkeyed<(u64, Arc<Probe>)>) -> u64 {
    let (input, probe) = call.0;
    sticky_body(key, input, &probe)
}

#[task_token_guard(op = "stress_io", storage_speed = "MODERATE")]
fn stress_io(input: u64, sleep_us: u64, probe: Arc<Probe>) -> u64 {
    probe.ran.mark(input);
    probe.io_started.fetch_add(1, Ordering::SeqCst);
    if current_worker().is_some() {
        probe.io_on_cpu.fetch_add(1, Ordering::SeqCst);
    }
    let now = probe.io_active.fetch_add(1, Ordering::SeqCst) + 1;
    probe.io_max.fetch_max(now, Ordering::SeqCst);
    std::thread::sleep(Duration::from_micros(sleep_us));
    probe.io_active.fetch_sub(1, Ordering::SeqCst);
    input
}

#[task_token_guard(op = "stress_child", weight = "light")]
fn stress_child(x: u64, slot: u64, probe: Arc<Probe>) -> (u64, Option<usize>) {
    probe.children_ran.mark(slot);
    (x, current_worker().map(|w| w.group))
}

#[task_token_guard(op = "stress_lead", external_calls = ["stress_child"])]
fn stress_lead(input: u64, children: u64, probe: Arc<Probe>) -> u64 {
    probe.ran.mark(input);
    probe.leads_running.fetch_add(1, Ordering::SeqCst);
    let group = current_worker().map(|w| w.group);
    let tokens: Vec<TaskToken<(u64, Option<usize>)>> = (0..children)
        .map(|i| {
            probe.children_made.fetch_add(1, Ordering::SeqCst);
            stress_child(input + i, 3 * input + i, probe.clone())
        })
        .collect();
    let mut sum = 0;
    for token in tokens {
        let (x, child_group) = token.wait().expect("children are never killed");
        if child_group != group || group.is_none() {
            probe.children_astray.fetch_add(1, Ordering::SeqCst);
        }
        sum += x - input;
    }
    probe.leads_running.fetch_sub(1, Ordering::SeqCst);
    // 0 + 1 + .. + (children - 1), checked by the caller through the value.
    input + sum - children * children.saturating_sub(1) / 2
}

/// One call of the routing mix, chosen by `rng`.
fn routed_call(rng: &mut SplitMix64, k: u64, input: u64, probe: &Arc<Probe>) -> TaskToken<u64> {
    match rng.below(100) {
        // IO calls of one tier, 2 %.
        0..=1 => stress_io(input, rng.below(201), probe.clone()),
        // Sticky calls, 10 % (a fifth of them with a 2 ms timeout).
        2..=11 => {
            let key = (k * 8 + rng.below(8)) as u32;
            let call = Unkeyed((input, probe.clone()));
            if rng.chance(20) {
                stress_sticky_timeout(key, call)
            } else {
                stress_sticky(key, call)
            }
        }
        // Leads with 1 to 3 children, 2 %.
        12..=13 => stress_lead(input, 1 + rng.below(3), probe.clone()),
        // The plain mix of the first test.
        _ => {
            let w = rng.below(3) as usize;
            let mut task = Task::new(OPS[w]).weight(Weight::ALL[w]);
            if rng.chance(10) {
                task = task.timeout(Duration::from_micros(50 + rng.below(2_000)));
            }
            let panics = rng.chance(2);
            let probe = probe.clone();
            let pause = if rng.chance(30) { rng.below(51) } else { 0 };
            task.spawn(move || {
                probe.ran.mark(input);
                if pause > 0 {
                    std::thread::sleep(Duration::from_micros(pause));
                }
                if panics {
                    std::panic::panic_any(ExpectedPanic);
                }
                input
            })
        }
    }
}

/// The killer of the routing mix: as in the first test, over every op.
/// The channel submitters hand tokens to the killer on.
type ToKiller = mpsc::Sender<(u64, TaskToken<u64>)>;

/// What a submitter does with each new token: records its id where the killer
/// picks random victims, then hands it to the killer (1 %), kills it at once
/// (1 %, still resolving it here), or keeps it to resolve here.
fn hand_off(
    (ring, cursor, to_killer): (&[AtomicU64], &AtomicUsize, &ToKiller),
    rng: &mut SplitMix64,
    tally: &mut Tally,
    tokens: &mut Vec<(u64, TaskToken<u64>)>,
    (input, token): (u64, TaskToken<u64>),
) {
    let slot = cursor.fetch_add(1, Ordering::Relaxed) % RING;
    ring[slot].store(token.id().as_u64(), Ordering::Relaxed);
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

/// The killer of both stress tests: resolves the tokens handed to it after
/// killing most of them, kills random recent ids, and (while submitters run)
/// pauses admission 10 % of its rounds and one of `ops` `op_pause_percent` % of
/// them, briefly. Returns its tally and how many pauses it made.
fn killer(
    c: &OperationsCoordinator,
    ring: &[AtomicU64],
    submitters_done: &AtomicBool,
    from_submitters: mpsc::Receiver<(u64, TaskToken<u64>)>,
    (seed, ops, op_pause_percent): (u64, &[&'static str], u64),
) -> (Tally, u64) {
    let mut rng = SplitMix64::new(seed);
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
            if id != 0 && c.kill_token(id.into()) {
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
                n if n < 10 + op_pause_percent => {
                    pauses += 1;
                    let op = ops[rng.below(ops.len() as u64) as usize];
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
}

#[test]
fn routed_calls_with_concurrent_kills_and_pauses_resolve_and_release_everything() {
    quiet_expected_panics();
    let started = Instant::now();
    let c = builder("stress-routed")
        .lane_capacity(4096)
        .start()
        .unwrap();
    let probe = Probe::new();
    let ring: Vec<AtomicU64> = (0..RING).map(|_| AtomicU64::new(0)).collect();
    let cursor = AtomicUsize::new(0);
    let submitters_done = AtomicBool::new(false);
    let (to_killer, from_submitters) = mpsc::channel::<(u64, TaskToken<u64>)>();

    let (total, pauses) = std::thread::scope(|s| {
        let (c, ring, cursor, submitters_done) = (&c, &ring, &cursor, &submitters_done);
        let killer = s.spawn(move || {
            killer(
                c,
                ring,
                submitters_done,
                from_submitters,
                (0xD15C_0BAD, &ROUTED_OPS, 15),
            )
        });
        let submitters: Vec<_> = (0..THREADS)
            .map(|k| {
                let to_killer = to_killer.clone();
                let probe = probe.clone();
                s.spawn(move || {
                    let mut rng = SplitMix64::new(0xAB00 + k);
                    let mut tally = Tally::default();
                    let _bound = c.enter();
                    for batch in 0..PER_THREAD / BATCH {
                        let mut tokens = Vec::with_capacity(BATCH as usize);
                        for i in 0..BATCH {
                            let input = k * PER_THREAD + batch * BATCH + i;
                            let token = routed_call(&mut rng, k, input, &probe);
                            hand_off(
                                (ring, cursor, &to_killer),
                                &mut rng,
                                &mut tally,
                                &mut tokens,
                                (input, token),
                            );
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
        (total, pauses)
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

    // Killed leads' bodies run on; once they return, every child was made,
    // waited on and resolved.
    eventually("lead bodies return", || {
        probe.leads_running.load(Ordering::SeqCst) == 0
    });
    let children = probe.children_made.load(Ordering::SeqCst);
    let s = c.stats();
    let t = s.tokens;
    assert_eq!(t.submitted, TOTAL + children, "{s}");
    assert_eq!(
        (t.completed, t.failed, t.killed, t.timed_out),
        (o.completed + children, o.failed, o.killed, o.timed_out),
        "stats {t:?} vs tokens {o:?} and {children} children"
    );
    assert_eq!((t.in_flight(), s.in_flight), (0, 0));
    assert_eq!((t.waiting, t.admitted, t.executing), (0, 0, 0));
    assert_eq!(c.live_tokens(), 0, "the registry keeps finished tokens");
    let per_op: u64 = s.ops.iter().map(|op| op.counts.submitted).sum();
    assert_eq!(per_op, TOTAL + children);
    for op in ["stress_sticky", "stress_io", "stress_lead", "stress_child"] {
        let made = s.op(op).map_or(0, |o| o.counts.submitted);
        assert!(made > 0, "no call of {op} was made");
    }
    assert_eq!(s.op("stress_child").unwrap().counts.completed, children);

    // Nothing is left behind: no pin, no lead domain, no lane slot, no tier
    // permit (a killed IO body returns its permit when it returns).
    assert_eq!(s.sticky_domains, 0, "sticky pins outlived their calls");
    assert_eq!(s.lead_domains, 0, "lead domains outlived their members");
    assert_eq!(s.lead_unlisted_calls, 0);
    assert!(
        s.lanes.iter().all(|l| l.depth == 0),
        "lane slots leaked: {:?}",
        s.lanes
    );
    eventually("IO bodies return their permits", || {
        c.stats().storage.iter().all(|t| t.running == 0)
    });
    let s = c.stats();
    assert!(s.storage.iter().all(|t| t.waiting == 0), "{:?}", s.storage);
    let tier = s.storage(TIER);
    assert!(
        tier.high_water > 0 && tier.high_water <= tier.cap,
        "{tier:?}"
    );

    // What the bodies saw.
    let count = |a: &AtomicU64| a.load(Ordering::SeqCst);
    assert_eq!(
        count(&probe.sticky_overlaps),
        0,
        "bodies of one key overlapped"
    );
    assert_eq!(
        count(&probe.sticky_out_of_order),
        0,
        "bodies of one key ran out of submission order"
    );
    assert_eq!(count(&probe.io_on_cpu), 0, "IO calls ran on CPU workers");
    assert!(probe.io_max.load(Ordering::SeqCst) <= TIER.default_cap());
    assert_eq!(
        count(&probe.children_astray),
        0,
        "children ran outside their lead's group"
    );

    // Bodies: none ran twice; IO bodies ran on IO threads, the rest on workers.
    assert_eq!(s.queue_wait.count, s.run_time.count);
    let started_bodies = s.queue_wait.count;
    let io_bodies = count(&probe.io_started);
    // Workers count the calls they started; IO threads do not. An IO call that
    // started counts as an IO body, unless a kill won the race between its
    // start and its body taking the closure (then the body never ran).
    let io_killed = s.op("stress_io").map_or(0, |op| op.counts.killed);
    eventually("cancelled bodies still running return", || {
        let on_workers = c.stats().workers.iter().map(|w| w.ran).sum::<u64>();
        let on_io = started_bodies.saturating_sub(on_workers);
        (io_bodies..=io_bodies + io_killed).contains(&on_io)
    });
    // No body ran twice, and every completed or panicked call and every child
    // ran (per input, as the bodies recorded it). Stop first: it waits for
    // bodies that still run after their call was killed or timed out.
    c.stop();
    let ran = probe.ran.check(&total.returned);
    let children_ran = probe.children_ran.check(&[]);
    assert_eq!(children_ran, children, "a child made never ran");
    assert!(
        ran + children_ran <= started_bodies,
        "{ran} bodies and {children_ran} children ran, {started_bodies} calls started"
    );
    eprintln!(
        "stress (routed): {TOTAL} calls + {children} children in {:?}, {pauses} pauses: {o:?}; \
         {ran} bodies ran; IO high water {}",
        started.elapsed(),
        tier.high_water
    );
}

// ----- small lanes, sync and async submitters ------------------------------------

/// Calls of the small-lanes test, per sync submitter thread and per async
/// submitter task.
const SMALL_LANE_CALLS: u64 = 4_000;
const SYNC_SUBMITTERS: u64 = 4;
const ASYNC_SUBMITTERS: u64 = 4;
const SMALL_LANES_TOTAL: u64 = SMALL_LANE_CALLS * (SYNC_SUBMITTERS + ASYNC_SUBMITTERS);
/// Slots per lane: submitters wait for room most of the time.
const SMALL_LANE: usize = 4;
const SMALL_BATCH: u64 = 40;

/// One call of the small-lanes test: any weight, now and then a timeout, a
/// panic or a short pause; its body records that it ran.
fn small_lane_call(rng: &mut SplitMix64, input: u64, ran: &Arc<RanFlags>) -> TaskToken<u64> {
    let w = rng.below(3) as usize;
    let mut task = Task::new(OPS[w]).weight(Weight::ALL[w]);
    if rng.chance(5) {
        task = task.timeout(Duration::from_micros(100 + rng.below(2_000)));
    }
    let panics = rng.chance(2);
    let pause = if rng.chance(30) { rng.below(51) } else { 0 };
    let ran = ran.clone();
    task.spawn(move || {
        ran.mark(input);
        if pause > 0 {
            std::thread::sleep(Duration::from_micros(pause));
        }
        if panics {
            std::panic::panic_any(ExpectedPanic);
        }
        input
    })
}

/// Records a new token's id where the killer picks its victims; kills 1 % of
/// tokens at once. Returns whether this call killed it.
fn small_lane_hand_off(
    (ring, cursor): (&[AtomicU64], &AtomicUsize),
    rng: &mut SplitMix64,
    token: &TaskToken<u64>,
) -> bool {
    ring[cursor.fetch_add(1, Ordering::Relaxed) % RING]
        .store(token.id().as_u64(), Ordering::Relaxed);
    rng.chance(1) && token.kill()
}

/// An async submitter: makes its calls in batches (a call never blocks the
/// executor, even when its lane is full: it waits in line), and awaits them;
/// in one batch in ten it detaches half of its calls instead, dropping their
/// tokens, which for a call still in line waits until it entered its lane.
async fn async_submitter(
    c: Arc<OperationsCoordinator>,
    k: u64,
    ran: Arc<RanFlags>,
    killer: (Arc<Vec<AtomicU64>>, Arc<AtomicUsize>),
) -> Tally {
    let mut rng = SplitMix64::new(0xA5_0000 + k);
    let mut tally = Tally::default();
    let first = (SYNC_SUBMITTERS + k) * SMALL_LANE_CALLS;
    for batch in 0..SMALL_LANE_CALLS / SMALL_BATCH {
        let base = first + batch * SMALL_BATCH;
        let tokens: Vec<(u64, TaskToken<u64>)> = c.run(|| {
            (base..base + SMALL_BATCH)
                .map(|input| (input, small_lane_call(&mut rng, input, &ran)))
                .collect()
        });
        for (_, token) in &tokens {
            if small_lane_hand_off((&killer.0, &killer.1), &mut rng, token) {
                tally.kills += 1;
            }
        }
        let detach = rng.chance(10);
        for (input, token) in tokens {
            if detach && rng.chance(50) {
                drop(token);
                tally.detached += 1;
                continue;
            }
            tally.record(input, token.await);
        }
    }
    tally
}

#[test]
fn small_lanes_with_sync_and_async_submitters_and_kills_run_each_call_at_most_once() {
    quiet_expected_panics();
    let started = Instant::now();
    let c = Arc::new(
        builder("stress-small-lanes")
            .core_groups(2)
            .workers_per_core(2)
            .lane_capacity(SMALL_LANE)
            .mailbox_capacity(2)
            .start()
            .unwrap(),
    );
    let ran = Arc::new(RanFlags::new(SMALL_LANES_TOTAL as usize));
    let ring: Arc<Vec<AtomicU64>> = Arc::new((0..RING).map(|_| AtomicU64::new(0)).collect());
    let cursor = Arc::new(AtomicUsize::new(0));
    let submitters_done = AtomicBool::new(false);

    let total = std::thread::scope(|s| {
        // The killer: kills random recent ids until the submitters are done.
        let killer = s.spawn(|| {
            let mut rng = SplitMix64::new(0x5EED_C0DE);
            let mut kills = 0u64;
            while !submitters_done.load(Ordering::SeqCst) {
                for _ in 0..8 {
                    let id = ring[rng.below(RING as u64) as usize].load(Ordering::Relaxed);
                    if id != 0 && c.kill_token(id.into()) {
                        kills += 1;
                    }
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            kills
        });
        let sync: Vec<_> = (0..SYNC_SUBMITTERS)
            .map(|k| {
                let (c, ran, ring, cursor) = (&c, &ran, &ring, &cursor);
                s.spawn(move || {
                    let mut rng = SplitMix64::new(0x5_0000 + k);
                    let mut tally = Tally::default();
                    let _bound = c.enter();
                    let first = k * SMALL_LANE_CALLS;
                    for batch in 0..SMALL_LANE_CALLS / SMALL_BATCH {
                        let base = first + batch * SMALL_BATCH;
                        // Calls whose lane is full wait in line.
                        let tokens: Vec<(u64, TaskToken<u64>)> = (base..base + SMALL_BATCH)
                            .map(|input| {
                                let token = small_lane_call(&mut rng, input, ran);
                                if small_lane_hand_off((ring, cursor), &mut rng, &token) {
                                    tally.kills += 1;
                                }
                                (input, token)
                            })
                            .collect();
                        for (input, token) in tokens {
                            tally.record(input, resolve(token));
                        }
                    }
                    tally
                })
            })
            .collect();
        let asynchronous = s.spawn(|| {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_time()
                .build()
                .expect("a tokio runtime");
            rt.block_on(async {
                let tasks: Vec<_> = (0..ASYNC_SUBMITTERS)
                    .map(|k| {
                        let killer = (ring.clone(), cursor.clone());
                        tokio::spawn(async_submitter(c.clone(), k, ran.clone(), killer))
                    })
                    .collect();
                let mut total = Tally::default();
                for task in tasks {
                    let tally = tokio::time::timeout(PATIENCE, task)
                        .await
                        .expect("an async submitter finished its calls within PATIENCE")
                        .expect("an async submitter");
                    total.merge(tally);
                }
                total
            })
        });
        let mut total = asynchronous.join().unwrap();
        for h in sync {
            total.merge(h.join().unwrap());
        }
        submitters_done.store(true, Ordering::SeqCst);
        total.kills += killer.join().unwrap();
        total
    });

    // Every call awaited produced exactly one result, its own input if a value.
    let o = &total.outcomes;
    assert!(total.detached > 0, "no call was detached");
    assert_eq!(
        o.total() + total.detached,
        SMALL_LANES_TOTAL,
        "results: {o:?}"
    );
    assert!(
        total.mismatched.is_empty(),
        "values from other calls: {:?}",
        &total.mismatched[..total.mismatched.len().min(5)]
    );
    let mut inputs: Vec<u64> = total.values.clone();
    inputs.sort_unstable();
    inputs.dedup();
    assert_eq!(
        inputs.len(),
        total.values.len(),
        "a value was returned twice"
    );
    // Kills: by id and by handle, nothing else (no call is rejected).
    assert_eq!(
        o.detail.get("killed").copied().unwrap_or(0),
        o.killed,
        "{:?}",
        o.detail
    );

    let s = c.stats();
    assert_eq!(s.tokens.submitted, SMALL_LANES_TOTAL);
    assert_eq!(s.tokens.finished(), SMALL_LANES_TOTAL);
    assert_eq!(
        s.tokens.killed, total.kills,
        "every kill resolved exactly one token as killed"
    );
    // Detached calls add to the counts, never take away from them.
    let counted = [
        s.tokens.completed,
        s.tokens.failed,
        s.tokens.killed,
        s.tokens.timed_out,
    ];
    let seen = [o.completed, o.failed, o.killed, o.timed_out];
    assert!(
        counted.iter().zip(&seen).all(|(c, s)| c >= s),
        "stats {:?} vs tokens {o:?}",
        s.tokens
    );
    assert_eq!(s.in_flight, 0);
    assert!(
        s.lanes.iter().all(|l| l.depth == 0),
        "lane slots leaked: {:?}",
        s.lanes
    );
    assert_eq!(c.live_tokens(), 0);

    // No call ran twice; every completed or panicked call ran. Stop first: it
    // waits for bodies that still run after their call was killed.
    Arc::into_inner(c)
        .expect("only this test holds the coordinator")
        .stop();
    let ran = ran.check(&total.returned);
    eprintln!(
        "stress (small lanes): {SMALL_LANES_TOTAL} calls in {:?}: {o:?}; {} detached; \
         {ran} bodies ran",
        started.elapsed(),
        total.detached
    );
}

/// Calls per submitter thread of the `Reject` stress test.
const REJECT_CALLS: u64 = 5_120;
const _: () = assert!(REJECT_CALLS % 64 == 0);
/// Submitter threads of the `Reject` stress test.
const REJECT_SUBMITTERS: u64 = 4;
/// Lane capacity of the `Reject` stress test: every waiting call of a
/// weight, in its lane or a mailbox, holds one of these.
const REJECT_LANE: usize = 32;

#[test]
fn reject_under_kills_resolves_each_call_once_and_gives_every_slot_back() {
    let started = Instant::now();
    let c = builder("stress-reject")
        .core_groups(2)
        .workers_per_core(2)
        .lane_capacity(REJECT_LANE)
        .full_lane_policy(tokengate::FullLanePolicy::Reject)
        .start()
        .unwrap();
    let total = (REJECT_SUBMITTERS * REJECT_CALLS) as usize;
    let ran = Arc::new(RanFlags::new(total));
    let (accepted, rejected, killed) = std::thread::scope(|s| {
        let submitters: Vec<_> = (0..REJECT_SUBMITTERS)
            .map(|k| {
                let (c, ran) = (&c, &ran);
                s.spawn(move || {
                    let _bound = c.enter();
                    let mut rng = SplitMix64::new(0xBEEF + k);
                    let (mut accepted, mut rejected, mut killed) = (0u64, 0u64, 0u64);
                    let mut tokens = Vec::with_capacity(64);
                    for input in k * REJECT_CALLS..(k + 1) * REJECT_CALLS {
                        let weight =
                            [Weight::Light, Weight::Medium, Weight::Heavy][rng.below(3) as usize];
                        let spin = rng.below(20);
                        let ran = ran.clone();
                        let token = Task::new("reject_stress").weight(weight).spawn(move || {
                            ran.mark(input);
                            std::hint::black_box((0..spin * 100).sum::<u64>());
                            input
                        });
                        if rng.below(8) == 0 {
                            token.kill();
                        }
                        tokens.push((input, token));
                        if tokens.len() == 64 {
                            for (input, token) in tokens.drain(..) {
                                match token.wait() {
                                    Ok(value) => {
                                        assert_eq!(value, input);
                                        accepted += 1;
                                    }
                                    Err(e) if e.is_rejected() => rejected += 1,
                                    Err(e) if e.is_killed() => killed += 1,
                                    Err(e) => panic!("unexpected outcome: {e}"),
                                }
                            }
                        }
                    }
                    assert!(tokens.is_empty());
                    (accepted, rejected, killed)
                })
            })
            .collect();
        submitters
            .into_iter()
            .map(|h| h.join().unwrap())
            .fold((0, 0, 0), |(a, r, k), (a2, r2, k2)| {
                (a + a2, r + r2, k + k2)
            })
    });
    assert_eq!(accepted + rejected + killed, total as u64);
    assert!(rejected > 0, "a lane of {REJECT_LANE} never filled");
    let s = c.stats();
    assert_eq!(s.tokens.finished(), total as u64);
    assert!(
        s.lanes.iter().all(|l| l.depth == 0),
        "lane slots leaked: {:?}",
        s.lanes
    );
    c.stop();
    let bodies = ran.check(&[]);
    assert!(
        bodies >= accepted,
        "{accepted} calls returned values from {bodies} bodies"
    );
    eprintln!(
        "stress (reject): {total} calls in {:?}: {accepted} ran, {rejected} rejected, \
         {killed} killed; {bodies} bodies ran",
        started.elapsed()
    );
}

/// Groups per thread in the group stress test, and threads.
const GROUPS: u64 = 150;
const GROUP_THREADS: u64 = 4;
/// The most members of one group.
const MEMBERS: u64 = 40;

/// One member of the group stress test: marks its input, sometimes panics,
/// sometimes sleeps, and returns its input.
fn member(rng: &mut SplitMix64, input: u64, ran: &Arc<RanFlags>) -> TaskToken<u64> {
    let ran = ran.clone();
    let panics = rng.chance(1);
    let sleep_us = if rng.chance(20) { rng.below(200) } else { 0 };
    Task::new("group_member").spawn(move || {
        ran.mark(input);
        if panics {
            std::panic::panic_any(ExpectedPanic);
        }
        if sleep_us > 0 {
            std::thread::sleep(Duration::from_micros(sleep_us));
        }
        input
    })
}

#[test]
fn groups_under_random_kills_hand_back_every_member_exactly_once() {
    quiet_expected_panics();
    let coordinator = builder("stress-groups")
        .start()
        .expect("the coordinator starts");
    let handle = coordinator.handle();
    let ran = Arc::new(RanFlags::new((GROUP_THREADS * GROUPS * MEMBERS) as usize));
    let (kill_tx, kill_rx) = mpsc::channel::<KillHandle>();
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut rng = SplitMix64::new(0x6b11);
            let mut kills = 0u64;
            while !stop.load(Ordering::SeqCst) {
                match kill_rx.recv_timeout(Duration::from_millis(1)) {
                    Ok(member) if rng.chance(5) => kills += u64::from(member.kill()),
                    Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            kills
        })
    };
    let workers: Vec<_> = (0..GROUP_THREADS)
        .map(|t| {
            let (handle, ran, kill_tx) = (handle.clone(), ran.clone(), kill_tx.clone());
            std::thread::spawn(move || {
                let _bound = handle.enter();
                let mut rng = SplitMix64::new(0x9e37 + t);
                let mut returned = Vec::new();
                for g in 0..GROUPS {
                    let base = (t * GROUPS + g) * MEMBERS;
                    let n = 1 + rng.below(MEMBERS);
                    let mut group = TokenGroup::new();
                    let mut added: Vec<(TokenId, u64)> = Vec::new();
                    let mut handles = Vec::new();
                    for i in 0..n {
                        let token = member(&mut rng, base + i, &ran);
                        let _ = kill_tx.send(token.kill_handle());
                        handles.push(token.kill_handle());
                        added.push((group.add(token), base + i));
                    }
                    let inputs: std::collections::HashMap<TokenId, u64> =
                        added.iter().copied().collect();
                    match g % 5 {
                        // Completion order, sync: each member once.
                        0 | 1 => {
                            let mut seen = HashSet::new();
                            let next = |group: &mut TokenGroup<u64>| {
                                if g % 5 == 0 {
                                    group.wait_next()
                                } else {
                                    tokengate_tests::block_on(group.join_next())
                                }
                            };
                            while let Some((id, result)) = next(&mut group) {
                                assert!(seen.insert(id), "member {id} handed back twice");
                                let input = inputs[&id];
                                match result {
                                    Ok(v) => {
                                        assert_eq!(v, input);
                                        returned.push(input);
                                    }
                                    Err(e) if e.is_panic() => returned.push(input),
                                    Err(e) => assert!(e.is_killed(), "{e}"),
                                }
                            }
                            assert_eq!(seen.len(), n as usize, "members lost");
                        }
                        // A whole join: the values in add order, or every
                        // failure accounted for.
                        2 => match group.wait() {
                            Ok(values) => {
                                let expected: Vec<u64> = added.iter().map(|&(_, i)| i).collect();
                                assert_eq!(values, expected);
                                returned.extend(values);
                            }
                            Err(err) => {
                                assert!(!err.failures().is_empty());
                                assert!(err.failures().len() + err.cancelled() <= n as usize);
                                for (id, e) in err.failures() {
                                    assert!(inputs.contains_key(id));
                                    assert_ne!(e.kill_reason(), Some(KillReason::Group));
                                }
                            }
                        },
                        // Dropped unjoined: everything is resolved at once.
                        3 => {
                            drop(group);
                            assert!(handles.iter().all(KillHandle::is_finished));
                        }
                        // Killed, then joined.
                        _ => {
                            group.kill_all();
                            let result = tokengate_tests::block_on(group.join());
                            if let Ok(values) = result {
                                returned.extend(values);
                            }
                        }
                    }
                }
                returned
            })
        })
        .collect();
    drop(kill_tx);
    let mut returned = Vec::new();
    for worker in workers {
        returned.extend(worker.join().expect("a group thread panicked"));
    }
    stop.store(true, Ordering::SeqCst);
    let kills = killer.join().unwrap();
    eventually("every call resolved", || handle.live_tokens() == 0);
    coordinator.stop();
    let ran_count = ran.check(&returned);
    assert!(kills > 0, "the killer killed nothing");
    assert!(ran_count as usize >= returned.len());
}
