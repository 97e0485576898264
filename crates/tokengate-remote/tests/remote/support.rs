//! Helpers shared by the remote-call tests.
//!
//! Every wait has a generous deadline ([`PATIENCE`]) so that a bug shows up
//! as a failing assertion with a message, never as a hung run; nothing
//! asserts how fast something happened.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use tokengate_remote::{
    Caller, CallerConfig, CancelFlag, Failure, Job, OnDone, Outcome, Topology, Worker, WorkerConfig,
};

pub(crate) use crate::expected::{EXPECTED_PANIC, quiet_expected_panics};
pub(crate) use crate::server::NatsServer;

/// How long any helper waits for something that should happen "soon".
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// The broker's failover time in these tests: short, so redeliveries come
/// quickly; long enough that a loaded machine's progress acks keep up.
pub(crate) const ACK_WAIT: Duration = Duration::from_secs(1);

/// The topology of the tests' callers and workers: [`ACK_WAIT`].
pub(crate) fn topology() -> Topology {
    Topology::new().ack_wait(ACK_WAIT)
}

/// A caller with short publish timeouts and [`topology`].
pub(crate) fn caller(server: &NatsServer) -> Caller {
    caller_with(server, |config| config)
}

/// A caller whose config `tune` adjusts.
pub(crate) fn caller_with(
    server: &NatsServer,
    tune: impl FnOnce(CallerConfig) -> CallerConfig,
) -> Caller {
    let config = CallerConfig::new(server.url())
        .topology(topology())
        .publish_timeout(Duration::from_secs(2));
    Caller::connect(tune(config)).expect("the caller connects")
}

/// The worker settings the tests start from: one slot, [`topology`], short
/// polls.
pub(crate) fn worker_config(
    server: &NatsServer,
    executor: impl Fn(&str, &[u8], &CancelFlag) -> Result<Vec<u8>, Failure> + Send + Sync + 'static,
) -> WorkerConfig {
    WorkerConfig::new(server.url(), executor)
        .topology(topology())
        .slots(1)
        .poll_interval(Duration::from_millis(250))
        .stop_timeout(PATIENCE)
}

/// Starts a worker.
pub(crate) fn start(config: WorkerConfig) -> Worker {
    Worker::start(config).expect("the worker starts")
}

/// Collects outcomes by job id; hands out the callbacks that deliver them.
#[derive(Clone, Default)]
pub(crate) struct Outcomes {
    inner: Arc<Delivered>,
}

#[derive(Default)]
struct Delivered {
    by_id: Mutex<HashMap<String, Vec<Outcome>>>,
    cv: Condvar,
}

impl Outcomes {
    pub(crate) fn new() -> Outcomes {
        Outcomes::default()
    }

    /// A callback that records its outcome under `id`.
    pub(crate) fn callback(&self, id: &str) -> OnDone {
        let inner = self.inner.clone();
        let id = id.to_owned();
        Box::new(move |outcome| {
            inner
                .by_id
                .lock()
                .unwrap()
                .entry(id)
                .or_default()
                .push(outcome);
            inner.cv.notify_all();
        })
    }

    /// Waits for job `id`'s outcome; panics after [`PATIENCE`].
    #[track_caller]
    pub(crate) fn wait(&self, id: &str) -> Outcome {
        let deadline = Instant::now() + PATIENCE;
        let mut map = self.inner.by_id.lock().unwrap();
        loop {
            if let Some(outcomes) = map.get(id) {
                return outcomes[0].clone();
            }
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("job `{id}` did not resolve within {PATIENCE:?}"));
            map = self.inner.cv.wait_timeout(map, left).unwrap().0;
        }
    }

    /// Outcomes delivered for `id` so far (a callback must run once).
    pub(crate) fn count(&self, id: &str) -> usize {
        self.inner.by_id.lock().unwrap().get(id).map_or(0, Vec::len)
    }

    /// Whether job `id` has resolved.
    pub(crate) fn has(&self, id: &str) -> bool {
        self.count(id) > 0
    }
}

/// Submits `job` (waiting for room), recording its outcome in `outcomes`.
#[track_caller]
pub(crate) fn submit(caller: &Caller, outcomes: &Outcomes, job: Job) -> String {
    let id = job.id().to_owned();
    let permit = caller
        .reserve_timeout(PATIENCE)
        .expect("room in the window within PATIENCE");
    caller.submit(permit, job, outcomes.callback(&id));
    id
}

/// Expects a value.
#[track_caller]
pub(crate) fn value(outcome: Outcome) -> Vec<u8> {
    match outcome {
        Outcome::Value(value) => value,
        other => panic!("expected a value, got {other:?}"),
    }
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

/// A one-shot gate: executor calls block in [`wait`](Gate::wait) until the
/// test opens it.
#[derive(Default)]
pub(crate) struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
}

