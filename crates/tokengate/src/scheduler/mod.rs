//! The scheduler: weight lanes, core groups, per-worker mailboxes, placement,
//! stealing and waiting. The design is described in `README.md` beside this file.
#![doc = include_str!("README.md")]

mod domain;
mod io_pool;
mod lane;
#[cfg(all(test, loom))]
mod loom_wakeup;
mod path;
mod threads;
mod tier;
pub(crate) mod topology;
pub(crate) mod worker;

pub(crate) use domain::{Dispatch, Domains};
pub(crate) use io_pool::IoPool;
pub(crate) use lane::Lane;
pub(crate) use path::{DomainKey, Path};
pub(crate) use threads::ThreadConfig;
pub(crate) use tier::Tier;
pub(crate) use worker::{
    WorkerSlot, claim, help_lane, park_waiting, run_claimed, with_current, worker_context,
};

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use crossbeam_channel::{bounded, unbounded};

use threads::Threads;

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

/// The outcome of trying to hand a `Waiting` call straight to a worker.
pub(crate) enum Placement {
    /// It is `Admitted`, in a worker's mailbox.
    Placed,
    /// It stopped being `Waiting` meanwhile (killed or timed out).
    Gone,
    /// No eligible worker had room: the call must wait in its lane.
    NoRoom,
}

