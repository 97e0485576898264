//! [`CoordinatorBuilder`]: every knob of a coordinator, with defaults.

use std::sync::Arc;
use std::time::Duration;

use super::OperationsCoordinator;
use super::guard::AutoBlock;
use super::limit::{LimitSpec, RateSpec};
use super::panics::{PanicHandler, PanicReport};
use super::remote::ConnectRemote;
use crate::{BuildError, StorageSpeed};

/// What a guarded call does when its lane is full.
///
/// Making a call never blocks the caller, so a call made on an async
/// executor's thread is always safe. With [`Wait`](Self::Wait) a call whose
/// lane is full waits *in line*: its token is returned at once, in
/// [`Waiting`](crate::TokenState::Waiting), and the call enters its lane as
/// room frees up, in the order calls were made. Awaiting or waiting on the
/// token waits for that too. Dropping the token of a call still in line
/// blocks until the call has entered its lane (on a worker thread, running
/// calls of that lane meanwhile), so fire-and-forget calls made faster than
/// they run are held back by the lane's bound rather than piling up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FullLanePolicy {
    /// Wait in line for room (the default).
    #[default]
    Wait,
    /// Resolve the token at once with an error for which
    /// [`is_rejected`](crate::TaskError::is_rejected) is true. The lane's
    /// capacity then bounds every call of its weight that waits to start,
    /// in the lane or in a worker's mailbox, so load is shed as soon as that
    /// many wait (see [`CoordinatorBuilder::lane_capacity`]).
    Reject,
}

/// The settings a coordinator starts with.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) core_groups: usize,
    pub(crate) workers_per_core: usize,
    /// Share the cores out by weight (CPU permits).
    pub(crate) cpu_share: bool,
    pub(crate) lane_capacity: usize,
    pub(crate) mailbox_capacity: usize,
    pub(crate) full_lane: FullLanePolicy,
    pub(crate) stop_timeout: Duration,
    pub(crate) thread_name: String,
    /// The stack size of worker and IO threads, if not Rust's default.
    pub(crate) stack_size: Option<usize>,
    /// Per storage tier: how many of its calls may run at once.
    pub(crate) storage_caps: [usize; 4],
    /// How many worker processes `process_pool` calls may use.
    #[cfg(feature = "process")]
    pub(crate) process_workers: usize,
    /// Start them all with the coordinator rather than on first use.
    #[cfg(feature = "process")]
    pub(crate) prestart_processes: bool,
    /// How many calls may be in flight to one worker process.
    #[cfg(feature = "process")]
    pub(crate) process_pipeline: usize,
    /// Where panics in calls are reported, instead of the panic hook.
    pub(crate) panic_handler: Option<PanicHandler>,
    /// Named limits, in the order they were first configured.
    pub(crate) limits: Vec<LimitSpec>,
    /// The per-op circuit breaker, if on.
    pub(crate) auto_block: Option<AutoBlock>,
    /// Calls not started this long after they were made are shed.
    pub(crate) max_queue_wait: Option<Duration>,
    /// How often the timer thread publishes to the `metrics` recorder.
    #[cfg(feature = "metrics")]
    pub(crate) metrics_interval: Duration,
    /// Labels added to every series this coordinator publishes.
    #[cfg(feature = "metrics")]
    pub(crate) metrics_labels: Vec<(String, String)>,
    /// Connects the backend of `remote` calls when the coordinator starts.
    pub(crate) remote: Option<Arc<dyn ConnectRemote>>,
}

/// The most worker threads a coordinator runs (`core_groups × workers_per_core`).
const MAX_WORKERS: usize = 1 << 16;
/// The most calls a mailbox holds: mailboxes are allocated when the coordinator
/// starts.
const MAX_MAILBOX: usize = 1 << 16;
/// The most worker processes a coordinator starts.
#[cfg(feature = "process")]
const MAX_PROCESSES: usize = 4096;
/// The most calls in flight to one worker process.
#[cfg(feature = "process")]
const MAX_PIPELINE: usize = 1024;
/// Calls in flight to one worker process, by default.
#[cfg(feature = "process")]
const DEFAULT_PIPELINE: usize = 8;

