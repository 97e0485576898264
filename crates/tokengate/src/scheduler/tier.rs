//! Storage tiers: one queue and one concurrency cap per [`StorageSpeed`].
//!
//! A tier counts the calls it runs (`running`); a call is dispatched only while
//! `running < cap`, and `running` drops when the body returns (not when a call
//! is killed: the thread still runs it). The cap can change at any time: the
//! count is the only source of truth, so no permit is lost or doubled; raising
//! the cap dispatches waiting calls at once, lowering it lets running calls
//! finish and holds new ones until `running` is under the new cap.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::Lane;
use crate::StorageSpeed;
use crate::stats::StorageStats;
use crate::token::JobRef;

#[derive(Debug, Default)]
struct Counts {
    running: usize,
    high_water: usize,
}

pub(crate) struct Tier {
    pub(crate) speed: StorageSpeed,
    /// Waiting calls, FIFO, with the coordinator's lane capacity.
    pub(crate) lane: Lane,
    cap: AtomicUsize,
    counts: Mutex<Counts>,
}

impl std::fmt::Debug for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tier")
            .field("speed", &self.speed)
            .field("cap", &self.cap())
            .finish_non_exhaustive()
    }
}

impl Tier {
    pub(crate) fn new(speed: StorageSpeed, cap: usize, lane_capacity: usize) -> Self {
        Tier {
            speed,
            lane: Lane::new(crate::Weight::Medium, lane_capacity),
            cap: AtomicUsize::new(cap),
            counts: Mutex::default(),
        }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn cap(&self) -> usize {
        self.cap.load(Ordering::SeqCst)
    }

    pub(crate) fn set_cap(&self, cap: usize) {
        self.cap.store(cap, Ordering::SeqCst);
    }

    /// Takes waiting calls while the tier has room, counting each as running.
    /// `open` says whether calls may leave their lane now (no global pause);
    /// `admit` moves one call `Waiting → Admitted` (false if it is stale or was
    /// held by a pause of its op) and `dispatch` hands it to an IO thread.
    pub(crate) fn pump(
        &self,
        open: bool,
        mut admit: impl FnMut(JobRef) -> Option<JobRef>,
        mut dispatch: impl FnMut(JobRef),
    ) {
        if !open {
            return;
        }
        let mut counts = self.counts();
        while counts.running < self.cap() {
            let Some(job) = self.lane.pop() else { break };
            if let Some(job) = admit(job) {
                counts.running += 1;
                counts.high_water = counts.high_water.max(counts.running);
                dispatch(job);
            }
        }
    }

    /// A body of this tier returned.
    pub(crate) fn finished(&self) {
        self.counts().running -= 1;
    }

    pub(crate) fn snapshot(&self) -> StorageStats {
        let counts = self.counts();
        StorageStats {
            speed: self.speed,
            cap: self.cap(),
            running: counts.running,
            high_water: counts.high_water,
            waiting: self.lane.taken(),
            in_line: self.lane.in_line(),
        }
    }
}
