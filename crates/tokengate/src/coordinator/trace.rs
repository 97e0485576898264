//! Tracing (the `tracing` feature): each call's `tokengate.call` span, and
//! the events that report what went wrong (the list, with levels and
//! fields, is in the [`telemetry`](crate::telemetry) docs).
//!
//! # The span's life
//!
//! 1. **Made where the call is made** ([`CallTrace::capture`], in
//!    admission), so its parent is the span current there; that caller's
//!    span is kept too. With no subscriber at all, nothing is kept and
//!    nothing is allocated.
//! 2. **Entered around each attempt** of the body, on whichever thread runs
//!    it (the token's cell asks its owner for [`CallTrace::body_spans`]):
//!    the caller's span, then the call's, with their subscriber as the
//!    thread's default meanwhile. So the thread looks as the caller's did:
//!    a layer that filters `tokengate.call` out still finds the caller's
//!    span current, and a subscriber set with `with_default` sees the
//!    body's events. `queue_wait` is recorded when the body first starts.
//! 3. **Closed when the call resolves** ([`CallTrace::resolved`]): `outcome`
//!    is recorded, the event for a failure is emitted inside the span (to
//!    its subscriber, whichever thread resolved the call), and the route
//!    lets go of both spans. A body still running (a call killed while it
//!    runs) holds them open until it returns.
//!
//! # Cost
//!
//! With no subscriber, capturing is one relaxed load ([`LevelFilter::current`]
//! is `OFF`), and the rest of the call's path checks a flag in the token's
//! header and an `Option` here; nothing is allocated, locked or timed. With a
//! subscriber, the spans live in a small box behind a mutex that only this
//! call's own threads touch, a few times per call.
//!
//! Without the feature, every method here is an empty inline function.

use std::time::Duration;

use crate::Weight;
use crate::scheduler::Path;
use crate::token::{Cause, Header};

#[cfg(feature = "tracing")]
use crate::TaskError;
#[cfg(feature = "tracing")]
use std::sync::{Mutex, MutexGuard};
#[cfg(feature = "tracing")]
use tracing::{Level, Span, level_filters::LevelFilter};

#[cfg(feature = "tracing")]
use crate::telemetry::{CALL_SPAN, TARGET};

/// What a call is traced with: its span and its caller's, if anyone wants
/// them. Lives in the call's route.
#[derive(Debug, Default)]
pub(crate) struct CallTrace {
    #[cfg(feature = "tracing")]
    traced: Option<Box<Traced>>,
}

/// A traced call's spans; both `Span::none()` once it resolved.
#[cfg(feature = "tracing")]
#[derive(Debug)]
struct Traced(Mutex<Spans>);

#[cfg(feature = "tracing")]
#[derive(Debug)]
struct Spans {
    /// The span current where the call was made (none if there was none).
    caller: Span,
    /// The call's own `tokengate.call` span, a child of `caller` (disabled
    /// if no subscriber wants it).
    own: Span,
}

#[cfg(feature = "tracing")]
impl Spans {
    /// The innermost of the two that is enabled: where events go.
    fn innermost(&self) -> Option<&Span> {
        [&self.own, &self.caller]
            .into_iter()
            .find(|span| !span.is_disabled())
    }
}

