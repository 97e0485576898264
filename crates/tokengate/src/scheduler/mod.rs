//! The scheduler: weight lanes, core groups, per-worker mailboxes, placement,
//! stealing and waiting. The design is described in `README.md` beside this file.
#![doc = include_str!("README.md")]

mod lane;
#[cfg(all(test, loom))]
mod loom_wakeup;
pub(crate) mod topology;
pub(crate) mod worker;

pub(crate) use lane::Lane;
pub(crate) use worker::{WorkerSlot, claim_and_run, help_lane, worker_context, with_current};

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

use crossbeam_channel::bounded;

use crate::token::{Completion, JobRef};
use crate::{TaskError, TokenState, Weight};
use worker::Msg;

/// Extra mailbox room for `Nudge` messages beyond the call capacity.
const NUDGE_SLACK: usize = 4;

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
    pub(crate) workers: Box<[WorkerSlot]>,
    /// Per weight: workers in its home groups (placement candidates).
    home: [Box<[usize]>; 3],
    /// Per weight: roaming workers outside its home groups.
    roamers: [Box<[usize]>; 3],
    /// Global pause: no call leaves a lane.
    paused: AtomicBool,
    /// Set once at stop: workers exit after their current call.
    stopping: AtomicBool,
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

/// A per-thread rotating start index, so equal candidates share the load.
fn rotation() -> usize {
    thread_local! {
        static TURN: Cell<usize> = const { Cell::new(0) };
    }
    TURN.with(|t| {
        let v = t.get().wrapping_add(1);
        t.set(v);
        v
    })
}

impl Scheduler {
    pub(crate) fn new(
        groups: usize,
        workers_per_group: usize,
        mailbox_capacity: usize,
        lane_capacity: usize,
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
                workers.push(WorkerSlot {
                    index: workers.len(),
                    group,
                    roams,
                    home_lanes: home_lanes.clone(),
                    foreign_lanes,
                    tx,
                    rx,
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
            workers: workers.into_boxed_slice(),
            home,
            roamers,
            paused: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
        }
    }

    pub(crate) fn lane(&self, weight: Weight) -> &Lane {
        &self.lanes[weight.index()]
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

    pub(crate) fn begin_stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for slot in self.workers.iter() {
            let _ = slot.tx.try_send(Msg::Nudge);
        }
    }

    /// Hands a `Waiting` call to the least-loaded home worker with mailbox room,
    /// or else to an idle roaming worker of another group.
    pub(crate) fn place(&self, job: &JobRef) -> Placement {
        let weight = job.header().weight;
        let Some(index) = self.reserve_worker(weight) else {
            return Placement::NoRoom;
        };
        let slot = &self.workers[index];
        if !job.header().transition(TokenState::Waiting, TokenState::Admitted) {
            slot.load.fetch_sub(1, Ordering::SeqCst);
            return Placement::Gone;
        }
        // Runs in the mailbox never exceed `load`, which is below capacity, so
        // this cannot block for long (only behind nudges, bounded by the slack).
        if slot.tx.send(Msg::Run(job.clone())).is_err() {
            unreachable!("a worker mailbox lives as long as its scheduler");
        }
        Placement::Placed
    }

    /// Picks a worker for `weight` and counts one more call in its `load`.
    fn reserve_worker(&self, weight: Weight) -> Option<usize> {
        let home = &self.home[weight.index()];
        let start = rotation();
        let mut best: Option<(usize, usize)> = None;
        for k in 0..home.len() {
            let i = home[(start + k) % home.len()];
            let load = self.workers[i].load.load(Ordering::SeqCst);
            if best.is_none_or(|(_, l)| load < l) {
                best = Some((i, load));
                if load == 0 {
                    break;
                }
            }
        }
        if let Some((i, load)) = best
            && load < self.mailbox_capacity
        {
            let slot = &self.workers[i];
            if slot.load.fetch_add(1, Ordering::SeqCst) < self.mailbox_capacity {
                return Some(i);
            }
            slot.load.fetch_sub(1, Ordering::SeqCst);
        }
        // Work-conserving: an idle roaming worker elsewhere takes it (one call).
        let roamers = &self.roamers[weight.index()];
        for k in 0..roamers.len() {
            let i = roamers[(start + k) % roamers.len()];
            if self.workers[i]
                .load
                .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return Some(i);
            }
        }
        None
    }

    fn nudge(&self, slot: &WorkerSlot) {
        if slot.rx.is_empty() {
            let _ = slot.tx.try_send(Msg::Nudge);
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
        let lane = self.lane(weight);
        loop {
            let job = lane.pop()?;
            let op = job.header().route.as_ref().map(|r| r.op.clone());
            let job = match op {
                Some(op) => match op.hold_if_paused(job) {
                    Ok(()) => continue,
                    Err(job) => job,
                },
                None => job,
            };
            me.load.fetch_add(1, Ordering::SeqCst);
            if job
                .header()
                .transition(TokenState::Waiting, TokenState::Admitted)
            {
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
    pub(crate) fn drain_mailboxes(&self) -> Vec<JobRef> {
        let mut jobs = Vec::new();
        for slot in self.workers.iter() {
            while let Ok(msg) = slot.rx.try_recv() {
                if let Msg::Run(job) = msg {
                    jobs.push(job);
                }
            }
        }
        jobs
    }
}

/// Unparks the thread that waits on a token.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

fn thread_waker() -> Waker {
    thread_local! {
        static WAKER: OnceLock<Waker> = const { OnceLock::new() };
    }
    WAKER.with(|w| {
        w.get_or_init(|| Waker::from(Arc::new(ThreadWaker(thread::current()))))
            .clone()
    })
}

/// Spin rounds before parking: a result that is microseconds away is picked up
/// without the cost of a park/unpark pair.
const SPIN_ROUNDS: u32 = 64;

/// Blocks the calling thread until `cell` resolves or `deadline` passes.
///
/// On a worker thread of the token's coordinator, a still-queued token is
/// claimed and run inline first, so a guarded fn that waits on guarded calls
/// never deadlocks, even with a single worker.
pub(crate) fn wait_for<T>(
    cell: &Arc<dyn Completion<T>>,
    deadline: Option<Instant>,
) -> Option<Result<T, TaskError>> {
    let waker = thread_waker();
    let mut spins = 0;
    loop {
        if let Poll::Ready(result) = cell.poll_result(&waker) {
            return Some(result);
        }
        let header = cell.header();
        if matches!(header.state(), TokenState::Waiting | TokenState::Admitted)
            && worker_context().is_some()
            && claim_and_run(&cell.clone().job())
        {
            continue;
        }
        if spins < SPIN_ROUNDS {
            spins += 1;
            for _ in 0..32 {
                if header.state().is_terminal() {
                    break;
                }
                std::hint::spin_loop();
            }
            continue;
        }
        match deadline {
            None => thread::park(),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                thread::park_timeout(deadline - now);
            }
        }
    }
}
