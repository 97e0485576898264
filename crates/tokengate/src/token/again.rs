//! Retries: what lets a call's body run again after a failed attempt, on the
//! same token.
//!
//! A call whose fn has `retries` carries an [`Again`]: a factory for fresh
//! bodies (the attribute's expansion clones the arguments for each attempt)
//! and, for `retry_on = "err"`, a test that says whether a returned value is
//! a failure. When an attempt fails, the cell asks its owner whether to try
//! again ([`Owner::retry_delay`](super::Owner::retry_delay)); if so it puts a
//! fresh body in place, moves `Executing → Waiting` (the one backward edge of
//! the state machine) and hands the call back to its owner, which re-admits
//! it after the delay. A kill or a timeout that lands first wins: the move
//! fails, and the call resolves as killed or timed out. The token resolves
//! once, with the last attempt's outcome.

use std::fmt;

/// Makes fresh bodies for a retried call, and tells failures among its values.
pub(crate) struct Again<T, F> {
    /// The next attempt's body.
    pub(crate) make: Box<dyn Fn() -> F + Send + Sync>,
    /// Whether a returned value is a failure to retry (`retry_on = "err"`).
    pub(crate) is_err: Option<fn(&T) -> bool>,
}

impl<T, F> fmt::Debug for Again<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Again")
            .field("tests_values", &self.is_err.is_some())
            .finish_non_exhaustive()
    }
}

/// A call's body as it is made: run once, or retried with fresh bodies.
#[derive(Debug)]
pub(crate) enum Body<T, F> {
    Once(F),
    Again(Again<T, F>),
}

impl<T, F> Body<T, F> {
    /// The first attempt's body, for a call that runs only once wherever it
    /// runs (inline in a worker process).
    pub(crate) fn first(self) -> F {
        match self {
            Body::Once(f) => f,
            Body::Again(again) => (again.make)(),
        }
    }
}

/// Why an attempt failed, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The body panicked.
    Panic,
    /// The worker process running it died.
    WorkerLost,
    /// The attempt ran past its own deadline (`retry_on = "timeout"`).
    Timeout,
    /// The body returned a value its fn calls a failure (`retry_on = "err"`).
    Err,
}
