//! Admin surface: pause / resume / drain globally and per operation, kill by id
//! and by operation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokengate::{OperationsCoordinator, Task, TaskToken, TokenState, Weight};
use tokengate_tests::{
    Gate, Log, PATIENCE, builder, error, eventually, settle, single_worker, value, with_coordinator,
};

/// Occupies the only worker until `gate` opens.
fn block_worker(gate: &Arc<Gate>) -> TaskToken<()> {
    let g = gate.clone();
    let t = Task::new("blocker").spawn(move || assert!(g.wait()));
    eventually("the blocker runs", || t.state() == TokenState::Executing);
    t
}

/// A call of `op` that logs `i` when it runs and returns it.
fn logged(op: &'static str, log: &Arc<Log<usize>>, i: usize) -> TaskToken<usize> {
    let log = log.clone();
    Task::new(op).spawn(move || {
        log.push(i);
        i
    })
}

#[test]
fn pause_admission_holds_new_calls_waiting() {
    with_coordinator(builder("pause").core_groups(1).workers_per_core(2), |c| {
        c.pause_admission();
        assert!(c.is_paused());
        assert!(c.stats().paused);
        let log: Arc<Log<usize>> = Log::new();
        let tokens: Vec<TaskToken<usize>> = (0..10).map(|i| logged("paused", &log, i)).collect();
        // Two idle workers, yet nothing starts.
        std::thread::sleep(Duration::from_millis(50));
        assert!(log.is_empty(), "a call ran while admission was paused");
        assert!(tokens.iter().all(|t| t.state() == TokenState::Waiting));
        let s = c.stats();
        assert_eq!(s.tokens.waiting, 10);
        assert_eq!(s.lane(Weight::Medium).depth, 10);
        assert_eq!(s.in_flight, 10);

        c.resume_admission();
        assert!(!c.is_paused());
        assert!(!c.stats().paused);
        for (i, t) in tokens.into_iter().enumerate() {
            assert_eq!(value(t), i);
        }
        assert_eq!(log.len(), 10);
    });
}

#[test]
fn resume_admission_releases_held_calls_in_call_order() {
    with_coordinator(single_worker("resume-order"), |c| {
        c.pause_admission();
        let log: Arc<Log<usize>> = Log::new();
        let tokens: Vec<TaskToken<usize>> = (0..50).map(|i| logged("ordered", &log, i)).collect();
        c.resume_admission();
        tokens.into_iter().for_each(|t| {
            value(t);
        });
        assert_eq!(log.items(), (0..50).collect::<Vec<_>>());
    });
}

#[test]
fn drain_pool_kills_waiting_calls_but_not_running_ones() {
    with_coordinator(single_worker("drain").mailbox_capacity(1), |c| {
        let gate = Gate::new();
        let blocker = block_worker(&gate);
        let log: Arc<Log<usize>> = Log::new();
        let waiting: Vec<TaskToken<usize>> = (0..4).map(|i| logged("drained", &log, i)).collect();
        assert!(waiting.iter().all(|t| t.state() == TokenState::Waiting));
        // Calls held by a pause of their operation are waiting too.
        c.pause_operation("held");
        let held: Vec<TaskToken<usize>> = (10..12).map(|i| logged("held", &log, i)).collect();

        assert_eq!(c.drain_pool(), 6);
        assert_eq!(c.drain_pool(), 0, "nothing left to drain");
        for t in waiting.into_iter().chain(held) {
            let err = error(t);
            assert!(err.is_killed(), "{err}");
            assert!(err.to_string().contains("drain"), "{err}");
        }
        assert_eq!(
            blocker.state(),
            TokenState::Executing,
            "the running call was not drained"
        );
        gate.open();
        value(blocker);
        assert_eq!(
            c.resume_operation("held"),
            0,
            "the drain emptied the hold queue"
        );
        value(logged("after", &log, 99));
        assert_eq!(log.items(), [99], "a drained call ran");
        let s = c.stats();
        assert_eq!((s.tokens.completed, s.tokens.killed), (2, 6));
        assert_eq!(
            s.lane(Weight::Medium).depth,
            0,
            "drained calls gave their lane slots back"
        );
    });
}

