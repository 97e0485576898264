//! Helpers of the attribute tests: a broker, a worker host and a calling
//! coordinator per test, and a way to wait for things with a deadline.

use std::time::{Duration, Instant};

use tokengate::{CoordinatorBuilder, OperationsCoordinator};
use tokengate_remote::{CallerConfig, Remote, Worker, WorkerConfig};

pub(crate) use crate::expected::{EXPECTED_PANIC, quiet_expected_panics};
pub(crate) use crate::queue::{jobs_queue, wait_until_queue_empty};
pub(crate) use crate::server::NatsServer;
pub(crate) use crate::worker_process::{Log, WorkerProcess};

/// How long any helper waits for something that should happen "soon".
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// The broker's failover time: short, so a lost worker is noticed soon.
pub(crate) const ACK_WAIT: Duration = Duration::from_secs(1);

/// A broker, a worker host serving it, and the coordinator the host's jobs
/// run on; dropped in the order that stops the worker before its
/// coordinator.
pub(crate) struct Hosts {
    pub(crate) worker: Worker,
    pub(crate) host: OperationsCoordinator,
    pub(crate) server: NatsServer,
}

impl Hosts {
    /// A broker and one worker host with `slots` slots.
    pub(crate) fn start(slots: usize) -> Hosts {
        Hosts::start_with(slots, |config| config)
    }

    /// [`start`](Self::start), with the worker's config adjusted by `tune`.
    pub(crate) fn start_with(
        slots: usize,
        tune: impl FnOnce(WorkerConfig) -> WorkerConfig,
    ) -> Hosts {
        // A worker thread per slot, so that every job the worker takes runs
        // at once.
        Hosts::start_on(slots, slots.max(2), tune)
    }

    /// [`start_with`](Self::start_with), on a host coordinator of `threads`
    /// worker threads in one core group (for jobs that make calls of their
    /// own there).
    pub(crate) fn start_on(
        slots: usize,
        threads: usize,
        tune: impl FnOnce(WorkerConfig) -> WorkerConfig,
    ) -> Hosts {
        quiet_expected_panics();
        let server = NatsServer::start();
        let host = OperationsCoordinator::builder()
            .thread_name("tg-host")
            .core_groups(1)
            .workers_per_core(threads)
            .stop_timeout(PATIENCE)
            .start()
            .expect("the host's coordinator starts");
        let config = Worker::nats(server.url())
            .coordinator(host.handle())
            .slots(slots)
            .ack_wait(ACK_WAIT)
            .poll_interval(Duration::from_millis(250))
            .stop_timeout(PATIENCE);
        let worker = Worker::start(tune(config)).expect("the worker host starts");
        Hosts {
            worker,
            host,
            server,
        }
    }

    /// The calling side's backend settings for this broker.
    pub(crate) fn remote(&self) -> CallerConfig {
        remote(&self.server)
    }
}

/// The calling side's backend settings for `server`: [`ACK_WAIT`], as the
/// worker hosts have it.
pub(crate) fn remote(server: &NatsServer) -> CallerConfig {
    Remote::nats(server.url())
        .ack_wait(ACK_WAIT)
        .publish_timeout(Duration::from_secs(2))
}

/// The arguments of a worker host process (`tokengate-remote-test-host`):
/// [`ACK_WAIT`], its calls noted in `log`, and `more`.
pub(crate) fn host_args(log: &Log, more: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--ack-wait-ms".to_owned(),
        ACK_WAIT.as_millis().to_string(),
        "--log".to_owned(),
        log.arg().to_owned(),
    ];
    args.extend(more.iter().map(|arg| (*arg).to_owned()));
    args
}

/// A calling coordinator: `threads` worker threads (one core group), no
/// backend yet.
pub(crate) fn caller(threads: usize) -> CoordinatorBuilder {
    OperationsCoordinator::builder()
        .thread_name("tg-caller")
        .core_groups(1)
        .workers_per_core(threads)
        .stop_timeout(PATIENCE)
}

/// Starts `builder`'s coordinator.
pub(crate) fn start(builder: CoordinatorBuilder) -> OperationsCoordinator {
    builder.start().expect("the calling coordinator starts")
}

/// Polls `cond` every 5 ms until it holds; panics after [`PATIENCE`].
#[track_caller]
pub(crate) fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {PATIENCE:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A tag no other call of this test process has, for the gates and counts
/// of `fns`.
pub(crate) fn tag() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
