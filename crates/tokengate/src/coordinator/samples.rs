//! A coordinator's [`Stats`] as metric samples: the one list that both
//! exports are written from, the Prometheus text
//! ([`prometheus`](super::prometheus)) and the `metrics` facade
//! (`export`), so that they always agree on names, labels and values. The
//! families are listed, with their help text, in
//! [`telemetry::METRICS`](crate::telemetry::METRICS).

use super::stats::OpLatency;
use crate::StorageSpeed;
use crate::metrics::HistogramSnapshot;
use crate::stats::{HealthState, Stats};
use crate::telemetry::{Metric, family};

/// One sample: a family, its label values (in the family's label order)
/// and its value.
#[derive(Debug)]
pub(crate) struct Sample {
    pub(crate) metric: &'static Metric,
    /// The family's place in `METRICS`.
    family: usize,
    pub(crate) labels: Vec<String>,
    pub(crate) value: Value,
}

impl Sample {
    /// The sample's labels, as (name, value) pairs.
    pub(crate) fn labels(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.metric
            .labels
            .iter()
            .copied()
            .zip(self.labels.iter().map(String::as_str))
    }
}

/// A sample's value.
#[derive(Debug)]
pub(crate) enum Value {
    /// A counter's or a gauge's.
    Number(f64),
    /// A histogram of durations in nanoseconds.
    Histogram(HistogramSnapshot),
}

/// Collects samples family by family.
struct Samples(Vec<Sample>);

impl Samples {
    fn push(&mut self, name: &str, labels: &[&str], value: Value) {
        let (index, metric) = family(name);
        debug_assert_eq!(metric.labels.len(), labels.len(), "{name}");
        self.0.push(Sample {
            metric,
            family: index,
            labels: labels.iter().map(|&l| l.to_owned()).collect(),
            value,
        });
    }

    fn number(&mut self, name: &str, labels: &[&str], value: impl Into<Number>) {
        self.push(name, labels, Value::Number(value.into().0));
    }
}

/// A count, a size or a flag as a sample value.
struct Number(f64);

impl From<u64> for Number {
    fn from(v: u64) -> Number {
        Number(v as f64)
    }
}

impl From<usize> for Number {
    fn from(v: usize) -> Number {
        Number(v as f64)
    }
}

impl From<bool> for Number {
    fn from(v: bool) -> Number {
        Number(if v { 1.0 } else { 0.0 })
    }
}

impl From<f64> for Number {
    fn from(v: f64) -> Number {
        Number(v)
    }
}

const HEALTH: [HealthState; 4] = [
    HealthState::Healthy,
    HealthState::Degraded,
    HealthState::Blocked,
    HealthState::Probing,
];

