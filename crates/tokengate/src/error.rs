//! Errors: why a token did not produce a value, why a coordinator did not start,
//! and the cooperative-cancellation signal.

use std::any::Any;
use std::fmt;
use std::num::NonZeroU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Weight;

/// Why a guarded call produced no value.
///
/// Ask it what happened with [`kind`](Self::kind) (to `match` on) or the
/// `is_*` predicates; [`kill_reason`](Self::kill_reason) says who killed a
/// killed call, and [`into_panic`](Self::into_panic) hands back a panic's
/// payload. Its `Display` text is lowercase and says what to do about it.
///
/// ```
/// # use tokengate::{ErrorKind, OperationsCoordinator, TaskError};
/// #[tokengate::task_token_guard(op = "boom")]
/// fn boom() -> u32 {
///     panic!("disk on fire")
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// let err: TaskError = boom().wait().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Panic);
/// assert_eq!(err.panic_message(), Some("disk on fire"));
/// let payload = err.into_panic();
/// assert_eq!(payload.downcast_ref::<&str>(), Some(&"disk on fire"));
/// coordinator.stop();
/// ```
#[derive(Clone)]
pub struct TaskError {
    op: &'static str,
    id: u64,
    reason: Reason,
}

/// What kind of failure a [`TaskError`] is; see [`TaskError::kind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The body panicked.
    Panic,
    /// The call was killed; [`TaskError::kill_reason`] says by whom.
    Killed,
    /// The call's timeout passed before it completed.
    TimedOut,
    /// Its lane was full and the coordinator rejects instead of waiting.
    Rejected,
    /// Its coordinator stopped before it completed.
    Shutdown,
    /// No coordinator was running when the call was made.
    NoCoordinator,
    /// A `process_pool` call could not be carried out (no worker process
    /// could start, or a value could not cross the process boundary).
    Process,
    /// The worker process running a `process_pool` call died.
    WorkerLost,
    /// A `process_pool` call exceeded its `memory_limit`: its worker process
    /// was ended and replaced. Not a [`WorkerLost`](Self::WorkerLost): the
    /// same call would exceed the limit again, so it is not worth retrying as
    /// a lost worker is.
    MemoryLimit,
    /// The call names a limit its coordinator has no size for (no cap and no
    /// rate): a configuration error, reported at once.
    UnsizedLimit,
    /// Its operation is blocked (auto-block tripped, or a manual block): the
    /// call was refused at once.
    Blocked,
    /// It did not start within its `queue_timeout` (or the coordinator's
    /// `max_queue_wait`): it was shed without running.
    Expired,
    /// A `remote` call could not be handed to its broker: the broker stayed
    /// unreachable through every publish attempt, or the coordinator's remote
    /// backend closed first. The call may still have been queued and may
    /// run; its result would be dropped.
    RemoteUnavailable,
}

