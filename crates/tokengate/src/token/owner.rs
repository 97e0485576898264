//! [`Owner`]: what a token reports to, and asks of, whoever runs it.
//!
//! The token layer knows nothing of coordinators, lanes or workers. A token
//! carries an owner (the coordinator's per-call routing record) and calls down
//! into it through this trait: after each transition, when a killed body
//! returns, before a call leaves its queue, and when a thread blocks waiting on
//! the token. The owner decides what that means (counters, lane capacity,
//! domains, pauses, running the call inline). A stub owner is all a token
//! needs to be tested on its own.

use std::any::Any;
use std::time::Duration;

use super::again::Cause;
use super::{Header, JobRef};
#[cfg(feature = "tracing")]
use crate::TaskError;
use crate::TokenState;

/// The party a token reports to: implemented by the coordinator's per-call
/// route, and by stubs in tests.
pub(crate) trait Owner: Send + Sync + 'static {
    /// The token moved `from → to` at `now` (nanoseconds since the token
    /// epoch). Called exactly once per successful transition, right after the
    /// state changed; `held_slot` says the token gave up a lane slot with it.
    fn observe(&self, header: &Header, from: TokenState, to: TokenState, now: u64, held_slot: bool);

    /// The body of a call that was killed or timed out while running has
    /// returned (or never started): its thread is free of it.
    fn body_returned(&self, header: &Header);

    /// May the queued call leave its queue now? False while its owner holds it
    /// back (a pause of its operation).
    fn admissible(&self) -> bool;

    /// A queued call is about to be admitted: if its owner holds it back (a
    /// pause of its operation), the owner keeps `job` to release it later, in
    /// order, and returns true; the caller then drops its reference.
    fn hold_back(&self, job: &JobRef) -> bool;

    /// The caller dropped the token of `job`, which waits for a lane slot
    /// (`Waiting`, holding none): the owner may block here until it holds one,
    /// so that calls made and dropped faster than they run still feel the
    /// bound of their lane.
    fn dropped_waiting(&self, job: &JobRef);

    /// A thread is about to block until `job` resolves: if the call is still
    /// queued and may run on this thread, run it here (so that nested waits
    /// never deadlock). Returns whether it ran it.
    fn help(&self, job: &JobRef) -> bool;

    /// Parks the calling thread, which waits on a token of this owner, for at
    /// most `timeout` (`None`: until unparked); `round` counts this wait's
    /// parks so far. A thread that may be able to help later parks briefly.
    fn park(&self, timeout: Option<Duration>, round: u32);

    /// The running attempt's body failed (panicked, or could not produce a
    /// value: a lost worker process, say); `message` says how, and `panicked`
    /// whether it was a panic (in this process or a worker process). Told
    /// before the attempt is retried or the call resolves.
    fn attempt_failed(&self, header: &Header, message: &str, panicked: bool);

    /// The call resolved, to `error` or (`None`) to a value: told once per
    /// call that failed or is [`traced`](Header::traced), by whoever won its
    /// terminal transition, before its waiter is woken (so whoever sees the
    /// result sees what the owner did here).
    #[cfg(feature = "tracing")]
    fn resolved(&self, header: &Header, error: Option<&TaskError>) {
        let _ = (header, error);
    }

    /// The spans each attempt of a [`traced`](Header::traced) call runs in,
    /// unless it resolved: outer first, entered in that order on whichever
    /// thread runs the attempt, around it and its outcome, with their
    /// subscriber as that thread's default meanwhile. Either may be disabled
    /// (`Span::none()`).
    #[cfg(feature = "tracing")]
    fn body_spans(&self) -> Option<[tracing::Span; 2]> {
        None
    }

    /// An attempt of a call that may be retried failed with `cause`: returns
    /// the delay before the next attempt, or `None` to end the call with this
    /// attempt's outcome (no retries left, a cause its fn does not retry, or
    /// its owner stopping). [`Header::retried`] counts the attempts retried
    /// so far.
    fn retry_delay(&self, header: &Header, cause: Cause) -> Option<Duration>;

    /// The call moved back to `Waiting` for another attempt: re-admit it
    /// after `delay`, without holding a thread meanwhile.
    fn readmit_after(&self, job: JobRef, delay: Duration);

    /// Times `job` out `timeout` from now, if it has not finished by then
    /// (as the attribute's `timeout` does; the earliest deadline wins).
    fn time_out_after(&self, job: &JobRef, timeout: Duration);

    /// Does this call's body usually return within microseconds? Then a
    /// task awaiting it may wait a moment for the result before it parks
    /// (see [`await_briefly`](super::wait::await_briefly)).
    fn quick(&self) -> bool {
        false
    }

    /// The owner as `Any`, so the layer that made it can recover its type.
    fn as_any(&self) -> &dyn Any;
}
