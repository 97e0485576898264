//! The jobs a worker runs now, and the ids its pool was told to kill.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use crate::worker::cancel::CancelFlag;

/// How many killed ids a worker remembers, for jobs delivered after their
/// kill message arrived.
const REMEMBERED_KILLS: usize = 4096;

/// A job running on this worker.
#[derive(Default)]
pub(crate) struct Running {
    /// The flag its executor call polls.
    pub(crate) flag: CancelFlag,
    /// Set by a kill message.
    killed: AtomicBool,
    /// Wakes the job's task when a kill message arrives.
    pub(crate) kill: Notify,
}

impl Running {
    pub(crate) fn was_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }
}

#[derive(Default)]
pub(crate) struct Jobs {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    running: HashMap<String, Arc<Running>>,
    killed: HashSet<String>,
    killed_order: VecDeque<String>,
}

impl Jobs {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers job `id` as running, unless it was killed already.
    pub(crate) fn start(&self, id: &str) -> Option<Arc<Running>> {
        let mut state = self.lock();
        if state.killed.contains(id) {
            return None;
        }
        let running = Arc::new(Running::default());
        state.running.insert(id.to_owned(), running.clone());
        Some(running)
    }

    /// Unregisters job `id`, if `running` is still its entry (a second
    /// delivery of the same job may have replaced it).
    pub(crate) fn finish(&self, id: &str, running: &Arc<Running>) {
        let mut state = self.lock();
        if state
            .running
            .get(id)
            .is_some_and(|r| Arc::ptr_eq(r, running))
        {
            state.running.remove(id);
        }
    }

    /// Whether job `id` was killed.
    pub(crate) fn is_killed(&self, id: &str) -> bool {
        self.lock().killed.contains(id)
    }

    /// A kill message for job `id`: remember it, and stop the job if it runs
    /// here.
    pub(crate) fn kill(&self, id: &str) {
        let running = {
            let mut state = self.lock();
            if state.killed.insert(id.to_owned()) {
                state.killed_order.push_back(id.to_owned());
                if state.killed_order.len() > REMEMBERED_KILLS
                    && let Some(old) = state.killed_order.pop_front()
                {
                    state.killed.remove(&old);
                }
            }
            state.running.get(id).cloned()
        };
        if let Some(running) = running {
            running.killed.store(true, Ordering::Release);
            running.flag.cancel();
            running.kill.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kill_stops_a_running_job_and_bars_later_deliveries() {
        let jobs = Jobs::default();
        let running = jobs.start("a").unwrap();
        jobs.kill("a");
        assert!(running.was_killed());
        assert!(running.flag.is_cancelled());
        jobs.finish("a", &running);
        assert!(jobs.start("a").is_none(), "a killed id does not run again");
        assert!(jobs.is_killed("a"));
    }

    #[test]
    fn remembers_a_bounded_number_of_kills() {
        let jobs = Jobs::default();
        for i in 0..=REMEMBERED_KILLS {
            jobs.kill(&i.to_string());
        }
        assert!(!jobs.is_killed("0"), "the oldest is forgotten");
        assert!(jobs.is_killed(&REMEMBERED_KILLS.to_string()));
    }

    #[test]
    fn finishing_a_replaced_entry_keeps_the_new_one() {
        let jobs = Jobs::default();
        let first = jobs.start("a").unwrap();
        let second = jobs.start("a").unwrap();
        jobs.finish("a", &first);
        jobs.kill("a");
        assert!(second.was_killed());
    }
}
