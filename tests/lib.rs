//! Shared helpers for the tokengate integration tests.
//!
//! Every helper that waits has a generous safety deadline ([`PATIENCE`]) so that
//! a runtime bug shows up as a failing assertion with a message, never as a hung
//! test run. No helper asserts on how *fast* something happened.
//!
//! Most tests run inside [`with_coordinator`], which starts a coordinator for
//! the test, binds the test's calls to it and stops it, whatever happens.

pub mod recording;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::{Duration, Instant};

use tokengate::{CoordinatorBuilder, OperationsCoordinator, TaskError, TaskToken, Weight};

/// How long any helper waits for something that should happen "soon".
/// Only a bug (or a machine that is hopelessly overloaded) exhausts it.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Panic messages that start with this are expected by a test and not printed.
pub const EXPECTED_PANIC: &str = "tokengate-test expected panic";

/// A non-string panic payload that tests raise on purpose (`panic_any(ExpectedPanic)`).
#[derive(Debug)]
pub struct ExpectedPanic;

/// Installs (once per process) a panic hook that stays silent for panics whose
/// message starts with [`EXPECTED_PANIC`] (or whose payload is [`ExpectedPanic`])
/// and reports every other panic as usual.
pub fn quiet_expected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&'static str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if payload.is::<ExpectedPanic>() || msg.is_some_and(|m| m.starts_with(EXPECTED_PANIC)) {
                return;
            }
            default(info);
        }));
    });
}

/// A builder with a thread name that says which test the threads belong to,
/// and a stop timeout long enough that a slow machine never trips it.
pub fn builder(name: &str) -> CoordinatorBuilder {
    OperationsCoordinator::builder()
        .thread_name(format!("tg-{name}"))
        .stop_timeout(PATIENCE)
}

/// A coordinator with exactly one worker thread.
pub fn single_worker(name: &str) -> CoordinatorBuilder {
    builder(name).core_groups(1).workers_per_core(1)
}

/// Starts `builder`'s coordinator, runs `body` with it, with guarded calls made
/// on this thread bound to it (as [`Handle::run`](tokengate::Handle::run)
/// does), stops it, and returns what `body` returned.
///
/// The coordinator stops when `body` panics too, so that a failing test does
/// not leave its worker threads and worker processes running for the rest of
/// the test binary. Threads that `body` spawns are not bound: they call
/// `enter` or `run` themselves. A test that checks what stopping does stops
/// its coordinator itself instead.
///
/// # Panics
///
/// Panics if the coordinator does not start, and with `body`'s panic.
///
/// ```
/// use std::panic::{AssertUnwindSafe, catch_unwind};
/// use tokengate_tests::{EXPECTED_PANIC, builder, quiet_expected_panics, value, with_coordinator};
///
/// let (sum, handle) = with_coordinator(builder("doc"), |c| {
///     let sum = value(tokengate::spawn("doc", || 1 + 1));
///     assert_eq!(c.stats().tokens.completed, 1);
///     (sum, c.handle())
/// });
/// assert_eq!(sum, 2);
/// assert!(!handle.is_running(), "stopped once the body returned");
///
/// quiet_expected_panics();
/// let mut handle = None;
/// let failed = catch_unwind(AssertUnwindSafe(|| {
///     with_coordinator(builder("doc-panic"), |c| {
///         handle = Some(c.handle());
///         panic!("{EXPECTED_PANIC}: a failing test");
///     })
/// }));
/// assert!(failed.is_err());
/// assert!(!handle.unwrap().is_running(), "stopped once the body panicked");
/// // Stopped, not dropped: a later call is not told of a coordinator dropped unused.
/// let err = tokengate::spawn("doc", || ()).wait().unwrap_err();
/// assert!(err.is_no_coordinator() && !err.to_string().contains("dropped"), "{err}");
/// ```
#[track_caller]
pub fn with_coordinator<R>(
    builder: CoordinatorBuilder,
    body: impl FnOnce(&OperationsCoordinator) -> R,
) -> R {
    let coordinator = match builder.start() {
        Ok(coordinator) => coordinator,
        Err(err) => panic!("the test's coordinator did not start: {err}"),
    };
    let running = StopOnDrop(Some(coordinator));
    let coordinator = running.0.as_ref().expect("held until dropped");
    coordinator.run(|| body(coordinator))
}

/// Stops the coordinator it holds when dropped, unwinding included. It calls
/// `stop` rather than dropping the coordinator: a coordinator dropped before
/// any call reached it changes the "no coordinator" error of every later call
/// in the process, and a test that failed early should not.
struct StopOnDrop(Option<OperationsCoordinator>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(coordinator) = self.0.take() {
            coordinator.stop();
        }
    }
}

/// Waits for `token` at most [`PATIENCE`]; panics (failing the test) if it does
/// not resolve by then.
#[track_caller]
pub fn resolve<T>(mut token: TaskToken<T>) -> Result<T, TaskError> {
    let id = token.id();
    token.wait_timeout(PATIENCE).unwrap_or_else(|| {
        panic!(
            "token {id} ({}) did not resolve within {PATIENCE:?}",
            token.op()
        )
    })
}

/// Like [`resolve`] but expects `Ok`.
#[track_caller]
pub fn value<T>(token: TaskToken<T>) -> T {
    match resolve(token) {
        Ok(v) => v,
        Err(e) => panic!("expected a value, got error: {e}"),
    }
}

/// Like [`resolve`] but expects an error.
#[track_caller]
pub fn error<T: std::fmt::Debug>(token: TaskToken<T>) -> TaskError {
    match resolve(token) {
        Ok(v) => panic!("expected an error, got value {v:?}"),
        Err(e) => e,
    }
}

