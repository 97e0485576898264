//! Structured concurrency with `TokenGroup`: five cooks share one kitchen;
//! one drops a plate after 2 s, and everyone else stops.
//!
//! The asyncio material's second exercise ("spawn 5 tasks where one raises
//! after 2 s; verify siblings are cancelled"): four siblings work in steps,
//! checking `tokengate::is_cancelled()` between steps, as long calls should;
//! the fifth panics. The group's join returns a `GroupError` naming the
//! failure and how many siblings it cancelled, and each sibling reports where
//! the cancellation found it. Dropping the group instead of joining it would
//! have killed them the same way.
//!
//! Run it with `cargo run --example task_group` (about 2 s).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokengate::{OperationsCoordinator, TokenGroup, task_token_guard};

/// What each sibling saw, for the report at the end.
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Cooks in 50 ms steps until it is done (never, here) or cancelled.
#[task_token_guard(op = "cook", weight = "light")]
fn cook(name: &'static str, steps: u32) -> String {
    let started = Instant::now();
    for step in 1..=steps {
        if tokengate::is_cancelled() {
            LOG.lock().unwrap().push(format!(
                "{name:<8} cancelled at step {step} after {:.2?}",
                started.elapsed()
            ));
            return format!("{name} stopped");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    format!("{name} served")
}

/// Drops the plate after `after`.
#[task_token_guard(op = "clumsy_cook", weight = "light")]
fn clumsy_cook(after: Duration) -> String {
    std::thread::sleep(after);
    panic!("dropped the plate")
}

fn main() {
    let coordinator = OperationsCoordinator::builder()
        // Five calls at once on any machine.
        .core_groups(1)
        .workers_per_core(5)
        .panic_handler(|report| println!("(panic handler) {report}"))
        .start()
        .expect("the coordinator starts");

    let started = Instant::now();
    let mut kitchen = TokenGroup::new();
    let mut names = Vec::new();
    for name in ["alice", "bob", "carol", "dave"] {
        // 10 minutes of work each, if nobody stopped them.
        let id = kitchen.add(cook(name, 12_000));
        names.push((id, name));
    }
    let clumsy = kitchen.add(clumsy_cook(Duration::from_secs(2)));
    println!("5 cooks started; member {clumsy} will drop a plate after 2 s");

    let err = kitchen.wait().expect_err("one cook fails");
    println!("\nthe group failed after {:.2?}: {err}", started.elapsed());
    let (failed, first) = err.first().expect("a failure");
    assert_eq!(failed, clumsy);
    assert_eq!(first.panic_message(), Some("dropped the plate"));
    assert_eq!(err.cancelled(), 4, "every sibling was cancelled");
    println!("cancelled siblings: {}", err.cancelled());

    // The bodies notice within one step; wait for their reports.
    while LOG.lock().unwrap().len() < names.len() {
        std::thread::sleep(Duration::from_millis(5));
    }
    for line in LOG.lock().unwrap().iter() {
        println!("  {line}");
    }
    let stats = coordinator.stats();
    println!(
        "\ncoordinator: {} killed, {} failed",
        stats.tokens.killed, stats.tokens.failed
    );
    coordinator.stop();
}