impl ErrorKind {
    /// The kind's snake_case name (`"timed_out"`, `"worker_lost"`): the
    /// `outcome` a `tokengate.call` span records for a call that failed this
    /// way (see [`telemetry`](crate::telemetry)), and a stable label for
    /// logs and metrics of your own.
    ///
    /// ```
    /// assert_eq!(tokengate::ErrorKind::TimedOut.as_str(), "timed_out");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Panic => "panic",
            ErrorKind::Killed => "killed",
            ErrorKind::TimedOut => "timed_out",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Shutdown => "shutdown",
            ErrorKind::NoCoordinator => "no_coordinator",
            ErrorKind::Process => "process",
            ErrorKind::WorkerLost => "worker_lost",
            ErrorKind::MemoryLimit => "memory_limit",
            ErrorKind::UnsizedLimit => "unsized_limit",
            ErrorKind::Blocked => "blocked",
            ErrorKind::Expired => "expired",
            ErrorKind::RemoteUnavailable => "remote_unavailable",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Who killed a call; see [`TaskError::kill_reason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KillReason {
    /// [`TaskToken::kill`](crate::TaskToken::kill), or
    /// [`KillHandle::kill`](crate::KillHandle::kill) of one of its handles.
    Token,
    /// Its [`TokenGroup`](crate::TokenGroup) (or
    /// [`map_unordered`](crate::map_unordered) with
    /// [`fail_fast`](crate::MapUnordered::fail_fast)): another member failed,
    /// or the group was killed or dropped before it was joined.
    Group,
    /// Its [`KillOnDrop`](crate::KillOnDrop) was dropped before the call
    /// finished (its awaiting caller went away).
    Dropped,
    /// [`Handle::kill_token`](crate::Handle::kill_token),
    /// by its id.
    Admin,
    /// [`Handle::kill_all_by_operation`](crate::Handle::kill_all_by_operation).
    Operation,
    /// A drain of the pool or of one operation, while it was waiting.
    Drain,
    /// [`OperationsCoordinator::stop_now`](crate::OperationsCoordinator::stop_now).
    StopNow,
    /// Its lead, a `remote` fn with `external_calls` running on this worker
    /// host, was killed or timed out (by its caller, through the broker):
    /// the lead's children on the host end with it.
    Lead,
}

impl KillReason {
    /// The reason's snake_case name (`"token"`, `"stop_now"`): the `reason`
    /// of a `call killed` event (see [`telemetry`](crate::telemetry)).
    pub const fn as_str(self) -> &'static str {
        match self {
            KillReason::Token => "token",
            KillReason::Group => "group",
            KillReason::Dropped => "dropped",
            KillReason::Admin => "admin",
            KillReason::Operation => "operation",
            KillReason::Drain => "drain",
            KillReason::StopNow => "stop_now",
            KillReason::Lead => "lead",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            KillReason::Token => "by its token",
            KillReason::Group => {
                "by its group (another member failed, or the group was killed or dropped \
                 before it was joined)"
            }
            KillReason::Dropped => "because its `KillOnDrop` was dropped before it finished",
            KillReason::Admin => "by an admin kill of its id",
            KillReason::Operation => "by a kill of its whole operation",
            KillReason::Drain => "by a drain while it was waiting",
            KillReason::StopNow => "by `stop_now()` of its coordinator",
            KillReason::Lead => {
                "with its remote lead, which was killed or timed out on this \
                                 worker host"
            }
        }
    }
}

/// The panic payload a body fails with to give its token `reason` instead of a
/// panic error (a process-pool call that lost its worker, say). Raised with
/// `resume_unwind`, which skips the panic hook: nothing is printed.
pub(crate) struct Failure(pub(crate) Reason);

impl Failure {
    /// Ends the running body with `reason`.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    pub(crate) fn raise(reason: Reason) -> ! {
        std::panic::resume_unwind(Box::new(Failure(reason)))
    }
}

/// A panic's payload, kept for [`TaskError::into_panic`]: the first taker gets
/// it (a `TaskError` may be cloned, the payload may not). One that nobody
/// takes is dropped with the last clone of the error, without letting a panic
/// in its `Drop` escape (it may be any value: `panic_any` takes one).
#[derive(Clone)]
pub(crate) struct Payload(Arc<Mutex<Kept>>);

/// The payload itself, dropped quietly.
struct Kept(Option<Box<dyn Any + Send>>);

impl Drop for Kept {
    fn drop(&mut self) {
        crate::unwind::drop_quietly(self.0.take());
    }
}

impl Payload {
    pub(crate) fn new(payload: Box<dyn Any + Send>) -> Payload {
        Payload(Arc::new(Mutex::new(Kept(Some(payload)))))
    }

    fn take(&self) -> Option<Box<dyn Any + Send>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).0.take()
    }
}

/// The private reason behind a [`TaskError`], with what each kind carries.
#[derive(Clone)]
pub(crate) enum Reason {
    /// The body panicked with this message (and payload, when it is kept).
    Panic(String, Option<Payload>),
    /// Killed by a caller or an admin action.
    Killed(KillReason),
    /// The timeout passed.
    TimedOut(Duration),
    /// The lane was full and the coordinator rejects instead of waiting.
    Rejected { weight: Weight, capacity: usize },
    /// The limit's gate was full and the coordinator rejects instead of
    /// waiting.
    LimitFull { name: String, waiting: usize },
    /// The call names a limit with no size.
    UnsizedLimit { name: &'static str },
    /// Its op is blocked: why, and when it will be probed.
    /// `manual`: by `block_operation`, never probed.
    Blocked {
        why: String,
        probe_in: Option<Duration>,
        manual: bool,
    },
    /// It waited longer than its queue timeout.
    Expired { after: Duration },
    /// The coordinator stopped before the call completed.
    Shutdown,
    /// No coordinator was running when the call was made; `dropped_unused`
    /// says a coordinator was dropped unused before (likely `let _ =
    /// OperationsCoordinator::start();`).
    NoCoordinator { dropped_unused: bool },
    /// A process-pool call could not be carried out: a worker process could
    /// not start, or a value could not cross the process boundary.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    Process(String),
    /// The worker process running a process-pool call died.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    WorkerLost { pid: u32, status: String },
    /// The worker process running a process-pool call with a memory limit
    /// aborted, as it does when an allocation fails under the limit.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    MemoryLimit {
        limit: NonZeroU64,
        pid: u32,
        status: String,
    },
    /// A remote call could not be carried out: its worker host reported an
    /// error (a value that did not cross, an op it does not have), or the
    /// broker refused the job.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    RemoteFailed(String),
    /// A remote call was delivered as often as its broker allows and no
    /// worker host finished it (each one it reached died).
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    RemoteLost(String),
    /// A remote call could not be handed to its broker.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    RemoteUnavailable(String),
    /// The remote backend's in-flight window was full, as were the calls
    /// waiting for room, and the coordinator rejects instead of waiting.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    RemoteFull { in_flight: usize, waiting: usize },
}

