//! Guards that act: retries that reach the caller, auto-block of a failing
//! operation, load shedding, and a memory limit for a worker process.
//!
//! 1. `retries = 3`: a flaky fn panics on its first two attempts; the
//!    caller's one token resolves with the third attempt's value, and
//!    `attempts()` says 3. `retry_on = ["err"]` does the same for an `Err`.
//! 2. `CoordinatorBuilder::auto_block`: an op that keeps failing trips its
//!    circuit breaker; new calls of it fail at once (`is_blocked()`) without
//!    running, until the cooldown lets a probe through, whose success
//!    closes the breaker again.
//! 3. `queue_timeout = "20ms"`: calls that could not start within 20 ms of
//!    being made resolve expired without running, instead of piling up
//!    behind a slow one.
//! 4. `memory_limit = "64MiB"` on a `process_pool` fn (Linux): a call that
//!    allocates past it fails naming the limit; the next call runs on a
//!    fresh worker process.
//!
//! Run it with `cargo run --release --example guards`.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokengate::{AutoBlock, OperationsCoordinator, TaskError, TaskToken, task_token_guard};

static FLAKY_CALLS: AtomicU32 = AtomicU32::new(0);

/// Fails its first two attempts, then answers.
#[task_token_guard(op = "flaky", weight = "light", retries = 3, retry_backoff = "5ms")]
fn flaky(x: u32) -> u32 {
    if FLAKY_CALLS.fetch_add(1, Ordering::SeqCst) < 2 {
        panic!("connection reset");
    }
    x * 2
}

static SHAKY_CALLS: AtomicU32 = AtomicU32::new(0);

/// Returns `Err` once, then `Ok`: `retry_on = ["err"]` retries the value.
#[task_token_guard(op = "shaky", weight = "light", retries = 2, retry_on = ["err"])]
fn shaky() -> Result<&'static str, String> {
    match SHAKY_CALLS.fetch_add(1, Ordering::SeqCst) {
        0 => Err("busy, try again".to_string()),
        _ => Ok("done"),
    }
}

/// Whether the downstream service `lookup` calls is up.
static SERVICE_UP: AtomicBool = AtomicBool::new(false);

/// Fails while its service is down.
#[task_token_guard(op = "lookup", weight = "light")]
fn lookup(id: u32) -> u32 {
    assert!(SERVICE_UP.load(Ordering::SeqCst), "service unavailable");
    id + 1000
}

/// Holds the single worker for a while.
#[task_token_guard(op = "report", weight = "light")]
fn report() {
    std::thread::sleep(Duration::from_millis(150));
}

/// A call that is only worth running soon after it was made.
#[task_token_guard(op = "quote", weight = "light", queue_timeout = "20ms")]
fn quote(n: u32) -> u32 {
    n
}

/// Allocates `mib` MiB (and touches it) in a worker process held to 64 MiB.
#[task_token_guard(op = "render", process_pool = true, memory_limit = "64MiB")]
fn render(mib: usize) -> usize {
    let buffer = vec![1u8; mib << 20];
    buffer.iter().step_by(4096).map(|&b| usize::from(b)).sum()
}

/// Waits for a token without consuming it, so `attempts()` can be read after.
fn finish<T>(token: &mut TaskToken<T>) -> Result<T, TaskError> {
    loop {
        if let Some(result) = token.wait_timeout(Duration::from_millis(10)) {
            return result;
        }
    }
}

fn main() {
    let cooldown = Duration::from_millis(300);
    let coordinator = OperationsCoordinator::builder()
        .core_groups(1)
        .workers_per_core(1)
        .auto_block(
            AutoBlock::new()
                .failure_ratio(0.8)
                .min_calls(5)
                .window(Duration::from_secs(10))
                .cooldown(cooldown),
        )
        // The expected panics are counted in stats; keep stderr quiet.
        .panic_handler(|_| {})
        .start()
        .expect("a coordinator starts");

    println!("1. retries reach the caller");
    let mut token = flaky(21);
    let value = finish(&mut token).expect("the third attempt succeeds");
    println!(
        "  flaky(21) = {value} after {} attempts (2 panics retried)",
        token.attempts()
    );
    assert_eq!((value, token.attempts()), (42, 3));
    let mut token = shaky();
    let value = finish(&mut token).expect("shaky has no panics");
    println!(
        "  shaky() = {value:?} after {} attempts (an Err retried)",
        token.attempts()
    );
    assert_eq!(value, Ok("done"));
    assert_eq!(token.attempts(), 2);

    println!("\n2. auto-block: a failing op trips its breaker");
    for id in 0..5 {
        let err = lookup(id).wait().unwrap_err();
        assert!(err.is_panic());
    }
    let err = lookup(5).wait().unwrap_err();
    assert!(err.is_blocked(), "{err}");
    println!("  after 5 failures: {err}");
    let health = coordinator.stats().op("lookup").unwrap().health.clone();
    println!(
        "  health: {} ({} of {} failed in the window)",
        health.state, health.window_failures, health.window_calls
    );
    SERVICE_UP.store(true, Ordering::SeqCst);
    std::thread::sleep(cooldown + Duration::from_millis(50));
    let value = lookup(6).wait().expect("the probe succeeds");
    println!("  service back; after the cooldown a probe ran ({value}) and closed the breaker");
    assert_eq!(lookup(7).wait().unwrap(), 1007);
    let health = coordinator.stats().op("lookup").unwrap().health.clone();
    println!("  health: {}", health.state);

    println!("\n3. shedding: calls that waited too long never run");
    let slow = report();
    let start = Instant::now();
    let quotes: Vec<_> = (0..10).map(quote).collect();
    let expired = quotes
        .into_iter()
        .map(|t| t.wait())
        .filter(|r| r.as_ref().is_err_and(|e| e.is_expired()))
        .count();
    slow.wait().unwrap();
    println!(
        "  10 quotes behind a 150 ms report on the one worker: {expired} expired after 20 ms \
         (resolved in {:?})",
        start.elapsed()
    );
    assert_eq!(expired, 10);
    println!(
        "  stats: {} expired",
        coordinator.stats().op("quote").unwrap().expired
    );

    if cfg!(target_os = "linux") {
        println!("\n4. a memory limit for a worker process");
        let err = render(256).wait().unwrap_err();
        assert!(err.is_memory_limit(), "{err}");
        println!("  render(256 MiB): {err}");
        let touched = render(8).wait().expect("a fresh worker runs it");
        println!("  render(8 MiB) on a fresh worker: {touched} pages touched");
    }

    println!("\n{}", coordinator.stats());
    coordinator.stop();
}
