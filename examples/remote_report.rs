//! Remote calls measured through the attribute, beside the local process
//! pool, in one run on this machine:
//!
//! - sequential round trips: one call at a time, waited for;
//! - throughput: 20,000 no-op calls with 1,000 in flight, through one and two
//!   worker processes;
//! - the redelivery delay: a worker process is killed (`kill -9`) while it
//!   runs a call, and another one finishes it once the broker's `ack_wait`
//!   passed without a sign of life.
//!
//! ```sh
//! cargo run --release --example remote_report
//! ```
//!
//! Caller, broker and worker processes share this machine's CPUs, so the
//! throughput says more about the per-call CPU cost of each path than about
//! what separate hosts reach. Worker processes are this executable started
//! again in worker mode (`remote_cluster.rs`).

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokengate::{CoordinatorBuilder, OperationsCoordinator, task_token_guard};
use tokengate_remote::Remote;

#[path = "remote_cluster.rs"]
mod cluster;

use cluster::WorkerProcess;

/// Calls per round-trip measurement, after as many warm-up calls.
const ROUND_TRIPS: usize = 2_000;
/// Calls per throughput measurement, and how many are in flight.
const CALLS: usize = 20_000;
const WINDOW: usize = 1_000;
/// Slots of each worker process in the throughput runs.
const SLOTS: usize = 64;
/// The failover time of every pool (callers and workers share it): short, for
/// the redelivery measurement; the others run no call long enough to notice.
const ACK_WAIT: Duration = Duration::from_secs(1);

/// A no-op: returns its argument.
#[task_token_guard(op = "remote_report_echo", remote = true)]
fn echo(n: u64) -> u64 {
    n
}

