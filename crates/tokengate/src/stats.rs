//! The snapshot [`stats`](crate::Handle::stats) returns: counts by state, per
//! operation, per lane, per worker, per storage tier, and latencies.
//!
//! Taking a snapshot costs the same whether a hundred or a billion calls were
//! ever made: counters are sums over per-thread shards, queue depths are atomic
//! gauges, and latencies come from fixed-size histograms (per operation, with
//! a relative error of at most 12.5 %; see [`LatencySummary`]).
//!
//! With the `serde` feature, every type here is `serde::Serialize`: names as
//! strings, durations as seconds (`f64`), for JSON endpoints and dashboards.
//!
//! ```
//! # let coordinator = tokengate::OperationsCoordinator::start();
//! # tokengate::spawn("resize", || ()).wait().unwrap();
//! let stats: tokengate::stats::Stats = coordinator.stats();
//! assert_eq!(stats.tokens.completed, 1);
//! let resize = stats.op("resize").expect("calls of `resize` were made");
//! assert_eq!(resize.run_time.count, 1);
//! println!("{stats}"); // a readable table
//! # coordinator.stop();
//! ```

use std::fmt;
use std::time::Duration;

use crate::metrics::{HistogramSnapshot, StateTotals};
use crate::{StorageSpeed, TokenState, Weight};

#[cfg(feature = "serde")]
use serde::Serialize;

/// Serializes a duration as seconds, the unit metrics use.
#[cfg(feature = "serde")]
fn seconds<S: serde::Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(d.as_secs_f64())
}

/// How many tokens are in each state: live states are counted now, terminal
/// states since the coordinator started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct StateCounts {
    /// Calls made (tokens created) since start.
    pub submitted: u64,
    /// Tokens waiting in a lane, in line for one, or held by a pause, now.
    pub waiting: u64,
    /// Tokens in a worker's mailbox, now.
    pub admitted: u64,
    /// Bodies running, now.
    pub executing: u64,
    /// Calls that returned a value, since start.
    pub completed: u64,
    /// Calls that panicked, since start.
    pub failed: u64,
    /// Calls killed, drained, rejected or shut down, since start.
    pub killed: u64,
    /// Calls that timed out, since start.
    pub timed_out: u64,
}

impl StateCounts {
    pub(crate) fn from_totals(t: &StateTotals) -> Self {
        StateCounts {
            submitted: t.entered[TokenState::Created.to_u8() as usize],
            waiting: t.count(TokenState::Waiting),
            admitted: t.count(TokenState::Admitted),
            executing: t.count(TokenState::Executing),
            completed: t.count(TokenState::Completed),
            failed: t.count(TokenState::Failed),
            killed: t.count(TokenState::Killed),
            timed_out: t.count(TokenState::TimedOut),
        }
    }

    /// Tokens that reached a terminal state.
    pub fn finished(&self) -> u64 {
        self.completed + self.failed + self.killed + self.timed_out
    }

    /// Tokens not finished yet (`submitted - finished`).
    pub fn in_flight(&self) -> u64 {
        self.submitted.saturating_sub(self.finished())
    }
}

/// A latency distribution, from a log-linear histogram: each percentile is
/// the lower bound of its bucket, within 12.5 % below the true value (never
/// above the largest sample). `Display` rounds to that precision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct LatencySummary {
    /// Samples recorded.
    pub count: u64,
    /// Mean.
    #[cfg_attr(feature = "serde", serde(serialize_with = "seconds"))]
    pub mean: Duration,
    /// Median.
    #[cfg_attr(feature = "serde", serde(serialize_with = "seconds"))]
    pub p50: Duration,
    /// 95th percentile.
    #[cfg_attr(feature = "serde", serde(serialize_with = "seconds"))]
    pub p95: Duration,
    /// 99th percentile.
    #[cfg_attr(feature = "serde", serde(serialize_with = "seconds"))]
    pub p99: Duration,
    /// Largest sample.
    #[cfg_attr(feature = "serde", serde(serialize_with = "seconds"))]
    pub max: Duration,
}

impl LatencySummary {
    pub(crate) fn from_snapshot(s: &HistogramSnapshot) -> Self {
        LatencySummary {
            count: s.count(),
            mean: s.mean(),
            p50: s.quantile(0.50),
            p95: s.quantile(0.95),
            p99: s.quantile(0.99),
            max: s.max(),
        }
    }
}

