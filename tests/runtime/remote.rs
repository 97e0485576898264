//! Remote calls at the coordinator, against an in-process backend that keeps
//! the `RemoteBackend` contract: jobs run on a host coordinator of this
//! process (through `tokengate::remote::execute`, as a worker host does),
//! each on a thread of its own, within a window of `max_in_flight`. The
//! broker's side is tested against a real nats-server in `tokengate-remote`;
//! these tests cover what the coordinator does around any backend: stop,
//! stop_now, live calls, nested waits, per-attempt timeouts, and the window
//! under many callers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokengate::remote::{
    JobFailure, RemoteBackend, RemoteDone, RemoteJob, RemoteOutcome, RemotePermit, RemoteStats,
};
use tokengate::stats::LivePath;
use tokengate::{Handle, KillReason, OperationsCoordinator, TokenId, task_token_guard};
use tokengate_tests::{PATIENCE, builder, error, eventually, value, with_coordinator};

/// Jobs in flight, by `(token, attempt)`: their callback and cancel flag.
type InFlight = HashMap<(TokenId, u32), (RemoteDone, Arc<AtomicBool>)>;

/// An in-process backend: see the module doc.
#[derive(Debug)]
struct Loopback {
    host: Handle,
    max: usize,
    state: Mutex<Window>,
    jobs: Arc<Mutex<InFlightDebug>>,
    submitted: AtomicU64,
    high_water: AtomicUsize,
    kills: AtomicUsize,
    closed: AtomicBool,
}

#[derive(Default)]
struct Window {
    used: usize,
    wakes: Vec<Box<dyn FnOnce() + Send>>,
}

impl std::fmt::Debug for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Window({} used)", self.used)
    }
}

#[derive(Default)]
struct InFlightDebug(InFlight);

impl std::fmt::Debug for InFlightDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} jobs", self.0.len())
    }
}

/// A permit's record: room taken in the window.
struct Room(Arc<Loopback>);

impl Drop for Room {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl Loopback {
    fn new(host: Handle, max: usize) -> Arc<Loopback> {
        Arc::new(Loopback {
            host,
            max,
            state: Mutex::default(),
            jobs: Arc::default(),
            submitted: AtomicU64::new(0),
            high_water: AtomicUsize::new(0),
            kills: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
        })
    }

    fn release(&self) {
        let wakes = {
            let mut state = self.state.lock().unwrap();
            state.used -= 1;
            std::mem::take(&mut state.wakes)
        };
        for wake in wakes {
            wake();
        }
    }

    /// Takes `key`'s job out, if it is still in flight.
    fn take(&self, key: (TokenId, u32)) -> Option<(RemoteDone, Arc<AtomicBool>)> {
        self.jobs.lock().unwrap().0.remove(&key)
    }
}

/// The backend as the coordinator holds it: the `Arc` is how it gets the
/// permit's room back.
#[derive(Debug, Clone)]
struct Backend(Arc<Loopback>);

impl RemoteBackend for Backend {
    fn try_reserve(&self) -> Option<RemotePermit> {
        let mut state = self.0.state.lock().unwrap();
        if state.used == self.0.max {
            return None;
        }
        state.used += 1;
        self.0.high_water.fetch_max(state.used, Ordering::SeqCst);
        Some(RemotePermit::new(Room(self.0.clone())))
    }

    fn when_capacity(&self, wake: Box<dyn FnOnce() + Send>) {
        let mut state = self.0.state.lock().unwrap();
        if state.used < self.0.max {
            drop(state);
            wake();
        } else {
            state.wakes.push(wake);
        }
    }

    fn submit(&self, permit: RemotePermit, job: RemoteJob, on_done: RemoteDone) {
        let room = permit.into_inner().downcast::<Room>().expect("our permit");
        self.0.submitted.fetch_add(1, Ordering::SeqCst);
        let key = (job.token, job.attempt);
        let cancel = Arc::new(AtomicBool::new(false));
        self.0
            .jobs
            .lock()
            .unwrap()
            .0
            .insert(key, (on_done, cancel.clone()));
        let backend = self.0.clone();
        std::thread::spawn(move || {
            let result = tokengate::remote::execute(&backend.host, job.op, job.args, &|| {
                cancel.load(Ordering::SeqCst)
            });
            // The room is the job's until its outcome is delivered.
            if let Some((on_done, _)) = backend.take(key) {
                drop(room);
                on_done(match result {
                    Ok(value) => RemoteOutcome::Value(value),
                    Err(JobFailure::Panic(message)) => RemoteOutcome::Panic(message),
                    Err(JobFailure::Error(message)) => RemoteOutcome::Error(message),
                    Err(other) => RemoteOutcome::Error(format!("{other:?}")),
                });
            }
        });
    }

