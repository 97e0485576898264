//! Worker threads: the loop that takes calls from mailboxes, lanes and busy
//! neighbours, and the thread-local context guarded fns run in.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Select, Sender, TryRecvError};

use super::{Path, Scheduler};
use crate::token::{Job, JobRef};
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

/// Where a guarded fn is running: which scheduler, and which worker (`None`
/// on an IO thread).
#[derive(Clone)]
pub(crate) struct WorkerContext {
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) worker: Option<usize>,
}

thread_local! {
    /// Set for the life of a worker thread.
    static WORKER: RefCell<Option<WorkerContext>> = const { RefCell::new(None) };
    /// The call whose body this thread is running (innermost, for nested claims).
    static CURRENT: RefCell<Option<JobRef>> = const { RefCell::new(None) };
    /// On an IO thread, the storage tier of the call it runs.
    static IO_TIER: std::cell::Cell<Option<StorageSpeed>> = const { std::cell::Cell::new(None) };
}

/// The worker context of the calling thread, if it is a worker.
pub(crate) fn worker_context() -> Option<WorkerContext> {
    WORKER.with(|w| w.borrow().clone())
}

/// Runs `f` with the innermost running call, if any.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&dyn Job>) -> R) -> R {
    CURRENT.with(|c| f(c.borrow().as_deref()))
}

/// Runs a call this thread moved to `Executing`, as the thread's current call.
pub(crate) fn run_claimed(job: JobRef) {
    let previous = CURRENT.with(|c| c.replace(Some(job.clone())));
    job.run();
    CURRENT.with(|c| *c.borrow_mut() = previous);
}

/// [`run_claimed`], counted in the stats of worker `me` (none on IO threads).
fn run_counted(me: Option<&WorkerSlot>, job: JobRef) {
    if let Some(me) = me {
        me.running.fetch_add(1, Ordering::Relaxed);
    }
    run_claimed(job);
    if let Some(me) = me {
        me.running.fetch_sub(1, Ordering::Relaxed);
        me.completed.fetch_add(1, Ordering::Relaxed);
    }
}

/// The body of a worker thread.
pub(crate) fn worker_main(scheduler: Arc<Scheduler>, index: usize) {
    let _exit = scheduler.threads.exit_guard();
    WORKER.with(|w| {
        *w.borrow_mut() = Some(WorkerContext {
            scheduler: scheduler.clone(),
            worker: Some(index),
        })
    });
    let me = &scheduler.workers[index];
    while !scheduler.is_stopping() {
        if let Some(job) = next_job(&scheduler, me) {
            execute(me, job);
            continue;
        }
        if let Some(job) = spin(&scheduler, me) {
            execute(me, job);
            continue;
        }
        park(me);
    }
    leave_thread();
}

/// The next call for `me`: pinned, mailbox, then lanes and neighbours.
fn next_job(scheduler: &super::Scheduler, me: &WorkerSlot) -> Option<JobRef> {
    if let Ok(job) = me.pinned_rx.try_recv() {
        return Some(job);
    }
    match me.rx.try_recv() {
        Ok(Msg::Run(job)) => return Some(job),
        Ok(Msg::Nudge) => me.nudged.store(false, Ordering::SeqCst),
        Err(TryRecvError::Empty | TryRecvError::Disconnected) => {}
    }
    scheduler.find_work(me)
}

