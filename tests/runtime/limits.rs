//! Named limits (`limit = "..."`, `Task::limit`): one cap and an optional rate
//! shared by every call naming the limit; calls over it wait at its gate off
//! the workers, in call order, and kills, timeouts, pauses and drains reach
//! them there.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokengate::{
    CoordinatorBuilder, ErrorKind, FullLanePolicy, KillReason, Task, TaskToken, TokenState, Weight,
    task_token_guard,
};
use tokengate_tests::{
    Concurrency, Gate, Log, PATIENCE, builder, error, eventually, value, with_coordinator,
};

/// Counts bodies inside at once (and the most ever), without holding them.
#[derive(Debug, Default)]
struct Inside {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Inside {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

const API: Task = Task::new("api_call").limit("api");

/// A call of the limit that runs until `gate` opens.
fn gated(gate: &Arc<Gate>) -> TaskToken<()> {
    let gate = gate.clone();
    API.spawn(move || {
        gate.wait();
    })
}

/// A call of the limit that stays 2 ms, counted by `inside`.
fn brief(inside: &Arc<Inside>) -> TaskToken<()> {
    let inside = inside.clone();
    API.spawn(move || {
        inside.enter();
        std::thread::sleep(Duration::from_millis(2));
        inside.leave();
    })
}

#[test]
fn sixty_calls_under_limit_five_never_exceed_it_and_do_run_in_parallel() {
    with_coordinator(
        builder("limit-five")
            .core_groups(2)
            .workers_per_core(4)
            .limit("api", 5),
        |coordinator| {
            let inside = Arc::new(Inside::default());
            let reached = Concurrency::new();
            let tokens: Vec<TaskToken<usize>> = (0..60)
                .map(|i| {
                    let (inside, reached) = (inside.clone(), reached.clone());
                    API.spawn(move || {
                        inside.enter();
                        std::thread::sleep(Duration::from_millis(10));
                        // Stay until three are inside together (they can be: eight
                        // workers, a cap of five), so the lower bound does not hang on
                        // the machine's timing.
                        reached.hold_until(3);
                        inside.leave();
                        i
                    })
                })
                .collect();
            for (i, token) in tokens.into_iter().enumerate() {
                assert_eq!(value(token), i);
            }
            assert!(inside.max() <= 5, "{} calls ran at once", inside.max());
            assert!(
                reached.max() >= 3,
                "only {} calls ran at once",
                reached.max()
            );
            let stats = coordinator.stats();
            let limit = stats.limit("api").expect("the limit is in the stats");
            assert_eq!(
                (limit.cap, limit.running, limit.waiting, limit.started),
                (Some(5), 0, 0, 60)
            );
            assert!((3..=5).contains(&limit.high_water), "{limit:?}");
        },
    );
}

#[test]
fn calls_waiting_for_a_limit_hold_no_worker() {
    with_coordinator(
        builder("limit-off-workers")
            .core_groups(1)
            .workers_per_core(3)
            .limit("api", 1),
        |coordinator| {
            let gate = Gate::new();
            let limited: Vec<TaskToken<()>> = (0..20).map(|_| gated(&gate)).collect();
            eventually("the first limited call runs", || {
                coordinator.stats().limit("api").unwrap().running == 1
            });
            // Nineteen calls wait at the gate; the two other workers are free.
            let free: Vec<TaskToken<u32>> = (0..50)
                .map(|i| Task::new("free").weight(Weight::Medium).spawn(move || i))
                .collect();
            for (i, token) in free.into_iter().enumerate() {
                assert_eq!(value(token), i as u32);
            }
            let stats = coordinator.stats();
            let limit = stats.limit("api").unwrap();
            assert_eq!((limit.running, limit.waiting), (1, 19));
            assert_eq!(stats.op("api_call").unwrap().counts.waiting, 19);
            gate.open();
            for token in limited {
                value(token);
            }
        },
    );
}

#[test]
fn set_limit_lowers_and_raises_the_cap_at_run_time() {
    with_coordinator(
        builder("limit-set")
            .core_groups(1)
            .workers_per_core(6)
            .limit("api", 5),
        |coordinator| {
            coordinator.set_limit("api", 1);
            let inside = Arc::new(Inside::default());
            let tokens: Vec<TaskToken<()>> = (0..12).map(|_| brief(&inside)).collect();
            for token in tokens {
                value(token);
            }
            assert_eq!(inside.max(), 1, "a cap of 1 binds");

            // 0 holds every call; raising the cap lets them through.
            coordinator.set_limit("api", 0);
            let held: Vec<TaskToken<u8>> = (0..3).map(|_| API.spawn(|| 7)).collect();
            eventually("the calls wait at the gate", || {
                coordinator.stats().limit("api").unwrap().waiting == 3
            });
            assert!(held.iter().all(|t| t.state() == TokenState::Waiting));
            coordinator.set_limit("api", 3);
            for token in held {
                assert_eq!(value(token), 7);
            }
        },
    );
}

#[test]
fn lowering_the_cap_keeps_every_permit_counted_once() {
    with_coordinator(
        builder("limit-lower")
            .core_groups(1)
            .workers_per_core(4)
            .limit("api", 4),
        |coordinator| {
            let gate = Gate::new();
            let running: Vec<TaskToken<()>> = (0..4).map(|_| gated(&gate)).collect();
            eventually("four run", || {
                coordinator.stats().limit("api").unwrap().running == 4
            });
            coordinator.set_limit("api", 2);
            let inside = Arc::new(Inside::default());
            let later: Vec<TaskToken<()>> = (0..6).map(|_| brief(&inside)).collect();
            // The four running keep their permits; nothing new starts over the new cap.
            std::thread::sleep(Duration::from_millis(30));
            assert_eq!(inside.max(), 0);
            gate.open();
            for token in running.into_iter().chain(later) {
                value(token);
            }
            assert!(inside.max() <= 2);
            let limit = coordinator.stats().limit("api").cloned().unwrap();
            assert_eq!((limit.running, limit.waiting, limit.started), (0, 0, 10));
        },
    );
}

#[test]
fn a_rate_spaces_starts_after_its_burst() {
    with_coordinator(
        builder("limit-rate").rate("api", 50, Duration::from_secs(1)),
        |coordinator| {
            let started = Instant::now();
            let tokens: Vec<TaskToken<Instant>> =
                (0..100).map(|_| API.spawn(Instant::now)).collect();
            let mut starts: Vec<Instant> = tokens.into_iter().map(value).collect();
            let elapsed = started.elapsed();
            // A burst of 50, then 50 more at one per 20 ms: at least about a second
            // (no upper bound: a slow machine may take longer).
            assert!(elapsed >= Duration::from_millis(950), "took {elapsed:?}");
            starts.sort();
            // The 51st start waited for the bucket: about 20 ms after the first.
            assert!(starts[50].duration_since(starts[0]) >= Duration::from_millis(15));
            let limit = coordinator.stats().limit("api").cloned().unwrap();
            assert_eq!((limit.cap, limit.started), (None, 100));
            let rate = limit.rate.expect("the rate is in the stats");
            assert_eq!((rate.calls, rate.per), (50, Duration::from_secs(1)));
        },
    );
}

#[test]
fn a_limit_with_no_size_fails_the_call_at_once_naming_the_fix() {
    with_coordinator(builder("limit-unsized"), |coordinator| {
        let ran = Arc::new(AtomicUsize::new(0));
        let seen = ran.clone();
        let err = error(Task::new("crawl").limit("github_api").spawn(move || {
            seen.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(err.kind(), ErrorKind::UnsizedLimit);
        let message = err.to_string();
        for needle in [
            "`crawl`",
            "`github_api`",
            "CoordinatorBuilder::limit(\"github_api\", n)",
            "set_limit",
        ] {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        // Sized at run time, the same call goes through.
        coordinator.set_limit("github_api", 2);
        assert_eq!(value(Task::new("crawl").limit("github_api").spawn(|| 3)), 3);
    });
}

/// Two workers and a limit `api` of one.
fn limit_of_one(name: &str) -> CoordinatorBuilder {
    builder(name)
        .core_groups(1)
        .workers_per_core(2)
        .limit("api", 1)
}

/// The limit of one, held by a call blocked on the returned gate.
fn held_limit() -> (Arc<Gate>, TaskToken<()>) {
    let gate = Gate::new();
    let blocker = gated(&gate);
    eventually("the blocker holds the permit", || {
        blocker.state() == TokenState::Executing
    });
    (gate, blocker)
}

#[test]
fn kill_timeout_and_drain_reach_calls_waiting_at_a_gate() {
    with_coordinator(limit_of_one("limit-admin"), |coordinator| {
        let (gate, blocker) = held_limit();
        let ran = Log::new();
        let call = |tag: &'static str| {
            let ran = ran.clone();
            API.spawn(move || ran.push(tag))
        };
        let killed = call("killed");
        let timed_out = API
            .timeout(Duration::from_millis(20))
            .spawn(|| unreachable!("timed out at the gate"));
        let drained = call("drained");
        let runs = call("runs");
        assert!(killed.kill());
        let err = error(killed);
        assert_eq!(err.kill_reason(), Some(KillReason::Token));
        assert_eq!(error(timed_out).kind(), ErrorKind::TimedOut);
        eventually("two wait at the gate", || {
            coordinator.stats().limit("api").unwrap().waiting == 2
        });
        let drained_count = coordinator.drain_operation("api_call");
        // `runs` is drained too: both waited at the gate.
        assert_eq!(drained_count, 2);
        assert_eq!(error(drained).kill_reason(), Some(KillReason::Drain));
        assert_eq!(error(runs).kill_reason(), Some(KillReason::Drain));
        let after = call("after");
        gate.open();
        value(blocker);
        value(after);
        assert_eq!(ran.items(), ["after"]);
        let limit = coordinator.stats().limit("api").cloned().unwrap();
        assert_eq!((limit.running, limit.waiting), (0, 0));
    });
}

#[test]
fn a_paused_op_waits_at_the_gate_without_holding_a_permit() {
    with_coordinator(limit_of_one("limit-pause"), |coordinator| {
        let (gate, blocker) = held_limit();
        let order = Log::new();
        let paused = {
            let order = order.clone();
            Task::new("paused_op")
                .limit("api")
                .spawn(move || order.push("paused"))
        };
        let other = {
            let order = order.clone();
            API.spawn(move || order.push("other"))
        };
        coordinator.pause_operation("paused_op");
        gate.open();
        value(blocker);
        // The paused op's call was first at the gate, but the permit goes on.
        value(other);
        assert_eq!(paused.state(), TokenState::Waiting);
        assert_eq!(coordinator.stats().limit("api").unwrap().running, 0);
        coordinator.resume_operation("paused_op");
        value(paused);
        assert_eq!(order.items(), ["other", "paused"]);
    });
}

#[test]
fn a_call_killed_while_running_keeps_its_permit_until_its_body_returns() {
    with_coordinator(limit_of_one("limit-kill-running"), |coordinator| {
        let (gate, blocker) = held_limit();
        let next = API.spawn(|| 5);
        assert!(blocker.kill());
        assert_eq!(error(blocker).kind(), ErrorKind::Killed);
        // The killed body still runs: the next call waits for its permit.
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(next.state(), TokenState::Waiting);
        assert_eq!(coordinator.stats().limit("api").unwrap().running, 1);
        gate.open();
        assert_eq!(value(next), 5);
    });
}

#[test]
fn dropping_a_token_waiting_at_a_gate_detaches_it() {
    with_coordinator(limit_of_one("limit-drop"), |_| {
        let (gate, blocker) = held_limit();
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            let ran = ran.clone();
            // Dropped at once: the drop does not wait for the permit.
            drop(API.spawn(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            }));
        }
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        gate.open();
        value(blocker);
        eventually("the detached calls ran", || {
            ran.load(Ordering::SeqCst) == 10
        });
    });
}

#[test]
fn a_rejecting_coordinator_bounds_the_gate() {
    with_coordinator(
        builder("limit-reject")
            .core_groups(1)
            .workers_per_core(1)
            .lane_capacity(3)
            .full_lane_policy(FullLanePolicy::Reject)
            .limit("api", 1),
        |_| {
            let gate = Gate::new();
            let blocker = gated(&gate);
            let waiting: Vec<TaskToken<u8>> = (0..3).map(|_| API.spawn(|| 1)).collect();
            let err = error(API.spawn(|| 1));
            assert!(err.is_rejected(), "{err}");
            assert!(err.to_string().contains("limit `api`"), "{err}");
            gate.open();
            value(blocker);
            for token in waiting {
                assert_eq!(value(token), 1);
            }
        },
    );
}

#[test]
fn limits_hold_under_random_kills() {
    with_coordinator(
        builder("limit-stress")
            .core_groups(2)
            .workers_per_core(3)
            .limit("api", 3),
        |coordinator| {
            let inside = Arc::new(Inside::default());
            let mut rng = tokengate_tests::SplitMix64::new(7);
            let deadline = Instant::now() + PATIENCE;
            let tokens: Vec<TaskToken<()>> = (0..2_000)
                .map(|_| {
                    let inside = inside.clone();
                    let token = API.spawn(move || {
                        inside.enter();
                        std::hint::spin_loop();
                        inside.leave();
                    });
                    if rng.chance(30) {
                        token.kill();
                    }
                    token
                })
                .collect();
            for token in tokens {
                let _ = tokengate_tests::resolve(token);
            }
            assert!(Instant::now() < deadline);
            assert!(inside.max() <= 3, "{} ran at once", inside.max());
            eventually("every permit is back", || {
                let stats = coordinator.stats();
                let limit = stats.limit("api").unwrap();
                limit.running == 0 && limit.waiting == 0
            });
        },
    );
}

#[task_token_guard(op = "attr_limited", limit = "api")]
fn attr_limited(x: u32) -> u32 {
    x + 1
}

#[test]
fn the_attribute_names_a_limit() {
    with_coordinator(builder("limit-attr").limit("api", 2), |coordinator| {
        let sum: u32 = (0..10).map(attr_limited).map(value).sum();
        assert_eq!(sum, 55);
        assert_eq!(coordinator.stats().limit("api").unwrap().started, 10);
    });
}
