//! Admission: making a call's token, choosing its path, and queueing it where
//! it waits for its turn (or handing it straight to a worker).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::Call;
use super::builder::FullLanePolicy;
use super::guard::Why;
use super::lead::{self, LeadDomain};
use super::limit::GateBits;
use super::live::OrphanBits;
use super::ops::Class;
use super::remote::{RemoteCall, fold_key};
use super::route::{Route, route_of};
use super::shared::Shared;
use super::trace::CallTrace;
use crate::error::{KillReason, Reason};
use crate::scheduler::{DomainKey, Path, Placement, combined_tag, with_current, worker_context};
use crate::token::{Body, Cell, Header, JobRef, epoch, kill, next_id, terminate_with};
use crate::{TaskToken, TokenState};

impl Shared {
    /// Makes a token for `f` and admits it.
    pub(crate) fn submit<T, F>(self: &Arc<Self>, call: Call, body: Body<T, F>) -> TaskToken<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.submit_routed(call, body, None)
    }

    /// [`submit`](Self::submit) for a `process_pool` call: unless its tags
    /// route it to a thread (a sticky domain, a storage tier, a lead's
    /// group, where `body` sends it to a worker process from that thread),
    /// it waits in its weight's process queue and goes to a worker process
    /// from there, and `body` never runs.
    #[cfg(feature = "process")]
    pub(crate) fn submit_process<T, F>(
        self: &Arc<Self>,
        call: Call,
        body: Body<T, F>,
        process: Arc<super::process::ProcessCall>,
    ) -> TaskToken<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.submit_path(call, body, Elsewhere::Process(process))
    }

    /// [`submit`](Self::submit), for a `remote` call when `remote` is given:
    /// its path is then the remote lane and the backend, whatever its tags
    /// would choose on this host (a sticky call's domain goes to the backend
    /// as a key; it joins no lead's domain).
    pub(crate) fn submit_routed<T, F>(
        self: &Arc<Self>,
        call: Call,
        body: Body<T, F>,
        remote: Option<Box<RemoteCall>>,
    ) -> TaskToken<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let elsewhere = match remote {
            Some(remote) => Elsewhere::Remote(remote),
            None => Elsewhere::No,
        };
        self.submit_path(call, body, elsewhere)
    }

    fn submit_path<T, F>(
        self: &Arc<Self>,
        call: Call,
        body: Body<T, F>,
        elsewhere: Elsewhere,
    ) -> TaskToken<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (mut remote, pooled): (_, Option<ProcessRef>) = match elsewhere {
            Elsewhere::No => (None, None),
            Elsewhere::Remote(remote) => (Some(remote), None),
            #[cfg(feature = "process")]
            Elsewhere::Process(pooled) => (None, Some(pooled)),
        };
        let Call {
            op,
            weight,
            timeout,
            storage,
            sticky,
            lead,
            limit,
            weight_explicit,
            retry,
            queue_timeout,
            process,
        } = call;
        let class = match storage {
            Some(speed) => Class::Storage(speed),
            None => Class::Cpu(weight),
        };
        let entry = self.op_entry(op, class);
        let (limit, unsized_limit) = match limit {
            Some(name) => match self.limits.get(name) {
                Some(limit) => (Some(limit), None),
                None => (None, Some(name)),
            },
            None => (None, None),
        };
        entry.counters.local().create();
        let id = next_id();
        // Inside a lead (or one of its children), a call of a listed op joins
        // the lead's domain and runs in the lead's worker group; a remote
        // call runs on another host.
        let (parent, group) = match remote {
            Some(_) => (None, None),
            None => self.lead_context(op),
        };
        // An explicit weight on a storage call makes it a combined call: its
        // tier's turn, then a CPU worker of its weight.
        let path = if let Some(remote) = &mut remote {
            remote.sticky = sticky.map(|(anchor, key)| fold_key(anchor, &key));
            Path::Remote
        } else if pooled.is_some() && storage.is_none() && sticky.is_none() && group.is_none() {
            Path::Process
        } else if let Some(speed) = storage {
            if weight_explicit {
                Path::Combined(speed)
            } else {
                Path::Storage(speed)
            }
        } else if let Some((anchor, key)) = sticky {
            let key = DomainKey { anchor, key };
            let worker = self.scheduler.domains.join(key, weight, &*self.scheduler);
            Path::Sticky { key, worker }
        } else if let Some(group) = group {
            Path::Group(group)
        } else {
            Path::Lane
        };
        let lead = lead
            .filter(|_| remote.is_none())
            .map(|(calls, from)| self.leads.join(lead::seed(id, calls, from), calls));
        let trace = CallTrace::capture(id, op, weight, path, lead.is_some(), process);
        let route = Route {
            shared: self.clone(),
            op: entry,
            path,
            lead,
            parent,
            limit,
            gate: GateBits::default(),
            orphan: OrphanBits::default(),
            retry,
            in_backoff: AtomicBool::new(false),
            mailbox_slot: AtomicBool::new(false),
            trace,
            remote,
            #[cfg(feature = "process")]
            process: pooled.filter(|_| matches!(path, Path::Process)),
        };
        let mut header = Header::new(id, op, weight, timeout);
        if let Path::Combined(speed) = path {
            header = header.tagged(combined_tag(speed));
        }
        #[cfg(feature = "tracing")]
        {
            header = header.with_trace(route.trace.is_traced());
        }
        let cell = Cell::with_body(header, Some(route), body);
        let token = TaskToken::from_cell(cell.clone());
        let shed_after = queue_timeout.or(self.config.max_queue_wait);
        match unsized_limit {
            None => self.admit(cell, shed_after),
            Some(name) => {
                terminate_with(&*cell, TokenState::Killed, Reason::UnsizedLimit { name });
            }
        }
        token
    }

    fn admit(&self, job: JobRef, shed_after: Option<Duration>) {
        /// Counts this submission in `submitting` until it is queued or given
        /// up, whichever way `admit` returns.
        struct Submitting<'a>(&'a AtomicUsize);
        impl Drop for Submitting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.submitting.fetch_add(1, Ordering::SeqCst);
        let _submitting = Submitting(&self.submitting);
        if !self.is_running() {
            terminate_with(&*job, TokenState::Killed, Reason::Shutdown);
            return;
        }
        let header = job.header();
        self.registry.insert(&job);
        job.transition(TokenState::Created, TokenState::Waiting);
        let route = route_of(&*job).expect("admitted tokens have a route");
        // Made by a remote lead's body after the lead was killed on this
        // worker host: it ends with its lead, unrun. (Checked once it is in
        // the registry, which that kill sweeps after marking the domain.)
        if route
            .parent
            .as_ref()
            .is_some_and(|domain| domain.is_killed())
        {
            kill(&*job, KillReason::Lead);
            return;
        }
        let created = epoch() + Duration::from_nanos(header.created_ns());
        if let Some(after) = shed_after
            && let Some(deadline) = created.checked_add(after)
        {
            self.timer.expire(&job, deadline, after);
        }
        // With `retry_on = "timeout"` the timeout bounds each attempt instead
        // (scheduled as each starts).
        let per_attempt = route.retry.is_some_and(|p| p.per_attempt_timeout());
        if let Some(timeout) = header.timeout.filter(|_| !per_attempt) {
            // A deadline beyond the clock's range never passes.
            if let Some(deadline) = created.checked_add(timeout) {
                self.timer.schedule(&job, deadline, timeout);
            }
        }
        self.enter(job);
    }

    /// Admission past the registry and the timer, for a `Waiting` call that
    /// holds no slot: a fresh call, or a retried one whose backoff is over.
    /// It passes its limit's gate (if any), then is routed.
    pub(super) fn enter(&self, job: JobRef) {
        let route = route_of(&*job).expect("admitted tokens have a route");
        if let Err(refusal) = route.op.guard.admit(self.config.auto_block.as_ref()) {
            terminate_with(
                &*job,
                TokenState::Killed,
                Reason::Blocked {
                    manual: refusal.why == Why::Manual,
                    why: refusal.why.to_string(),
                    probe_in: refusal.probe_in,
                },
            );
            return;
        }
        if let Some(limit) = &route.limit
            && !self.pass_gate(&job, route, limit)
        {
            return;
        }
        self.route_new(job);
    }

    /// The lead domain a call of `op` made on this thread joins, if any, and the
    /// worker group it runs in. Counts calls a lead makes to ops it does not list.
    fn lead_context(&self, op: &'static str) -> (Option<Arc<LeadDomain>>, Option<usize>) {
        let domain = with_current(|job| {
            let route = route_of(job?)?;
            if !std::ptr::eq(Arc::as_ptr(&route.shared), self) {
                return None;
            }
            // A lead's own calls belong to its domain; a child's calls inherit
            // its parent's.
            route.lead.clone().or_else(|| route.parent.clone())
        });
        let Some(domain) = domain else {
            return (None, None);
        };
        if !domain.calls.contains(&op) {
            self.leads.unlisted.fetch_add(1, Ordering::Relaxed);
            return (None, None);
        }
        domain.add_child();
        let group = worker_context()
            .and_then(|ctx| ctx.worker)
            .map(|i| domain.group_or(self.scheduler.workers[i].group));
        (Some(domain), group)
    }

    /// Hands a `Waiting` lane call straight to a worker when admission is open
    /// and its lane is empty (so the lane stays FIFO). `Some(true)`: placed;
    /// `Some(false)`: it finished meanwhile; `None`: it must wait in its lane.
    fn place_now(&self, job: &JobRef) -> Option<bool> {
        let header = job.header();
        let route = route_of(&**job).expect("admitted tokens have a route");
        if matches!(route.path, Path::Remote) {
            return self.place_remote(job);
        }
        #[cfg(feature = "process")]
        if matches!(route.path, Path::Process) {
            return self.place_process(job);
        }
        let open = !self.scheduler.is_paused() && !route.op.is_paused();
        if !matches!(route.path, Path::Lane)
            || !open
            || !self.scheduler.lane(header.weight).is_clear()
        {
            return None;
        }
        match self.scheduler.place(job) {
            Placement::Placed => Some(true),
            Placement::Gone => Some(false),
            Placement::NoRoom => None,
        }
    }

    /// Routes a fresh `Waiting` call that holds no lane slot: straight to a
    /// worker, or into its lane with a slot, or (its lane full) into the
    /// lane's line, or rejected, per the full-lane policy. Never blocks.
    pub(super) fn route_new(&self, job: JobRef) {
        let header = job.header();
        let route = route_of(&*job).expect("admitted tokens have a route");
        let lane = self.scheduler.slot_lane(route.path, header.weight);
        // A remote call's waiting is bounded by its own lane and window, a
        // process call's by its process queue and the pool's pipelines.
        if self.config.full_lane == FullLanePolicy::Reject
            && !matches!(route.path, Path::Remote | Path::Process)
        {
            self.route_bounded(job, lane);
            return;
        }
        if self.place_now(&job).is_some() {
            return;
        }
        // Calls already in line go first: a new call joins behind them.
        if lane.in_line() == 0 && lane.try_reserve() {
            self.enqueue_with_slot(job);
            return;
        }
        match self.config.full_lane {
            // Only remote and process calls get here under Reject (see
            // above).
            FullLanePolicy::Reject => {
                let reason = match route.path {
                    Path::Remote => Reason::RemoteFull {
                        in_flight: self.remote_running(),
                        waiting: lane.capacity,
                    },
                    _ => Reason::Rejected {
                        weight: header.weight,
                        capacity: lane.capacity,
                    },
                };
                terminate_with(&*job, TokenState::Killed, reason);
            }
            FullLanePolicy::Wait => {
                if lane.line_push(job) {
                    self.admitter.wake();
                }
            }
        }
    }

    /// [`route_new`](Self::route_new) under [`FullLanePolicy::Reject`]: every
    /// call waiting to start holds a slot of its lane, whether it waits in
    /// the lane (the token's slot bit, given back as it leaves `Waiting`) or
    /// in a worker's mailbox (`Route::mailbox_slot`, given back as it leaves
    /// `Admitted`), so the lane's capacity bounds all that waits of its
    /// weight and a server sheds load as soon as that many calls wait, not
    /// once every mailbox is full too.
    fn route_bounded(&self, job: JobRef, lane: &crate::scheduler::Lane) {
        let header = job.header();
        let route = route_of(&*job).expect("admitted tokens have a route");
        if !lane.try_reserve() {
            terminate_with(
                &*job,
                TokenState::Killed,
                Reason::Rejected {
                    weight: header.weight,
                    capacity: lane.capacity,
                },
            );
            return;
        }
        // Set before a worker can see the call: its claim gives the slot back.
        route.mailbox_slot.store(true, Ordering::SeqCst);
        match self.place_now(&job) {
            Some(true) => return,
            // Finished before it was placed: it never reached `Admitted`.
            Some(false) => {
                if route.mailbox_slot.swap(false, Ordering::SeqCst) {
                    self.give_back(lane);
                }
                return;
            }
            None => {}
        }
        // No mailbox took it: it waits in its lane, on the token's slot bit.
        route.mailbox_slot.store(false, Ordering::SeqCst);
        if !header.arm_lane_slot() {
            // Killed meanwhile: we give the slot back (see `StateCell`).
            self.give_back(lane);
            return;
        }
        self.enqueue_waiting(job);
    }

    /// Moves calls waiting in line into their lanes while the lanes have room
    /// (the admission thread's work).
    pub(super) fn move_lines(&self) {
        for lane in self.scheduler.all_lanes() {
            while lane.in_line() > 0 && lane.try_reserve() {
                match lane.line_pop() {
                    Some(job) if job.header().state() == TokenState::Waiting => {
                        self.enqueue_with_slot(job);
                    }
                    // Killed while in line, or the line emptied meanwhile.
                    _ => self.give_back(lane),
                }
            }
        }
    }

    /// Queues a `Waiting` call for which a lane slot was just taken.
    pub(crate) fn enqueue_with_slot(&self, job: JobRef) {
        let header = job.header();
        if !header.arm_lane_slot() {
            // Killed meanwhile: we give the slot back (see `StateCell`).
            let path = route_of(&*job).expect("routed").path;
            self.give_back(self.scheduler.slot_lane(path, header.weight));
            return;
        }
        self.enqueue_waiting(job);
    }

    /// Puts a `Waiting` call holding a slot where it waits for its turn: its
    /// sticky domain, or its op's hold queue (if the op is paused), or its lane
    /// (weight lane, storage tier or group lane); then wakes who serves it.
    fn enqueue_waiting(&self, job: JobRef) {
        let weight = job.header().weight;
        let route = route_of(&*job).expect("admitted tokens have a route");
        let (path, op) = (route.path, route.op.clone());
        if let Path::Sticky { key, .. } = path {
            // Domains hold paused members themselves, in order.
            self.scheduler.domains.enqueue(key, job, &*self.scheduler);
            return;
        }
        if op.hold_if_paused(&job) {
            return;
        }
        self.scheduler.slot_lane(path, weight).push(job);
        match path {
            Path::Storage(speed) | Path::Combined(speed) => self.scheduler.pump_tier(speed),
            // The window may have room again since the call found none.
            Path::Remote => self.pump_remote(),
            #[cfg(feature = "process")]
            Path::Process => self.pump_process(),
            _ if self.scheduler.is_paused() => {}
            Path::Group(group) => self.scheduler.nudge_group(group),
            _ => self.scheduler.nudge_idle(weight),
        }
    }

    /// Routes a call released from a hold queue (still `Waiting`, holding a
    /// slot). Returns false if it had finished meanwhile (killed while held).
    pub(super) fn route_held(&self, job: JobRef) -> bool {
        let header = job.header();
        if header.state() != TokenState::Waiting {
            return false;
        }
        let route = route_of(&*job).expect("admitted tokens have a route");
        if route.before_gate() {
            // Held before its gate: it holds no slot, and passes the gate now.
            self.reenter_gate(job);
            return true;
        }
        if let Some(placed) = self.place_now(&job) {
            return placed;
        }
        self.enqueue_waiting(job);
        true
    }
}

#[cfg(feature = "process")]
type ProcessRef = Arc<super::process::ProcessCall>;
#[cfg(not(feature = "process"))]
type ProcessRef = std::convert::Infallible;

/// Where a call's body runs when not on this host's threads.
enum Elsewhere {
    /// On this host's threads.
    No,
    /// On a worker host, through the remote backend.
    Remote(Box<RemoteCall>),
    /// In a worker process of this coordinator's pool.
    #[cfg(feature = "process")]
    Process(Arc<super::process::ProcessCall>),
}
