//! `map` and `a_map`: one fn over many items, results in input order.

use std::time::Duration;

use tokengate::{FullLanePolicy, Task, TaskToken, Weight, task_token_guard};
use tokengate_tests::{
    EXPECTED_PANIC, SplitMix64, block_on, builder, quiet_expected_panics, single_worker,
    with_coordinator,
};

#[task_token_guard(op = "jitter", weight = "light")]
fn jitter(x: u64) -> u64 {
    let pause = SplitMix64::new(x).below(200);
    std::thread::sleep(Duration::from_micros(pause));
    x * 3
}

const ITEMS: u64 = 1_000;

fn expected() -> Vec<u64> {
    (0..ITEMS).map(|x| x * 3).collect()
}

#[test]
fn map_returns_results_in_input_order() {
    with_coordinator(builder("map").core_groups(2).workers_per_core(2), |c| {
        let results = tokengate::map(jitter, 0..ITEMS);
        let values: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(values, expected());
        assert_eq!(c.stats().tokens.completed, ITEMS);
    });
}

#[test]
fn a_map_returns_results_in_input_order() {
    with_coordinator(builder("a-map").core_groups(2).workers_per_core(2), |_| {
        let results = block_on(tokengate::a_map(jitter, 0..ITEMS));
        let values: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(values, expected());
    });
}

#[test]
fn a_map_awaits_room_in_a_full_lane() {
    // A lane of 4 and a mailbox of 1: most calls are deferred by `admit`.
    with_coordinator(
        single_worker("a-map-tight")
            .mailbox_capacity(1)
            .lane_capacity(4)
            .full_lane_policy(FullLanePolicy::Wait),
        |_| {
            let results = block_on(tokengate::a_map(jitter, 0..200));
            let values: Vec<u64> = results.into_iter().map(Result::unwrap).collect();
            assert_eq!(values, (0..200).map(|x| x * 3).collect::<Vec<_>>());
        },
    );
}

#[test]
fn map_reports_each_error_in_its_place() {
    quiet_expected_panics();
    with_coordinator(
        builder("map-errors").core_groups(1).workers_per_core(2),
        |_| {
            let halve = Task::new("halve").weight(Weight::Medium).func(|x: u32| {
                if x % 2 == 1 {
                    panic!("{EXPECTED_PANIC}: odd {x}");
                }
                x / 2
            });
            let results = tokengate::map(&halve, 0..10);
            for (x, r) in (0..10).zip(&results) {
                match r {
                    Ok(v) => assert_eq!((x % 2, *v), (0, x / 2)),
                    Err(e) => {
                        assert_eq!(x % 2, 1);
                        assert_eq!(
                            e.panic_message(),
                            Some(format!("{EXPECTED_PANIC}: odd {x}").as_str())
                        );
                    }
                }
            }
            // The same function value can be called directly too.
            let again: Vec<TaskToken<u32>> = (0..4).map(|x| halve(x * 2)).collect();
            let values: Vec<u32> = again.into_iter().map(|t| t.wait().unwrap()).collect();
            assert_eq!(values, [0, 1, 2, 3]);
        },
    );
}
