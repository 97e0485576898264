//! The one allocation behind every token: header, owner, closure and result.
//!
//! A guarded call allocates a single `Arc<Cell<T, F, O>>`. The caller's
//! [`TaskToken<T>`](crate::TaskToken) sees it as `dyn Completion<T>` (typed
//! result), the scheduler sees it as `dyn Job` (type-erased, runnable). Both
//! views share the [`Header`], whose atomic state is the single source of
//! truth: whoever wins a compare-and-swap into a state owns the work that state
//! implies, so queues may hold stale references (lazy deletion) without ever
//! running a call twice.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::task::{Poll, Waker};

use super::again::{Again, Body, Cause};
use super::elsewhere::Settled;
#[cfg(feature = "tracing")]
use super::span::BodyScope;
use super::{Header, Owner};
use crate::TokenState;
// The slot's lock is loom's under `--cfg loom`: the models race on it.
use crate::error::{Failure, KillReason, Payload, Reason, TaskError};
use crate::sync::{Mutex, MutexGuard};
use crate::unwind::{drop_quietly, panic_message};

/// A type-erased, runnable view of a token, as queues and workers hold it.
pub(crate) type JobRef = Arc<dyn Job>;

/// What the scheduler needs from a token, whatever its closure and result types.
pub(crate) trait Job: Send + Sync + 'static {
    /// The shared, non-generic part of the token.
    fn header(&self) -> &Header;

    /// Whoever runs the token; `None` for tokens resolved at birth.
    fn owner(&self) -> Option<&dyn Owner>;

    /// Runs the body. The caller must have moved the token to `Executing`;
    /// `me` is this job (a retried call hands it back to its owner).
    fn run(&self, me: &JobRef);

    /// Stores `err` as the result. The caller must have moved the token to a
    /// terminal state other than `Completed`/`Failed` by its own transition.
    fn resolve_error(&self, err: TaskError);

    /// Takes the body out of its slot unrun, for an attempt that runs
    /// elsewhere (see `elsewhere.rs`). The caller must have moved the token
    /// to `Executing`. Returns false if the call was resolved meanwhile (a
    /// kill won the race): its owner is then told the body returned, as
    /// [`run`](Self::run) does, and nothing is to be sent.
    fn take_body(&self) -> bool;

    /// The attempt whose body [`take_body`](Self::take_body) took ended
    /// elsewhere with `outcome`: settles it as [`run`](Self::run) settles a
    /// body that returned (a retry, the result, or a late outcome dropped).
    /// `me` is this job.
    fn settle_elsewhere(&self, me: &JobRef, outcome: Settled);
}

impl dyn Job {
    /// Moves `from → to` if the token is in `from`; returns whether this call
    /// did it. Every successful transition is reported to the owner exactly
    /// once, which is what keeps its counters, lane capacity and registry
    /// exact.
    pub(crate) fn transition(&self, from: TokenState, to: TokenState) -> bool {
        let header = self.header();
        let Some((held_slot, now)) = header.advance(from, to) else {
            return false;
        };
        if let Some(owner) = self.owner() {
            owner.observe(header, from, to, now, held_slot);
        }
        true
    }

    /// Moves the token from whatever live state it is in to the terminal `to`.
    /// Returns the state it left, or `None` if it had already finished.
    pub(crate) fn terminate(&self, to: TokenState) -> Option<TokenState> {
        debug_assert!(matches!(to, TokenState::Killed | TokenState::TimedOut));
        loop {
            let current = self.header().state();
            if current.is_terminal() {
                return None;
            }
            if self.transition(current, to) {
                return Some(current);
            }
        }
    }
}

/// What a [`TaskToken<T>`](crate::TaskToken) needs from its cell.
pub(crate) trait Completion<T>: Send + Sync {
    fn header(&self) -> &Header;

    /// Returns the result once it is there, registering `waker` otherwise.
    fn poll_result(&self, waker: &Waker) -> Poll<Result<T, TaskError>>;

