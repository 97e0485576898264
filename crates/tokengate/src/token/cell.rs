//! The one allocation behind every token: header, state machine, closure and result.
//!
//! A guarded call allocates a single `Arc<Cell<T, F>>`. The caller's
//! [`TaskToken<T>`](crate::TaskToken) sees it as `dyn Completion<T>` (typed result),
//! the scheduler sees it as `dyn Job` (type-erased, runnable). Both views share the
//! [`Header`], whose atomic state is the single source of truth: whoever wins a
//! compare-and-swap into a state owns the work that state implies, so queues may
//! hold stale references (lazy deletion) without ever running a call twice.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::state_cell::StateCell;
use crate::coordinator::{LeadDomain, OpEntry, Shared};
use crate::error::{ErrorKind, KillReason, TaskError};
use crate::process::Failure;
use crate::scheduler::DomainKey;
use crate::unwind::{drop_quietly, panic_message};
use crate::{StorageSpeed, TokenState, Weight};

/// A type-erased, runnable view of a token, as queues and workers hold it.
pub(crate) type JobRef = Arc<dyn Job>;

/// What the scheduler needs from a token, whatever its closure and result types.
pub(crate) trait Job: Send + Sync + 'static {
    /// The shared, non-generic part of the token.
    fn header(&self) -> &Header;

    /// Runs the body. The caller must have moved the token to `Executing`.
    fn run(&self);

    /// Stores `err` as the result. The caller must have moved the token to a
    /// terminal state other than `Completed`/`Failed` by its own transition.
    fn resolve_error(&self, err: TaskError);
}

/// What a [`TaskToken<T>`](crate::TaskToken) needs from its cell.
pub(crate) trait Completion<T>: Send + Sync {
    fn header(&self) -> &Header;

    /// Returns the result once it is there, registering `waker` otherwise.
    fn poll_result(&self, waker: &Waker) -> Poll<Result<T, TaskError>>;

    /// The same cell as a job (for kills and inline claims).
    fn as_job(&self) -> &dyn Job;

    /// The same cell as an owned, runnable job.
    fn job(self: Arc<Self>) -> JobRef;
}

/// The non-generic part of a token: identity, routing facts, state and clock.
pub(crate) struct Header {
    /// Unique in the process; never reused.
    pub(crate) id: u64,
    /// The operation name (`op = "..."`).
    pub(crate) op: &'static str,
    /// The lane the call waits in.
    pub(crate) weight: Weight,
    /// The deadline measured from the call, if any.
    pub(crate) timeout: Option<Duration>,
    /// The coordinator and operation entry that own the token; `None` for
    /// tokens failed at birth.
    pub(crate) route: Option<Route>,
    /// The state, plus whether the token holds a slot of its lane's capacity.
    state: StateCell,
    /// Nanoseconds since [`epoch`] when the call was made.
    created: u64,
    /// Nanoseconds since [`epoch`] of admission, start and finish; 0 = not yet.
    admitted: AtomicU64,
    started: AtomicU64,
    finished: AtomicU64,
}

/// Who owns a token (its coordinator and its operation's entry there) and how
/// it is routed.
pub(crate) struct Route {
    pub(crate) shared: Arc<Shared>,
    pub(crate) op: Arc<OpEntry>,
    pub(crate) path: Path,
    /// The lead domain this call leads (`external_calls`).
    pub(crate) lead: Option<Arc<LeadDomain>>,
    /// The lead domain this call is a child of.
    pub(crate) parent: Option<Arc<LeadDomain>>,
}

/// Where a call waits and which threads may run it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Path {
    /// Its weight lane; any eligible worker.
    Lane,
    /// Its storage tier; IO threads.
    Storage(StorageSpeed),
    /// Its sticky domain; the domain's worker (fixed while the call is a
    /// member), one member at a time.
    Sticky { key: DomainKey, worker: usize },
    /// A lead's child: the lead's worker group.
    Group(usize),
}

/// The process-wide clock origin for token timestamps.
pub(crate) fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since [`epoch`], never 0 (0 means "not yet").
pub(crate) fn now_ns() -> u64 {
    let origin = epoch();
    (origin.elapsed().as_nanos() as u64).max(1)
}

