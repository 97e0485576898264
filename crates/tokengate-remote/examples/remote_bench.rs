//! Measures remote calls on loopback against a private `nats-server`:
//! sequential round trips, throughput with 1,000 jobs in flight and one or
//! two workers, and how long a job waits for its redelivery after its
//! worker is killed.
//!
//! ```sh
//! cargo run --release -p tokengate-remote --example remote_bench
//! ```
//!
//! Caller, workers and server share this machine's CPUs, so throughput says
//! more about the per-job CPU cost than about what separate hosts reach.
//! The killed worker is this executable itself, started again in worker
//! mode (`TG_REMOTE_BENCH_WORKER`) and killed by pid.

#[path = "../tests/remote/server.rs"]
#[expect(dead_code, reason = "the benchmark never stops or restarts its server")]
mod server;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokengate_remote::{Caller, CallerConfig, Job, Outcome, Worker, WorkerConfig};

use server::NatsServer;

/// Set in a child started as a worker process: the broker's URL.
const WORKER_ENV: &str = "TG_REMOTE_BENCH_WORKER";

/// The failover time of every pool (the callers and workers share it), short
/// for the redelivery measurement.
const ACK_WAIT: Duration = Duration::from_secs(1);

/// The pool of the redelivery measurement: its own consumers, created with
/// [`ACK_WAIT`] (a consumer keeps the settings it was created with).
const FAILOVER_POOL: &str = "failover";

fn main() {
    if let Ok(url) = std::env::var(WORKER_ENV) {
        serve_as_worker_process(&url);
    }
    let server = NatsServer::start();
    println!("nats-server on {} (file storage)", server.url());
    round_trips(&server);
    for workers in [1, 2] {
        throughput(&server, workers, 20_000, 1_000);
    }
    redelivery(&server);
}

/// A no-op executor: returns its arguments.
fn echo_worker(server: &NatsServer, slots: usize) -> Worker {
    Worker::start(
        WorkerConfig::new(server.url(), |_, args, _| Ok(args.to_vec()))
            .ack_wait(ACK_WAIT)
            .slots(slots),
    )
    .expect("the worker starts")
}

fn caller(server: &NatsServer) -> Caller {
    Caller::connect(
        CallerConfig::new(server.url())
            .ack_wait(ACK_WAIT)
            .max_in_flight(1_000),
    )
    .expect("the caller connects")
}

/// One call at a time: submit, wait for the outcome, repeat.
fn round_trips(server: &NatsServer) {
    let worker = echo_worker(server, 1);
    let caller = caller(server);
    let (tx, rx) = mpsc::channel();
    let call = || {
        let started = Instant::now();
        let permit = caller.try_reserve().expect("an empty window");
        let tx = tx.clone();
        let job = Job::new(caller.next_job_id(), "echo", vec![7; 16]);
        caller.submit(
            permit,
            job,
            Box::new(move |outcome| tx.send(outcome).unwrap()),
        );
        let outcome = rx.recv().unwrap();
        assert!(matches!(outcome, Outcome::Value(_)), "{outcome:?}");
        started.elapsed()
    };
    for _ in 0..200 {
        call();
    }
    let mut samples: Vec<Duration> = (0..2_000).map(|_| call()).collect();
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "sequential round trip, 2,000 calls (16-byte argument): p50 {:.0} µs, p95 {:.0} µs, \
         p99 {:.0} µs",
        micros(at(0.50)),
        micros(at(0.95)),
        micros(at(0.99))
    );
    drop(caller);
    worker.stop();
}

