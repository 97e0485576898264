//! Full lanes: a call never blocks its caller; beyond a lane's capacity calls
//! wait in line, in call order, and enter as room frees; dropping a token in
//! line waits until the call entered its lane; `Reject` rejects.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokengate::{
    CoordinatorBuilder, FullLanePolicy, Task, TaskToken, TokenState, Weight, task_token_guard,
};
use tokengate_tests::{
    Gate, Log, block_on, error, eventually, single_worker, value, with_coordinator,
};

/// One worker whose mailbox holds only the call it runs, and a lane of 2.
fn tight(name: &str, policy: FullLanePolicy) -> CoordinatorBuilder {
    single_worker(name)
        .mailbox_capacity(1)
        .lane_capacity(2)
        .full_lane_policy(policy)
}

/// Occupies the only worker until `gate` opens.
fn block_worker(gate: &Arc<Gate>) -> TaskToken<()> {
    let g = gate.clone();
    let t = Task::new("blocker").spawn(move || assert!(g.wait()));
    eventually("the blocker runs", || t.state() == TokenState::Executing);
    t
}

/// A medium call that logs `i` when it runs.
fn logged(log: &Arc<Log<usize>>, i: usize) -> TaskToken<usize> {
    let log = log.clone();
    Task::new("logged").spawn(move || {
        log.push(i);
        i
    })
}

#[test]
fn calls_to_a_full_lane_return_at_once_wait_in_line_and_run_in_call_order() {
    with_coordinator(tight("bp-line", FullLanePolicy::Wait), |c| {
        let gate = Gate::new();
        let blocker = block_worker(&gate);
        let log = Log::new();
        // The caller is never blocked: 10 calls into a lane of 2 all return.
        let tokens: Vec<_> = (0..10).map(|i| logged(&log, i)).collect();
        let lane = c.stats().lane(Weight::Medium).clone();
        assert_eq!((lane.depth, lane.in_line), (2, 8));
        assert!(tokens.iter().all(|t| t.state() == TokenState::Waiting));
        gate.open();
        value(blocker);
        let values: Vec<usize> = tokens.into_iter().map(value).collect();
        assert_eq!(values, (0..10).collect::<Vec<_>>());
        assert_eq!(log.items(), (0..10).collect::<Vec<_>>(), "call order");
        let lane = c.stats().lane(Weight::Medium).clone();
        assert_eq!((lane.depth, lane.in_line), (0, 0));
    });
}

#[test]
fn a_call_made_on_an_async_executor_thread_never_blocks_it() {
    with_coordinator(tight("bp-async", FullLanePolicy::Wait), |_| {
        let gate = Gate::new();
        let blocker = block_worker(&gate);
        let log = Log::new();
        let order = Log::new();
        block_on(async {
            // One executor thread: if making these calls blocked it, the task
            // that frees the worker would never run and this would not finish.
            let tokens: Vec<_> = (0..6).map(|i| logged(&log, i)).collect();
            order.push("calls made");
            let opener = {
                let gate = gate.clone();
                let order = order.clone();
                async move {
                    order.push("opener ran");
                    gate.open();
                }
            };
            let (results, ()) = futures::join!(futures::future::join_all(tokens), opener);
            assert!(results.iter().all(Result::is_ok));
        });
        assert_eq!(order.items(), ["calls made", "opener ran"]);
        value(blocker);
        assert_eq!(log.items(), (0..6).collect::<Vec<_>>());
    });
}

#[test]
fn dropping_a_token_in_line_returns_once_the_call_entered_its_lane_and_it_still_runs() {
    // A lane of one: `first` takes the slot, `second` waits in line.
    with_coordinator(
        single_worker("bp-drop")
            .mailbox_capacity(1)
            .lane_capacity(1),
        |c| {
            let gate = Gate::new();
            let blocker = block_worker(&gate);
            let log = Log::new();
            let first = logged(&log, 1);
            let second = logged(&log, 2);
            assert_eq!(c.stats().lane(Weight::Medium).in_line, 1);
            let dropper = std::thread::spawn(move || {
                drop(second);
                Instant::now()
            });
            gate.open();
            let returned = dropper.join().unwrap();
            value(blocker);
            let first_left_the_lane = first.admitted_at();
            assert_eq!(value(first), 1);
            let first_left_the_lane = first_left_the_lane.expect("the first call was admitted");
            // The second call entered the lane when the first left it; only then
            // could the drop return.
            assert!(
                returned >= first_left_the_lane,
                "the drop returned before the call left its line"
            );
            eventually("the detached call ran", || log.len() == 2);
            assert_eq!(log.items(), [1, 2]);
        },
    );
}

#[test]
fn a_call_in_line_can_be_killed_time_out_or_be_drained_and_never_runs() {
    with_coordinator(tight("bp-line-ends", FullLanePolicy::Wait), |c| {
        let gate = Gate::new();
        let blocker = block_worker(&gate);
        let log = Log::new();
        let queued: Vec<_> = (0..2).map(|i| logged(&log, i)).collect();
        let killed = logged(&log, 10);
        let timed = {
            let log = log.clone();
            Task::new("timed")
                .timeout(Duration::from_millis(10))
                .spawn(move || log.push(11))
        };
        let drained = {
            let log = log.clone();
            Task::new("drained").spawn(move || log.push(12))
        };
        let last = logged(&log, 3);
        assert_eq!(c.stats().lane(Weight::Medium).in_line, 4);
        assert!(killed.kill());
        assert!(error(timed).is_timeout());
        assert_eq!(c.drain_operation("drained"), 1);
        assert!(error(drained).is_killed());
        assert!(error(killed).is_killed());
        gate.open();
        value(blocker);
        for t in queued {
            value(t);
        }
        assert_eq!(value(last), 3, "the call behind them still got in");
        assert_eq!(log.items(), [0, 1, 3]);
    });
}

