//! Deadlines of calls: one thread per coordinator sleeps until the earliest
//! and acts on the call if it is still live: times it out (`timeout`), cuts
//! off its running attempt (`retry_on = "timeout"`), or re-admits it after a
//! retry's backoff. Deadline entries are weak, so a finished token is freed at
//! once, not at its deadline; a re-admission holds its call (nothing else may,
//! while it waits for its next attempt).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::token::{Job, JobRef};

/// What to do with a call at its entry's deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Time the call out; the duration is its timeout, for the error.
    TimeOut(Duration),
    /// Cut off attempt `n` (counted from 0) if it still runs.
    EndAttempt(u32),
    /// Re-admit the call for its next attempt.
    Readmit,
    /// Shed the call if it has not started: its queue timeout (the duration)
    /// passed.
    Expire(Duration),
}

/// The call an entry acts on.
enum Target {
    Weak(Weak<dyn Job>),
    Held(JobRef),
}

impl Target {
    fn live(&self) -> Option<JobRef> {
        let job = match self {
            Target::Weak(job) => job.upgrade()?,
            Target::Held(job) => job.clone(),
        };
        (!job.header().state().is_terminal()).then_some(job)
    }
}

struct Entry {
    deadline: Instant,
    seq: u64,
    action: Action,
    job: Target,
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

    /// Times `job` out at `deadline` (`timeout` after it started counting)
    /// unless it finishes first.
    pub(crate) fn schedule(&self, job: &JobRef, deadline: Instant, timeout: Duration) {
        self.push(
            deadline,
            Action::TimeOut(timeout),
            Target::Weak(Arc::downgrade(job)),
        );
    }

    /// Cuts off attempt `attempt` of `job` at `deadline`, if it still runs.
    pub(crate) fn end_attempt(&self, job: &JobRef, deadline: Instant, attempt: u32) {
        self.push(
            deadline,
            Action::EndAttempt(attempt),
            Target::Weak(Arc::downgrade(job)),
        );
    }

    /// Sheds `job` at `deadline` if it has not started by then.
    pub(crate) fn expire(&self, job: &JobRef, deadline: Instant, after: Duration) {
        self.push(
            deadline,
            Action::Expire(after),
            Target::Weak(Arc::downgrade(job)),
        );
    }

    /// Re-admits `job` at `at`, holding it until then.
    pub(crate) fn readmit(&self, job: JobRef, at: Instant) {
        self.push(at, Action::Readmit, Target::Held(job));
    }

    fn push(&self, deadline: Instant, action: Action, job: Target) {
        let mut state = self.lock();
        if state.stopped {
            return;
        }
        if state.heap.len() >= SWEEP_FLOOR.max(2 * state.swept_at) {
            state.heap.retain(|Reverse(e)| e.job.live().is_some());
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
            action,
            job,
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

    /// The timer thread's loop: `fire` acts on each live call whose deadline
    /// passed, and `tick` runs every `every` (if given; the coordinator's
    /// metrics publication). Returns once [`stop`](Self::stop) was called.
    pub(crate) fn run(
        &self,
        every: Option<Duration>,
        tick: impl Fn(),
        fire: impl Fn(JobRef, Action),
    ) {
        let after = |every: Option<Duration>| every.and_then(|e| Instant::now().checked_add(e));
        let mut next_tick = after(every);
        let mut state = self.lock();
        loop {
            if state.stopped {
                return;
            }
            let now = Instant::now();
            if next_tick.is_some_and(|at| at <= now) {
                drop(state);
                tick();
                next_tick = after(every);
                state = self.lock();
                continue;
            }
            let due = state.heap.peek().map(|Reverse(next)| next.deadline);
            if due.is_some_and(|due| due <= now) {
                let Reverse(entry) = state.heap.pop().expect("peeked");
                drop(state);
                if let Some(job) = entry.job.live() {
                    fire(job, entry.action);
                }
                state = self.lock();
                continue;
            }
            state = match due.into_iter().chain(next_tick).min() {
                None => self.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(at) => {
                    self.wake
                        .wait_timeout(state, at - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}
