//! Per-call settings: `token.timeout(d)`, scoped [`Override`]s of weight and
//! timeout, and `Task` with every key a closure can use.

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokengate::{
    ErrorKind, Override, StorageSpeed, Task, TaskToken, TokenState, Weight, current_worker,
    task_token_guard,
};
use tokengate_tests::{Gate, Log, builder, error, eventually, value, with_coordinator};

#[task_token_guard(op = "spin_until_cancelled", weight = "light")]
fn spin_until_cancelled(seen: Arc<AtomicBool>) -> u8 {
    while !tokengate::is_cancelled() {
        std::thread::sleep(Duration::from_millis(1));
    }
    seen.store(true, Ordering::SeqCst);
    1
}

#[task_token_guard(op = "slow_with_timeout", timeout = "50ms")]
fn slow_with_timeout(gate: Arc<Gate>) {
    gate.wait_or_cancelled();
}

#[test]
fn token_timeout_times_out_a_running_call_and_its_body_sees_it() {
    with_coordinator(builder("token-timeout"), |_| {
        let seen = Arc::new(AtomicBool::new(false));
        let token = spin_until_cancelled(seen.clone()).timeout(Duration::from_millis(30));
        let err = error(token);
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(err.to_string().contains("timed out after 30ms"), "{err}");
        eventually("the body saw the cancellation", || {
            seen.load(Ordering::SeqCst)
        });
    });
}

#[test]
fn token_timeout_reaches_a_queued_call_which_never_runs() {
    with_coordinator(
        builder("token-timeout-queued")
            .core_groups(1)
            .workers_per_core(1),
        |_| {
            let gate = Gate::new();
            let blocker = {
                let gate = gate.clone();
                Task::new("blocker").spawn(move || gate.wait())
            };
            let ran = Arc::new(AtomicBool::new(false));
            let queued = {
                let ran = ran.clone();
                Task::new("queued").spawn(move || ran.store(true, Ordering::SeqCst))
            }
            .timeout(Duration::from_millis(10));
            assert_eq!(error(queued).kind(), ErrorKind::TimedOut);
            gate.open();
            value(blocker);
            assert!(!ran.load(Ordering::SeqCst));
        },
    );
}

#[test]
fn the_earlier_deadline_wins() {
    with_coordinator(builder("earlier-deadline"), |_| {
        // The fn's own 50 ms is earlier than the token's hour.
        let gate = Gate::new();
        let err = error(slow_with_timeout(gate.clone()).timeout(Duration::from_secs(3600)));
        assert!(err.to_string().contains("50ms"), "{err}");
        // The token's 10 ms is earlier than the fn's 50 ms.
        let err = error(slow_with_timeout(gate.clone()).timeout(Duration::from_millis(10)));
        assert!(err.to_string().contains("10ms"), "{err}");
        // A finished call keeps its value.
        let done = Task::new("done").spawn(|| 4);
        eventually("it finished", || done.is_finished());
        assert_eq!(value(done.timeout(Duration::ZERO)), 4);
    });
}

#[task_token_guard(op = "render", weight = "light")]
fn render(page: u32) -> u32 {
    page
}

#[test]
fn an_override_sets_weight_and_timeout_for_calls_made_inside_it() {
    with_coordinator(builder("override"), |coordinator| {
        let plain = render(1);
        let heavy = Override::new().weight(Weight::Heavy).scope(|| render(2));
        assert_eq!(
            (plain.weight(), heavy.weight()),
            (Weight::Light, Weight::Heavy)
        );
        // Nested scopes: the inner one's set fields win, the rest is inherited,
        // and the outer one is back after the inner returns.
        let (inner, outer) = Override::new().weight(Weight::Heavy).scope(|| {
            let inner = Override::new()
                .timeout(Duration::from_millis(10))
                .scope(|| slow_with_timeout(Gate::new()));
            (inner, render(3))
        });
        assert_eq!(inner.weight(), Weight::Heavy);
        assert!(error(inner).to_string().contains("10ms"));
        assert_eq!(outer.weight(), Weight::Heavy);
        assert_eq!(render(4).weight(), Weight::Light);
        // Stats count the calls under the weight they ran at.
        for token in [plain, heavy, outer] {
            value(token);
        }
        let stats = coordinator.stats();
        assert_eq!(stats.lane(Weight::Heavy).counts.completed, 2);
    });
}

