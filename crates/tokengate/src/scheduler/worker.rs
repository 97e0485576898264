//! Worker threads: the loop that takes calls from mailboxes, lanes and busy
//! neighbours, and the thread-local context guarded fns run in.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crossbeam_channel::{Receiver, Select, Sender, TryRecvError};

use super::{Scheduler, combined_tier, context};
use crate::sync::{AtomicBool, AtomicU64, AtomicUsize};
use crate::token::JobRef;
use crate::{StorageSpeed, TokenState, Weight};

/// What a mailbox carries.
pub(crate) enum Msg {
    /// An admitted call, counted in the receiver's `load`.
    Run(JobRef),
    /// "Look at the lanes": sent to an idle worker after a lane push. At most
    /// one is in flight per worker (see [`WorkerSlot::nudged`]).
    Nudge,
}

/// How long an idle worker sleeps before re-checking lanes on its own. Wake-ups
/// come from mailbox messages; this only bounds the damage of a missed one.
const IDLE_RECHECK: Duration = Duration::from_millis(250);

/// Polls an idle worker makes before it parks, yielding its core between polls.
/// Waking a parked thread costs tens of microseconds on a virtual machine whose
/// CPU went idle; a short spin keeps back-to-back calls on the fast path. Only
/// `Scheduler::max_spinners` workers spin at once.
const SPIN_POLLS: u32 = 64;

/// The shared face of one worker thread.
pub(crate) struct WorkerSlot {
    /// Index in the coordinator's worker table.
    pub(crate) index: usize,
    /// Core group (0-based).
    pub(crate) group: usize,
    /// May this worker serve weights whose home is elsewhere? (Each group keeps
    /// one worker that serves only home weights when it has two or more.)
    pub(crate) roams: bool,
    /// Lanes this worker serves first, and (if it roams) the others.
    pub(crate) home_lanes: Vec<Weight>,
    pub(crate) foreign_lanes: Vec<Weight>,
    /// The mailbox: admitted home-weight calls; neighbours may steal from it.
    pub(crate) tx: Sender<Msg>,
    pub(crate) rx: Receiver<Msg>,
    /// Calls only this worker may run: a foreign weight it took while idle
    /// (so a reserved neighbour never steals a foreign call), and sticky calls.
    pub(crate) pinned_tx: Sender<JobRef>,
    pub(crate) pinned_rx: Receiver<JobRef>,
    /// Is a `Nudge` in flight to this worker? Keeps mailbox slack bounded.
    pub(crate) nudged: AtomicBool,
    /// The weight whose CPU permit this worker holds, as `index + 1` (0:
    /// none). Only its own thread changes it.
    pub(crate) permit: AtomicUsize,
    /// Is this worker idle and polling for work (not parked)? Placement
    /// prefers it: it picks a call up without a wake-up.
    pub(crate) spinning: AtomicBool,
    /// Is this worker's thread parked waiting on a token (nested waits count)?
    pub(crate) waiting: AtomicUsize,
    /// Sticky domains pinned to this worker now.
    pub(crate) pins: AtomicUsize,
    /// Calls assigned to this worker and not finished: mailbox + running.
    pub(crate) load: AtomicUsize,
    /// Calls this worker's thread is running right now (nested claims included).
    pub(crate) running: AtomicUsize,
    /// Calls this worker ran to a result.
    pub(crate) completed: AtomicU64,
    /// Rotates lane order so overlapping home lanes share the worker fairly.
    pub(crate) turn: AtomicUsize,
}

