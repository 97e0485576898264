//! Deadlines for calls with a `timeout`: one thread per coordinator sleeps until
//! the earliest deadline and times the token out if it is still live. Entries
//! are weak, so a finished token is freed at once, not at its deadline.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::TokenState;
use crate::error::Reason;
use crate::token::{Job, JobRef, terminate_with};

struct Entry {
    deadline: Instant,
    seq: u64,
    timeout: Duration,
    job: Weak<dyn Job>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

#[derive(Default)]
struct State {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
    stopped: bool,
    /// Heap size after the last sweep of finished calls.
    swept_at: usize,
}

/// Sweep finished calls out of the heap once it doubles past this size, so calls
/// that finish long before their deadline do not pile up (amortised O(1)).
const SWEEP_FLOOR: usize = 1024;

/// The deadline queue shared by the coordinator and its timer thread.
#[derive(Default)]
pub(crate) struct Timer {
    state: Mutex<State>,
    wake: Condvar,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer").finish_non_exhaustive()
    }
}

impl Timer {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Times `job` out `timeout` after its creation unless it finishes first.
    pub(crate) fn schedule(&self, job: &JobRef, deadline: Instant, timeout: Duration) {
        let mut state = self.lock();
        if state.heap.len() >= SWEEP_FLOOR.max(2 * state.swept_at) {
            state.heap.retain(|Reverse(e)| {
                e.job
                    .upgrade()
                    .is_some_and(|job| !job.header().state().is_terminal())
            });
            state.swept_at = state.heap.len();
        }
        let seq = state.seq;
        state.seq += 1;
        let earliest = state
            .heap
            .peek()
            .is_none_or(|Reverse(e)| deadline < e.deadline);
        state.heap.push(Reverse(Entry {
            deadline,
            seq,
            timeout,
            job: Arc::downgrade(job),
        }));
        drop(state);
        if earliest {
            self.wake.notify_one();
        }
    }

    pub(crate) fn stop(&self) {
        let mut state = self.lock();
        state.stopped = true;
        state.heap.clear();
        drop(state);
        self.wake.notify_all();
    }

    /// The timer thread's loop; returns once [`stop`](Self::stop) was called.
    pub(crate) fn run(&self) {
        let mut state = self.lock();
        loop {
            if state.stopped {
                return;
            }
            let now = Instant::now();
            match state.heap.peek() {
                None => {
                    state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
                }
                Some(Reverse(next)) if next.deadline <= now => {
                    let Reverse(entry) = state.heap.pop().expect("peeked");
                    drop(state);
                    if let Some(job) = entry.job.upgrade() {
                        terminate_with(
                            &*job,
                            TokenState::TimedOut,
                            Reason::TimedOut(entry.timeout),
                        );
                    }
                    state = self.lock();
                }
                Some(Reverse(next)) => {
                    let wait = next.deadline - now;
                    state = self
                        .wake
                        .wait_timeout(state, wait)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }
}
