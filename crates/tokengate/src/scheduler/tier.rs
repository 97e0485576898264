//! Storage tiers: one queue and one concurrency cap per [`StorageSpeed`].
//!
//! A tier's calls are IO calls, run on IO threads, or *combined* calls (a
//! storage call with an explicit weight): those wait in the tier's queue like
//! IO calls, take a turn of the tier the same way, then wait in their weight's
//! [`TurnQueue`] for a CPU worker of the weight's home groups, and give the
//! turn back when their body returns. So a combined call is bounded by both
//! the tier's cap and the CPU workers.
//!
//! A tier counts the calls it runs (`running`); a call is dispatched only while
//! `running < cap`, and `running` drops when the body returns (not when a call
//! is killed: the thread still runs it). The cap can change at any time: the
//! count is the only source of truth, so no permit is lost or doubled; raising
//! the cap dispatches waiting calls at once, lowering it lets running calls
//! finish and holds new ones until `running` is under the new cap.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::Lane;
use crate::StorageSpeed;
use crate::stats::{StateCounts, StorageStats};
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

    /// The tier's figures, with `calls`: its calls by state.
    pub(crate) fn snapshot(&self, calls: StateCounts) -> StorageStats {
        let counts = self.counts();
        StorageStats {
            counts: calls,
            speed: self.speed,
            cap: self.cap(),
            running: counts.running,
            high_water: counts.high_water,
            waiting: self.lane.taken(),
            in_line: self.lane.in_line(),
        }
    }
}

/// The header tag of a combined call of tier `speed` (see [`Header::tag`]).
///
/// [`Header::tag`]: crate::token::Header
pub(crate) fn combined_tag(speed: StorageSpeed) -> u8 {
    speed.index() as u8 + 1
}

/// The tier whose turn a combined call takes, from its header tag.
pub(crate) fn combined_tier(job: &JobRef) -> Option<StorageSpeed> {
    match job.header().tag {
        0 => None,
        tag => StorageSpeed::ALL.get(usize::from(tag) - 1).copied(),
    }
}

/// Combined calls of one weight that hold a turn of their tier and wait for a
/// CPU worker, in the order their tiers let them through.
///
/// Every entry holds a turn, so the queue is bounded by the tiers' caps, and
/// whoever takes an entry out gives its turn back: the worker that runs it
/// when its body returns, or at once if it was killed meanwhile (a stale
/// entry). Entries are never dropped any other way while the coordinator runs.
#[derive(Default)]
pub(crate) struct TurnQueue {
    queue: Mutex<VecDeque<JobRef>>,
    len: AtomicUsize,
}

impl std::fmt::Debug for TurnQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnQueue")
            .field("len", &self.len.load(Ordering::Relaxed))
            .finish()
    }
}

impl TurnQueue {
    fn lock(&self) -> MutexGuard<'_, VecDeque<JobRef>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn push(&self, job: JobRef) {
        let mut queue = self.lock();
        queue.push_back(job);
        self.len.store(queue.len(), Ordering::SeqCst);
    }

    /// The oldest entry, live or stale.
    pub(crate) fn pop(&self) -> Option<JobRef> {
        if self.len.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut queue = self.lock();
        let job = queue.pop_front();
        self.len.store(queue.len(), Ordering::SeqCst);
        job
    }

    /// Takes every entry (at stop).
    pub(crate) fn take_all(&self) -> VecDeque<JobRef> {
        let mut queue = self.lock();
        self.len.store(0, Ordering::SeqCst);
        std::mem::take(&mut *queue)
    }
}