#[test]
fn pause_operation_holds_only_that_operation() {
    with_coordinator(
        builder("pause-op").core_groups(1).workers_per_core(2),
        |c| {
            c.pause_operation("paused_op");
            let log: Arc<Log<usize>> = Log::new();
            let paused: Vec<TaskToken<usize>> =
                (0..5).map(|i| logged("paused_op", &log, i)).collect();
            let free: Vec<TaskToken<usize>> =
                (100..105).map(|i| logged("free_op", &log, i)).collect();
            for t in free {
                value(t);
            }
            assert!(paused.iter().all(|t| t.state() == TokenState::Waiting));
            let s = c.stats();
            let op = s.op("paused_op").expect("stats for the paused op");
            assert!(op.paused);
            assert_eq!(op.held, 5);
            assert_eq!(op.counts.waiting, 5);
            let free_op = s.op("free_op").unwrap();
            assert!(!free_op.paused);
            assert_eq!(free_op.counts.completed, 5);
            assert!(!s.paused, "a per-operation pause is not a global one");

            assert_eq!(c.resume_operation("paused_op"), 5);
            for (i, t) in paused.into_iter().enumerate() {
                assert_eq!(value(t), i);
            }
            assert!(!c.stats().op("paused_op").unwrap().paused);
            assert_eq!(c.resume_operation("paused_op"), 0);
        },
    );
}

#[test]
fn resume_operation_releases_held_calls_in_call_order() {
    with_coordinator(single_worker("resume-op-order"), |c| {
        c.pause_operation("ordered_op");
        let log: Arc<Log<usize>> = Log::new();
        let tokens: Vec<TaskToken<usize>> =
            (0..30).map(|i| logged("ordered_op", &log, i)).collect();
        assert_eq!(c.resume_operation("ordered_op"), 30);
        tokens.into_iter().for_each(|t| {
            value(t);
        });
        assert_eq!(log.items(), (0..30).collect::<Vec<_>>());
    });
}

/// Pauses `op` on `c` (a single worker), makes three calls of it and kills
/// the middle one while it is held.
fn three_held_one_killed(c: &OperationsCoordinator) -> (Vec<TaskToken<usize>>, Arc<Log<usize>>) {
    c.pause_operation("op");
    let log: Arc<Log<usize>> = Log::new();
    let mut tokens: Vec<TaskToken<usize>> = (0..3).map(|i| logged("op", &log, i)).collect();
    assert!(tokens[1].kill());
    assert!(settle(&mut tokens[1]).unwrap_err().is_killed());
    (tokens, log)
}

#[test]
fn op_stats_held_does_not_count_killed_calls() {
    with_coordinator(single_worker("held-killed"), |c| {
        let (tokens, log) = three_held_one_killed(c);
        let op = c.stats().op("op").unwrap().clone();
        assert_eq!(op.counts.waiting, 2);
        assert_eq!(op.held, 2, "OpStats::held counts a killed call");
        c.resume_operation("op");
        let mut tokens = tokens.into_iter();
        assert_eq!(value(tokens.next().unwrap()), 0);
        assert_eq!(value(tokens.nth(1).unwrap()), 2);
        assert_eq!(log.items(), [0, 2]);
    });
}

#[test]
fn resume_operation_does_not_count_killed_calls() {
    with_coordinator(single_worker("resume-killed"), |c| {
        let (tokens, log) = three_held_one_killed(c);
        assert_eq!(
            c.resume_operation("op"),
            2,
            "resume_operation counts a killed call as released"
        );
        let mut tokens = tokens.into_iter();
        assert_eq!(value(tokens.next().unwrap()), 0);
        assert_eq!(value(tokens.nth(1).unwrap()), 2);
        assert_eq!(log.items(), [0, 2]);
    });
}

#[test]
fn drain_operation_kills_only_that_operations_waiting_calls() {
    with_coordinator(single_worker("drain-op").mailbox_capacity(1), |c| {
        let gate = Gate::new();
        let blocker = block_worker(&gate);
        let log: Arc<Log<usize>> = Log::new();
        let doomed: Vec<TaskToken<usize>> = (0..3).map(|i| logged("doomed", &log, i)).collect();
        let spared: Vec<TaskToken<usize>> = (10..12).map(|i| logged("spared", &log, i)).collect();
        c.pause_operation("doomed_held");
        let held: Vec<TaskToken<usize>> =
            (20..22).map(|i| logged("doomed_held", &log, i)).collect();

        assert_eq!(c.drain_operation("doomed"), 3);
        assert_eq!(c.drain_operation("doomed_held"), 2);
        assert_eq!(c.drain_operation("no_such_op"), 0);
        for t in doomed.into_iter().chain(held) {
            assert!(error(t).is_killed());
        }
        gate.open();
        value(blocker);
        for (t, i) in spared.into_iter().zip(10..) {
            assert_eq!(value(t), i);
        }
        assert_eq!(log.items(), [10, 11]);
        let s = c.stats();
        assert_eq!(s.op("doomed").unwrap().counts.killed, 3);
        assert_eq!(s.op("spared").unwrap().counts.completed, 2);
    });
}

