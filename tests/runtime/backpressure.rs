//! Full lanes: sync callers block until room, `Reject` rejects, `admit` waits
//! without blocking its executor, and a dropped `admit` kills what it deferred.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokengate::{
    FullLanePolicy, OperationsCoordinator, Task, TaskToken, TokenState, Weight, task_token_guard,
};
use tokengate_tests::{Gate, Log, block_on, error, eventually, settle, single_worker, value};

/// One worker whose mailbox holds only the call it runs, and a lane of 2.
fn tight(name: &str, policy: FullLanePolicy) -> OperationsCoordinator {
    single_worker(name)
        .mailbox_capacity(1)
        .lane_capacity(2)
        .full_lane_policy(policy)
        .start()
        .unwrap()
}

/// Occupies the only worker until `gate` opens.
fn block_worker(c: &OperationsCoordinator, gate: &Arc<Gate>) -> TaskToken<()> {
    let g = gate.clone();
    let t = c.run(|| Task::new("blocker").spawn(move || assert!(g.wait())));
    eventually("the blocker runs", || t.state() == TokenState::Executing);
    t
}

fn counted(ran: &Arc<AtomicUsize>, i: usize) -> TaskToken<usize> {
    let ran = ran.clone();
    Task::new("counted").spawn(move || {
        ran.fetch_add(1, Ordering::SeqCst);
        i
    })
}

#[test]
fn full_lane_blocks_sync_submitters_until_room_and_loses_nothing() {
    let c = tight("bp-wait", FullLanePolicy::Wait);
    let gate = Gate::new();
    let blocker = block_worker(&c, &gate);
    let ran = Arc::new(AtomicUsize::new(0));
    let queued: Vec<TaskToken<usize>> = c.run(|| (0..2).map(|i| counted(&ran, i)).collect());
    assert!(queued.iter().all(|t| t.state() == TokenState::Waiting));
    assert_eq!(c.stats().lane(Weight::Medium).depth, 2, "the lane is full");

    const SUBMITTERS: usize = 3;
    const EACH: usize = 4;
    let about_to_submit = Arc::new(AtomicUsize::new(0));
    let returned = Arc::new(AtomicBool::new(false));
    let results: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..SUBMITTERS)
            .map(|k| {
                let (c, ran, about, returned) = (&c, &ran, &about_to_submit, &returned);
                s.spawn(move || {
                    c.run(|| {
                        about.fetch_add(1, Ordering::SeqCst);
                        let tokens: Vec<_> =
                            (0..EACH).map(|i| counted(ran, 100 * (k + 1) + i)).collect();
                        returned.store(true, Ordering::SeqCst);
                        tokens
                    })
                })
            })
            .collect();
        eventually("every submitter is submitting", || {
            about_to_submit.load(Ordering::SeqCst) == SUBMITTERS
        });
        // Their calls are made (tokens exist, `Waiting`) but cannot take a lane slot.
        eventually("the blocked calls are counted waiting", || {
            c.stats().tokens.waiting == 2 + SUBMITTERS as u64
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !returned.load(Ordering::SeqCst),
            "a submitter returned although the lane is full and the worker blocked"
        );
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        gate.open();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .map(value)
            .collect()
    });
    value(blocker);
    let mut expected: Vec<usize> = (0..SUBMITTERS)
        .flat_map(|k| (0..EACH).map(move |i| 100 * (k + 1) + i))
        .collect();
    let mut got = results;
    got.sort_unstable();
    expected.sort_unstable();
    assert_eq!(got, expected);
    for (i, t) in queued.into_iter().enumerate() {
        assert_eq!(value(t), i);
    }
    assert_eq!(
        ran.load(Ordering::SeqCst),
        2 + SUBMITTERS * EACH,
        "nothing lost, nothing twice"
    );
    let s = c.stats().tokens;
    assert_eq!((s.submitted, s.completed, s.killed), (15, 15, 0));
    c.stop();
}

