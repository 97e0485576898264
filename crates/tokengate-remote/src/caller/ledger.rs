//! The caller's jobs in flight, by id: each holds its completion callback
//! until exactly one outcome arrives for it, whichever side delivers it first
//! (a result, a kill, a refusal, the caller closing). Later outcomes for the
//! same id find nothing and are counted as dropped.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::caller::window::Window;
use crate::job::{OnDone, Outcome};
use crate::wire::{ResultBody, WireOutcome};

pub(crate) struct Ledger {
    jobs: Mutex<Jobs>,
    pub(crate) window: Arc<Window>,
    pub(crate) counters: Counters,
}

struct Jobs {
    /// Jobs submitted and not resolved yet.
    pending: HashMap<String, Entry>,
    /// Killed jobs whose publish was not confirmed yet: once the broker says
    /// where it stored one, it is deleted there.
    killed_unqueued: HashSet<String>,
    /// Set when the caller closes: nothing more is admitted.
    closed: bool,
}

struct Entry {
    on_done: OnDone,
    /// The pool, for the kill message.
    pool: String,
    /// Where the jobs stream stored the job, once the broker said so.
    seq: Option<u64>,
}

/// Counts behind [`CallerStats`](crate::CallerStats).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) submitted: AtomicU64,
    pub(crate) resolved: AtomicU64,
    pub(crate) redelivered: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) poison: AtomicU64,
    pub(crate) unavailable: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) malformed: AtomicU64,
}

/// What to do with a job the broker just confirmed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    /// It is still wanted: nothing.
    Wanted,
    /// It was killed before the broker confirmed it: delete it there.
    Killed,
    /// It resolved already (its result overtook the confirmation): nothing.
    Gone,
}

