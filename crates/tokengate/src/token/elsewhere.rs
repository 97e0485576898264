//! Attempts that run elsewhere: a body its owner hands to something outside
//! this process's threads (a remote worker, through a broker), whose outcome
//! arrives later, on whatever thread delivers it.
//!
//! Such a call moves through the same states as any other. Its owner moves it
//! `Admitted → Executing`, takes its body out of the slot unrun
//! ([`Job::take_body`](super::Job::take_body)), sends the call away, and when
//! the outcome comes back hands it to
//! [`Job::settle_elsewhere`](super::Job::settle_elsewhere). From there on it is settled exactly as a
//! body that returned on a thread: a retry if its fn retries that failure, else
//! `Executing → Completed/Failed/TimedOut`, or, when a kill or a timeout won
//! first, the late outcome is dropped and the owner told that the body
//! "returned". So a call that runs elsewhere still resolves exactly once.

use std::any::Any;
use std::fmt;

use crate::error::Reason;

/// How an attempt that ran elsewhere ended, as its owner reports it.
pub(crate) enum Settled {
    /// The value, a `T` of the call (boxed, since the owner does not know
    /// `T`); any other type is a bug of the owner, reported as a failure.
    Value(Box<dyn Any + Send>),
    /// The body panicked with this message: a panic, as on a thread (retried
    /// under `retry_on = "panic"`).
    Panicked(String),
    /// No value, for this reason.
    Failed(Reason),
}

impl fmt::Debug for Settled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Settled::Value(_) => f.write_str("Value(..)"),
            Settled::Panicked(message) => f.debug_tuple("Panicked").field(message).finish(),
            Settled::Failed(reason) => f.debug_tuple("Failed").field(reason).finish(),
        }
    }
}
