//! Kills, timeouts and cooperative cancellation.

use std::error::Error;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokengate::{Cancelled, Task, TaskToken, TokenState, task_token_guard};
use tokengate_tests::{
    Gate, PATIENCE, error, eventually, settle, single_worker, value, with_coordinator,
};

/// Occupies the only worker until `gate` opens.
fn block_worker(gate: &Arc<Gate>) -> TaskToken<()> {
    let g = gate.clone();
    let t = Task::new("blocker").spawn(move || assert!(g.wait()));
    eventually("the blocker runs", || t.state() == TokenState::Executing);
    t
}

fn flagged(flag: &Arc<AtomicBool>) -> TaskToken<()> {
    let flag = flag.clone();
    Task::new("flagged").spawn(move || flag.store(true, Ordering::SeqCst))
}

/// Sets its flag when dropped: tells a test that a body returned.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn killing_a_queued_call_means_it_never_runs() {
    // Mailbox of 2: one call runs, one waits in the mailbox, the rest in the lane.
    with_coordinator(single_worker("kill-queued").mailbox_capacity(2), |c| {
        let gate = Gate::new();
        let blocker = block_worker(&gate);
        let in_mailbox = Arc::new(AtomicBool::new(false));
        let in_lane = Arc::new(AtomicBool::new(false));
        let mut a = flagged(&in_mailbox);
        let mut w = flagged(&in_lane);
        assert_eq!(a.state(), TokenState::Admitted);
        assert_eq!(w.state(), TokenState::Waiting);
        assert!(a.kill());
        assert!(w.kill());
        assert!(!a.kill() && !w.kill(), "a second kill has no effect");
        for t in [&mut a, &mut w] {
            let err = settle(t).unwrap_err();
            assert!(err.is_killed(), "{err}");
            assert!(err.to_string().contains("killed by its token"), "{err}");
            assert_eq!(t.state(), TokenState::Killed);
        }
        assert!(
            !blocker.is_finished(),
            "killing queued calls resolved them without the worker"
        );
        gate.open();
        value(blocker);
        // The worker has passed the killed calls' queue entries by now.
        let after = Arc::new(AtomicBool::new(false));
        value(flagged(&after));
        assert!(after.load(Ordering::SeqCst));
        assert!(
            !in_mailbox.load(Ordering::SeqCst),
            "a killed call in the mailbox ran"
        );
        assert!(
            !in_lane.load(Ordering::SeqCst),
            "a killed call in the lane ran"
        );
        let s = c.stats().tokens;
        assert_eq!((s.completed, s.killed), (2, 2));
    });
}

#[test]
fn killing_a_running_call_resolves_it_at_once_and_drops_its_late_result() {
    with_coordinator(single_worker("kill-running"), |c| {
        let started = Arc::new(AtomicBool::new(false));
        let saw_cancel = Arc::new(AtomicBool::new(false));
        let release = Gate::new();
        let returned = Arc::new(AtomicBool::new(false));
        let (s, saw, rel, ret) = (
            started.clone(),
            saw_cancel.clone(),
            release.clone(),
            returned.clone(),
        );
        let mut t = Task::new("victim").spawn(move || {
            let _ret = SetOnDrop(ret);
            s.store(true, Ordering::SeqCst);
            let deadline = Instant::now() + PATIENCE;
            while !tokengate::is_cancelled() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            saw.store(tokengate::is_cancelled(), Ordering::SeqCst);
            // Keep running until the test has seen the token resolve.
            assert!(rel.wait());
            123u32
        });
        eventually("the call runs", || started.load(Ordering::SeqCst));
        assert!(t.kill());
        let err = settle(&mut t).unwrap_err();
        assert!(err.is_killed(), "{err}");
        assert!(
            !returned.load(Ordering::SeqCst),
            "the token resolved only after the body returned"
        );
        release.open();
        eventually("the body returns", || returned.load(Ordering::SeqCst));
        assert!(
            saw_cancel.load(Ordering::SeqCst),
            "is_cancelled() turned true inside"
        );
        // The late result was dropped: the token stays killed, nothing completed.
        assert_eq!(t.state(), TokenState::Killed);
        eventually("the body is no longer counted executing", || {
            c.stats().tokens.executing == 0
        });
        let s = c.stats().tokens;
        assert_eq!((s.completed, s.killed), (0, 1));
        // The worker goes on serving calls.
        assert_eq!(value(Task::new("next").spawn(|| 5)), 5);
    });
}

