//! [`OperationsCoordinator`]: owns the lanes and workers, and the admin surface.

mod admin;
mod admission;
mod admitter;
mod builder;
mod bulk;
mod call;
mod context;
mod current;
#[cfg(feature = "metrics")]
mod export;
mod gate;
mod guard;
mod handle;
mod lead;
mod limit;
mod live;
mod ops;
mod overrides;
mod panics;
#[cfg(feature = "process")]
mod process;
mod prometheus;
mod registry;
pub(crate) mod remote;
mod retry;
mod route;
mod samples;
mod shared;
mod shed;
mod shutdown;
mod stats;
mod timer;
mod trace;

pub use builder::{CoordinatorBuilder, FullLanePolicy};
pub(crate) use bulk::BulkProgress;
pub(crate) use call::Call;
pub use current::EnterGuard;
pub use guard::AutoBlock;
pub use handle::Handle;
pub use overrides::Override;
pub use panics::PanicReport;
pub use retry::RetryOn;
pub(crate) use retry::{DEFAULT_BACKOFF, RetryPolicy};
pub(crate) use shared::Shared;

use std::fmt;
use std::sync::Arc;

use crate::error::Reason;
use crate::token::{Again, Body, Cell, Header, next_id};
use crate::{BuildError, TaskToken, TokenState};
use builder::Config;
use route::Route;
use shutdown::Stop;

/// Submits a call to the coordinator this thread is bound to (see
/// [`OperationsCoordinator`] for which one), or fails it at once if none runs.
pub(crate) fn submit<T, F>(call: Call, f: F) -> TaskToken<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    submit_with(call, |_| Body::Once(f))
}

/// [`submit`] for a call that may be retried: `make` makes each attempt's
/// body; `is_err` tells values that are failures (`retry_on = "err"`).
pub(crate) fn submit_retrying<T, F, M>(
    call: Call,
    make: M,
    is_err: Option<fn(&T) -> bool>,
) -> TaskToken<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
    M: Fn() -> F + Send + Sync + 'static,
{
    submit_with(call, |_| {
        Body::Again(Again {
            make: Box::new(make),
            is_err,
        })
    })
}

/// [`submit`] for a `process_pool` call, held to `memory_limit` in its worker
/// process. With a coordinator, its arguments are encoded now, on the calling
/// thread, and it waits for a worker process in its weight's process queue
/// (see [`process`](process) here); inside a worker process it runs inline
/// (see the [`process`](crate::process) docs).
#[cfg(feature = "process")]
pub(crate) fn submit_process<T, E>(
    mut call: Call,
    entry: &'static crate::process::registry::ProcessFn,
    memory_limit: Option<std::num::NonZeroU64>,
    encode_args: E,
    decode: fn(&[u8]) -> Result<T, String>,
) -> TaskToken<T>
where
    T: Send + 'static,
    E: FnOnce(&mut Vec<u8>) -> Result<(), String> + Send + 'static,
{
    Override::apply(&mut call);
    if let Some(shared) = pool_coordinator() {
        let frame = crate::process::call_frame(entry, memory_limit, encode_args);
        return process::submit(&shared, call, memory_limit, frame, decode, None);
    }
    submit_with(call, move |_| {
        Body::Once(move || crate::process::dispatch(None, entry, memory_limit, encode_args, decode))
    })
}

/// [`submit_process`] for a call that may be retried: its arguments were
/// encoded once (or failed to), and each attempt sends those bytes again.
#[cfg(feature = "process")]
pub(crate) fn submit_process_retrying<T>(
    mut call: Call,
    entry: &'static crate::process::registry::ProcessFn,
    memory_limit: Option<std::num::NonZeroU64>,
    encoded: Result<Vec<u8>, String>,
    decode: fn(&[u8]) -> Result<T, String>,
    is_err: Option<fn(&T) -> bool>,
) -> TaskToken<T>
where
    T: Send + 'static,
{
    Override::apply(&mut call);
    if let Some(shared) = pool_coordinator() {
        let frame = crate::process::call_frame(entry, memory_limit, |out| {
            out.extend_from_slice(&encoded?);
            Ok(())
        });
        return process::submit(&shared, call, memory_limit, frame, decode, is_err);
    }
    submit_with(call, move |_| {
        let make = move || {
            let encoded = encoded.clone();
            move || {
                let encode = move |out: &mut Vec<u8>| {
                    out.extend_from_slice(&encoded?);
                    Ok(())
                };
                crate::process::dispatch(None, entry, memory_limit, encode, decode)
            }
        };
        Body::Again(Again {
            make: Box::new(make),
            is_err,
        })
    })
}

/// The coordinator a process-pool call made on this thread goes to, unless
/// this is a worker process (where it runs inline).
#[cfg(feature = "process")]
fn pool_coordinator() -> Option<Arc<Shared>> {
    current::resolve().filter(|_| !crate::process::is_worker_process())
}

