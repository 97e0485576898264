//! Reserved workers under preemption: with the CPUs oversubscribed by busy
//! threads, worker threads are preempted at arbitrary points, and a reserved
//! worker still never runs a call whose home is another group.
//!
//! Its own binary: for its whole run it keeps every core busy, which would
//! starve the short, deadline-bound tests of the `runtime` binary if they ran
//! beside it.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokengate::{Task, TaskToken, Weight, WorkerInfo, current_worker};
use tokengate_tests::{Log, builder, home_groups, value, with_coordinator};

fn task(weight: Weight) -> Task {
    Task::new(weight.as_str()).weight(weight)
}

fn here() -> WorkerInfo {
    current_worker().expect("a guarded call runs on a worker")
}

/// Busy threads that oversubscribe the CPUs until dropped, so that worker
/// threads get preempted at arbitrary points.
struct CpuHogs(
    Arc<std::sync::atomic::AtomicBool>,
    Vec<std::thread::JoinHandle<()>>,
);

impl CpuHogs {
    fn start() -> CpuHogs {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        let hogs = (0..4 * cpus)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        CpuHogs(stop, hogs)
    }
}

impl Drop for CpuHogs {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
        for h in self.1.drain(..) {
            let _ = h.join();
        }
    }
}

#[test]
fn reserved_workers_never_take_foreign_calls_under_preemption() {
    // Three floods at once with small mailboxes, on oversubscribed CPUs: a
    // foreign call roamed onto an idle roaming worker can still be at the front
    // of that worker's mailbox, with home calls behind it, when the group's
    // reserved worker goes idle and steals.
    let _hogs = CpuHogs::start();
    let mut seen = 0;
    for round in 0..40u64 {
        let log: Arc<Log<(Weight, WorkerInfo)>> = Log::new();
        with_coordinator(
            builder("reserved-preempted")
                .core_groups(2)
                .workers_per_core(2)
                .mailbox_capacity(2),
            |c| {
                std::thread::scope(|s| {
                    for (k, weight) in Weight::ALL.into_iter().enumerate() {
                        let log = log.clone();
                        s.spawn(move || {
                            c.run(|| {
                                let tokens: Vec<TaskToken<()>> = (0..2_000u64)
                                    .map(|i| {
                                        let log = log.clone();
                                        task(weight).spawn(move || {
                                            log.push((weight, here()));
                                            if (i + k as u64 + round) % 3 == 0 {
                                                std::thread::sleep(Duration::from_micros(20));
                                            }
                                        })
                                    })
                                    .collect();
                                tokens.into_iter().for_each(value);
                            })
                        });
                    }
                });
            },
        );
        let runs = log.items();
        seen += runs.len();
        let bad: Vec<_> = runs
            .iter()
            .filter(|(w, info)| !info.roams && !home_groups(*w, 2).contains(&info.group))
            .collect();
        assert!(
            bad.is_empty(),
            "round {round}: {} calls ran on a reserved worker outside their home group \
             (after {seen} calls), e.g. {:?}",
            bad.len(),
            bad[0]
        );
    }
}