#[cfg(feature = "tracing")]
impl Traced {
    fn spans(&self) -> MutexGuard<'_, Spans> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Emits an event with target `tokengate`: a child of `$parent` if there is
/// one, else of whatever span is current.
#[cfg(feature = "tracing")]
macro_rules! call_event {
    ($parent:expr, $level:expr, $($rest:tt)+) => {
        match $parent {
            Some(parent) => tracing::event!(target: TARGET, parent: parent, $level, $($rest)+),
            None => tracing::event!(target: TARGET, $level, $($rest)+),
        }
    };
}

/// What the `path` field says of a call's path, and its storage tier.
#[cfg(feature = "tracing")]
fn path_fields(path: Path) -> (&'static str, Option<&'static str>) {
    match path {
        Path::Lane => ("lane", None),
        Path::Storage(speed) => ("tier", Some(speed.as_str())),
        Path::Combined(speed) => ("combined", Some(speed.as_str())),
        Path::Sticky { .. } => ("sticky", None),
        Path::Group(_) => ("lead_group", None),
        Path::Remote => ("remote", None),
        Path::Process => ("process", None),
    }
}

impl CallTrace {
    /// Captures the span of a call being made on this thread: its own
    /// `tokengate.call` span if a subscriber wants it, else the caller's
    /// span if there is one, else nothing.
    #[inline]
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn capture(
        id: u64,
        op: &'static str,
        weight: Weight,
        path: Path,
        lead: bool,
        process: bool,
    ) -> CallTrace {
        #[cfg(feature = "tracing")]
        {
            // No subscriber at all (the common case): one relaxed load.
            if LevelFilter::current() == LevelFilter::OFF {
                return CallTrace { traced: None };
            }
            let span = tracing::span!(
                target: TARGET,
                Level::DEBUG,
                CALL_SPAN,
                op,
                weight = weight.as_str(),
                token_id = id,
                path = path_fields(path).0,
                tier = path_fields(path).1,
                lead,
                process,
                queue_wait = tracing::field::Empty,
                outcome = tracing::field::Empty,
            );
            // The caller's span is kept too, and entered on the worker under
            // the call's: a layer that filters the call's span out still
            // finds the caller's there, as it did on the caller's thread.
            let caller = Span::current();
            let traced = (!span.is_disabled() || !caller.is_disabled())
                .then(|| Box::new(Traced(Mutex::new(Spans { caller, own: span }))));
            CallTrace { traced }
        }
        #[cfg(not(feature = "tracing"))]
        CallTrace {}
    }

    /// Whether the call is traced (its header says so, so that an untraced
    /// call never asks).
    #[cfg(feature = "tracing")]
    pub(crate) fn is_traced(&self) -> bool {
        self.traced.is_some()
    }

    /// The spans to enter around an attempt of the body, outer first (the
    /// caller's, then the call's own), if the call is traced and has not
    /// resolved.
    #[cfg(feature = "tracing")]
    pub(crate) fn body_spans(&self) -> Option<[Span; 2]> {
        let traced = self.traced.as_ref()?;
        let spans = traced.spans();
        spans.innermost()?;
        Some([spans.caller.clone(), spans.own.clone()])
    }

    /// The body starts (`now`, token epoch nanoseconds): on its first start,
    /// the span records how long the call waited.
    #[inline]
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn started(&self, header: &Header, now: u64) {
        #[cfg(feature = "tracing")]
        if let Some(traced) = &self.traced
            && header.attempts() == 1
        {
            let wait = Duration::from_nanos(now.saturating_sub(header.created_ns()));
            traced
                .spans()
                .own
                .record("queue_wait", tracing::field::debug(wait));
        }
    }

    /// The call resolved, to `error` or to a value: the span records the
    /// outcome, a failure is reported, and the route lets go of the span.
    #[inline]
    #[cfg(feature = "tracing")]
    pub(crate) fn resolved(&self, header: &Header, error: Option<&TaskError>) {
        if self.traced.is_none() && error.is_none() {
            return;
        }
        self.resolved_slow(header, error);
    }

    #[cfg(feature = "tracing")]
    #[cold]
    fn resolved_slow(&self, header: &Header, error: Option<&TaskError>) {
        let Some(traced) = &self.traced else {
            // Not traced: reported to this thread's subscriber, if any.
            if let Some(err) = error {
                report(None, header, err);
            }
            return;
        };
        let none = || Spans {
            caller: Span::none(),
            own: Span::none(),
        };
        let spans = std::mem::replace(&mut *traced.spans(), none());
        spans.own.record(
            "outcome",
            error.map_or("completed", |err| err.kind().as_str()),
        );
        // Whichever thread resolves the call (the timer's, an admin's), the
        // report goes to the subscriber the call's spans belong to, as a
        // child of the innermost.
        if let (Some(err), Some(parent)) = (error, spans.innermost()) {
            parent.with_subscriber(|(_, dispatch)| {
                tracing::dispatcher::with_default(dispatch, || report(Some(parent), header, err));
            });
        }
    }

