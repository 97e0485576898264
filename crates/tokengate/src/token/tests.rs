//! The token layer on its own, with a stub owner that records what it is told.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use crate::TokenState::{self, *};
use crate::error::{KillReason, Reason};
use crate::{TaskToken, Weight};

/// Records transitions and returned bodies; holds nothing back.
#[derive(Default)]
struct Recorder {
    transitions: Mutex<Vec<(TokenState, TokenState, bool)>>,
    bodies_returned: AtomicUsize,
    held: AtomicBool,
    quick: AtomicBool,
}

/// The owner each test cell gets: a handle to its recorder.
#[derive(Clone)]
struct Stub(Arc<Recorder>);

impl Owner for Stub {
    fn observe(&self, _: &Header, from: TokenState, to: TokenState, _: u64, held_slot: bool) {
        self.0
            .transitions
            .lock()
            .unwrap()
            .push((from, to, held_slot));
    }
    fn body_returned(&self, _: &Header) {
        self.0.bodies_returned.fetch_add(1, Ordering::SeqCst);
    }
    fn admissible(&self) -> bool {
        !self.0.held.load(Ordering::SeqCst)
    }
    fn hold_back(&self, _: &JobRef) -> bool {
        self.0.held.load(Ordering::SeqCst)
    }
    fn dropped_waiting(&self, _: &JobRef) {}
    fn quick(&self) -> bool {
        self.0.quick.load(Ordering::SeqCst)
    }
    fn help(&self, _: &JobRef) -> bool {
        false
    }
    fn park(&self, timeout: Option<Duration>, _: u32) {
        std::thread::park_timeout(timeout.unwrap_or(Duration::from_millis(1)));
    }
    fn time_out_after(&self, _: &JobRef, _: Duration) {}
    fn retry_delay(&self, _: &Header, _: Cause) -> Option<Duration> {
        None
    }
    fn readmit_after(&self, _: JobRef, _: Duration) {}
    fn attempt_failed(&self, _: &Header, _: &str, _: bool) {}
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn cell<T, F>(f: F) -> (Arc<Recorder>, TaskToken<T>, JobRef)
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let recorder = Arc::new(Recorder::default());
    let header = Header::new(next_id(), "op", Weight::Medium, None);
    let cell = Cell::new(header, Some(Stub(recorder.clone())), f);
    let job: JobRef = cell.clone();
    (recorder, TaskToken::from_cell(cell), job)
}

fn transitions(recorder: &Recorder) -> Vec<(TokenState, TokenState, bool)> {
    recorder.transitions.lock().unwrap().clone()
}

/// Moves a fresh job to `Executing`, as admission and a worker would.
fn start(job: &JobRef) {
    for (from, to) in [
        (Created, Waiting),
        (Waiting, Admitted),
        (Admitted, Executing),
    ] {
        assert!(job.transition(from, to), "{from} -> {to}");
    }
}

#[test]
fn each_transition_is_reported_once_and_the_value_delivered() {
    let (recorder, token, job) = cell(|| 6 * 7);
    start(&job);
    job.run(&job);
    assert_eq!(token.wait().unwrap(), 42);
    assert_eq!(
        transitions(&recorder),
        [
            (Created, Waiting, false),
            (Waiting, Admitted, false),
            (Admitted, Executing, false),
            (Executing, Completed, false),
        ]
    );
}

#[test]
fn a_transition_from_the_wrong_state_does_nothing() {
    let (recorder, _token, job) = cell(|| ());
    assert!(!job.transition(Waiting, Admitted));
    assert!(job.transition(Created, Waiting));
    assert!(!job.transition(Created, Waiting), "only once");
    assert_eq!(transitions(&recorder).len(), 1);
}

#[test]
fn a_lane_slot_is_reported_when_the_token_leaves_waiting() {
    let (recorder, _token, job) = cell(|| ());
    assert!(job.transition(Created, Waiting));
    assert!(job.header().arm_lane_slot());
    assert!(kill(&*job, KillReason::Token));
    assert_eq!(transitions(&recorder)[1], (Waiting, Killed, true));
}