impl fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {} p95 {} p99 {} max {} ({} samples)",
            Rounded(self.p50),
            Rounded(self.p95),
            Rounded(self.p99),
            Rounded(self.max),
            self.count
        )
    }
}

/// A duration printed to three significant digits in a fitting unit
/// (`872ms`, `1.23s`, `45.6µs`): the precision latency histograms have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rounded(pub(crate) Duration);

impl fmt::Display for Rounded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos() as f64;
        let (value, unit) = if nanos < 1e3 {
            (nanos, "ns")
        } else if nanos < 1e6 {
            (nanos / 1e3, "µs")
        } else if nanos < 1e9 {
            (nanos / 1e6, "ms")
        } else {
            (nanos / 1e9, "s")
        };
        let decimals = if value >= 100.0 {
            0
        } else if value >= 10.0 {
            1
        } else {
            2
        };
        write!(f, "{value:.decimals$}{unit}")
    }
}

/// Counts and latencies for one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct OpStats {
    /// The operation name.
    pub op: &'static str,
    /// Its tokens by state (summed over the weights it was called with).
    pub counts: StateCounts,
    /// Whether the operation is paused.
    pub paused: bool,
    /// Calls held back by its pause, now.
    pub held: usize,
    /// Failed attempts that were retried (`retries`), since start.
    pub retries: u64,
    /// Calls resolved expired (`queue_timeout`, `max_queue_wait`): shed
    /// without running, since start.
    pub expired: u64,
    /// Bodies of this op still running after their call was killed or timed
    /// out, now.
    pub orphaned: usize,
    /// Its circuit breaker: the outcomes in its window, and whether it is
    /// blocked.
    pub health: OpHealth,
    /// Time from the call to the start of its body.
    pub queue_wait: LatencySummary,
    /// Time its bodies ran (to their result, or to a kill or timeout).
    pub run_time: LatencySummary,
}

/// One weight lane.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct LaneStats {
    /// The lane's weight.
    pub weight: Weight,
    /// How long the oldest call waiting in this lane (or its line) has
    /// waited, if any waits: a lane whose oldest call waits long is starved.
    #[cfg_attr(feature = "serde", serde(serialize_with = "optional_seconds"))]
    pub oldest_wait: Option<Duration>,
    /// Calls holding a slot of this lane (waiting or held), now.
    pub depth: usize,
    /// Calls waiting in line for room (made while the lane was full), now;
    /// calls killed in line may be counted until the line reaches them.
    pub in_line: usize,
    /// The lane's capacity.
    pub capacity: usize,
    /// Tokens of this weight by state.
    pub counts: StateCounts,
}

/// One worker thread.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct WorkerStats {
    /// The worker's index.
    pub index: usize,
    /// Its core group (0-based).
    pub group: usize,
    /// Whether it serves weights whose home is another group.
    pub roams: bool,
    /// Calls in its mailbox, now.
    pub queued: usize,
    /// Whether it runs a call now.
    pub busy: bool,
    /// Calls it ran, since start.
    pub ran: u64,
}

/// One storage tier (`storage_speed`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct StorageStats {
    /// The tier.
    pub speed: StorageSpeed,
    /// How many of its calls may run at once.
    pub cap: usize,
    /// How many run now.
    pub running: usize,
    /// The most that ever ran at once.
    pub high_water: usize,
    /// Calls waiting for their turn, now.
    pub waiting: usize,
    /// Calls waiting in line for room in the tier's queue (made while it was
    /// full), now.
    pub in_line: usize,
    /// The tier's calls by state, since start: IO calls and combined calls
    /// (a storage call with an explicit weight), which are not counted under
    /// a CPU lane.
    pub counts: StateCounts,
}

/// One named limit (`limit = "..."`; see
/// [`CoordinatorBuilder::limit`](crate::CoordinatorBuilder::limit)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct LimitStats {
    /// The limit's name.
    pub name: String,
    /// How many of its calls may run at once; `None` if only its rate binds.
    pub cap: Option<usize>,
    /// How many of its calls may start per period, if it has a rate.
    pub rate: Option<RateStats>,
    /// How many hold a permit now (passed the gate and not finished).
    pub running: usize,
    /// How many wait at the gate now.
    pub waiting: usize,
    /// The most that ever held a permit at once.
    pub high_water: usize,
    /// Calls let through the gate, since start.
    pub started: u64,
}