impl Reason {
    /// A panic with `message` and no payload to hand back.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    pub(crate) fn panic(message: impl Into<String>) -> Reason {
        Reason::Panic(message.into(), None)
    }

    fn kind(&self) -> ErrorKind {
        match self {
            Reason::Panic(..) => ErrorKind::Panic,
            Reason::Killed(_) => ErrorKind::Killed,
            Reason::TimedOut(_) => ErrorKind::TimedOut,
            Reason::Rejected { .. } | Reason::LimitFull { .. } | Reason::RemoteFull { .. } => {
                ErrorKind::Rejected
            }
            Reason::UnsizedLimit { .. } => ErrorKind::UnsizedLimit,
            Reason::Blocked { .. } => ErrorKind::Blocked,
            Reason::Expired { .. } => ErrorKind::Expired,
            Reason::Shutdown => ErrorKind::Shutdown,
            Reason::NoCoordinator { .. } => ErrorKind::NoCoordinator,
            Reason::Process(_) | Reason::RemoteFailed(_) => ErrorKind::Process,
            Reason::WorkerLost { .. } | Reason::RemoteLost(_) => ErrorKind::WorkerLost,
            Reason::MemoryLimit { .. } => ErrorKind::MemoryLimit,
            Reason::RemoteUnavailable(_) => ErrorKind::RemoteUnavailable,
        }
    }
}

