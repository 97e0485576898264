//! [`Handle`]: a cheap, cloneable reference to a running coordinator, with its
//! admin and telemetry surface.

use std::fmt;
use std::sync::Arc;

use super::current::{self, EnterGuard};
use super::guard::Why;
use super::shared::Shared;
use super::{prometheus, samples, stats, trace};
use crate::stats::Stats;
use crate::{StorageSpeed, TokenId};

/// A cheap, cloneable reference to a coordinator: administer it, watch it, and
/// bind calls to it, from anywhere.
///
/// The [`OperationsCoordinator`](crate::OperationsCoordinator) owns the
/// coordinator and stops it; a `Handle` only observes and administers (as
/// tokio separates `Runtime` and `Handle`). Hand one to an admin endpoint or a
/// dashboard; every method here is also available on the coordinator itself.
/// Once the coordinator has stopped, a handle still answers: stats are its
/// last state, and admin calls find nothing to act on.
///
/// ```
/// use tokengate::{Handle, OperationsCoordinator};
///
/// let coordinator = OperationsCoordinator::start();
/// let handle = coordinator.handle();
/// let admin = std::thread::spawn(move || {
///     handle.pause_operation("reports");
///     handle.is_running()
/// });
/// assert!(admin.join().unwrap());
/// assert!(coordinator.stats().op("reports").is_none()); // no call made yet
///
/// // Inside a call, or where calls would go: the coordinator they go to.
/// let inside = tokengate::spawn("workers", || Handle::current().worker_count());
/// assert_eq!(inside.wait().unwrap(), coordinator.worker_count());
/// coordinator.stop();
/// ```
#[derive(Clone)]
pub struct Handle {
    pub(super) shared: Arc<Shared>,
}

impl Handle {
    /// The coordinator a guarded call made here would go to: inside a guarded
    /// fn, the coordinator running it; else the most recently entered one on
    /// this thread; else the process default (see
    /// [Which coordinator a call goes to](crate::OperationsCoordinator#which-coordinator-a-call-goes-to)).
    ///
    /// # Panics
    ///
    /// Panics if no coordinator is running; see [`try_current`](Self::try_current).
    #[track_caller]
    pub fn current() -> Handle {
        Handle::try_current().unwrap_or_else(|| {
            panic!(
                "`Handle::current()` found no running coordinator; start one with \
                 `OperationsCoordinator::start()`, or use `Handle::try_current()`"
            )
        })
    }

    /// [`current`](Self::current), or `None` if no coordinator is running.
    pub fn try_current() -> Option<Handle> {
        current::resolve().map(|shared| Handle { shared })
    }

    /// Whether the coordinator still runs (it has not begun to stop).
    pub fn is_running(&self) -> bool {
        self.shared.is_running()
    }

