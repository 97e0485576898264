//! Cooperative cancellation and introspection from inside a guarded fn.

use crate::scheduler::{with_current, worker_context};
use crate::{Cancelled, TokenId};

/// Whether the guarded call running on this thread was killed or timed out.
///
/// A thread cannot be stopped safely from outside, so a killed call's body runs
/// on until it returns; long bodies should check this (or [`checkpoint`]) now
/// and then and return early. Outside a guarded fn it is always `false`.
///
/// ```
/// use std::time::Duration;
/// use tokengate::{task_token_guard, OperationsCoordinator};
///
/// #[task_token_guard(op = "spin", timeout = "50ms")]
/// fn spin() -> u32 {
///     let mut rounds = 0;
///     while !tokengate::is_cancelled() {
///         std::thread::sleep(Duration::from_millis(1));
///         rounds += 1;
///     }
///     rounds
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// assert!(spin().wait().unwrap_err().is_timeout());
/// coordinator.stop();
/// ```
pub fn is_cancelled() -> bool {
    with_current(|job| job.is_some_and(|j| j.header().is_cancelled()))
}

/// `Err(Cancelled)` if the running guarded call was killed or timed out, for
/// use with `?` in guarded fns that return a `Result`.
///
/// ```
/// # use tokengate::Cancelled;
/// fn step(i: u32) -> Result<u32, Cancelled> {
///     tokengate::checkpoint()?;
///     Ok(i * 2)
/// }
/// assert_eq!(step(2), Ok(4)); // not inside a guarded call: never cancelled
/// ```
pub fn checkpoint() -> Result<(), Cancelled> {
    if is_cancelled() {
        Err(Cancelled)
    } else {
        Ok(())
    }
}

/// The id of the guarded call running on this thread (the innermost one, for
/// nested calls run inline), or `None` outside a guarded call.
///
/// It equals [`TaskToken::id`](crate::TaskToken::id) of that call's token.
pub fn current_token_id() -> Option<TokenId> {
    with_current(|job| job.map(|j| TokenId(j.header().id)))
}

/// Where the calling code runs, if on a coordinator worker thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct WorkerInfo {
    /// The worker's index in its coordinator (see [`Stats::workers`](crate::stats::Stats::workers)).
    pub index: usize,
    /// The worker's core group (0-based).
    pub group: usize,
    /// Whether the worker also serves weights homed in other groups.
    pub roams: bool,
}

/// The worker thread the calling code runs on, or `None` off the coordinator's
/// worker threads (IO threads included).
pub fn current_worker() -> Option<WorkerInfo> {
    let ctx = worker_context()?;
    let slot = &ctx.scheduler.workers[ctx.worker?];
    Some(WorkerInfo {
        index: slot.index,
        group: slot.group,
        roams: slot.roams,
    })
}