/// `total` no-op jobs with `window` kept in flight, through `workers`
/// workers of 64 slots each.
fn throughput(server: &NatsServer, workers: usize, total: usize, window: usize) {
    let pool: Vec<Worker> = (0..workers).map(|_| echo_worker(server, 64)).collect();
    let caller = caller(server);
    let (tx, rx) = mpsc::channel::<bool>();
    let started = Instant::now();
    for _ in 0..total {
        let permit = caller
            .reserve_timeout(Duration::from_secs(60))
            .expect("room within a minute");
        let tx = tx.clone();
        let job = Job::new(caller.next_job_id(), "echo", vec![1, 2, 3, 4]);
        caller.submit(
            permit,
            job,
            Box::new(move |outcome| {
                let _ = tx.send(matches!(outcome, Outcome::Value(_)));
            }),
        );
    }
    let ok = (0..total).filter(|_| rx.recv().unwrap()).count();
    let elapsed = started.elapsed();
    assert_eq!(ok, total, "every job returned its value");
    let stats = caller.stats();
    println!(
        "throughput, {total} no-op jobs, {window} in flight, {workers} worker(s) x 64 slots: \
         {:.0} jobs/s ({:.2} s; {} redelivered, {} duplicates dropped)",
        total as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        stats.redelivered,
        stats.duplicates_dropped,
    );
    drop(caller);
    for worker in pool {
        worker.stop();
    }
}

/// A job's worker is killed (`kill -9`) while it runs; another worker takes
/// it once the broker's `ack_wait` has passed without a sign of life.
fn redelivery(server: &NatsServer) {
    let caller = caller(server);
    let mut delays = Vec::new();
    for round in 0..3_u32 {
        let mut child = Command::new(std::env::current_exe().expect("this executable"))
            .env(WORKER_ENV, server.url())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the worker process starts");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("ready"));
        let (tx, rx) = mpsc::channel();
        let permit = caller.try_reserve().expect("room");
        let id = format!("{}.kill{round}", caller.id());
        let job = Job::new(id, "long", Vec::new()).pool(FAILOVER_POOL);
        caller.submit(
            permit,
            job,
            Box::new(move |outcome| tx.send(outcome).unwrap()),
        );
        // The worker process says when it runs the job.
        assert_eq!(
            lines.next().and_then(Result::ok).as_deref(),
            Some("running")
        );
        let picked_up = Arc::new(Mutex::new(None));
        let seen = picked_up.clone();
        let survivor = Worker::start(
            WorkerConfig::new(server.url(), move |_, _, _| {
                seen.lock().unwrap().get_or_insert(Instant::now());
                Ok(Vec::new())
            })
            .pool(FAILOVER_POOL)
            .slots(1)
            .ack_wait(ACK_WAIT),
        )
        .expect("the survivor starts");
        // Kill at different points of the job's life: before its first
        // progress ack, and after one or two.
        std::thread::sleep(Duration::from_millis(400) * round);
        let killed = Instant::now();
        child.kill().expect("kill -9");
        let _ = child.wait();
        let outcome = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("an outcome");
        let resolved = killed.elapsed();
        assert!(matches!(outcome, Outcome::Value(_)), "{outcome:?}");
        let restarted = picked_up.lock().unwrap().expect("the survivor ran it") - killed;
        delays.push((round, restarted, resolved));
        survivor.stop();
    }
    for (round, restarted, resolved) in &delays {
        println!(
            "redelivery after kill -9 {} ms into the job (ack_wait {} ms, progress acks every \
             {} ms): the job restarted after {:.0} ms, its value arrived after {:.0} ms",
            400 * round,
            ACK_WAIT.as_millis(),
            (ACK_WAIT / 3).as_millis(),
            millis(*restarted),
            millis(*resolved)
        );
    }
}

/// Worker-process mode: serves `long` jobs (which run until killed), says
/// `ready` when it serves and `running` when a job starts.
fn serve_as_worker_process(url: &str) -> ! {
    let config = WorkerConfig::new(url, |_, _, cancel| {
        println!("running");
        let _ = std::io::stdout().flush();
        while !cancel.is_cancelled() {
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(Vec::new())
    })
    .pool(FAILOVER_POOL)
    .slots(1)
    .ack_wait(ACK_WAIT);
    let _worker = Worker::start(config).expect("the worker process starts");
    println!("ready");
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