    /// An attempt's body panicked with `message` (reported on the thread
    /// that ran it, inside the call's span).
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn panicked(&self, header: &Header, message: &str) {
        #[cfg(feature = "tracing")]
        tracing::event!(
            target: TARGET,
            Level::ERROR,
            op = header.op,
            token_id = header.id,
            attempt = header.attempts(),
            panic = message,
            "call panicked"
        );
    }

    /// A failed attempt (`cause`) is retried after `delay`.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn retrying(&self, header: &Header, cause: Cause, delay: Duration) {
        #[cfg(feature = "tracing")]
        {
            let cause = match cause {
                Cause::Panic => "panic",
                Cause::WorkerLost => "worker_lost",
                Cause::Timeout => "timeout",
                Cause::Err => "err",
            };
            tracing::event!(
                target: TARGET,
                Level::DEBUG,
                op = header.op,
                token_id = header.id,
                attempt = header.attempts(),
                cause,
                delay = ?delay,
                "retrying call"
            );
        }
    }
}

/// Reports a call that resolved to `err` (if its kind is reported here),
/// as a child of `parent`, or of the current span.
#[cfg(feature = "tracing")]
fn report(parent: Option<&Span>, header: &Header, err: &TaskError) {
    use crate::ErrorKind;
    let (op, token_id) = (header.op, header.id);
    match err.kind() {
        ErrorKind::Killed => {
            let reason = err
                .kill_reason()
                .map_or("unknown", |reason| reason.as_str());
            call_event!(parent, Level::DEBUG, op, token_id, reason, "call killed");
        }
        ErrorKind::Shutdown => {
            call_event!(
                parent,
                Level::DEBUG,
                op,
                token_id,
                reason = "shutdown",
                "call killed"
            );
        }
        ErrorKind::TimedOut => {
            call_event!(parent, Level::WARN, op, token_id, error = %err, "call timed out");
        }
        ErrorKind::Rejected => {
            call_event!(parent, Level::WARN, op, token_id, error = %err, "call rejected");
        }
        ErrorKind::Expired => {
            call_event!(parent, Level::WARN, op, token_id, error = %err, "call shed");
        }
        ErrorKind::Blocked => {
            call_event!(parent, Level::DEBUG, op, token_id, error = %err, "call refused");
        }
        ErrorKind::Process | ErrorKind::UnsizedLimit => {
            call_event!(parent, Level::WARN, op, token_id, error = %err, "call failed");
        }
        ErrorKind::RemoteUnavailable => {
            call_event!(parent, Level::ERROR, op, token_id, error = %err, "remote unavailable");
        }
        // Reported as they happen, by the attempt (`panicked`) or the process
        // pool (a lost worker process); a call with no coordinator has no
        // owner to report it.
        ErrorKind::Panic
        | ErrorKind::WorkerLost
        | ErrorKind::MemoryLimit
        | ErrorKind::NoCoordinator => {}
    }
}

/// Operation `op` was blocked: tripped by auto-block (or a failed probe),
/// or `manual`ly.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn op_blocked(op: &str, why: &dyn std::fmt::Display, manual: bool) {
    #[cfg(feature = "tracing")]
    if manual {
        tracing::event!(target: TARGET, Level::INFO, op, why = %why, "operation blocked");
    } else {
        tracing::event!(target: TARGET, Level::WARN, op, why = %why, "operation blocked");
    }
}

/// Operation `op` was unblocked (`how`: `"probe"` or `"manual"`).
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn op_unblocked(op: &str, how: &'static str) {
    #[cfg(feature = "tracing")]
    tracing::event!(target: TARGET, Level::INFO, op, how, "operation unblocked");
}