impl Config {
    /// Checks every setting, so that a bad one is an error from `start`, not a
    /// panic (or an abort on allocation) later.
    fn check(&self) -> Result<(), BuildError> {
        for (value, name) in [
            (self.core_groups, "core_groups"),
            (self.workers_per_core, "workers_per_core"),
            (self.lane_capacity, "lane_capacity"),
            (self.mailbox_capacity, "mailbox_capacity"),
            #[cfg(feature = "process")]
            (self.process_workers, "process_workers"),
            #[cfg(feature = "process")]
            (self.process_pipeline, "process_pipeline"),
        ] {
            if value == 0 {
                return Err(BuildError::zero(name));
            }
        }
        let workers = self.core_groups.checked_mul(self.workers_per_core);
        if workers.is_none_or(|n| n > MAX_WORKERS) {
            return Err(BuildError::too_large(
                "core_groups × workers_per_core",
                MAX_WORKERS,
                "each is a thread",
            ));
        }
        if self.mailbox_capacity > MAX_MAILBOX {
            return Err(BuildError::too_large(
                "mailbox_capacity",
                MAX_MAILBOX,
                "mailboxes are allocated up front; let calls wait in their lane instead \
                 (`lane_capacity` has no such limit)",
            ));
        }
        #[cfg(feature = "process")]
        if self.process_workers > MAX_PROCESSES {
            return Err(BuildError::too_large(
                "process_workers",
                MAX_PROCESSES,
                "each is a process",
            ));
        }
        #[cfg(feature = "process")]
        if self.process_pipeline > MAX_PIPELINE {
            return Err(BuildError::too_large(
                "process_pipeline",
                MAX_PIPELINE,
                "calls sent to a busy worker process wait behind its running call",
            ));
        }
        if self.thread_name.contains('\0') {
            return Err(BuildError::nul_in_thread_name());
        }
        if let Some(rule) = &self.auto_block {
            check_auto_block(rule)?;
        }
        #[cfg(feature = "metrics")]
        check_metrics(self)?;
        for limit in &self.limits {
            check_limit_name(&limit.name)?;
            if let Some(rate) = limit.rate {
                if rate.calls == 0 {
                    return Err(BuildError::bad_limit(
                        &limit.name,
                        "a rate of 0 calls would hold every call forever; pass at least 1 \
                         (or pause the operation instead)",
                    ));
                }
                if rate.per.is_zero() {
                    return Err(BuildError::bad_limit(
                        &limit.name,
                        "a rate's period must be longer than zero; pass a positive `Duration`",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Configures and starts an [`OperationsCoordinator`].
///
/// ```
/// use std::time::Duration;
/// use tokengate::{FullLanePolicy, OperationsCoordinator};
///
/// let coordinator = OperationsCoordinator::builder()
///     .core_groups(2)
///     .workers_per_core(1)
///     .lane_capacity(10_000)
///     .full_lane_policy(FullLanePolicy::Reject)
///     .stop_timeout(Duration::from_secs(1))
///     .start()
///     .expect("coordinator starts");
/// assert_eq!(coordinator.worker_count(), 2);
/// coordinator.stop();
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `.start()` is called"]
pub struct CoordinatorBuilder {
    config: Config,
}

impl Default for CoordinatorBuilder {
    fn default() -> Self {
        CoordinatorBuilder::new()
    }
}

impl CoordinatorBuilder {
    /// A builder with the defaults: one core group per logical CPU, 2 workers per
    /// group, 65,536 waiting calls per lane, 64 calls per mailbox, wait when a
    /// lane is full, 5 s to let running calls finish at stop, one worker process
    /// per logical CPU for `process_pool` calls, started on first use.
    pub fn new() -> Self {
        CoordinatorBuilder {
            config: Config {
                core_groups: num_cpus::get().max(1),
                workers_per_core: 2,
                cpu_share: false,
                lane_capacity: 65_536,
                mailbox_capacity: 64,
                full_lane: FullLanePolicy::Wait,
                stop_timeout: Duration::from_secs(5),
                thread_name: "tokengate".to_owned(),
                stack_size: None,
                storage_caps: StorageSpeed::ALL.map(StorageSpeed::default_cap),
                #[cfg(feature = "process")]
                process_workers: num_cpus::get().max(1),
                #[cfg(feature = "process")]
                prestart_processes: false,
                #[cfg(feature = "process")]
                process_pipeline: DEFAULT_PIPELINE,
                panic_handler: None,
                limits: Vec::new(),
                auto_block: None,
                max_queue_wait: None,
                #[cfg(feature = "metrics")]
                metrics_interval: Duration::from_secs(1),
                #[cfg(feature = "metrics")]
                metrics_labels: Vec::new(),
                remote: None,
            },
        }
    }

    /// How many core groups (default: logical CPUs). Heavy calls are served
    /// first by group 1, medium by groups 2 and up, light by groups 3 and up.
    pub fn core_groups(mut self, groups: usize) -> Self {
        self.config.core_groups = groups;
        self
    }

    /// Worker threads per core group (default 2). With two or more, each group
    /// keeps one worker for its home weights; see the scheduler design note.
    pub fn workers_per_core(mut self, workers: usize) -> Self {
        self.config.workers_per_core = workers;
        self
    }

    /// Shares the cores out by weight, not only the queues (default: off).
    ///
    /// With two workers per core group, a busy coordinator has twice as many
    /// running threads as cores, and the OS shares the cores among them
    /// evenly: under a flood of light calls, a heavy call's reserved worker
    /// gets half a core and the call takes twice its CPU time. With CPU share
    /// on, at most one call per core group runs at a time, and each weight owns
    /// the permits of its home groups: a call of a weight that runs fewer calls
    /// than it owns starts at once, while other weights' calls start only
    /// while the total is under the core count. So a heavy call under a light
    /// flood gets a core to itself within one light call, and a light call
    /// under a heavy flood still starts at once.
    ///
    /// Turn it on for CPU-bound calls. A call that blocks on something other
    /// than a token (a socket, a sleep, a lock) keeps its permit while it
    /// blocks, so fns that do IO belong on `storage_speed` tiers, whose
    /// threads take no permit; a call waiting on a token gives its permit back
    /// meanwhile, so nested calls never deadlock on permits.
    ///
    /// ```
    /// use tokengate::OperationsCoordinator;
    ///
    /// let coordinator = OperationsCoordinator::builder().cpu_share(true).start()?;
    /// coordinator.stop();
    /// # Ok::<(), tokengate::BuildError>(())
    /// ```
    pub fn cpu_share(mut self, on: bool) -> Self {
        self.config.cpu_share = on;
        self
    }

    /// How many calls may wait in each weight lane (default 65,536).
    ///
    /// With [`FullLanePolicy::Reject`] this bounds every call of the weight
    /// waiting to start, those already handed to a worker's mailbox
    /// included: the next call past it is rejected. (With the default
    /// [`FullLanePolicy::Wait`], calls handed to mailboxes do not count, and
    /// the calls past it wait in line.)
    pub fn lane_capacity(mut self, capacity: usize) -> Self {
        self.config.lane_capacity = capacity;
        self
    }

    /// How many admitted calls a worker's mailbox holds, the running one
    /// included (default 64).
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.config.mailbox_capacity = capacity;
        self
    }

    /// What a call does when its lane is full (default: wait for room).
    pub fn full_lane_policy(mut self, policy: FullLanePolicy) -> Self {
        self.config.full_lane = policy;
        self
    }

    /// How long [`stop`](OperationsCoordinator::stop) lets running calls finish
    /// before resolving them with a shutdown error (default 5 s). A timeout too
    /// large for the clock, such as `Duration::MAX`, waits for them as long as
    /// they run.
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.config.stop_timeout = timeout;
        self
    }

    /// Sizes the named limit `name`: every call naming it (`limit = "name"` on
    /// the attribute, or [`Task::limit`](crate::Task::limit)), of any fn, runs
    /// only while fewer than `cap` of them run. Calls over the cap wait, in
    /// call order and off the worker threads, and count as
    /// [`Waiting`](crate::TokenState::Waiting); kills, timeouts, pauses and
    /// drains apply to them as to any waiting call. 0 holds every such call
    /// until the cap is raised with [`Handle::set_limit`](crate::Handle::set_limit).
    ///
    /// A call that names a limit with no size (neither `limit` nor
    /// [`rate`](Self::rate) here, nor `set_limit` since) fails at once with
    /// [`ErrorKind::UnsizedLimit`](crate::ErrorKind::UnsizedLimit).
    ///
    /// ```
    /// use tokengate::{task_token_guard, OperationsCoordinator};
    ///
    /// #[task_token_guard(op = "fetch", limit = "github_api")]
    /// fn fetch(page: u32) -> u32 {
    ///     page // an HTTP request, say
    /// }
    ///
    /// let coordinator = OperationsCoordinator::builder()
    ///     .limit("github_api", 5)
    ///     .start()
    ///     .unwrap();
    /// let pages: Vec<_> = (0..20).map(fetch).collect();
    /// for (i, page) in pages.into_iter().enumerate() {
    ///     assert_eq!(page.wait().unwrap(), i as u32);
    /// }
    /// assert!(coordinator.stats().limit("github_api").unwrap().high_water <= 5);
    /// coordinator.stop();
    /// ```
    pub fn limit(mut self, name: impl Into<String>, cap: usize) -> Self {
        self.limit_spec(name.into()).cap = Some(cap);
        self
    }

    /// Gives the named limit `name` a rate: at most `calls` of its calls start
    /// per `per`, in bursts of up to `calls` (a token bucket, full at start).
    /// With [`limit`](Self::limit) too, both bind. Calls the rate holds back
    /// wait as calls over the cap do.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokengate::{OperationsCoordinator, Task};
    ///
    /// const PING: Task = Task::new("ping").limit("pings");
    ///
    /// let coordinator = OperationsCoordinator::builder()
    ///     .rate("pings", 100, Duration::from_secs(1))
    ///     .start()
    ///     .unwrap();
    /// let answers = tokengate::map(PING.func(|n: u32| n + 1), 0..10);
    /// assert!(answers.into_iter().all(|a| a.is_ok()));
    /// coordinator.stop();
    /// ```
    pub fn rate(mut self, name: impl Into<String>, calls: u32, per: Duration) -> Self {
        self.limit_spec(name.into()).rate = Some(RateSpec { calls, per });
        self
    }

    /// Turns on auto-block: a circuit breaker per operation (off by default).
    /// An op whose recent calls fail (or run slow) past the rule's thresholds
    /// is blocked: its new calls fail at once with
    /// [`ErrorKind::Blocked`](crate::ErrorKind::Blocked), until after the
    /// cooldown a probe call succeeds. See [`AutoBlock`], and
    /// [`Handle::block_operation`](crate::Handle::block_operation) for manual
    /// blocks (which work without this).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokengate::{task_token_guard, AutoBlock, ErrorKind, OperationsCoordinator};
    ///
    /// #[task_token_guard(op = "broken")]
    /// fn broken() -> u8 {
    ///     std::panic::resume_unwind(Box::new("always fails"))
    /// }
    ///
    /// let coordinator = OperationsCoordinator::builder()
    ///     .auto_block(AutoBlock::new().failure_ratio(0.9).min_calls(5).cooldown(Duration::from_secs(60)))
    ///     .start()
    ///     .unwrap();
    /// for _ in 0..5 {
    ///     assert!(broken().wait().unwrap_err().is_panic());
    /// }
    /// let refused = broken();
    /// assert!(refused.is_finished()); // refused at once, nothing ran
    /// assert_eq!(refused.wait().unwrap_err().kind(), ErrorKind::Blocked);
    /// assert_eq!(coordinator.blocked_operations(), ["broken"]);
    /// coordinator.stop();
    /// ```
    pub fn auto_block(mut self, rule: AutoBlock) -> Self {
        self.config.auto_block = Some(rule);
        self
    }

    /// Sheds calls that have not started `wait` after they were made: they
    /// resolve [`ErrorKind::Expired`](crate::ErrorKind::Expired) without
    /// running (a request that already missed its deadline should not take a
    /// worker). A fn's own `queue_timeout` overrides it. Off by default.
    pub fn max_queue_wait(mut self, wait: Duration) -> Self {
        self.config.max_queue_wait = Some(wait);
        self
    }

    /// Sends `remote = true` calls through a broker to worker hosts: `backend`
    /// connects when the coordinator starts (and [`start`](Self::start) fails
    /// if it cannot), and the coordinator closes it when it stops. Without
    /// one, `remote` calls run in this coordinator's own process pool, with
    /// the same encoding and the same errors (tests and local development
    /// need no broker).
    ///
    /// A remote call is admitted, counted, paused, drained, killed and timed
    /// out like any call, but once sent it holds no worker thread: its token
    /// resolves when the backend delivers its outcome. At most the backend's
    /// window of calls (`max_in_flight`) are in flight; more wait, `Waiting`,
    /// in a lane of their own (up to [`lane_capacity`](Self::lane_capacity),
    /// then in line or rejected per the [`FullLanePolicy`]).
    ///
    /// `tokengate-remote` provides the NATS JetStream backend:
    ///
    /// ```text
    /// let coordinator = OperationsCoordinator::builder()
    ///     .remote(tokengate_remote::Remote::nats("nats://10.0.0.5:4222").max_in_flight(1_000))
    ///     .start()?;
    /// ```
    ///
    /// A backend connected already is given as an `Arc` of it; any type that
    /// implements [`RemoteBackend`](crate::remote::RemoteBackend) will do.
    pub fn remote(mut self, backend: impl ConnectRemote) -> Self {
        self.config.remote = Some(Arc::new(backend));
        self
    }

    fn limit_spec(&mut self, name: String) -> &mut LimitSpec {
        let limits = &mut self.config.limits;
        let at = match limits.iter().position(|spec| spec.name == name) {
            Some(at) => at,
            None => {
                limits.push(LimitSpec {
                    name,
                    cap: None,
                    rate: None,
                });
                limits.len() - 1
            }
        };
        &mut limits[at]
    }

    /// How many calls of storage tier `speed` may run at once (defaults: SLOW 10,
    /// MODERATE 25, FAST 50, INSANE 70). 0 holds the tier's calls until the cap
    /// is raised with [`set_storage_cap`](crate::Handle::set_storage_cap).
    pub fn storage_cap(mut self, speed: StorageSpeed, cap: usize) -> Self {
        self.config.storage_caps[speed.index()] = cap;
        self
    }

    /// The prefix of worker thread names (default `"tokengate"`). It must not
    /// contain a NUL byte. Operating systems keep only a few bytes of a thread's
    /// name (15 on Linux), so keep the prefix short.
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Self {
        self.config.thread_name = prefix.into();
        self
    }

    /// The stack size, in bytes, of the threads that run calls (default: Rust's
    /// default for spawned threads, 2 MiB unless `RUST_MIN_STACK` says
    /// otherwise).
    ///
    /// A guarded fn runs on such a thread, so deep recursion needs a larger
    /// stack. A stack overflow is not a panic: it aborts the whole process, as
    /// on any thread. Raise this for deep recursion, or run code that might
    /// overflow (or `abort`) with `process_pool = true`, where only its worker
    /// process ends.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.config.stack_size = Some(bytes);
        self
    }

    /// How many worker processes `process_pool` calls may use at once (default:
    /// logical CPUs). Process-pool calls wait for a process in their weight's
    /// process queue, not on a worker thread, so a backlog of them holds no
    /// thread (see the [`process`](crate::process) docs).
    #[cfg(feature = "process")]
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    pub fn process_workers(mut self, processes: usize) -> Self {
        self.config.process_workers = processes;
        self
    }

    /// How many calls may be in flight to one worker process at once
    /// (default: 8). A worker process runs its calls one at a time; the ones
    /// behind the first wait in its socket, so that it starts the next as
    /// soon as it has answered one, without waiting a round trip for it
    /// (pipelining). That is what makes a batch of short calls cheap.
    ///
    /// A call sent behind another waits for it, even if another process
    /// frees up first. So calls go to an idle process when there is one, and
    /// are only queued behind a busy one once every worker process has
    /// started, and only while that process's calls are short (the one it
    /// runs has run for under a millisecond, and so did the one before);
    /// behind longer calls they wait in their process queue and go to
    /// whichever process frees up first. `1` sends a process one call at a
    /// time.
    ///
    /// # Examples
    ///
    /// ```
    /// // Long, uneven calls: never queue one behind another in a process.
    /// let coordinator = tokengate::OperationsCoordinator::builder()
    ///     .process_pipeline(1)
    ///     .start()
    ///     .unwrap();
    /// coordinator.stop();
    /// ```
    #[cfg(feature = "process")]
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    pub fn process_pipeline(mut self, calls: usize) -> Self {
        self.config.process_pipeline = calls;
        self
    }

    /// Start all [`process_workers`](Self::process_workers) when the
    /// coordinator starts (`true`), or each one when a `process_pool` call first
    /// needs it (`false`, the default, so that applications that make no such
    /// call start no processes). Prestarting moves the start-up cost (about a
    /// millisecond per process) out of the first calls, and reports a failure
    /// to start one from [`start`](Self::start).
    #[cfg(feature = "process")]
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    pub fn prestart_processes(mut self, prestart: bool) -> Self {
        self.config.prestart_processes = prestart;
        self
    }

    /// Reports panics in this coordinator's calls to `handler` instead of the
    /// panic hook (which prints them to stderr), as rayon's `panic_handler`
    /// does: route them to your logger, or count them. A panicking call still
    /// fails its token with [`is_panic`](crate::TaskError::is_panic) whatever
    /// the handler does; a panic in the handler itself is contained.
    ///
    /// The panic hook is process-wide: the first coordinator started with a
    /// handler installs a hook (once) that hands panics in calls of such
    /// coordinators to their handler and every other panic to the hook that
    /// was in place before. A hook set after that replaces it. Panics in
    /// `process_pool` calls are not printed by their worker process; the
    /// handler gets their message when the result comes back.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use tokengate::OperationsCoordinator;
    ///
    /// let panics = Arc::new(AtomicUsize::new(0));
    /// let seen = panics.clone();
    /// let coordinator = OperationsCoordinator::builder()
    ///     .panic_handler(move |report| {
    ///         assert_eq!(report.message, "expected");
    ///         seen.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .start()
    ///     .unwrap();
    /// let err = coordinator.run(|| tokengate::spawn("fails", || -> u8 { panic!("expected") }));
    /// assert!(err.wait().unwrap_err().is_panic());
    /// assert_eq!(panics.load(Ordering::SeqCst), 1); // and nothing was printed
    /// coordinator.stop();
    /// ```
    pub fn panic_handler<F>(mut self, handler: F) -> Self
    where
        F: Fn(&PanicReport<'_>) + Send + Sync + 'static,
    {
        self.config.panic_handler = Some(PanicHandler::new(handler));
        self
    }

    /// How often the coordinator publishes its metrics to the `metrics`
    /// facade's global recorder (default: every second), from its timer
    /// thread; it also publishes once more when it stops. A guarded call
    /// never touches the recorder itself: what is published is read from the
    /// counters and histograms behind [`stats`](crate::Handle::stats). An
    /// interval too long for the clock (`Duration::MAX`) publishes only at
    /// stop and when asked ([`publish_metrics`](crate::Handle::publish_metrics)).
    /// See [`telemetry`](crate::telemetry) for what is published.
    ///
    /// # Errors
    ///
    /// [`start`](Self::start) fails if `interval` is zero.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics_interval(mut self, interval: Duration) -> Self {
        self.config.metrics_interval = interval;
        self
    }

    /// Adds label `key="value"` to every series this coordinator publishes
    /// to the `metrics` facade: with several coordinators in one process,
    /// give each its own, or their series (absolute values) overwrite each
    /// other.
    ///
    /// ```
    /// let coordinator = tokengate::OperationsCoordinator::builder()
    ///     .metrics_label("pool", "thumbnails")
    ///     .start()
    ///     .unwrap();
    /// # coordinator.stop();
    /// ```
    ///
    /// # Errors
    ///
    /// [`start`](Self::start) fails if `key` is not a valid label name
    /// (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`), or is one
    /// tokengate's families use themselves.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.metrics_labels.push((key.into(), value.into()));
        self
    }

    /// Starts the coordinator's threads and makes it the process default.
    ///
    /// # Errors
    ///
    /// Fails if a count or capacity is 0 or out of range (at most
    /// 65,536 worker threads, 65,536 calls per mailbox and 4,096 worker
    /// processes), if the thread name holds a NUL byte, if a thread cannot be
    /// spawned, if two `process_pool` fns linked into the executable share an op
    /// name, if prestarted worker processes cannot be started, or if the
    /// [`remote`](Self::remote) backend cannot connect.
    pub fn start(self) -> Result<OperationsCoordinator, BuildError> {
        self.config.check()?;
        #[cfg(feature = "process")]
        if let Some((first, second)) = crate::process::registry::duplicate() {
            return Err(BuildError::duplicate_op(first.op, first.path, second.path));
        }
        OperationsCoordinator::from_config(self.config)
    }
}

/// A limit name must be one a call can give: not empty, no control characters.
fn check_limit_name(name: &str) -> Result<(), BuildError> {
    if name.is_empty() {
        return Err(BuildError::bad_limit(
            name,
            "a limit needs a name; pass the name its calls give in `limit = \"...\"`",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(BuildError::bad_limit(
            name,
            "a limit name must not contain control characters; use the name its calls give",
        ));
    }
    Ok(())
}

/// A metrics interval must be positive, and extra labels valid and not
/// tokengate's own.
#[cfg(feature = "metrics")]
fn check_metrics(config: &Config) -> Result<(), BuildError> {
    if config.metrics_interval.is_zero() {
        return Err(BuildError::invalid(
            "metrics_interval",
            "the interval must be longer than zero; pass how often to publish (1 s is the \
             default)",
        ));
    }
    for (key, _) in &config.metrics_labels {
        let mut chars = key.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !key.starts_with("__");
        if !valid {
            return Err(BuildError::invalid(
                "metrics_label",
                "a label name is letters, digits and `_`, not starting with a digit or `__`",
            ));
        }
        let taken = crate::telemetry::METRICS
            .iter()
            .any(|metric| metric.labels.contains(&key.as_str()))
            || key == "le";
        if taken {
            return Err(BuildError::invalid(
                "metrics_label",
                "tokengate's metrics use this label name themselves; pick another",
            ));
        }
    }
    Ok(())
}

/// Auto-block's ratios are fractions, and its window must hold time.
fn check_auto_block(rule: &AutoBlock) -> Result<(), BuildError> {
    let fraction = |ratio: f64| ratio > 0.0 && ratio <= 1.0;
    if !fraction(rule.failure_ratio) {
        return Err(BuildError::invalid(
            "AutoBlock::failure_ratio",
            "a ratio must be above 0.0 and at most 1.0 (0.9 trips at 90% failures)",
        ));
    }
    if rule.slow.is_some_and(|(_, ratio)| !fraction(ratio)) {
        return Err(BuildError::invalid(
            "AutoBlock::slow_call",
            "a ratio must be above 0.0 and at most 1.0 (0.5 trips when half the calls are slow)",
        ));
    }
    if rule.window.is_zero() {
        return Err(BuildError::invalid(
            "AutoBlock::window",
            "the window must be longer than zero; pass the span of time outcomes count over",
        ));
    }
    Ok(())
}
