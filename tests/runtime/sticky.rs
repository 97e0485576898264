//! Sticky domains (`sticky_anchor`): calls with one anchor and equal argument
//! fingerprints run on one worker, one at a time, in submission order; other
//! domains run in parallel; a domain's pin is released when its last call
//! finishes, however it finishes; `hash_policy` decides what the key is made of.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Serialize, Serializer};
use tokengate::{
    CoordinatorBuilder, OperationsCoordinator, TaskToken, TokenId, TokenState, current_token_id,
    current_worker, task_token_guard,
};
use tokengate_tests::{Gate, Log, SplitMix64, builder, error, eventually, value, with_coordinator};

/// An argument left out of a sticky key: it serializes as `()` and hashes as
/// nothing, so calls that differ only in it share a domain. (The key is made of
/// every argument; this is how a test hands bodies its probes.)
#[derive(Clone, Debug)]
struct Unkeyed<T>(T);

impl<T> Serialize for Unkeyed<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl<T> Hash for Unkeyed<T> {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

fn worker_index() -> usize {
    current_worker()
        .expect("a sticky call runs on a CPU worker")
        .index
}

// ----- one at a time, in order, on one worker --------------------------------

const KEYS: usize = 16;
const SUBMITTERS: u64 = 8;
const PER_SUBMITTER: u64 = 250;

/// What the bodies of the ordering test share.
struct Keys {
    /// Every body waits here first: the test opens it once every call was
    /// made, so each key's domain lives (and keeps its pin) from its first call
    /// to its last. (A domain whose calls all finished is released, and the
    /// key's next call may pin another worker.)
    start: Arc<Gate>,
    /// Per key: a body of the key is running now.
    busy: Vec<AtomicBool>,
    /// Bodies that found their key busy.
    overlaps: AtomicUsize,
    /// Per key: token ids in the order the bodies ran.
    executed: Vec<Mutex<Vec<u64>>>,
    /// Per key: the workers its bodies ran on.
    workers: Vec<Mutex<BTreeSet<usize>>>,
    /// Bodies running now, any key, and the most ever.
    active: AtomicUsize,
    max_active: AtomicUsize,
}

impl Keys {
    fn new() -> Arc<Keys> {
        Arc::new(Keys {
            start: Gate::new(),
            busy: (0..KEYS).map(|_| AtomicBool::new(false)).collect(),
            overlaps: AtomicUsize::new(0),
            executed: (0..KEYS).map(|_| Mutex::default()).collect(),
            workers: (0..KEYS).map(|_| Mutex::default()).collect(),
            active: AtomicUsize::new(0),
            max_active: AtomicUsize::new(0),
        })
    }
}

#[task_token_guard(op = "sticky_touch", sticky_anchor = "account")]
fn touch(key: u32, keys: Unkeyed<Arc<Keys>>) -> usize {
    let s = &keys.0;
    let k = key as usize;
    assert!(s.start.wait(), "the test never opened the start gate");
    if s.busy[k].swap(true, Ordering::SeqCst) {
        s.overlaps.fetch_add(1, Ordering::SeqCst);
    }
    let now = s.active.fetch_add(1, Ordering::SeqCst) + 1;
    s.max_active.fetch_max(now, Ordering::SeqCst);
    s.executed[k]
        .lock()
        .unwrap()
        .push(current_token_id().expect("inside a guarded call").as_u64());
    let worker = worker_index();
    s.workers[k].lock().unwrap().insert(worker);
    // Long enough for another body of the key to slip in, if one could.
    std::thread::sleep(Duration::from_micros(100));
    s.active.fetch_sub(1, Ordering::SeqCst);
    s.busy[k].store(false, Ordering::SeqCst);
    worker
}

#[test]
fn calls_of_a_key_run_one_at_a_time_in_submission_order_on_one_worker() {
    with_coordinator(
        builder("sticky-order").core_groups(1).workers_per_core(4),
        |c| {
            let keys = Keys::new();
            // Per key: token ids in submission order, appended under the key's lock
            // while the call is made, so this order is the order of the calls.
            let submitted: Vec<Mutex<Vec<u64>>> = (0..KEYS).map(|_| Mutex::default()).collect();

            let tokens: Vec<(u32, TaskToken<usize>)> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..SUBMITTERS)
                    .map(|n| {
                        let (keys, submitted) = (&keys, &submitted);
                        s.spawn(move || {
                            let _g = c.enter();
                            let mut rng = SplitMix64::new(0x5EED + n);
                            let mut tokens = Vec::new();
                            for _ in 0..PER_SUBMITTER {
                                let key = rng.below(KEYS as u64) as u32;
                                let mut list = submitted[key as usize].lock().unwrap();
                                let token = touch(key, Unkeyed(keys.clone()));
                                list.push(token.id().as_u64());
                                drop(list);
                                tokens.push((key, token));
                            }
                            tokens
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap())
                    .collect()
            });
            assert_eq!(c.stats().sticky_domains, KEYS);
            keys.start.open();
            let results: Vec<(u32, usize)> = tokens
                .into_iter()
                .map(|(key, token)| (key, value(token)))
                .collect();

            assert_eq!(results.len() as u64, SUBMITTERS * PER_SUBMITTER);
            assert_eq!(
                keys.overlaps.load(Ordering::SeqCst),
                0,
                "two bodies of one key ran at once"
            );
            let mut pins = BTreeMap::new();
            for k in 0..KEYS {
                let submitted = submitted[k].lock().unwrap().clone();
                let executed = keys.executed[k].lock().unwrap().clone();
                assert!(!submitted.is_empty(), "key {k} was never called");
                assert_eq!(
                    executed, submitted,
                    "key {k}: bodies ran out of submission order"
                );
                let workers = keys.workers[k].lock().unwrap().clone();
                assert_eq!(workers.len(), 1, "key {k} ran on workers {workers:?}");
                pins.insert(k, *workers.first().unwrap());
            }
            for (key, worker) in &results {
                assert_eq!(pins[&(*key as usize)], *worker);
            }
            let distinct: BTreeSet<usize> = pins.values().copied().collect();
            assert!(
                distinct.len() >= 2,
                "all {KEYS} domains were pinned to one worker: {pins:?}"
            );
            assert!(
                keys.max_active.load(Ordering::SeqCst) > 1,
                "bodies of different keys never ran at the same time"
            );
            // Every pin was released with its domain's last call.
            let s = c.stats();
            assert_eq!(s.sticky_domains, 0, "pins outlived their calls: {s}");
            assert_eq!(s.tokens.completed, SUBMITTERS * PER_SUBMITTER);
            assert_eq!(c.live_tokens(), 0);
        },
    );
}

// ----- kills, timeouts, pauses -------------------------------------------------

/// One step of a sticky call, as logged by its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Start(u64, usize),
    End(u64),
}

