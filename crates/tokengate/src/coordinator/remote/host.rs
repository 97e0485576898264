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
//!
//! A `remote` lead (`external_calls`) runs as a lead of the host's
//! coordinator, whose domain its body marks *hosted* before the fn runs:
//!
//! ```text
//! job ─▶ run_job: a lead call ─▶ body: domain.host(), then the fn
//!                                   ├─ listed thread fn ─▶ a child here (lead's group)
//!                                   └─ listed remote fn ─▶ submit_hosted: a child here,
//!                                                          as a job of this host would run
//! kill / deadline ─▶ execute: kill the lead ─▶ end_domain: kill its members,
//!                                              refuse members made later
//! ```

use std::sync::Arc;
use std::time::Duration;

use super::super::Call;
use super::super::handle::Handle;
use super::super::lead::{LeadDomain, SeedFrom};
use super::super::route::route_of;
use super::super::shared::Shared;
use crate::error::{Failure, KillReason, Reason, TaskError};
use crate::fingerprint::DigestPolicy;
use crate::process::codec::{self, Side};
use crate::process::registry::{self, ProcessFn};
use crate::scheduler::with_current;
use crate::token::{Again, Body, Cell, Header, kill, next_id};
use crate::{TaskToken, TokenState};

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
/// this executable resolves at once with an error that says so. A remote
/// lead's job (`external_calls`) runs as a lead of this coordinator: its
/// children run here, the `remote` ones too (see the
/// [module docs](crate::remote#remote-leads)).
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
    let mut call = Call::plain(entry.op, remote.weight, None);
    call.lead = remote.lead.map(|calls| (calls, HOSTED_SEED));
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
    let body = move || run_here(entry, &args);
    shared.submit(call, Body::Once(body))
}

/// What a hosted lead's seed is made from: its token id on the host, so each
/// remote lead is a domain of its own there (a keyed remote lead is refused
/// at compile time: leads of equal keys may run on different hosts).
const HOSTED_SEED: SeedFrom = SeedFrom {
    key: None,
    digest: DigestPolicy::Full,
};

/// Runs `entry`'s fn on `args` on this thread, as the body of a call of this
/// host: marks the call's lead domain hosted first, if it leads one.
fn run_here(entry: &'static ProcessFn, args: &[u8]) -> Vec<u8> {
    with_current(|job| {
        if let Some(domain) = job.and_then(route_of).and_then(|route| route.lead.as_ref()) {
            domain.host();
        }
    });
    let mut out = Vec::new();
    match (entry.run)(args, &mut out) {
        Ok(()) => out,
        Err(err) => Failure::raise(Reason::Process(codec::locate(
            &err,
            Side::Host(std::process::id()),
        ))),
    }
}

/// The coordinator a `remote` call of `op` made on this thread runs on, here,
/// instead of going through a broker: inside a `remote` lead that runs on
/// its worker host (or one of its children), for an op the lead lists.
pub(crate) fn hosted_child(op: &str) -> Option<Arc<Shared>> {
    with_current(|job| {
        let route = route_of(job?)?;
        let domain = route.lead.as_ref().or(route.parent.as_ref())?;
        (domain.is_hosted() && domain.calls.contains(&op)).then(|| route.shared.clone())
    })
}

/// Submits a `remote` call that [`hosted_child`] keeps on this host, to
/// `shared`: run as this host runs a job of `entry` that came through the
/// broker (arguments and value through the same encoding), but in the
/// lead's domain, on a thread of the lead's worker group. Not for a fn with
/// `process_pool = true`, which takes the process pool's path.
pub(crate) fn submit_hosted<T>(
    shared: &Arc<Shared>,
    call: Call,
    entry: &'static ProcessFn,
    encoded: Result<Vec<u8>, String>,
    decode: fn(&[u8]) -> Result<T, String>,
    is_err: Option<fn(&T) -> bool>,
) -> TaskToken<T>
where
    T: Send + 'static,
{
    let attempt = move |encoded: &Result<Vec<u8>, String>| -> T {
        let args = match encoded {
            Ok(args) => args,
            Err(err) => Failure::raise(Reason::Process(codec::locate(err, Side::Caller))),
        };
        let value = run_here(entry, args);
        match decode(&value) {
            Ok(value) => value,
            Err(err) => Failure::raise(Reason::Process(codec::locate(&err, Side::Caller))),
        }
    };
    if call.retry.is_none() {
        return shared.submit(call, Body::Once(move || attempt(&encoded)));
    }
    let encoded = Arc::new(encoded);
    let make = move || {
        let encoded = encoded.clone();
        move || attempt(&encoded)
    };
    shared.submit(
        call,
        Body::Again(Again {
            make: Box::new(make),
            is_err,
        }),
    )
}

/// The lead of `domain` was killed on this host: kills its members, queued
/// ones first (so that a freed worker does not start one the sweep has not
/// reached), and, through the domain's mark, any member made later; a member
/// that leads a domain of its own takes that one's members with it.
fn end_domain(shared: &Shared, domain: &Arc<LeadDomain>) {
    if !domain.kill() {
        return;
    }
    let (running, queued): (Vec<_>, Vec<_>) = shared
        .registry
        .snapshot()
        .into_iter()
        .filter(|job| {
            route_of(&**job)
                .and_then(|route| route.parent.as_ref())
                .is_some_and(|parent| Arc::ptr_eq(parent, domain))
        })
        .partition(|job| job.header().state() == TokenState::Executing);
    for job in queued.into_iter().chain(running) {
        let led = route_of(&*job).and_then(|route| route.lead.clone());
        kill(&*job, KillReason::Lead);
        if let Some(led) = led {
            end_domain(shared, &led);
        }
    }
}

/// Runs one job as [`run_job`] does and waits for it on this thread, killing
/// the call as soon as `cancelled` returns true (it is asked every few
/// milliseconds). Returns the encoded value, or why there is none, with the
/// message a caller should see (without the host's own error wording around
/// it).
///
/// This is a worker host's executor: `tokengate_remote::Worker::nats`
/// calls it on one of its slots for each job, with the job's cancel flag. A
/// remote lead killed this way takes its children here with it
/// ([`KillReason::Lead`](crate::KillReason::Lead)).
pub fn execute(
    handle: &Handle,
    op: &str,
    args: Vec<u8>,
    cancelled: &dyn Fn() -> bool,
) -> Result<Vec<u8>, JobFailure> {
    let mut token = run_job(handle, op, args);
    // A remote lead's domain here, whose members end with it.
    let domain = route_of(token.job_ref()).and_then(|route| route.lead.clone());
    let mut killed = false;
    let result = loop {
        if let Some(result) = token.wait_timeout(CANCEL_POLL) {
            break result;
        }
        if !killed && cancelled() {
            killed = token.kill();
            if let (true, Some(domain)) = (killed, &domain) {
                end_domain(&handle.shared, domain);
            }
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