/// A limit's rate: at most `calls` starts per `per`, in bursts of up to
/// `calls`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct RateStats {
    /// Starts per period.
    pub calls: u32,
    /// The period.
    #[cfg_attr(feature = "serde", serde(serialize_with = "seconds"))]
    pub per: Duration,
}

/// The worker processes of `process_pool` calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct ProcessStats {
    /// How many may run at once ([`process_workers`](crate::CoordinatorBuilder::process_workers)).
    pub size: usize,
    /// How many calls may be in flight to one of them
    /// ([`process_pipeline`](crate::CoordinatorBuilder::process_pipeline)).
    pub pipeline: usize,
    /// Calls waiting for a worker process in the process queues (all
    /// weights), in line behind them included. They hold no thread.
    pub waiting: usize,
    /// Calls handed to the pool and not answered: running in a worker
    /// process, queued behind the running one in its socket, or about to be
    /// sent.
    pub in_flight: usize,
    /// Worker processes alive now, idle or busy.
    pub alive: usize,
    /// Of those, how many wait for a call.
    pub idle: usize,
    /// Worker processes started, since start (replacements included).
    pub spawned: u64,
    /// Worker processes that died while running a call (abort, crash, exit,
    /// outside kill), since start. Each failed its call with
    /// [`is_worker_lost`](crate::TaskError::is_worker_lost).
    pub lost: u64,
    /// Worker processes found dead before a call reached them (they died while
    /// idle, for example to the OOM killer), since start. The call went on to
    /// another worker, so none of these failed a call.
    pub died_idle: u64,
    /// Worker processes killed because their call was killed, timed out or
    /// shut down, since start.
    pub killed: u64,
    /// Calls sent again to another worker process because theirs died (or
    /// was killed for another call) before it started them, since start.
    /// None of them ran twice.
    pub resent: u64,
}

/// The state of a remote backend's connection to its broker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum RemoteConnection {
    /// Connected.
    Connected,
    /// Lost; the backend reconnects in the background. Calls wait in the
    /// broker's client meanwhile, until their publish attempts run out.
    Disconnected,
    /// Not connected yet.
    #[default]
    Pending,
}

impl RemoteConnection {
    /// The state's lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RemoteConnection::Connected => "connected",
            RemoteConnection::Disconnected => "disconnected",
            RemoteConnection::Pending => "pending",
        }
    }
}

impl fmt::Display for RemoteConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One worker host serving a remote backend's calls, as the backend last
/// heard from it (`tokengate-remote`'s workers announce themselves with
/// heartbeats; a backend lists those heard from lately).
///
/// A backend builds one with `RemoteWorker::default()` and sets the fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct RemoteWorker {
    /// The worker's id, unique among the live workers of its pool.
    pub id: String,
    /// The name of the machine it runs on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// The pool of `remote` calls it serves (`"default"` for `remote = true`).
    pub pool: String,
    /// The weights it serves.
    pub weights: Vec<Weight>,
    /// Whether it serves `sticky_anchor` calls (their partitions).
    pub sticky: bool,
    /// Calls it runs at once, at most.
    pub slots: usize,
    /// Calls it was running when last heard from.
    pub busy: usize,
    /// Calls it had finished running when last heard from, since it started.
    pub done: u64,
    /// How long it has served.
    #[cfg_attr(feature = "serde", serde(serialize_with = "seconds"))]
    pub up: Duration,
    /// How long ago it was last heard from.
    #[cfg_attr(feature = "serde", serde(serialize_with = "seconds"))]
    pub last_seen: Duration,
}