impl Ledger {
    pub(crate) fn new(window: Arc<Window>) -> Ledger {
        Ledger {
            jobs: Mutex::new(Jobs {
                pending: HashMap::new(),
                killed_unqueued: HashSet::new(),
                closed: false,
            }),
            window,
            counters: Counters::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Jobs> {
        // Callbacks run outside the lock, so nothing panics while it is held.
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a job in flight; its permit is already held for it. A job the
    /// caller cannot take resolves at once with the reason.
    pub(crate) fn admit(&self, id: &str, pool: &str, on_done: OnDone) -> bool {
        self.counters.submitted.fetch_add(1, Relaxed);
        let refusal = {
            let mut jobs = self.lock();
            if jobs.closed {
                Some(Outcome::Unavailable(format!(
                    "job `{id}` was submitted after its caller closed; it was not queued"
                )))
            } else if jobs.pending.contains_key(id) {
                Some(Outcome::Error(format!(
                    "job id `{id}` is already in flight on this caller; give each job its own \
                     id (see `Caller::next_job_id`)"
                )))
            } else {
                jobs.pending.insert(
                    id.to_owned(),
                    Entry {
                        on_done,
                        pool: pool.to_owned(),
                        seq: None,
                    },
                );
                return true;
            }
        };
        if let Some(outcome) = refusal {
            self.window.release();
            self.finish(on_done, outcome);
        }
        false
    }

    /// Refuses a job before it was admitted (it failed a check): the permit
    /// it holds is released and its callback runs with `outcome`.
    pub(crate) fn refuse(&self, on_done: OnDone, outcome: Outcome) {
        self.counters.submitted.fetch_add(1, Relaxed);
        self.window.release();
        self.finish(on_done, outcome);
    }

    /// Whether `id` still waits for its outcome.
    pub(crate) fn is_pending(&self, id: &str) -> bool {
        self.lock().pending.contains_key(id)
    }

    /// The broker stored job `id` at `seq`.
    pub(crate) fn stored(&self, id: &str, seq: u64) -> Stored {
        let mut jobs = self.lock();
        if let Some(entry) = jobs.pending.get_mut(id) {
            entry.seq = Some(seq);
            Stored::Wanted
        } else if jobs.killed_unqueued.remove(id) {
            Stored::Killed
        } else {
            Stored::Gone
        }
    }

    /// Resolves `id` with `outcome` if it is still pending; the publish of it
    /// is over either way. Returns whether it was pending.
    pub(crate) fn resolve(&self, id: &str, outcome: Outcome) -> bool {
        match self.take(id) {
            Some(entry) => {
                self.complete(entry, outcome);
                true
            }
            None => false,
        }
    }

    /// Removes `id` from the jobs in flight.
    fn take(&self, id: &str) -> Option<Entry> {
        let mut jobs = self.lock();
        jobs.killed_unqueued.remove(id);
        jobs.pending.remove(id)
    }

    /// Gives a resolved job's room back and runs its callback.
    fn complete(&self, entry: Entry, outcome: Outcome) {
        self.window.release();
        self.finish(entry.on_done, outcome);
    }

    /// A result arrived from a worker.
    pub(crate) fn result(&self, body: ResultBody) {
        let ResultBody {
            job,
            delivered,
            outcome,
        } = body;
        let Some(entry) = self.take(&job) else {
            // A late result of a killed job, or a second result of a job that
            // ran twice (its worker died between publishing and acking).
            self.counters.duplicates.fetch_add(1, Relaxed);
            return;
        };
        // Counted before the callback runs, so that whoever it wakes sees
        // the counts that include it.
        if delivered > 1 {
            self.counters.redelivered.fetch_add(1, Relaxed);
        }
        if matches!(outcome, WireOutcome::WorkerLost(_)) {
            self.counters.poison.fetch_add(1, Relaxed);
        }
        self.complete(entry, outcome.into());
    }

    /// Kills `id`: resolves it as cancelled now. Returns its pool and where
    /// the broker stored it (if known yet) so that the job can be stopped and
    /// deleted there; `None` if it was not pending.
    pub(crate) fn kill(&self, id: &str) -> Option<(String, Option<u64>)> {
        let entry = {
            let mut jobs = self.lock();
            let entry = jobs.pending.remove(id)?;
            if entry.seq.is_none() {
                jobs.killed_unqueued.insert(id.to_owned());
            }
            entry
        };
        self.window.release();
        self.finish(entry.on_done, Outcome::Cancelled);
        Some((entry.pool, entry.seq))
    }

    /// Closes: every pending job resolves as unavailable, and nothing more is
    /// admitted.
    pub(crate) fn close(&self) {
        let pending: Vec<(String, Entry)> = {
            let mut jobs = self.lock();
            jobs.closed = true;
            jobs.killed_unqueued.clear();
            jobs.pending.drain().collect()
        };
        for (id, entry) in pending {
            self.window.release();
            self.finish(
                entry.on_done,
                Outcome::Unavailable(format!(
                    "the caller closed before job `{id}` finished; the job may still run, but \
                     its result is dropped"
                )),
            );
        }
    }

    /// Jobs pending now.
    pub(crate) fn in_flight(&self) -> usize {
        self.lock().pending.len()
    }

    /// Counts `outcome` and runs the callback with it.
    fn finish(&self, on_done: OnDone, outcome: Outcome) {
        self.counters.resolved.fetch_add(1, Relaxed);
        match outcome {
            Outcome::Unavailable(_) => self.counters.unavailable.fetch_add(1, Relaxed),
            Outcome::Cancelled => self.counters.cancelled.fetch_add(1, Relaxed),
            _ => 0,
        };
        // The callback belongs to the core; its panic must not stop the
        // thread that delivers every other job's outcome.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || on_done(outcome)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn ledger(max: usize) -> Ledger {
        Ledger::new(Window::new(max))
    }

    fn callback() -> (OnDone, mpsc::Receiver<Outcome>) {
        let (tx, rx) = mpsc::channel();
        (Box::new(move |o| tx.send(o).unwrap()), rx)
    }

    fn admit(ledger: &Ledger, id: &str) -> mpsc::Receiver<Outcome> {
        ledger.window.try_reserve().expect("room").into_job();
        let (on_done, rx) = callback();
        assert!(ledger.admit(id, "default", on_done));
        rx
    }

    #[test]
    fn a_result_resolves_once_and_a_second_is_dropped() {
        let ledger = ledger(4);
        let rx = admit(&ledger, "a");
        let result = |delivered| ResultBody {
            job: "a".into(),
            delivered,
            outcome: WireOutcome::Value(vec![1]),
        };
        ledger.result(result(2));
        ledger.result(result(3));
        assert_eq!(rx.try_recv().unwrap(), Outcome::Value(vec![1]));
        assert!(rx.try_recv().is_err(), "one outcome only");
        let c = &ledger.counters;
        assert_eq!(c.redelivered.load(Relaxed), 1);
        assert_eq!(c.duplicates.load(Relaxed), 1);
        assert_eq!(ledger.window.used(), 0);
    }

    #[test]
    fn an_id_in_flight_is_refused() {
        let ledger = ledger(4);
        let _first = admit(&ledger, "a");
        ledger.window.try_reserve().unwrap().into_job();
        let (on_done, rx) = callback();
        assert!(!ledger.admit("a", "default", on_done));
        match rx.try_recv().unwrap() {
            Outcome::Error(msg) => assert!(msg.contains("already in flight"), "{msg}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(ledger.window.used(), 1, "the refused job's room is back");
    }

    #[test]
    fn a_kill_before_the_broker_confirms_deletes_it_afterwards() {
        let ledger = ledger(4);
        let rx = admit(&ledger, "a");
        assert_eq!(ledger.kill("a"), Some(("default".to_owned(), None)));
        assert_eq!(rx.try_recv().unwrap(), Outcome::Cancelled);
        assert_eq!(ledger.stored("a", 7), Stored::Killed);
        assert_eq!(ledger.stored("a", 7), Stored::Gone);
        assert_eq!(ledger.kill("a"), None);
    }

    #[test]
    fn a_kill_after_the_broker_confirmed_knows_where_it_is() {
        let ledger = ledger(4);
        let _rx = admit(&ledger, "a");
        assert_eq!(ledger.stored("a", 9), Stored::Wanted);
        assert_eq!(ledger.kill("a"), Some(("default".to_owned(), Some(9))));
    }

    #[test]
    fn closing_resolves_everything_pending_and_refuses_more() {
        let ledger = ledger(4);
        let a = admit(&ledger, "a");
        ledger.close();
        assert!(matches!(a.try_recv().unwrap(), Outcome::Unavailable(_)));
        ledger.window.try_reserve().unwrap().into_job();
        let (on_done, rx) = callback();
        assert!(!ledger.admit("b", "default", on_done));
        assert!(matches!(rx.try_recv().unwrap(), Outcome::Unavailable(_)));
        assert_eq!(ledger.window.used(), 0);
        assert_eq!(ledger.in_flight(), 0);
    }

    #[test]
    fn a_panicking_callback_does_not_poison_the_ledger() {
        let ledger = ledger(4);
        ledger.window.try_reserve().unwrap().into_job();
        assert!(ledger.admit("a", "default", Box::new(|_| panic!("callback panics"))));
        // The panic message is printed by the default hook; that is fine here.
        assert!(ledger.resolve("a", Outcome::Cancelled));
        let _b = admit(&ledger, "b");
        assert_eq!(ledger.in_flight(), 1);
    }
}