/// Every sample of `stats` (and of its operations' `latencies`), grouped by
/// family in the order of [`METRICS`](crate::telemetry::METRICS).
pub(crate) fn from_stats(stats: &Stats, latencies: Vec<OpLatency>) -> Vec<Sample> {
    let mut s = Samples(Vec::new());
    for op in &stats.ops {
        let name = op.op;
        let c = &op.counts;
        s.number("tokengate_calls_submitted_total", &[name], c.submitted);
        for (outcome, count) in [
            ("completed", c.completed),
            ("failed", c.failed),
            ("killed", c.killed),
            ("timed_out", c.timed_out),
        ] {
            s.number("tokengate_calls_total", &[name, outcome], count);
        }
        s.number("tokengate_retries_total", &[name], op.retries);
        s.number("tokengate_expired_total", &[name], op.expired);
        for (state, count) in [
            ("waiting", c.waiting),
            ("admitted", c.admitted),
            ("executing", c.executing),
        ] {
            s.number("tokengate_calls_in_flight", &[name, state], count);
        }
        s.number("tokengate_calls_held", &[name], op.held);
        s.number("tokengate_op_paused", &[name], op.paused);
        let blocked = matches!(op.health.state, HealthState::Blocked | HealthState::Probing);
        s.number("tokengate_op_blocked", &[name], blocked);
        for state in HEALTH {
            let on = op.health.state == state;
            s.number("tokengate_op_health", &[name, state.as_str()], on);
        }
        s.number("tokengate_op_orphaned_bodies", &[name], op.orphaned);
    }
    for worker in &stats.workers {
        let index = worker.index.to_string();
        s.number("tokengate_worker_calls_total", &[&index], worker.ran);
        s.number("tokengate_worker_queued", &[&index], worker.queued);
    }
    for limit in &stats.limits {
        let name = limit.name.as_str();
        s.number("tokengate_limit_started_total", &[name], limit.started);
        s.number("tokengate_limit_running", &[name], limit.running);
        s.number("tokengate_limit_waiting", &[name], limit.waiting);
        if let Some(cap) = limit.cap {
            s.number("tokengate_limit_cap", &[name], cap);
        }
    }
    let p = &stats.processes;
    s.number("tokengate_process_workers_started_total", &[], p.spawned);
    for (reason, count) in [
        ("lost", p.lost),
        ("died_idle", p.died_idle),
        ("killed", p.killed),
    ] {
        s.number("tokengate_process_worker_exits_total", &[reason], count);
    }
    s.number("tokengate_process_workers_alive", &[], p.alive);
    s.number("tokengate_process_workers_idle", &[], p.idle);
    s.number("tokengate_process_workers_max", &[], p.size);
    s.number("tokengate_process_calls_waiting", &[], p.waiting);
    s.number("tokengate_process_calls_in_flight", &[], p.in_flight);
    s.number("tokengate_process_calls_resent_total", &[], p.resent);
    s.number(
        "tokengate_lead_unlisted_calls_total",
        &[],
        stats.lead_unlisted_calls,
    );
    s.number("tokengate_live_tokens", &[], stats.in_flight);
    for lane in &stats.lanes {
        let weight = lane.weight.as_str();
        s.number("tokengate_lane_depth", &[weight], lane.depth);
        s.number("tokengate_lane_in_line", &[weight], lane.in_line);
        s.number("tokengate_lane_capacity", &[weight], lane.capacity);
        let oldest = lane.oldest_wait.map_or(0.0, |d| d.as_secs_f64());
        s.number("tokengate_lane_oldest_wait_seconds", &[weight], oldest);
    }
    for tier in &stats.storage {
        let speed = StorageSpeed::as_str(tier.speed);
        s.number("tokengate_tier_running", &[speed], tier.running);
        s.number("tokengate_tier_waiting", &[speed], tier.waiting);
        s.number("tokengate_tier_in_line", &[speed], tier.in_line);
        s.number("tokengate_tier_cap", &[speed], tier.cap);
    }
    s.number("tokengate_workers", &[], stats.workers.len());
    let busy = stats.workers.iter().filter(|w| w.busy).count();
    s.number("tokengate_workers_busy", &[], busy);
    s.number("tokengate_io_threads", &[], stats.io_threads);
    s.number("tokengate_orphaned_bodies", &[], stats.orphaned_bodies);
    s.number("tokengate_sticky_domains", &[], stats.sticky_domains);
    s.number("tokengate_lead_domains", &[], stats.lead_domains);
    s.number("tokengate_admission_paused", &[], stats.paused);
    for latency in latencies {
        let op = [latency.op];
        s.push(
            "tokengate_queue_wait_seconds",
            &op,
            Value::Histogram(latency.queue_wait),
        );
        s.push(
            "tokengate_run_seconds",
            &op,
            Value::Histogram(latency.run_time),
        );
    }
    let mut samples = s.0;
    // Grouped by family, in the list's order; within a family, in the order
    // pushed (by op, worker, limit, lane, tier): the sort is stable.
    samples.sort_by_key(|sample| sample.family);
    samples
}
