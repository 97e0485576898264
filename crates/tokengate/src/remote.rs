//! Remote calls: `remote = true` fns run on worker hosts, reached through a
//! broker, and their tokens resolve here.
//!
//! The attribute's `remote` key sends a fn's calls to other machines without
//! changing the fn: its arguments and value cross as in the process pool
//! (serde, checked at compile time), and a worker host finds it by op name in
//! the same registry. The broker client is a [`RemoteBackend`], plugged in
//! with [`CoordinatorBuilder::remote`](crate::CoordinatorBuilder::remote);
//! `tokengate-remote` provides one over NATS JetStream, and its
//! `Worker::nats(url)` serves the jobs on a worker host, through [`execute`].
//!
//! Without a backend, a coordinator runs `remote` calls in its own process
//! pool, with the same encoding and the same errors, so tests, doctests and
//! local development need no broker:
//!
//! ```
//! use tokengate::{OperationsCoordinator, task_token_guard};
//!
//! #[task_token_guard(op = "word_count", weight = "heavy", remote = true)]
//! fn word_count(text: String) -> (usize, u32) {
//!     (text.split_whitespace().count(), std::process::id())
//! }
//!
//! let coordinator = OperationsCoordinator::start(); // no backend
//! let (words, pid) = word_count("to be or not to be".to_owned()).wait().unwrap();
//! assert_eq!(words, 6);
//! assert_ne!(pid, std::process::id()); // a worker process of the local pool
//! assert!(coordinator.stats().remote.is_none());
//! coordinator.stop();
//! ```
//!
//! # With a backend
//!
//! A remote call is admitted, counted, paused, drained and killed like any
//! call. Once admitted it is handed to the backend from the thread that
//! admits it (or, when the backend's in-flight window is full, from the
//! coordinator's admission thread as room frees) and holds no worker thread
//! while it runs elsewhere: its token resolves from the backend's thread when
//! the outcome comes back.
//!
//! | event | on the caller | on the worker host |
//! |---|---|---|
//! | value, `Err` value | the token resolves with it | - |
//! | panic | [`is_panic`](crate::TaskError::is_panic), with the message | the host lives on |
//! | `timeout` passes | [`is_timeout`](crate::TaskError::is_timeout) at the deadline, whatever the host does | told to stop it; skips it if it has not started |
//! | [`kill`](crate::TaskToken::kill) | killed at once | told to stop it (best effort) |
//! | window full | the call waits (`Waiting`), or is rejected per [`FullLanePolicy`](crate::FullLanePolicy) | - |
//! | broker down at submit | after the backend's publish attempts: [`is_remote_unavailable`](crate::TaskError::is_remote_unavailable) | - |
//! | host dies mid-call | resolves from the redelivery to another host | - |
//! | every host it reaches dies | [`is_worker_lost`](crate::TaskError::is_worker_lost) | - |
//!
//! Execution is at least once (a host that dies after finishing, before it
//! acknowledged the call, leaves the call to run again elsewhere); outcomes
//! are exactly once: the token resolves once, and a second result is dropped
//! and counted ([`RemoteStats::duplicates_dropped`]).
//!
//! [`RemoteStats::workers`] lists the worker hosts the backend has heard
//! from lately, each with its pool, slots and busy slots (a backend that
//! cannot tell leaves it empty).
//!
//! A thread running a remote fn on its host sees
//! [`is_cancelled`](crate::is_cancelled) after a kill or past the deadline; a
//! `remote` fn with `process_pool = true` runs in the host's process pool,
//! whose process is ended instead.
//!
//! # Remote leads
//!
//! A `remote` fn with `external_calls` runs on its worker host as a lead of
//! the host's coordinator ([`run_job`] makes it one), and its children run
//! there with it: listed thread fns in the lead's domain and worker group,
//! listed `remote` fns the same way, as the host runs their jobs, never
//! published again (also by a host whose coordinator has a backend of its
//! own). When [`execute`] kills a lead (a kill message, or its deadline), it
//! kills the lead's children too
//! ([`KillReason::Lead`](crate::KillReason::Lead)), and any child the lead's
//! body makes after that is killed as it is made.
//!
//! [`RemoteStats::duplicates_dropped`]: crate::stats::RemoteStats::duplicates_dropped
//! [`RemoteStats::workers`]: crate::stats::RemoteStats::workers

pub use crate::coordinator::remote::{
    ConnectRemote, RemoteBackend, RemoteDone, RemoteJob, RemoteOutcome, RemotePermit,
};
#[cfg(feature = "process")]
#[cfg_attr(docsrs, doc(cfg(feature = "process")))]
pub use crate::coordinator::remote::{JobFailure, execute, run_job};
pub use crate::stats::{RemoteConnection, RemoteStats, RemoteWorker};

/// The pool a `remote = true` fn's calls go to; `remote = "name"` names
/// another.
pub const DEFAULT_POOL: &str = "default";
