//! [`TaskToken`]: the handle a guarded call returns at once, and the cell
//! behind it. This is the runtime's bottom layer: it names no coordinator,
//! lane or worker, and reaches whoever runs a token only through the
//! [`Owner`] trait.
//!
//! # Design note: the token state machine
//!
//! Every guarded call makes exactly one heap allocation, a *cell* (see `cell.rs`)
//! holding:
//!
//! * a header (`header.rs`): id, op, weight, optional timeout, four timestamps
//!   and an atomic [`TokenState`];
//! * its owner: the record of the coordinator that runs it, which the token
//!   reports to (`owner.rs`);
//! * a slot behind a mutex: the closure (until a worker takes it), then the
//!   result (until the token takes it), plus the waker of whoever waits.
//!
//! The caller's `TaskToken<T>` and the scheduler's queue entries are two `Arc`
//! views of that cell.
//!
//! **Ownership by compare-and-swap.** The state only changes through
//! `Job::transition(from, to)`, a CAS that checks [`TokenState::can_become`].
//! Whoever wins a transition owns what it implies:
//!
//! | winning transition            | the winner must…                                  |
//! |-------------------------------|---------------------------------------------------|
//! | `Waiting → Admitted`          | put the token in a mailbox, or run it now         |
//! | `Admitted → Executing`        | take the closure and run it, or send it elsewhere |
//! | `Executing → Completed/Failed`| store the value / the panic message               |
//! | `* → Killed/TimedOut`         | store the matching error (dropping the closure)   |
//! | `Executing → Waiting`         | (a retry) hand the call back to its owner         |
//!
//! Because a terminal state can be entered only once, the result slot is written
//! exactly once, and a token resolves exactly once. Queues never need to remove a
//! killed token: they hold a stale reference, and the worker that later pops it
//! loses the `Admitted → Executing` race and drops it (*lazy deletion*). Capacity
//! is accounted by state, not by queue length, so stale entries never count.
//!
//! **Killing a running call** wins `Executing → Killed` and stores the error at
//! once; the waiter is released immediately. The body keeps running on its
//! worker until it returns (a thread cannot be stopped safely) and can notice the
//! kill with [`is_cancelled`](crate::is_cancelled) or
//! [`checkpoint`](crate::checkpoint); its late result loses the
//! `Executing → Completed` race and is dropped. No panic, no double write.
//!
//! **Retries** (`again.rs`) are the one backward edge: a call whose fn has
//! `retries` carries a factory for fresh bodies. When an attempt fails in a way
//! its fn retries and the owner grants another attempt, the cell puts a fresh
//! body in its slot *before* it moves `Executing → Waiting`, then hands the
//! call to its owner to re-admit after a backoff. A kill or timeout that wins
//! first leaves the call terminal and the attempt's outcome is dropped, so the
//! token still resolves exactly once.
//!
//! **Attempts that run elsewhere** (`elsewhere.rs`): a remote call's owner
//! wins `Admitted → Executing` itself, takes the body out of the slot unrun
//! and sends the call to another host; its outcome comes back on whatever
//! thread delivers it and is settled exactly as a returned body's (a retry, the
//! result, or a late outcome dropped after a kill or a timeout). No thread
//! waits for it meanwhile.
//!
//! **The owner.** Each successful transition is reported once to the token's
//! owner ([`Owner::observe`]), which updates O(1) counters, releases lane
//! capacity when a token leaves `Waiting`, and drops the token from its live
//! registry when it finishes. The owner is also asked before a queued call is
//! admitted (a pause holds it back), told when a killed body returns, and
//! consulted when a thread blocks on the token. With the `tracing` feature it
//! also hands out the spans each attempt runs in and is told how the call
//! resolved, before its waiter wakes. Nothing holds a finished token except
//! the caller's own handle.
//!
//! **Waiting.** `await` registers the task's waker, except that the first poll
//! of a call already with a worker, whose op's last body took under 10 µs
//! ([`Owner::quick`]), first watches its state for up to 20 µs: waking a parked
//! executor thread costs more than such a call's whole round trip on a VM.
//! [`TaskToken::wait`] registers
//! a waker that unparks the calling thread (`wait.rs`). Before it parks, the
//! waiting thread asks the owner for help: on a coordinator worker the owner
//! *claims* the awaited token (`Waiting/Admitted → Executing`) and runs it
//! inline, so nested calls never deadlock, even with a single worker.

mod again;
mod cell;
mod context;
mod elsewhere;
mod header;
mod id;
mod kill_handle;
mod kill_on_drop;
#[cfg(all(test, loom))]
mod loom;
mod owner;
#[cfg(feature = "tracing")]
mod span;
mod state_cell;
#[cfg(all(test, not(loom)))]
mod tests;
mod wait;