/// [`submit`] for a `remote` call, to worker hosts through the backend of the
/// coordinator it goes to; without a backend there, or inside a worker
/// process, it runs as a process-pool call of `entry`, through the same
/// encoding. A child of a `remote` lead running on its worker host stays on
/// that host, as the host runs its jobs (see `remote/host.rs`). Its arguments
/// are encoded already (or failed to be, in the caller: the call then fails
/// when it would be sent).
#[cfg(feature = "process")]
pub(crate) fn submit_remote<T>(
    mut call: Call,
    pool: &'static str,
    entry: &'static crate::process::registry::ProcessFn,
    memory_limit: Option<std::num::NonZeroU64>,
    encoded: Result<Vec<u8>, String>,
    decode: fn(&[u8]) -> Result<T, String>,
    is_err: Option<fn(&T) -> bool>,
) -> TaskToken<T>
where
    T: Send + 'static,
{
    Override::apply(&mut call);
    let hosted = remote::hosted_child(call.op);
    if let Some(shared) = &hosted
        && !entry.remote.is_some_and(|remote| remote.isolated)
    {
        return remote::submit_hosted(shared, call, entry, encoded, decode, is_err);
    }
    if let Some(shared) =
        current::resolve().filter(|shared| hosted.is_none() && shared.remote.is_some())
    {
        fn never_here<T>() -> T {
            unreachable!("a remote call is handed to its backend; no thread runs its body")
        }
        let body = match (call.retry, is_err) {
            (None, _) => Body::Once(never_here::<T> as fn() -> T),
            (Some(_), is_err) => Body::Again(Again {
                make: Box::new(|| never_here::<T> as fn() -> T),
                is_err,
            }),
        };
        use crate::process::codec::{Side, locate};
        let remote = remote::RemoteCall::new(
            pool,
            encoded.map_err(|err| locate(&err, Side::Caller)),
            move |bytes: &[u8]| decode(bytes).map_err(|err| locate(&err, Side::Caller)),
        );
        return shared.submit_routed(call, body, Some(Box::new(remote)));
    }
    if call.retry.is_some() {
        return submit_process_retrying(call, entry, memory_limit, encoded, decode, is_err);
    }
    let encode = move |out: &mut Vec<u8>| {
        out.extend_from_slice(&encoded?);
        Ok(())
    };
    submit_process(call, entry, memory_limit, encode, decode)
}

/// Whether this process is a tokengate worker process (where calls run inline).
fn in_worker_process() -> bool {
    #[cfg(feature = "process")]
    return crate::process::is_worker_process();
    #[cfg(not(feature = "process"))]
    false
}

/// Submits the body `make` builds, given the coordinator the call goes to
/// (`None` inside a worker process with no coordinator of its own).
fn submit_with<T, F>(
    mut call: Call,
    make: impl FnOnce(Option<&Arc<Shared>>) -> Body<T, F>,
) -> TaskToken<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    Override::apply(&mut call);
    match current::resolve() {
        Some(shared) => {
            let f = make(Some(&shared));
            shared.submit(call, f)
        }
        None if in_worker_process() => inline(call, make(None).first()),
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
/// 2. the one most recently [`enter`](Handle::enter)ed on the calling thread
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
    handle: Handle,
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
        if config.panic_handler.is_some() {
            panics::install_hook();
        }
        let remote = match &config.remote {
            Some(connect) => Some(connect.connect().map_err(BuildError::remote)?),
            None => None,
        };
        let shared = Arc::new(Shared::new(config, remote));
        // Build the handle first: if a spawn fails, dropping it stops what started.
        let coordinator = OperationsCoordinator {
            handle: Handle {
                shared: shared.clone(),
            },
        };
        shared.start_threads().map_err(BuildError::spawn)?;
        #[cfg(feature = "process")]
        if shared.config.prestart_processes {
            shared
                .process
                .prestart()
                .map_err(BuildError::process_start)?;
        }
        current::register(&shared);
        Ok(coordinator)
    }

    /// Stops the coordinator (see [Stopping](Self#stopping)). Dropping it does the same.
    pub fn stop(self) {
        self.handle.shared.stop(Stop::Graceful);
    }

    /// Kills every call at once, queued and running, then stops: running
    /// bodies see [`is_cancelled`](crate::is_cancelled) (and should return
    /// early), `process_pool` calls lose their worker process, and every
    /// token resolves with a [`Killed`](crate::ErrorKind::Killed) error whose
    /// [`kill_reason`](crate::TaskError::kill_reason) is
    /// [`StopNow`](crate::KillReason::StopNow) (calls that finished first keep
    /// their result). Returns when the coordinator has stopped: every token is
    /// resolved, and bodies that ignore cancellation were given the stop
    /// timeout to return, as with [`stop`](Self::stop).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokengate::{task_token_guard, KillReason, OperationsCoordinator};
    ///
    /// #[task_token_guard(op = "poll_forever")]
    /// fn poll_forever() {
    ///     while !tokengate::is_cancelled() {
    ///         std::thread::sleep(Duration::from_millis(1));
    ///     }
    /// }
    ///
    /// let coordinator = OperationsCoordinator::start();
    /// let tokens: Vec<_> = (0..100).map(|_| poll_forever()).collect();
    /// coordinator.stop_now();
    /// for token in tokens {
    ///     let err = token.wait().unwrap_err();
    ///     assert_eq!(err.kill_reason(), Some(KillReason::StopNow));
    /// }
    /// ```
    pub fn stop_now(self) {
        self.handle.shared.stop(Stop::Now);
    }

    /// A cheap, cloneable [`Handle`] to this coordinator, for code that
    /// administers or watches it but does not own it (an admin endpoint, a
    /// dashboard). Every method of `Handle` is also available on the
    /// coordinator itself.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }
}

impl std::ops::Deref for OperationsCoordinator {
    type Target = Handle;

    /// The coordinator's [`Handle`]: its admin and telemetry surface.
    fn deref(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for OperationsCoordinator {
    fn drop(&mut self) {
        // Dropped while running, before any call reached it: most likely
        // `let _ = OperationsCoordinator::start();`, which the "no coordinator"
        // error then points out.
        let shared = &self.handle.shared;
        let unused = shared.op_entries().is_empty();
        if shared.stop(Stop::Graceful) && unused {
            current::note_dropped_unused();
        }
    }
}

impl fmt::Debug for OperationsCoordinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperationsCoordinator")
            .field("core_groups", &self.core_groups())
            .field("workers", &self.worker_count())
            .field("running", &self.is_running())
            .finish()
    }
}
