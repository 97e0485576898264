//! The state every coordinator thread and token shares, and the admission path.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use super::admitter::Admitter;
use super::builder::Config;
use super::bulk::BulkMaps;
use super::context::{self, OpKey};
use super::guard::Guards;
use super::lead::Leads;
use super::limit::Limits;
use super::live::Orphans;
use super::ops::{Class, OpEntry};
use super::registry::Registry;
use super::remote::{RemoteBackend, RemoteLink};
use super::route::Route;
use super::timer::Timer;
use crate::TokenState;
#[cfg(feature = "process")]
use crate::process::ProcessPool;
use crate::scheduler::{Path, Scheduler, ThreadConfig};
use crate::token::Header;

pub(super) const RUNNING: u8 = 0;
pub(super) const STOPPING: u8 = 1;

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
    /// Named limits (`limit = "..."`).
    pub(crate) limits: Limits,
    /// Bodies still running after their call was killed or timed out.
    pub(crate) orphans: Orphans,
    /// Per op name: its circuit breaker and manual block.
    pub(crate) guards: Guards,
    /// The worker processes of `process_pool` calls.
    #[cfg(feature = "process")]
    pub(crate) process: Arc<ProcessPool>,
    /// Publishes to the `metrics` facade.
    #[cfg(feature = "metrics")]
    pub(crate) export: super::export::Export,
    /// One entry per (op name, class) ever submitted here; never removed.
    ops: RwLock<HashMap<(&'static str, Class), Arc<OpEntry>>>,
    /// Op names paused now (new entries of those names start paused).
    paused_ops: Mutex<HashSet<String>>,
    shards: usize,
    pub(super) state: AtomicU8,
    /// Submissions between their running-check and their enqueue; `stop` waits
    /// for these to settle so no call slips into a queue after the final sweep.
    pub(super) submitting: AtomicUsize,
    /// Moves calls waiting in line into their lanes, and hands remote calls
    /// to the backend as its window frees (shared with the backend's wake).
    pub(crate) admitter: Arc<Admitter>,
    /// The backend of `remote` calls, if the coordinator has one.
    pub(crate) remote: Option<RemoteLink>,
    /// The timer and admission threads, joined at stop.
    pub(super) service_threads: Mutex<Vec<JoinHandle<()>>>,
    /// Streaming maps in progress (`map_unordered`).
    pub(crate) bulk_maps: BulkMaps,
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
    pub(crate) fn new(config: Config, remote: Option<Arc<dyn RemoteBackend>>) -> Shared {
        let workers = config.core_groups * config.workers_per_core;
        let shards = (workers + 2).next_power_of_two().max(8);
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            scheduler: Arc::new({
                let scheduler = Scheduler::new(
                    config.core_groups,
                    config.workers_per_core,
                    config.mailbox_capacity,
                    config.lane_capacity,
                    config.storage_caps,
                    ThreadConfig {
                        prefix: config.thread_name.clone(),
                        stack_size: config.stack_size,
                    },
                );
                if config.cpu_share {
                    scheduler.with_cpu_share()
                } else {
                    scheduler
                }
            }),
            registry: Registry::new(shards * 4),
            timer: Timer::default(),
            leads: Leads::default(),
            limits: Limits::new(&config.limits),
            orphans: Orphans::default(),
            guards: Guards::default(),
            #[cfg(feature = "process")]
            process: Arc::new(ProcessPool::new(
                config.process_workers,
                config.process_pipeline,
                config.panic_handler.clone().map(|handler| {
                    Box::new(move |message: &str, pid, call| {
                        handler.report_process(message, pid, call)
                    }) as crate::process::OnPanic
                }),
            )),
            #[cfg(feature = "metrics")]
            export: super::export::Export::new(&config.metrics_labels),
            ops: RwLock::default(),
            paused_ops: Mutex::default(),
            shards,
            state: AtomicU8::new(RUNNING),
            submitting: AtomicUsize::new(0),
            admitter: Arc::default(),
            remote: remote.map(RemoteLink::new),
            service_threads: Mutex::default(),
            bulk_maps: BulkMaps::default(),
            config,
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        self.state.load(Ordering::SeqCst) == RUNNING
    }

    /// Starts the worker threads, and the timer and admission threads.
    pub(crate) fn start_threads(self: &Arc<Self>) -> std::io::Result<()> {
        self.scheduler.start()?;
        // The pool's reader threads send the next process calls as replies
        // free up room; the pool holds no strong reference back.
        #[cfg(feature = "process")]
        {
            let shared = Arc::downgrade(self);
            self.process.set_pump(Box::new(move || {
                if let Some(shared) = shared.upgrade() {
                    shared.pump_process();
                }
            }));
        }
        let spawn = |name: &str, body: fn(&Shared)| {
            let shared = self.clone();
            let handle = std::thread::Builder::new()
                .name(format!("{}-{name}", self.config.thread_name))
                .spawn(move || body(&shared))?;
            self.service_threads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(handle);
            std::io::Result::Ok(())
        };
        spawn("timer", |shared| {
            #[cfg(feature = "metrics")]
            let (every, tick) = (Some(shared.config.metrics_interval), || {
                shared.export.publish(shared)
            });
            #[cfg(not(feature = "metrics"))]
            let (every, tick) = (None, || {});
            shared
                .timer
                .run(every, tick, |job, action| shared.fire(job, action))
        })?;
        spawn("admit", |shared| {
            shared.admitter.run(|| {
                shared.move_gates();
                shared.move_lines();
                shared.pump_remote();
                #[cfg(feature = "process")]
                shared.pump_process();
            })
        })?;
        Ok(())
    }

    /// Gives back a slot of `lane`, and has the line moved if calls wait in it.
    pub(crate) fn give_back(&self, lane: &crate::scheduler::Lane) {
        if lane.release() {
            self.admitter.wake();
        }
    }

    /// The entry for `op` at `weight`, created on first use. A small per-thread
    /// cache serves the common case without touching the shared map.
    pub(crate) fn op_entry(&self, op: &'static str, class: Class) -> Arc<OpEntry> {
        let key: OpKey = (self.id, op.as_ptr(), op.len(), class);
        if let Some(entry) = context::cached_op(key) {
            return entry;
        }
        let entry = self.op_entry_slow(op, class);
        context::cache_op(key, entry.clone());
        entry
    }

    fn op_entry_slow(&self, op: &'static str, class: Class) -> Arc<OpEntry> {
        if let Some(entry) = self
            .ops
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(op, class))
        {
            return entry.clone();
        }
        let paused = self.lock_paused_ops().contains(op);
        let guard = self.guards.of(op);
        self.ops
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry((op, class))
            .or_insert_with(|| Arc::new(OpEntry::new(op, class, self.shards, paused, guard)))
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

    pub(super) fn lock_paused_ops(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
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
        // A body killed while running still runs: it leaves its domain and
        // gives its limit's permit back when it returns (`body_returned`).
        let body_runs = from == TokenState::Executing
            && matches!(to, TokenState::Killed | TokenState::TimedOut);
        if to.is_terminal() {
            if body_runs && let Some(job) = self.registry.get(header.id) {
                self.orphans.killed_running(job, &route.orphan);
            }
            // Before the count: whoever sees a token counted as finished
            // (`Stats::in_flight`) no longer finds it live in the registry.
            self.registry.remove(header.id);
        }
        route.op.counters.local().record(from, to);
        if held_slot
            || (from == TokenState::Admitted
                && route.mailbox_slot.load(Ordering::Relaxed)
                && route.mailbox_slot.swap(false, Ordering::SeqCst))
        {
            self.give_back(self.scheduler.slot_lane(route.path, header.weight));
        }
        if to == TokenState::Executing {
            route
                .op
                .queue_wait
                .record(now.saturating_sub(header.created_ns()));
            route.trace.started(header, now);
            self.start_attempt(route, header, now);
        }
        if from == TokenState::Executing {
            self.attempt_ended(route, header, to, now);
        }
        if to == TokenState::Waiting && from == TokenState::Executing {
            // An attempt failed and the call waits for its next one: it gives
            // its limit's permit back and passes the gate again when
            // re-admitted; a sticky call keeps its domain's turn.
            route.op.retries.fetch_add(1, Ordering::Relaxed);
            if let Some(limit) = &route.limit {
                self.end_gate(limit, route);
            }
        } else if to.is_terminal() {
            if from == TokenState::Executing {
                let ran = now.saturating_sub(header.started_ns());
                route.op.run_time.record(ran);
                route.op.body_ran(ran);
            }
            // Leave domains, exactly once each (joined in `submit`).
            if let Path::Sticky { key, .. } = route.path {
                let domains = &self.scheduler.domains;
                domains.finish(key, header.id, !body_runs, &*self.scheduler);
            }
            for domain in [&route.lead, &route.parent].into_iter().flatten() {
                self.leads.finish(domain);
            }
            if let Some(limit) = route.limit.as_ref().filter(|_| !body_runs) {
                self.end_gate(limit, route);
            }
            // Last: the backend answers at once, and its answer reaches this
            // token as a late outcome (its body "returns").
            if body_runs && matches!(route.path, Path::Remote) {
                self.kill_remote(header);
            }
            #[cfg(feature = "process")]
            if body_runs && matches!(route.path, Path::Process) {
                self.kill_process(route, header);
            }
        }
    }

    // ----- admin -----------------------------------------------------------

    // ----- stop ------------------------------------------------------------
}