/// The `remote` calls of a coordinator with a remote backend
/// ([`CoordinatorBuilder::remote`](crate::CoordinatorBuilder::remote)).
///
/// The backend fills in what it knows (a backend builds one with
/// `RemoteStats::default()` and sets the fields); the coordinator adds
/// [`waiting`](Self::waiting) and [`in_line`](Self::in_line).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct RemoteStats {
    /// The broker connection now.
    pub connection: RemoteConnection,
    /// How many calls may be in flight at once (`max_in_flight`).
    pub max_in_flight: usize,
    /// Calls handed to the backend whose outcome has not come back, now.
    pub in_flight: usize,
    /// Calls waiting for room in the window (holding a slot of the remote
    /// lane, or held by a pause), now.
    pub waiting: usize,
    /// Calls waiting in line for room in the remote lane (made while it was
    /// full), now.
    pub in_line: usize,
    /// Calls handed to the backend, since start (each attempt of a retried
    /// call counts).
    pub submitted: u64,
    /// Outcomes produced by a second or later delivery of their call (its
    /// first worker host died or lost the broker mid-call), since start.
    pub redelivered: u64,
    /// Outcomes dropped because their call had resolved already (a second
    /// result of a call that ran twice, or a late result of a killed call),
    /// since start.
    pub duplicates_dropped: u64,
    /// Calls delivered as often as the broker allows without finishing
    /// (each failed with [`is_worker_lost`](crate::TaskError::is_worker_lost)),
    /// since start.
    pub poison: u64,
    /// Calls the broker did not take (each failed with
    /// [`is_remote_unavailable`](crate::TaskError::is_remote_unavailable)),
    /// since start.
    pub unavailable: u64,
    /// The worker hosts heard from lately, with their slots, by pool and
    /// host; a host that stops or falls silent drops out of the list.
    pub workers: Vec<RemoteWorker>,
}

impl RemoteStats {
    /// The slots of the listed worker hosts: `(busy, total)`.
    pub fn slots(&self) -> (usize, usize) {
        self.workers
            .iter()
            .fold((0, 0), |(busy, total), w| (busy + w.busy, total + w.slots))
    }
}

/// A snapshot of a coordinator: see [`Handle::stats`](crate::Handle::stats).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct Stats {
    /// All tokens by state.
    pub tokens: StateCounts,
    /// Live tokens (not finished): queued, held or running.
    pub in_flight: u64,
    /// Per operation, sorted by name.
    pub ops: Vec<OpStats>,
    /// Per lane, lightest first.
    pub lanes: Vec<LaneStats>,
    /// Per worker, by index.
    pub workers: Vec<WorkerStats>,
    /// Per storage tier, slowest first.
    pub storage: Vec<StorageStats>,
    /// Per named limit, by name.
    pub limits: Vec<LimitStats>,
    /// Bodies still running after their call was killed or timed out (their
    /// threads are busy with them; [`Handle::live_calls`](crate::Handle::live_calls)
    /// lists them).
    pub orphaned_bodies: usize,
    /// IO threads alive (they serve storage tiers and exit when idle).
    pub io_threads: usize,
    /// Live sticky domains: pins held by queued or running calls.
    pub sticky_domains: usize,
    /// Live lead domains: leads or children not finished yet.
    pub lead_domains: usize,
    /// Calls made inside a lead to ops its `external_calls` does not list
    /// (routed freely), since start.
    pub lead_unlisted_calls: u64,
    /// Time from the call to the start of its body, all operations.
    pub queue_wait: LatencySummary,
    /// Time bodies ran (to their result, or to a kill or timeout), all
    /// operations.
    pub run_time: LatencySummary,
    /// Whether admission is paused globally.
    pub paused: bool,
    /// The worker processes of `process_pool` calls.
    pub processes: ProcessStats,
    /// The `remote` calls, if the coordinator has a remote backend.
    pub remote: Option<RemoteStats>,
}

impl Stats {
    /// The entry for `op`, if calls of it were made.
    pub fn op(&self, op: &str) -> Option<&OpStats> {
        self.ops.iter().find(|o| o.op == op)
    }

    /// The entry for the `weight` lane.
    pub fn lane(&self, weight: Weight) -> &LaneStats {
        &self.lanes[weight.index()]
    }

    /// The entry for storage tier `speed`.
    pub fn storage(&self, speed: StorageSpeed) -> &StorageStats {
        &self.storage[speed.index()]
    }

