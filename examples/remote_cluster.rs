//! A broker and worker hosts on this machine, for the remote examples: a
//! private `nats-server` (or the one `NATS_URL` names), and worker processes
//! that are this very executable started again in worker mode.
//!
//! A worker process serves the executable's `remote` fns
//! (`tokengate_remote::Worker::nats`), prints `ready` once it takes jobs, and
//! stops when its stdin closes: when the example ends, however it ends, its
//! workers end too.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tokengate_remote::Worker;

#[path = "../crates/tokengate-remote/tests/remote/server.rs"]
#[allow(dead_code, reason = "the examples never restart their server")]
mod server;

use server::NatsServer;

/// Set in a worker process's environment: the broker's URL.
const WORKER_ENV: &str = "TG_REMOTE_EXAMPLE_WORKER";
/// Set in a worker process's environment: its slots.
const SLOTS_ENV: &str = "TG_REMOTE_EXAMPLE_SLOTS";
/// Set in a worker process's environment: its `ack_wait`, in milliseconds.
const ACK_WAIT_ENV: &str = "TG_REMOTE_EXAMPLE_ACK_WAIT_MS";
/// Set in a worker process's environment: the pool it serves.
const POOL_ENV: &str = "TG_REMOTE_EXAMPLE_POOL";

/// How long a worker process may take to get ready.
const STARTUP: Duration = Duration::from_secs(30);

/// The broker: the one `NATS_URL` names, or a private server started here
/// (kept alive by the returned value).
pub(crate) fn broker() -> (String, Option<NatsServer>) {
    match std::env::var("NATS_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let server = NatsServer::start();
            (server.url(), Some(server))
        }
    }
}

/// In a worker process, serves this executable's `remote` fns until stdin
/// closes, then exits; elsewhere returns at once. Call it first in `main`.
pub(crate) fn serve_if_worker() {
    let Ok(url) = std::env::var(WORKER_ENV) else {
        return;
    };
    let slots = env_number(SLOTS_ENV).unwrap_or(2);
    let mut config = Worker::nats(url).slots(slots as usize);
    if let Some(ms) = env_number(ACK_WAIT_ENV) {
        config = config.ack_wait(Duration::from_millis(ms));
    }
    if let Ok(pool) = std::env::var(POOL_ENV) {
        config = config.pool(pool);
    }
    let worker = match Worker::start(config) {
        Ok(worker) => worker,
        Err(err) => {
            eprintln!("worker {}: {err}", std::process::id());
            std::process::exit(1);
        }
    };
    println!("ready");
    let _ = std::io::stdout().flush();
    // Until the parent closes our stdin (it ended, or dropped us).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    worker.stop();
    std::process::exit(0);
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

/// A worker process of this executable, serving `url`'s broker; stopped
/// (stdin closed, then killed if it lingers) when dropped.
pub(crate) struct WorkerProcess {
    child: Child,
}

impl WorkerProcess {
    /// Starts one that serves `pool` with `slots` slots and `ack_wait` (the
    /// callers' must be the same), and waits until it takes jobs.
    pub(crate) fn start(url: &str, pool: &str, slots: usize, ack_wait: Duration) -> WorkerProcess {
        let exe = std::env::current_exe().expect("the example's own executable");
        let mut child = Command::new(exe)
            .env(WORKER_ENV, url)
            .env(POOL_ENV, pool)
            .env(SLOTS_ENV, slots.to_string())
            .env(ACK_WAIT_ENV, ack_wait.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("a worker process starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = tx.send(BufReader::new(stdout).read_line(&mut line).map(|_| line));
        });
        match rx.recv_timeout(STARTUP) {
            Ok(Ok(line)) if line.trim() == "ready" => WorkerProcess { child },
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("a worker process did not get ready: {other:?}");
            }
        }
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills it at once (`kill -9`, by pid), as a crash would.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        // Closing stdin asks it to stop; a worker that does not within a
        // few seconds is killed.
        drop(self.child.stdin.take());
        for _ in 0..500 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.kill();
    }
}