#[test]
fn kill_token_kills_a_live_token_by_id() {
    // `c` is entered last: the calls go to it.
    with_coordinator(single_worker("kill-id-other"), |other| {
        with_coordinator(single_worker("kill-id"), |c| {
            let cancelled = Arc::new(AtomicBool::new(false));
            let queued_ran = Arc::new(AtomicBool::new(false));
            let seen = cancelled.clone();
            let running = Task::new("victim").spawn(move || {
                let deadline = Instant::now() + PATIENCE;
                while !tokengate::is_cancelled() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(1));
                }
                seen.store(tokengate::is_cancelled(), Ordering::SeqCst);
            });
            eventually("the victim runs", || {
                running.state() == TokenState::Executing
            });
            let ran = queued_ran.clone();
            let queued = Task::new("victim").spawn(move || ran.store(true, Ordering::SeqCst));

            assert!(
                !other.kill_token(queued.id()),
                "another coordinator does not know the id"
            );
            assert!(!c.kill_token(u64::MAX.into()), "an unknown id");
            let (running_id, queued_id) = (running.id(), queued.id());
            assert!(c.kill_token(queued_id));
            assert!(c.kill_token(running_id));
            assert!(!c.kill_token(running_id), "already killed");
            for t in [running, queued] {
                let err = error(t);
                assert!(err.is_killed(), "{err}");
                assert!(err.to_string().contains("admin kill"), "{err}");
            }
            eventually("the running body sees the kill", || {
                cancelled.load(Ordering::SeqCst)
            });
            let done = Task::new("done").spawn(|| ());
            let done_id = done.id();
            value(done);
            assert!(
                !c.kill_token(done_id),
                "a finished token is gone from the registry"
            );
            assert!(!queued_ran.load(Ordering::SeqCst));
        })
    });
}

#[test]
fn kill_all_by_operation_kills_its_queued_and_running_calls() {
    with_coordinator(single_worker("kill-op").mailbox_capacity(2), |c| {
        let body_exits = Arc::new(AtomicUsize::new(0));
        let queued_runs = Arc::new(AtomicUsize::new(0));
        let exits = body_exits.clone();
        let running = Task::new("victim").spawn(move || {
            let deadline = Instant::now() + PATIENCE;
            while !tokengate::is_cancelled() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            exits.fetch_add(1, Ordering::SeqCst);
        });
        eventually("the victim runs", || {
            running.state() == TokenState::Executing
        });
        // One in the mailbox, two in the lane; and bystanders of another op.
        let queued: Vec<TaskToken<()>> = (0..3)
            .map(|_| {
                let runs = queued_runs.clone();
                Task::new("victim").spawn(move || {
                    runs.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        assert_eq!(queued[0].state(), TokenState::Admitted);
        assert_eq!(queued[1].state(), TokenState::Waiting);
        let bystanders: Vec<TaskToken<u32>> = (0..2)
            .map(|i| Task::new("bystander").spawn(move || i))
            .collect();

        assert_eq!(c.kill_all_by_operation("victim"), 4);
        assert_eq!(c.kill_all_by_operation("victim"), 0);
        assert_eq!(c.kill_all_by_operation("no_such_op"), 0);
        for t in std::iter::once(running).chain(queued) {
            let err = error(t);
            assert!(err.is_killed(), "{err}");
            assert!(err.to_string().contains("whole operation"), "{err}");
        }
        for (t, i) in bystanders.into_iter().zip(0..) {
            assert_eq!(value(t), i);
        }
        assert_eq!(body_exits.load(Ordering::SeqCst), 1);
        assert_eq!(queued_runs.load(Ordering::SeqCst), 0);
        assert_eq!(c.stats().op("victim").unwrap().counts.killed, 4);
    });
}

#[test]
fn drain_pool_kills_calls_waiting_in_line() {
    // A lane of 2 and a blocked single worker: the 3rd call on waits in line.
    with_coordinator(
        single_worker("drain-deferred")
            .mailbox_capacity(1)
            .lane_capacity(2),
        |c| {
            let gate = Gate::new();
            let blocker = block_worker(&gate);
            let log: Arc<Log<usize>> = Log::new();
            let tokens: Vec<TaskToken<usize>> =
                (0..5).map(|i| logged("in_line", &log, i)).collect();
            assert_eq!(c.stats().tokens.waiting, 5, "all five calls are waiting");
            assert_eq!(c.stats().lane(tokengate::Weight::Medium).in_line, 3);
            assert_eq!(c.drain_pool(), 5, "drain_pool left the calls in line alive");
            gate.open();
            value(blocker);
            for t in tokens {
                assert!(error(t).is_killed());
            }
            assert!(log.is_empty());
        },
    );
}
