//! Errors: why a token did not produce a value, why a coordinator did not start,
//! and the cooperative-cancellation signal.

use std::fmt;
use std::time::Duration;

use crate::Weight;

/// Why a guarded call produced no value.
///
/// `TaskError` is opaque: ask it what happened with the `is_*` predicates.
/// Its `Display` text is lowercase and says what to do about it.
///
/// ```
/// # use tokengate::{OperationsCoordinator, TaskError};
/// #[tokengate::task_token_guard(op = "boom")]
/// fn boom() -> u32 {
///     panic!("disk on fire")
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// let err: TaskError = boom().wait().unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.panic_message(), Some("disk on fire"));
/// coordinator.stop();
/// ```
#[derive(Clone)]
pub struct TaskError {
    op: &'static str,
    id: u64,
    kind: ErrorKind,
}

/// The private reason behind a [`TaskError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// The body panicked with this message.
    Panic(String),
    /// Killed by a caller or an admin action.
    Killed(KillReason),
    /// The timeout passed.
    TimedOut(Duration),
    /// The lane was full and the coordinator rejects instead of waiting.
    Rejected { weight: Weight, capacity: usize },
    /// The coordinator stopped before the call completed.
    Shutdown,
    /// No coordinator was running when the call was made.
    NoCoordinator,
    /// A process-pool call could not be carried out: a worker process could
    /// not start, or a value could not cross the process boundary.
    Process(String),
    /// The worker process running a process-pool call died.
    WorkerLost { pid: u32, status: String },
}

/// The panic payload a body fails with to give its token `kind` instead of a
/// panic error (a process-pool call that lost its worker, say). Raised with
/// `resume_unwind`, which skips the panic hook: nothing is printed.
pub(crate) struct Failure(pub(crate) ErrorKind);

impl Failure {
    /// Ends the running body with `kind`.
    pub(crate) fn raise(kind: ErrorKind) -> ! {
        std::panic::resume_unwind(Box::new(Failure(kind)))
    }
}

/// Who killed a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KillReason {
    /// [`TaskToken::kill`](crate::TaskToken::kill).
    Token,
    /// [`OperationsCoordinator::kill_token`](crate::OperationsCoordinator::kill_token).
    Admin,
    /// [`OperationsCoordinator::kill_all_by_operation`](crate::OperationsCoordinator::kill_all_by_operation).
    Operation,
    /// A drain of the pool or of one operation.
    Drain,
}

impl KillReason {
    fn describe(self) -> &'static str {
        match self {
            KillReason::Token => "by its token",
            KillReason::Admin => "by an admin kill",
            KillReason::Operation => "by a kill of its whole operation",
            KillReason::Drain => "by a drain while it was waiting",
        }
    }
}

impl TaskError {
    pub(crate) fn new(op: &'static str, id: u64, kind: ErrorKind) -> Self {
        TaskError { op, id, kind }
    }

    /// The operation name of the failed call.
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// The id of the failed call's token.
    pub fn token_id(&self) -> u64 {
        self.id
    }

    /// The body panicked. [`panic_message`](Self::panic_message) has the message.
    pub fn is_panic(&self) -> bool {
        matches!(self.kind, ErrorKind::Panic(_))
    }