    fn kill(&self, token: TokenId, attempt: u32) {
        if let Some((on_done, cancel)) = self.0.take((token, attempt)) {
            self.0.kills.fetch_add(1, Ordering::SeqCst);
            cancel.store(true, Ordering::SeqCst);
            // The room comes back when the job's thread ends, as a slot of a
            // real worker does; the outcome is final now.
            on_done(RemoteOutcome::Cancelled);
        }
    }

    fn stats(&self) -> RemoteStats {
        let mut stats = RemoteStats::default();
        stats.max_in_flight = self.0.max;
        stats.in_flight = self.0.jobs.lock().unwrap().0.len();
        stats.submitted = self.0.submitted.load(Ordering::SeqCst);
        stats
    }

    fn close(&self) {
        self.0.closed.store(true, Ordering::SeqCst);
        let jobs = std::mem::take(&mut self.0.jobs.lock().unwrap().0);
        for (_, (on_done, cancel)) in jobs {
            cancel.store(true, Ordering::SeqCst);
            on_done(RemoteOutcome::Unavailable("the backend closed".to_owned()));
        }
    }
}

/// A host coordinator and a loopback backend of `max` in flight onto it.
fn loopback(max: usize) -> (OperationsCoordinator, Arc<Loopback>) {
    let host = builder("remote-host")
        .core_groups(1)
        .workers_per_core(4)
        .start()
        .expect("the host starts");
    let backend = Loopback::new(host.handle(), max);
    (host, backend)
}

static RELEASED: AtomicBool = AtomicBool::new(false);

/// Runs until released, or cancelled.
#[task_token_guard(op = "rt_remote_hold", remote = true)]
fn hold(n: u32) -> u32 {
    let deadline = Instant::now() + PATIENCE;
    while !RELEASED.load(Ordering::SeqCst) && !tokengate::is_cancelled() {
        if Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    n
}

/// Never returns before it is cancelled.
#[task_token_guard(op = "rt_remote_stuck", remote = true)]
fn stuck() -> u8 {
    let deadline = Instant::now() + PATIENCE;
    while !tokengate::is_cancelled() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    0
}

#[task_token_guard(op = "rt_remote_add", remote = true)]
fn add(a: u64, b: u64) -> u64 {
    a + b
}

static ATTEMPTS: AtomicUsize = AtomicUsize::new(0);

/// Its first attempt runs past the per-attempt timeout; the second returns.
#[task_token_guard(
    op = "rt_remote_slow_once",
    remote = true,
    timeout = "100ms",
    retries = 1,
    retry_backoff = "1ms",
    retry_on = ["timeout"]
)]
fn slow_once() -> usize {
    let attempt = ATTEMPTS.fetch_add(1, Ordering::SeqCst);
    if attempt == 0 {
        let deadline = Instant::now() + PATIENCE;
        while !tokengate::is_cancelled() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    attempt
}

#[test]
fn a_stop_waits_for_remote_calls_in_flight_then_closes_the_backend() {
    let (_host, backend) = loopback(4);
    let coordinator = builder("remote-stop")
        .stop_timeout(Duration::from_millis(200))
        .remote(Arc::new(Backend(backend.clone())))
        .start()
        .unwrap();
    let (finished, stuck_call) = coordinator.run(|| (add(2, 3), stuck()));
    assert_eq!(value(finished), 5);
    eventually("the stuck call is in flight", || {
        coordinator.stats().remote.unwrap().in_flight == 1
    });
    let live = coordinator.live_calls();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].path, LivePath::Remote);
    assert_eq!(live[0].worker, None, "no worker thread runs it");

    let stopping = Instant::now();
    coordinator.stop();
    assert!(
        stopping.elapsed() >= Duration::from_millis(200),
        "it was waited for"
    );
    assert!(error(stuck_call).is_shutdown());
    assert!(backend.closed.load(Ordering::SeqCst));
    assert_eq!(
        backend.kills.load(Ordering::SeqCst),
        1,
        "stopped on its host"
    );
}

