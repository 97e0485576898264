//! The tokengate quickstart: a plain sync fn becomes a concurrent, awaitable call.
//!
//! Shows, in order:
//! 1. `#[task_token_guard]` on a sync fn; 1,000 calls return tokens at once,
//!    `join_all` awaits them (168 primes below 1,000), with timings and stats;
//! 2. a kill, a timeout and a panic, each resolving to an error, nothing hanging
//!    (the coordinator's panic handler reports the panic in one line, instead
//!    of the default hook's message and backtrace note on stderr);
//! 3. the same from sync code, where `.wait()` blocks instead of awaiting.
//!
//! Run it with `cargo run --release --example quickstart`.

use std::time::{Duration, Instant};

use tokengate::{OperationsCoordinator, task_token_guard};

/// Trial division; the attribute makes every call return a `TaskToken<bool>`.
#[task_token_guard(op = "prime_check", weight = "medium")]
fn prime_operation(n: u64) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}

/// Runs until killed; checks for cancellation now and then, as long calls should.
#[task_token_guard(op = "long_job", weight = "heavy")]
fn long_job() -> u32 {
    let mut rounds = 0;
    while !tokengate::is_cancelled() {
        std::thread::sleep(Duration::from_millis(1));
        rounds += 1;
    }
    rounds
}

/// Takes longer than its 50 ms budget.
#[task_token_guard(op = "slow_call", weight = "light", timeout = "50ms")]
fn slow_call() -> &'static str {
    std::thread::sleep(Duration::from_millis(200));
    "too late"
}

/// Panics on 13. The panic is caught on the worker, which lives on.
#[task_token_guard(op = "faulty", weight = "light")]
fn faulty(x: u32) -> u32 {
    if x == 13 {
        panic!("unlucky number {x}");
    }
    x
}

#[tokio::main]
async fn main() {
    let coordinator = OperationsCoordinator::builder()
        .panic_handler(|report| println!("  (panic handler) {report}"))
        .start()
        .expect("a coordinator starts");
    println!(
        "coordinator: {} core groups, {} workers",
        coordinator.core_groups(),
        coordinator.worker_count()
    );

    // 1. A thousand calls: each returns its token at once; the work runs on workers.
    let start = Instant::now();
    let tokens: Vec<_> = (0..1_000).map(prime_operation).collect();
    let submitted = start.elapsed();
    let results = futures::future::join_all(tokens).await;
    let total = start.elapsed();
    let primes = results
        .into_iter()
        .map(Result::unwrap)
        .filter(|&p| p)
        .count();
    assert_eq!(primes, 168);
    println!("\n1,000 tokens: {primes} primes below 1,000");
    println!("  submitted in {submitted:?}, all resolved after {total:?}");

    // 2. Failures resolve too, as errors.
    println!("\nwhen things go wrong:");
    let job = long_job();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(job.kill());
    let err = job.await.unwrap_err();
    assert!(err.is_killed());
    println!("  kill:    {err}");

    let err = slow_call().await.unwrap_err();
    assert!(err.is_timeout());
    println!("  timeout: {err}");

    let err = faulty(13).await.unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("unlucky number 13"));
    println!("  panic:   {err}");
    assert_eq!(faulty(14).await.unwrap(), 14);
    println!("  ...and the worker that caught the panic still serves calls");

    // 3. From sync code, `.wait()` blocks the calling thread instead.
    //    (Here, a blocking thread of tokio; in a plain `fn main`, just call it.)
    tokio::task::spawn_blocking(sync_code).await.unwrap();

    println!("\ncoordinator.stats():\n{}", coordinator.stats());
    let stats = coordinator.stats();
    assert_eq!(stats.tokens.in_flight(), 0);
    assert_eq!(stats.tokens.failed, 2); // the two panics of faulty(13)
    coordinator.stop();
}

/// The same calls, from code that has no executor.
fn sync_code() {
    println!("\nfrom sync code:");
    let start = Instant::now();
    let tokens: Vec<_> = (0..1_000).map(prime_operation).collect();
    let primes = tokens
        .into_iter()
        .map(|t| t.wait().unwrap())
        .filter(|&p| p)
        .count();
    assert_eq!(primes, 168);
    println!(
        "  1,000 tokens .wait()ed: {primes} primes in {:?}",
        start.elapsed()
    );

    let job = long_job();
    std::thread::sleep(Duration::from_millis(20));
    job.kill();
    assert!(job.wait().unwrap_err().is_killed());
    assert!(slow_call().wait().unwrap_err().is_timeout());
    assert!(faulty(13).wait().unwrap_err().is_panic());
    println!("  kill, timeout and panic resolve the same way with .wait()");
}
