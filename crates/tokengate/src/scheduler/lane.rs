//! A lane: the bounded queue where calls wait for a worker (one per weight,
//! per lead group and per storage tier), and the line of calls waiting for
//! room in it.
//!
//! Capacity is counted in *slots*: a token takes a slot when it enters the lane
//! (or is held there by a pause) and gives it back the moment it leaves
//! `Waiting`, whoever moves it (a worker, a kill, a drain, a timeout, an inline
//! claim). The queue itself may still hold the stale entry; it is skipped when
//! popped and compacted away if stale entries pile up. So a killed token frees
//! room at once, and capacity is never leaked or counted twice.
//!
//! A call made while the lane is full does not block its caller: it waits *in
//! line*, `Waiting` and holding no slot, in call order. Whoever gives a slot
//! back learns that the line is not empty ([`release`](Lane::release)
//! returns true) and has the coordinator's admission thread move the head of
//! the line in; a caller that joins the line learns whether there was room
//! meanwhile ([`line_push`](Lane::line_push) returns true) and does the same.
//! The two checks are ordered by a `SeqCst` fence on each side, so a call
//! never stays in line while the lane has room.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::sync::{AtomicUsize, Condvar, Mutex, MutexGuard, fence};
use crate::token::JobRef;
use crate::{TokenState, Weight};

