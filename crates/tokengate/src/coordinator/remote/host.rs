//! The worker host's side: a job that came through the broker runs as a
//! guarded call of the host's own coordinator, found by op name in the
//! registry the attribute fills (the process pool's).
//!
//! A `remote` fn runs on one of the host coordinator's worker threads, where
//! [`is_cancelled`](crate::is_cancelled) tells it of a kill or a deadline; a
//! `remote` fn that is also `process_pool = true` runs in the host's own
//! process pool, under its `memory_limit`, and a kill or deadline ends its
//! process there. Either way the host's coordinator admits, counts and limits
//! it like any call of its own.

use std::time::Duration;

use super::super::Call;
use super::super::handle::Handle;
use crate::TaskToken;
use crate::error::{Failure, Reason, TaskError};
use crate::process::codec::{self, Side};
use crate::process::registry;
use crate::token::{Body, Cell, Header, next_id};

/// How often [`execute`] looks at its `cancelled` test while the call runs.
const CANCEL_POLL: Duration = Duration::from_millis(5);

/// Why a job run by [`execute`] produced no value: what a worker host sends
/// back instead.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobFailure {
    /// The fn panicked with this message.
    Panic(String),
    /// The job could not run or did not finish: no `remote` fn has its op
    /// name here, a value did not cross, or the call was killed or failed on
    /// the host. The message says which.
    Error(String),
}

/// Starts one job of a `remote` fn on the coordinator `handle` names: the fn
/// registered under `op`, with the encoded `args`, as a guarded call of that
/// coordinator (on a worker thread, or in its process pool for a
/// `process_pool = true` fn). The token's value is the encoded return value.
///
/// This is what a worker host does with each job it takes from its broker
/// (`tokengate_remote::Worker::nats` calls it); it is public so that other
/// transports can do the same. A job for an op that has no `remote` fn in
/// this executable resolves at once with an error that says so.
///
/// ```
/// use tokengate::{OperationsCoordinator, task_token_guard};
///
/// #[task_token_guard(op = "triple", remote = true)]
/// fn triple(x: u32) -> u32 {
///     3 * x
/// }
///
/// let host = OperationsCoordinator::start();
/// // The arguments as a caller encodes them: a tuple, in postcard.
/// let args = postcard::to_allocvec(&(14_u32,)).unwrap();
/// let value = tokengate::remote::run_job(&host, "triple", args).wait().unwrap();
/// assert_eq!(postcard::from_bytes::<u32>(&value).unwrap(), 42);
/// // What a caller with no remote backend gets: the same, in its process pool.
/// assert_eq!(triple(14).wait().unwrap(), 42);
///
/// let unknown = tokengate::remote::run_job(&host, "no_such_op", Vec::new());
/// assert!(unknown.wait().unwrap_err().is_process_failure());
/// host.stop();
/// ```
pub fn run_job(handle: &Handle, op: &str, args: Vec<u8>) -> TaskToken<Vec<u8>> {
    let shared = &handle.shared;
    let Some((entry, remote)) = registry::find(op).and_then(|f| Some((f, f.remote?))) else {
        let exe = std::env::current_exe().unwrap_or_default();
        let reason = Reason::RemoteFailed(format!(
            "no `remote` fn named `{op}` is linked into this worker host's executable ({}); \
             worker hosts must run a build that has the caller's `remote` fns",
            exe.display()
        ));
        let header = Header::new(next_id(), "<unknown remote op>", Default::default(), None);
        return TaskToken::from_cell(
            Cell::<_, fn() -> Vec<u8>, super::super::route::Route>::failed(header, reason),
        );
    };
    let call = Call::plain(entry.op, remote.weight, None);
    if remote.isolated {
        let pool = shared.process.clone();
        let body = move || {
            let copy = move |out: &mut Vec<u8>| {
                out.extend_from_slice(&args);
                Ok(())
            };
            crate::process::dispatch(Some(&pool), entry, remote.memory_limit, copy, |bytes| {
                Ok(bytes.to_vec())
            })
        };
        return shared.submit(call, Body::Once(body));
    }
    let body = move || {
        let mut out = Vec::new();
        match (entry.run)(&args, &mut out) {
            Ok(()) => out,
            Err(err) => Failure::raise(Reason::Process(codec::locate(
                &err,
                Side::Host(std::process::id()),
            ))),
        }
    };
    shared.submit(call, Body::Once(body))
}

/// Runs one job as [`run_job`] does and waits for it on this thread, killing
/// the call as soon as `cancelled` returns true (it is asked every few
/// milliseconds). Returns the encoded value, or why there is none, with the
/// message a caller should see (without the host's own error wording around
/// it).
///
/// This is a worker host's executor: `tokengate_remote::Worker::nats`
/// calls it on one of its slots for each job, with the job's cancel flag.
pub fn execute(
    handle: &Handle,
    op: &str,
    args: Vec<u8>,
    cancelled: &dyn Fn() -> bool,
) -> Result<Vec<u8>, JobFailure> {
    let mut token = run_job(handle, op, args);
    let mut killed = false;
    let result = loop {
        if let Some(result) = token.wait_timeout(CANCEL_POLL) {
            break result;
        }
        if !killed && cancelled() {
            killed = token.kill();
        }
    };
    result.map_err(|err| failure(&err))
}

/// What a host sends back for `err`.
fn failure(err: &TaskError) -> JobFailure {
    if let Some(message) = err.panic_message() {
        return JobFailure::Panic(message.to_owned());
    }
    match err.reason() {
        // Already worded for the caller, which adds its own frame.
        Reason::Process(message) | Reason::RemoteFailed(message) => {
            JobFailure::Error(message.clone())
        }
        _ => JobFailure::Error(format!("on the worker host: {err}")),
    }
}
