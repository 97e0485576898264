//! Panic reports: where a panic in a guarded call is reported, when the
//! coordinator has a [`panic_handler`](crate::CoordinatorBuilder::panic_handler).
//!
//! A panic in a call is caught and becomes its token's error either way; what
//! the handler replaces is the report Rust's panic hook prints to stderr. The
//! hook is process-wide, so the first coordinator started with a handler
//! installs one (once) that hands panics in calls of a coordinator with a
//! handler to that handler, and every other panic to the hook that was in
//! place before. A `process_pool` call's panic happens in its worker process:
//! the worker does not print it, and the parent hands its message to the
//! handler when the call's result comes back.

use std::fmt;
use std::panic::{Location, PanicHookInfo};
use std::sync::{Arc, Once};

use super::route::route_of;
use crate::TokenId;
use crate::scheduler::with_current;
use crate::unwind::panic_message;

/// A panic in a guarded call, as a [`panic_handler`](crate::CoordinatorBuilder::panic_handler)
/// sees it. The call's token fails with [`is_panic`](crate::TaskError::is_panic)
/// whatever the handler does.
#[derive(Debug)]
#[non_exhaustive]
pub struct PanicReport<'a> {
    /// The operation of the call that panicked.
    pub op: &'static str,
    /// Its token's id.
    pub token_id: TokenId,
    /// The panic message (`"<non-string panic payload>"` for other payloads).
    pub message: &'a str,
    /// Where the panic happened, if known (not for `process_pool` calls).
    pub location: Option<&'a Location<'a>>,
    /// The worker process it happened in, for a `process_pool` call.
    pub process: Option<u32>,
}

impl fmt::Display for PanicReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "guarded call `{}` (token {}) panicked",
            self.op, self.token_id
        )?;
        if let Some(pid) = self.process {
            write!(f, " in worker process {pid}")?;
        }
        if let Some(location) = self.location {
            write!(f, " at {location}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A coordinator's panic handler.
#[derive(Clone)]
pub(crate) struct PanicHandler(Arc<dyn Fn(&PanicReport<'_>) + Send + Sync>);

impl PanicHandler {
    pub(crate) fn new(f: impl Fn(&PanicReport<'_>) + Send + Sync + 'static) -> PanicHandler {
        PanicHandler(Arc::new(f))
    }

    /// Reports a panic in a worker process (`pid`) of `call` (its op and
    /// token id), or else of the call running on this thread.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    pub(crate) fn report_process(
        &self,
        message: &str,
        pid: u32,
        call: Option<(&'static str, u64)>,
    ) {
        let call =
            call.or_else(|| with_current(|job| job.map(|job| (job.header().op, job.header().id))));
        let Some((op, id)) = call else {
            return;
        };
        self.report(&PanicReport {
            op,
            token_id: TokenId(id),
            message,
            location: None,
            process: Some(pid),
        });
    }

    /// Hands `report` to the handler. A panic in the handler itself is
    /// contained: the report is then lost, not the thread.
    pub(crate) fn report(&self, report: &PanicReport<'_>) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.0)(report)));
    }
}

impl fmt::Debug for PanicHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<panic handler>")
    }
}

/// Installs the process-wide hook described in the module doc, once.
pub(crate) fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !report_in_call(info) {
                previous(info);
            }
        }));
    });
}

/// Reports a panic that happens in a call of a coordinator with a handler;
/// returns false for any other panic.
fn report_in_call(info: &PanicHookInfo<'_>) -> bool {
    let Some((handler, op, id)) = with_current(|job| {
        let job = job?;
        let route = route_of(job)?;
        let handler = route.shared.config.panic_handler.clone()?;
        Some((handler, job.header().op, job.header().id))
    }) else {
        return false;
    };
    let message = panic_message(info.payload());
    handler.report(&PanicReport {
        op,
        token_id: TokenId(id),
        message: &message,
        location: info.location(),
        process: None,
    });
    true
}
