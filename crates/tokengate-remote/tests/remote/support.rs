//! Helpers shared by the remote-call tests.
//!
//! Every wait has a generous deadline ([`PATIENCE`]) so that a bug shows up
//! as a failing assertion with a message, never as a hung run; nothing
//! asserts how fast something happened.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokengate_remote::{
    Caller, CallerConfig, CancelFlag, Failure, Job, OnDone, Outcome, Topology, Worker, WorkerConfig,
};

pub(crate) use crate::expected::{EXPECTED_PANIC, quiet_expected_panics};
pub(crate) use crate::queue::{jobs_queue, results_left, wait_until_queue_empty};
pub(crate) use crate::server::NatsServer;
pub(crate) use crate::worker_process::{Log, WorkerProcess};

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

/// Little-endian milliseconds: the arguments of the test worker's `sleep`.
pub(crate) fn millis(ms: u64) -> Vec<u8> {
    ms.to_le_bytes().to_vec()
}
