//! Blocking on a token from sync code: [`TaskToken::wait`](crate::TaskToken::wait)
//! and [`wait_timeout`](crate::TaskToken::wait_timeout).
//!
//! The waiting thread registers a waker that unparks it, spins briefly (a
//! result that is microseconds away is picked up without a park/unpark pair),
//! then parks. Before each park it asks the token's owner for help: a thread
//! that may run the still-queued call itself does so (that is how a guarded fn
//! waiting on guarded calls never deadlocks). The owner also decides how the
//! thread parks, so a worker thread that may be able to help later parks
//! briefly and retries.

use std::sync::Arc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, Instant};

use super::Completion;
use super::context::thread_waker;
use crate::{TaskError, TokenState};

/// Spin rounds before parking.
const SPIN_ROUNDS: u32 = 64;

/// How long the first poll of an awaited quick call may wait for its result.
const AWAIT_SPIN: Duration = Duration::from_micros(20);

/// On the first poll of a token, waits up to [`AWAIT_SPIN`] for the result
/// if the call is already with a worker (admitted or running) and its owner
/// says its body is [`quick`](super::Owner::quick).
///
/// Why: an executor thread that parks is woken by the worker that finishes
/// the call, and waking a thread whose CPU went idle costs 20 to 50 µs on a
/// virtual machine, ten times a quick call's whole round trip. The wait is
/// bounded, happens once per token, and only where the result is likely to
/// come within it; a call still queued, or one whose body takes longer, parks
/// at once as any future does.
pub(crate) fn await_briefly<T>(cell: &dyn Completion<T>) {
    let header = cell.header();
    let with_worker = || matches!(header.state(), TokenState::Admitted | TokenState::Executing);
    if !with_worker() || !cell.as_job().owner().is_some_and(|owner| owner.quick()) {
        return;
    }
    let start = Instant::now();
    // The state turns terminal a moment before the result is stored.
    let arrived = || !with_worker() && (!header.state().is_terminal() || cell.ready());
    loop {
        for _ in 0..64 {
            if arrived() {
                return;
            }
            std::hint::spin_loop();
        }
        if start.elapsed() >= AWAIT_SPIN {
            return;
        }
    }
}

/// Blocks the calling thread until `cell` resolves or `deadline` passes.
pub(crate) fn wait_for<T>(
    cell: &Arc<dyn Completion<T>>,
    deadline: Option<Instant>,
) -> Option<Result<T, TaskError>> {
    let waker = thread_waker();
    let job = cell.clone().job();
    let owner = job.owner();
    let mut spins = 0;
    let mut parks = 0;
    loop {
        if let Poll::Ready(result) = cell.poll_result(&waker) {
            return Some(result);
        }
        if owner.is_some_and(|owner| owner.help(&job)) {
            continue;
        }
        let header = cell.header();
        if spins < SPIN_ROUNDS {
            spins += 1;
            for _ in 0..32 {
                if header.state().is_terminal() {
                    break;
                }
                std::hint::spin_loop();
            }
            continue;
        }
        let timeout = match deadline {
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return None,
            },
            None => None,
        };
        match owner {
            Some(owner) => owner.park(timeout, parks),
            None => match timeout {
                Some(timeout) => thread::park_timeout(timeout),
                None => thread::park(),
            },
        }
        parks += 1;
    }
}
