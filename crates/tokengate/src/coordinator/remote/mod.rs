//! Remote calls at the coordinator: the contract a broker client fulfils
//! ([`RemoteBackend`]), handing admitted `remote` calls to it without a
//! thread (`dispatch.rs`), and running the calls a worker host receives
//! (`host.rs`).
//!
//! The core has no broker client of its own: `tokengate-remote` implements
//! [`RemoteBackend`] over NATS JetStream (its `Caller`), and
//! [`CoordinatorBuilder::remote`](crate::CoordinatorBuilder::remote) plugs it
//! in. The core stays free of async runtimes and network code.

mod call;
mod dispatch;
#[cfg(feature = "process")]
mod host;

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use call::{RemoteCall, fold_key};
pub(crate) use dispatch::RemoteLink;
#[cfg(feature = "process")]
pub use host::{JobFailure, execute, run_job};
#[cfg(feature = "process")]
pub(crate) use host::{hosted_child, submit_hosted};

use crate::stats::RemoteStats;
use crate::{TokenId, Weight};

/// What a coordinator hands its `remote` calls to: the client side of a
/// broker, which queues each call for worker hosts and delivers its outcome
/// back.
///
/// A coordinator with a backend calls it from whatever thread admits or
/// dispatches a call, and never waits on it: every method must return at
/// once. In-flight calls are bounded by the backend's window: the
/// coordinator takes room with [`try_reserve`](Self::try_reserve) before it
/// takes a call out of its queue, so a full window leaves calls waiting in
/// the coordinator (`Waiting`, counted, pausable, drainable, killable), not
/// in the backend.
///
/// `tokengate-remote` implements it for NATS JetStream; see that crate for
/// the broker's side (delivery, redelivery, poison calls, partitions).
///
/// # Contract
///
/// - [`submit`](Self::submit) runs its `on_done` **exactly once**, on any
///   thread, with the call's outcome; a later outcome for the same
///   `(token, attempt)` (a second result of a call that ran twice) is
///   dropped by the backend.
/// - [`kill`](Self::kill) of a call in flight runs its `on_done` with
///   [`RemoteOutcome::Cancelled`] at once (on the calling thread), and stops
///   the call on its worker host if it can.
/// - `on_done` and the `wake` of [`when_capacity`](Self::when_capacity) only
///   hand on: they do not block.
pub trait RemoteBackend: Send + Sync + 'static {
    /// Room for one call in the in-flight window, if there is some now.
    /// Dropping the permit unused gives the room back.
    fn try_reserve(&self) -> Option<RemotePermit>;

    /// Runs `wake` once the window may have room: at once (on this thread)
    /// if it has room now, else when a call in flight resolves. Room is not
    /// held for it: the coordinator tries [`try_reserve`](Self::try_reserve)
    /// again, and registers again if that fails.
    fn when_capacity(&self, wake: Box<dyn FnOnce() + Send>);

    /// Sends `job`, which holds `permit`'s room until its outcome is
    /// delivered to `on_done`, exactly once. Never blocks. A job the backend
    /// refuses at once (its arguments are too large, say) resolves on this
    /// thread.
    fn submit(&self, permit: RemotePermit, job: RemoteJob, on_done: RemoteDone);

    /// Kills attempt `attempt` of call `token` if it is in flight: its
    /// `on_done` runs at once with [`RemoteOutcome::Cancelled`], and its
    /// worker host is told to stop it (best effort: a worker that misses the
    /// message finishes it, and that result is dropped).
    fn kill(&self, token: TokenId, attempt: u32);

    /// The backend's figures now. The coordinator fills in
    /// [`waiting`](RemoteStats::waiting) and [`in_line`](RemoteStats::in_line)
    /// itself.
    fn stats(&self) -> RemoteStats;

    /// Closes the backend when its coordinator stops: calls still in flight
    /// resolve (as [`RemoteOutcome::Unavailable`]) and its connection ends.
    fn close(&self);
}

/// A call's outcome callback: see [`RemoteBackend::submit`].
pub type RemoteDone = Box<dyn FnOnce(RemoteOutcome) + Send + 'static>;

/// Room for one call in a backend's in-flight window, from
/// [`RemoteBackend::try_reserve`]: whatever the backend keeps for it, given
/// back to [`submit`](RemoteBackend::submit) or dropped (which gives the room
/// back, if the backend's value does so on drop).
pub struct RemotePermit(Box<dyn Any + Send>);

impl RemotePermit {
    /// A permit holding `room`, the backend's own record of it.
    pub fn new(room: impl Any + Send) -> RemotePermit {
        RemotePermit(Box::new(room))
    }

    /// The backend's record, to take back in
    /// [`submit`](RemoteBackend::submit) (`downcast` it to its type).
    pub fn into_inner(self) -> Box<dyn Any + Send> {
        self.0
    }
}

