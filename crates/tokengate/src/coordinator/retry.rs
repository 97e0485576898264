//! Retries at the coordinator: which failed attempts get another one, after
//! what backoff, and re-admitting the call when its backoff is over (see the
//! token layer's `again` for how an attempt hands its call back).
//!
//! The backoff doubles per attempt from the fn's `retry_backoff`, capped at
//! [`MAX_BACKOFF`], with *full jitter*: the delay is drawn uniformly between
//! zero and that bound, so retries of many calls that failed together spread
//! out instead of arriving together. The call waits on the coordinator's
//! timer, holding no thread, and re-enters admission like a new call: pauses,
//! its limit and its operation's block apply to it.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::route::{Route, route_of};
use super::shared::Shared;
use super::timer::Action;
use crate::TokenState;
use crate::error::Reason;
#[cfg(feature = "process")]
use crate::scheduler::Path;
use crate::token::{Cause, Header, JobRef, epoch, terminate_with};

/// The longest backoff between two attempts.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The default `retry_backoff`.
pub(crate) const DEFAULT_BACKOFF: Duration = crate::__private::DEFAULT_RETRY_BACKOFF;

/// What ends an attempt with a retry, when its fn has `retries`; see
/// [`RetryingTask::retry_on`](crate::RetryingTask::retry_on) and the
/// attribute's `retry_on` key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryOn {
    /// The body panicked.
    Panic,
    /// The worker process of a `process_pool` call died.
    WorkerLost,
    /// The attempt ran past the fn's `timeout`, which then bounds each
    /// attempt rather than the whole call.
    Timeout,
    /// The body returned a value its fn calls a failure: an `Err`.
    Err,
}

impl RetryOn {
    /// The causes retried when none are named: panics and lost workers.
    pub const DEFAULT: [RetryOn; 2] = [RetryOn::Panic, RetryOn::WorkerLost];

    /// The cause as the attribute's expansion writes it.
    pub(crate) const fn bit(self) -> u8 {
        use crate::__private::{RETRY_ERR, RETRY_PANIC, RETRY_TIMEOUT, RETRY_WORKER_LOST};
        match self {
            RetryOn::Panic => RETRY_PANIC,
            RetryOn::WorkerLost => RETRY_WORKER_LOST,
            RetryOn::Timeout => RETRY_TIMEOUT,
            RetryOn::Err => RETRY_ERR,
        }
    }

    fn of(cause: Cause) -> RetryOn {
        match cause {
            Cause::Panic => RetryOn::Panic,
            Cause::WorkerLost => RetryOn::WorkerLost,
            Cause::Timeout => RetryOn::Timeout,
            Cause::Err => RetryOn::Err,
        }
    }
}

/// A call's retry settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Attempts after the first.
    pub(crate) retries: u32,
    /// The first backoff; each later one doubles (before jitter).
    pub(crate) backoff: Duration,
    /// [`RetryOn`] bits.
    pub(crate) on: u8,
}

impl RetryPolicy {
    pub(crate) fn retries(&self, cause: Cause) -> bool {
        self.on & RetryOn::of(cause).bit() != 0
    }

    /// Whether the fn's `timeout` bounds each attempt (`retry_on = "timeout"`)
    /// rather than the whole call.
    pub(crate) fn per_attempt_timeout(&self) -> bool {
        self.on & RetryOn::Timeout.bit() != 0
    }

    /// The delay before attempt `retried + 1`: full jitter under a doubling
    /// bound.
    pub(crate) fn backoff(&self, retried: u32) -> Duration {
        let bound = self
            .backoff
            .checked_mul(1 << retried.min(20))
            .unwrap_or(MAX_BACKOFF)
            .min(MAX_BACKOFF);
        let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(random() % nanos.saturating_add(1))
    }
}

/// A per-thread xorshift generator, for jitter only.
fn random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    STATE.with(|state| {
        let mut x = state.get();
        if x == 0 {
            // std's per-instance random hash keys, as a seed.
            x = RandomState::new().build_hasher().finish() | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x
    })
}

impl Shared {
    /// Whether attempt `header.retried()` of a call with `policy` gets another
    /// one after failing with `cause`, and after how long.
    pub(crate) fn retry_delay(
        &self,
        policy: &RetryPolicy,
        header: &Header,
        cause: Cause,
    ) -> Option<Duration> {
        let retried = header.retried();
        (self.is_running() && retried < policy.retries && policy.retries(cause))
            .then(|| policy.backoff(retried))
    }

    /// A retried call's backoff is over: it enters admission again, unless it
    /// was killed meanwhile (or the coordinator stopped: the stop resolves it).
    pub(crate) fn readmit(&self, job: JobRef) {
        if let Some(route) = route_of(&*job) {
            route.in_backoff.store(false, Ordering::SeqCst);
        }
        let header = job.header();
        if header.state() != TokenState::Waiting || !self.is_running() {
            return;
        }
        self.enter(job);
    }

    /// An attempt of a call whose `timeout` bounds each attempt started at
    /// `now` (token epoch nanoseconds): its deadline is set.
    pub(crate) fn start_attempt(&self, route: &Route, header: &Header, now: u64) {
        let Some(timeout) = header.timeout else {
            return;
        };
        if !route.retry.is_some_and(|p| p.per_attempt_timeout()) {
            return;
        }
        let started = epoch() + Duration::from_nanos(now);
        if let (Some(deadline), Some(job)) =
            (started.checked_add(timeout), self.registry.get(header.id))
        {
            self.timer.end_attempt(&job, deadline, header.retried());
        }
    }

    /// The timer's action on a live call.
    pub(crate) fn fire(&self, job: JobRef, action: Action) {
        match action {
            Action::TimeOut(after) => {
                terminate_with(&*job, TokenState::TimedOut, Reason::TimedOut(after));
            }
            Action::Readmit => self.readmit(job),
            Action::Expire(after) => self.expire(&job, after),
            Action::EndAttempt(attempt) => {
                let last = route_of(&*job)
                    .and_then(|route| route.retry)
                    .is_none_or(|policy| attempt >= policy.retries);
                let after = job.header().timeout.unwrap_or_default();
                if last {
                    // No retry could follow: the call times out now, as one
                    // without retries would.
                    if job.header().retried() == attempt {
                        terminate_with(&*job, TokenState::TimedOut, Reason::TimedOut(after));
                    }
                } else if job.header().cancel_attempt(attempt)
                    && let Some(route) = route_of(&*job)
                {
                    // A remote attempt is stopped at its backend, a process
                    // attempt in its worker process; their answer ends the
                    // attempt as timed out, and the next follows.
                    if route.remote.is_some() {
                        self.kill_remote(job.header());
                    }
                    #[cfg(feature = "process")]
                    if matches!(route.path, Path::Process) {
                        self.kill_process(route, job.header());
                    }
                }
                // Otherwise its body sees `is_cancelled()`; when it returns,
                // the attempt counts as timed out and the next one follows.
            }
        }
    }
}