    /// Is the result there (stored, not yet taken)?
    fn ready(&self) -> bool;

    /// Registers `waker` to be woken once the result is there, without taking
    /// it. Returns true (and registers nothing) if it is there already.
    fn watch(&self, waker: &Waker) -> bool;

    /// The same cell as a job (for kills and inline claims).
    fn as_job(&self) -> &dyn Job;

    /// The same cell as an owned, runnable job.
    fn job(self: Arc<Self>) -> JobRef;
}

/// Kills `job` for `reason`; true if this call did it.
pub(crate) fn kill(job: &dyn Job, reason: KillReason) -> bool {
    terminate_with(job, TokenState::Killed, Reason::Killed(reason))
}

/// Moves `job` to the terminal `state` (Killed or TimedOut) and resolves it with
/// an error of `kind`; true if this call did it.
pub(crate) fn terminate_with(job: &dyn Job, state: TokenState, kind: Reason) -> bool {
    if job.terminate(state).is_some() {
        job.resolve_error(job.header().error(kind));
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
pub(crate) struct Cell<T, F, O> {
    header: Header,
    owner: Option<O>,
    slot: Mutex<Slot<T, F>>,
    /// Fresh bodies for retries, if the call may be retried.
    again: Option<Box<Again<T, F>>>,
}

impl<T, F, O> Cell<T, F, O>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
    O: Owner,
{
    pub(crate) fn new(header: Header, owner: Option<O>, f: F) -> Arc<Self> {
        Arc::new(Cell {
            header,
            owner,
            slot: Mutex::new(Slot {
                stage: Stage::Pending(f),
                waker: None,
            }),
            again: None,
        })
    }

    /// A cell for `body`: run once, or (retried) with a fresh body per attempt.
    pub(crate) fn with_body(header: Header, owner: Option<O>, body: Body<T, F>) -> Arc<Self> {
        let again = match body {
            Body::Once(f) => return Cell::new(header, owner, f),
            Body::Again(again) => again,
        };
        let first = (again.make)();
        Arc::new(Cell {
            header,
            owner,
            slot: Mutex::new(Slot {
                stage: Stage::Pending(first),
                waker: None,
            }),
            again: Some(Box::new(again)),
        })
    }

    /// A cell that is already resolved with `err` (moved to `Killed`), with no
    /// owner: nothing runs it and nobody is told.
    pub(crate) fn failed(header: Header, err_kind: Reason) -> Arc<Self> {
        let left = header.advance(TokenState::Created, TokenState::Killed);
        debug_assert!(left.is_some());
        let err = header.error(err_kind);
        Arc::new(Cell {
            header,
            owner: None,
            slot: Mutex::new(Slot {
                stage: Stage::Done(Err(err)),
                waker: None,
            }),
            again: None,
        })
    }
}

impl<T, F, O> Cell<T, F, O> {
    fn lock(&self) -> MutexGuard<'_, Slot<T, F>> {
        // A panic never happens while the lock is held (user code runs outside
        // it), so poisoning cannot leave the slot half-written.
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl<T, F, O> Cell<T, F, O>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
    O: Owner,
{
    /// Stores the call's result (once: the caller won its terminal
    /// transition) and wakes its waiter.
    fn store(&self, result: Result<T, TaskError>) {
        #[cfg(feature = "tracing")]
        if let Some(owner) = &self.owner
            && (self.header.traced || result.is_err())
        {
            owner.resolved(&self.header, result.as_ref().err());
        }
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

impl<T, F, O> Drop for Cell<T, F, O> {
    /// The last reference may go on any thread (a worker that ran a call whose
    /// token was dropped, a queue cleared at stop, the timer): the closure or
    /// the value it still holds is user data whose `Drop` may panic.
    fn drop(&mut self) {
        let slot = self.slot.get_mut().unwrap_or_else(|p| p.into_inner());
        drop_quietly(std::mem::replace(&mut slot.stage, Stage::Taken));
        drop_quietly(slot.waker.take());
    }
}

impl<T, F, O> Job for Cell<T, F, O>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
    O: Owner,
{
    fn header(&self) -> &Header {
        &self.header
    }

    fn owner(&self) -> Option<&dyn Owner> {
        self.owner.as_ref().map(|owner| owner as &dyn Owner)
    }

    fn run(&self, me: &JobRef) {
        // A traced call's attempt runs, and its outcome is stored, inside its
        // spans.
        #[cfg(feature = "tracing")]
        let _scope = match &self.owner {
            Some(owner) if self.header.traced => owner.body_spans().map(BodyScope::enter),
            _ => None,
        };
        let Some(f) = self.take_pending() else {
            return;
        };
        let outcome = catch_unwind(AssertUnwindSafe(f));
        self.settle(me, outcome);
    }

    fn resolve_error(&self, err: TaskError) {
        self.store(Err(err));
    }

    fn take_body(&self) -> bool {
        match self.take_pending() {
            Some(f) => {
                drop_quietly(f);
                true
            }
            None => false,
        }
    }

    fn settle_elsewhere(&self, me: &JobRef, outcome: Settled) {
        let outcome: Outcome<T> = match outcome {
            Settled::Value(value) => match value.downcast::<T>() {
                Ok(value) => Ok(*value),
                Err(other) => {
                    drop_quietly(other);
                    Err(Box::new(Failure(Reason::Process(
                        "the value that came back is not of the call's type; this is a bug in \
                         the owner that sent the call away, please report it"
                            .to_owned(),
                    ))))
                }
            },
            // A `String` payload, as a thread's `panic!("{..}")` leaves.
            Settled::Panicked(message) => Err(Box::new(message)),
            Settled::Failed(reason) => Err(Box::new(Failure(reason))),
        };
        self.settle(me, outcome);
    }
}

/// What a body's attempt produced: its value, or its panic's payload.
type Outcome<T> = std::thread::Result<T>;

impl<T, F, O> Cell<T, F, O>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
    O: Owner,
{
    /// Takes the pending body for its attempt, leaving the slot `Running`; if
    /// the call was resolved (killed) between its move to `Executing` and
    /// here, tells the owner the body returned and gives nothing.
    fn take_pending(&self) -> Option<F> {
        let mut slot = self.lock();
        match std::mem::replace(&mut slot.stage, Stage::Running) {
            Stage::Pending(f) => Some(f),
            other => {
                slot.stage = other;
                drop(slot);
                if let Some(owner) = &self.owner {
                    owner.body_returned(&self.header);
                }
                None
            }
        }
    }

    /// Settles an attempt whose body returned `outcome` (on this thread or
    /// elsewhere): a retry, or the result stored with the final transition,
    /// or, when a kill or a timeout won, the late result dropped.
    fn settle(&self, me: &JobRef, outcome: Outcome<T>) {
        let this: &dyn Job = self;
        if let (Err(payload), Some(owner)) = (&outcome, &self.owner)
            && self.header.state() == TokenState::Executing
        {
            let (message, panicked) = match payload.downcast_ref::<Failure>() {
                Some(Failure(reason)) => (
                    self.header.error(reason.clone()).to_string(),
                    matches!(reason, Reason::Panic(..)),
                ),
                None => (panic_message(&**payload), true),
            };
            owner.attempt_failed(&self.header, &message, panicked);
        }
        let outcome = match self.try_again(me, outcome) {
            Some(outcome) => outcome,
            None => return,
        };
        let (state, result) = match outcome {
            Ok(value) => (TokenState::Completed, Ok(value)),
            Err(payload) => {
                // A body that cannot produce a value for another reason (a
                // process-pool call whose worker died) reports a `Failure`.
                let kind = match payload.downcast::<Failure>() {
                    Ok(failure) => failure.0,
                    Err(payload) => {
                        let message = panic_message(&*payload);
                        // Kept for `TaskError::into_panic`; if nobody takes
                        // it, it is dropped with the error, quietly if the
                        // runtime drops it (see `Drop for Cell`).
                        Reason::Panic(message, Some(Payload::new(payload)))
                    }
                };
                // An attempt cut off by its own deadline, with no retry left.
                let state = match kind {
                    Reason::TimedOut(_) => TokenState::TimedOut,
                    _ => TokenState::Failed,
                };
                (state, Err(self.header.error(kind)))
            }
        };
        if this.transition(TokenState::Executing, state) {
            self.store(result);
            if state == TokenState::TimedOut {
                // As for a call timed out while running, whose body then
                // returns (here it already has).
                if let Some(owner) = &self.owner {
                    owner.body_returned(&self.header);
                }
            }
        } else {
            // Killed or timed out while running: the token already holds that
            // error, and this late result is dropped.
            drop_quietly(result);
            if let Some(owner) = &self.owner {
                owner.body_returned(&self.header);
            }
        }
    }

    /// After an attempt: if it failed in a way its fn retries and its owner
    /// grants another attempt, puts a fresh body in place, moves the token
    /// back to `Waiting` and hands it to its owner (returns `None`: this
    /// attempt's outcome is dropped). Otherwise returns the outcome, to be
    /// stored.
    fn try_again(&self, me: &JobRef, outcome: Outcome<T>) -> Option<Outcome<T>> {
        let (Some(again), Some(owner)) = (&self.again, &self.owner) else {
            return Some(outcome);
        };
        let cause = if self.header.attempt_cancelled() {
            Cause::Timeout
        } else {
            match &outcome {
                Ok(value) if again.is_err.is_some_and(|is_err| is_err(value)) => Cause::Err,
                Ok(_) => return Some(outcome),
                Err(payload) => match payload.downcast_ref::<Failure>() {
                    Some(Failure(Reason::WorkerLost { .. })) => Cause::WorkerLost,
                    Some(_) => return Some(outcome),
                    None => Cause::Panic,
                },
            }
        };
        let Some(delay) = owner.retry_delay(&self.header, cause) else {
            return Some(self.attempt_timed_out(cause, outcome));
        };
        // The next body is in place before the state says `Waiting`, so
        // whoever admits the call next finds it; unless a kill or timeout
        // already stored its error there, which stands.
        let fresh = (again.make)();
        {
            let mut slot = self.lock();
            if !matches!(slot.stage, Stage::Running) {
                drop(slot);
                drop_quietly(fresh);
                return Some(outcome);
            }
            slot.stage = Stage::Pending(fresh);
        }
        let this: &dyn Job = self;
        if this.transition(TokenState::Executing, TokenState::Waiting) {
            drop_quietly(outcome);
            owner.readmit_after(me.clone(), delay);
            return None;
        }
        // Killed or timed out meanwhile: that outcome stands; this attempt's
        // is dropped like any late result (the caller sees the failed move).
        Some(outcome)
    }

    /// The outcome to keep when no retry follows: an attempt cut off by its
    /// own deadline ends the call as timed out, whatever its body returned.
    fn attempt_timed_out(&self, cause: Cause, outcome: Outcome<T>) -> Outcome<T> {
        if cause != Cause::Timeout {
            return outcome;
        }
        drop_quietly(outcome);
        let after = self.header.timeout.unwrap_or_default();
        Err(Box::new(Failure(Reason::TimedOut(after))))
    }
}

impl<T, F, O> Completion<T> for Cell<T, F, O>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
    O: Owner,
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

    fn ready(&self) -> bool {
        matches!(self.lock().stage, Stage::Done(_))
    }

    fn watch(&self, waker: &Waker) -> bool {
        let mut slot = self.lock();
        match slot.stage {
            Stage::Done(_) | Stage::Taken => true,
            Stage::Pending(_) | Stage::Running => {
                match &mut slot.waker {
                    Some(current) if current.will_wake(waker) => {}
                    place => *place = Some(waker.clone()),
                }
                false
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