/// Notes when and where it starts in `log`, then runs `ms` milliseconds
/// (less if cancelled). Returns the process that ran it.
#[task_token_guard(op = "remote_report_long", remote = "failover")]
fn long(log: String, ms: u64) -> u32 {
    let line = format!("{} {}\n", std::process::id(), now_nanos());
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
    {
        let _ = file.write_all(line.as_bytes());
    }
    let until = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < until && !tokengate::is_cancelled() {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::process::id()
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn main() {
    cluster::serve_if_worker();

    let (url, _server) = cluster::broker();
    println!("broker: {url} (file storage); {} CPUs", num_cpus());

    // Sequential round trips.
    let local = local_pool();
    let process = round_trips(&local);
    local.stop();
    let worker = WorkerProcess::start(&url, "default", 4, ACK_WAIT);
    let remote = remote_caller(&url);
    let broker = round_trips(&remote);
    remote.stop();
    drop(worker);
    println!("sequential round trip, {ROUND_TRIPS} calls of a no-op with a u64:");
    println!("  local process pool   {process}");
    println!("  remote, 1 worker     {broker}");

    // Throughput with 1,000 in flight.
    println!("throughput, {CALLS} no-op calls, {WINDOW} in flight:");
    let local = local_pool();
    let rate = throughput(&local);
    println!(
        "  local process pool ({} processes)   {rate:>7.0} calls/s",
        local.stats().processes.size
    );
    local.stop();
    for workers in [1, 2] {
        let hosts: Vec<_> = (0..workers)
            .map(|_| WorkerProcess::start(&url, "default", SLOTS, ACK_WAIT))
            .collect();
        let remote = remote_caller(&url);
        let rate = throughput(&remote);
        let stats = remote.stats().remote.expect("a backend");
        println!(
            "  remote, {workers} worker(s) x {SLOTS} slots       {rate:>7.0} calls/s \
             ({} redelivered, {} duplicates dropped)",
            stats.redelivered, stats.duplicates_dropped
        );
        remote.stop();
        drop(hosts);
    }

    redelivery(&url);
}

/// A coordinator without a backend: `remote` calls run in its process pool.
fn local_pool() -> OperationsCoordinator {
    builder().start().expect("the coordinator starts")
}

/// A coordinator whose `remote` calls go through the broker.
fn remote_caller(url: &str) -> OperationsCoordinator {
    builder()
        .remote(Remote::nats(url).ack_wait(ACK_WAIT).max_in_flight(WINDOW))
        .start()
        .expect("the coordinator connects")
}

fn builder() -> CoordinatorBuilder {
    OperationsCoordinator::builder().thread_name("report")
}

/// `ROUND_TRIPS` calls, one at a time, on `coordinator`; their percentiles.
fn round_trips(coordinator: &OperationsCoordinator) -> String {
    coordinator.run(|| {
        for n in 0..ROUND_TRIPS as u64 {
            assert_eq!(echo(n).wait().unwrap(), n);
        }
        let mut samples: Vec<Duration> = (0..ROUND_TRIPS as u64)
            .map(|n| {
                let started = Instant::now();
                assert_eq!(echo(n).wait().unwrap(), n);
                started.elapsed()
            })
            .collect();
        samples.sort();
        let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
        format!(
            "p50 {:>6.0} µs   p95 {:>6.0} µs   p99 {:>6.0} µs",
            micros(at(0.50)),
            micros(at(0.95)),
            micros(at(0.99))
        )
    })
}

/// `CALLS` calls made at once on `coordinator` (a backend keeps `WINDOW` of
/// them in flight); calls per second.
fn throughput(coordinator: &OperationsCoordinator) -> f64 {
    coordinator.run(|| {
        let started = Instant::now();
        let tokens: Vec<_> = (0..CALLS as u64).map(echo).collect();
        for (n, token) in tokens.into_iter().enumerate() {
            assert_eq!(token.wait().unwrap(), n as u64);
        }
        CALLS as f64 / started.elapsed().as_secs_f64()
    })
}

/// A worker process is killed while it runs a call; a second one, already
/// serving, finishes it once `ACK_WAIT` passed. Three rounds, killing later
/// into the call each time.
fn redelivery(url: &str) {
    println!(
        "redelivery after kill -9 of the worker process running a 2 s call (ack_wait {} ms, \
         progress acks every {} ms):",
        ACK_WAIT.as_millis(),
        (ACK_WAIT / 3).as_millis()
    );
    let remote = remote_caller(url);
    for round in 0..3_u32 {
        let log = scratch_log(round);
        let mut victim = WorkerProcess::start(url, "failover", 1, ACK_WAIT);
        let token = remote.run(|| long(log.display().to_string(), 2_000));
        let started = wait_for_start(&log, 1);
        let survivor = WorkerProcess::start(url, "failover", 1, ACK_WAIT);
        std::thread::sleep(Duration::from_millis(400) * round);
        let killed = Instant::now();
        let killed_at = now_nanos();
        victim.kill();
        let pid = token.wait().expect("the call completes elsewhere");
        let resolved = killed.elapsed();
        let restarted = wait_for_start(&log, 2);
        assert_eq!(started.0, victim.pid());
        assert_eq!((pid, restarted.0), (survivor.pid(), survivor.pid()));
        let restart_ms = (restarted.1.saturating_sub(killed_at)) as f64 / 1e6;
        println!(
            "  killed {:>4.0} ms into the call: restarted on the other worker after \
             {restart_ms:>5.0} ms, value back after {:>5.0} ms",
            started_to_kill_ms(started.1, killed_at),
            millis(resolved)
        );
        let _ = std::fs::remove_file(&log);
    }
    let stats = remote.stats().remote.expect("a backend");
    println!(
        "  {} of 3 values came from a redelivery; {} duplicates dropped",
        stats.redelivered, stats.duplicates_dropped
    );
    remote.stop();
}

fn started_to_kill_ms(started: u128, killed: u128) -> f64 {
    killed.saturating_sub(started) as f64 / 1e6
}

/// Waits until `log` has `count` lines; the last one's pid and time.
fn wait_for_start(log: &PathBuf, count: usize) -> (u32, u128) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        if lines.len() >= count {
            let (pid, at) = lines[count - 1].split_once(' ').expect("`pid nanos`");
            return (pid.parse().expect("a pid"), at.parse().expect("nanos"));
        }
        assert!(Instant::now() < deadline, "the call did not start");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn scratch_log(round: u32) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "tokengate-remote-report-{}-{round}",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