impl fmt::Debug for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The payload is the user's value: shown only as present.
            Reason::Panic(message, payload) => f
                .debug_struct("Panic")
                .field("message", message)
                .field("payload", &payload.as_ref().map(|_| ..))
                .finish(),
            Reason::Killed(reason) => f.debug_tuple("Killed").field(reason).finish(),
            Reason::TimedOut(after) => f.debug_tuple("TimedOut").field(after).finish(),
            Reason::Rejected { weight, capacity } => f
                .debug_struct("Rejected")
                .field("weight", weight)
                .field("capacity", capacity)
                .finish(),
            Reason::LimitFull { name, waiting } => f
                .debug_struct("LimitFull")
                .field("name", name)
                .field("waiting", waiting)
                .finish(),
            Reason::UnsizedLimit { name } => {
                f.debug_struct("UnsizedLimit").field("name", name).finish()
            }
            Reason::Blocked {
                why,
                probe_in,
                manual,
            } => f
                .debug_struct("Blocked")
                .field("why", why)
                .field("probe_in", probe_in)
                .field("manual", manual)
                .finish(),
            Reason::Expired { after } => f.debug_struct("Expired").field("after", after).finish(),
            Reason::Shutdown => f.write_str("Shutdown"),
            Reason::NoCoordinator { dropped_unused } => f
                .debug_struct("NoCoordinator")
                .field("dropped_unused", dropped_unused)
                .finish(),
            Reason::Process(message) => f.debug_tuple("Process").field(message).finish(),
            Reason::WorkerLost { pid, status } => f
                .debug_struct("WorkerLost")
                .field("pid", pid)
                .field("status", status)
                .finish(),
            Reason::MemoryLimit { limit, pid, status } => f
                .debug_struct("MemoryLimit")
                .field("limit", limit)
                .field("pid", pid)
                .field("status", status)
                .finish(),
            Reason::RemoteFailed(message) => f.debug_tuple("RemoteFailed").field(message).finish(),
            Reason::RemoteLost(message) => f.debug_tuple("RemoteLost").field(message).finish(),
            Reason::RemoteUnavailable(message) => {
                f.debug_tuple("RemoteUnavailable").field(message).finish()
            }
            Reason::RemoteFull { in_flight, waiting } => f
                .debug_struct("RemoteFull")
                .field("in_flight", in_flight)
                .field("waiting", waiting)
                .finish(),
        }
    }
}

impl TaskError {
    pub(crate) fn new(op: &'static str, id: u64, reason: Reason) -> Self {
        TaskError { op, id, reason }
    }

