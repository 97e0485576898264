//! The scheduler: weight lanes, core groups, per-worker mailboxes, placement,
//! stealing and waiting. The design is described in `README.md` beside this file.
#![doc = include_str!("README.md")]

mod context;
mod cpu;
mod domain;
mod io_pool;
mod lane;
#[cfg(all(test, loom))]
mod loom;
mod path;
mod place;
mod search;
#[cfg(test)]
mod testing;
#[cfg(all(test, not(loom)))]
mod tests;
mod threads;
mod tier;
pub(crate) mod topology;
mod wait;
mod worker;

pub(crate) use context::{run_claimed, with_current, worker_context};
pub(crate) use domain::{Dispatch, Domains};
pub(crate) use io_pool::IoPool;
pub(crate) use lane::Lane;
pub(crate) use path::{DomainKey, Path};
pub(crate) use place::Placement;
pub(crate) use threads::ThreadConfig;
pub(crate) use tier::{Tier, TurnQueue, combined_tag, combined_tier};
pub(crate) use wait::{claim, help_lane, park_waiting};
pub(crate) use worker::WorkerSlot;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crossbeam_channel::{bounded, unbounded};

use place::from_last;
use threads::Threads;

use crate::sync::{AtomicBool, AtomicU64, AtomicUsize};
use crate::token::JobRef;
use crate::{StorageSpeed, TokenState, Weight};
use worker::Msg;

/// Whether `job`'s owner holds it back (a pause of its op) as it leaves its
/// queue; if so the owner kept it, and the caller drops its reference.
pub(crate) fn held_back(job: &JobRef) -> bool {
    job.owner().is_some_and(|owner| owner.hold_back(job))
}

/// Extra mailbox room for the one `Nudge` that may be in flight.
const NUDGE_SLACK: usize = 1;

/// Lanes, workers and the routing tables between them.
pub(crate) struct Scheduler {
    pub(crate) groups: usize,
    pub(crate) mailbox_capacity: usize,
    pub(crate) lanes: [Lane; 3],
    /// Per core group: children of leads running in that group, FIFO.
    pub(crate) group_lanes: Box<[Lane]>,
    /// Per storage tier: waiting IO calls and the tier's cap.
    pub(crate) tiers: [Tier; 4],
    /// Remote calls waiting for room in their backend's in-flight window. Its
    /// owner (the coordinator) takes them out; no worker ever does.
    pub(crate) remote_lane: Lane,
    /// Per weight: process-pool calls waiting for room in a worker process.
    /// Their owner (the coordinator) takes them out; no worker ever does.
    pub(crate) process_lanes: [Lane; 3],
    /// Per weight: combined calls holding a tier's turn, waiting for a CPU
    /// worker of the weight's home groups.
    pub(crate) turns: [TurnQueue; 3],
    /// The threads that run storage-tier calls.
    pub(crate) io: IoPool,
    /// Sticky domains and their pins.
    pub(crate) domains: Domains,
    pub(crate) workers: Box<[WorkerSlot]>,
    /// Per weight: workers in its home groups (placement candidates).
    home: [Box<[usize]>; 3],
    /// Per weight: roaming workers outside its home groups.
    roamers: [Box<[usize]>; 3],
    /// Global pause: no call leaves a lane.
    paused: AtomicBool,
    /// Set once at stop: workers exit after their current call.
    stopping: AtomicBool,
    /// Idle workers spinning for new work right now, and how many may: spinning
    /// keeps back-to-back calls fast, but every spinner takes a core from the
    /// threads that make the calls.
    pub(crate) spinners: AtomicUsize,
    pub(crate) max_spinners: usize,
    /// The worker and IO threads, counted while they live.
    pub(crate) threads: Threads,
    /// CPU permits, when the coordinator shares cores out by weight.
    pub(crate) cpu: Option<cpu::CpuShare>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("groups", &self.groups)
            .field("workers", &self.workers.len())
            .field("paused", &self.is_paused())
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    pub(crate) fn new(
        groups: usize,
        workers_per_group: usize,
        mailbox_capacity: usize,
        lane_capacity: usize,
        storage_caps: [usize; 4],
        threads: ThreadConfig,
    ) -> Scheduler {
        let mut workers = Vec::with_capacity(groups * workers_per_group);
        for group in 0..groups {
            let home_lanes: Vec<Weight> = Weight::ALL
                .into_iter()
                .filter(|&w| topology::is_home(w, group, groups))
                .collect();
            for local in 0..workers_per_group {
                // With two or more workers per group, the first serves only its
                // group's home weights, so a home call never waits behind a
                // foreign flood; with one, it must roam to keep cores busy.
                let roams = workers_per_group == 1 || local > 0;
                let foreign_lanes = if roams {
                    Weight::ALL
                        .into_iter()
                        .filter(|w| !home_lanes.contains(w))
                        .collect()
                } else {
                    Vec::new()
                };
                let (tx, rx) = bounded(mailbox_capacity + NUDGE_SLACK);
                let (pinned_tx, pinned_rx) = unbounded();
                workers.push(WorkerSlot {
                    index: workers.len(),
                    group,
                    roams,
                    home_lanes: home_lanes.clone(),
                    foreign_lanes,
                    tx,
                    rx,
                    pinned_tx,
                    pinned_rx,
                    nudged: AtomicBool::new(false),
                    spinning: AtomicBool::new(false),
                    permit: AtomicUsize::new(0),
                    waiting: AtomicUsize::new(0),
                    pins: AtomicUsize::new(0),
                    load: AtomicUsize::new(0),
                    running: AtomicUsize::new(0),
                    completed: AtomicU64::new(0),
                    turn: AtomicUsize::new(0),
                });
            }
        }
        let table = |pick: &dyn Fn(&WorkerSlot, Weight) -> bool| {
            Weight::ALL.map(|w| {
                workers
                    .iter()
                    .filter(|s| pick(s, w))
                    .map(|s| s.index)
                    .collect::<Box<[usize]>>()
            })
        };
        let home = table(&|s, w| topology::is_home(w, s.group, groups));
        let roamers = table(&|s, w| s.roams && !topology::is_home(w, s.group, groups));
        Scheduler {
            groups,
            mailbox_capacity,
            lanes: Weight::ALL.map(|w| Lane::new(w, lane_capacity)),
            group_lanes: (0..groups)
                .map(|_| Lane::new(Weight::Medium, lane_capacity))
                .collect(),
            tiers: StorageSpeed::ALL.map(|t| Tier::new(t, storage_caps[t.index()], lane_capacity)),
            remote_lane: Lane::new(Weight::Medium, lane_capacity),
            process_lanes: Weight::ALL.map(|w| Lane::new(w, lane_capacity)),
            turns: Default::default(),
            io: IoPool::default(),
            domains: Domains::default(),
            workers: workers.into_boxed_slice(),
            home,
            roamers,
            paused: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            spinners: AtomicUsize::new(0),
            max_spinners: (groups / 2).max(1),
            threads: Threads::new(threads),
            cpu: None,
        }
    }

