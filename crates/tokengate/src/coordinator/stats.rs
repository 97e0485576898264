//! Collecting a [`Stats`] snapshot from a coordinator's counters (the types
//! are in [`crate::stats`]).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Shared;
use super::ops::{Class, OpEntry};
use crate::Weight;
use crate::metrics::{HistogramSnapshot, ShardedHistogram, StateTotals};
use crate::stats::{LaneStats, LatencySummary, OpStats, StateCounts, Stats, WorkerStats};

/// One operation's latency histograms, as a snapshot (for exports that
/// need the buckets, not only the summaries in [`Stats`]).
#[derive(Debug)]
pub(crate) struct OpLatency {
    pub(crate) op: &'static str,
    pub(crate) queue_wait: HistogramSnapshot,
    pub(crate) run_time: HistogramSnapshot,
}

pub(crate) fn collect(shared: &Shared) -> Stats {
    collect_with_latencies(shared).0
}

/// A [`Stats`] snapshot, and each operation's histograms (sorted by op, as
/// `Stats::ops` is) that its latency summaries were read from.
pub(crate) fn collect_with_latencies(shared: &Shared) -> (Stats, Vec<OpLatency>) {
    let entries = shared.op_entries();
    let mut all = StateTotals::default();
    let mut by_lane = [StateTotals::default(); 3];
    let mut by_tier = [StateTotals::default(); 4];
    // An op called at several weights (or tiers) has an entry per class: one
    // line each here, summed.
    let mut by_op: Vec<(&'static str, Vec<&OpEntry>)> = Vec::new();
    for entry in &entries {
        let totals = entry.counters.totals();
        all.merge(&totals);
        match entry.class {
            Class::Cpu(weight) => by_lane[weight.index()].merge(&totals),
            Class::Storage(speed) => by_tier[speed.index()].merge(&totals),
        }
        match by_op.iter_mut().find(|(name, _)| *name == entry.name) {
            Some((_, same)) => same.push(entry),
            None => by_op.push((entry.name, vec![entry])),
        }
    }
    let merged = |pick: fn(&OpEntry) -> &ShardedHistogram, of: &[&OpEntry]| {
        HistogramSnapshot::merge(of.iter().flat_map(|entry| pick(entry).shards()))
    };
    let latency = |pick: fn(&OpEntry) -> &ShardedHistogram, of: &[&OpEntry]| {
        LatencySummary::from_snapshot(&merged(pick, of))
    };
    let orphaned = shared.orphans.by_op();
    let mut latencies = Vec::with_capacity(by_op.len());
    let mut ops: Vec<OpStats> = by_op
        .iter()
        .map(|(op, same)| {
            let queue_wait = merged(|entry| &entry.queue_wait, same);
            let run_time = merged(|entry| &entry.run_time, same);
            let mut totals = StateTotals::default();
            for entry in same {
                totals.merge(&entry.counters.totals());
            }
            let stats = OpStats {
                op,
                counts: StateCounts::from_totals(&totals),
                paused: same.iter().any(|entry| entry.is_paused()),
                held: same.iter().map(|entry| entry.held_len()).sum(),
                retries: same
                    .iter()
                    .map(|entry| entry.retries.load(Ordering::Relaxed))
                    .sum(),
                expired: same
                    .iter()
                    .map(|entry| entry.expired.load(Ordering::Relaxed))
                    .sum(),
                orphaned: orphaned.get(op).copied().unwrap_or(0),
                health: same[0].guard.health(shared.config.auto_block.as_ref()),
                queue_wait: LatencySummary::from_snapshot(&queue_wait),
                run_time: LatencySummary::from_snapshot(&run_time),
            };
            latencies.push(OpLatency {
                op,
                queue_wait,
                run_time,
            });
            stats
        })
        .collect();
    ops.sort_by(|a, b| a.op.cmp(b.op));
    latencies.sort_by(|a, b| a.op.cmp(b.op));
    let all_entries: Vec<&OpEntry> = entries.iter().map(|entry| &**entry).collect();
    let scheduler = &shared.scheduler;
    let now = crate::token::now_ns();
    let lanes = Weight::ALL
        .into_iter()
        .map(|w| {
            let lane = scheduler.lane(w);
            LaneStats {
                oldest_wait: lane
                    .oldest_created()
                    .map(|created| Duration::from_nanos(now.saturating_sub(created))),
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
    let storage = scheduler
        .tiers
        .iter()
        .map(|tier| tier.snapshot(StateCounts::from_totals(&by_tier[tier.speed.index()])))
        .collect();
    let tokens = StateCounts::from_totals(&all);
    let stats = Stats {
        in_flight: tokens.in_flight(),
        tokens,
        ops,
        lanes,
        workers,
        storage,
        limits: shared.limits.snapshot(),
        orphaned_bodies: shared.orphans.len(),
        io_threads: scheduler.io.threads(),
        sticky_domains: scheduler.domains.len(),
        lead_domains: shared.leads.len(),
        lead_unlisted_calls: shared.leads.unlisted.load(Ordering::Relaxed),
        queue_wait: latency(|entry| &entry.queue_wait, &all_entries),
        run_time: latency(|entry| &entry.run_time, &all_entries),
        paused: scheduler.is_paused(),
        #[cfg(feature = "process")]
        processes: {
            let mut processes = shared.process.stats();
            processes.waiting = scheduler
                .process_lanes
                .iter()
                .map(|lane| lane.taken() + lane.in_line())
                .sum();
            processes
        },
        #[cfg(not(feature = "process"))]
        processes: Default::default(),
        remote: shared.remote.as_ref().map(|link| {
            let mut stats = link.backend.stats();
            stats.waiting = scheduler.remote_lane.taken();
            stats.in_line = scheduler.remote_lane.in_line();
            stats
        }),
    };
    (stats, latencies)
}