    /// The reason behind the error.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    pub(crate) fn reason(&self) -> &Reason {
        &self.reason
    }

    /// The operation name of the failed call.
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// The id of the failed call's token.
    pub fn token_id(&self) -> TokenId {
        TokenId(self.id)
    }

    /// What kind of failure this is, to `match` on.
    ///
    /// ```
    /// # use tokengate::{ErrorKind, TaskError};
    /// fn retry_worth_it(err: &TaskError) -> bool {
    ///     matches!(err.kind(), ErrorKind::TimedOut | ErrorKind::WorkerLost | ErrorKind::Rejected)
    /// }
    /// # let _ = retry_worth_it;
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.reason.kind()
    }

    /// Who killed the call, when it was killed.
    pub fn kill_reason(&self) -> Option<KillReason> {
        match self.reason {
            Reason::Killed(reason) => Some(reason),
            _ => None,
        }
    }

    /// The body panicked. [`panic_message`](Self::panic_message) has the message.
    pub fn is_panic(&self) -> bool {
        self.kind() == ErrorKind::Panic
    }

    /// The panic message, when the body panicked with a string payload
    /// (`panic!("...")` and friends); `"<non-string panic payload>"` otherwise.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.reason {
            Reason::Panic(message, _) => Some(message),
            _ => None,
        }
    }

    /// The panic's payload, as `std::panic::catch_unwind` would have returned
    /// it, to inspect or to re-raise with `std::panic::resume_unwind`.
    ///
    /// For a `process_pool` call, or when the payload was already taken (from
    /// a clone of this error), it is the panic message, a `String`.
    ///
    /// # Panics
    ///
    /// Panics if the call did not panic; see [`try_into_panic`](Self::try_into_panic).
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic().unwrap_or_else(|err| {
            panic!("`TaskError::into_panic` on an error that is not a panic: {err}")
        })
    }

    /// [`into_panic`](Self::into_panic), or the error back if the call did not
    /// panic.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, TaskError> {
        match &self.reason {
            Reason::Panic(message, payload) => Ok(payload
                .as_ref()
                .and_then(Payload::take)
                .unwrap_or_else(|| Box::new(message.clone()))),
            _ => Err(self),
        }
    }

    /// The call was killed: by its token, an admin kill, a kill of its
    /// operation, or a drain ([`kill_reason`](Self::kill_reason) says which).
    pub fn is_killed(&self) -> bool {
        self.kind() == ErrorKind::Killed
    }

    /// The call's timeout passed before it completed.
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::TimedOut
    }

    /// The call's lane (or its limit's gate) was full and the coordinator is
    /// configured to reject.
    pub fn is_rejected(&self) -> bool {
        self.kind() == ErrorKind::Rejected
    }

    /// The call's operation is blocked (auto-block or a manual block), so it
    /// was refused at once without running.
    pub fn is_blocked(&self) -> bool {
        self.kind() == ErrorKind::Blocked
    }

    /// The call did not start within its queue timeout and was shed without
    /// running.
    pub fn is_expired(&self) -> bool {
        self.kind() == ErrorKind::Expired
    }

    /// The coordinator stopped before the call completed.
    pub fn is_shutdown(&self) -> bool {
        self.kind() == ErrorKind::Shutdown
    }

    /// No coordinator was running when the call was made.
    pub fn is_no_coordinator(&self) -> bool {
        self.kind() == ErrorKind::NoCoordinator
    }

    /// The worker process running this `process_pool` call died (it aborted,
    /// crashed, exited or was killed from outside). The pool has replaced it;
    /// the call was not retried.
    ///
    /// For a `remote` call: the broker delivered it as often as it allows
    /// (`max_deliver`) and no worker host finished it, each one it reached
    /// having died or lost the broker mid-call (a poison call, say); it is
    /// not delivered again.
    pub fn is_worker_lost(&self) -> bool {
        self.kind() == ErrorKind::WorkerLost
    }

    /// This `process_pool` call exceeded the `memory_limit` of its fn: an
    /// allocation failed under the limit and ended its worker process, which
    /// the pool has replaced. The `Display` text names the limit.
    ///
    /// A limited call whose worker aborts for another reason (a stack
    /// overflow, `std::process::abort`) is reported so too: the parent sees
    /// only that the worker aborted.
    pub fn is_memory_limit(&self) -> bool {
        self.kind() == ErrorKind::MemoryLimit
    }

    /// This `process_pool` call could not be carried out: no worker process
    /// could be started, or a value could not be encoded or decoded on its
    /// way across (a `Serialize` or `Deserialize` impl failed, or the bytes
    /// did not fit the type). The `Display` text says which step failed, in
    /// which process, and keeps the impl's own message.
    ///
    /// For a `remote` call the same holds across hosts, and its worker host
    /// may also have reported that it has no `remote` fn of that op name (it
    /// runs another build), or the broker refused the call (arguments larger
    /// than it accepts).
    pub fn is_process_failure(&self) -> bool {
        self.kind() == ErrorKind::Process
    }

    /// This `remote` call could not be handed to its broker: the broker
    /// stayed unreachable (or did not confirm it) through every publish
    /// attempt, or the coordinator's remote backend closed first. The
    /// `Display` text says which. The call may still have been queued and may
    /// run; its result would be dropped. Calling again once the broker is
    /// back is safe for fns that tolerate running twice.
    pub fn is_remote_unavailable(&self) -> bool {
        self.kind() == ErrorKind::RemoteUnavailable
    }

    /// The pid of the worker process that died, when
    /// [`is_worker_lost`](Self::is_worker_lost) or
    /// [`is_memory_limit`](Self::is_memory_limit).
    pub fn lost_worker_pid(&self) -> Option<u32> {
        match self.reason {
            Reason::WorkerLost { pid, .. } | Reason::MemoryLimit { pid, .. } => Some(pid),
            _ => None,
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskError")
            .field("op", &self.op)
            .field("token_id", &self.id)
            .field("reason", &self.reason)
            .finish()
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.op;
        match &self.reason {
            Reason::Panic(msg, _) => write!(f, "guarded call `{op}` panicked: {msg}"),
            Reason::Killed(reason) => write!(
                f,
                "guarded call `{op}` was killed {}; it produced no value",
                reason.describe()
            ),
            Reason::TimedOut(after) => write!(
                f,
                "guarded call `{op}` timed out after {after:?}; raise its `timeout`, \
                 or have the fn return early when `tokengate::is_cancelled()` is true \
                 (a `process_pool` call's worker process is killed instead)"
            ),
            Reason::Rejected { weight, capacity } => write!(
                f,
                "guarded call `{op}` was rejected: the {weight} lane is full ({capacity} waiting); \
                 retry later, raise `lane_capacity`, or use `FullLanePolicy::Wait`"
            ),
            Reason::LimitFull { name, waiting } => write!(
                f,
                "guarded call `{op}` was rejected: {waiting} calls already wait for limit \
                 `{name}`; retry later, raise the limit with `Handle::set_limit`, or use \
                 `FullLanePolicy::Wait`"
            ),
            Reason::UnsizedLimit { name } => write!(
                f,
                "guarded call `{op}` names limit `{name}`, which this coordinator has no size \
                 for; give it one with `CoordinatorBuilder::limit(\"{name}\", n)` (or `.rate(..)`) \
                 before `start()`, or with `Handle::set_limit` at run time"
            ),
            Reason::Blocked {
                why,
                probe_in,
                manual,
            } => {
                write!(
                    f,
                    "guarded call `{op}` was refused: operation `{op}` is blocked ({why}); "
                )?;
                match probe_in {
                    Some(after) => write!(
                        f,
                        "it will be probed again in {}, or unblock it with \
                         `Handle::unblock_operation`",
                        crate::stats::Rounded(*after)
                    ),
                    None if *manual => f.write_str("unblock it with `Handle::unblock_operation`"),
                    None => f.write_str(
                        "probe calls are testing it now; retry shortly, or unblock it with \
                         `Handle::unblock_operation`",
                    ),
                }
            }
            Reason::Expired { after } => write!(
                f,
                "guarded call `{op}` expired: it did not start within its queue timeout of {}, \
                 so it was shed without running; raise `queue_timeout`, add workers, or send \
                 less work",
                crate::stats::Rounded(*after)
            ),
            Reason::Shutdown => write!(
                f,
                "guarded call `{op}` did not complete because its coordinator stopped; \
                 await tokens before calling `stop()`"
            ),
            Reason::NoCoordinator { dropped_unused } => {
                write!(
                    f,
                    "guarded call `{op}` found no running coordinator; start one with \
                     `OperationsCoordinator::start()` before making guarded calls"
                )?;
                if *dropped_unused {
                    f.write_str(
                        ", and keep it for as long as calls are made: a coordinator was \
                         started and dropped before any call reached it (`let _ = \
                         OperationsCoordinator::start();` stops it at once; bind it to a \
                         named variable)",
                    )?;
                }
                Ok(())
            }
            Reason::Process(msg) => write!(f, "process-pool call `{op}` failed: {msg}"),
            Reason::WorkerLost { pid, status } => write!(
                f,
                "process-pool call `{op}` lost its worker process {pid} ({status}); the \
                 worker was replaced and the call was not retried: call again if it is \
                 safe to repeat"
            ),
            Reason::MemoryLimit { limit, pid, status } => write!(
                f,
                "process-pool call `{op}` exceeded its memory limit of {}: an allocation \
                 failed and its worker process {pid} aborted ({status}); the worker was \
                 replaced: raise `memory_limit`, or have the fn use less memory",
                Bytes(limit.get())
            ),
            Reason::RemoteFailed(msg) => write!(f, "remote call `{op}` failed: {msg}"),
            Reason::RemoteLost(msg) => write!(
                f,
                "remote call `{op}` was lost: {msg}; every worker host it reached died or lost \
                 the broker while running it, so it is not delivered again: call again if it \
                 is safe to repeat, and look for what ends the workers (a crash in the fn?)"
            ),
            Reason::RemoteUnavailable(msg) => write!(
                f,
                "remote call `{op}` could not be sent: {msg}; check that the broker runs and \
                 can be reached, then call again"
            ),
            Reason::RemoteFull { in_flight, waiting } => write!(
                f,
                "guarded call `{op}` was rejected: its remote backend has {in_flight} calls in \
                 flight and {waiting} more wait for room; retry later, raise `max_in_flight` \
                 or `lane_capacity`, or use `FullLanePolicy::Wait`"
            ),
        }
    }
}