impl Gate {
    pub(crate) fn new() -> Arc<Gate> {
        Arc::new(Gate::default())
    }

    pub(crate) fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }

    /// Blocks until the gate opens, or [`PATIENCE`] passes.
    pub(crate) fn wait(&self) {
        let open = self.open.lock().unwrap();
        let _ = self.cv.wait_timeout_while(open, PATIENCE, |open| !*open);
    }
}

/// What the broker holds: queued jobs, and jobs delivered but not acked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Queue {
    pub(crate) messages: u64,
    pub(crate) ack_pending: u64,
}

/// Reads the jobs stream's state and its consumers' pending acks.
pub(crate) fn jobs_queue(server: &NatsServer) -> Queue {
    run_async(async {
        let client = async_nats::connect(server.url()).await.expect("connects");
        let js = jetstream::new(client);
        let mut stream = js.get_stream("TG_JOBS").await.expect("the jobs stream");
        let messages = stream.info().await.expect("stream info").state.messages;
        let mut ack_pending = 0;
        let mut names = stream.consumer_names();
        use futures::StreamExt;
        while let Some(Ok(name)) = names.next().await {
            let info = stream.consumer_info(&name).await.expect("consumer info");
            ack_pending += info.num_ack_pending as u64;
        }
        Queue {
            messages,
            ack_pending,
        }
    })
}

/// Messages in the results stream.
pub(crate) fn results_left(server: &NatsServer) -> u64 {
    run_async(async {
        let client = async_nats::connect(server.url()).await.expect("connects");
        let js = jetstream::new(client);
        let mut stream = js
            .get_stream("TG_RESULTS")
            .await
            .expect("the results stream");
        stream.info().await.expect("stream info").state.messages
    })
}

/// Waits until the jobs stream holds nothing: no job queued, none delivered
/// and unacked.
#[track_caller]
pub(crate) fn wait_until_queue_empty(server: &NatsServer) {
    let empty = Queue {
        messages: 0,
        ack_pending: 0,
    };
    let deadline = Instant::now() + PATIENCE;
    loop {
        let queue = jobs_queue(server);
        if queue == empty {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the jobs stream still holds {queue:?} after {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_async<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            tokio::time::timeout(PATIENCE, future)
                .await
                .expect("the broker answers within PATIENCE")
        })
}

/// A worker process (`tokengate-remote-test-worker`), killed by its pid when
/// dropped.
pub(crate) struct WorkerProcess {
    child: Child,
    _stdout: BufReader<ChildStdout>,
}

impl WorkerProcess {
    /// Starts one with `args` after `--url`, and waits until it serves.
    pub(crate) fn start(server: &NatsServer, args: &[&str]) -> WorkerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokengate-remote-test-worker"))
            .arg("--url")
            .arg(server.url())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the test worker starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (tx, rx) = mpsc::channel();
        let mut line = String::new();
        // Read the first line on a thread, to wait for it with a deadline.
        let reader = std::thread::spawn(move || {
            let read = stdout.read_line(&mut line).map(|_| line);
            let _ = tx.send(read);
            stdout
        });
        let ready = rx.recv_timeout(PATIENCE);
        if !matches!(&ready, Ok(Ok(line)) if line.trim() == "ready") {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the test worker did not get ready: {ready:?}");
        }
        let stdout = reader.join().expect("the reader thread");
        WorkerProcess {
            child,
            _stdout: stdout,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`, by pid, and reaps it.
    pub(crate) fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until the process has exited (it aborted, say); returns whether
    /// it did within [`PATIENCE`].
    pub(crate) fn wait_exit(&mut self) -> bool {
        self.wait_exit_for(PATIENCE)
    }

    /// Waits at most `timeout` for the process to exit; returns whether it
    /// did.
    pub(crate) fn wait_exit_for(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A log file the test workers append to, removed when dropped.
pub(crate) struct Log {
    path: PathBuf,
}

impl Log {
    pub(crate) fn new() -> Log {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "tokengate-remote-log-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        Log { path }
    }

    pub(crate) fn arg(&self) -> &str {
        self.path.to_str().expect("a UTF-8 temp path")
    }

    /// The `(op, pid)` of every call started so far, in order.
    pub(crate) fn calls(&self) -> Vec<(String, u32)> {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let (op, pid) = line.split_once(' ')?;
                Some((op.to_owned(), pid.parse().ok()?))
            })
            .collect()
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Little-endian milliseconds: the arguments of the test worker's `sleep`.
pub(crate) fn millis(ms: u64) -> Vec<u8> {
    ms.to_le_bytes().to_vec()
}
