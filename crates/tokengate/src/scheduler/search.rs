//! The idle search: where an idle worker looks for its next call (its group's
//! lead lane, a busy neighbour's mailbox, its home lanes, then, if it roams,
//! other lanes and groups).

use std::sync::atomic::Ordering;

use super::worker::{Msg, WorkerSlot};
use super::{Lane, Scheduler, held_back};
use crate::sync::fence;
use crate::token::JobRef;
use crate::{TokenState, Weight};

impl Scheduler {
    /// The next call for an idle worker, already `Admitted` and counted in its
    /// load: a neighbour's queued call, its home lanes, then (if it roams)
    /// other lanes and other groups' mailboxes.
    pub(crate) fn find_work(&self, me: &WorkerSlot) -> Option<JobRef> {
        // Pairs with the fence in `nudge_idle`: either this search sees a call
        // pushed to a lane, or that caller sees this worker's load at 0 and
        // nudges it (see "Lost wake-ups" in the design note). The load and
        // `Lane::entries` accesses are SeqCst already, which orders them on
        // its own in the C11 model; the fence states it where loom, which
        // treats SeqCst accesses as AcqRel, can check it.
        fence(Ordering::SeqCst);
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
}
