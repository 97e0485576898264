//! CPU share: at most one running call per core group, shared out by weight
//! (`CoordinatorBuilder::cpu_share`).
//!
//! Why: a coordinator runs two workers per core so that a call of a weight
//! always finds a worker of its own, but when every worker is busy the OS
//! shares the cores among all of them evenly, and a weight's reserved worker
//! gets half a core. Under a flood of light calls a heavy call then takes
//! twice its CPU time. With CPU share on, a worker takes a *permit* before it
//! starts a call: there are as many permits as core groups, and each weight
//! owns as many as it has home groups. A call may start while a permit is
//! free, or while its weight runs fewer calls than it owns (its owner takes
//! its share back from borrowers by running over the count for a moment).
//! Borrowers then start no new call until the count is back under the
//! permits, so within one short call the owner has its cores to itself.
//!
//! A worker that blocks waiting on a token gives its permit back meanwhile
//! (see `wait.rs`), so nested calls cannot deadlock on permits. Calls that a
//! waiting thread claims and runs inline take no permit of their own: they run
//! in the place of the call that waits.

use std::sync::{Condvar, Mutex, MutexGuard};

use crate::Weight;

/// Permits and who holds them.
#[derive(Debug)]
pub(crate) struct CpuShare {
    /// Permits in all (the core groups).
    permits: usize,
    /// Per weight: the permits it owns (its home groups).
    owned: [usize; 3],
    counts: Mutex<Counts>,
    /// Signalled when a permit is given back.
    freed: Condvar,
}

#[derive(Debug, Default)]
struct Counts {
    running: usize,
    per_weight: [usize; 3],
    /// Workers blocked in `acquire`.
    waiting: usize,
}

impl CpuShare {
    /// `permits` permits; weight `w` owns `owned[w]` of them.
    pub(crate) fn new(permits: usize, owned: [usize; 3]) -> CpuShare {
        CpuShare {
            permits,
            owned,
            counts: Mutex::default(),
            freed: Condvar::new(),
        }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Blocks until a call of `weight` may start, and counts it as running.
    pub(crate) fn acquire(&self, weight: Weight) {
        let w = weight.index();
        let mut counts = self.counts();
        while counts.running >= self.permits && counts.per_weight[w] >= self.owned[w] {
            counts.waiting += 1;
            counts = self.freed.wait(counts).unwrap_or_else(|p| p.into_inner());
            counts.waiting -= 1;
        }
        counts.running += 1;
        counts.per_weight[w] += 1;
    }

    /// A call of `weight` that held a permit stopped running.
    pub(crate) fn release(&self, weight: Weight) {
        let w = weight.index();
        let mut counts = self.counts();
        counts.running -= 1;
        counts.per_weight[w] -= 1;
        let waiting = counts.waiting > 0;
        drop(counts);
        // Waiters of several weights may wait on different conditions: let
        // each re-check its own.
        if waiting {
            self.freed.notify_all();
        }
    }

    /// Calls running under a permit now: (all, per weight).
    #[cfg(test)]
    pub(crate) fn running(&self) -> (usize, [usize; 3]) {
        let counts = self.counts();
        (counts.running, counts.per_weight)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;

    #[test]
    fn an_owner_over_its_borrowers_starts_at_once_and_borrowers_wait() {
        // Two permits; heavy owns one, light owns one.
        let cpu = Arc::new(CpuShare::new(2, [1, 0, 1]));
        cpu.acquire(Weight::Light);
        cpu.acquire(Weight::Light);
        // Light borrowed heavy's permit: heavy still starts.
        cpu.acquire(Weight::Heavy);
        assert_eq!(cpu.running(), (3, [2, 0, 1]));
        // A third light call waits until the count is under the permits.
        let started = Arc::new(AtomicBool::new(false));
        let waiter = std::thread::spawn({
            let (cpu, started) = (cpu.clone(), started.clone());
            move || {
                cpu.acquire(Weight::Light);
                started.store(true, Ordering::SeqCst);
            }
        });
        cpu.release(Weight::Light);
        // Two running (one light, one heavy): still no room for a borrower
        // over its share.
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !started.load(Ordering::SeqCst),
            "a borrower started over the permits"
        );
        cpu.release(Weight::Heavy);
        waiter.join().unwrap();
        assert!(started.load(Ordering::SeqCst));
        assert_eq!(cpu.running(), (2, [2, 0, 0]));
    }
}