/// What a step body needs: where to log, and a gate to wait at first (if any).
#[derive(Clone, Debug)]
struct Ctx {
    log: Arc<Log<Step>>,
    gate: Option<Arc<Gate>>,
    /// Return early once cancelled, or hold on until the gate opens anyway.
    heed_cancel: bool,
    /// A token to wait on (after the gate), parking the worker in a token wait.
    wait_on: Option<Arc<Mutex<Option<TaskToken<()>>>>>,
}

impl Ctx {
    fn new(log: &Arc<Log<Step>>) -> Unkeyed<Ctx> {
        Unkeyed(Ctx {
            log: log.clone(),
            gate: None,
            heed_cancel: false,
            wait_on: None,
        })
    }

    fn gated(log: &Arc<Log<Step>>, gate: &Arc<Gate>, heed_cancel: bool) -> Unkeyed<Ctx> {
        Unkeyed(Ctx {
            log: log.clone(),
            gate: Some(gate.clone()),
            heed_cancel,
            wait_on: None,
        })
    }

    fn waiting_on(log: &Arc<Log<Step>>, token: TaskToken<()>) -> Unkeyed<Ctx> {
        Unkeyed(Ctx {
            log: log.clone(),
            gate: None,
            heed_cancel: false,
            wait_on: Some(Arc::new(Mutex::new(Some(token)))),
        })
    }
}