impl std::fmt::Debug for WorkerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSlot")
            .field("index", &self.index)
            .field("group", &self.group)
            .field("roams", &self.roams)
            .field("load", &self.load.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// [`context::run_claimed`], counted in the stats of worker `me` (none on IO threads).
pub(super) fn run_counted(me: Option<&WorkerSlot>, job: JobRef) {
    if let Some(me) = me {
        me.running.fetch_add(1, Ordering::Relaxed);
        job.header().set_runner(me.index);
    }
    context::run_claimed(job);
    if let Some(me) = me {
        me.running.fetch_sub(1, Ordering::Relaxed);
        me.completed.fetch_add(1, Ordering::Relaxed);
    }
}

/// The body of a worker thread.
pub(crate) fn worker_main(scheduler: Arc<Scheduler>, index: usize) {
    let _exit = scheduler.threads.exit_guard();
    context::enter(scheduler.clone(), Some(index));
    let me = &scheduler.workers[index];
    while !scheduler.is_stopping() {
        let job = match next_job(&scheduler, me) {
            Some(job) => job,
            None => match spin(&scheduler, me) {
                Some(job) => job,
                None => {
                    park(me);
                    continue;
                }
            },
        };
        let turn = combined_tier(&job);
        // Not for a stale entry (killed while queued): it will not run.
        let permit = match &scheduler.cpu {
            Some(cpu) if job.header().state() == TokenState::Admitted => {
                let weight = job.header().weight;
                cpu.acquire(weight);
                me.permit.store(weight.index() + 1, Ordering::Relaxed);
                Some((cpu, weight))
            }
            _ => None,
        };
        execute(me, job);
        if let Some((cpu, weight)) = permit {
            me.permit.store(0, Ordering::Relaxed);
            cpu.release(weight);
        }
        if let Some(speed) = turn {
            scheduler.end_turn(speed);
        }
    }
    context::leave();
}

/// The next call for `me`: pinned, mailbox, combined calls holding a turn,
/// then lanes and neighbours.
fn next_job(scheduler: &Arc<Scheduler>, me: &WorkerSlot) -> Option<JobRef> {
    if let Ok(job) = me.pinned_rx.try_recv() {
        return Some(job);
    }
    match me.rx.try_recv() {
        Ok(Msg::Run(job)) => return Some(job),
        Ok(Msg::Nudge) => me.nudged.store(false, Ordering::SeqCst),
        Err(TryRecvError::Empty | TryRecvError::Disconnected) => {}
    }
    if let Some(job) = scheduler.pull_turn(me) {
        return Some(job);
    }
    scheduler.find_work(me)
}

/// Polls for work a little while before parking, if few enough workers spin.
fn spin(scheduler: &Arc<Scheduler>, me: &WorkerSlot) -> Option<JobRef> {
    if scheduler.spinners.fetch_add(1, Ordering::SeqCst) >= scheduler.max_spinners {
        scheduler.spinners.fetch_sub(1, Ordering::SeqCst);
        return None;
    }
    let mut found = None;
    me.spinning.store(true, Ordering::SeqCst);
    for _ in 0..SPIN_POLLS {
        std::thread::yield_now();
        found = next_job(scheduler, me);
        if found.is_some() || scheduler.is_stopping() {
            break;
        }
    }
    me.spinning.store(false, Ordering::SeqCst);
    scheduler.spinners.fetch_sub(1, Ordering::SeqCst);
    found
}

/// Blocks until a message arrives on either channel (or the idle re-check).
fn park(me: &WorkerSlot) {
    let mut select = Select::new();
    select.recv(&me.pinned_rx);
    select.recv(&me.rx);
    // Readiness only: the loop above does the receiving.
    let _ = select.ready_timeout(IDLE_RECHECK);
}

/// Runs an admitted storage-tier call of tier `speed` on this IO thread, then
/// lets its tier dispatch the next one.
pub(crate) fn run_io(scheduler: &Arc<Scheduler>, job: JobRef, speed: StorageSpeed) {
    if job.transition(TokenState::Admitted, TokenState::Executing) {
        context::run_io_claimed(job, speed);
    }
    // This thread takes the next call it dispatches, rather than a new thread.
    scheduler.io.finishing();
    scheduler.tiers[speed.index()].finished();
    scheduler.pump_tier(speed);
}

/// Runs an admitted call counted in `me.load`, then uncounts it.
pub(super) fn execute(me: &WorkerSlot, job: JobRef) {
    if job.transition(TokenState::Admitted, TokenState::Executing) {
        run_counted(Some(me), job);
    }
    // A stale entry (killed while queued) is simply dropped.
    me.load.fetch_sub(1, Ordering::SeqCst);
}
