//! A weight lane: the bounded queue where calls wait for a worker.
//!
//! Capacity is counted in *slots*: a token takes a slot when it enters the lane
//! (or is held there by a pause) and gives it back the moment it leaves
//! `Waiting`, whoever moves it (a worker, a kill, a drain, a timeout, an inline
//! claim). The queue itself may still hold the stale entry; it is skipped when
//! popped and compacted away if stale entries pile up. So a killed token frees
//! room at once, and capacity is never leaked or counted twice.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::sync::{AtomicUsize, Condvar, Mutex, MutexGuard};
use crate::token::JobRef;
use crate::{TokenState, Weight};

/// Tasks waiting for a free slot, each registered once under its own id.
#[derive(Default)]
struct RoomWaiters {
    tasks: VecDeque<(u64, Waker)>,
    next_id: u64,
}

pub(crate) struct Lane {
    pub(crate) weight: Weight,
    pub(crate) capacity: usize,
    /// Entries in FIFO order, possibly stale (no longer `Waiting`).
    queue: Mutex<VecDeque<JobRef>>,
    /// `queue.len()`, readable without the lock.
    entries: AtomicUsize,
    /// Slots taken: tokens waiting in this lane or held by a pause.
    taken: AtomicUsize,
    /// How many callers wait for room (sync or async); skip notifying when 0.
    room_waiters: AtomicUsize,
    room: Mutex<RoomWaiters>,
    room_freed: Condvar,
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane")
            .field("weight", &self.weight)
            .field("capacity", &self.capacity)
            .field("taken", &self.taken.load(Ordering::Relaxed))
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
            room_waiters: AtomicUsize::new(0),
            room: Mutex::new(RoomWaiters::default()),
            room_freed: Condvar::new(),
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

    /// Gives a slot back and wakes one caller waiting for room.
    pub(crate) fn release(&self) {
        let taken = self.taken.fetch_sub(1, Ordering::SeqCst);
        // A slot given back twice would let the lane over-admit, then wrap the
        // count so that it looks full forever.
        debug_assert!(
            taken > 0,
            "a {} lane slot was given back twice",
            self.weight
        );
        if self.room_waiters.load(Ordering::SeqCst) > 0 {
            self.wake_one();
        }
    }

    /// Wakes one parked caller and one registered task, if any.
    pub(crate) fn wake_one(&self) {
        let task = {
            let mut room = self.room.lock().unwrap_or_else(|p| p.into_inner());
            let task = room.tasks.pop_front();
            if task.is_some() {
                self.room_waiters.fetch_sub(1, Ordering::SeqCst);
            }
            task
        };
        self.room_freed.notify_one();
        if let Some((_, waker)) = task {
            waker.wake();
        }
    }

    /// Blocks until a slot is taken, or until `give_up()` says to stop waiting
    /// (returns false then). `help()` is tried before each sleep: a worker thread
    /// uses it to run a queued call itself, which frees a slot.
    pub(crate) fn reserve_blocking(
        &self,
        mut help: impl FnMut() -> bool,
        mut give_up: impl FnMut() -> bool,
    ) -> bool {
        loop {
            if self.try_reserve() {
                return true;
            }
            if give_up() {
                return false;
            }
            if help() {
                continue;
            }
            self.room_waiters.fetch_add(1, Ordering::SeqCst);
            let room = self.room.lock().unwrap_or_else(|p| p.into_inner());
            if self.try_reserve() {
                drop(room);
                self.room_waiters.fetch_sub(1, Ordering::SeqCst);
                return true;
            }
            // The timeout only bounds how often `give_up` is checked; wake-ups
            // come from `release`.
            let _ = self
                .room_freed
                .wait_timeout(room, Duration::from_millis(20))
                .unwrap_or_else(|p| p.into_inner());
            self.room_waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// The async form of [`reserve_blocking`](Self::reserve_blocking).
    ///
    /// `registration` is the task's place in the wait list: a task is listed at
    /// most once (re-polling updates its waker), and is removed when it gets a
    /// slot. A task that gives up must call [`cancel`](Self::cancel).
    pub(crate) fn poll_reserve(
        &self,
        cx: &mut Context<'_>,
        registration: &mut Option<u64>,
    ) -> Poll<()> {
        if self.try_reserve() {
            self.cancel(registration);
            return Poll::Ready(());
        }
        let mut room = self.room.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = *registration
            && let Some(entry) = room.tasks.iter_mut().find(|(i, _)| *i == id)
        {
            entry.1.clone_from(cx.waker());
        } else {
            // Listed before the re-check, so a concurrent `release` either leaves
            // us a free slot or sees us and wakes us.
            let id = room.next_id;
            room.next_id += 1;
            room.tasks.push_back((id, cx.waker().clone()));
            self.room_waiters.fetch_add(1, Ordering::SeqCst);
            *registration = Some(id);
        }
        if self.try_reserve() {
            drop(room);
            self.cancel(registration);
            return Poll::Ready(());
        }
        Poll::Pending
    }

    /// Removes a task's registration. If it was already woken (and so removed)
    /// without taking a slot, passes the wake-up on to the next waiter.
    pub(crate) fn cancel(&self, registration: &mut Option<u64>) {
        let Some(id) = registration.take() else {
            return;
        };
        let mut room = self.room.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = room.tasks.iter().position(|(i, _)| *i == id) {
            room.tasks.remove(at);
            self.room_waiters.fetch_sub(1, Ordering::SeqCst);
        } else {
            drop(room);
            if self.taken.load(Ordering::SeqCst) < self.capacity {
                self.wake_one();
            }
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

    /// Empties the queue (used at shutdown to break token → coordinator cycles).
    pub(crate) fn clear(&self) {
        let mut queue = self.lock();
        queue.clear();
        self.entries.store(0, Ordering::SeqCst);
    }
}