/// Lanes, workers and the routing tables between them.
pub(crate) struct Scheduler {
    pub(crate) groups: usize,
    pub(crate) mailbox_capacity: usize,
    pub(crate) lanes: [Lane; 3],
    /// Per core group: children of leads running in that group, FIFO.
    pub(crate) group_lanes: Box<[Lane]>,
    /// Per storage tier: waiting IO calls and the tier's cap.
    pub(crate) tiers: [Tier; 4],
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

thread_local! {
    /// The worker this thread last handed a call to: it is likely still awake
    /// (spinning), so a caller making calls one after another tries it first.
    static LAST_WORKER: Cell<usize> = const { Cell::new(0) };
}

/// `candidates` in turn, starting at this thread's last worker if it is one
/// of them: equal candidates are then tried in a stable, warm-first order.
fn from_last(candidates: &[usize]) -> impl Iterator<Item = usize> + '_ {
    let last = LAST_WORKER.with(Cell::get);
    let start = candidates.iter().position(|&i| i == last).unwrap_or(0);
    (0..candidates.len()).map(move |k| candidates[(start + k) % candidates.len()])
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
        }
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
            Path::Storage(speed) => &self.tiers[speed.index()].lane,
            Path::Group(group) => &self.group_lanes[group],
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

    /// Wakes one idle worker of `group` (after a push to its group lane).
    pub(crate) fn nudge_group(&self, group: usize) {
        if let Some(slot) = self
            .workers
            .iter()
            .find(|s| s.group == group && s.load.load(Ordering::SeqCst) == 0)
        {
            self.nudge(slot);
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
        let tier_lanes = self.tiers.iter().map(|t| &t.lane);
        for lane in self
            .lanes
            .iter()
            .chain(&*self.group_lanes)
            .chain(tier_lanes)
        {
            lane.clear();
        }
        self.domains.clear();
        drop(self.io.stop());
        drop(self.drain_mailboxes());
        self.threads.join(all_exited);
    }

    /// Dispatches waiting calls of a storage tier to IO threads while it has
    /// room (and admission is open).
    pub(crate) fn pump_tier(self: &Arc<Self>, speed: StorageSpeed) {
        let open = !self.is_stopping() && !self.is_paused();
        self.tiers[speed.index()].pump(
            open,
            |job| {
                if held_back(&job) {
                    return None;
                }
                job.transition(TokenState::Waiting, TokenState::Admitted)
                    .then_some(job)
            },
            |job| self.io.execute(self, job, speed),
        );
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

    /// Hands a `Waiting` call to a worker: an idle home worker, else an idle
    /// roaming worker of another group, else the least-loaded home worker whose
    /// mailbox has room.
    pub(crate) fn place(&self, job: &JobRef) -> Placement {
        let weight = job.header().weight;
        let Some((index, roamed)) = self.reserve_worker(weight) else {
            return Placement::NoRoom;
        };
        let slot = &self.workers[index];
        if !job.transition(TokenState::Waiting, TokenState::Admitted) {
            slot.load.fetch_sub(1, Ordering::SeqCst);
            return Placement::Gone;
        }
        if roamed {
            // Only this worker may run it: a reserved neighbour must never steal
            // a foreign call.
            if slot.pinned_tx.send(job.clone()).is_err() {
                unreachable!("a worker's channels live as long as its scheduler");
            }
        } else if slot.tx.try_send(Msg::Run(job.clone())).is_err() {
            // Runs in the mailbox never exceed `load`, which is below capacity,
            // and at most one nudge is in flight: the slack covers it.
            unreachable!("a mailbox had no room for a call counted in its load");
        }
        Placement::Placed
    }

    /// Picks a worker for `weight` and counts one more call in its `load`.
    /// Returns the worker and whether it roams for this call.
    fn reserve_worker(&self, weight: Weight) -> Option<(usize, bool)> {
        let claim_idle = |candidates: &[usize]| {
            let found = from_last(candidates).find(|&i| {
                self.workers[i]
                    .load
                    .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            });
            if let Some(i) = found {
                LAST_WORKER.with(|l| l.set(i));
            }
            found
        };
        let home = &self.home[weight.index()];
        // An idle worker first, home or roaming: work-conserving, and no call
        // waits behind a busy worker while another one sleeps.
        if let Some(i) = claim_idle(home) {
            return Some((i, false));
        }
        if let Some(i) = claim_idle(&self.roamers[weight.index()]) {
            return Some((i, true));
        }
        let (i, load) = from_last(home)
            .map(|i| (i, self.workers[i].load.load(Ordering::SeqCst)))
            .min_by_key(|&(_, load)| load)?;
        if load < self.mailbox_capacity {
            let slot = &self.workers[i];
            if slot.load.fetch_add(1, Ordering::SeqCst) < self.mailbox_capacity {
                return Some((i, false));
            }
            slot.load.fetch_sub(1, Ordering::SeqCst);
        }
        None
    }

    /// Sends `slot` a nudge unless one is already in flight.
    fn nudge(&self, slot: &WorkerSlot) {
        if slot
            .nudged
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
            && slot.tx.try_send(Msg::Nudge).is_err()
        {
            slot.nudged.store(false, Ordering::SeqCst);
        }
    }

    /// After a lane push: wake one idle worker that may serve `weight`.
    ///
    /// Together with workers re-checking lanes after going idle, this closes the
    /// lost-wake-up window (see the design note).
    pub(crate) fn nudge_idle(&self, weight: Weight) {
        let candidates = self.home[weight.index()]
            .iter()
            .chain(self.roamers[weight.index()].iter());
        for &i in candidates {
            let slot = &self.workers[i];
            if slot.load.load(Ordering::SeqCst) == 0 {
                self.nudge(slot);
                return;
            }
        }
    }

    pub(crate) fn nudge_all_idle(&self) {
        for slot in self.workers.iter() {
            if slot.load.load(Ordering::SeqCst) == 0 {
                self.nudge(slot);
            }
        }
    }

    /// The next call for an idle worker, already `Admitted` and counted in its
    /// load: a neighbour's queued call, its home lanes, then (if it roams)
    /// other lanes and other groups' mailboxes.
    pub(crate) fn find_work(&self, me: &WorkerSlot) -> Option<JobRef> {
        // Children of a lead running in this group: the lead may be waiting.
        if let Some(job) = self.pull_from(me, &self.group_lanes[me.group]) {
            return Some(job);
        }
        if let Some(job) = self.steal(me, true) {
            return Some(job);
        }
        if !self.is_paused() {
            let turn = me.turn.fetch_add(1, Ordering::Relaxed);
            for lanes in [&me.home_lanes, &me.foreign_lanes] {
                for k in 0..lanes.len() {
                    if let Some(job) = self.pull(me, lanes[(turn + k) % lanes.len()]) {
                        return Some(job);
                    }
                }
            }
        }
        if me.roams {
            return self.steal(me, false);
        }
        None
    }

    /// Takes the oldest live call from `weight`'s lane for worker `me`.
    pub(crate) fn pull(&self, me: &WorkerSlot, weight: Weight) -> Option<JobRef> {
        self.pull_from(me, self.lane(weight))
    }

    /// Takes the oldest live call from `lane` for worker `me`, already
    /// `Admitted` and counted in its load; calls of paused ops go to their hold
    /// queue on the way.
    pub(crate) fn pull_from(&self, me: &WorkerSlot, lane: &Lane) -> Option<JobRef> {
        if self.is_paused() {
            return None;
        }
        loop {
            let job = lane.pop()?;
            if held_back(&job) {
                continue;
            }
            me.load.fetch_add(1, Ordering::SeqCst);
            if job.transition(TokenState::Waiting, TokenState::Admitted) {
                return Some(job);
            }
            me.load.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Takes a queued call from a busy neighbour's mailbox: one in `me`'s group
    /// if `same_group`, else anywhere.
    fn steal(&self, me: &WorkerSlot, same_group: bool) -> Option<JobRef> {
        for victim in self.workers.iter() {
            if victim.index == me.index
                || (victim.group == me.group) != same_group
                || victim.load.load(Ordering::SeqCst) < 2
                || victim.rx.is_empty()
            {
                continue;
            }
            if let Ok(Msg::Run(job)) = victim.rx.try_recv() {
                victim.load.fetch_sub(1, Ordering::SeqCst);
                me.load.fetch_add(1, Ordering::SeqCst);
                return Some(job);
            }
        }
        None
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