#[test]
fn stop_now_kills_remote_calls_in_flight() {
    let (_host, backend) = loopback(4);
    let coordinator = builder("remote-stop-now")
        .remote(Arc::new(Backend(backend.clone())))
        .start()
        .unwrap();
    let calls: Vec<_> = coordinator.run(|| (0..3).map(|_| stuck()).collect());
    eventually("three are in flight", || {
        coordinator.stats().remote.unwrap().in_flight == 3
    });
    coordinator.stop_now();
    for call in calls {
        assert_eq!(error(call).kill_reason(), Some(KillReason::StopNow));
    }
    assert_eq!(backend.kills.load(Ordering::SeqCst), 3);
}

#[test]
fn a_guarded_fn_waits_on_a_remote_call_without_deadlock() {
    let (_host, backend) = loopback(2);
    with_coordinator(
        builder("remote-nested")
            .core_groups(1)
            .workers_per_core(1)
            .remote(Arc::new(Backend(backend))),
        |_| {
            // The one worker waits on remote calls it cannot run itself.
            let outer = tokengate::spawn("outer", || {
                let sums: Vec<_> = (0..4).map(|i| add(i, 1)).collect();
                sums.into_iter().map(|t| t.wait().unwrap()).sum::<u64>()
            });
            assert_eq!(value(outer), 1 + 2 + 3 + 4);
        },
    );
}

#[test]
fn a_remote_attempt_past_its_own_deadline_is_stopped_and_retried() {
    let (_host, backend) = loopback(2);
    with_coordinator(
        builder("remote-attempts").remote(Arc::new(Backend(backend.clone()))),
        |coordinator| {
            let mut token = slow_once();
            assert_eq!(tokengate_tests::settle(&mut token).unwrap(), 1);
            assert_eq!(token.attempts(), 2);
            assert_eq!(
                backend.kills.load(Ordering::SeqCst),
                1,
                "the first was stopped"
            );
            assert_eq!(coordinator.stats().remote.unwrap().submitted, 2);
        },
    );
}

#[test]
fn many_callers_never_overfill_the_window() {
    let (_host, backend) = loopback(3);
    with_coordinator(
        builder("remote-window").remote(Arc::new(Backend(backend.clone()))),
        |coordinator| {
            let handle = coordinator.handle();
            let callers: Vec<_> = (0..4)
                .map(|c| {
                    let handle = handle.clone();
                    std::thread::spawn(move || {
                        let _bound = handle.enter();
                        let tokens: Vec<_> = (0..50).map(|i| add(c * 1000, i)).collect();
                        tokens.into_iter().map(value).sum::<u64>()
                    })
                })
                .collect();
            let total: u64 = callers.into_iter().map(|t| t.join().unwrap()).sum();
            let expected: u64 = (0..4).map(|c| 50 * c * 1000 + (0..50).sum::<u64>()).sum();
            assert_eq!(total, expected);
            assert!(backend.high_water.load(Ordering::SeqCst) <= 3);
            let remote = coordinator.stats().remote.unwrap();
            assert_eq!(
                (remote.submitted, remote.in_flight, remote.waiting),
                (200, 0, 0)
            );
        },
    );
    // Holds the window full for a moment, so that calls wait, then lets all go.
    let (_host, backend) = loopback(2);
    with_coordinator(
        builder("remote-window-held").remote(Arc::new(Backend(backend))),
        |coordinator| {
            let tokens: Vec<_> = (0..10).map(hold).collect();
            eventually("two in flight, eight waiting", || {
                let remote = coordinator.stats().remote.unwrap();
                (remote.in_flight, remote.waiting) == (2, 8)
            });
            RELEASED.store(true, Ordering::SeqCst);
            for (i, token) in tokens.into_iter().enumerate() {
                assert_eq!(value(token), i as u32);
            }
        },
    );
}