fn step_body(ctx: &Ctx) -> usize {
    let id = current_token_id().expect("inside a guarded call").as_u64();
    let worker = worker_index();
    ctx.log.push(Step::Start(id, worker));
    if let Some(gate) = &ctx.gate {
        if ctx.heed_cancel {
            gate.wait_or_cancelled();
        } else {
            assert!(gate.wait(), "the test never opened the gate");
        }
    }
    if let Some(token) = ctx.wait_on.as_ref().and_then(|t| t.lock().unwrap().take()) {
        token.wait().expect("the awaited call completes");
    }
    std::thread::sleep(Duration::from_micros(200));
    ctx.log.push(Step::End(id));
    worker
}

#[task_token_guard(op = "step", sticky_anchor = "step")]
fn step(key: u32, ctx: Unkeyed<Ctx>) -> usize {
    step_body(&ctx.0)
}

/// Same anchor and argument types as `step`: under the default (standard)
/// hash policy, equal arguments put both ops' calls in one domain.
#[task_token_guard(op = "step_with_timeout", sticky_anchor = "step", timeout = "50ms")]
fn step_with_timeout(key: u32, ctx: Unkeyed<Ctx>) -> usize {
    step_body(&ctx.0)
}

/// Asserts that the logged steps never interleave (each start is followed by
/// its own end) and returns the ids in the order they started and the workers
/// they ran on.
#[track_caller]
fn serial(log: &Log<Step>) -> (Vec<u64>, BTreeSet<usize>) {
    let items = log.items();
    let mut ids = Vec::new();
    let mut workers = BTreeSet::new();
    for pair in items.chunks(2) {
        match pair {
            [Step::Start(a, w), Step::End(b)] if a == b => {
                ids.push(*a);
                workers.insert(*w);
            }
            _ => panic!("bodies of one domain overlapped: {items:?}"),
        }
    }
    (ids, workers)
}

fn two_workers(name: &str) -> CoordinatorBuilder {
    builder(name).core_groups(1).workers_per_core(2)
}

#[test]
fn a_killed_queued_call_leaves_its_domain_and_never_runs() {
    with_coordinator(two_workers("sticky-kill-queued"), |c| {
        let log = Log::new();
        let gate = Gate::new();
        let first = step(1, Ctx::gated(&log, &gate, false));
        eventually("the first call runs", || {
            first.state() == TokenState::Executing
        });
        let queued: Vec<TaskToken<usize>> = (0..4).map(|_| step(1, Ctx::new(&log))).collect();
        assert!(queued.iter().all(|t| t.state() == TokenState::Waiting));
        assert_eq!(c.stats().sticky_domains, 1);
        let mut queued = queued.into_iter();
        let (a, b, d, e) = (
            queued.next().unwrap(),
            queued.next().unwrap(),
            queued.next().unwrap(),
            queued.next().unwrap(),
        );
        // The next in line, and one further back.
        assert!(c.kill_token(a.id()));
        assert!(d.kill());
        let expected = [first.id(), b.id(), e.id()].map(TokenId::as_u64);
        assert!(error(a).is_killed());
        assert!(error(d).is_killed());
        gate.open();
        let pin = value(first);
        assert_eq!((value(b), value(e)), (pin, pin));
        let (ids, workers) = serial(&log);
        assert_eq!(ids, expected, "a killed call ran, or order broke");
        assert_eq!(workers.len(), 1);
        assert_eq!(c.stats().sticky_domains, 0);

        // Later calls of the key still run, in order.
        let later: Vec<TaskToken<usize>> = (0..3).map(|_| step(1, Ctx::new(&log))).collect();
        let later_ids: Vec<u64> = later.iter().map(|t| t.id().as_u64()).collect();
        later.into_iter().for_each(|t| {
            value(t);
        });
        assert_eq!(serial(&log).0[3..], later_ids);
        assert_eq!(c.stats().sticky_domains, 0);
    });
}