    /// The scheduler with CPU share on (see `cpu.rs`): one permit per core
    /// group, each weight owning its home groups'.
    pub(crate) fn with_cpu_share(mut self) -> Scheduler {
        let groups = self.groups;
        let owned = Weight::ALL.map(|w| topology::home_groups(w, groups).len());
        self.cpu = Some(cpu::CpuShare::new(groups, owned));
        self
    }

    /// Spawns the worker threads. On an error, the workers already spawned
    /// are left running: [`begin_stop`](Self::begin_stop) ends them.
    pub(crate) fn start(self: &Arc<Self>) -> std::io::Result<()> {
        for index in 0..self.workers.len() {
            let scheduler = self.clone();
            self.threads
                .spawn(&format!("worker-{index}"), true, move || {
                    worker::worker_main(scheduler, index)
                })?;
        }
        Ok(())
    }

    pub(crate) fn lane(&self, weight: Weight) -> &Lane {
        &self.lanes[weight.index()]
    }

    /// The lane whose capacity a call on `path` counts against while waiting.
    pub(crate) fn slot_lane(&self, path: Path, weight: Weight) -> &Lane {
        match path {
            Path::Lane | Path::Sticky { .. } => self.lane(weight),
            Path::Storage(speed) | Path::Combined(speed) => &self.tiers[speed.index()].lane,
            Path::Group(group) => &self.group_lanes[group],
            Path::Remote => &self.remote_lane,
            Path::Process => &self.process_lanes[weight.index()],
        }
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    pub(crate) fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
        if !paused {
            self.nudge_all_idle();
        }
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Stopping, step 1: no call leaves a storage tier any more, and each
    /// worker exits after its current call; idle IO threads exit, busy ones
    /// finish their call first.
    pub(crate) fn begin_stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for slot in self.workers.iter() {
            self.nudge(slot);
        }
        drop(self.io.stop());
    }

    /// Stopping, step 2: waits until every thread has exited, or `deadline`
    /// passes (`None`: no deadline). A call may stop its own coordinator: the
    /// calling thread is not waited for. Returns whether all exited.
    pub(crate) fn wait_threads(&self, deadline: Option<Instant>) -> bool {
        let own =
            worker_context().is_some_and(|ctx| std::ptr::eq(Arc::as_ptr(&ctx.scheduler), self));
        self.threads.wait_exited(usize::from(own), deadline)
    }

    /// Stopping, step 3: drops every queued entry (lanes, tiers, domains,
    /// mailboxes), which breaks the reference cycles through the queued
    /// calls' owners, and joins the worker threads that have exited (all of
    /// them if `all_exited`; the calling thread never).
    pub(crate) fn clear_and_join(&self, all_exited: bool) {
        for lane in self.all_lanes() {
            lane.clear();
        }
        self.domains.clear();
        for turns in &self.turns {
            drop(turns.take_all());
        }
        drop(self.io.stop());
        drop(self.drain_mailboxes());
        self.threads.join(all_exited);
    }

