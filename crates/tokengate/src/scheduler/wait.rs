//! Waiting inside a guarded fn: claiming an awaited call to run it inline,
//! parking while it runs elsewhere, and helping a full lane drain (see
//! "Waiting inside a guarded fn" in the design note).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::worker::{execute, run_counted};
use super::{Lane, Path, Scheduler, context};
use crate::token::JobRef;
use crate::{TokenState, Weight};

/// On a thread of `sched` (a worker, or an IO thread), claims `job`, whose path
/// is `path`, if it is still queued and may run here, and runs it inline. This
/// is how waiting inside a guarded fn avoids deadlock. `admissible` says the
/// job's owner would let it leave its queue now (no pause of its op).
pub(crate) fn claim(sched: &Scheduler, job: &JobRef, path: Path, admissible: bool) -> bool {
    let Some(on_worker) = context::worker_of(sched) else {
        return false;
    };
    let header = job.header();
    match path {
        // Storage calls run only on IO threads, within their tier's cap. An IO
        // thread whose call waits on a call of its own tier runs it inline,
        // under the turn its blocked call already holds (else a full tier
        // whose calls all wait on the tier would never move); other waiters
        // block, and the IO threads make progress.
        Path::Storage(speed) => {
            let same_tier = on_worker.is_none() && context::io_tier() == Some(speed);
            if !same_tier {
                return false;
            }
        }
        // A combined call runs only with its tier's turn, on a worker that
        // took it from its turn queue.
        Path::Combined(_) => return false,
        // A remote call runs on another host, a process call in a worker
        // process; the waiter parks until its outcome comes back.
        Path::Remote | Path::Process => return false,
        // A domain's waiting members keep their order: none may run here.
        Path::Sticky { .. } if header.state() == TokenState::Waiting => return false,
        // The admitted member runs on the domain's worker: here only if that is
        // us, or if that worker is itself blocked waiting (then it cannot run the
        // call, and running it here is what keeps the wait from deadlocking) and
        // no killed member's body still runs (which it would overlap).
        Path::Sticky { key, worker } => {
            let pinned = &sched.workers[worker];
            if on_worker != Some(worker)
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
        let me = on_worker.map(|i| &sched.workers[i]);
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
    let Some((ctx, me)) = context::worker_context().and_then(|ctx| {
        let me = ctx.worker?;
        Some((ctx, me))
    }) else {
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
    // A blocked call gives its CPU permit back meanwhile (see `cpu.rs`): the
    // calls it waits on may need it.
    let permit = match (&ctx.scheduler.cpu, slot.permit.load(Ordering::Relaxed)) {
        (Some(cpu), held) if held > 0 => {
            let weight = Weight::ALL[held - 1];
            cpu.release(weight);
            Some((cpu, weight))
        }
        _ => None,
    };
    std::thread::park_timeout(nap);
    if let Some((cpu, weight)) = permit {
        cpu.acquire(weight);
    }
    slot.waiting.fetch_sub(1, Ordering::SeqCst);
}

/// Bounds of the naps of a worker waiting on a token it cannot claim yet.
const FIRST_NAP: Duration = Duration::from_micros(50);

const MAX_NAP: Duration = Duration::from_millis(10);

/// On a worker thread of `scheduler`, runs one call from `lane` inline (used
/// while blocked on that full lane). Returns whether it ran one. Not for
/// storage tiers: their calls run only on IO threads, which drain them anyway.
pub(crate) fn help_lane(scheduler: &Scheduler, lane: &Lane) -> bool {
    let Some(Some(index)) = context::worker_of(scheduler) else {
        return false;
    };
    if scheduler.is_paused() {
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