#[test]
fn a_drain_kills_waiting_members_and_the_pin_goes_with_the_running_one() {
    with_coordinator(two_workers("sticky-drain"), |c| {
        let log = Log::new();
        let gate = Gate::new();
        let first = step(8, Ctx::gated(&log, &gate, false));
        eventually("the first call runs", || {
            first.state() == TokenState::Executing
        });
        let waiting: Vec<TaskToken<usize>> = (0..5).map(|_| step(8, Ctx::new(&log))).collect();
        assert_eq!(c.drain_operation("step"), 5);
        for token in waiting {
            let err = error(token);
            assert!(
                err.is_killed() && err.to_string().contains("drain"),
                "{err}"
            );
        }
        assert_eq!(
            c.stats().sticky_domains,
            1,
            "the running member keeps the pin"
        );
        assert_eq!(c.stats().lane(tokengate::Weight::Medium).depth, 0);
        gate.open();
        value(first);
        assert_eq!(serial(&log).0.len(), 1, "a drained call ran");
        assert_eq!(c.stats().sticky_domains, 0);
    });
}

#[test]
fn a_killed_running_call_hands_the_turn_to_the_next_one_after_its_body_returns() {
    with_coordinator(two_workers("sticky-kill-running"), |c| {
        let log = Log::new();
        let gate = Gate::new();
        // The first body ignores the kill and holds on until the gate opens.
        let first = step(2, Ctx::gated(&log, &gate, false));
        eventually("the first call runs", || {
            first.state() == TokenState::Executing
        });
        let next = step(2, Ctx::new(&log));
        assert_eq!(next.state(), TokenState::Waiting);
        assert!(first.kill());
        assert!(error(first).is_killed());
        // Its turn passed on: the next call is admitted to the domain's worker,
        // which still runs the killed body.
        eventually("the next call is dispatched", || {
            next.state() == TokenState::Admitted
        });
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(next.state(), TokenState::Admitted);
        assert_eq!(log.len(), 1, "the next call started beside the killed body");
        assert_eq!(c.stats().sticky_domains, 1);
        gate.open();
        let worker = value(next);
        let (ids, workers) = serial(&log);
        assert_eq!(ids.len(), 2);
        assert_eq!(workers, BTreeSet::from([worker]));
        assert_eq!(c.stats().sticky_domains, 0);
    });
}

#[test]
fn a_timed_out_running_call_hands_the_turn_to_the_next_one() {
    with_coordinator(two_workers("sticky-timeout"), |c| {
        let log = Log::new();
        let gate = Gate::new();
        // Times out after 50 ms; the body notices and returns.
        let first = step_with_timeout(3, Ctx::gated(&log, &gate, true));
        let next = step(3, Ctx::new(&log));
        let err = error(first);
        assert!(err.is_timeout(), "{err}");
        let worker = value(next);
        let (ids, workers) = serial(&log);
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert_eq!(workers, BTreeSet::from([worker]));
        assert_eq!(c.stats().sticky_domains, 0);
        let s = c.stats();
        assert_eq!((s.tokens.timed_out, s.tokens.completed), (1, 1));
    });
}

/// Same anchor and argument types as `step`, another op: its calls share the
/// domains of `step` but not its per-op pauses.
#[task_token_guard(op = "step_other", sticky_anchor = "step")]
fn step_other(key: u32, ctx: Unkeyed<Ctx>) -> usize {
    step_body(&ctx.0)
}