fn steps_until_cancelled(steps: &AtomicUsize) -> Result<u32, Box<dyn Error + Send + Sync>> {
    // Twice PATIENCE: were `checkpoint` broken, the test's own wait gives up first.
    let deadline = Instant::now() + 2 * PATIENCE;
    while Instant::now() < deadline {
        tokengate::checkpoint()?;
        steps.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(0)
}

/// What the body's `Result` was: `Ok(value)`, or `Err(is it a Cancelled?)`.
type Outcome = Arc<Mutex<Option<Result<u32, bool>>>>;

#[task_token_guard(op = "boxed_checkpoint")]
fn boxed_checkpoint(
    steps: Arc<AtomicUsize>,
    outcome: Outcome,
) -> Result<u32, Box<dyn Error + Send + Sync>> {
    let result = steps_until_cancelled(&steps);
    *outcome.lock().unwrap() = Some(
        result
            .as_ref()
            .map(|v| *v)
            .map_err(|e| e.downcast_ref::<Cancelled>().is_some()),
    );
    result
}

#[test]
fn checkpoint_stops_a_killed_call_through_a_boxed_error() {
    with_coordinator(single_worker("checkpoint-boxed"), |c| {
        let steps = Arc::new(AtomicUsize::new(0));
        let outcome: Outcome = Arc::default();
        let t = boxed_checkpoint(steps.clone(), outcome.clone());
        eventually("the call makes progress", || {
            steps.load(Ordering::SeqCst) > 0
        });
        assert!(c.kill_token(t.id()));
        let err = error(t);
        assert!(err.is_killed(), "{err}");
        assert!(err.to_string().contains("admin kill"), "{err}");
        eventually("the body returns through `?`", || {
            outcome.lock().unwrap().is_some()
        });
        let returned = outcome.lock().unwrap().take().unwrap();
        assert_eq!(
            returned,
            Err(true),
            "checkpoint()? returned early with `Cancelled`"
        );
        // Outside a guarded call nothing is ever cancelled.
        assert!(!tokengate::is_cancelled());
        assert_eq!(tokengate::checkpoint(), Ok(()));
    });
}

/// A guarded fn's own error type; `?` on `checkpoint()` needs `From<Cancelled>`.
#[derive(Debug)]
enum StepError {
    Cancelled(Cancelled),
}

impl From<Cancelled> for StepError {
    fn from(c: Cancelled) -> Self {
        StepError::Cancelled(c)
    }
}

impl std::fmt::Display for StepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepError::Cancelled(c) => write!(f, "step failed: {c}"),
        }
    }
}

