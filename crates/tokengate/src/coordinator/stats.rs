//! [`Stats`]: a snapshot of a coordinator, computed from O(1) counters.
//!
//! Taking a snapshot costs the same whether a hundred or a billion calls were
//! ever made: counters are sums over per-thread shards, queue depths are atomic
//! gauges, and latencies come from fixed-size histograms.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Shared;
use crate::metrics::{HistogramSnapshot, StateTotals};
use crate::{StorageSpeed, TokenState, Weight};

/// How many tokens are in each state: live states are counted now, terminal
/// states since the coordinator started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StateCounts {
    /// Calls made (tokens created) since start.
    pub submitted: u64,
    /// Tokens waiting in a lane or held by a pause, now.
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
    fn from_totals(t: &StateTotals) -> Self {
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

/// Counts for one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
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
}

/// One weight lane.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LaneStats {
    /// The lane's weight.
    pub weight: Weight,
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
}

/// The worker processes of `process_pool` calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessStats {
    /// How many may run at once ([`process_workers`](crate::CoordinatorBuilder::process_workers)).
    pub size: usize,
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
}

/// A latency distribution (bucket precision: 12.5 %).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LatencySummary {
    /// Samples recorded.
    pub count: u64,
    /// Mean.
    pub mean: Duration,
    /// Median.
    pub p50: Duration,
    /// 95th percentile.
    pub p95: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest sample.
    pub max: Duration,
}

impl LatencySummary {
    fn from_snapshot(s: &HistogramSnapshot) -> Self {
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

/// A snapshot of a coordinator: see [`OperationsCoordinator::stats`](crate::OperationsCoordinator::stats).
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// IO threads alive (they serve storage tiers and exit when idle).
    pub io_threads: usize,
    /// Live sticky domains: pins held by queued or running calls.
    pub sticky_domains: usize,
    /// Live lead domains: leads or children not finished yet.
    pub lead_domains: usize,
    /// Calls made inside a lead to ops its `external_calls` does not list
    /// (routed freely), since start.
    pub lead_unlisted_calls: u64,
    /// Time from the call to the start of its body.
    pub queue_wait: LatencySummary,
    /// Time bodies ran (to their result, or to a kill or timeout).
    pub run_time: LatencySummary,
    /// Whether admission is paused globally.
    pub paused: bool,
    /// The worker processes of `process_pool` calls.
    pub processes: ProcessStats,
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
}

pub(crate) fn collect(shared: &Shared) -> Stats {
    let entries = shared.op_entries();
    let mut all = StateTotals::default();
    let mut by_lane = [StateTotals::default(); 3];
    let mut ops: Vec<OpStats> = Vec::new();
    let mut by_op: Vec<(&'static str, StateTotals, bool, usize)> = Vec::new();
    for entry in &entries {
        let totals = entry.counters.totals();
        all.merge(&totals);
        by_lane[entry.weight.index()].merge(&totals);
        match by_op.iter_mut().find(|o| o.0 == entry.name) {
            Some(o) => {
                o.1.merge(&totals);
                o.2 |= entry.is_paused();
                o.3 += entry.held_len();
            }
            None => by_op.push((entry.name, totals, entry.is_paused(), entry.held_len())),
        }
    }
    for (op, totals, paused, held) in by_op {
        ops.push(OpStats {
            op,
            counts: StateCounts::from_totals(&totals),
            paused,
            held,
        });
    }
    ops.sort_by(|a, b| a.op.cmp(b.op));
    let scheduler = &shared.scheduler;
    let lanes = Weight::ALL
        .into_iter()
        .map(|w| {
            let lane = scheduler.lane(w);
            LaneStats {
                weight: w,
                depth: lane.taken(),
                in_line: lane.in_line(),
                capacity: lane.capacity,
                counts: StateCounts::from_totals(&by_lane[w.index()]),
            }
        })
        .collect();
    let workers = scheduler
        .workers
        .iter()
        .map(|slot| {
            let running = slot.running.load(Ordering::Relaxed);
            WorkerStats {
                index: slot.index,
                group: slot.group,
                roams: slot.roams,
                queued: slot
                    .load
                    .load(Ordering::Relaxed)
                    .saturating_sub(running.min(1)),
                busy: running > 0,
                ran: slot.completed.load(Ordering::Relaxed),
            }
        })
        .collect();
    let storage = scheduler.tiers.iter().map(|tier| tier.snapshot()).collect();
    let tokens = StateCounts::from_totals(&all);
    Stats {
        in_flight: tokens.in_flight(),
        tokens,
        ops,
        lanes,
        workers,
        storage,
        io_threads: scheduler.io.threads(),
        sticky_domains: scheduler.domains.len(),
        lead_domains: shared.leads.len(),
        lead_unlisted_calls: shared.leads.unlisted.load(Ordering::Relaxed),
        queue_wait: LatencySummary::from_snapshot(&HistogramSnapshot::merge(
            shared.queue_wait.iter().map(|p| &p.0),
        )),
        run_time: LatencySummary::from_snapshot(&HistogramSnapshot::merge(
            shared.run_time.iter().map(|p| &p.0),
        )),
        paused: scheduler.is_paused(),
        processes: shared.process.stats(),
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
                "storage {:<8} running {:>3}/{:<3} high water {:>3} waiting {:>6}",
                tier.speed, tier.running, tier.cap, tier.high_water, tier.waiting
            )?;
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
                "processes: {} alive ({} idle) of {}, {} started, {} lost, {} died idle, {} killed",
                p.alive, p.idle, p.size, p.spawned, p.lost, p.died_idle, p.killed
            )?;
        }
        for op in &self.ops {
            writeln!(
                f,
                "op {:<20} submitted {:>8} completed {:>8} failed {:>5} killed {:>5} timed out {:>5}{}",
                op.op,
                op.counts.submitted,
                op.counts.completed,
                op.counts.failed,
                op.counts.killed,
                op.counts.timed_out,
                if op.paused { " (paused)" } else { "" }
            )?;
        }
        let q = &self.queue_wait;
        let r = &self.run_time;
        writeln!(
            f,
            "queue wait p50 {:?} p95 {:?} max {:?}; run time p50 {:?} p95 {:?} max {:?}",
            q.p50, q.p95, q.max, r.p50, r.p95, r.max
        )
    }
}