/// A number of bytes as the attribute takes it: in the largest unit that
/// divides it (`64 MiB`, `500 MB`), else in bytes.
struct Bytes(u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Largest first.
        const UNITS: [(&str, u64); 6] = [
            ("GiB", 1 << 30),
            ("GB", 1_000_000_000),
            ("MiB", 1 << 20),
            ("MB", 1_000_000),
            ("KiB", 1 << 10),
            ("KB", 1_000),
        ];
        let bytes = self.0;
        match UNITS.iter().find(|(_, unit)| bytes % unit == 0) {
            Some((name, unit)) => write!(f, "{} {name}", bytes / unit),
            None => write!(f, "{bytes} bytes"),
        }
    }
}

impl std::error::Error for TaskError {}

/// A token's id: unique in the process, never reused.
///
/// Read it from [`TaskToken::id`](crate::TaskToken::id) (or
/// [`current_token_id`](crate::current_token_id) inside the call) to kill the
/// call later by id ([`Handle::kill_token`](crate::Handle::kill_token)),
/// or to log it. It prints as its number, and converts to and from a `u64`
/// (for an admin endpoint that receives ids as text, say).
///
/// ```
/// use tokengate::TokenId;
///
/// let id: TokenId = "42".parse().unwrap();
/// assert_eq!(u64::from(id), 42);
/// assert_eq!(id.to_string(), "42");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct TokenId(pub(crate) u64);

