//! The state every coordinator thread and token shares, and the admission path.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Call;
use super::builder::{Config, FullLanePolicy};
use super::lead::{self, LeadDomain, Leads};
use super::ops::OpEntry;
use super::route::{Route, route_of};
use crate::error::{ErrorKind, KillReason};
use crate::metrics::{Histogram, Padded, shard_index};
use crate::process::ProcessPool;
use crate::registry::Registry;
use crate::scheduler::{
    DomainKey, Path, Placement, Scheduler, ThreadConfig, help_lane, with_current, worker_context,
};
use crate::timer::Timer;
use crate::token::{Cell, Header, JobRef, epoch, kill, next_id, terminate_with};
use crate::{TaskToken, TokenState, Weight};

const RUNNING: u8 = 0;
const STOPPING: u8 = 1;

/// Everything a coordinator's threads and tokens share.
pub(crate) struct Shared {
    /// Unique in the process (a key for per-thread caches that must not be
    /// fooled by a freed coordinator's reused address).
    id: u64,
    pub(crate) config: Config,
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) registry: Registry,
    pub(crate) timer: Timer,
    /// Live lead domains (`external_calls`).
    pub(crate) leads: Leads,
    /// The worker processes of `process_pool` calls.
    pub(crate) process: Arc<ProcessPool>,
    /// One entry per (op name, weight) ever submitted here; never removed.
    ops: RwLock<HashMap<(&'static str, Weight), Arc<OpEntry>>>,
    /// Op names paused now (new entries of those names start paused).
    paused_ops: Mutex<HashSet<String>>,
    /// Sharded latency histograms: queue wait (call → start) and run time.
    pub(crate) queue_wait: Box<[Padded<Histogram>]>,
    pub(crate) run_time: Box<[Padded<Histogram>]>,
    shards: usize,
    state: AtomicU8,
    /// Submissions between their running-check and their enqueue; `stop` waits
    /// for these to settle so no call slips into a queue after the final sweep.
    submitting: AtomicUsize,
    /// The timer thread, joined at stop.
    timer_thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("scheduler", &self.scheduler)
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(config: Config) -> Shared {
        let workers = config.core_groups * config.workers_per_core;
        let shards = (workers + 2).next_power_of_two().max(8);
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            scheduler: Arc::new(Scheduler::new(
                config.core_groups,
                config.workers_per_core,
                config.mailbox_capacity,
                config.lane_capacity,
                config.storage_caps,
                ThreadConfig {
                    prefix: config.thread_name.clone(),
                    stack_size: config.stack_size,
                },
            )),
            registry: Registry::new(shards * 4),
            timer: Timer::default(),
            leads: Leads::default(),
            process: Arc::new(ProcessPool::new(config.process_workers)),
            ops: RwLock::default(),
            paused_ops: Mutex::default(),
            queue_wait: (0..shards).map(|_| Padded::default()).collect(),
            run_time: (0..shards).map(|_| Padded::default()).collect(),
            shards,
            state: AtomicU8::new(RUNNING),
            submitting: AtomicUsize::new(0),
            timer_thread: Mutex::default(),
            config,
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        self.state.load(Ordering::SeqCst) == RUNNING
    }

    /// Starts the worker threads and the timer thread.
    pub(crate) fn start_threads(self: &Arc<Self>) -> std::io::Result<()> {
        self.scheduler.start()?;
        let shared = self.clone();
        let timer = std::thread::Builder::new()
            .name(format!("{}-timer", self.config.thread_name))
            .spawn(move || shared.timer.run())?;
        *self.timer_thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(timer);
        Ok(())
    }

    /// The entry for `op` at `weight`, created on first use. A small per-thread
    /// cache serves the common case without touching the shared map.
    pub(crate) fn op_entry(&self, op: &'static str, weight: Weight) -> Arc<OpEntry> {
        /// (coordinator id, op pointer, op length, weight) → entry.
        type Key = (u64, *const u8, usize, Weight);
        type Cache = [Option<(Key, Arc<OpEntry>)>; 4];
        thread_local! {
            static CACHE: std::cell::RefCell<Cache> =
                const { std::cell::RefCell::new([None, None, None, None]) };
        }
        let key: Key = (self.id, op.as_ptr(), op.len(), weight);
        let hit = CACHE.with(|c| {
            c.borrow()
                .iter()
                .flatten()
                .find(|(k, _)| *k == key)
                .map(|(_, e)| e.clone())
        });
        if let Some(entry) = hit {
            return entry;
        }
        let entry = self.op_entry_slow(op, weight);
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            c.rotate_right(1);
            c[0] = Some((key, entry.clone()));
        });
        entry
    }

    fn op_entry_slow(&self, op: &'static str, weight: Weight) -> Arc<OpEntry> {
        if let Some(entry) = self
            .ops
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(op, weight))
        {
            return entry.clone();
        }
        let paused = self.lock_paused_ops().contains(op);
        self.ops
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry((op, weight))
            .or_insert_with(|| Arc::new(OpEntry::new(op, weight, self.shards, paused)))
            .clone()
    }

    /// Every op entry (for stats and admin calls).
    pub(crate) fn op_entries(&self) -> Vec<Arc<OpEntry>> {
        self.ops
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn lock_paused_ops(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.paused_ops.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Called by `route`'s token exactly once per successful transition.
    pub(crate) fn observe(
        &self,
        route: &Route,
        header: &Header,
        from: TokenState,
        to: TokenState,
        now: u64,
        held_slot: bool,
    ) {
        if to.is_terminal() {
            // Before the count: whoever sees a token counted as finished
            // (`Stats::in_flight`) no longer finds it live in the registry.
            self.registry.remove(header.id);
        }
        route.op.counters.local().record(from, to);
        if held_slot {
            self.scheduler
                .slot_lane(route.path, header.weight)
                .release();
        }
        let shard = shard_index(self.shards);
        if to == TokenState::Executing {
            self.queue_wait[shard]
                .0
                .record(now.saturating_sub(header.created_ns()));
        } else if to.is_terminal() {
            if from == TokenState::Executing {
                self.run_time[shard]
                    .0
                    .record(now.saturating_sub(header.started_ns()));
            }
            // Leave domains, exactly once each (joined in `submit`).
            if let Path::Sticky { key, .. } = route.path {
                // A body killed while running still runs: it leaves its domain
                // when it returns (`body_returned`), keeping the domain's pin.
                let body_runs = from == TokenState::Executing
                    && matches!(to, TokenState::Killed | TokenState::TimedOut);
                let domains = &self.scheduler.domains;
                domains.finish(key, header.id, !body_runs, &*self.scheduler);
            }
            for domain in [&route.lead, &route.parent].into_iter().flatten() {
                self.leads.finish(domain);
            }
        }
    }

    /// Makes a token for `f` and admits it.
    pub(crate) fn submit<T, F>(self: &Arc<Self>, call: Call, f: F) -> TaskToken<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let Call {
            op,
            weight,
            timeout,
            storage,
            sticky,
            lead,
        } = call;
        let entry = self.op_entry(op, weight);
        entry.counters.local().create();
        let id = next_id();
        // Inside a lead (or one of its children), a call of a listed op joins
        // the lead's domain and runs in the lead's worker group.
        let (parent, group) = self.lead_context(op);
        let path = if let Some(speed) = storage {
            Path::Storage(speed)
        } else if let Some((anchor, key)) = sticky {
            let key = DomainKey { anchor, key };
            let worker = self.scheduler.domains.join(key, weight, &*self.scheduler);
            Path::Sticky { key, worker }
        } else if let Some(group) = group {
            Path::Group(group)
        } else {
            Path::Lane
        };
        let lead =
            lead.map(|(calls, digest)| self.leads.join(lead::seed(id, calls, digest), calls));
        let route = Route {
            shared: self.clone(),
            op: entry,
            path,
            lead,
            parent,
        };
        let header = Header::new(id, op, weight, timeout);
        let cell = Cell::new(header, Some(route), f);
        let token = TaskToken::from_cell(cell.clone());
        self.admit(cell);
        token
    }

    fn admit(&self, job: JobRef) {
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
            terminate_with(&*job, TokenState::Killed, ErrorKind::Shutdown);
            return;
        }
        let header = job.header();
        self.registry.insert(&job);
        job.transition(TokenState::Created, TokenState::Waiting);
        if let Some(timeout) = header.timeout {
            let created = epoch() + Duration::from_nanos(header.created_ns());
            // A deadline beyond the clock's range never passes.
            if let Some(deadline) = created.checked_add(timeout) {
                self.timer.schedule(&job, deadline, timeout);
            }
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
        let open = !self.scheduler.is_paused() && !route.op.is_paused();
        if !matches!(route.path, Path::Lane)
            || !open
            || !self.scheduler.lane(header.weight).is_empty()
        {
            return None;
        }
        match self.scheduler.place(job) {
            Placement::Placed => Some(true),
            Placement::Gone => Some(false),
            Placement::NoRoom => None,
        }
    }

    /// Routes a fresh `Waiting` call that holds no lane slot.
    fn route_new(&self, job: JobRef) {
        let header = job.header();
        let route = route_of(&*job).expect("admitted tokens have a route");
        let lane = self.scheduler.slot_lane(route.path, header.weight);
        if self.place_now(&job).is_some() {
            return;
        }
        if !lane.try_reserve() {
            match self.config.full_lane {
                FullLanePolicy::Reject => {
                    terminate_with(
                        &*job,
                        TokenState::Killed,
                        ErrorKind::Rejected {
                            weight: header.weight,
                            capacity: lane.capacity,
                        },
                    );
                    return;
                }
                FullLanePolicy::Wait => {
                    if let Some(job) = crate::admit::defer(job.clone()) {
                        // Not inside `admit`: wait here.
                        let helps = !matches!(route.path, Path::Storage(_));
                        let reserved = lane.reserve_blocking(
                            || helps && help_lane(&self.scheduler, lane),
                            || !self.is_running() || header.state() != TokenState::Waiting,
                        );
                        if !reserved {
                            if !self.is_running() {
                                terminate_with(&*job, TokenState::Killed, ErrorKind::Shutdown);
                            }
                            return;
                        }
                    } else {
                        return; // `admit` will take a slot asynchronously.
                    }
                }
            }
        }
        self.enqueue_with_slot(job);
    }

    /// Queues a `Waiting` call for which a lane slot was just taken.
    pub(crate) fn enqueue_with_slot(&self, job: JobRef) {
        let header = job.header();
        if !header.arm_lane_slot() {
            // Killed while we waited for the slot: we give it back (see `StateCell`).
            let path = route_of(&*job).expect("routed").path;
            self.scheduler.slot_lane(path, header.weight).release();
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
            Path::Storage(speed) => self.scheduler.pump_tier(speed),
            _ if self.scheduler.is_paused() => {}
            Path::Group(group) => self.scheduler.nudge_group(group),
            _ => self.scheduler.nudge_idle(weight),
        }
    }

    /// Ends a global pause: wakes idle workers, dispatches storage tiers and
    /// sticky domains.
    pub(crate) fn resume_admission(&self) {
        self.scheduler.set_paused(false);
        self.scheduler.wake_after_pause();
    }

    /// Routes a call released from a hold queue (still `Waiting`, holding a
    /// slot). Returns false if it had finished meanwhile (killed while held).
    fn route_held(&self, job: JobRef) -> bool {
        let header = job.header();
        if header.state() != TokenState::Waiting {
            return false;
        }
        if let Some(placed) = self.place_now(&job) {
            return placed;
        }
        self.enqueue_waiting(job);
        true
    }

    // ----- admin -----------------------------------------------------------

    pub(crate) fn kill_token(&self, id: u64) -> bool {
        self.registry
            .get(id)
            .is_some_and(|job| kill(&*job, KillReason::Admin))
    }

    pub(crate) fn kill_all_by_operation(&self, op: &str) -> usize {
        self.registry
            .snapshot()
            .into_iter()
            .filter(|job| job.header().op == op && kill(&**job, KillReason::Operation))
            .count()
    }

    pub(crate) fn pause_operation(&self, op: &str) {
        self.lock_paused_ops().insert(op.to_owned());
        for entry in self.op_entries().iter().filter(|e| e.name == op) {
            entry.pause();
        }
    }

    pub(crate) fn resume_operation(&self, op: &str) -> usize {
        self.lock_paused_ops().remove(op);
        let mut released = 0;
        for entry in self.op_entries().iter().filter(|e| e.name == op) {
            for job in entry.resume() {
                released += usize::from(self.route_held(job));
            }
        }
        // Sticky members of the op wait in their domains, not in hold queues.
        self.scheduler.wake_after_pause();
        released
    }

    /// Kills every `Waiting` call (of `op`, if given) and returns how many:
    /// wherever it waits (a lane, a hold queue, a full lane's blocked caller, an
    /// `admit`), the registry knows it.
    pub(crate) fn drain(&self, op: Option<&str>) -> usize {
        self.registry
            .snapshot()
            .into_iter()
            .filter(|job| op.is_none_or(|op| job.header().op == op))
            .filter(|job| {
                job.transition(TokenState::Waiting, TokenState::Killed) && {
                    job.resolve_error(job.header().error(ErrorKind::Killed(KillReason::Drain)));
                    true
                }
            })
            .count()
    }

    // ----- stop ------------------------------------------------------------

    /// Stops the coordinator, in steps:
    ///
    /// 1. Admission closes: `submit` fails calls from now on, and this waits
    ///    for calls already past its check to be queued (or given up).
    /// 2. Every queued call (created, waiting in any queue, or admitted to a
    ///    mailbox) is resolved with a shutdown error; calls that already run
    ///    may finish.
    /// 3. The scheduler stops: workers exit after their current call, idle IO
    ///    threads exit.
    /// 4. Running calls get the stop timeout to finish (forever, if it is too
    ///    large for the clock); a call that stops its own coordinator is not
    ///    waited for.
    /// 5. Calls still running then resolve with a shutdown error; their
    ///    threads are left to finish the body on their own.
    /// 6. Queues are cleared (breaking the reference cycles between queued
    ///    calls and the coordinator), the timer stops, the worker processes
    ///    are ended and reaped, and the threads that exited are joined.
    ///
    /// Returns false if the coordinator was already stopping.
    pub(crate) fn stop(&self) -> bool {
        // 1.
        if self
            .state
            .compare_exchange(RUNNING, STOPPING, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false;
        }
        super::current::unregister(self);
        while self.submitting.load(Ordering::SeqCst) > 0 {
            std::thread::yield_now();
        }
        // 2.
        for job in self.registry.snapshot() {
            for state in [
                TokenState::Created,
                TokenState::Waiting,
                TokenState::Admitted,
            ] {
                if job.transition(state, TokenState::Killed) {
                    job.resolve_error(job.header().error(ErrorKind::Shutdown));
                    break;
                }
            }
        }
        // 3.
        self.scheduler.begin_stop();
        // 4.
        let deadline = Instant::now().checked_add(self.config.stop_timeout);
        let all_exited = self.scheduler.wait_threads(deadline);
        // 5.
        for job in self.registry.snapshot() {
            terminate_with(&*job, TokenState::Killed, ErrorKind::Shutdown);
        }
        // 6.
        for entry in self.op_entries() {
            drop(entry.take_held());
        }
        self.timer.stop();
        self.process.shutdown();
        self.scheduler.clear_and_join(all_exited);
        let timer = self
            .timer_thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(timer) = timer
            && timer.thread().id() != std::thread::current().id()
        {
            let _ = timer.join();
        }
        true
    }
}