/// Waits for `token` in place (at most [`PATIENCE`]), so that its state and
/// timings can still be read afterwards.
#[track_caller]
pub fn settle<T>(token: &mut TaskToken<T>) -> Result<T, TaskError> {
    let id = token.id();
    token
        .wait_timeout(PATIENCE)
        .unwrap_or_else(|| panic!("token {id} did not resolve within {PATIENCE:?}"))
}

/// Runs `future` to completion on a fresh current-thread tokio runtime; panics
/// if it takes longer than [`PATIENCE`].
#[track_caller]
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        tokio::time::timeout(PATIENCE, future)
            .await
            .unwrap_or_else(|_| panic!("future did not complete within {PATIENCE:?}"))
    })
}

/// Polls `cond` every millisecond until it holds; panics after [`PATIENCE`].
#[track_caller]
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        if Instant::now() > deadline {
            panic!("timed out after {PATIENCE:?} waiting until {what}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A one-shot gate: bodies block in [`wait`](Gate::wait) until the test opens it.
#[derive(Debug, Default)]
pub struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Arc<Gate> {
        Arc::new(Gate::default())
    }

    /// Opens the gate for every present and future waiter.
    pub fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }

    /// Whether the gate is open.
    pub fn is_open(&self) -> bool {
        *self.open.lock().unwrap()
    }

    /// Blocks until the gate opens; returns `false` if [`PATIENCE`] ran out
    /// first (a test should then fail on what it observes).
    pub fn wait(&self) -> bool {
        let guard = self.open.lock().unwrap();
        let (guard, _) = self
            .cv
            .wait_timeout_while(guard, PATIENCE, |open| !*open)
            .unwrap();
        *guard
    }

    /// Blocks until the gate opens or the running guarded call is cancelled;
    /// returns whether the gate opened.
    pub fn wait_or_cancelled(&self) -> bool {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if self.is_open() {
                return true;
            }
            if tokengate::is_cancelled() || Instant::now() > deadline {
                return false;
            }
            let guard = self.open.lock().unwrap();
            let _ = self
                .cv
                .wait_timeout_while(guard, Duration::from_millis(1), |open| !*open)
                .unwrap();
        }
    }
}

/// Counts how many bodies are inside a region at once, and the most ever.
#[derive(Debug, Default)]
pub struct Concurrency {
    active: AtomicUsize,
    max: AtomicUsize,
}

impl Concurrency {
    /// A fresh tracker.
    pub fn new() -> Arc<Concurrency> {
        Arc::new(Concurrency::default())
    }

    /// Enters the region, records the new maximum, and stays until the maximum
    /// reaches `target` (or [`PATIENCE`] passes), then leaves.
    pub fn hold_until(&self, target: usize) {
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        let deadline = Instant::now() + PATIENCE;
        while self.max.load(Ordering::SeqCst) < target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        self.active.fetch_sub(1, Ordering::SeqCst);
    }

    /// The most bodies ever inside at once.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

/// A tiny deterministic RNG (splitmix64).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// An RNG seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent / 100`.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The home core groups (0-based) of `weight` with `groups` core groups, as
/// the crate documents them: heavy → group 1, medium → groups 2.., light →
/// groups 3.. (1-based), each falling back to the highest group that exists.
pub fn home_groups(weight: Weight, groups: usize) -> std::ops::Range<usize> {
    match weight {
        Weight::Heavy => 0..1,
        Weight::Medium => 1.min(groups - 1)..groups,
        _ => 2.min(groups - 1)..groups,
    }
}

/// Records things in the order they happen, from any thread.
#[derive(Debug)]
pub struct Log<T>(Mutex<Vec<T>>);

impl<T: Clone> Log<T> {
    /// An empty log.
    pub fn new() -> Arc<Log<T>> {
        Arc::new(Log(Mutex::new(Vec::new())))
    }

    /// Appends `item`.
    pub fn push(&self, item: T) {
        self.0.lock().unwrap().push(item);
    }

    /// A copy of everything logged so far.
    pub fn items(&self) -> Vec<T> {
        self.0.lock().unwrap().clone()
    }

    /// How many items were logged.
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Whether nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Tallies token outcomes by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// `Ok`.
    pub completed: u64,
    /// `is_panic`.
    pub failed: u64,
    /// `is_killed`, `is_rejected` or `is_shutdown` (all count as killed in stats).
    pub killed: u64,
    /// `is_timeout`.
    pub timed_out: u64,
    /// Breakdown of `killed`, by predicate.
    pub detail: HashMap<&'static str, u64>,
}

impl Outcomes {
    /// Counts one result.
    pub fn record<T>(&mut self, result: &Result<T, TaskError>) {
        match result {
            Ok(_) => self.completed += 1,
            Err(e) if e.is_panic() => self.failed += 1,
            Err(e) if e.is_timeout() => self.timed_out += 1,
            Err(e) => {
                self.killed += 1;
                let kind = if e.is_killed() {
                    "killed"
                } else if e.is_rejected() {
                    "rejected"
                } else if e.is_shutdown() {
                    "shutdown"
                } else if e.is_no_coordinator() {
                    "no_coordinator"
                } else {
                    "unknown"
                };
                *self.detail.entry(kind).or_default() += 1;
            }
        }
    }

    /// Adds another tally into this one.
    pub fn merge(&mut self, other: &Outcomes) {
        self.completed += other.completed;
        self.failed += other.failed;
        self.killed += other.killed;
        self.timed_out += other.timed_out;
        for (k, v) in &other.detail {
            *self.detail.entry(k).or_default() += v;
        }
    }

    /// Every outcome counted.
    pub fn total(&self) -> u64 {
        self.completed + self.failed + self.killed + self.timed_out
    }
}