impl fmt::Debug for RemotePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemotePermit").finish_non_exhaustive()
    }
}

/// One attempt of a `remote` call, as the coordinator hands it to its
/// backend.
///
/// `(token, attempt)` names it uniquely in the calling process: a backend
/// makes its broker-wide id from them and its own unique id (a retried call
/// sends each attempt as a job of its own).
#[non_exhaustive]
pub struct RemoteJob {
    /// The call's token.
    pub token: TokenId,
    /// Attempts of the call that failed and were retried before this one
    /// (0 for the first).
    pub attempt: u32,
    /// The op name, which the worker host finds the fn by.
    pub op: &'static str,
    /// The pool of worker hosts it goes to (`remote = "pool"`; `"default"`
    /// for `remote = true`).
    pub pool: &'static str,
    /// The call's weight, so hosts can serve different weights.
    pub weight: Weight,
    /// For a `sticky_anchor` fn: its domain (anchor and key) folded into 64
    /// bits. Calls with equal keys are to run one at a time, in submission
    /// order.
    pub sticky: Option<u64>,
    /// The time the call may still take, from now: what is left of its
    /// `timeout` (per attempt, under `retry_on = ["timeout"]`). The
    /// coordinator times the call out at its deadline whatever the backend
    /// does; this lets worker hosts skip or stop work nobody waits for.
    pub budget: Option<Duration>,
    /// The encoded arguments (the process pool's encoding).
    pub args: Vec<u8>,
}

impl fmt::Debug for RemoteJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJob")
            .field("token", &self.token)
            .field("attempt", &self.attempt)
            .field("op", &self.op)
            .field("pool", &self.pool)
            .field("weight", &self.weight)
            .field("sticky", &self.sticky)
            .field("budget", &self.budget)
            .field("args", &format_args!("<{} bytes>", self.args.len()))
            .finish()
    }
}

/// How one attempt of a `remote` call ended, as its backend reports it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteOutcome {
    /// The fn returned; its encoded value.
    Value(Vec<u8>),
    /// The fn panicked with this message. The call fails as a panic does
    /// ([`TaskError::is_panic`](crate::TaskError::is_panic)).
    Panic(String),
    /// The call could not be carried out (a value that did not cross, an op
    /// the host does not have, a call the broker refused): a
    /// [`TaskError::is_process_failure`](crate::TaskError::is_process_failure).
    Error(String),
    /// The worker host found the call past its deadline.
    TimedOut(String),
    /// Delivered as often as the broker allows, and every worker host it
    /// reached died: a
    /// [`TaskError::is_worker_lost`](crate::TaskError::is_worker_lost).
    WorkerLost(String),
    /// The broker did not take the call, or the backend closed first: a
    /// [`TaskError::is_remote_unavailable`](crate::TaskError::is_remote_unavailable).
    Unavailable(String),
    /// Killed through [`RemoteBackend::kill`].
    Cancelled,
}

impl fmt::Debug for RemoteOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoteOutcome::Value(bytes) => write!(f, "Value(<{} bytes>)", bytes.len()),
            RemoteOutcome::Panic(msg) => f.debug_tuple("Panic").field(msg).finish(),
            RemoteOutcome::Error(msg) => f.debug_tuple("Error").field(msg).finish(),
            RemoteOutcome::TimedOut(msg) => f.debug_tuple("TimedOut").field(msg).finish(),
            RemoteOutcome::WorkerLost(msg) => f.debug_tuple("WorkerLost").field(msg).finish(),
            RemoteOutcome::Unavailable(msg) => f.debug_tuple("Unavailable").field(msg).finish(),
            RemoteOutcome::Cancelled => f.write_str("Cancelled"),
        }
    }
}

/// What [`CoordinatorBuilder::remote`](crate::CoordinatorBuilder::remote)
/// takes: settings that connect a [`RemoteBackend`] when the coordinator
/// starts (`tokengate_remote::Remote::nats(url)`), or a backend connected
/// already (an `Arc` of it).
pub trait ConnectRemote: Send + Sync + fmt::Debug + 'static {
    /// Connects the backend; called once, by
    /// [`CoordinatorBuilder::start`](crate::CoordinatorBuilder::start), whose
    /// error then carries this one's message.
    ///
    /// # Errors
    ///
    /// When the backend cannot be set up: its broker cannot be reached, or a
    /// setting is out of range. The message should say what to do.
    fn connect(&self) -> Result<Arc<dyn RemoteBackend>, Box<dyn std::error::Error + Send + Sync>>;
}

impl<B: RemoteBackend + fmt::Debug> ConnectRemote for Arc<B> {
    /// The backend itself, connected already.
    fn connect(&self) -> Result<Arc<dyn RemoteBackend>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(self.clone())
    }
}