#[test]
fn a_submitter_blocked_on_a_full_lane_returns_when_its_call_times_out() {
    let c = tight("bp-wait-timeout", FullLanePolicy::Wait);
    let gate = Gate::new();
    let blocker = block_worker(&c, &gate);
    let ran = Arc::new(AtomicUsize::new(0));
    let queued: Vec<TaskToken<usize>> = c.run(|| (0..2).map(|i| counted(&ran, i)).collect());
    // The lane is full and the worker blocked: this call blocks its caller
    // until its timeout passes, then comes back already resolved.
    let r = ran.clone();
    let (mut token, returned_at) = std::thread::scope(|s| {
        let submitter = s.spawn(|| {
            let token = c.run(|| {
                Task::new("impatient")
                    .timeout(Duration::from_millis(50))
                    .spawn(move || {
                        r.fetch_add(1, Ordering::SeqCst);
                    })
            });
            (token, Instant::now())
        });
        // Made, it waits for a lane slot, holding none, while its caller blocks.
        eventually("the impatient call is made", || {
            c.stats()
                .op("impatient")
                .is_some_and(|op| op.counts.submitted == 1)
        });
        assert_eq!(
            c.stats().lane(Weight::Medium).depth,
            2,
            "the lane stays full"
        );
        submitter.join().unwrap()
    });
    assert!(token.is_finished());
    assert!(settle(&mut token).unwrap_err().is_timeout());
    let timed_out_at = token.finished_at().expect("finished");
    assert!(
        returned_at >= timed_out_at,
        "the caller returned before its call timed out"
    );
    assert!(
        !blocker.is_finished(),
        "it returned while the lane was still full"
    );
    gate.open();
    value(blocker);
    queued.into_iter().for_each(|t| {
        value(t);
    });
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    assert_eq!(
        c.stats().lane(Weight::Medium).depth,
        0,
        "no lane slot leaked"
    );
    c.stop();
}

#[test]
fn full_lane_rejects_with_the_reject_policy() {
    let c = tight("bp-reject", FullLanePolicy::Reject);
    let gate = Gate::new();
    let blocker = block_worker(&c, &gate);
    let ran = Arc::new(AtomicUsize::new(0));
    let _g = c.enter();
    let queued: Vec<TaskToken<usize>> = (0..2).map(|i| counted(&ran, i)).collect();
    let mut rejected = counted(&ran, 99);
    // Resolved at once, without waiting for the worker.
    assert!(rejected.is_finished());
    let err = settle(&mut rejected).unwrap_err();
    assert!(err.is_rejected(), "{err}");
    assert!(!err.is_killed() && !err.is_shutdown());
    assert_eq!(rejected.state(), TokenState::Killed);
    assert!(err.to_string().contains("rejected"), "{err}");
    assert_eq!(err.op(), "counted");

    gate.open();
    value(blocker);
    for (i, t) in queued.into_iter().enumerate() {
        assert_eq!(value(t), i);
    }
    // With room again, calls are accepted.
    assert_eq!(value(counted(&ran, 7)), 7);
    assert_eq!(ran.load(Ordering::SeqCst), 3, "the rejected call never ran");
    let s = c.stats().tokens;
    assert_eq!((s.completed, s.killed), (4, 1));
    drop(_g);
    c.stop();
}

#[test]
fn admit_waits_for_room_without_blocking_the_executor() {
    let c = tight("bp-admit", FullLanePolicy::Wait);
    let gate = Gate::new();
    let blocker = block_worker(&c, &gate);
    let log: Arc<Log<&'static str>> = Log::new();
    let tokens = c.run(|| {
        block_on(async {
            // 10 calls, 2 lane slots: `admit` returns at once and defers 8.
            let mut admit = tokengate::admit(|| {
                (0..10u32)
                    .map(|i| Task::new("admitted").spawn(move || i))
                    .collect::<Vec<_>>()
            });
            assert!(futures::poll!(&mut admit).is_pending(), "the lane is full");
            // Another task on this single-threaded executor still runs, and it
            // is what frees the worker: were `admit` blocking the thread, this
            // would never complete.
            let other = tokio::spawn({
                let (log, gate) = (log.clone(), gate.clone());
                async move {
                    for _ in 0..3 {
                        tokio::task::yield_now().await;
                    }
                    log.push("other task ran");
                    gate.open();
                }
            });
            let tokens = admit.await;
            log.push("admit resolved");
            other.await.unwrap();
            tokens
        })
    });
    assert_eq!(log.items(), ["other task ran", "admit resolved"]);
    value(blocker);
    let values: Vec<u32> = tokens.into_iter().map(value).collect();
    assert_eq!(values, (0..10).collect::<Vec<_>>());
    c.stop();
}

#[test]
fn admit_defers_nothing_under_the_reject_policy() {
    let c = tight("bp-admit-reject", FullLanePolicy::Reject);
    let gate = Gate::new();
    let blocker = block_worker(&c, &gate);
    let ran = Arc::new(AtomicUsize::new(0));
    let tokens: Vec<TaskToken<usize>> = c.run(|| {
        let mut admit = tokengate::admit(|| (0..5).map(|i| counted(&ran, i)).collect::<Vec<_>>());
        // Nothing waits for room: the future is ready at its first poll.
        block_on(async {
            match futures::poll!(&mut admit) {
                std::task::Poll::Ready(tokens) => tokens,
                std::task::Poll::Pending => panic!("`admit` deferred calls under `Reject`"),
            }
        })
    });
    gate.open();
    value(blocker);
    let mut tokens = tokens.into_iter();
    for i in 0..2 {
        assert_eq!(value(tokens.next().unwrap()), i);
    }
    for t in tokens {
        assert!(error(t).is_rejected());
    }
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    c.stop();
}

