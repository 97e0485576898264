//! [`admit`]: awaitable backpressure for async callers.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::TokenState;
use crate::coordinator::route_of;
use crate::error::KillReason;
use crate::token::{JobRef, kill};

thread_local! {
    /// While `admit` runs its closure: calls that found their lane full.
    static DEFERRED: RefCell<Option<Vec<JobRef>>> = const { RefCell::new(None) };
}

/// Inside [`admit`], keeps a call whose lane is full instead of blocking, and
/// returns `None`; elsewhere hands the call back.
pub(crate) fn defer(job: JobRef) -> Option<JobRef> {
    DEFERRED.with(|d| match &mut *d.borrow_mut() {
        Some(list) => {
            list.push(job);
            None
        }
        None => Some(job),
    })
}

/// Makes guarded calls from async code without blocking the executor when a
/// lane is full.
///
/// `f` runs at once (typically it makes one or more guarded calls). Calls whose
/// lane has room are admitted as usual; calls that find their lane full wait,
/// `Waiting`, for a free slot, which the returned future awaits. The future
/// resolves to `f`'s value once every call `f` made is queued.
///
/// With [`FullLanePolicy::Reject`](crate::FullLanePolicy::Reject) nothing is
/// deferred: full lanes reject as usual.
///
/// # Cancel safety
///
/// Dropping the future before it resolves kills the calls still waiting for a
/// slot (their tokens fail with [`is_killed`](crate::TaskError::is_killed));
/// calls already admitted keep running.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tokengate::{task_token_guard, OperationsCoordinator};
///
/// #[task_token_guard(op = "inc", weight = "light")]
/// fn inc(x: u64) -> u64 {
///     x + 1
/// }
///
/// let coordinator = OperationsCoordinator::builder().lane_capacity(4).start().unwrap();
/// let tokens = tokengate::admit(|| (0..100).map(inc).collect::<Vec<_>>()).await;
/// let mut sum = 0;
/// for t in tokens {
///     sum += t.await.unwrap();
/// }
/// assert_eq!(sum, (1..=100).sum::<u64>());
/// coordinator.stop();
/// # }
/// ```
pub fn admit<R>(f: impl FnOnce() -> R) -> Admit<R> {
    /// Restores the caller's defer list; if `f` panicked, kills what it deferred.
    struct Restore(Option<Option<Vec<JobRef>>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(previous) = self.0.take() {
                let deferred = DEFERRED.with(|d| d.replace(previous));
                for job in deferred.into_iter().flatten() {
                    kill(&*job, KillReason::SubmissionDropped);
                }
            }
        }
    }
    let mut restore = Restore(Some(DEFERRED.with(|d| d.replace(Some(Vec::new())))));
    let value = f();
    let previous = restore.0.take().expect("restored once");
    let pending = DEFERRED.with(|d| d.replace(previous)).unwrap_or_default();
    Admit {
        value: Some(value),
        pending: pending.into(),
        registration: None,
    }
}

/// The future returned by [`admit`].
#[must_use = "futures do nothing unless awaited; dropping this kills the deferred calls"]
pub struct Admit<R> {
    value: Option<R>,
    /// Calls still waiting for a lane slot, in call order.
    pending: VecDeque<JobRef>,
    /// Our place in the front call's lane wait list, if listed.
    registration: Option<u64>,
}

// `Admit` never pins its value: it only moves it out on completion.
impl<R> Unpin for Admit<R> {}

impl<R> Future for Admit<R> {
    type Output = R;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        let this = &mut *self;
        while let Some(job) = this.pending.front().cloned() {
            let header = job.header();
            let route = route_of(&*job).expect("deferred calls have a route");
            let shared = route.shared.clone();
            let lane = shared.scheduler.slot_lane(route.path, header.weight);
            // Killed, timed out, claimed or swept by a stop meanwhile: nothing
            // to queue.
            if header.state() != TokenState::Waiting || !shared.is_running() {
                lane.cancel(&mut this.registration);
                this.pending.pop_front();
                continue;
            }
            match lane.poll_reserve(cx, &mut this.registration) {
                Poll::Ready(()) => {
                    this.pending.pop_front();
                    shared.enqueue_with_slot(job);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(this.value.take().expect("`Admit` polled after completion"))
    }
}

impl<R> Drop for Admit<R> {
    fn drop(&mut self) {
        if let Some(job) = self.pending.front()
            && let Some(route) = route_of(&**job)
        {
            // Leave the wait list; pass on a wake-up we may have consumed.
            let lane = route
                .shared
                .scheduler
                .slot_lane(route.path, job.header().weight);
            lane.cancel(&mut self.registration);
        }
        for job in self.pending.drain(..) {
            kill(&*job, KillReason::SubmissionDropped);
        }
    }
}

impl<R> fmt::Debug for Admit<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admit")
            .field("deferred", &self.pending.len())
            .finish_non_exhaustive()
    }
}