pub(crate) struct Lane {
    pub(crate) weight: Weight,
    pub(crate) capacity: usize,
    /// Entries in FIFO order, possibly stale (no longer `Waiting`).
    queue: Mutex<VecDeque<JobRef>>,
    /// `queue.len()`, readable without the lock.
    entries: AtomicUsize,
    /// Slots taken: tokens waiting in this lane or held by a pause.
    taken: AtomicUsize,
    /// Calls waiting for room, in call order; possibly stale.
    line: Mutex<VecDeque<JobRef>>,
    /// `line.len()`, readable without the lock.
    in_line: AtomicUsize,
    /// Signalled when the line moves, for threads waiting until a call of
    /// theirs has left it.
    line_moved: Condvar,
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane")
            .field("weight", &self.weight)
            .field("capacity", &self.capacity)
            .field("taken", &self.taken.load(Ordering::Relaxed))
            .field("in_line", &self.in_line.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Lane {
    pub(crate) fn new(weight: Weight, capacity: usize) -> Self {
        Lane {
            weight,
            capacity,
            queue: Mutex::new(VecDeque::new()),
            entries: AtomicUsize::new(0),
            taken: AtomicUsize::new(0),
            line: Mutex::new(VecDeque::new()),
            in_line: AtomicUsize::new(0),
            line_moved: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<JobRef>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Slots taken right now.
    pub(crate) fn taken(&self) -> usize {
        self.taken.load(Ordering::Relaxed)
    }

    /// Whether the queue holds no entry at all (stale ones included).
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.load(Ordering::SeqCst) == 0
    }

    /// Takes a slot if one is free.
    pub(crate) fn try_reserve(&self) -> bool {
        let mut current = self.taken.load(Ordering::SeqCst);
        loop {
            if current >= self.capacity {
                return false;
            }
            match self.taken.compare_exchange_weak(
                current,
                current + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(now) => current = now,
            }
        }
    }

    /// Calls waiting in line now (stale entries included).
    pub(crate) fn in_line(&self) -> usize {
        self.in_line.load(Ordering::Relaxed)
    }

    /// Whether neither the queue nor the line holds any entry: a new call may
    /// go past the lane (straight to a worker) and keep the lane FIFO.
    pub(crate) fn is_clear(&self) -> bool {
        self.is_empty() && self.in_line.load(Ordering::SeqCst) == 0
    }

    /// Gives a slot back. Returns true if calls wait in line for it: the
    /// caller must then have the line moved ([`line_pop`](Self::line_pop)).
    pub(crate) fn release(&self) -> bool {
        let taken = self.taken.fetch_sub(1, Ordering::SeqCst);
        // A slot given back twice would let the lane over-admit, then wrap the
        // count so that it looks full forever.
        debug_assert!(
            taken > 0,
            "a {} lane slot was given back twice",
            self.weight
        );
        // Pairs with the fence in `line_push` (see the module doc).
        fence(Ordering::SeqCst);
        self.in_line.load(Ordering::SeqCst) > 0
    }

    /// Puts a `Waiting` call that holds no slot at the end of the line.
    /// Returns true if the lane had room meanwhile: the caller must then have
    /// the line moved.
    pub(crate) fn line_push(&self, job: JobRef) -> bool {
        {
            let mut line = self.line.lock().unwrap_or_else(|p| p.into_inner());
            line.push_back(job);
            // Calls killed in line are dropped when reached; while the lane
            // stays full they could pile up, so compact now and then.
            if line.len() > 64 && line.len().is_power_of_two() {
                line.retain(|j| j.header().state() == TokenState::Waiting);
            }
            self.in_line.store(line.len(), Ordering::SeqCst);
        }
        // Pairs with the fence in `release`.
        fence(Ordering::SeqCst);
        self.taken.load(Ordering::SeqCst) < self.capacity
    }

    /// Takes the head of the line (it may have been killed meanwhile), and
    /// tells threads waiting on the line that it moved.
    pub(crate) fn line_pop(&self) -> Option<JobRef> {
        let job = {
            let mut line = self.line.lock().unwrap_or_else(|p| p.into_inner());
            let job = line.pop_front();
            self.in_line.store(line.len(), Ordering::SeqCst);
            job
        };
        self.line_moved.notify_all();
        job
    }

    /// Blocks until the line moves or `timeout` passes, while `in_line` holds.
    pub(crate) fn wait_line(&self, timeout: Duration, in_line: impl Fn() -> bool) {
        let line = self.line.lock().unwrap_or_else(|p| p.into_inner());
        if in_line() {
            let _ = self
                .line_moved
                .wait_timeout(line, timeout)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Appends a `Waiting` token that already holds a slot.
    pub(crate) fn push(&self, job: JobRef) {
        let mut queue = self.lock();
        queue.push_back(job);
        // Stale entries (killed while queued) are normally popped by workers;
        // while the lane is paused they could pile up, so compact now and then.
        let live = self.taken.load(Ordering::Relaxed);
        if queue.len() > 64 && queue.len() > 2 * live {
            queue.retain(|j| j.header().state() == TokenState::Waiting);
        }
        self.entries.store(queue.len(), Ordering::SeqCst);
    }

    /// Entries in the queue now, stale ones included.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn queued(&self) -> usize {
        self.lock().len()
    }

    /// Pops the oldest entry that is still `Waiting`, dropping stale ones.
    pub(crate) fn pop(&self) -> Option<JobRef> {
        if self.is_empty() {
            return None;
        }
        let mut queue = self.lock();
        let found = loop {
            match queue.pop_front() {
                Some(job) if job.header().state() == TokenState::Waiting => break Some(job),
                Some(_) => continue,
                None => break None,
            }
        };
        self.entries.store(queue.len(), Ordering::SeqCst);
        found
    }

    /// When the oldest live call waiting in this lane or its line was made
    /// (token epoch nanoseconds), if any waits.
    pub(crate) fn oldest_created(&self) -> Option<u64> {
        let oldest = |entries: &VecDeque<JobRef>| {
            entries
                .iter()
                .find(|job| job.header().state() == TokenState::Waiting)
                .map(|job| job.header().created_ns())
        };
        let queued = oldest(&self.lock());
        let in_line = oldest(&self.line.lock().unwrap_or_else(|p| p.into_inner()));
        queued.into_iter().chain(in_line).min()
    }

    /// Empties the queue and the line (used at shutdown to break token →
    /// coordinator cycles).
    pub(crate) fn clear(&self) {
        let mut queue = self.lock();
        queue.clear();
        self.entries.store(0, Ordering::SeqCst);
        drop(queue);
        let mut line = self.line.lock().unwrap_or_else(|p| p.into_inner());
        line.clear();
        self.in_line.store(0, Ordering::SeqCst);
        drop(line);
        self.line_moved.notify_all();
    }
}