/// Runs a member of domain 4 that holds on until it is told to finish; pauses
/// with `pause`; makes ten members of `step`; lets the running member finish,
/// which frees the domain's turn (a member no pause holds is dispatched then,
/// before the finished call's token resolves); checks that the ten were held,
/// resumes with `resume`, and checks that they ran in call order.
fn held_while_paused(
    c: &OperationsCoordinator,
    log: &Arc<Log<Step>>,
    running: impl FnOnce(Unkeyed<Ctx>) -> TaskToken<usize>,
    (pause, resume): (impl FnOnce(), impl FnOnce()),
) {
    let before = log.len();
    let gate = Gate::new();
    let running = running(Ctx::gated(log, &gate, false));
    eventually("the running member starts", || log.len() == before + 1);
    pause();
    let tokens: Vec<TaskToken<usize>> = (0..10).map(|_| step(4, Ctx::new(log))).collect();
    gate.open();
    let mut ids = vec![running.id().as_u64()];
    value(running);
    assert!(
        tokens.iter().all(|t| t.state() == TokenState::Waiting),
        "a sticky call was admitted while paused"
    );
    assert_eq!(log.len(), before + 2, "a sticky call ran while paused");
    assert_eq!(c.stats().sticky_domains, 1);
    resume();
    ids.extend(tokens.iter().map(|t| t.id().as_u64()));
    tokens.into_iter().for_each(|t| {
        value(t);
    });
    assert_eq!(serial(log).0[before / 2..], ids);
    assert_eq!(c.stats().sticky_domains, 0);
}

#[test]
fn pauses_hold_sticky_calls_and_resumes_keep_their_order() {
    with_coordinator(two_workers("sticky-pause"), |c| {
        let log = Log::new();
        held_while_paused(
            c,
            &log,
            |ctx| step(4, ctx),
            (|| c.pause_admission(), || c.resume_admission()),
        );
        // A member of another op runs; the ten `step` calls are held by their
        // op's pause.
        held_while_paused(
            c,
            &log,
            |ctx| step_other(4, ctx),
            (
                || c.pause_operation("step"),
                || {
                    c.resume_operation("step");
                },
            ),
        );
    });
}

#[test]
fn pins_are_released_with_the_last_call_of_each_domain() {
    // A worker per domain, so that no held call waits behind another's gate.
    with_coordinator(
        builder("sticky-release").core_groups(1).workers_per_core(4),
        |c| {
            let log = Log::new();
            let gates: Vec<Arc<Gate>> = (0..3).map(|_| Gate::new()).collect();
            let tokens: Vec<TaskToken<usize>> = (0..3)
                .flat_map(|k| {
                    let (log, gate) = (&log, &gates[k]);
                    [
                        step(10 + k as u32, Ctx::gated(log, gate, false)),
                        step(10 + k as u32, Ctx::new(log)),
                    ]
                })
                .collect();
            assert_eq!(c.stats().sticky_domains, 3);
            let mut tokens = tokens.into_iter();
            for (k, gate) in gates.iter().enumerate() {
                gate.open();
                let (a, b) = (tokens.next().unwrap(), tokens.next().unwrap());
                assert_eq!(value(a), value(b));
                // A domain leaves when its last call resolves, not later.
                assert_eq!(c.stats().sticky_domains, 2 - k);
            }
        },
    );
}

// ----- hash policies ---------------------------------------------------------

#[task_token_guard(op = "keyed_none", sticky_anchor = "policy_none", hash_policy = "none")]
fn keyed_none(key: u32, ctx: Ctx) -> usize {
    let _ = key;
    step_body(&ctx)
}

#[task_token_guard(op = "keyed_fast", sticky_anchor = "policy_fast", hash_policy = "fast")]
fn keyed_fast(key: (u32, String), ctx: Unkeyed<Ctx>) -> usize {
    let _ = key;
    step_body(&ctx.0)
}

#[derive(Clone, Debug, Serialize)]
struct Account {
    region: String,
    id: u64,
    tags: BTreeMap<String, u8>,
}

fn account(id: u64) -> Account {
    Account {
        region: "eu".to_owned(),
        id,
        tags: [("tier".to_owned(), 1), ("beta".to_owned(), 0)]
            .into_iter()
            .collect(),
    }
}

#[task_token_guard(
    op = "keyed_standard",
    sticky_anchor = "policy_standard",
    hash_policy = "standard"
)]
fn keyed_standard(key: Account, ctx: Unkeyed<Ctx>) -> usize {
    let _ = key;
    step_body(&ctx.0)
}

