//! Combined calls: a storage call with an explicit weight waits for its tier's
//! turn off the workers, then runs on a CPU worker of its weight's home groups
//! while holding the turn, so it is bounded by both. A storage call without an
//! explicit weight stays an IO call; stats count both under their tier.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokengate::{
    ErrorKind, StorageSpeed, Task, TaskToken, TokenState, Weight, WorkerInfo, current_worker,
};
use tokengate_tests::{Gate, builder, error, eventually, home_groups, value, with_coordinator};

const COMBINED: Task = Task::new("combined")
    .storage_speed(StorageSpeed::Moderate)
    .weight(Weight::Heavy);
const IO: Task = Task::new("io_only").storage_speed(StorageSpeed::Moderate);

/// Bodies inside at once, and the most ever.
#[derive(Debug, Default)]
struct Inside {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Inside {
    fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        let out = f();
        self.now.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

#[test]
fn a_combined_call_runs_on_a_home_worker_of_its_weight_within_the_tier_cap() {
    let groups = 3;
    with_coordinator(
        builder("combined-home")
            .core_groups(groups)
            .workers_per_core(2)
            .storage_cap(StorageSpeed::Moderate, 2),
        |coordinator| {
            let inside = Arc::new(Inside::default());
            let tokens: Vec<TaskToken<Option<WorkerInfo>>> = (0..24)
                .map(|_| {
                    let inside = inside.clone();
                    COMBINED.spawn(move || {
                        inside.run(|| {
                            std::thread::sleep(Duration::from_millis(2));
                            current_worker()
                        })
                    })
                })
                .collect();
            for token in tokens {
                let worker = value(token).expect("a combined call runs on a CPU worker");
                assert!(
                    home_groups(Weight::Heavy, groups).contains(&worker.group),
                    "ran in group {}",
                    worker.group
                );
            }
            assert!(
                inside.max.load(Ordering::SeqCst) <= 2,
                "the tier's cap binds"
            );
            // An IO call of the same tier runs on an IO thread.
            assert!(value(IO.spawn(current_worker)).is_none());
            let stats = coordinator.stats();
            let tier = stats.storage(StorageSpeed::Moderate);
            assert_eq!(tier.counts.completed, 25);
            assert!(tier.high_water <= 2);
            for weight in Weight::ALL {
                assert_eq!(stats.lane(weight).counts.completed, 0, "{weight} lane");
            }
        },
    );
}

#[test]
fn a_combined_call_is_bounded_by_its_weight_s_workers_too() {
    // One group with one worker (it is home to every weight), a cap of 10.
    with_coordinator(
        builder("combined-cpu-bound")
            .core_groups(1)
            .workers_per_core(1)
            .storage_cap(StorageSpeed::Moderate, 10),
        |_| {
            let inside = Arc::new(Inside::default());
            let tokens: Vec<TaskToken<()>> = (0..10)
                .map(|_| {
                    let inside = inside.clone();
                    COMBINED
                        .spawn(move || inside.run(|| std::thread::sleep(Duration::from_millis(2))))
                })
                .collect();
            for token in tokens {
                value(token);
            }
            assert_eq!(inside.max.load(Ordering::SeqCst), 1);
        },
    );
}

#[test]
fn io_and_combined_calls_share_the_tier_s_turns() {
    with_coordinator(
        builder("combined-share")
            .core_groups(2)
            .workers_per_core(2)
            .storage_cap(StorageSpeed::Moderate, 2),
        |coordinator| {
            let gate = Gate::new();
            let io: Vec<TaskToken<bool>> = (0..2)
                .map(|_| {
                    let gate = gate.clone();
                    IO.spawn(move || gate.wait())
                })
                .collect();
            eventually("both IO calls hold a turn", || {
                coordinator.stats().storage(StorageSpeed::Moderate).running == 2
            });
            let combined = COMBINED.spawn(|| 7);
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(combined.state(), TokenState::Waiting, "no turn is free");
            gate.open();
            for token in io {
                assert!(value(token));
            }
            assert_eq!(value(combined), 7);
        },
    );
}

#[test]
fn killed_combined_calls_give_their_turns_back() {
    // The only heavy-home worker is busy, so combined calls that got a turn
    // wait in their turn queue; others wait for a turn.
    with_coordinator(
        builder("combined-kill")
            .core_groups(1)
            .workers_per_core(1)
            .storage_cap(StorageSpeed::Moderate, 2),
        |coordinator| {
            let gate = Gate::new();
            let busy = {
                let gate = gate.clone();
                Task::new("busy")
                    .weight(Weight::Heavy)
                    .spawn(move || gate.wait())
            };
            eventually("the worker is busy", || {
                busy.state() == TokenState::Executing
            });
            let queued: Vec<TaskToken<u8>> = (0..5).map(|_| COMBINED.spawn(|| 1)).collect();
            eventually("two hold a turn", || {
                coordinator.stats().storage(StorageSpeed::Moderate).running == 2
            });
            for token in &queued {
                assert!(token.kill());
            }
            for token in queued {
                assert_eq!(error(token).kind(), ErrorKind::Killed);
            }
            gate.open();
            assert!(value(busy));
            // The worker found the two stale entries and gave their turns back.
            eventually("every turn is back", || {
                coordinator.stats().storage(StorageSpeed::Moderate).running == 0
            });
            assert_eq!(value(COMBINED.spawn(|| 2)), 2);
        },
    );
}

/// The original README's "CPU and IO combined" example, in Rust syntax.
#[tokengate::task_token_guard(
    op = "process_and_store",
    weight = "heavy",
    storage_speed = "MODERATE"
)]
fn process_and_store(data: Vec<u8>) -> Option<WorkerInfo> {
    let _sum: u64 = data.iter().map(|&b| u64::from(b)).sum();
    current_worker()
}

/// A storage call without an explicit weight stays a pure IO call.
#[tokengate::task_token_guard(op = "store_only", storage_speed = "MODERATE")]
fn store_only() -> Option<WorkerInfo> {
    current_worker()
}

#[test]
fn the_attribute_makes_combined_calls_from_an_explicit_weight() {
    let groups = 2;
    let builder = builder("combined-attr")
        .core_groups(groups)
        .workers_per_core(2);
    with_coordinator(builder, |coordinator| {
        let worker = value(process_and_store(vec![1; 1024])).expect("on a CPU worker");
        assert!(home_groups(Weight::Heavy, groups).contains(&worker.group));
        assert!(value(store_only()).is_none(), "on an IO thread");
        let stats = coordinator.stats();
        assert_eq!(stats.storage(StorageSpeed::Moderate).counts.completed, 2);
        assert_eq!(stats.lane(Weight::Heavy).counts.completed, 0);
        assert_eq!(stats.lane(Weight::Medium).counts.completed, 0);
    });
}
