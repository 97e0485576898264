//! Placement: handing a call to a worker on the caller's thread, and waking
//! idle workers after a lane push (see "Placement" and "Lost wake-ups" in the
//! design note).

use std::sync::atomic::Ordering;

use super::Scheduler;
use super::context;
use super::worker::{Msg, WorkerSlot};
use crate::sync::fence;
use crate::token::JobRef;
use crate::{TokenState, Weight};

/// The outcome of trying to hand a `Waiting` call straight to a worker.
pub(crate) enum Placement {
    /// It is `Admitted`, in a worker's mailbox.
    Placed,
    /// It stopped being `Waiting` meanwhile (killed or timed out).
    Gone,
    /// No eligible worker had room: the call must wait in its lane.
    NoRoom,
}

/// `candidates` in turn, starting at this thread's last worker if it is one
/// of them: equal candidates are then tried in a stable, warm-first order.
pub(super) fn from_last(candidates: &[usize]) -> impl Iterator<Item = usize> + '_ {
    let last = context::last_worker();
    let start = candidates.iter().position(|&i| i == last).unwrap_or(0);
    (0..candidates.len()).map(move |k| candidates[(start + k) % candidates.len()])
}

impl Scheduler {
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
        // A spinning worker takes the call without a wake-up; any idle one
        // is next best.
        let spinners = self.spinners.load(Ordering::Relaxed) > 0;
        let claim_idle = |candidates: &[usize]| {
            let claim = |i: usize| {
                self.workers[i]
                    .load
                    .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
            };
            let spinning = |i: &usize| self.workers[*i].spinning.load(Ordering::Relaxed);
            let found = spinners
                .then(|| from_last(candidates).filter(spinning).find(|&i| claim(i)))
                .flatten()
                .or_else(|| from_last(candidates).find(|&i| claim(i)));
            if let Some(i) = found {
                context::set_last_worker(i);
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
    pub(super) fn nudge(&self, slot: &WorkerSlot) {
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
        // Pairs with the fence in `find_work` (see there).
        fence(Ordering::SeqCst);
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

    /// After a push to `weight`'s turn queue: wake one idle worker of its
    /// home groups (only they take combined calls).
    pub(crate) fn nudge_home(&self, weight: Weight) {
        // Pairs with the fence in `find_work`, as in `nudge_idle`.
        fence(Ordering::SeqCst);
        for &i in self.home[weight.index()].iter() {
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
}