    /// The pids of this coordinator's worker processes alive now (`process_pool`
    /// calls), sorted. Empty until a process-pool call first needs one, unless
    /// [`prestart_processes`](crate::CoordinatorBuilder::prestart_processes) is set.
    #[cfg(feature = "process")]
    #[cfg_attr(docsrs, doc(cfg(feature = "process")))]
    pub fn worker_processes(&self) -> Vec<u32> {
        self.shared.process.pids()
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
    ///     let token = tokengate::spawn("sum", || 1 + 1);
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

    /// The coordinator's [`stats`](Self::stats), every family of
    /// [`telemetry::METRICS`](crate::telemetry::METRICS), in the Prometheus
    /// text exposition format (version 0.0.4): serve it as a `/metrics`
    /// endpoint (content type `text/plain; version=0.0.4`) without any
    /// exporter. Histograms of queue wait and run time per operation are cut
    /// at the runtime's own bucket boundaries, so their counts are exact.
    /// Costs what [`stats`](Self::stats) costs, plus the text.
    ///
    /// ```
    /// use tokengate::OperationsCoordinator;
    ///
    /// let coordinator = OperationsCoordinator::start();
    /// tokengate::spawn("thumbnail", || ()).wait().unwrap();
    /// let text = coordinator.prometheus_text();
    /// assert!(text.contains(r#"tokengate_calls_submitted_total{op="thumbnail"} 1"#));
    /// assert!(text.contains(r#"tokengate_run_seconds_count{op="thumbnail"} 1"#));
    /// coordinator.stop();
    /// ```
    pub fn prometheus_text(&self) -> String {
        let (stats, latencies) = stats::collect_with_latencies(&self.shared);
        prometheus::render(&samples::from_stats(&stats, latencies))
    }

    /// Publishes the coordinator's metrics to the `metrics` facade now, to
    /// the recorder current on this thread (a `with_local_recorder` one, or
    /// the global one): counters and gauges at their current values,
    /// histograms with the samples recorded since the last publication. The
    /// coordinator does this on its own every
    /// [`metrics_interval`](crate::CoordinatorBuilder::metrics_interval) and
    /// when it stops; call it right after installing a recorder, or before a
    /// scrape that must be current. See [`telemetry`](crate::telemetry).
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn publish_metrics(&self) {
        self.shared.export.publish(&self.shared);
    }

    /// Live (unfinished) tokens, from the registry.
    pub fn live_tokens(&self) -> usize {
        self.shared.registry.len()
    }

    /// Kills the live token with this id ([`TaskToken::id`](crate::TaskToken::id), or
    /// [`current_token_id`](crate::current_token_id) inside the call, or
    /// [`TaskError::token_id`](crate::TaskError::token_id)), as
    /// [`TaskToken::kill`](crate::TaskToken::kill) does. Returns whether it took effect: false if the
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

    /// Sets the cap of named limit `name` (making it if the coordinator has
    /// none of that name). Calls holding a permit keep it (none is lost or
    /// counted twice): raising the cap lets waiting calls through now;
    /// lowering it holds new ones until fewer than the new cap run. 0 holds
    /// every call of the limit.
    ///
    /// ```
    /// let coordinator = tokengate::OperationsCoordinator::builder()
    ///     .limit("db", 8)
    ///     .start()
    ///     .unwrap();
    /// coordinator.set_limit("db", 2);
    /// assert_eq!(coordinator.stats().limit("db").unwrap().cap, Some(2));
    /// coordinator.stop();
    /// ```
    pub fn set_limit(&self, name: &str, cap: usize) {
        if self.shared.limits.set_cap(name, cap) {
            self.shared.admitter.wake();
        }
    }

    /// Sets the rate of named limit `name` (making it if needed): at most
    /// `calls` starts per `per`, in bursts of up to `calls`; the bucket starts
    /// full.
    ///
    /// # Panics
    ///
    /// Panics if `calls` is 0 or `per` is zero (as
    /// [`CoordinatorBuilder::rate`](crate::CoordinatorBuilder::rate) rejects
    /// them).
    pub fn set_rate(&self, name: &str, calls: u32, per: std::time::Duration) {
        assert!(
            calls > 0 && !per.is_zero(),
            "`set_rate(\"{name}\", {calls}, {per:?})`: a rate needs at least 1 call per a \
             positive period; pause the operation to hold its calls instead"
        );
        let rate = super::limit::RateSpec { calls, per };
        if self.shared.limits.set_rate(name, rate) {
            self.shared.admitter.wake();
        }
    }

    /// A snapshot of the calls in flight (queued, running, and bodies still
    /// running after their call was killed or timed out), oldest first: what
    /// is stuck right now. Each entry says where the call waits or runs, on
    /// which worker, for how long, and whether it misbehaves (a body running
    /// on after a kill, a call running past its op's p99).
    ///
    /// Its cost is one pass over the live calls (and a run-time histogram
    /// read per operation seen), under the registry's shard locks one at a
    /// time: fine for a dashboard or a debug endpoint, not for a hot loop.
    ///
    /// ```
    /// use tokengate::{stats::LivePath, OperationsCoordinator, Task, TokenState, Weight};
    ///
    /// let coordinator = OperationsCoordinator::start();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let token = coordinator.run(|| {
    ///     Task::new("wait_for_signal").weight(Weight::Light).spawn(move || rx.recv().ok())
    /// });
    /// # while token.state() != TokenState::Executing { std::thread::yield_now(); }
    /// let live = coordinator.live_calls();
    /// let call = live.iter().find(|c| c.id == token.id()).unwrap();
    /// assert_eq!((call.op, call.path), ("wait_for_signal", LivePath::Lane(Weight::Light)));
    /// assert!(call.worker.is_some());
    /// tx.send(()).unwrap();
    /// token.wait().unwrap();
    /// coordinator.stop();
    /// ```
    pub fn live_calls(&self) -> Vec<crate::stats::LiveCall> {
        self.shared.live_calls()
    }

    /// The streaming maps ([`map_unordered`](crate::map_unordered),
    /// [`a_map_unordered`](crate::a_map_unordered)) whose calls run here now,
    /// oldest first, with their progress: for a dashboard's progress bars.
    /// A map appears with its first call and disappears when it ends or is
    /// dropped.
    ///
    /// ```
    /// use tokengate::{OperationsCoordinator, Task};
    ///
    /// let coordinator = OperationsCoordinator::start();
    /// let double = Task::new("double").func(|x: u32| x * 2);
    /// let mut results = tokengate::map_unordered(double, 0..100).label("doubling");
    /// let (_, first) = results.next().unwrap();
    /// assert!(first.is_ok());
    /// let maps = coordinator.bulk_maps();
    /// assert_eq!((maps[0].label.as_str(), maps[0].total), ("doubling", 100));
    /// assert_eq!(results.count(), 99);
    /// assert!(coordinator.bulk_maps().is_empty());
    /// coordinator.stop();
    /// ```
    pub fn bulk_maps(&self) -> Vec<crate::stats::BulkMap> {
        self.shared.bulk_maps.snapshot()
    }

    /// Blocks operation `op` until [`unblock_operation`](Self::unblock_operation):
    /// its new calls fail at once with
    /// [`ErrorKind::Blocked`](crate::ErrorKind::Blocked); calls already queued
    /// stay queued (drain them with
    /// [`drain_operation`](Self::drain_operation) to drop them). Works with or
    /// without [`AutoBlock`](crate::AutoBlock); a manual block is never
    /// probed.
    ///
    /// ```
    /// use tokengate::{ErrorKind, OperationsCoordinator, Task};
    ///
    /// let coordinator = OperationsCoordinator::start();
    /// coordinator.block_operation("export");
    /// let refused = coordinator.run(|| Task::new("export").spawn(|| ()));
    /// assert_eq!(refused.wait().unwrap_err().kind(), ErrorKind::Blocked);
    /// assert!(coordinator.unblock_operation("export"));
    /// assert!(coordinator.run(|| Task::new("export").spawn(|| ())).wait().is_ok());
    /// coordinator.stop();
    /// ```
    pub fn block_operation(&self, op: &str) {
        self.shared.guards.of(op).block();
        trace::op_blocked(op, &Why::Manual, true);
    }

    /// Lifts a block of `op`, manual or automatic (its window of outcomes
    /// starts afresh). Returns whether it was blocked.
    pub fn unblock_operation(&self, op: &str) -> bool {
        let was = self.shared.guards.of(op).unblock();
        if was {
            trace::op_unblocked(op, "manual");
        }
        was
    }

    /// The operations blocked now (manually, or tripped by
    /// [`AutoBlock`](crate::AutoBlock), including those being probed), sorted
    /// by name.
    pub fn blocked_operations(&self) -> Vec<String> {
        self.shared.guards.blocked()
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

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("core_groups", &self.core_groups())
            .field("workers", &self.worker_count())
            .field("running", &self.is_running())
            .finish()
    }
}