impl Header {
    pub(crate) fn new(
        id: u64,
        op: &'static str,
        weight: Weight,
        timeout: Option<Duration>,
        route: Option<Route>,
    ) -> Header {
        Header {
            id,
            op,
            weight,
            timeout,
            route,
            state: StateCell::new(),
            created: now_ns(),
            admitted: AtomicU64::new(0),
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
        }
    }

    pub(crate) fn state(&self) -> TokenState {
        self.state.load()
    }

    /// Records that the token holds a lane slot; false (nothing recorded) if it
    /// is no longer `Waiting`. See [`StateCell`].
    pub(crate) fn arm_lane_slot(&self) -> bool {
        self.state.arm_slot()
    }

    /// Moves `from → to` if the token is in `from`; returns whether this call did it.
    ///
    /// Every successful transition is reported to the owning coordinator exactly
    /// once, which is what keeps its counters, lane capacity and registry exact.
    pub(crate) fn transition(&self, from: TokenState, to: TokenState) -> bool {
        debug_assert!(from.can_become(to), "{from} -> {to}");
        let Some(held_slot) = self.state.transition(from, to) else {
            return false;
        };
        // `Created → Waiting` follows creation at once: it needs no clock read.
        let now = if to == TokenState::Waiting {
            self.created
        } else {
            now_ns()
        };
        match to {
            TokenState::Admitted => self.admitted.store(now, Ordering::Relaxed),
            TokenState::Executing => self.started.store(now, Ordering::Relaxed),
            s if s.is_terminal() => self.finished.store(now, Ordering::Relaxed),
            _ => {}
        }
        if let Some(route) = &self.route {
            route.shared.observe(self, from, to, now, held_slot);
        }
        true
    }

    /// Moves the token from whatever live state it is in to the terminal `to`.
    /// Returns the state it left, or `None` if it had already finished.
    pub(crate) fn terminate(&self, to: TokenState) -> Option<TokenState> {
        debug_assert!(matches!(to, TokenState::Killed | TokenState::TimedOut));
        loop {
            let current = self.state();
            if current.is_terminal() {
                return None;
            }
            if self.transition(current, to) {
                return Some(current);
            }
        }
    }

    pub(crate) fn created_ns(&self) -> u64 {
        self.created
    }

    pub(crate) fn admitted_ns(&self) -> u64 {
        self.admitted.load(Ordering::Relaxed)
    }

    pub(crate) fn started_ns(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    pub(crate) fn finished_ns(&self) -> u64 {
        self.finished.load(Ordering::Relaxed)
    }

    /// A kill or a timeout was requested: the running body should stop.
    pub(crate) fn is_cancelled(&self) -> bool {
        matches!(self.state(), TokenState::Killed | TokenState::TimedOut)
    }

    pub(crate) fn error(&self, kind: ErrorKind) -> TaskError {
        TaskError::new(self.op, self.id, kind)
    }
}

/// Kills `job` for `reason`; true if this call did it.
pub(crate) fn kill(job: &dyn Job, reason: KillReason) -> bool {
    terminate_with(job, TokenState::Killed, ErrorKind::Killed(reason))
}

/// Moves `job` to the terminal `state` (Killed or TimedOut) and resolves it with
/// an error of `kind`; true if this call did it.
pub(crate) fn terminate_with(job: &dyn Job, state: TokenState, kind: ErrorKind) -> bool {
    let header = job.header();
    if header.terminate(state).is_some() {
        job.resolve_error(header.error(kind));
        true
    } else {
        false
    }
}

/// Where the closure and its result live.
enum Stage<T, F> {
    /// Not started; the closure and its captured arguments.
    Pending(F),
    /// A worker took the closure and runs it.
    Running,
    /// The result, waiting to be taken by the token.
    Done(Result<T, TaskError>),
    /// The token took the result.
    Taken,
}

struct Slot<T, F> {
    stage: Stage<T, F>,
    /// Who to wake when the result arrives: a task, or a thread parked in `wait`.
    waker: Option<Waker>,
}

/// The concrete token allocation.
pub(crate) struct Cell<T, F> {
    header: Header,
    slot: Mutex<Slot<T, F>>,
}

impl<T, F> Cell<T, F>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    pub(crate) fn new(header: Header, f: F) -> Arc<Self> {
        Arc::new(Cell {
            header,
            slot: Mutex::new(Slot {
                stage: Stage::Pending(f),
                waker: None,
            }),
        })
    }