pub(crate) use again::{Again, Body, Cause};
pub(crate) use cell::{Cell, Completion, Job, JobRef, kill, terminate_with};
pub(crate) use context::thread_waker;
pub(crate) use elsewhere::Settled;
pub(crate) use header::{Header, epoch, now_ns};
pub(crate) use id::next_id;
pub use kill_handle::KillHandle;
pub use kill_on_drop::KillOnDrop;
pub(crate) use owner::Owner;
#[cfg(all(feature = "tracing", feature = "process"))]
pub(crate) use span::BodyScope;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::error::{KillReason, TokenId};
use crate::{TaskError, TokenState, Weight};

/// The handle a guarded call returns at once; resolves to the call's result.
///
/// A `TaskToken<T>` is a [`Future`] with `Output = Result<T, TaskError>`, and can
/// also be waited on from sync code with [`wait`](Self::wait) or
/// [`wait_timeout`](Self::wait_timeout).
///
/// ```
/// use tokengate::{task_token_guard, OperationsCoordinator};
///
/// #[task_token_guard(op = "square", weight = "light")]
/// fn square(x: u64) -> u64 {
///     x * x
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// let token = square(7);
/// assert_eq!(token.op(), "square");
/// assert_eq!(token.wait().unwrap(), 49);
/// coordinator.stop();
/// ```
///
/// # Dropping
///
/// Dropping a token *detaches* the call: it still runs to completion and its
/// result is dropped. To stop it, call [`kill`](Self::kill) first, wrap it
/// with [`kill_on_drop`](Self::kill_on_drop), keep a
/// [`kill_handle`](Self::kill_handle), or add it to a
/// [`TokenGroup`](crate::TokenGroup).
///
/// # Cancel safety
///
/// Awaiting is cancel safe: dropping the `.await` (for example in
/// `tokio::select!`) leaves the call running, and the token can be awaited again
/// if it was not moved into the dropped future.
#[must_use = "a dropped token detaches its call: it still runs but its result is lost; \
              `.await` it or call `.wait()`"]
pub struct TaskToken<T> {
    cell: Arc<dyn Completion<T>>,
    /// Has the token been polled? Only the first poll may wait briefly.
    polled: bool,
}

impl<T: Send + 'static> TaskToken<T> {
    pub(crate) fn from_cell<F, O>(cell: Arc<Cell<T, F, O>>) -> Self
    where
        F: FnOnce() -> T + Send + 'static,
        O: Owner,
    {
        TaskToken {
            cell,
            polled: false,
        }
    }
}

impl<T> TaskToken<T> {
    fn header(&self) -> &Header {
        self.cell.header()
    }

    /// Blocks the current thread until the call finishes, and returns its result.
    ///
    /// On a coordinator worker (inside a guarded fn) a token that is still queued
    /// is run inline on this thread instead, so nested calls cannot deadlock.
    ///
    /// # Panics
    ///
    /// Panics if the result was already taken by `.await` or `wait_timeout`.
    pub fn wait(self) -> Result<T, TaskError> {
        match wait::wait_for(&self.cell, None) {
            Some(result) => result,
            None => unreachable!("a wait without deadline returned without a result"),
        }
    }