/// The default hash policy is "standard", with a short digest here.
#[task_token_guard(
    op = "keyed_default",
    sticky_anchor = "policy_default",
    digest_policy = "minimal"
)]
fn keyed_default(key: Account, ctx: Unkeyed<Ctx>) -> usize {
    let _ = key;
    step_body(&ctx.0)
}

/// Calls made while every body is held: the number of live domains shows how
/// the calls were keyed; then every call runs, serially per domain.
fn domains_of<K: Clone>(
    c: &OperationsCoordinator,
    keys: &[K],
    call: impl Fn(K, &Arc<Log<Step>>, &Arc<Gate>) -> TaskToken<usize>,
) -> usize {
    let gate = Gate::new();
    let logs: Vec<Arc<Log<Step>>> = keys.iter().map(|_| Log::new()).collect();
    let tokens: Vec<TaskToken<usize>> = keys
        .iter()
        .zip(&logs)
        .map(|(k, log)| call(k.clone(), log, &gate))
        .collect();
    let domains = c.stats().sticky_domains;
    gate.open();
    tokens.into_iter().for_each(|t| {
        value(t);
    });
    assert_eq!(c.stats().sticky_domains, 0);
    domains
}

#[test]
fn hash_policy_none_puts_every_call_of_the_anchor_in_one_domain() {
    with_coordinator(two_workers("sticky-none"), |c| {
        let gate = Gate::new();
        let log = Log::new();
        let ctx = |gate: Option<&Arc<Gate>>| Ctx {
            log: log.clone(),
            gate: gate.cloned(),
            heed_cancel: false,
            wait_on: None,
        };
        let mut tokens = vec![keyed_none(0, ctx(Some(&gate)))];
        eventually("the first call runs", || log.len() == 1);
        tokens.extend((1..6).map(|k| keyed_none(k, ctx(None))));
        assert_eq!(c.stats().sticky_domains, 1);
        // Members of one domain wait for their turn; the first call of a domain of
        // its own would have been admitted as it was made.
        assert!(
            tokens[1..].iter().all(|t| t.state() == TokenState::Waiting),
            "another key of a `none` anchor was admitted alongside"
        );
        let ids: Vec<u64> = tokens.iter().map(|t| t.id().as_u64()).collect();
        gate.open();
        tokens.into_iter().for_each(|t| {
            value(t);
        });
        let (order, workers) = serial(&log);
        assert_eq!(order, ids);
        assert_eq!(workers.len(), 1);
    });
}

#[test]
fn fast_and_standard_policies_key_on_equal_arguments() {
    with_coordinator(
        builder("sticky-policies")
            .core_groups(1)
            .workers_per_core(4),
        |c| {
            let fast = |k: (u32, &str)| (k.0, k.1.to_owned());
            let keys = [
                fast((1, "a")),
                fast((2, "a")),
                fast((1, "a")),
                fast((1, "b")),
                fast((2, "a")),
            ];
            let n = domains_of(c, &keys, |k, log, gate| {
                keyed_fast(k, Ctx::gated(log, gate, false))
            });
            assert_eq!(n, 3, "hash_policy = \"fast\": domains for keys {keys:?}");

            let keys = [account(1), account(2), account(1), account(1), account(3)];
            let n = domains_of(c, &keys, |k, log, gate| {
                keyed_standard(k, Ctx::gated(log, gate, false))
            });
            assert_eq!(n, 3, "hash_policy = \"standard\"");
            let n = domains_of(c, &keys, |k, log, gate| {
                keyed_default(k, Ctx::gated(log, gate, false))
            });
            assert_eq!(n, 3, "the default policy, minimal digest");

            // Equal values, built apart, run serially on one worker.
            let log = Log::new();
            let gate = Gate::new();
            let a = keyed_standard(account(7), Ctx::gated(&log, &gate, false));
            eventually("the first call runs", || log.len() == 1);
            let mut b_key = account(7);
            b_key.tags = b_key.tags.into_iter().rev().collect();
            let b = keyed_standard(b_key, Ctx::new(&log));
            assert_eq!(c.stats().sticky_domains, 1, "equal keys, two domains");
            assert_eq!(b.state(), TokenState::Waiting, "equal keys ran in parallel");
            gate.open();
            assert_eq!(value(a), value(b));
            serial(&log);
        },
    );
}

