//! Per-operation state inside a coordinator: counters, pause flag and the queue
//! of calls a per-operation pause holds back.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::guard::Guard;

use crate::metrics::{ShardedHistogram, ShardedStates};
use crate::token::JobRef;
use crate::{StorageSpeed, Weight};

/// Shards of an op's latency histograms.
const HISTOGRAM_SHARDS: usize = 4;

/// A body that returns within this is quick: a task awaiting the next call
/// of its op may wait a moment for the result rather than park.
const QUICK_BODY: Duration = Duration::from_micros(10);

/// What a call's stats are counted under: its CPU lane, or its storage tier
/// (combined calls too).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    Cpu(Weight),
    Storage(StorageSpeed),
}

/// One operation name in one class (an op is almost always used in one).
pub(crate) struct OpEntry {
    pub(crate) name: &'static str,
    pub(crate) class: Class,
    /// Transitions of this op's tokens, sharded per thread.
    pub(crate) counters: ShardedStates,
    /// Time from the call to the start of the body, and time the body ran.
    pub(crate) queue_wait: ShardedHistogram,
    pub(crate) run_time: ShardedHistogram,
    /// Did this op's last body return within [`QUICK_BODY`]? (What an
    /// awaiting task asks before it waits a moment instead of parking.)
    quick: AtomicBool,
    /// Failed attempts that were retried.
    pub(crate) retries: AtomicU64,
    /// Calls shed without running (`queue_timeout`).
    pub(crate) expired: AtomicU64,
    /// The op's circuit breaker (shared by its entries of every class).
    pub(crate) guard: Arc<Guard>,
    paused: AtomicBool,
    /// `Waiting` calls held back by a pause of this op, in call order.
    held: Mutex<VecDeque<JobRef>>,
}

impl std::fmt::Debug for OpEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpEntry")
            .field("name", &self.name)
            .field("class", &self.class)
            .field("paused", &self.is_paused())
            .finish_non_exhaustive()
    }
}

impl OpEntry {
    pub(crate) fn new(
        name: &'static str,
        class: Class,
        shards: usize,
        paused: bool,
        guard: Arc<Guard>,
    ) -> Self {
        OpEntry {
            name,
            class,
            counters: ShardedStates::new(shards),
            // Fewer shards than the counters: a histogram is 2.6 KiB.
            queue_wait: ShardedHistogram::new(shards.min(HISTOGRAM_SHARDS)),
            run_time: ShardedHistogram::new(shards.min(HISTOGRAM_SHARDS)),
            quick: AtomicBool::new(false),
            retries: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            guard,
            paused: AtomicBool::new(paused),
            held: Mutex::default(),
        }
    }

    fn held(&self) -> MutexGuard<'_, VecDeque<JobRef>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that a body of this op ran for `run_ns`. Written only when the
    /// answer to "quick?" changes, so the workers of a busy op share the
    /// line read-mostly.
    pub(crate) fn body_ran(&self, run_ns: u64) {
        let quick = run_ns <= QUICK_BODY.as_nanos() as u64;
        if self.quick.load(Ordering::Relaxed) != quick {
            self.quick.store(quick, Ordering::Relaxed);
        }
    }

    /// Did this op's last body return within [`QUICK_BODY`]?
    pub(crate) fn is_quick(&self) -> bool {
        self.quick.load(Ordering::Relaxed)
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Holds `job` (keeping a reference) if the op is paused, and says so. The
    /// check runs under the hold lock, so it cannot race with
    /// [`resume`](Self::resume).
    pub(crate) fn hold_if_paused(&self, job: &JobRef) -> bool {
        if !self.is_paused() {
            return false;
        }
        let mut held = self.held();
        if !self.is_paused() {
            return false;
        }
        held.push_back(job.clone());
        true
    }

    pub(crate) fn pause(&self) {
        let _held = self.held();
        self.paused.store(true, Ordering::SeqCst);
    }

    /// Unpauses and returns the held calls, oldest first.
    pub(crate) fn resume(&self) -> VecDeque<JobRef> {
        let mut held = self.held();
        self.paused.store(false, Ordering::SeqCst);
        std::mem::take(&mut *held)
    }

    /// Removes and returns the held calls (for drains and stop).
    pub(crate) fn take_held(&self) -> VecDeque<JobRef> {
        std::mem::take(&mut *self.held())
    }

    /// Calls held now (killed ones wait in the queue until resume skips them).
    pub(crate) fn held_len(&self) -> usize {
        self.held()
            .iter()
            .filter(|job| job.header().state() == crate::TokenState::Waiting)
            .count()
    }
}