#[test]
fn an_override_is_undone_when_its_scope_unwinds() {
    with_coordinator(builder("override-unwind"), |_| {
        let unwound = std::panic::catch_unwind(|| {
            Override::new()
                .weight(Weight::Heavy)
                .scope(|| panic!("scope body fails"))
        });
        assert!(unwound.is_err());
        assert_eq!(value_weight(render(5)), Weight::Light);
    });
}

fn value_weight<T>(token: TaskToken<T>) -> Weight {
    let weight = token.weight();
    let _ = tokengate_tests::resolve(token);
    weight
}

#[test]
fn spawn_names_its_operation() {
    with_coordinator(builder("spawn-op"), |coordinator| {
        let token = tokengate::spawn("thumbnail", || 9);
        assert_eq!(token.op(), "thumbnail");
        assert_eq!(value(token), 9);
        coordinator.pause_operation("thumbnail");
        let held = tokengate::spawn("thumbnail", || 1);
        let other = tokengate::spawn("resize", || 2);
        assert_eq!(value(other), 2);
        assert_eq!(held.state(), TokenState::Waiting);
        coordinator.resume_operation("thumbnail");
        assert_eq!(value(held), 1);
        assert_eq!(
            coordinator
                .stats()
                .op("thumbnail")
                .unwrap()
                .counts
                .completed,
            2
        );
    });
}

#[test]
fn task_storage_speed_runs_on_an_io_thread_within_the_tier() {
    with_coordinator(
        builder("task-storage").storage_cap(StorageSpeed::Slow, 2),
        |coordinator| {
            let task = Task::new("io_read").storage_speed(StorageSpeed::Slow);
            let inside = Arc::new(AtomicUsize::new(0));
            let max = Arc::new(AtomicUsize::new(0));
            let tokens: Vec<TaskToken<bool>> = (0..8)
                .map(|_| {
                    let (inside, max) = (inside.clone(), max.clone());
                    task.spawn(move || {
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(3));
                        inside.fetch_sub(1, Ordering::SeqCst);
                        // IO calls run on IO threads, not on CPU workers.
                        current_worker().is_none()
                    })
                })
                .collect();
            assert!(tokens.into_iter().all(value));
            assert!(max.load(Ordering::SeqCst) <= 2);
            let stats = coordinator.stats();
            assert_eq!(
                stats.storage(StorageSpeed::Slow).high_water,
                max.load(Ordering::SeqCst)
            );
        },
    );
}

fn settle_task<K: Hash>(key: &K) -> Task {
    Task::new("settle").sticky("accounts", key)
}

#[test]
fn task_sticky_keys_serialise_calls_of_one_key_in_order() {
    with_coordinator(
        builder("task-sticky").core_groups(2).workers_per_core(2),
        |_| {
            let log = Log::new();
            let busy: Arc<[AtomicBool; 4]> = Arc::new(Default::default());
            let tokens: Vec<TaskToken<()>> = (0..200u64)
                .map(|i| {
                    let account = i % 4;
                    let (log, busy) = (log.clone(), busy.clone());
                    settle_task(&account).spawn(move || {
                        let flag = &busy[account as usize];
                        assert!(
                            !flag.swap(true, Ordering::SeqCst),
                            "two calls of one account overlap"
                        );
                        std::thread::yield_now();
                        log.push((account, i));
                        flag.store(false, Ordering::SeqCst);
                    })
                })
                .collect();
            for token in tokens {
                value(token);
            }
            for account in 0..4 {
                let seen: Vec<u64> = log
                    .items()
                    .into_iter()
                    .filter(|(a, _)| *a == account)
                    .map(|(_, i)| i)
                    .collect();
                let expected: Vec<u64> = (0..200).filter(|i| i % 4 == account).collect();
                assert_eq!(seen, expected, "account {account} out of order");
            }
        },
    );
}
