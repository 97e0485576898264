//! The dashboard over a running workload: `cargo run --release --example
//! dashboard -- --seconds 60`, then open the URL it prints.
//!
//! The workload: the mixed `cpu_ops` batches of `mixed_workload` (the
//! original's 8 operations, batches of 10-20 with short sleeps between), plus
//! - `flaky_fetch`, which panics on one call in five (its health shows
//!   degraded; auto-block is on, so a worse failure rate would block it);
//! - `slow_report`, a heavy call of 1-4 s that checks for kills: kill one
//!   from the live-calls table, or pause the op and watch its calls wait;
//! - `read_blob`, IO calls on the `SLOW` storage tier through the named limit
//!   `blob_store` (cap 4): lower or raise the caps in the editor.
//!
//! It ends by itself after `--seconds N` (default 300); `--port P` picks the
//! port (default: a free one).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use tokengate::{AutoBlock, Cancelled, Handle, OperationsCoordinator, TaskToken, task_token_guard};
use tokengate_dashboard::{Config, serve};
use tokengate_examples::{
    SplitMix64, complex_operation, fibonacci_operation, heavy_operation, moderate_operation,
    prime_operation, simple_operation, string_operation, trivial_operation,
};

/// The start of `flaky_fetch`'s panic messages, kept out of the terminal.
const FLAKY: &str = "flaky_fetch: upstream answered 503";

/// Fails one call in five, like a dependency having a bad day.
#[task_token_guard(op = "flaky_fetch", weight = "light")]
fn flaky_fetch(draw: u64) -> u64 {
    if draw % 5 == 0 {
        panic!("{FLAKY} (request {draw})");
    }
    thread::sleep(Duration::from_millis(2 + draw % 8));
    draw * 2
}

/// A report that takes `millis`, checking every 20 ms whether it was killed.
#[task_token_guard(op = "slow_report", weight = "heavy")]
fn slow_report(millis: u64) -> Result<u64, Cancelled> {
    let mut done = 0;
    while done < millis {
        tokengate::checkpoint()?;
        thread::sleep(Duration::from_millis(20));
        done += 20;
    }
    Ok(done)
}

/// A read from slow storage, at most 4 at once (`blob_store`).
#[task_token_guard(op = "read_blob", storage_speed = "SLOW", limit = "blob_store")]
fn read_blob(millis: u64) -> u64 {
    thread::sleep(Duration::from_millis(millis));
    millis
}

fn arg(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    let value = args.iter().position(|a| a == name)?;
    let value = args
        .get(value + 1)
        .unwrap_or_else(|| panic!("{name} takes a number"));
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name} takes a number, not `{value}`")),
    )
}

/// Runs `body` on a thread bound to the coordinator, in a loop, until `stop`.
fn workload(
    handle: &Handle,
    stop: &Arc<AtomicBool>,
    seed: u64,
    body: fn(&mut SplitMix64),
) -> thread::JoinHandle<()> {
    let (handle, stop) = (handle.clone(), stop.clone());
    thread::spawn(move || {
        let _bound = handle.enter();
        let mut rng = SplitMix64::new(seed);
        while !stop.load(Ordering::Relaxed) {
            body(&mut rng);
        }
    })
}

/// One batch of the mixed CPU workload.
fn mixed_batch(rng: &mut SplitMix64) {
    let size = rng.range_inclusive(10, 20);
    let batch: Vec<Pending> = (0..size)
        .map(|_| match rng.range_inclusive(0, 7) {
            0 => pending(trivial_operation(rng.range_inclusive(1, 100))),
            1 => pending(simple_operation(rng.range_inclusive(100, 500))),
            2 => pending(moderate_operation(rng.range_inclusive(1_000, 8_000))),
            3 => pending(complex_operation(rng.range_inclusive(100, 600))),
            4 => pending(heavy_operation(rng.range_inclusive(500, 2_000))),
            5 => pending(fibonacci_operation(rng.range_inclusive(100, 300))),
            6 => pending(prime_operation(rng.range_inclusive(90, 140))),
            _ => pending(string_operation(rng.range_inclusive(10, 40))),
        })
        .collect();
    for wait in batch {
        wait();
    }
    thread::sleep(Duration::from_secs_f64(rng.uniform(0.01, 0.2)));
}

/// Waits for a token of any value type (one type for a mixed batch).
type Pending = Box<dyn FnOnce()>;

fn pending<T: Send + 'static>(token: TaskToken<T>) -> Pending {
    Box::new(move || {
        let _ = token.wait();
    })
}

fn flaky_and_blobs(rng: &mut SplitMix64) {
    let fetches: Vec<_> = (0..8).map(|_| flaky_fetch(rng.next_u64() % 1000)).collect();
    let reads: Vec<_> = (0..6)
        .map(|_| read_blob(rng.range_inclusive(20, 120)))
        .collect();
    for token in fetches {
        let _ = token.wait();
    }
    for token in reads {
        let _ = token.wait();
    }
    thread::sleep(Duration::from_millis(rng.range_inclusive(50, 250)));
}

fn slow_reports(rng: &mut SplitMix64) {
    let reports: Vec<_> = (0..2)
        .map(|_| slow_report(rng.range_inclusive(1_000, 4_000)))
        .collect();
    for token in reports {
        let _ = token.wait();
    }
}

#[tokio::main]
async fn main() {
    let seconds = arg("--seconds").unwrap_or(300);
    let port = arg("--port").unwrap_or(0);
    let port = u16::try_from(port).expect("--port takes a port number, 0-65535");

    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload().downcast_ref::<String>();
        if !message.is_some_and(|m| m.starts_with(FLAKY)) {
            default_hook(info);
        }
    }));

    let coordinator = OperationsCoordinator::builder()
        .limit("blob_store", 4)
        .auto_block(AutoBlock::new())
        .start()
        .expect("the coordinator starts");
    let dashboard = serve(coordinator.handle(), Config::new().port(port))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
    println!("tokengate dashboard: {}", dashboard.url());
    println!(
        "running the mixed workload with a flaky op and a slow op for {seconds} s \
         (--seconds N to change)"
    );

    let handle = coordinator.handle();
    let stop = Arc::new(AtomicBool::new(false));
    let threads = [
        workload(&handle, &stop, 42, mixed_batch),
        workload(&handle, &stop, 7, flaky_and_blobs),
        workload(&handle, &stop, 99, slow_reports),
    ];
    tokio::time::sleep(Duration::from_secs(seconds)).await;

    stop.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || {
        for thread in threads {
            thread.join().expect("a workload thread panicked");
        }
    })
    .await
    .expect("the workload threads end");
    dashboard.shutdown().await;
    println!("\n{}", coordinator.stats());
    coordinator.stop();
}
