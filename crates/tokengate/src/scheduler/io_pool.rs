//! IO threads for storage-tier calls: spawned on demand, kept warm for a while.
//! A thread is spawned only when no thread is idle or about to be (one that just
//! ran a call and is dispatching its tier's next), so the pool grows to the
//! number of calls the tiers let run at once (at most the sum of the caps) and
//! every tier's cap can actually bind.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::Scheduler;
use crate::StorageSpeed;
use crate::token::JobRef;

/// How long an idle IO thread waits for work before it exits.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Polls the one spinning IO thread makes before it sleeps.
const SPIN_POLLS: u32 = 32;

#[derive(Default)]
struct State {
    /// Admitted calls and their tiers, in dispatch order.
    queue: VecDeque<(JobRef, StorageSpeed)>,
    /// Threads waiting for work.
    idle: usize,
    /// Threads that finished a call and will look for work next.
    finishing: usize,
    threads: usize,
    stopping: bool,
    /// Is a thread polling for work before it sleeps (at most one)?
    spinning: bool,
}

#[derive(Default)]
pub(crate) struct IoPool {
    state: Mutex<State>,
    work: Condvar,
}

impl std::fmt::Debug for IoPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("IoPool")
            .field("threads", &state.threads)
            .field("idle", &state.idle)
            .finish()
    }
}

impl IoPool {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs an admitted call of storage tier `speed` on an IO thread, spawning
    /// one if none idles.
    pub(crate) fn execute(&self, scheduler: &Arc<Scheduler>, job: JobRef, speed: StorageSpeed) {
        let mut state = self.lock();
        state.queue.push_back((job, speed));
        if state.finishing >= state.queue.len() {
            // A thread that just ran a call (or just started) takes it: no wake-up.
            return;
        }
        if state.idle + state.finishing >= state.queue.len() {
            drop(state);
            self.work.notify_one();
            return;
        }
        state.threads += 1;
        // The new thread counts as about to look for work from now on, so the
        // next call does not spawn another one for the same turn.
        state.finishing += 1;
        drop(state);
        let thread_scheduler = scheduler.clone();
        let spawned = scheduler
            .threads
            .spawn("io", false, move || io_main(thread_scheduler));
        if spawned.is_err() {
            // No new thread: the call waits for a running IO thread to pick it up.
            let mut state = self.lock();
            state.threads -= 1;
            state.finishing -= 1;
        }
    }

    pub(crate) fn threads(&self) -> usize {
        self.lock().threads
    }

    pub(crate) fn stop(&self) -> Vec<JobRef> {
        let mut state = self.lock();
        state.stopping = true;
        let queued = state.queue.drain(..).map(|(job, _)| job).collect();
        drop(state);
        self.work.notify_all();
        queued
    }

    /// The calling IO thread finished a call and will call [`next`](Self::next).
    pub(crate) fn finishing(&self) {
        self.lock().finishing += 1;
    }

    fn next(&self, after_call: bool) -> Option<(JobRef, StorageSpeed)> {
        let mut state = self.lock();
        if after_call {
            // One idle thread at a time polls briefly for the next call before
            // sleeping: calls dispatched back to back then skip a futex wake-up.
            if state.queue.is_empty() && !state.stopping && !state.spinning {
                state.spinning = true;
                for _ in 0..SPIN_POLLS {
                    drop(state);
                    std::thread::yield_now();
                    state = self.lock();
                    if !state.queue.is_empty() || state.stopping {
                        break;
                    }
                }
                state.spinning = false;
            }
            state.finishing -= 1;
        }
        loop {
            if let Some(job) = state.queue.pop_front() {
                return Some(job);
            }
            if state.stopping {
                state.threads -= 1;
                return None;
            }
            state.idle += 1;
            let (guard, timeout) = self
                .work
                .wait_timeout(state, KEEP_ALIVE)
                .unwrap_or_else(|p| p.into_inner());
            state = guard;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() {
                state.threads -= 1;
                return None;
            }
        }
    }
}

fn io_main(scheduler: Arc<Scheduler>) {
    let _exit = scheduler.threads.exit_guard();
    super::context::enter(scheduler.clone(), None);
    // Counted as "finishing" when spawned: the first look for work uncounts it.
    let mut after_call = true;
    while let Some((job, speed)) = scheduler.io.next(after_call) {
        super::worker::run_io(&scheduler, job, speed);
        after_call = true;
    }
    super::context::leave();
}
