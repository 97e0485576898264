//! Guarded calls inside guarded calls, on a single worker: no deadlock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokengate::{TaskToken, task_token_guard};
use tokengate_tests::{single_worker, value, with_coordinator};

#[task_token_guard(op = "fan_out")]
fn fan_out(depth: u32, calls: Arc<AtomicUsize>) -> u64 {
    calls.fetch_add(1, Ordering::SeqCst);
    if depth == 0 {
        return 1;
    }
    let left = fan_out(depth - 1, calls.clone());
    let right = fan_out(depth - 1, calls.clone());
    left.wait().unwrap() + right.wait().unwrap()
}

#[test]
fn recursive_fan_out_completes_on_a_single_worker() {
    with_coordinator(single_worker("fan-out"), |c| {
        let calls = Arc::new(AtomicUsize::new(0));
        assert_eq!(value(fan_out(8, calls.clone())), 256);
        assert_eq!(calls.load(Ordering::SeqCst), 511);
        let s = c.stats().tokens;
        assert_eq!((s.submitted, s.completed), (511, 511));
    });
}

#[test]
fn recursive_fan_out_completes_with_a_full_mailbox_and_lane() {
    // Children find the worker's mailbox full and the lane full, so the worker
    // also runs queued calls inline while it waits for lane room.
    with_coordinator(
        single_worker("fan-out-tight")
            .mailbox_capacity(1)
            .lane_capacity(2),
        |_| {
            let calls = Arc::new(AtomicUsize::new(0));
            assert_eq!(value(fan_out(6, calls.clone())), 64);
            assert_eq!(calls.load(Ordering::SeqCst), 127);
        },
    );
}

#[task_token_guard(op = "leaf", weight = "light")]
fn leaf(x: u64) -> u64 {
    x * 10
}

#[task_token_guard(op = "sum_tokens")]
fn sum_tokens(tokens: Vec<TaskToken<u64>>) -> u64 {
    tokens.into_iter().map(|t| t.wait().unwrap()).sum()
}

#[task_token_guard(op = "gather")]
fn gather(n: u64) -> u64 {
    // Made on the only worker: the leaves and the summing call queue behind this
    // call, which waits for the summing call, which waits for the leaves.
    let leaves: Vec<TaskToken<u64>> = (0..n).map(leaf).collect();
    sum_tokens(leaves).wait().unwrap()
}

#[test]
fn tokens_passed_to_another_guarded_fn_are_waited_on_there() {
    with_coordinator(single_worker("token-args"), |_| {
        // From outside the coordinator.
        let leaves: Vec<TaskToken<u64>> = (0..10).map(leaf).collect();
        assert_eq!(value(sum_tokens(leaves)), 450);
        // From inside, where every call queues behind the one waiting.
        assert_eq!(value(gather(10)), 450);
    });
}

#[test]
fn waiting_inside_a_call_survives_a_pause_and_resume() {
    use std::sync::atomic::AtomicBool;
    use std::time::Instant;
    use tokengate::{Task, TokenState, Weight};
    use tokengate_tests::{Gate, PATIENCE, eventually};

    with_coordinator(single_worker("nested-pause"), |c| {
        let gate = Gate::new();
        let made = Arc::new(AtomicBool::new(false));
        let child_ran = Arc::new(AtomicBool::new(false));
        let (g, m, r) = (gate.clone(), made.clone(), child_ran.clone());
        let outer = Task::new("outer").spawn(move || {
            assert!(g.wait());
            // Admission is paused now: the child waits in its lane, and this
            // (the only) worker may not run it inline, so it blocks waiting.
            let mut child = Task::new("child").spawn(move || {
                r.store(true, Ordering::SeqCst);
                21
            });
            m.store(true, Ordering::SeqCst);
            let result = child.wait_timeout(PATIENCE).expect("the child finishes");
            (
                result.unwrap() * 2,
                child.started_at().expect("the child ran"),
            )
        });
        eventually("the outer call runs", || {
            outer.state() == TokenState::Executing
        });
        c.pause_admission();
        gate.open();
        eventually("the outer call made its child", || {
            made.load(Ordering::SeqCst)
        });
        // The child is held: waiting in its lane, not run.
        let s = c.stats();
        assert_eq!(s.op("child").unwrap().counts.waiting, 1, "{s}");
        assert_eq!(s.lane(Weight::Medium).depth, 1, "the child is in its lane");
        assert!(
            !child_ran.load(Ordering::SeqCst),
            "the child ran while paused"
        );
        let resumed_at = Instant::now();
        c.resume_admission();
        let (doubled, child_started) = value(outer);
        assert_eq!(doubled, 42, "the outer call never finished after resume");
        assert!(
            child_started >= resumed_at,
            "the child started before admission resumed"
        );
    });
}