#[test]
fn full_lane_rejects_with_the_reject_policy() {
    with_coordinator(tight("bp-reject", FullLanePolicy::Reject), |c| {
        let gate = Gate::new();
        let blocker = block_worker(&gate);
        let ran = Arc::new(AtomicUsize::new(0));
        let tokens: Vec<_> = (0..5)
            .map(|i| {
                let ran = ran.clone();
                Task::new("rejected").spawn(move || {
                    ran.fetch_add(1, Ordering::SeqCst);
                    i
                })
            })
            .collect();
        let mut rejected = 0;
        for t in tokens.iter().skip(2) {
            assert_eq!(t.state(), TokenState::Killed);
        }
        gate.open();
        value(blocker);
        for t in tokens {
            match t.wait() {
                Ok(_) => {}
                Err(e) => {
                    assert!(e.is_rejected(), "{e}");
                    assert!(e.to_string().contains("lane is full"), "{e}");
                    rejected += 1;
                }
            }
        }
        assert_eq!(rejected, 3);
        assert_eq!(ran.load(Ordering::SeqCst), 2);
        assert_eq!(c.stats().lane(Weight::Medium).in_line, 0);
    });
}

#[test]
fn reject_bounds_what_waits_in_mailboxes_too() {
    // Roomy mailboxes (the default 64) and a lane of 3: the busy worker's
    // mailbox could take every call, but under Reject only 3 may wait.
    let builder = single_worker("bp-reject-mailbox")
        .lane_capacity(3)
        .full_lane_policy(FullLanePolicy::Reject);
    with_coordinator(builder, |c| {
        let gate = Gate::new();
        let blocker = block_worker(&gate);
        let tokens: Vec<_> = (0..10)
            .map(|i| Task::new("bounded").spawn(move || i))
            .collect();
        let refused = tokens
            .iter()
            .filter(|t| t.state() == TokenState::Killed)
            .count();
        assert_eq!(refused, 7, "3 of 10 may wait behind the busy worker");
        assert_eq!(c.stats().lane(Weight::Medium).depth, 3);
        gate.open();
        value(blocker);
        let ran: Vec<usize> = tokens.into_iter().filter_map(|t| t.wait().ok()).collect();
        assert_eq!(ran, [0, 1, 2]);
        // Every slot came back with the claims: the lane takes 3 again.
        eventually("the lane empties", || {
            c.stats().lane(Weight::Medium).depth == 0
        });
        let again: Vec<_> = (0..3)
            .map(|i| Task::new("bounded").spawn(move || i))
            .collect();
        assert!(again.into_iter().all(|t| t.wait().is_ok()));
    });
}

#[task_token_guard(op = "fill_own_lane", weight = "light")]
fn fill_own_lane(n: u32) -> u32 {
    let children: Vec<TaskToken<u32>> = (0..n)
        .map(|i| Task::new("child").weight(Weight::Light).spawn(move || i))
        .collect();
    children.into_iter().map(|t| t.wait().unwrap()).sum()
}

#[test]
fn a_worker_waiting_on_calls_in_line_runs_them_itself() {
    // The only worker makes 20 calls into a lane of 2: no other worker can
    // make room, so it runs the queued and waiting calls inline.
    with_coordinator(
        single_worker("bp-help")
            .mailbox_capacity(1)
            .lane_capacity(2),
        |c| {
            assert_eq!(value(fill_own_lane(20)), (0..20).sum::<u32>());
            assert_eq!(c.stats().tokens.completed, 21);
        },
    );
}

#[task_token_guard(op = "drop_own_calls", weight = "light")]
fn drop_own_calls(n: usize, done: Arc<AtomicUsize>) -> usize {
    for _ in 0..n {
        let done = done.clone();
        let _detached = Task::new("detached").weight(Weight::Light).spawn(move || {
            done.fetch_add(1, Ordering::SeqCst);
        });
    }
    n
}

#[test]
fn a_worker_dropping_calls_in_line_runs_calls_of_the_lane_instead_of_deadlocking() {
    // The only worker detaches 20 calls into a lane of 2: each drop of a call
    // in line waits for it to enter the lane, which only this worker can make
    // happen, by running queued calls itself.
    with_coordinator(
        single_worker("bp-drop-help")
            .mailbox_capacity(1)
            .lane_capacity(2),
        |_| {
            let done = Arc::new(AtomicUsize::new(0));
            assert_eq!(value(drop_own_calls(20, done.clone())), 20);
            eventually("every detached call ran", || {
                done.load(Ordering::SeqCst) == 20
            });
        },
    );
}

#[test]
fn stop_resolves_calls_in_line_with_a_shutdown_error() {
    // A short stop timeout: the blocked call is resolved by it, not waited for.
    let c = single_worker("bp-stop")
        .mailbox_capacity(1)
        .lane_capacity(2)
        .stop_timeout(Duration::from_millis(50))
        .start()
        .unwrap();
    let gate = Gate::new();
    let blocker = c.run(|| block_worker(&gate));
    let log = Log::new();
    let tokens: Vec<_> = c.run(|| (0..5).map(|i| logged(&log, i)).collect());
    assert_eq!(c.stats().lane(Weight::Medium).in_line, 3);
    c.stop();
    gate.open();
    assert!(error(blocker).is_shutdown());
    for t in tokens {
        assert!(error(t).is_shutdown());
    }
    assert!(log.is_empty());
}
