//! Weight lanes and core groups: reserved workers serve only their group's home
//! weights, so no weight starves another, while one weight alone uses every core.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokengate::{CoordinatorBuilder, Task, TaskToken, Weight, WorkerInfo, current_worker};
use tokengate_tests::{
    Concurrency, Gate, Log, SplitMix64, builder, eventually, home_groups, value, with_coordinator,
};

/// Two core groups of two workers: worker 0 (group 0) is reserved for heavy,
/// worker 2 (group 1) for light and medium; workers 1 and 3 roam.
fn two_by_two(name: &str) -> CoordinatorBuilder {
    builder(name).core_groups(2).workers_per_core(2)
}

fn task(weight: Weight) -> Task {
    Task::new(weight.as_str()).weight(weight)
}

fn here() -> WorkerInfo {
    current_worker().expect("a guarded call runs on a worker")
}

#[test]
fn topology_reserves_the_first_worker_of_each_group() {
    with_coordinator(two_by_two("topology"), |c| {
        assert_eq!((c.worker_count(), c.core_groups()), (4, 2));
        let shape: Vec<(usize, usize, bool)> = c
            .stats()
            .workers
            .iter()
            .map(|w| (w.index, w.group, w.roams))
            .collect();
        assert_eq!(
            shape,
            [(0, 0, false), (1, 0, true), (2, 1, false), (3, 1, true)]
        );
        assert_eq!(current_worker(), None, "the test thread is no worker");
        let info = value(Task::new("where").spawn(here));
        assert!(
            shape.contains(&(info.index, info.group, info.roams)),
            "{info:?}"
        );
    });

    // With one worker per group, every worker roams.
    with_coordinator(
        builder("topology-1").core_groups(3).workers_per_core(1),
        |c| {
            assert!(c.stats().workers.iter().all(|w| w.roams));
        },
    );
}

#[test]
fn reserved_workers_only_run_their_home_weights() {
    with_coordinator(two_by_two("reserved"), |c| {
        let log: Arc<Log<(Weight, WorkerInfo)>> = Log::new();
        const THREADS: u64 = 2;
        const PER_THREAD: u64 = 600;
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let log = log.clone();
                s.spawn(move || {
                    c.run(|| {
                        let mut rng = SplitMix64::new(t + 1);
                        let tokens: Vec<TaskToken<()>> = (0..PER_THREAD)
                            .map(|_| {
                                let weight = Weight::ALL[rng.below(3) as usize];
                                let pause = Duration::from_micros(rng.below(300));
                                let log = log.clone();
                                task(weight).spawn(move || {
                                    log.push((weight, here()));
                                    std::thread::sleep(pause);
                                })
                            })
                            .collect();
                        tokens.into_iter().for_each(|t| value(t));
                    });
                });
            }
        });
        let runs = log.items();
        assert_eq!(runs.len() as u64, THREADS * PER_THREAD);
        let foreign_on_reserved: Vec<_> = runs
            .iter()
            .filter(|(w, info)| !info.roams && !home_groups(*w, 2).contains(&info.group))
            .collect();
        assert!(
            foreign_on_reserved.is_empty(),
            "{} of {} calls ran on a reserved worker outside their home group, e.g. {:?}",
            foreign_on_reserved.len(),
            runs.len(),
            foreign_on_reserved.first()
        );
    });
}

/// Floods `flood` calls that block on a gate, waits until they occupy every
/// worker that may run them (`expected_busy` of them), then checks that one
/// `probe` call still runs, on its reserved home worker, while the flood is
/// still blocked.
fn probe_under_flood(name: &str, flood: Weight, expected_busy: usize, probe: Weight) {
    with_coordinator(two_by_two(name), |_| {
        let gate = Gate::new();
        let started = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let flood_log: Arc<Log<WorkerInfo>> = Log::new();
        let flood_tokens: Vec<TaskToken<()>> = (0..200)
            .map(|_| {
                let (gate, started, done, log) = (
                    gate.clone(),
                    started.clone(),
                    done.clone(),
                    flood_log.clone(),
                );
                task(flood).spawn(move || {
                    log.push(here());
                    started.fetch_add(1, Ordering::SeqCst);
                    assert!(gate.wait());
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        eventually(
            &format!("the {flood} flood occupies {expected_busy} workers"),
            || started.load(Ordering::SeqCst) == expected_busy,
        );

        let info = value(task(probe).spawn(here));
        assert_eq!(
            done.load(Ordering::SeqCst),
            0,
            "the flood is still blocked on its gate"
        );
        assert!(
            !info.roams,
            "the {probe} call ran on its reserved worker: {info:?}"
        );
        assert!(home_groups(probe, 2).contains(&info.group), "{info:?}");
        // The flood never took the probe weight's reserved worker.
        assert_eq!(started.load(Ordering::SeqCst), expected_busy);

        gate.open();
        flood_tokens.into_iter().for_each(value);
        assert_eq!(done.load(Ordering::SeqCst), 200);
        for info in flood_log.items() {
            assert!(
                info.roams || home_groups(flood, 2).contains(&info.group),
                "a {flood} call ran on reserved worker {info:?}"
            );
        }
    });
}

#[test]
fn heavy_call_runs_while_a_light_flood_holds_every_other_worker() {
    // Light may use workers 1, 2, 3; heavy keeps worker 0.
    probe_under_flood("light-flood", Weight::Light, 3, Weight::Heavy);
}

#[test]
fn light_call_runs_while_a_heavy_flood_holds_every_other_worker() {
    // Heavy may use workers 0, 1, 3; light keeps worker 2.
    probe_under_flood("heavy-flood", Weight::Heavy, 3, Weight::Light);
}

#[test]
fn medium_call_runs_while_a_heavy_flood_holds_every_other_worker() {
    probe_under_flood("heavy-flood-m", Weight::Heavy, 3, Weight::Medium);
}

/// Runs `calls` calls of one weight that each stay until `target` of them run
/// at once; returns the most that ran at once and the workers they used.
fn burst(weight: Weight, calls: usize, target: usize) -> (usize, Vec<WorkerInfo>) {
    let conc = Concurrency::new();
    let log: Arc<Log<WorkerInfo>> = Log::new();
    let tokens: Vec<TaskToken<()>> = (0..calls)
        .map(|_| {
            let (conc, log) = (conc.clone(), log.clone());
            task(weight).spawn(move || {
                log.push(here());
                conc.hold_until(target);
            })
        })
        .collect();
    tokens.into_iter().for_each(value);
    (conc.max(), log.items())
}

#[test]
fn one_weight_alone_uses_every_core() {
    // 2 groups x 2 workers: each weight may use its home group's two workers
    // plus the roaming worker of the other group, so three at once, which is
    // more than its home group has.
    with_coordinator(two_by_two("one-weight"), |_| {
        for weight in Weight::ALL {
            let (max, workers) = burst(weight, 6, 3);
            assert_eq!(max, 3, "{weight} calls alone ran {max} at once, expected 3");
            let home = home_groups(weight, 2);
            assert!(
                workers.iter().any(|w| !home.contains(&w.group)),
                "{weight} calls never spilled outside their home group: {workers:?}"
            );
        }
    });

    // 2 groups x 1 worker: both workers roam, so any weight runs two at once.
    with_coordinator(
        builder("one-weight-1").core_groups(2).workers_per_core(1),
        |_| {
            for weight in Weight::ALL {
                let (max, _) = burst(weight, 4, 2);
                assert_eq!(max, 2, "{weight} calls alone ran {max} at once, expected 2");
            }
        },
    );
}