    /// Blocks for at most `timeout`. Returns `None` if the call has not finished
    /// by then (it keeps running and can be waited on again), or its result.
    ///
    /// # Panics
    ///
    /// Panics if the result was already taken.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<Result<T, TaskError>> {
        let deadline = Instant::now().checked_add(timeout);
        wait::wait_for(&self.cell, deadline)
    }

    /// The token's id: unique in the process, never reused.
    pub fn id(&self) -> TokenId {
        TokenId(self.header().id)
    }

    /// The operation name (`op = "..."` on the attribute).
    pub fn op(&self) -> &'static str {
        self.header().op
    }

    /// The call's weight class.
    pub fn weight(&self) -> Weight {
        self.header().weight
    }

    /// The current state. It may change right after this returns, unless terminal.
    pub fn state(&self) -> TokenState {
        self.header().state()
    }

    /// Whether the call has reached a terminal state (its result may be taken).
    pub fn is_finished(&self) -> bool {
        self.state().is_terminal()
    }

    /// Kills the call. Returns `true` if this took effect, `false` if the call had
    /// already finished.
    ///
    /// A queued call is removed: it never runs. A running call resolves as killed
    /// at once; its body keeps running until it returns, and can stop early by
    /// checking [`is_cancelled`](crate::is_cancelled).
    pub fn kill(&self) -> bool {
        self.kill_for(KillReason::Token)
    }

    /// Wraps the token so that dropping it before the call finished kills the
    /// call; see [`KillOnDrop`]. A plain token detaches its call when dropped.
    pub fn kill_on_drop(self) -> KillOnDrop<T> {
        KillOnDrop::new(self)
    }

    /// A cloneable, `Send + Sync` handle that can kill this call from
    /// anywhere; see [`KillHandle`].
    pub fn kill_handle(&self) -> KillHandle {
        KillHandle::new(self.id(), Arc::downgrade(&self.cell.clone().job()))
    }

    /// The call as a job, to kill it or run it inline.
    pub(crate) fn job_ref(&self) -> &dyn Job {
        self.cell.as_job()
    }

    /// The call as an owned job.
    pub(crate) fn job(&self) -> JobRef {
        self.cell.clone().job()
    }

    /// Registers `waker` to be woken once the call resolved, without taking
    /// its result; true (nothing registered) if it has resolved already. The
    /// wake comes only with the final outcome, never between retried
    /// attempts.
    pub(crate) fn watch(&self, waker: &Waker) -> bool {
        self.cell.watch(waker)
    }

    /// Kills the call for `reason`; true if this took effect.
    pub(crate) fn kill_for(&self, reason: KillReason) -> bool {
        kill(self.cell.as_job(), reason)
    }

    /// Gives this call a deadline `timeout` from now: if it has not finished
    /// by then, it is timed out exactly as the attribute's `timeout` would
    /// (queued, it never runs; running, it resolves
    /// [`TimedOut`](crate::ErrorKind::TimedOut) at once and its body sees
    /// [`is_cancelled`](crate::is_cancelled); a `process_pool` call loses its
    /// worker process). With a `timeout` on the fn too, the earlier deadline
    /// wins. The deadline belongs to the call, not to this token value: it
    /// holds whether the token is awaited, waited on or dropped.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokengate::{task_token_guard, ErrorKind, OperationsCoordinator};
    ///
    /// #[task_token_guard(op = "slow_lookup")]
    /// fn slow_lookup(key: u32) -> u32 {
    ///     while !tokengate::is_cancelled() {
    ///         std::thread::sleep(Duration::from_millis(1));
    ///     }
    ///     key
    /// }
    ///
    /// let coordinator = OperationsCoordinator::start();
    /// let err = slow_lookup(7).timeout(Duration::from_millis(20)).wait().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TimedOut);
    /// coordinator.stop();
    /// ```
    pub fn timeout(self, timeout: Duration) -> Self {
        if !self.is_finished() {
            let job = self.cell.clone().job();
            if let Some(owner) = job.owner() {
                owner.time_out_after(&job, timeout);
            }
        }
        self
    }

    /// How many attempts of the call have started: 1 once its body started,
    /// more if it was retried (`retries`); 0 while its first attempt waits.
    pub fn attempts(&self) -> u32 {
        self.header().attempts()
    }

    /// When the call was made.
    pub fn created_at(&self) -> Instant {
        instant(self.header().created_ns()).unwrap_or_else(epoch)
    }

    /// When the call was handed to a worker, if it was.
    pub fn admitted_at(&self) -> Option<Instant> {
        instant(self.header().admitted_ns())
    }

    /// When the body started running, if it did.
    pub fn started_at(&self) -> Option<Instant> {
        instant(self.header().started_ns())
    }

    /// When the call reached its terminal state, if it has.
    pub fn finished_at(&self) -> Option<Instant> {
        instant(self.header().finished_ns())
    }

    /// Time from the call to the start of the body, once it started.
    pub fn queue_wait(&self) -> Option<Duration> {
        let h = self.header();
        span(h.created_ns(), h.started_ns())
    }

    /// Time the body ran, once it finished (a killed body may run on unobserved).
    pub fn run_time(&self) -> Option<Duration> {
        let h = self.header();
        span(h.started_ns(), h.finished_ns())
    }
}

fn instant(ns: u64) -> Option<Instant> {
    (ns != 0).then(|| epoch() + Duration::from_nanos(ns))
}

fn span(from: u64, to: u64) -> Option<Duration> {
    (from != 0 && to != 0).then(|| Duration::from_nanos(to.saturating_sub(from)))
}

impl<T> Drop for TaskToken<T> {
    /// Detaches the call. A call still waiting in line for room in its lane
    /// (its lane was full when it was made) first waits until it has entered
    /// the lane, so that calls made and dropped faster than they run feel the
    /// lane's bound (see [`FullLanePolicy`](crate::FullLanePolicy)).
    fn drop(&mut self) {
        let header = self.cell.header();
        if header.state() == TokenState::Waiting && !header.holds_slot() {
            let job = self.cell.clone().job();
            if let Some(owner) = job.owner() {
                owner.dropped_waiting(&job);
            }
        }
    }
}

impl<T> Future for TaskToken<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.polled {
            self.polled = true;
            wait::await_briefly(&*self.cell);
        }
        self.cell.poll_result(cx.waker())
    }
}

impl<T> fmt::Debug for TaskToken<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.header();
        f.debug_struct("TaskToken")
            .field("id", &h.id)
            .field("op", &h.op)
            .field("weight", &h.weight)
            .field("state", &h.state())
            .finish()
    }
}
