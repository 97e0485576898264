//! [`OperationsCoordinator`]: owns the lanes and workers, and the admin surface.

mod admin;
mod admission;
mod admitter;
mod builder;
mod call;
mod context;
mod current;
mod lead;
mod ops;
mod registry;
mod route;
mod shared;
mod shutdown;
mod stats;
mod timer;

pub use builder::{CoordinatorBuilder, FullLanePolicy};
pub(crate) use call::Call;
pub use current::EnterGuard;
pub(crate) use shared::Shared;
pub use stats::{
    LaneStats, LatencySummary, OpStats, ProcessStats, StateCounts, Stats, StorageStats, WorkerStats,
};

use std::fmt;
use std::sync::Arc;

use crate::error::Reason;
use crate::process::ProcessPool;
use crate::token::{Cell, Header, next_id};
use crate::{BuildError, StorageSpeed, TaskToken, TokenId, TokenState};
use builder::Config;
use route::Route;

/// Submits a call to the coordinator this thread is bound to (see
/// [`OperationsCoordinator`] for which one), or fails it at once if none runs.
pub(crate) fn submit<T, F>(call: Call, f: F) -> TaskToken<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    submit_with(call, |_| f)
}

/// [`submit`] for a `process_pool` call: its body sends the call to a worker
/// process of the coordinator it goes to, or runs it inline inside a worker
/// process (see the [`process`](crate::process) docs).
pub(crate) fn submit_process<T, E>(
    call: Call,
    entry: &'static crate::process::registry::ProcessFn,
    encode_args: E,
    decode: fn(&[u8]) -> Result<T, String>,
) -> TaskToken<T>
where
    T: Send + 'static,
    E: FnOnce(&mut Vec<u8>) -> Result<(), String> + Send + 'static,
{
    submit_with(call, move |pool| {
        let pool = pool
            .filter(|_| !crate::process::is_worker_process())
            .cloned();
        move || crate::process::dispatch(pool.as_ref(), entry, encode_args, decode)
    })
}

/// Submits the body `make` builds, given the process pool of the coordinator
/// the call goes to.
fn submit_with<T, F>(call: Call, make: impl FnOnce(Option<&Arc<ProcessPool>>) -> F) -> TaskToken<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match current::resolve() {
        Some(shared) => {
            let f = make(Some(&shared.process));
            shared.submit(call, f)
        }
        None if crate::process::is_worker_process() => inline(call, make(None)),
        None => {
            let header = Header::new(next_id(), call.op, call.weight, call.timeout);
            TaskToken::from_cell(Cell::<T, F, Route>::failed(
                header,
                Reason::NoCoordinator {
                    dropped_unused: current::dropped_unused(),
                },
            ))
        }
    }
}

/// Runs a call on the calling thread, in a worker process that has no
/// coordinator of its own (see the [`process`](crate::process) docs), and
/// returns its resolved token.
fn inline<T, F>(call: Call, f: F) -> TaskToken<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let header = Header::new(next_id(), call.op, call.weight, call.timeout);
    let cell = Cell::<T, F, Route>::new(header, None, f);
    let job: crate::token::JobRef = cell.clone();
    for (from, to) in [
        (TokenState::Created, TokenState::Waiting),
        (TokenState::Waiting, TokenState::Admitted),
        (TokenState::Admitted, TokenState::Executing),
    ] {
        let moved = job.transition(from, to);
        debug_assert!(moved, "nothing else sees an inline call");
    }
    crate::scheduler::run_claimed(job);
    TaskToken::from_cell(cell)
}

/// Admits guarded calls, routes them by weight to worker threads, and resolves
/// their tokens; also the admin and telemetry surface.
///
/// # Which coordinator a call goes to
///
/// Several coordinators can run in one process (for example one per test). A
/// guarded call goes to, in order:
///
/// 1. the coordinator running the calling guarded fn, for nested calls;
/// 2. the one most recently [`enter`](Self::enter)ed on the calling thread
///    whose guard is still alive;
/// 3. the process default: the most recently started coordinator still running.
///
/// With none, the call's token fails at once with an error for which
/// [`is_no_coordinator`](crate::TaskError::is_no_coordinator) is true.
///
/// # Stopping
///
/// [`stop`](Self::stop) (or dropping the coordinator) stops admitting, resolves
/// every queued call with a shutdown error, and lets running calls finish within
/// the stop timeout; calls still running then resolve with a shutdown error too
/// (their threads are left to finish on their own). No token is left pending.
///
/// ```
/// use tokengate::{task_token_guard, OperationsCoordinator};
///
/// #[task_token_guard(op = "double")]
/// fn double(x: u32) -> u32 {
///     x * 2
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// let tokens: Vec<_> = (0..10).map(double).collect();
/// let sum: u32 = tokens.into_iter().map(|t| t.wait().unwrap()).sum();
/// assert_eq!(sum, 90);
/// assert_eq!(coordinator.stats().tokens.completed, 10);
/// coordinator.stop();
/// ```
pub struct OperationsCoordinator {
    shared: Arc<Shared>,
}

impl OperationsCoordinator {
    /// Starts a coordinator with the default settings (see
    /// [`CoordinatorBuilder::new`]) and makes it the process default.
    ///
    /// # Panics
    ///
    /// Panics if a worker thread cannot be spawned; use
    /// [`builder`](Self::builder)`().start()` to handle that error.
    #[must_use = "a coordinator stops when it is dropped: keep it in a named variable for as \
                  long as guarded calls are made (`let _ = ...` drops it at once)"]
    pub fn start() -> OperationsCoordinator {
        match CoordinatorBuilder::new().start() {
            Ok(coordinator) => coordinator,
            Err(err) => panic!("{err}"),
        }
    }

