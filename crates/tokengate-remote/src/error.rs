//! The error a caller or worker fails to start with.

use std::fmt;

/// Why [`Caller::connect`](crate::Caller::connect) or
/// [`Worker::start`](crate::Worker::start) failed: a configuration value out
/// of range, a broker that could not be reached or set up, a broker whose
/// streams were set up with other settings, or a worker host's coordinator
/// that could not start.
///
/// Failures of single jobs are never an `Error`: they are [`Outcome`]s.
///
/// [`Outcome`]: crate::Outcome
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: Kind,
    message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Config,
    Broker,
    Host,
    Mismatch,
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Error {
        Error {
            kind: Kind::Config,
            message: message.into(),
        }
    }

    pub(crate) fn broker(message: impl Into<String>) -> Error {
        Error {
            kind: Kind::Broker,
            message: message.into(),
        }
    }

    pub(crate) fn mismatch(message: impl Into<String>) -> Error {
        Error {
            kind: Kind::Mismatch,
            message: message.into(),
        }
    }

    pub(crate) fn host(message: impl Into<String>) -> Error {
        Error {
            kind: Kind::Host,
            message: message.into(),
        }
    }

    /// Whether a configuration value was refused (nothing was contacted).
    pub fn is_config(&self) -> bool {
        self.kind == Kind::Config
    }

    /// Whether the broker holds a namespace set up with other settings than
    /// this side's [`Topology`](crate::Topology) (a caller and its workers
    /// that disagree on `max_deliver`, say), or streams made for something
    /// else under its names. The message names each setting, with the
    /// broker's value and this side's.
    pub fn is_mismatch(&self) -> bool {
        self.kind == Kind::Mismatch
    }

    /// Whether the broker could not be reached, or refused to set up the
    /// streams and consumers.
    pub fn is_broker(&self) -> bool {
        self.kind == Kind::Broker
    }

    /// Whether a worker host ([`Worker::nats`](crate::Worker::nats)) could not
    /// get the coordinator its jobs run on.
    pub fn is_host(&self) -> bool {
        self.kind == Kind::Host
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .finish()
    }
}

impl std::error::Error for Error {}
