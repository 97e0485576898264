//! [`Route`]: the coordinator's record of one call, and the token's owner.
//!
//! Every token made by a coordinator carries a `Route`: which coordinator and
//! operation entry it belongs to, its [`Path`] (where it waits and runs), and
//! the lead domains it leads or belongs to. The token reports every transition
//! to it ([`Owner`]), and this is where the coordinator's bookkeeping for a
//! call (counters, lane capacity, registry, domains) is driven from.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::lead::LeadDomain;
use super::limit::{GateBits, Limit};
use super::live::OrphanBits;
use super::ops::OpEntry;
use super::remote::RemoteCall;
use super::retry::RetryPolicy;
use super::shared::Shared;
use super::trace::CallTrace;
use crate::TokenState;
use crate::scheduler::{self, Path};
use crate::token::{Cause, Header, Job, JobRef, Owner};

/// How often a thread waiting for a dropped call to leave its line checks
/// whether the coordinator stopped; the line's moves wake it otherwise.
const LINE_RECHECK: Duration = Duration::from_millis(20);

/// Who owns a call (its coordinator and its operation's entry there) and how
/// it is routed.
pub(crate) struct Route {
    pub(crate) shared: Arc<Shared>,
    pub(crate) op: Arc<OpEntry>,
    pub(crate) path: Path,
    /// The lead domain this call leads (`external_calls`).
    pub(crate) lead: Option<Arc<LeadDomain>>,
    /// The lead domain this call is a child of.
    pub(crate) parent: Option<Arc<LeadDomain>>,
    /// The named limit the call passes before it is routed.
    pub(crate) limit: Option<Arc<Limit>>,
    /// Where the call stands at its limit's gate.
    pub(crate) gate: GateBits,
    /// Whether its body runs on after a kill (see `live`).
    pub(crate) orphan: OrphanBits,
    /// Its retry settings, if its fn retries.
    pub(crate) retry: Option<RetryPolicy>,
    /// Between a failed attempt and its re-admission: `Waiting`, in no queue.
    pub(crate) in_backoff: AtomicBool,
    /// Under `FullLanePolicy::Reject`, a call handed straight to a worker's
    /// mailbox holds a slot of its lane until it leaves `Admitted` (the
    /// token's own slot bit covers `Waiting` only).
    pub(crate) mailbox_slot: AtomicBool,
    /// Its span, if a `tracing` subscriber wants one.
    pub(crate) trace: CallTrace,
    /// A remote call's arguments and decoder (its path is `Path::Remote`).
    pub(crate) remote: Option<Box<RemoteCall>>,
    /// A process-pool call's frame and decoder (its path is `Path::Process`).
    #[cfg(feature = "process")]
    pub(crate) process: Option<Arc<super::process::ProcessCall>>,
}

impl Route {
    /// Whether the call is limited and has not passed its gate yet: it may
    /// not run, however it is waited on.
    pub(crate) fn before_gate(&self) -> bool {
        self.limit.is_some() && self.gate.needs_pass()
    }
}

/// The route of `job`, if a coordinator made it.
pub(crate) fn route_of(job: &dyn Job) -> Option<&Route> {
    job.owner()?.as_any().downcast_ref::<Route>()
}

impl Owner for Route {
    fn observe(
        &self,
        header: &Header,
        from: TokenState,
        to: TokenState,
        now: u64,
        held_slot: bool,
    ) {
        self.shared.observe(self, header, from, to, now, held_slot);
    }

    fn body_returned(&self, header: &Header) {
        self.shared.orphans.returned(header, &self.orphan);
        if let Some(limit) = &self.limit {
            self.shared.end_gate(limit, self);
        }
        if let Path::Sticky { key, .. } = self.path {
            let scheduler = &self.shared.scheduler;
            scheduler
                .domains
                .body_returned(key, header.id, &**scheduler);
        }
    }

    fn quick(&self) -> bool {
        self.op.is_quick()
    }

    fn admissible(&self) -> bool {
        !self.op.is_paused()
    }

    fn hold_back(&self, job: &JobRef) -> bool {
        self.op.hold_if_paused(job)
    }

    fn dropped_waiting(&self, job: &JobRef) {
        // Waiting out a retry's backoff: the timer holds it, it holds no lane
        // room, and the caller need not wait for it.
        if self.in_backoff.load(Ordering::SeqCst) {
            return;
        }
        // A call waiting at its limit's gate holds no lane room, and waiting
        // for the limit could deadlock a body that holds the limit's last
        // permit: dropping its token detaches it.
        if self.before_gate() {
            return;
        }
        let shared = &self.shared;
        let lane = shared.scheduler.slot_lane(self.path, job.header().weight);
        let in_line = || {
            let header = job.header();
            header.state() == TokenState::Waiting && !header.holds_slot()
        };
        // A worker thread runs calls of the full lane itself meanwhile, so
        // that a guarded fn dropping its calls cannot deadlock its own
        // coordinator; storage calls run only on IO threads, remote calls on
        // other hosts.
        let helps = !matches!(
            self.path,
            Path::Storage(_) | Path::Combined(_) | Path::Remote | Path::Process
        );
        while in_line() && shared.is_running() {
            if helps && scheduler::help_lane(&shared.scheduler, lane) {
                continue;
            }
            lane.wait_line(LINE_RECHECK, in_line);
        }
    }

    fn help(&self, job: &JobRef) -> bool {
        !self.before_gate()
            && !self.in_backoff.load(Ordering::SeqCst)
            && matches!(
                job.header().state(),
                TokenState::Waiting | TokenState::Admitted
            )
            && scheduler::claim(&self.shared.scheduler, job, self.path, self.admissible())
    }

    fn park(&self, timeout: Option<Duration>, round: u32) {
        scheduler::park_waiting(timeout, round);
    }

    fn attempt_failed(&self, header: &Header, message: &str, panicked: bool) {
        if panicked {
            self.trace.panicked(header, message);
        }
        self.op.guard.note_failure(message.to_owned());
    }

    #[cfg(feature = "tracing")]
    fn resolved(&self, header: &Header, error: Option<&crate::TaskError>) {
        self.trace.resolved(header, error);
    }

    #[cfg(feature = "tracing")]
    fn body_spans(&self) -> Option<[tracing::Span; 2]> {
        self.trace.body_spans()
    }

    fn retry_delay(&self, header: &Header, cause: Cause) -> Option<Duration> {
        let policy = self.retry.as_ref()?;
        let delay = self.shared.retry_delay(policy, header, cause)?;
        self.trace.retrying(header, cause, delay);
        // Before the call moves back to `Waiting`: no waiting thread may run
        // it inline until its backoff is over.
        self.in_backoff.store(true, Ordering::SeqCst);
        Some(delay)
    }

    fn readmit_after(&self, job: JobRef, delay: Duration) {
        match std::time::Instant::now().checked_add(delay) {
            Some(at) => self.shared.timer.readmit(job, at),
            None => self.shared.readmit(job),
        }
    }

    fn time_out_after(&self, job: &JobRef, timeout: Duration) {
        // A deadline beyond the clock's range never passes.
        if let Some(deadline) = std::time::Instant::now().checked_add(timeout) {
            self.shared.timer.schedule(job, deadline, timeout);
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("op", &self.op.name)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