#[task_token_guard(op = "full_a", sticky_anchor = "shared_full", hash_policy = "full")]
fn full_a(key: u32, ctx: Unkeyed<Ctx>) -> usize {
    let _ = key;
    step_body(&ctx.0)
}

#[task_token_guard(op = "full_b", sticky_anchor = "shared_full", hash_policy = "full")]
fn full_b(key: u32, ctx: Unkeyed<Ctx>) -> usize {
    let _ = key;
    step_body(&ctx.0)
}

#[task_token_guard(op = "standard_a", sticky_anchor = "shared_standard")]
fn standard_a(key: u32, ctx: Unkeyed<Ctx>) -> usize {
    let _ = key;
    step_body(&ctx.0)
}

#[task_token_guard(op = "standard_b", sticky_anchor = "shared_standard")]
fn standard_b(key: u32, ctx: Unkeyed<Ctx>) -> usize {
    let _ = key;
    step_body(&ctx.0)
}

#[test]
fn hash_policy_full_gives_each_op_its_own_domains_and_standard_does_not() {
    with_coordinator(
        builder("sticky-full").core_groups(1).workers_per_core(4),
        |c| {
            // "full": equal arguments, two ops, two domains, running side by side.
            let (log_a, log_b) = (Log::new(), Log::new());
            let gate = Gate::new();
            let a = full_a(5, Ctx::gated(&log_a, &gate, false));
            let b = full_b(5, Ctx::gated(&log_b, &gate, false));
            assert_eq!(c.stats().sticky_domains, 2);
            eventually("both ops' calls run at once", || {
                log_a.len() == 1 && log_b.len() == 1
            });
            gate.open();
            value(a);
            value(b);
            assert_eq!(c.stats().sticky_domains, 0);

            // "standard": equal arguments, two ops, one domain: one at a time.
            let log = Log::new();
            let gate = Gate::new();
            let a = standard_a(5, Ctx::gated(&log, &gate, false));
            eventually("the first call runs", || log.len() == 1);
            let b = standard_b(5, Ctx::new(&log));
            assert_eq!(c.stats().sticky_domains, 1);
            assert_eq!(
                b.state(),
                TokenState::Waiting,
                "calls of one standard domain ran at once"
            );
            let ids = [a.id(), b.id()].map(TokenId::as_u64);
            gate.open();
            assert_eq!(value(a), value(b), "one domain, one worker");
            assert_eq!(serial(&log).0, ids);
            assert_eq!(c.stats().sticky_domains, 0);
        },
    );
}

// ----- waiting on a sticky call from another worker ------------------------------

#[task_token_guard(op = "waits_on_step")]
fn waits_on_step(key: u32, log: Arc<Log<Step>>, made: Arc<AtomicBool>) -> (usize, usize) {
    let token = step(key, Ctx::new(&log));
    made.store(true, Ordering::SeqCst);
    (worker_index(), token.wait().unwrap())
}

#[test]
fn a_sticky_call_waited_on_from_another_worker_still_runs_on_its_domain_worker() {
    with_coordinator(two_workers("sticky-inline"), |_| {
        let log = Log::new();
        let gate = Gate::new();
        // The domain's worker runs a body that ignores its kill until the gate opens.
        let first = step(6, Ctx::gated(&log, &gate, false));
        eventually("the first call runs", || {
            first.state() == TokenState::Executing
        });
        // A call on the other worker makes the next call of the key and waits on it.
        let made = Arc::new(AtomicBool::new(false));
        let waiter = waits_on_step(6, log.clone(), made.clone());
        eventually("the waiter made its call", || made.load(Ordering::SeqCst));
        // The turn passes to the waiter's call, admitted to the domain's worker,
        // which is still busy with the killed body.
        assert!(first.kill());
        std::thread::sleep(Duration::from_millis(50));
        let started_beside_killed_body = log.len() > 1;
        gate.open();
        let (waiter_worker, step_worker) = value(waiter);
        assert!(
            !started_beside_killed_body,
            "the next call of the domain started while the killed body still ran: {:?}",
            log.items()
        );
        assert_ne!(
            waiter_worker, step_worker,
            "the waiting worker ran the domain's call itself"
        );
        let (_, workers) = serial(&log);
        assert_eq!(workers.len(), 1, "the domain ran on workers {workers:?}");
    });
}

