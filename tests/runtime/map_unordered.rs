//! The streaming map: completion order, `in_flight`, `fail_fast`, progress,
//! and the coordinator's view of maps in progress.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::Duration;

use tokengate::{KillReason, Task};
use tokengate_tests::{
    EXPECTED_PANIC, Gate, block_on, builder, eventually, quiet_expected_panics, with_coordinator,
};

#[test]
fn every_item_comes_back_once_with_its_index() {
    with_coordinator(builder("mu-all"), |_| {
        let triple = Task::new("triple").func(|x: usize| x * 3);
        let mut seen = vec![0; 500];
        for (index, result) in tokengate::map_unordered(triple, 0..500).in_flight(16) {
            assert_eq!(result.unwrap(), index * 3);
            seen[index] += 1;
        }
        assert!(seen.iter().all(|&n| n == 1));
    });
}

#[test]
fn results_come_in_completion_order() {
    with_coordinator(
        builder("mu-order").core_groups(1).workers_per_core(4),
        |_| {
            let gates: Vec<Arc<Gate>> = (0..4).map(|_| Gate::new()).collect();
            let open = Arc::new(gates.clone());
            let wait_for = Task::new("gated").func(move |i: usize| {
                assert!(open[i].wait());
                i
            });
            let mut results = tokengate::map_unordered(wait_for, 0..4);
            for i in [3, 1, 0, 2] {
                gates[i].open();
                let (index, result) = results.next().unwrap();
                assert_eq!((index, result.unwrap()), (i, i));
            }
            assert!(results.next().is_none());
        },
    );
}

#[test]
fn in_flight_bounds_the_calls_made_and_running() {
    with_coordinator(
        builder("mu-bound").core_groups(1).workers_per_core(8),
        |_| {
            let running = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));
            let (r, m) = (running.clone(), most.clone());
            let work = Task::new("bounded").func(move |x: u64| {
                let now = r.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
                r.fetch_sub(1, Ordering::SeqCst);
                x
            });
            let mut results = tokengate::map_unordered(work, 0..200u64).in_flight(3);
            let mut count = 0;
            while let Some((_, result)) = results.next() {
                result.unwrap();
                assert!(results.in_flight_now() <= 3);
                count += 1;
            }
            assert_eq!(count, 200);
            let most = most.load(Ordering::SeqCst);
            assert!(
                (1..=3).contains(&most),
                "{most} ran at once with in_flight(3)"
            );
        },
    );
}

#[test]
fn fail_fast_kills_the_calls_in_flight_and_stops_submitting() {
    quiet_expected_panics();
    with_coordinator(
        builder("mu-fail").core_groups(1).workers_per_core(4),
        |_| {
            let made = Arc::new(AtomicUsize::new(0));
            let m = made.clone();
            let work = Task::new("maybe").func(move |x: u32| {
                m.fetch_add(1, Ordering::SeqCst);
                // The first item fails: it surely gets a worker.
                if x == 0 {
                    panic!("{EXPECTED_PANIC}: item 0");
                }
                while !tokengate::is_cancelled() {
                    std::thread::sleep(Duration::from_millis(1));
                }
                x
            });
            let outcomes: Vec<_> = tokengate::map_unordered(work, 0..1_000u32)
                .in_flight(8)
                .fail_fast()
                .collect();
            let (index, first) = &outcomes[0];
            assert_eq!(*index, 0);
            assert!(first.as_ref().unwrap_err().is_panic());
            assert_eq!(
                outcomes.len(),
                8,
                "the failure, then the 7 killed in flight"
            );
            for (_, killed) in &outcomes[1..] {
                let err = killed.as_ref().unwrap_err();
                assert_eq!(err.kill_reason(), Some(KillReason::Group), "{err}");
            }
            assert!(
                made.load(Ordering::SeqCst) <= 8,
                "calls made after the failure"
            );
        },
    );
}

#[test]
fn progress_reaches_the_total() {
    with_coordinator(builder("mu-progress"), |_| {
        let reports = Arc::new(Mutex::new(Vec::new()));
        let r = reports.clone();
        let work = Task::new("counted").func(|x: u32| x);
        let n = tokengate::map_unordered(work, vec![1u32; 300])
            .in_flight(32)
            .on_progress(move |done, total| r.lock().unwrap().push((done, total)))
            .count();
        assert_eq!(n, 300);
        let reports = reports.lock().unwrap();
        assert_eq!(reports.len(), 300);
        assert_eq!(*reports.last().unwrap(), (300, 300));
        assert!(reports.iter().all(|&(_, total)| total == 300));
        assert!(reports.windows(2).all(|w| w[0].0 + 1 == w[1].0));
    });
}

#[test]
fn the_async_form_streams_in_completion_order_too() {
    with_coordinator(builder("mu-async"), |_| {
        let square = Task::new("square").func(|x: u64| x * x);
        let mut results = tokengate::a_map_unordered(square, 0..1_000u64).in_flight(50);
        let sum = block_on(async {
            let mut sum = 0;
            while let Some((index, result)) = results.next().await {
                assert_eq!(result.unwrap(), (index as u64).pow(2));
                sum += 1;
            }
            sum
        });
        assert_eq!(sum, 1_000);
        assert_eq!(results.done(), 1_000);
    });
}

#[test]
fn bulk_maps_shows_an_active_map_then_clears_it() {
    with_coordinator(builder("mu-bulk").core_groups(1).workers_per_core(2), |c| {
        assert!(c.bulk_maps().is_empty());
        let gate = Gate::new();
        let g = gate.clone();
        let work = Task::new("bulk_item").func(move |x: u32| {
            if x >= 10 {
                assert!(g.wait());
            }
            x
        });
        let mut results = tokengate::map_unordered(work, 0..40u32).in_flight(4);
        for _ in 0..10 {
            results.next().unwrap().1.unwrap();
        }
        let maps = c.bulk_maps();
        assert_eq!(maps.len(), 1);
        let map = &maps[0];
        assert_eq!(map.label, "bulk_item");
        assert_eq!((map.done, map.total, map.failed), (10, 40, 0));
        assert!(map.in_flight <= 4);
        gate.open();
        assert_eq!(results.by_ref().count(), 30);
        assert!(c.bulk_maps().is_empty(), "a finished map is gone");

        // A map dropped half-way goes too, and kills its calls in flight.
        let cancelled = Arc::new(AtomicUsize::new(0));
        let seen = cancelled.clone();
        let stuck = Task::new("stuck").func(move |_: u32| {
            while !tokengate::is_cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
            seen.fetch_add(1, Ordering::SeqCst);
        });
        let mut labelled = tokengate::a_map_unordered(stuck, 0..10u32)
            .in_flight(2)
            .label("nightly import");
        let mut cx = Context::from_waker(Waker::noop());
        assert!(labelled.poll_next(&mut cx).is_pending());
        let maps = c.bulk_maps();
        assert_eq!(maps.len(), 1);
        assert_eq!(maps[0].label, "nightly import");
        assert_eq!((maps[0].done, maps[0].total, maps[0].in_flight), (0, 10, 2));
        eventually("both calls run", || {
            c.stats()
                .op("stuck")
                .is_some_and(|op| op.counts.executing == 2)
        });
        drop(labelled);
        assert!(c.bulk_maps().is_empty());
        eventually("the calls in flight were killed", || {
            cancelled.load(Ordering::SeqCst) == 2
        });
        assert_eq!(c.stats().op("stuck").unwrap().counts.submitted, 2);
    });
}