#[task_token_guard(op = "own_error_checkpoint", timeout = "200ms")]
fn own_error_checkpoint(
    started: Arc<AtomicBool>,
    exited: Arc<AtomicBool>,
) -> Result<u32, StepError> {
    let _exit = SetOnDrop(exited);
    started.store(true, Ordering::SeqCst);
    // Twice PATIENCE: were `checkpoint` broken, the test's own wait gives up first.
    let deadline = Instant::now() + 2 * PATIENCE;
    while Instant::now() < deadline {
        tokengate::checkpoint()?;
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(1)
}

/// How many calls a test makes, at most, to see one time out while it runs: a
/// deadline runs from the call, so on a loaded machine a call may time out
/// before the worker starts it (then it never runs, and the test tries again).
const ATTEMPTS: usize = 10;

#[test]
fn checkpoint_stops_a_timed_out_call_through_its_own_error_type() {
    with_coordinator(single_worker("checkpoint-own"), |_| {
        let mut timed_out_running = false;
        for _ in 0..ATTEMPTS {
            let started = Arc::new(AtomicBool::new(false));
            let exited = Arc::new(AtomicBool::new(false));
            let mut t = own_error_checkpoint(started.clone(), exited.clone());
            let err = settle(&mut t).unwrap_err();
            assert!(err.is_timeout(), "{err}");
            assert_eq!(t.state(), TokenState::TimedOut);
            // The body returns early through `?` (it would otherwise loop for twice
            // PATIENCE), or never started; either way the call lets go of its
            // arguments.
            eventually("the body returns early through `?`", || {
                Arc::strong_count(&exited) == 1
            });
            if started.load(Ordering::SeqCst) {
                assert!(exited.load(Ordering::SeqCst));
                timed_out_running = true;
                break;
            }
        }
        assert!(
            timed_out_running,
            "none of {ATTEMPTS} calls started before its 200 ms timeout"
        );
    });
}

#[task_token_guard(op = "spin_until_cancelled", timeout = "300ms")]
fn spin_until_cancelled(started: Arc<AtomicBool>, saw_cancel: Arc<AtomicBool>) -> u32 {
    started.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + 2 * PATIENCE;
    while !tokengate::is_cancelled() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    saw_cancel.store(tokengate::is_cancelled(), Ordering::SeqCst);
    0
}

#[test]
fn timeout_resolves_a_running_call_as_timed_out() {
    with_coordinator(single_worker("timeout-running"), |c| {
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(
                attempts <= ATTEMPTS,
                "none of {ATTEMPTS} calls started before its 300 ms timeout"
            );
            let started = Arc::new(AtomicBool::new(false));
            let saw_cancel = Arc::new(AtomicBool::new(false));
            let mut t = spin_until_cancelled(started.clone(), saw_cancel.clone());
            let err = settle(&mut t).unwrap_err();
            assert!(err.is_timeout(), "{err}");
            assert!(!err.is_killed());
            assert!(err.to_string().contains("timed out after 300ms"), "{err}");
            assert_eq!(t.state(), TokenState::TimedOut);
            // Measured from the call: never before the deadline.
            assert!(t.finished_at().unwrap() - t.created_at() >= Duration::from_millis(300));
            // The body notices and returns (or never started).
            eventually("the call lets go of its arguments", || {
                Arc::strong_count(&saw_cancel) == 1
            });
            if started.load(Ordering::SeqCst) {
                assert!(
                    saw_cancel.load(Ordering::SeqCst),
                    "the body did not see it was cancelled"
                );
                break;
            }
        }
        assert_eq!(c.stats().tokens.timed_out, attempts as u64);
    });
}

#[test]
fn timeout_while_queued_resolves_without_running() {
    with_coordinator(single_worker("timeout-queued").mailbox_capacity(2), |c| {
        let gate = Gate::new();
        let blocker = block_worker(&gate);
        let ran_admitted = Arc::new(AtomicBool::new(false));
        let ran_waiting = Arc::new(AtomicBool::new(false));
        let quick = Task::new("quick").timeout(Duration::from_millis(30));
        let spawn_flagged = |flag: &Arc<AtomicBool>| {
            let flag = flag.clone();
            quick.spawn(move || flag.store(true, Ordering::SeqCst))
        };
        let admitted = spawn_flagged(&ran_admitted);
        let waiting = spawn_flagged(&ran_waiting);
        // (Already timed out only if this thread stalled for 30 ms.)
        assert!(matches!(
            admitted.state(),
            TokenState::Admitted | TokenState::TimedOut
        ));
        assert!(matches!(
            waiting.state(),
            TokenState::Waiting | TokenState::TimedOut
        ));
        for t in [admitted, waiting] {
            let err = error(t);
            assert!(err.is_timeout(), "{err}");
        }
        assert!(
            !blocker.is_finished(),
            "they timed out while the worker was still blocked"
        );
        gate.open();
        value(blocker);
        let after = Arc::new(AtomicBool::new(false));
        value(flagged(&after));
        assert!(!ran_admitted.load(Ordering::SeqCst) && !ran_waiting.load(Ordering::SeqCst));
        assert_eq!(c.stats().tokens.timed_out, 2);
    });
}

#[test]
fn a_finished_call_cannot_be_killed_or_timed_out() {
    with_coordinator(single_worker("kill-finished"), |c| {
        let timeout = Duration::from_millis(500);
        let mut t = Task::new("fast").timeout(timeout).spawn(|| 3);
        assert_eq!(settle(&mut t).unwrap(), 3);
        assert!(!t.kill());
        assert!(!c.kill_token(t.id()));
        // Let its deadline pass.
        let deadline = t.created_at() + timeout + Duration::from_millis(50);
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        assert_eq!(
            t.state(),
            TokenState::Completed,
            "a timeout after completion changes nothing"
        );
        let s = c.stats().tokens;
        assert_eq!((s.completed, s.killed, s.timed_out), (1, 0, 0));
    });
}