impl TokenId {
    /// The id as a number.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl From<u64> for TokenId {
    fn from(id: u64) -> TokenId {
        TokenId(id)
    }
}

impl From<TokenId> for u64 {
    fn from(id: TokenId) -> u64 {
        id.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::str::FromStr for TokenId {
    type Err = std::num::ParseIntError;

    fn from_str(s: &str) -> Result<TokenId, Self::Err> {
        s.parse().map(TokenId)
    }
}

/// Returned by [`checkpoint`](crate::checkpoint) when the running call was
/// killed or timed out.
///
/// Use it with `?` in a guarded fn that returns a `Result` whose error type
/// converts from `Cancelled`: `Box<dyn Error + Send + Sync>`, `anyhow::Error`,
/// or your own (a guarded fn's value moves between threads, so its error type
/// must be `Send`: a plain `Box<dyn Error>` is not).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the guarded call was cancelled; return early, its result is discarded")
    }
}

impl std::error::Error for Cancelled {}

/// Why a [`CoordinatorBuilder`](crate::CoordinatorBuilder) could not start a coordinator.
#[derive(Debug)]
pub struct BuildError {
    kind: BuildErrorKind,
}

#[derive(Debug)]
enum BuildErrorKind {
    Zero(&'static str),
    TooLarge {
        setting: &'static str,
        max: usize,
        why: &'static str,
    },
    NulInThreadName,
    /// A setting is out of its range.
    Invalid {
        setting: &'static str,
        why: &'static str,
    },
    /// A limit's name or rate is unusable.
    BadLimit {
        name: String,
        why: &'static str,
    },
    Spawn(std::io::Error),
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    ProcessStart(std::io::Error),
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    DuplicateOp {
        op: &'static str,
        first: &'static str,
        second: &'static str,
    },
    /// The remote backend could not connect.
    Remote(Box<dyn std::error::Error + Send + Sync>),
}

impl BuildError {
    pub(crate) fn zero(setting: &'static str) -> Self {
        BuildError {
            kind: BuildErrorKind::Zero(setting),
        }
    }

    pub(crate) fn too_large(setting: &'static str, max: usize, why: &'static str) -> Self {
        BuildError {
            kind: BuildErrorKind::TooLarge { setting, max, why },
        }
    }

    pub(crate) fn nul_in_thread_name() -> Self {
        BuildError {
            kind: BuildErrorKind::NulInThreadName,
        }
    }

    pub(crate) fn invalid(setting: &'static str, why: &'static str) -> Self {
        BuildError {
            kind: BuildErrorKind::Invalid { setting, why },
        }
    }

    pub(crate) fn bad_limit(name: &str, why: &'static str) -> Self {
        BuildError {
            kind: BuildErrorKind::BadLimit {
                name: name.to_owned(),
                why,
            },
        }
    }

    pub(crate) fn spawn(err: std::io::Error) -> Self {
        BuildError {
            kind: BuildErrorKind::Spawn(err),
        }
    }

    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    pub(crate) fn process_start(err: std::io::Error) -> Self {
        BuildError {
            kind: BuildErrorKind::ProcessStart(err),
        }
    }