#[test]
fn domains_made_while_admission_is_paused_still_spread_over_workers() {
    with_coordinator(
        builder("sticky-paused-pins")
            .core_groups(1)
            .workers_per_core(4),
        |c| {
            let logs: Vec<Arc<Log<Step>>> = (0..8).map(|_| Log::new()).collect();
            c.pause_admission();
            let tokens: Vec<TaskToken<usize>> = (0..10)
                .flat_map(|_| (0..8).map(|k| step(100 + k as u32, Ctx::new(&logs[k]))))
                .collect();
            assert_eq!(c.stats().sticky_domains, 8);
            c.resume_admission();
            tokens.into_iter().for_each(|t| {
                value(t);
            });
            let pins: Vec<usize> = logs
                .iter()
                .map(|log| {
                    let (_, workers) = serial(log);
                    assert_eq!(workers.len(), 1);
                    *workers.first().unwrap()
                })
                .collect();
            let distinct: BTreeSet<usize> = pins.iter().copied().collect();
            assert!(
                distinct.len() >= 2,
                "8 domains made while paused were all pinned to one worker: {pins:?}"
            );
        },
    );
}

#[task_token_guard(op = "held_elsewhere")]
fn held_elsewhere(gate: Arc<Gate>) {
    assert!(gate.wait(), "the test never opened the gate");
}

#[test]
fn the_next_member_waits_for_a_killed_body_blocked_in_a_token_wait() {
    with_coordinator(
        builder("sticky-killed-waiting")
            .core_groups(1)
            .workers_per_core(3),
        |_| {
            let log = Log::new();
            let gate = Gate::new();
            // A call running on one worker, that the first member will wait on.
            let blocker = held_elsewhere(gate.clone());
            eventually("the blocker runs", || {
                blocker.state() == TokenState::Executing
            });
            // The first member's body parks its (pinned) worker in a token wait.
            let first = step(12, Ctx::waiting_on(&log, blocker));
            eventually("the first member runs", || log.len() == 1);
            // The third worker makes the next member and waits on it.
            let made = Arc::new(AtomicBool::new(false));
            let waiter = waits_on_step(12, log.clone(), made.clone());
            eventually("the waiter made its call", || made.load(Ordering::SeqCst));
            assert!(first.kill());
            std::thread::sleep(Duration::from_millis(50));
            let started_beside_killed_body = log.len() > 1;
            gate.open();
            let (waiter_worker, step_worker) = value(waiter);
            assert!(
                !started_beside_killed_body,
                "the next member started while the killed body still ran: {:?}",
                log.items()
            );
            assert_ne!(
                waiter_worker, step_worker,
                "the waiter ran the member itself"
            );
            let (_, workers) = serial(&log);
            assert_eq!(workers.len(), 1, "the domain ran on workers {workers:?}");
        },
    );
}

#[test]
fn stop_resolves_queued_members_and_lets_the_running_one_finish() {
    let c = two_workers("sticky-stop").start().unwrap();
    let log = Log::new();
    let gate = Gate::new();
    let (running, queued) = c.run(|| {
        let running = step(13, Ctx::gated(&log, &gate, false));
        let queued: Vec<TaskToken<usize>> = (0..4).map(|_| step(13, Ctx::new(&log))).collect();
        (running, queued)
    });
    eventually("the first member runs", || log.len() == 1);
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            gate.open();
        })
    };
    c.stop();
    opener.join().unwrap();
    for token in queued {
        assert!(error(token).is_shutdown(), "a queued member survived stop");
    }
    value(running);
    assert_eq!(serial(&log).0.len(), 1, "a queued member ran after stop");
}