#[test]
fn a_queued_kill_resolves_at_once_and_the_body_never_runs() {
    let ran = Arc::new(AtomicBool::new(false));
    let (recorder, token, job) = {
        let ran = ran.clone();
        cell(move || ran.store(true, Ordering::SeqCst))
    };
    assert!(job.transition(Created, Waiting));
    assert!(kill(&*job, KillReason::Token));
    assert!(!kill(&*job, KillReason::Token), "a token is killed once");
    assert!(token.wait().unwrap_err().is_killed());
    // A worker that pops the stale entry loses the race and runs nothing.
    assert!(!job.transition(Waiting, Admitted));
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(recorder.bodies_returned.load(Ordering::SeqCst), 0);
}

#[test]
fn a_kill_while_running_drops_the_late_value_and_reports_the_body() {
    let (recorder, token, job) = cell(|| String::from("late"));
    start(&job);
    assert_eq!(job.terminate(Killed), Some(Executing));
    job.resolve_error(job.header().error(Reason::Killed(KillReason::Token)));
    job.run(&job);
    assert!(token.wait().unwrap_err().is_killed());
    assert_eq!(recorder.bodies_returned.load(Ordering::SeqCst), 1);
    assert_eq!(
        transitions(&recorder).last(),
        Some(&(Executing, Killed, false))
    );
}

#[test]
fn a_panic_is_the_tokens_error() {
    let (_, token, job) = cell(|| -> u8 { panic!("on purpose") });
    start(&job);
    crate::unwind::silenced(|| job.run(&job));
    assert_eq!(
        token.wait().unwrap_err().panic_message(),
        Some("on purpose")
    );
}

#[test]
// Real time: the waiting thread parks until another thread resolves it.
#[cfg_attr(miri, ignore)]
fn wait_blocks_until_another_thread_resolves_the_token() {
    let (_, mut token, job) = cell(|| 1u8);
    start(&job);
    assert!(token.wait_timeout(Duration::from_millis(5)).is_none());
    let runner = std::thread::spawn(move || job.run(&job));
    let deadline = Instant::now() + Duration::from_secs(20);
    let value = token.wait_timeout(deadline - Instant::now());
    runner.join().unwrap();
    assert_eq!(value.unwrap().unwrap(), 1);
}

#[test]
fn a_token_resolved_at_birth_has_no_owner() {
    let header = Header::new(next_id(), "op", Weight::Light, None);
    let cell = Cell::<u8, fn() -> u8, Stub>::failed(
        header,
        Reason::NoCoordinator {
            dropped_unused: false,
        },
    );
    let job: JobRef = cell.clone();
    assert!(job.owner().is_none());
    assert_eq!(job.header().state(), Killed);
    assert!(
        TaskToken::from_cell(cell)
            .wait()
            .unwrap_err()
            .is_no_coordinator()
    );
}

/// A second token view of the cell behind `token`, to read an outcome the
/// first one's owner (a dropped `KillOnDrop`) never will.
fn second_view<T: Send + 'static>(token: &TaskToken<T>) -> TaskToken<T> {
    TaskToken {
        cell: token.cell.clone(),
        polled: false,
    }
}

#[test]
fn a_dropped_kill_on_drop_kills_its_call_for_being_dropped() {
    let (_recorder, token, job) = cell(|| 1);
    assert!(job.transition(Created, Waiting));
    let view = second_view(&token);
    drop(token.kill_on_drop());
    let err = view.wait().unwrap_err();
    assert_eq!(err.kill_reason(), Some(KillReason::Dropped));
    assert!(
        err.to_string().contains("`KillOnDrop` was dropped"),
        "{err}"
    );
}

#[test]
fn an_attempt_settled_elsewhere_resolves_as_one_run_here() {
    let ran = Arc::new(AtomicBool::new(false));
    let (recorder, token, job) = {
        let ran = ran.clone();
        cell(move || -> u32 {
            ran.store(true, Ordering::SeqCst);
            0
        })
    };
    start(&job);
    assert!(job.take_body());
    assert!(!job.take_body(), "the body is taken once");
    job.settle_elsewhere(&job, Settled::Value(Box::new(42_u32)));
    assert_eq!(token.wait().unwrap(), 42);
    assert!(!ran.load(Ordering::SeqCst), "the local body never ran");
    assert_eq!(
        transitions(&recorder).last(),
        Some(&(Executing, Completed, false))
    );
}

#[test]
fn a_resolved_call_is_left_alone_by_its_kill_on_drop() {
    let (_recorder, token, job) = cell(|| 1);
    start(&job);
    job.run(&job);
    let view = second_view(&token);
    drop(token.kill_on_drop());
    assert_eq!(view.wait().unwrap(), 1);
}

