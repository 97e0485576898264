//! Calls made with no coordinator running fail at once with
//! `is_no_coordinator()`, and the process default coordinator is the most
//! recently started one still running.
//!
//! The default coordinator is process-wide, so this binary has a single test
//! and checks "no coordinator" before starting any, and again after stopping
//! every one it started.

use std::time::Duration;

use tokengate::{OperationsCoordinator, Task, TokenState, Weight, task_token_guard};
use tokengate_tests::{builder, value};

#[task_token_guard(op = "lonely", weight = "heavy", timeout = "250ms")]
fn lonely(x: u32) -> u32 {
    x + 1
}

fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_owned()
}

fn assert_no_coordinator() {
    assert!(tokengate::Handle::try_current().is_none());
    let mut token = lonely(1);
    // Failed at birth: already finished, without any waiting.
    assert!(token.is_finished());
    assert_eq!(token.state(), TokenState::Killed);
    assert_eq!((token.op(), token.weight()), ("lonely", Weight::Heavy));
    assert!(!token.kill());
    let err = token
        .wait_timeout(Duration::ZERO)
        .expect("resolved at once")
        .unwrap_err();
    assert!(err.is_no_coordinator(), "{err}");
    assert!(!err.is_killed() && !err.is_shutdown());
    assert!(err.to_string().contains("no running coordinator"), "{err}");
    assert_eq!(err.kind(), tokengate::ErrorKind::NoCoordinator);
    assert_eq!(err.token_id(), token.id());

    let err = Task::new("closure").spawn(|| 1).wait().unwrap_err();
    assert!(err.is_no_coordinator());
    let err = tokengate::spawn("spawn", || 1).wait().unwrap_err();
    assert!(err.is_no_coordinator());
    let err = futures::executor::block_on(lonely(2)).unwrap_err();
    assert!(err.is_no_coordinator());
    let results = tokengate::map(lonely, 0..3);
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().unwrap_err().is_no_coordinator())
    );
    // The same from another thread.
    std::thread::spawn(|| assert!(lonely(3).wait().unwrap_err().is_no_coordinator()))
        .join()
        .unwrap();
}

#[test]
fn calls_without_a_running_coordinator_fail_at_once() {
    assert_no_coordinator();

    // The process default: calls with no `enter` go to the most recently
    // started coordinator that still runs.
    let first = builder("first")
        .core_groups(1)
        .workers_per_core(1)
        .start()
        .unwrap();
    assert_eq!(value(lonely(1)), 2);
    let second = builder("second")
        .core_groups(1)
        .workers_per_core(1)
        .start()
        .unwrap();
    let on = |name: &str| value(Task::new("where").spawn(thread_name)).starts_with(name);
    assert!(on("tg-second-"));
    // Also from a thread that never entered anything.
    assert!(std::thread::spawn(move || on("tg-second-")).join().unwrap());
    second.stop();
    assert!(
        on("tg-first-"),
        "after the newest stops, the older one is the default"
    );
    assert_eq!(first.stats().tokens.completed, 2);

    first.stop();
    assert_no_coordinator();

    // Dropping a coordinator stops it too.
    let dropped = OperationsCoordinator::builder()
        .core_groups(1)
        .workers_per_core(1)
        .start()
        .unwrap();
    assert_eq!(value(lonely(5)), 6);
    drop(dropped);
    assert_no_coordinator();
    let err = lonely(6).wait().unwrap_err();
    assert!(
        !err.to_string().contains("dropped"),
        "no coordinator was dropped unused yet: {err}"
    );

    // A coordinator dropped before any call reached it (`let _ = start()`):
    // the error says so, and how to keep it.
    let _ = OperationsCoordinator::builder()
        .core_groups(1)
        .workers_per_core(1)
        .start()
        .unwrap();
    let err = lonely(7).wait().unwrap_err();
    assert!(err.is_no_coordinator(), "{err}");
    assert!(
        err.to_string()
            .contains("a coordinator was started and dropped before any call reached it"),
        "{err}"
    );
}