/// Polls for work a little while before parking, if few enough workers spin.
fn spin(scheduler: &super::Scheduler, me: &WorkerSlot) -> Option<JobRef> {
    if scheduler.spinners.fetch_add(1, Ordering::SeqCst) >= scheduler.max_spinners {
        scheduler.spinners.fetch_sub(1, Ordering::SeqCst);
        return None;
    }
    let mut found = None;
    for _ in 0..SPIN_POLLS {
        std::thread::yield_now();
        found = next_job(scheduler, me);
        if found.is_some() || scheduler.is_stopping() {
            break;
        }
    }
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

pub(crate) fn leave_thread() {
    WORKER.with(|w| w.borrow_mut().take());
}

/// Marks the calling thread as an IO thread of `scheduler`.
pub(crate) fn enter_io_thread(scheduler: Arc<Scheduler>) {
    WORKER.with(|w| {
        *w.borrow_mut() = Some(WorkerContext {
            scheduler,
            worker: None,
        })
    });
}

/// Runs an admitted storage-tier call of tier `speed` on this IO thread, then
/// lets its tier dispatch the next one.
pub(crate) fn run_io(scheduler: &Arc<Scheduler>, job: JobRef, speed: StorageSpeed) {
    if job.transition(TokenState::Admitted, TokenState::Executing) {
        IO_TIER.with(|tier| tier.set(Some(speed)));
        run_claimed(job);
        IO_TIER.with(|tier| tier.set(None));
    }
    // This thread takes the next call it dispatches, rather than a new thread.
    scheduler.io.finishing();
    scheduler.tiers[speed.index()].finished();
    scheduler.pump_tier(speed);
}

/// Runs an admitted call counted in `me.load`, then uncounts it.
fn execute(me: &WorkerSlot, job: JobRef) {
    if job.transition(TokenState::Admitted, TokenState::Executing) {
        run_counted(Some(me), job);
    }
    // A stale entry (killed while queued) is simply dropped.
    me.load.fetch_sub(1, Ordering::SeqCst);
}

/// On a thread of `sched` (a worker, or an IO thread), claims `job`, whose path
/// is `path`, if it is still queued and may run here, and runs it inline. This
/// is how waiting inside a guarded fn avoids deadlock. `admissible` says the
/// job's owner would let it leave its queue now (no pause of its op).
pub(crate) fn claim(sched: &Scheduler, job: &JobRef, path: Path, admissible: bool) -> bool {
    let Some(ctx) = worker_context() else {
        return false;
    };
    if !std::ptr::eq(Arc::as_ptr(&ctx.scheduler), sched) {
        return false;
    }
    let header = job.header();
    match path {
        // Storage calls run only on IO threads, within their tier's cap. An IO
        // thread whose call waits on a call of its own tier runs it inline,
        // under the turn its blocked call already holds (else a full tier
        // whose calls all wait on the tier would never move); other waiters
        // block, and the IO threads make progress.
        Path::Storage(speed) => {
            let same_tier = ctx.worker.is_none() && IO_TIER.with(|tier| tier.get() == Some(speed));
            if !same_tier {
                return false;
            }
        }
        // A domain's waiting members keep their order: none may run here.
        Path::Sticky { .. } if header.state() == TokenState::Waiting => return false,
        // The admitted member runs on the domain's worker: here only if that is
        // us, or if that worker is itself blocked waiting (then it cannot run the
        // call, and running it here is what keeps the wait from deadlocking) and
        // no killed member's body still runs (which it would overlap).
        Path::Sticky { key, worker } => {
            let pinned = &sched.workers[worker];
            if ctx.worker != Some(worker)
                && (pinned.waiting.load(Ordering::SeqCst) == 0
                    || !sched.domains.may_run_elsewhere(key))
            {
                return false;
            }
        }
        _ => {}
    }
    let claimed = match header.state() {
        // A pause holds back admission, so a waiting call stays put; an admitted
        // call is past admission and may run here.
        TokenState::Waiting => {
            !sched.is_paused()
                && admissible
                && job.transition(TokenState::Waiting, TokenState::Admitted)
                && job.transition(TokenState::Admitted, TokenState::Executing)
        }
        TokenState::Admitted => job.transition(TokenState::Admitted, TokenState::Executing),
        _ => false,
    };
    if claimed {
        let me = ctx.worker.map(|i| &sched.workers[i]);
        run_counted(me, job.clone());
    }
    claimed
}

/// Parks the calling thread, which waits on a token, for at most `timeout`.
/// A worker thread (of any coordinator) parks briefly instead, since the
/// awaited call may become claimable (a pause ends, a neighbour's mailbox is
/// stolen from), with naps doubling with `round`, and counts as blocked
/// meanwhile: a sticky call pinned to it may then run on another worker (see
/// [`claim`]).
pub(crate) fn park_waiting(timeout: Option<Duration>, round: u32) {
    let Some((ctx, me)) = worker_context().and_then(|ctx| Some((ctx.clone(), ctx.worker?))) else {
        match timeout {
            Some(timeout) => std::thread::park_timeout(timeout),
            None => std::thread::park(),
        }
        return;
    };
    let nap = FIRST_NAP.saturating_mul(1 << round.min(16)).min(MAX_NAP);
    let nap = timeout.map_or(nap, |timeout| timeout.min(nap));
    let slot = &ctx.scheduler.workers[me];
    slot.waiting.fetch_add(1, Ordering::SeqCst);
    std::thread::park_timeout(nap);
    slot.waiting.fetch_sub(1, Ordering::SeqCst);
}

/// Bounds of the naps of a worker waiting on a token it cannot claim yet.
const FIRST_NAP: Duration = Duration::from_micros(50);
const MAX_NAP: Duration = Duration::from_millis(10);

/// On a worker thread of `scheduler`, runs one call from `lane` inline (used
/// while blocked on that full lane). Returns whether it ran one. Not for
/// storage tiers: their calls run only on IO threads, which drain them anyway.
pub(crate) fn help_lane(scheduler: &Scheduler, lane: &super::Lane) -> bool {
    let Some(ctx) = worker_context() else {
        return false;
    };
    let Some(index) = ctx.worker else {
        return false;
    };
    if !std::ptr::eq(Arc::as_ptr(&ctx.scheduler), scheduler) || scheduler.is_paused() {
        return false;
    }
    let me = &scheduler.workers[index];
    match scheduler.pull_from(me, lane) {
        Some(job) => {
            execute(me, job);
            true
        }
        None => false,
    }
}