    /// A builder to configure a coordinator before starting it.
    pub fn builder() -> CoordinatorBuilder {
        CoordinatorBuilder::new()
    }

    pub(crate) fn from_config(config: Config) -> Result<OperationsCoordinator, BuildError> {
        let shared = Arc::new(Shared::new(config));
        // Build the handle first: if a spawn fails, dropping it stops what started.
        let coordinator = OperationsCoordinator {
            shared: shared.clone(),
        };
        shared.start_threads().map_err(BuildError::spawn)?;
        if shared.config.prestart_processes {
            shared
                .process
                .prestart()
                .map_err(BuildError::process_start)?;
        }
        current::register(&shared);
        Ok(coordinator)
    }

    /// The pids of this coordinator's worker processes alive now (`process_pool`
    /// calls), sorted. Empty until a process-pool call first needs one, unless
    /// [`prestart_processes`](CoordinatorBuilder::prestart_processes) is set.
    pub fn worker_processes(&self) -> Vec<u32> {
        self.shared.process.pids()
    }

    /// Stops the coordinator (see [Stopping](Self#stopping)). Dropping it does the same.
    pub fn stop(self) {
        self.shared.stop();
    }

    /// Binds guarded calls made on this thread to this coordinator until the
    /// guard drops.
    ///
    /// ```
    /// use tokengate::OperationsCoordinator;
    ///
    /// let a = OperationsCoordinator::start();
    /// let b = OperationsCoordinator::start();
    /// {
    ///     let _bound = a.enter();
    ///     let token = tokengate::spawn(|| 1 + 1);
    ///     assert_eq!(token.wait().unwrap(), 2);
    /// }
    /// assert_eq!(a.stats().tokens.completed, 1);
    /// assert_eq!(b.stats().tokens.completed, 0);
    /// # a.stop(); b.stop();
    /// ```
    pub fn enter(&self) -> EnterGuard<'_> {
        current::enter(&self.shared)
    }

    /// Runs `f` with guarded calls on this thread bound to this coordinator.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _bound = self.enter();
        f()
    }

    /// How many worker threads it runs.
    pub fn worker_count(&self) -> usize {
        self.shared.scheduler.workers.len()
    }

    /// How many core groups it has.
    pub fn core_groups(&self) -> usize {
        self.shared.scheduler.groups
    }

    /// A snapshot of counts, queue depths and latencies. Its cost does not grow
    /// with the number of calls ever made.
    pub fn stats(&self) -> Stats {
        stats::collect(&self.shared)
    }

    /// Live (unfinished) tokens, from the registry.
    pub fn live_tokens(&self) -> usize {
        self.shared.registry.len()
    }

    /// Kills the live token with this id ([`TaskToken::id`], or
    /// [`current_token_id`](crate::current_token_id) inside the call, or
    /// [`TaskError::token_id`](crate::TaskError::token_id)), as
    /// [`TaskToken::kill`] does. Returns whether it took effect: false if the
    /// call already finished, or no call of this coordinator has that id.
    pub fn kill_token(&self, id: TokenId) -> bool {
        self.shared.kill_token(id.as_u64())
    }

    /// Kills every live token of `op`, queued or running. Returns how many.
    pub fn kill_all_by_operation(&self, op: &str) -> usize {
        self.shared.kill_all_by_operation(op)
    }

    /// Holds new calls in their lanes (`Waiting`); admitted calls keep running.
    pub fn pause_admission(&self) {
        self.shared.scheduler.set_paused(true);
    }

    /// Releases held calls, in lane order.
    pub fn resume_admission(&self) {
        self.shared.resume_admission();
    }

    /// Changes how many calls of storage tier `speed` may run at once. Running
    /// calls keep their turn (none is lost or counted twice): raising the cap
    /// starts waiting calls now; lowering it holds new ones until the running
    /// count is under the new cap. 0 holds the whole tier.
    pub fn set_storage_cap(&self, speed: StorageSpeed, cap: usize) {
        self.shared.scheduler.set_storage_cap(speed, cap);
    }

    /// The current cap of storage tier `speed`.
    pub fn storage_cap(&self, speed: StorageSpeed) -> usize {
        self.shared.scheduler.tiers[speed.index()].cap()
    }

    /// Whether admission is paused globally.
    pub fn is_paused(&self) -> bool {
        self.shared.scheduler.is_paused()
    }

    /// Kills every waiting call (not admitted or running ones). Returns how many.
    pub fn drain_pool(&self) -> usize {
        self.shared.drain(None)
    }

    /// Holds calls of `op` as `Waiting` until [`resume_operation`](Self::resume_operation).
    pub fn pause_operation(&self, op: &str) {
        self.shared.pause_operation(op);
    }

    /// Releases the held calls of `op` in call order. Returns how many.
    pub fn resume_operation(&self, op: &str) -> usize {
        self.shared.resume_operation(op)
    }

    /// Kills the waiting calls of `op`. Returns how many.
    pub fn drain_operation(&self, op: &str) -> usize {
        self.shared.drain(Some(op))
    }
}

impl Drop for OperationsCoordinator {
    fn drop(&mut self) {
        // Dropped while running, before any call reached it: most likely
        // `let _ = OperationsCoordinator::start();`, which the "no coordinator"
        // error then points out.
        let unused = self.shared.op_entries().is_empty();
        if self.shared.stop() && unused {
            current::note_dropped_unused();
        }
    }
}

impl fmt::Debug for OperationsCoordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperationsCoordinator")
            .field("core_groups", &self.core_groups())
            .field("workers", &self.worker_count())
            .field("running", &self.shared.is_running())
            .finish()
    }
}