    /// Every lane: the weight lanes, the group lanes of lead children, the
    /// storage tiers' lanes, the remote lane and the process lanes.
    pub(crate) fn all_lanes(&self) -> impl Iterator<Item = &Lane> {
        let tiers = self.tiers.iter().map(|tier| &tier.lane);
        self.lanes
            .iter()
            .chain(&*self.group_lanes)
            .chain(tiers)
            .chain(std::iter::once(&self.remote_lane))
            .chain(&self.process_lanes)
    }

    /// Dispatches waiting calls of a storage tier while it has room (and
    /// admission is open): IO calls to IO threads, combined calls (still
    /// `Waiting`, now holding a turn) to their weight's turn queue.
    pub(crate) fn pump_tier(self: &Arc<Self>, speed: StorageSpeed) {
        let open = !self.is_stopping() && !self.is_paused();
        self.tiers[speed.index()].pump(
            open,
            |job| {
                if held_back(&job) {
                    return None;
                }
                if combined_tier(&job).is_some() {
                    // A worker admits it; if it is killed before, the worker
                    // finds it stale and gives the turn back.
                    return (job.header().state() == TokenState::Waiting).then_some(job);
                }
                job.transition(TokenState::Waiting, TokenState::Admitted)
                    .then_some(job)
            },
            |job| {
                if combined_tier(&job).is_some() {
                    let weight = job.header().weight;
                    self.turns[weight.index()].push(job);
                    self.nudge_home(weight);
                } else {
                    self.io.execute(self, job, speed);
                }
            },
        );
    }

    /// A combined call of tier `speed` gave its turn back (its body returned,
    /// or it was found killed in its turn queue).
    pub(crate) fn end_turn(self: &Arc<Self>, speed: StorageSpeed) {
        self.tiers[speed.index()].finished();
        self.pump_tier(speed);
    }

    /// Takes the oldest live combined call of a home weight of `me`, already
    /// `Admitted` and counted in its load; stale entries give their turn back
    /// on the way.
    pub(crate) fn pull_turn(self: &Arc<Self>, me: &WorkerSlot) -> Option<JobRef> {
        if self.is_paused() {
            return None;
        }
        for &weight in &me.home_lanes {
            while let Some(job) = self.turns[weight.index()].pop() {
                me.load.fetch_add(1, Ordering::SeqCst);
                if job.transition(TokenState::Waiting, TokenState::Admitted) {
                    return Some(job);
                }
                me.load.fetch_sub(1, Ordering::SeqCst);
                if let Some(speed) = combined_tier(&job) {
                    self.end_turn(speed);
                }
            }
        }
        None
    }

    /// Changes a storage tier's cap; raising it dispatches waiting calls now.
    pub(crate) fn set_storage_cap(self: &Arc<Self>, speed: StorageSpeed, cap: usize) {
        self.tiers[speed.index()].set_cap(cap);
        self.pump_tier(speed);
    }

    /// Ends a global pause, or a pause of an op: wakes idle workers, and
    /// dispatches storage tiers and sticky domains.
    pub(crate) fn wake_after_pause(self: &Arc<Self>) {
        for speed in StorageSpeed::ALL {
            self.pump_tier(speed);
        }
        self.domains.pump_all(&**self);
        for group in 0..self.groups {
            self.nudge_group(group);
        }
    }

    /// Every call still in a mailbox (used at stop), leaving mailboxes empty.
    fn drain_mailboxes(&self) -> Vec<JobRef> {
        let mut jobs = Vec::new();
        for slot in self.workers.iter() {
            while let Ok(msg) = slot.rx.try_recv() {
                if let Msg::Run(job) = msg {
                    jobs.push(job);
                }
            }
            jobs.extend(slot.pinned_rx.try_iter());
        }
        jobs
    }
}

impl Dispatch for Scheduler {
    /// The home worker of `weight` with the fewest pinned domains plus calls
    /// (so domains made while nothing runs, in a pause say, still spread out).
    fn pin(&self, weight: Weight) -> usize {
        let worker = from_last(&self.home[weight.index()])
            .min_by_key(|&i| {
                let slot = &self.workers[i];
                slot.pins.load(Ordering::SeqCst) + slot.load.load(Ordering::SeqCst)
            })
            .expect("every weight has a home worker");
        self.workers[worker].pins.fetch_add(1, Ordering::SeqCst);
        worker
    }

    fn unpin(&self, worker: usize) {
        self.workers[worker].pins.fetch_sub(1, Ordering::SeqCst);
    }

    fn admission_open(&self, job: &JobRef) -> bool {
        !self.is_paused() && job.owner().is_none_or(|owner| owner.admissible())
    }

    fn send_pinned(&self, worker: usize, job: JobRef) {
        let slot = &self.workers[worker];
        slot.load.fetch_add(1, Ordering::SeqCst);
        if slot.pinned_tx.send(job).is_err() {
            unreachable!("a worker's channels live as long as its scheduler");
        }
    }
}