    /// The panic message, when the body panicked with a string payload
    /// (`panic!("...")` and friends); `"<non-string panic payload>"` otherwise.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.kind {
            ErrorKind::Panic(msg) => Some(msg),
            _ => None,
        }
    }

    /// The call was killed: by its token, an admin kill, a kill of its operation,
    /// a drain, or a dropped awaitable submission.
    pub fn is_killed(&self) -> bool {
        matches!(self.kind, ErrorKind::Killed(_))
    }

    /// The call's timeout passed before it completed.
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, ErrorKind::TimedOut(_))
    }

    /// The call's lane was full and the coordinator is configured to reject.
    pub fn is_rejected(&self) -> bool {
        matches!(self.kind, ErrorKind::Rejected { .. })
    }

    /// The coordinator stopped before the call completed.
    pub fn is_shutdown(&self) -> bool {
        matches!(self.kind, ErrorKind::Shutdown)
    }

    /// No coordinator was running when the call was made.
    pub fn is_no_coordinator(&self) -> bool {
        matches!(self.kind, ErrorKind::NoCoordinator)
    }

    /// The worker process running this `process_pool` call died (it aborted,
    /// crashed, exited or was killed from outside). The pool has replaced it;
    /// the call was not retried.
    pub fn is_worker_lost(&self) -> bool {
        matches!(self.kind, ErrorKind::WorkerLost { .. })
    }

    /// This `process_pool` call could not be carried out: no worker process
    /// could be started, or a value could not cross the process boundary
    /// (a `Serialize` or `Deserialize` impl reported an error, or the bytes
    /// did not match the type). The `Display` text says which; for a value,
    /// it names the step and the side (encoding the arguments in the caller,
    /// decoding them in worker process `pid`, encoding the value there,
    /// decoding it in the caller) and quotes the impl's own message. No
    /// worker process died: one that served the call serves the next.
    pub fn is_process_failure(&self) -> bool {
        matches!(self.kind, ErrorKind::Process(_))
    }

    /// The pid of the worker process that died, when
    /// [`is_worker_lost`](Self::is_worker_lost).
    pub fn lost_worker_pid(&self) -> Option<u32> {
        match self.kind {
            ErrorKind::WorkerLost { pid, .. } => Some(pid),
            _ => None,
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskError")
            .field("op", &self.op)
            .field("token_id", &self.id)
            .field("kind", &self.kind)
            .finish()
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.op;
        match &self.kind {
            ErrorKind::Panic(msg) => write!(f, "guarded call `{op}` panicked: {msg}"),
            ErrorKind::Killed(reason) => write!(
                f,
                "guarded call `{op}` was killed {}; it produced no value",
                reason.describe()
            ),
            ErrorKind::TimedOut(after) => write!(
                f,
                "guarded call `{op}` timed out after {after:?}; raise its `timeout`, \
                 or have the fn return early when `tokengate::is_cancelled()` is true \
                 (a `process_pool` call's worker process is killed instead)"
            ),
            ErrorKind::Rejected { weight, capacity } => write!(
                f,
                "guarded call `{op}` was rejected: the {weight} lane is full ({capacity} waiting); \
                 retry later, raise `lane_capacity`, or use `FullLanePolicy::Wait`"
            ),
            ErrorKind::Shutdown => write!(
                f,
                "guarded call `{op}` did not complete because its coordinator stopped; \
                 await tokens before calling `stop()`"
            ),
            ErrorKind::NoCoordinator => write!(
                f,
                "guarded call `{op}` found no running coordinator; start one with \
                 `OperationsCoordinator::start()` before making guarded calls"
            ),
            ErrorKind::Process(msg) => write!(f, "process-pool call `{op}` failed: {msg}"),
            ErrorKind::WorkerLost { pid, status } => write!(
                f,
                "process-pool call `{op}` lost its worker process {pid} ({status}); the \
                 worker was replaced and the call was not retried: call again if it is \
                 safe to repeat"
            ),
        }
    }
}

impl std::error::Error for TaskError {}

/// Returned by [`checkpoint`](crate::checkpoint) when the running call was
/// killed or timed out.
///
/// Use it with `?` in a guarded fn that returns a `Result` whose error type
/// converts from `Cancelled` (`Box<dyn Error>`, `anyhow::Error`, or your own).
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
    Spawn(std::io::Error),
    ProcessStart(std::io::Error),
    DuplicateOp {
        op: &'static str,
        first: &'static str,
        second: &'static str,
    },
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

    pub(crate) fn spawn(err: std::io::Error) -> Self {
        BuildError {
            kind: BuildErrorKind::Spawn(err),
        }
    }

    pub(crate) fn process_start(err: std::io::Error) -> Self {
        BuildError {
            kind: BuildErrorKind::ProcessStart(err),
        }
    }

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
                "two process_pool fns share the op name `{op}` (`{first}` and `{second}`), so \
                 a worker process could not tell them apart; give one of them another `op`"
            ),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            BuildErrorKind::Spawn(err) | BuildErrorKind::ProcessStart(err) => Some(err),
            BuildErrorKind::Zero(_)
            | BuildErrorKind::TooLarge { .. }
            | BuildErrorKind::NulInThreadName
            | BuildErrorKind::DuplicateOp { .. } => None,
        }
    }
}
