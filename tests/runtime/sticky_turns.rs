//! Sticky domains hand their turn on correctly in the cases that need care: a
//! member killed while running whose body returns while other members remain,
//! and a member whose pinned worker is itself blocked waiting on a token (the
//! deadlock escape of the scheduler design note).

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Serialize, Serializer};
use tokengate::{TaskToken, TokenState, current_token_id, current_worker, task_token_guard};
use tokengate_tests::{Gate, Log, builder, error, eventually, value, with_coordinator};

/// One step of a member, as its body logs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Start(u64, usize),
    End(u64),
}

/// What a member's body needs, left out of its key (serializes as `()`, hashes
/// as nothing): a log, and a gate to hold at (ignoring kills) if any.
struct Ctx(Arc<Log<Step>>, Option<Arc<Gate>>);

impl Serialize for Ctx {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl Hash for Ctx {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

#[task_token_guard(op = "turn", sticky_anchor = "turn")]
fn member(key: u32, ctx: Ctx) -> usize {
    let Ctx(log, gate) = ctx;
    let id = current_token_id().expect("inside a guarded call").as_u64();
    let worker = current_worker()
        .expect("a sticky call runs on a worker")
        .index;
    log.push(Step::Start(id, worker));
    if let Some(gate) = gate {
        assert!(gate.wait(), "the test never opened the gate");
    }
    log.push(Step::End(id));
    worker
}

/// The ids of the logged members in the order they ran, and their workers;
/// panics if two bodies overlapped (a start not followed by its own end).
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

#[test]
fn members_left_behind_by_a_killed_running_member_run_after_its_body_returns() {
    with_coordinator(
        builder("turn-killed").core_groups(1).workers_per_core(2),
        |c| {
            let log = Log::new();
            let gate = Gate::new();
            // The first member ignores its kill and holds on until the gate opens.
            let first = member(1, Ctx(log.clone(), Some(gate.clone())));
            // Its body has started (and logged so): the state alone turns `Executing`
            // a moment before the body's first line.
            eventually("the first member runs", || log.len() == 1);
            let rest: Vec<TaskToken<usize>> =
                (0..3).map(|_| member(1, Ctx(log.clone(), None))).collect();
            let ids: Vec<u64> = [first.id().as_u64()]
                .into_iter()
                .chain(rest.iter().map(|t| t.id().as_u64()))
                .collect();
            assert!(first.kill());
            assert!(error(first).is_killed());
            // The next member has the turn, on the domain's worker, which still runs
            // the killed body; the others wait behind it.
            eventually("the next member is dispatched", || {
                rest[0].state() == TokenState::Admitted
            });
            assert!(rest[1..].iter().all(|t| t.state() == TokenState::Waiting));
            assert_eq!(log.len(), 1, "a member started beside the killed body");
            // The killed body returns while three members remain.
            gate.open();
            let workers: BTreeSet<usize> = rest.into_iter().map(value).collect();
            let (order, ran_on) = serial(&log);
            assert_eq!(order, ids, "members ran out of submission order");
            assert_eq!(ran_on.len(), 1, "the domain ran on workers {ran_on:?}");
            assert_eq!(workers, ran_on);
            assert_eq!(
                c.stats().sticky_domains,
                0,
                "the domain outlived its members"
            );

            // The last member killed while running: the domain leaves when its body returns.
            let gate = Gate::new();
            let last = member(2, Ctx(log.clone(), Some(gate.clone())));
            eventually("the member runs", || last.state() == TokenState::Executing);
            assert!(last.kill());
            assert_eq!(c.stats().sticky_domains, 1, "the killed body still runs");
            gate.open();
            eventually(
                "the domain is released once the killed body returned",
                || c.stats().sticky_domains == 0,
            );
        },
    );
}

#[task_token_guard(op = "turn_heavy", weight = "heavy", sticky_anchor = "turn_heavy")]
fn heavy_member(key: u32, log: Ctx) -> usize {
    let Ctx(log, _) = log;
    let id = current_token_id().expect("inside a guarded call").as_u64();
    let worker = current_worker()
        .expect("a sticky call runs on a worker")
        .index;
    log.push(Step::Start(id, worker));
    log.push(Step::End(id));
    worker
}

/// Runs on the other worker and waits there on the sticky member.
#[task_token_guard(op = "turn_waiter")]
fn waiter(member: TaskToken<usize>) -> (usize, usize) {
    let here = current_worker().expect("on a worker").index;
    (here, member.wait().expect("the member completes"))
}

/// Makes a heavy sticky member (pinned to this worker: heavy calls have one
/// home worker here), then a medium call that waits on it from the other
/// worker, and waits on that call once it runs (so this worker cannot run it
/// inline): this worker is blocked in a wait, and cannot run the member.
#[task_token_guard(op = "turn_outer", weight = "heavy")]
fn outer(log: Arc<Log<Step>>) -> (usize, usize, usize) {
    let here = current_worker().expect("on a worker").index;
    let member = heavy_member(1, Ctx(log, None));
    let waiting = waiter(member);
    eventually("the waiter runs", || {
        waiting.state() == TokenState::Executing
    });
    let (waiter_at, member_at) = waiting.wait().expect("the waiter completes");
    (here, waiter_at, member_at)
}

#[test]
fn a_member_whose_pinned_worker_is_blocked_in_a_wait_still_runs() {
    // Two groups of one worker: heavy calls are served by group 0 (worker 0),
    // medium ones by group 1 (worker 1); a heavy domain is pinned to worker 0.
    with_coordinator(
        builder("turn-pinned-waiting")
            .core_groups(2)
            .workers_per_core(1),
        |c| {
            let log = Log::new();
            let (outer_at, waiter_at, member_at) = value(outer(log.clone()));
            assert_eq!(outer_at, 0, "the heavy call ran off its home worker");
            assert_eq!(waiter_at, 1, "the waiter ran on the outer call's worker");
            // Its pinned worker was blocked the whole time: the member ran elsewhere.
            assert_eq!(member_at, 1);
            assert_eq!(serial(&log).0.len(), 1);
            assert_eq!(c.stats().sticky_domains, 0);
        },
    );
}
