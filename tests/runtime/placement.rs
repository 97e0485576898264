//! Placement inside a group: calls go to the least-loaded worker, and idle
//! workers steal calls queued behind a long one.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokengate::{Task, TaskToken, current_worker};
use tokengate_tests::{Gate, Log, PATIENCE, builder, eventually, value, with_coordinator};

fn worker_index() -> usize {
    current_worker().expect("on a worker").index
}

#[test]
fn calls_spread_over_idle_workers_instead_of_stacking() {
    with_coordinator(
        builder("spread")
            .core_groups(1)
            .workers_per_core(4)
            .mailbox_capacity(8),
        |c| {
            let gate = Gate::new();
            let log: Arc<Log<usize>> = Log::new();
            let call = || {
                let (gate, log) = (gate.clone(), log.clone());
                Task::new("spread").spawn(move || {
                    log.push(worker_index());
                    assert!(gate.wait());
                })
            };
            // Four calls, four idle workers: each gets its own.
            let first: Vec<TaskToken<()>> = (0..4).map(|_| call()).collect();
            eventually("four calls run at once", || log.len() == 4);
            let distinct: HashSet<usize> = log.items().into_iter().collect();
            assert_eq!(
                distinct.len(),
                4,
                "calls stacked on busy workers: {:?}",
                log.items()
            );

            // Four more while all are busy: one queued per worker, not four on one.
            let second: Vec<TaskToken<()>> = (0..4).map(|_| call()).collect();
            let workers = c.stats().workers;
            assert!(workers.iter().all(|w| w.busy), "{workers:?}");
            let queued: Vec<usize> = workers.iter().map(|w| w.queued).collect();
            assert_eq!(queued, [1, 1, 1, 1], "least-loaded placement");

            gate.open();
            first.into_iter().chain(second).for_each(value);
        },
    );
}

#[test]
fn idle_worker_steals_calls_queued_behind_a_long_one() {
    with_coordinator(builder("steal").core_groups(1).workers_per_core(2), |c| {
        const SHORTS: usize = 4;
        let shorts_done = Arc::new(AtomicUsize::new(0));
        let started: Arc<Log<&'static str>> = Log::new();

        // The long call runs until every short call finished (or PATIENCE passed)
        // and reports how many finished while it was still running.
        let (done, log) = (shorts_done.clone(), started.clone());
        let long = Task::new("long").spawn(move || {
            log.push("long");
            let deadline = Instant::now() + PATIENCE;
            while done.load(Ordering::SeqCst) < SHORTS && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            (worker_index(), done.load(Ordering::SeqCst))
        });
        let gate = Gate::new();
        let (g, log) = (gate.clone(), started.clone());
        let blocker = Task::new("blocker").spawn(move || {
            log.push("blocker");
            assert!(g.wait());
        });
        eventually("both workers are busy", || started.len() == 2);

        // Both workers are busy, so the short calls queue in their mailboxes,
        // half behind the long call.
        let shorts: Vec<TaskToken<usize>> = (0..SHORTS)
            .map(|_| {
                let done = shorts_done.clone();
                Task::new("short").spawn(move || {
                    done.fetch_add(1, Ordering::SeqCst);
                    worker_index()
                })
            })
            .collect();
        let queued: Vec<usize> = c.stats().workers.iter().map(|w| w.queued).collect();
        assert_eq!(
            queued,
            [SHORTS / 2, SHORTS / 2],
            "short calls spread over both mailboxes"
        );

        // Free the other worker: it runs its own short calls, then steals the ones
        // queued behind the long call.
        gate.open();
        value(blocker);
        let (long_worker, finished_meanwhile) = value(long);
        assert_eq!(
            finished_meanwhile, SHORTS,
            "short calls queued behind the long call waited for it instead of being stolen"
        );
        for s in shorts {
            assert_ne!(
                value(s),
                long_worker,
                "a short call ran on the long call's worker"
            );
        }
    });
}