/// A waker that counts its wake-ups.
struct Count(AtomicUsize);

impl std::task::Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn the_first_poll_of_a_quick_call_waits_a_moment_and_loses_no_wake_up() {
    use std::future::Future;
    use std::task::{Context, Poll};

    // Nobody finishes the call: the first poll gives up and registers.
    let (recorder, mut token, job) = cell(|| 7);
    recorder.quick.store(true, Ordering::SeqCst);
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = std::task::Waker::from(count.clone());
    start(&job);
    let mut cx = Context::from_waker(&waker);
    assert!(std::pin::Pin::new(&mut token).poll(&mut cx).is_pending());
    job.run(&job);
    assert_eq!(count.0.load(Ordering::SeqCst), 1, "the waiter is woken");
    assert!(matches!(
        std::pin::Pin::new(&mut token).poll(&mut cx),
        Poll::Ready(Ok(7))
    ));

    // Another thread finishes it while the first poll may be waiting: the
    // value comes either from that poll or after exactly one wake-up.
    for _ in 0..50 {
        let (recorder, mut token, job) = cell(|| 8);
        recorder.quick.store(true, Ordering::SeqCst);
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = std::task::Waker::from(count.clone());
        start(&job);
        let runner = std::thread::spawn(move || job.run(&job));
        let mut cx = Context::from_waker(&waker);
        match std::pin::Pin::new(&mut token).poll(&mut cx) {
            Poll::Ready(value) => assert_eq!(value.unwrap(), 8),
            Poll::Pending => {
                runner.join().unwrap();
                assert_eq!(count.0.load(Ordering::SeqCst), 1, "the waiter is woken");
                assert!(matches!(
                    std::pin::Pin::new(&mut token).poll(&mut cx),
                    Poll::Ready(Ok(8))
                ));
                continue;
            }
        }
        runner.join().unwrap();
    }
}

#[test]
fn watch_reports_a_resolved_call_and_wakes_once_for_a_pending_one() {
    let (_recorder, token, job) = cell(|| 1);
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = std::task::Waker::from(count.clone());
    start(&job);
    assert!(!token.watch(&waker), "pending: the waker is registered");
    job.run(&job);
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert!(token.watch(&waker), "resolved: nothing to register");
    assert_eq!(token.wait().unwrap(), 1, "watching took nothing");
}

#[test]
fn a_panic_or_a_failure_elsewhere_is_the_tokens_error() {
    let (_, token, job) = cell(|| 0_u8);
    start(&job);
    assert!(job.take_body());
    job.settle_elsewhere(&job, Settled::Panicked("far away".to_owned()));
    let err = token.wait().unwrap_err();
    assert_eq!(err.panic_message(), Some("far away"));
    assert_eq!(
        err.into_panic()
            .downcast_ref::<String>()
            .map(String::as_str),
        Some("far away")
    );

    let (recorder, token, job) = cell(|| 0_u8);
    start(&job);
    assert!(job.take_body());
    job.settle_elsewhere(&job, Settled::Failed(Reason::Process("no".to_owned())));
    assert!(token.wait().unwrap_err().is_process_failure());
    assert_eq!(
        transitions(&recorder).last(),
        Some(&(Executing, Failed, false))
    );

    // A value of another type is the owner's bug, reported as a failure.
    let (_, token, job) = cell(|| 0_u8);
    start(&job);
    assert!(job.take_body());
    job.settle_elsewhere(&job, Settled::Value(Box::new("text")));
    assert!(token.wait().unwrap_err().is_process_failure());
}

#[test]
fn an_outcome_from_elsewhere_after_a_kill_is_dropped_and_the_body_reported() {
    let (recorder, token, job) = cell(|| 0_u8);
    start(&job);
    assert!(job.take_body());
    assert!(kill(&*job, KillReason::Token));
    job.settle_elsewhere(&job, Settled::Value(Box::new(9_u8)));
    assert!(token.wait().unwrap_err().is_killed());
    assert_eq!(recorder.bodies_returned.load(Ordering::SeqCst), 1);

    // Killed between its move to `Executing` and the hand-over: nothing to
    // send, and its body counts as returned.
    let (recorder, token, job) = cell(|| 0_u8);
    start(&job);
    assert!(kill(&*job, KillReason::Token));
    assert!(!job.take_body());
    assert!(token.wait().unwrap_err().is_killed());
    assert_eq!(recorder.bodies_returned.load(Ordering::SeqCst), 1);
}