    /// The entry for limit `name`, if the coordinator has it.
    pub fn limit(&self, name: &str) -> Option<&LimitStats> {
        self.limits.iter().find(|l| l.name == name)
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.tokens;
        writeln!(
            f,
            "tokens: {} submitted, {} waiting, {} admitted, {} executing, {} completed, \
             {} failed, {} killed, {} timed out{}",
            t.submitted,
            t.waiting,
            t.admitted,
            t.executing,
            t.completed,
            t.failed,
            t.killed,
            t.timed_out,
            if self.paused {
                " (admission paused)"
            } else {
                ""
            }
        )?;
        for lane in &self.lanes {
            writeln!(
                f,
                "lane {:<6} depth {:>6}/{:<6} in line {:>6} completed {:>8}",
                lane.weight, lane.depth, lane.capacity, lane.in_line, lane.counts.completed
            )?;
        }
        for tier in self
            .storage
            .iter()
            .filter(|t| t.high_water > 0 || t.waiting > 0)
        {
            writeln!(
                f,
                "storage {:<8} running {:>3}/{:<3} high water {:>3} waiting {:>6} completed {:>8}",
                tier.speed,
                tier.running,
                tier.cap,
                tier.high_water,
                tier.waiting,
                tier.counts.completed
            )?;
        }
        for limit in &self.limits {
            let cap = limit.cap.map_or("-".to_owned(), |cap| cap.to_string());
            write!(
                f,
                "limit {:<14} running {:>3}/{:<3} high water {:>3} waiting {:>6} started {:>8}",
                limit.name, limit.running, cap, limit.high_water, limit.waiting, limit.started
            )?;
            match &limit.rate {
                Some(rate) => writeln!(f, " rate {}/{}", rate.calls, Rounded(rate.per))?,
                None => writeln!(f)?,
            }
        }
        if self.sticky_domains + self.lead_domains > 0 {
            writeln!(
                f,
                "domains: {} sticky, {} lead",
                self.sticky_domains, self.lead_domains
            )?;
        }
        let p = &self.processes;
        if p.spawned > 0 {
            writeln!(
                f,
                "processes: {} alive ({} idle) of {}, {} started, {} lost, {} died idle, {} killed; \
                 calls: {} waiting, {} in flight, {} resent",
                p.alive,
                p.idle,
                p.size,
                p.spawned,
                p.lost,
                p.died_idle,
                p.killed,
                p.waiting,
                p.in_flight,
                p.resent
            )?;
        }
        if let Some(r) = &self.remote {
            writeln!(
                f,
                "remote: broker {}, in flight {}/{}, waiting {}, in line {}, submitted {}, \
                 redelivered {}, duplicates dropped {}, poison {}, unavailable {}",
                r.connection,
                r.in_flight,
                r.max_in_flight,
                r.waiting,
                r.in_line,
                r.submitted,
                r.redelivered,
                r.duplicates_dropped,
                r.poison,
                r.unavailable
            )?;
            for w in &r.workers {
                let weights: Vec<&str> = w.weights.iter().map(|w| w.as_str()).collect();
                writeln!(
                    f,
                    "remote worker {} on {} (pid {}) pool {:<10} slots {:>3}/{:<3} busy, done {:>8}, \
                     weights {}{}, up {}s",
                    w.id,
                    w.host,
                    w.pid,
                    w.pool,
                    w.busy,
                    w.slots,
                    w.done,
                    weights.join(","),
                    if w.sticky { " and sticky" } else { "" },
                    w.up.as_secs()
                )?;
            }
        }
        for op in &self.ops {
            write!(
                f,
                "op {:<20} submitted {:>8} completed {:>8} failed {:>5} killed {:>5} timed out {:>5}",
                op.op,
                op.counts.submitted,
                op.counts.completed,
                op.counts.failed,
                op.counts.killed,
                op.counts.timed_out,
            )?;
            if op.run_time.count > 0 {
                write!(
                    f,
                    " run p50 {} p99 {}",
                    Rounded(op.run_time.p50),
                    Rounded(op.run_time.p99)
                )?;
            }
            if op.retries > 0 {
                write!(f, " ({} retried)", op.retries)?;
            }
            if op.expired > 0 {
                write!(f, " ({} expired)", op.expired)?;
            }
            if op.health.state != HealthState::Healthy {
                write!(f, " ({})", op.health.state)?;
            }
            writeln!(f, "{}", if op.paused { " (paused)" } else { "" })?;
        }
        writeln!(f, "queue wait {}", self.queue_wait)?;
        writeln!(f, "run time   {}", self.run_time)
    }
}