    pub(crate) fn remote(err: Box<dyn std::error::Error + Send + Sync>) -> Self {
        BuildError {
            kind: BuildErrorKind::Remote(err),
        }
    }

    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    pub(crate) fn duplicate_op(
        op: &'static str,
        first: &'static str,
        second: &'static str,
    ) -> Self {
        BuildError {
            kind: BuildErrorKind::DuplicateOp { op, first, second },
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BuildErrorKind::Zero(setting) => {
                write!(f, "`{setting}` must be at least 1; pass a positive value")
            }
            BuildErrorKind::TooLarge { setting, max, why } => {
                write!(
                    f,
                    "`{setting}` must be at most {max} ({why}); pass a smaller value"
                )
            }
            BuildErrorKind::NulInThreadName => f.write_str(
                "`thread_name` must not contain a NUL byte: thread names are C strings; \
                 remove it from the prefix",
            ),
            BuildErrorKind::BadLimit { name, why } => write!(f, "limit `{name}`: {why}"),
            BuildErrorKind::Invalid { setting, why } => write!(f, "`{setting}`: {why}"),
            BuildErrorKind::Spawn(err) => write!(
                f,
                "could not start a coordinator thread ({err}); lower `workers_per_core` \
                 or `core_groups`, or raise the process thread limit"
            ),
            BuildErrorKind::ProcessStart(err) => write!(
                f,
                "could not start the worker processes ({err}); lower `process_workers`, \
                 or leave `prestart_processes` off to start them on first use"
            ),
            BuildErrorKind::DuplicateOp { op, first, second } => write!(
                f,
                "two process_pool or remote fns share the op name `{op}` (`{first}` and \
                 `{second}`), so a worker could not tell them apart; give one of them another \
                 `op`"
            ),
            BuildErrorKind::Remote(err) => write!(f, "could not start the remote backend: {err}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            BuildErrorKind::Spawn(err) | BuildErrorKind::ProcessStart(err) => Some(err),
            BuildErrorKind::Remote(err) => Some(&**err),
            BuildErrorKind::Zero(_)
            | BuildErrorKind::TooLarge { .. }
            | BuildErrorKind::NulInThreadName
            | BuildErrorKind::BadLimit { .. }
            | BuildErrorKind::Invalid { .. }
            | BuildErrorKind::DuplicateOp { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_are_shown_in_the_largest_unit_that_divides_them() {
        let shown = |bytes: u64| Bytes(bytes).to_string();
        assert_eq!(shown(64 << 20), "64 MiB");
        assert_eq!(shown(3 << 30), "3 GiB");
        assert_eq!(shown(1536 << 20), "1536 MiB");
        assert_eq!(shown(4096), "4 KiB");
        assert_eq!(shown(500_000_000), "500 MB");
        assert_eq!(shown(2_000_000_000), "2 GB");
        assert_eq!(shown(64_000), "64 KB");
        assert_eq!(shown(1000), "1 KB");
        assert_eq!(shown(1_024_000), "1000 KiB");
        assert_eq!(shown(1023), "1023 bytes");
    }

    #[test]
    fn a_memory_limit_error_names_the_limit_and_is_not_a_lost_worker() {
        let reason = Reason::MemoryLimit {
            limit: NonZeroU64::new(64 << 20).unwrap(),
            pid: 42,
            status: "signal: 6 (SIGABRT)".to_owned(),
        };
        let err = TaskError::new("hog", 7, reason);
        assert!(err.is_memory_limit());
        assert!(!err.is_worker_lost());
        assert_eq!(err.kind(), ErrorKind::MemoryLimit);
        assert_eq!(err.lost_worker_pid(), Some(42));
        assert_eq!(
            err.to_string(),
            "process-pool call `hog` exceeded its memory limit of 64 MiB: an allocation failed \
             and its worker process 42 aborted (signal: 6 (SIGABRT)); the worker was replaced: \
             raise `memory_limit`, or have the fn use less memory"
        );
    }
}