    /// A cell that is already resolved with `err` (moved to `Killed`).
    pub(crate) fn failed(header: Header, err_kind: ErrorKind) -> Arc<Self> {
        let state = header.terminate(TokenState::Killed);
        debug_assert_eq!(state, Some(TokenState::Created));
        let err = header.error(err_kind);
        Arc::new(Cell {
            header,
            slot: Mutex::new(Slot {
                stage: Stage::Done(Err(err)),
                waker: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Slot<T, F>> {
        // A panic never happens while the lock is held (user code runs outside
        // it), so poisoning cannot leave the slot half-written.
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn store(&self, result: Result<T, TaskError>) {
        let (replaced, waker) = {
            let mut slot = self.lock();
            let replaced = std::mem::replace(&mut slot.stage, Stage::Done(result));
            (replaced, slot.waker.take())
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        // A pending closure (a queued call resolved by a kill, a timeout or a
        // stop) holds the call's arguments: drop them outside the lock, on
        // whichever thread resolved the call, without letting their `Drop`
        // unwind into it.
        drop_quietly(replaced);
    }
}

impl<T, F> Drop for Cell<T, F> {
    /// The last reference may go on any thread (a worker that ran a call whose
    /// token was dropped, a queue cleared at stop, the timer): the closure or
    /// the value it still holds is user data whose `Drop` may panic.
    fn drop(&mut self) {
        let slot = self.slot.get_mut().unwrap_or_else(|p| p.into_inner());
        drop_quietly(std::mem::replace(&mut slot.stage, Stage::Taken));
        drop_quietly(slot.waker.take());
    }
}

impl<T, F> Cell<T, F> {
    /// Tells the coordinator that the body of this killed call is done.
    fn killed_body_returned(&self) {
        if let Some(route) = &self.header.route {
            route.shared.killed_body_returned(&self.header);
        }
    }
}

impl<T, F> Job for Cell<T, F>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    fn header(&self) -> &Header {
        &self.header
    }

    fn run(&self) {
        let f = {
            let mut slot = self.lock();
            match std::mem::replace(&mut slot.stage, Stage::Running) {
                Stage::Pending(f) => f,
                other => {
                    // Resolved (killed) between the state change and here.
                    slot.stage = other;
                    drop(slot);
                    self.killed_body_returned();
                    return;
                }
            }
        };
        let outcome = catch_unwind(AssertUnwindSafe(f));
        let (state, result) = match outcome {
            Ok(value) => (TokenState::Completed, Ok(value)),
            Err(payload) => {
                // A process-pool body reports its failures as a `Failure`.
                let kind = match payload.downcast::<Failure>() {
                    Ok(failure) => failure.0,
                    Err(payload) => {
                        let message = panic_message(&*payload);
                        drop_quietly(payload);
                        ErrorKind::Panic(message)
                    }
                };
                (TokenState::Failed, Err(self.header.error(kind)))
            }
        };
        if self.header.transition(TokenState::Executing, state) {
            self.store(result);
        } else {
            // Killed or timed out while running: the token already holds that
            // error, and this late result is dropped.
            drop_quietly(result);
            self.killed_body_returned();
        }
    }

    fn resolve_error(&self, err: TaskError) {
        self.store(Err(err));
    }
}

impl<T, F> Completion<T> for Cell<T, F>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    fn header(&self) -> &Header {
        &self.header
    }

    fn poll_result(&self, waker: &Waker) -> Poll<Result<T, TaskError>> {
        let mut slot = self.lock();
        match std::mem::replace(&mut slot.stage, Stage::Taken) {
            Stage::Done(result) => Poll::Ready(result),
            Stage::Taken => {
                panic!("a `TaskToken` was polled or waited on after it returned its result")
            }
            other => {
                slot.stage = other;
                match &mut slot.waker {
                    Some(current) if current.will_wake(waker) => {}
                    place => *place = Some(waker.clone()),
                }
                Poll::Pending
            }
        }
    }

    fn as_job(&self) -> &dyn Job {
        self
    }

    fn job(self: Arc<Self>) -> JobRef {
        self
    }
}