#[test]
fn dropping_admit_kills_the_deferred_calls_only() {
    let c = tight("bp-admit-drop", FullLanePolicy::Wait);
    let gate = Gate::new();
    let blocker = block_worker(&c, &gate);
    let ran = Arc::new(AtomicUsize::new(0));
    let mut tokens: Vec<TaskToken<usize>> = Vec::new();
    c.run(|| {
        let admit = tokengate::admit(|| {
            for i in 0..6 {
                tokens.push(counted(&ran, i));
            }
        });
        assert_eq!(c.stats().tokens.waiting, 6, "2 in the lane, 4 deferred");
        drop(admit);
    });
    gate.open();
    value(blocker);
    let mut tokens = tokens.into_iter();
    for i in 0..2 {
        assert_eq!(
            value(tokens.next().unwrap()),
            i,
            "calls that got a slot still run"
        );
    }
    for t in tokens {
        let err = error(t);
        assert!(err.is_killed(), "{err}");
        assert!(err.to_string().contains("dropped"), "{err}");
    }
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    assert_eq!(c.stats().tokens.killed, 4);
    assert_eq!(c.live_tokens(), 0);
    c.stop();
}

#[task_token_guard(op = "fill_own_lane", weight = "light")]
fn fill_own_lane(n: u32) -> u32 {
    let children: Vec<TaskToken<u32>> = (0..n)
        .map(|i| Task::new("child").weight(Weight::Light).spawn(move || i))
        .collect();
    children.into_iter().map(|t| t.wait().unwrap()).sum()
}

#[test]
fn worker_blocked_on_a_full_lane_runs_queued_calls_itself() {
    // The only worker makes 20 calls into a lane of 2: it cannot wait for
    // another worker to make room, so it runs queued calls inline.
    let c = single_worker("bp-help")
        .mailbox_capacity(1)
        .lane_capacity(2)
        .start()
        .unwrap();
    assert_eq!(value(c.run(|| fill_own_lane(20))), (0..20).sum());
    assert_eq!(c.stats().tokens.completed, 21);
    c.stop();
}

/// A waker that records that it was woken.
struct WokenFlag(AtomicBool);

impl futures::task::ArcWake for WokenFlag {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_waiting_admit_is_woken_when_room_frees_even_if_another_was_polled_twice() {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::Context;

    // A lane of 1, already full; the only worker blocked.
    let c = single_worker("bp-admit-wakers")
        .mailbox_capacity(1)
        .lane_capacity(1)
        .start()
        .unwrap();
    let gate = Gate::new();
    let blocker = block_worker(&c, &gate);
    let ran = Arc::new(AtomicUsize::new(0));
    let _g = c.enter();
    let first = counted(&ran, 0);
    assert_eq!(first.state(), TokenState::Waiting);

    // Two async submitters, each deferred; the first is polled twice (as any
    // future in a `join!` or `select!` may be).
    let woken_a = Arc::new(WokenFlag(AtomicBool::new(false)));
    let woken_b = Arc::new(WokenFlag(AtomicBool::new(false)));
    let (waker_a, waker_b) = (
        futures::task::waker(woken_a.clone()),
        futures::task::waker(woken_b.clone()),
    );
    let mut a = tokengate::admit(|| counted(&ran, 1));
    let mut b = tokengate::admit(|| counted(&ran, 2));
    let mut cx_a = Context::from_waker(&waker_a);
    let mut cx_b = Context::from_waker(&waker_b);
    assert!(Pin::new(&mut a).poll(&mut cx_a).is_pending());
    assert!(Pin::new(&mut a).poll(&mut cx_a).is_pending());
    assert!(Pin::new(&mut b).poll(&mut cx_b).is_pending());

    // Free the worker: it takes `first` from the lane (one slot frees, `a` is
    // woken and queues its call), then takes `a`'s call (a slot frees again).
    gate.open();
    value(blocker);
    value(first);
    let token_a = loop {
        eventually("`a` is woken", || woken_a.0.swap(false, Ordering::SeqCst));
        if let std::task::Poll::Ready(t) = Pin::new(&mut a).poll(&mut cx_a) {
            break t;
        }
    };
    assert_eq!(value(token_a), 1);
    // The lane is empty now: `b` must have been told.
    eventually("`b` is woken once the lane has room", || {
        woken_b.0.load(Ordering::SeqCst)
    });
    let token_b = match Pin::new(&mut b).poll(&mut cx_b) {
        std::task::Poll::Ready(t) => t,
        std::task::Poll::Pending => panic!("`b` woken but still pending with an empty lane"),
    };
    assert_eq!(value(token_b), 2);
    drop(_g);
    c.stop();
}
