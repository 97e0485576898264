//! loom models of the token cell: the real `Cell`, `Header` and `StateCell`,
//! with a stub owner, over every interleaving of the threads that race on one
//! token (run with `RUSTFLAGS="--cfg loom"`, see `.ci/run`).

use std::any::Any;
use std::sync::Arc as StdArc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use ::loom::sync::Arc;
use ::loom::sync::atomic::AtomicUsize;
use ::loom::thread;

use super::*;
use crate::TokenState::{self, *};
use crate::Weight;
use crate::error::KillReason;

/// Counts what a token tells its owner.
#[derive(Default)]
struct Counts {
    terminal: AtomicUsize,
    bodies_returned: AtomicUsize,
    /// Retries the owner still grants, and the calls it was handed back.
    retry_budget: AtomicUsize,
    readmits: AtomicUsize,
}

struct Stub(Arc<Counts>);

impl Owner for Stub {
    fn observe(&self, _: &Header, _: TokenState, to: TokenState, _: u64, _: bool) {
        if to.is_terminal() {
            self.0.terminal.fetch_add(1, SeqCst);
        }
    }
    fn body_returned(&self, _: &Header) {
        self.0.bodies_returned.fetch_add(1, SeqCst);
    }
    fn admissible(&self) -> bool {
        true
    }
    fn hold_back(&self, _: &JobRef) -> bool {
        false
    }
    fn dropped_waiting(&self, _: &JobRef) {}
    fn help(&self, _: &JobRef) -> bool {
        false
    }
    fn park(&self, _: Option<Duration>, _: u32) {}
    fn time_out_after(&self, _: &JobRef, _: Duration) {}
    fn retry_delay(&self, _: &Header, _: Cause) -> Option<Duration> {
        let budget = &self.0.retry_budget;
        let left = budget.load(SeqCst);
        (left > 0
            && budget
                .compare_exchange(left, left - 1, SeqCst, SeqCst)
                .is_ok())
        .then_some(Duration::ZERO)
    }
    fn readmit_after(&self, _: JobRef, _: Duration) {
        self.0.readmits.fetch_add(1, SeqCst);
    }
    fn attempt_failed(&self, _: &Header, _: &str, _: bool) {}
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A queued token whose body counts its runs in `runs`.
fn queued(counts: &Arc<Counts>, runs: &Arc<AtomicUsize>) -> (StdArc<dyn Completion<u8>>, JobRef) {
    let runs = runs.clone();
    let header = Header::new(next_id(), "op", Weight::Medium, None);
    let cell = Cell::new(header, Some(Stub(counts.clone())), move || {
        runs.fetch_add(1, SeqCst);
        7u8
    });
    let job: JobRef = cell.clone();
    assert!(job.transition(Created, Waiting));
    (cell, job)
}

/// The result a resolved token holds, taken once.
fn result(cell: &StdArc<dyn Completion<u8>>) -> Result<u8, crate::TaskError> {
    match cell.poll_result(&futures_waker()) {
        std::task::Poll::Ready(result) => result,
        std::task::Poll::Pending => panic!("the token is not resolved"),
    }
}

fn futures_waker() -> std::task::Waker {
    std::task::Waker::noop().clone()
}

/// A kill races a worker that claims the queued call and runs it: the body
/// runs at most once, the token reaches exactly one terminal state, its owner
/// hears of it once, and a body killed while it ran is reported as returned.
#[test]
fn a_kill_racing_a_claim_resolves_the_token_once() {
    ::loom::model(|| {
        let counts = Arc::new(Counts::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let (cell, job) = queued(&counts, &runs);
        let worker = {
            let job = job.clone();
            thread::spawn(move || {
                if job.transition(Waiting, Admitted) && job.transition(Admitted, Executing) {
                    job.run(&job);
                }
            })
        };
        let left = job.terminate(Killed);
        if left.is_some() {
            job.resolve_error(
                job.header()
                    .error(crate::error::Reason::Killed(KillReason::Token)),
            );
        }
        worker.join().unwrap();

        assert_eq!(counts.terminal.load(SeqCst), 1);
        let runs = runs.load(SeqCst);
        assert!(runs <= 1);
        match result(&cell) {
            Ok(value) => {
                assert!(left.is_none());
                assert_eq!((value, runs), (7, 1));
            }
            Err(err) => {
                assert!(err.is_killed());
                // Killed while queued: never ran, nothing to report. Killed
                // once `Executing` (before or after the body took its closure):
                // the body's return is reported, once.
                let from_executing = usize::from(left == Some(Executing));
                assert_eq!(counts.bodies_returned.load(SeqCst), from_executing);
                assert!(runs <= from_executing);
            }
        }
    });
}

/// A kill races the running call's completion: exactly one of the value and
/// the kill wins, the owner hears of exactly one terminal state, and of the
/// body's return exactly when the kill won.
#[test]
fn a_kill_racing_completion_resolves_the_token_once() {
    ::loom::model(|| {
        let counts = Arc::new(Counts::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let (cell, job) = queued(&counts, &runs);
        assert!(job.transition(Waiting, Admitted) && job.transition(Admitted, Executing));
        let worker = {
            let job = job.clone();
            thread::spawn(move || job.run(&job))
        };
        let killed = kill(&*job, KillReason::Token);
        worker.join().unwrap();

        // A kill that lands before the body takes its closure ends it
        // unstarted; either way the body is reported as returned.
        assert!(runs.load(SeqCst) <= 1);
        assert_eq!(counts.terminal.load(SeqCst), 1);
        let returned = counts.bodies_returned.load(SeqCst);
        match result(&cell) {
            Ok(7) => assert!(!killed && returned == 0 && runs.load(SeqCst) == 1),
            Err(err) => assert!(killed && err.is_killed() && returned == 1),
            Ok(other) => panic!("unexpected value {other}"),
        }
    });
}

/// A kill races a failed attempt that is being retried: the attempt puts a
/// fresh body in place and moves `Executing → Waiting` while the kill moves
/// the call to `Killed`. Whichever wins, the token resolves once, as killed;
/// the call is handed back for another attempt only if the retry won (and
/// then the kill reached it in `Waiting`, with no body running), and a body
/// cut off by the kill while running is reported as returned.
#[test]
fn a_kill_racing_a_retry_resolves_the_token_once() {
    ::loom::model(|| {
        let counts = Arc::new(Counts::default());
        counts.retry_budget.store(1, SeqCst);
        let header = Header::new(next_id(), "op", Weight::Medium, None);
        let again = Again {
            make: Box::new(|| || 7u8),
            // Every value is a failure: the call never completes.
            is_err: Some(|_: &u8| true),
        };
        let cell = Cell::with_body(header, Some(Stub(counts.clone())), Body::Again(again));
        let job: JobRef = cell.clone();
        assert!(job.transition(Created, Waiting));
        assert!(job.transition(Waiting, Admitted) && job.transition(Admitted, Executing));
        let cell: StdArc<dyn Completion<u8>> = cell;
        let worker = {
            let job = job.clone();
            thread::spawn(move || job.run(&job))
        };
        let killed = kill(&*job, KillReason::Token);
        worker.join().unwrap();

        assert!(killed, "nothing else ends this call");
        assert_eq!(counts.terminal.load(SeqCst), 1);
        assert!(result(&cell).unwrap_err().is_killed());
        let readmits = counts.readmits.load(SeqCst);
        let returned = counts.bodies_returned.load(SeqCst);
        assert!(readmits <= 1);
        // Retried first, then killed while waiting: no body ran on. Killed
        // while running: the body's return was reported, and no retry.
        assert_eq!(
            readmits + returned,
            1,
            "readmits {readmits}, returned {returned}"
        );
    });
}

/// A kill races the outcome of an attempt that ran elsewhere (a remote
/// call): the owner took the body unrun, and the outcome arrives on another
/// thread while the caller kills the call. Exactly one wins; the owner hears
/// of one terminal state, and of the "body's" return exactly when the kill
/// won (the late outcome is then dropped).
#[test]
fn a_kill_racing_an_outcome_from_elsewhere_resolves_the_token_once() {
    ::loom::model(|| {
        let counts = Arc::new(Counts::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let (cell, job) = queued(&counts, &runs);
        assert!(job.transition(Waiting, Admitted) && job.transition(Admitted, Executing));
        assert!(job.take_body());
        let delivery = {
            let job = job.clone();
            thread::spawn(move || job.settle_elsewhere(&job, Settled::Value(Box::new(9_u8))))
        };
        let killed = kill(&*job, KillReason::Token);
        delivery.join().unwrap();

        assert_eq!(runs.load(SeqCst), 0, "the local body never runs");
        assert_eq!(counts.terminal.load(SeqCst), 1);
        let returned = counts.bodies_returned.load(SeqCst);
        match result(&cell) {
            Ok(9) => assert!(!killed && returned == 0),
            Err(err) => assert!(killed && err.is_killed() && returned == 1),
            Ok(other) => panic!("unexpected value {other}"),
        }
    });
}
