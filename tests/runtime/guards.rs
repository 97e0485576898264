//! Guards that act: auto-block (a circuit breaker per operation, with
//! probes), manual blocks, and load shedding by queue timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use tokengate::stats::HealthState;
use tokengate::{AutoBlock, ErrorKind, Task, TaskToken, TokenState, Weight};
use tokengate_tests::{
    Gate, builder, error, eventually, quiet_expected_panics, resolve, single_worker, value,
    with_coordinator,
};

/// A task that panics while `failing` is set.
fn switchable(op: &'static str, failing: &Arc<AtomicBool>) -> TaskToken<u8> {
    let failing = failing.clone();
    Task::new(op).weight(Weight::Light).spawn(move || {
        if failing.load(Ordering::SeqCst) {
            std::panic::panic_any(tokengate_tests::ExpectedPanic);
        }
        1
    })
}

fn rule() -> AutoBlock {
    AutoBlock::new()
        .failure_ratio(0.9)
        .min_calls(10)
        .window(Duration::from_secs(30))
        .cooldown(Duration::from_millis(150))
}

#[test]
fn an_op_failing_twenty_times_is_blocked_and_a_probe_reopens_it() {
    quiet_expected_panics();
    with_coordinator(builder("autoblock").auto_block(rule()), |c| {
        let failing = Arc::new(AtomicBool::new(true));
        for _ in 0..20 {
            let err = resolve(switchable("fragile", &failing)).unwrap_err();
            if err.is_blocked() {
                break;
            }
            assert!(err.is_panic(), "{err}");
        }
        assert_eq!(c.blocked_operations(), ["fragile"]);
        // Refused at once: the token is resolved when the call returns.
        let refused = switchable("fragile", &failing);
        assert!(refused.is_finished());
        let err = error(refused);
        assert_eq!(err.kind(), ErrorKind::Blocked);
        let message = err.to_string();
        for needle in [
            "`fragile`",
            "failed",
            "probed again in",
            "unblock_operation",
        ] {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        let health = c.stats().op("fragile").unwrap().health.clone();
        assert_eq!(health.state, HealthState::Blocked);
        assert!(
            health.window_failures >= 10 && health.last_failure.is_some(),
            "{health:?}"
        );

        // After the cooldown the next call is a probe; it succeeds and the op
        // is open again.
        failing.store(false, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(value(switchable("fragile", &failing)), 1);
        assert!(c.blocked_operations().is_empty());
        assert_eq!(value(switchable("fragile", &failing)), 1);
        assert_eq!(
            c.stats().op("fragile").unwrap().health.state,
            HealthState::Healthy
        );
    });
}

#[test]
fn a_failed_probe_blocks_the_op_again() {
    quiet_expected_panics();
    with_coordinator(builder("autoblock-probe").auto_block(rule()), |c| {
        let failing = Arc::new(AtomicBool::new(true));
        while !resolve(switchable("still_broken", &failing))
            .unwrap_err()
            .is_blocked()
        {}
        std::thread::sleep(Duration::from_millis(200));
        // The probe runs, and fails.
        assert!(
            resolve(switchable("still_broken", &failing))
                .unwrap_err()
                .is_panic()
        );
        let err = error(switchable("still_broken", &failing));
        assert!(err.is_blocked());
        assert!(err.to_string().contains("a probe call failed"), "{err}");
        assert_eq!(c.blocked_operations(), ["still_broken"]);
    });
}

#[test]
fn an_op_failing_half_the_time_stays_open() {
    quiet_expected_panics();
    with_coordinator(builder("autoblock-half").auto_block(rule()), |c| {
        let failing = Arc::new(AtomicBool::new(false));
        for i in 0..60 {
            failing.store(i % 2 == 0, Ordering::SeqCst);
            let result = resolve(switchable("coin_flip", &failing));
            assert!(
                result.as_ref().err().is_none_or(|e| e.is_panic()),
                "{result:?}"
            );
        }
        assert!(c.blocked_operations().is_empty());
        let health = c.stats().op("coin_flip").unwrap().health.clone();
        assert_eq!(health.state, HealthState::Degraded);
        assert_eq!((health.window_calls, health.window_failures), (60, 30));
    });
}

#[test]
fn slow_calls_trip_the_slow_call_rule() {
    let rule = AutoBlock::new()
        .failure_ratio(1.0)
        .min_calls(5)
        .cooldown(Duration::from_secs(3600))
        .slow_call(Duration::from_millis(5), 0.8);
    with_coordinator(builder("autoblock-slow").auto_block(rule), |c| {
        let slow = Task::new("sluggish");
        let mut outcomes = Vec::new();
        for _ in 0..6 {
            outcomes.push(resolve(
                slow.spawn(|| std::thread::sleep(Duration::from_millis(10))),
            ));
        }
        assert!(outcomes[..5].iter().all(Result::is_ok), "{outcomes:?}");
        let err = outcomes[5].as_ref().unwrap_err();
        assert!(err.is_blocked(), "{err}");
        assert!(err.to_string().contains("ran longer than"), "{err}");
        assert_eq!(c.blocked_operations(), ["sluggish"]);
    });
}

#[test]
fn a_manual_block_refuses_new_calls_and_keeps_queued_ones() {
    with_coordinator(single_worker("manual-block"), |c| {
        let gate = Gate::new();
        let blocker = {
            let gate = gate.clone();
            Task::new("blocker").spawn(move || gate.wait())
        };
        eventually("the worker is busy", || {
            blocker.state() == TokenState::Executing
        });
        let queued = Task::new("export").spawn(|| 5);
        c.block_operation("export");
        assert!(error(Task::new("export").spawn(|| 6)).is_blocked());
        assert_eq!(c.blocked_operations(), ["export"]);
        // Queued before the block: it stays queued, and runs.
        gate.open();
        assert!(value(blocker));
        assert_eq!(value(queued), 5);
        assert!(c.unblock_operation("export"));
        assert!(!c.unblock_operation("export"));
        assert_eq!(value(Task::new("export").spawn(|| 7)), 7);
        // A manual block needs no auto-block rule, and names the fix.
        c.block_operation("never_called");
        let err = error(Task::new("never_called").spawn(|| ()));
        assert!(err.to_string().contains("unblock_operation"), "{err}");
    });
}

#[test]
fn a_call_past_its_queue_timeout_is_shed_without_running() {
    with_coordinator(single_worker("shed"), |c| {
        let gate = Gate::new();
        let blocker = {
            let gate = gate.clone();
            Task::new("busy").spawn(move || gate.wait())
        };
        eventually("the worker is busy", || {
            blocker.state() == TokenState::Executing
        });
        let ran = Arc::new(AtomicBool::new(false));
        let shed = {
            let ran = ran.clone();
            Task::new("request")
                .queue_timeout(Duration::from_millis(30))
                .spawn(move || ran.store(true, Ordering::SeqCst))
        };
        // Expired while the worker is still busy: the timer shed it.
        let err = error(shed);
        assert_eq!(err.kind(), ErrorKind::Expired);
        assert!(err.to_string().contains("queue timeout of 30"), "{err}");
        assert_eq!(blocker.state(), TokenState::Executing);
        gate.open();
        assert!(value(blocker));
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!(c.stats().op("request").unwrap().expired, 1);
    });
}

#[test]
fn max_queue_wait_is_the_default_and_a_started_call_is_never_shed() {
    let builder = single_worker("shed-default").max_queue_wait(Duration::from_millis(20));
    with_coordinator(builder, |c| {
        let gate = Gate::new();
        let runs = Arc::new(AtomicU32::new(0));
        let long = {
            let (gate, runs) = (gate.clone(), runs.clone());
            Task::new("long").spawn(move || {
                runs.fetch_add(1, Ordering::SeqCst);
                gate.wait()
            })
        };
        eventually("it started", || runs.load(Ordering::SeqCst) == 1);
        let queued = Task::new("queued").spawn(|| 1);
        assert!(error(queued).is_expired());
        // The running call outlives the queue wait: it is not touched.
        std::thread::sleep(Duration::from_millis(40));
        gate.open();
        assert!(value(long));
        assert_eq!(c.stats().op("queued").unwrap().expired, 1);
    });
}

#[test]
fn auto_block_settings_are_checked_at_start() {
    let err = builder("autoblock-bad")
        .auto_block(AutoBlock::new().failure_ratio(1.5))
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("failure_ratio"), "{err}");
}