/// One streaming map in progress, from
/// [`Handle::bulk_maps`](crate::Handle::bulk_maps): what a progress bar
/// needs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct BulkMap {
    /// The map's label ([`MapUnordered::label`](crate::MapUnordered::label)),
    /// or the operation name of its calls.
    pub label: String,
    /// Items resolved so far (values and failures).
    pub done: usize,
    /// Items in all, as far as the map knows: the items submitted plus those
    /// its iterator says remain (exact for vectors, ranges and slices).
    pub total: usize,
    /// Items that failed so far.
    pub failed: usize,
    /// Calls submitted and not resolved yet.
    pub in_flight: usize,
    /// When the map made its first call.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub started_at: std::time::Instant,
    /// Time since its first call.
    #[cfg_attr(feature = "serde", serde(serialize_with = "seconds"))]
    pub elapsed: Duration,
}

/// One call in flight, from [`Handle::live_calls`](crate::Handle::live_calls):
/// what is queued, what runs, and what misbehaves right now.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct LiveCall {
    /// The call's token id (to kill it with
    /// [`Handle::kill_token`](crate::Handle::kill_token)).
    pub id: crate::TokenId,
    /// Its operation.
    pub op: &'static str,
    /// Its state now. A call killed or timed out while its body still runs
    /// shows its terminal state here, with [`body_running`](Self::body_running).
    pub state: TokenState,
    /// Where it waits and runs.
    pub path: LivePath,
    /// The worker thread running its body, if it runs on one.
    pub worker: Option<usize>,
    /// Time since the call was made.
    #[cfg_attr(feature = "serde", serde(serialize_with = "seconds"))]
    pub age: Duration,
    /// Time its body has run, if it started.
    #[cfg_attr(feature = "serde", serde(serialize_with = "optional_seconds"))]
    pub running_for: Option<Duration>,
    /// It was killed or timed out while running, and its body has not
    /// returned yet: its thread is still busy with it.
    pub body_running: bool,
    /// It has run longer than its operation's p99 run time (known once the
    /// operation has completed enough calls to tell).
    pub over_p99: bool,
}

/// Where a [`LiveCall`] waits and runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum LivePath {
    /// A CPU call of this weight, on the worker threads.
    Lane(Weight),
    /// An IO call of this storage tier, on IO threads.
    Storage(StorageSpeed),
    /// A combined call: this tier's turn, on a worker of its weight.
    Combined(StorageSpeed),
    /// A sticky call, on its domain's worker.
    Sticky,
    /// A lead's child, in the lead's worker group.
    LeadGroup,
    /// A `remote` call: waiting for room in its backend's window, or in
    /// flight to a worker host.
    Remote,
    /// A `process_pool` call of this weight: waiting in its weight's process
    /// queue, or sent to a worker process.
    Process(Weight),
}

#[cfg(feature = "serde")]
fn optional_seconds<S: serde::Serializer>(
    d: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => serializer.serialize_some(&d.as_secs_f64()),
        None => serializer.serialize_none(),
    }
}

/// An operation's health, as its circuit breaker sees it (see
/// [`AutoBlock`](crate::AutoBlock)); the window figures are zero when
/// auto-block is off.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize))]
#[non_exhaustive]
pub struct OpHealth {
    /// Healthy, degraded, blocked or probing.
    pub state: HealthState,
    /// Attempts that finished in the window.
    pub window_calls: u32,
    /// Of those, how many failed (panics, lost workers, timeouts).
    pub window_failures: u32,
    /// Of those, how many ran longer than the slow-call threshold.
    pub window_slow: u32,
    /// Why it is blocked, while it is.
    pub blocked_because: Option<String>,
    /// The last failure's message.
    pub last_failure: Option<String>,
}

/// The state of an operation's circuit breaker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(Serialize), serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum HealthState {
    /// No failure or slow call in the window.
    #[default]
    Healthy,
    /// Failures or slow calls in the window, below the thresholds.
    Degraded,
    /// New calls fail at once ([`ErrorKind::Blocked`](crate::ErrorKind::Blocked)).
    Blocked,
    /// Blocked, and probe calls are being let through to test it.
    Probing,
}

impl HealthState {
    /// The state's lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Degraded => "degraded",
            HealthState::Blocked => "blocked",
            HealthState::Probing => "probing",
        }
    }
}

impl fmt::Display for HealthState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
