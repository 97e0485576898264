//! Watching a coordinator from outside: `tracing` spans and events, metrics
//! for the [`metrics`](https://docs.rs/metrics) facade, and the Prometheus
//! text format without any exporter.
//!
//! Three ways in, from the cheapest to set up:
//!
//! * [`Handle::prometheus_text`](crate::Handle::prometheus_text) renders the
//!   coordinator's [`stats`](crate::Handle::stats) in the Prometheus text
//!   exposition format 0.0.4: serve it on `/metrics` and you are done. No
//!   feature needed.
//! * The `metrics` feature publishes the same families to the recorder the
//!   application installed (`metrics-exporter-prometheus`, StatsD,
//!   OpenTelemetry...), once per `CoordinatorBuilder::metrics_interval`.
//! * The `tracing` feature (on by default) runs every guarded call inside a
//!   `tokengate.call` span that continues the caller's span tree on the
//!   worker thread, and reports kills, timeouts, rejections and failures as
//!   events.
//!
//! Nothing here costs a guarded call anything it would not pay anyway unless
//! a subscriber wants its span: metrics are sampled from the counters and
//! histograms the coordinator keeps for [`stats`](crate::Handle::stats), by
//! its timer thread, never per call.
//!
//! # Tracing
//!
//! Each call made to a coordinator gets a span named [`CALL_SPAN`]
//! (`tokengate.call`), at `DEBUG` level, target [`TARGET`] (`tokengate`),
//! created where the call is made. Its parent is the span current there, so
//! a request's span tree continues into the worker (what `spawn_blocking`
//! users ask for in tokio issue 2998). The span is entered around each
//! attempt of the body on whichever thread runs it, and closes once the call
//! has resolved and its body has returned: its busy time is the run time,
//! and its idle time before the first entry the queue wait.
//!
//! | field | value |
//! |---|---|
//! | `op` | the operation name |
//! | `weight` | `light`, `medium` or `heavy` |
//! | `token_id` | the call's [`TokenId`](crate::TokenId) |
//! | `path` | where it waits and runs: `lane`, `tier`, `combined`, `sticky`, `lead_group` or `remote` |
//! | `tier` | the storage tier (`SLOW`...`INSANE`) of a `tier` or `combined` call |
//! | `lead` | `true` for a lead (`external_calls`) |
//! | `process` | `true` for a `process_pool` call |
//! | `queue_wait` | from the call to the first start of its body (recorded then) |
//! | `outcome` | `completed`, or the [`ErrorKind::as_str`](crate::ErrorKind::as_str) of its error (recorded when it resolves) |
//!
//! With a subscriber installed that filters this span out (say at `INFO`),
//! the body still runs inside the caller's span, so the body's own events
//! keep their request context; only tokengate's own span is left out.
//! Enable it with a `tokengate=debug` directive.
//!
//! The events below carry `op` and `token_id` where they concern one call,
//! and are children of its span (or of the caller's span when the call's
//! span is filtered out). Nothing is logged on the success path.
//!
//! | event message | level | when |
//! |---|---|---|
//! | `call killed` | `DEBUG` | killed ([`TaskToken::kill`](crate::TaskToken::kill), an admin kill, a drain, `stop_now`) or resolved by a stop; field `reason` |
//! | `call timed out` | `WARN` | its `timeout` passed; field `error` |
//! | `call rejected` | `WARN` | its lane or limit was full under [`FullLanePolicy::Reject`](crate::FullLanePolicy::Reject); field `error` |
//! | `call shed` | `WARN` | its `queue_timeout` (or `max_queue_wait`) passed before it started; field `error` |
//! | `call refused` | `DEBUG` | its operation is blocked; field `error` |
//! | `call failed` | `WARN` | a `process_pool` call could not be carried out, or its limit has no size; field `error` |
//! | `remote unavailable` | `ERROR` | a `remote = true` call could not be handed to its broker; field `error` |
//! | `call panicked` | `ERROR` | an attempt's body panicked (each attempt, retried or not); fields `attempt`, `panic` (its message) |
//! | `retrying call` | `DEBUG` | a failed attempt gets another one; fields `attempt`, `delay`, `cause` |
//! | `operation blocked` | `WARN` | auto-block tripped, or a probe failed; field `why` |
//! | `operation blocked` | `INFO` | [`Handle::block_operation`](crate::Handle::block_operation) |
//! | `operation unblocked` | `INFO` | a probe succeeded, or [`Handle::unblock_operation`](crate::Handle::unblock_operation); field `how` |
//! | `worker process lost` | `ERROR` | the worker process running a `process_pool` call died; fields `pid`, `status` |
//! | `worker process died idle` | `WARN` | a worker process was found dead before a call reached it (the call went on to another); field `pid` |
//!
//! A lost worker process fails its call with `worker_lost` (or
//! `memory_limit`); the `worker process lost` event is its only report.
//!
//! # Metrics
//!
//! Every family in [`METRICS`], named after Prometheus' conventions (base
//! units, `_total` for counters). `op` is the operation name, `outcome` one of
//! `completed`, `failed`, `killed`, `timed_out` (the token's terminal
//! [`TokenState`](crate::TokenState)), `state` a live token state or a
//! [`HealthState`](crate::stats::HealthState), `weight` a lane, `tier` a
//! storage tier, `limit` a named limit, `worker` a worker thread's index.
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | `tokengate_calls_submitted_total` | counter | `op` | calls made |
//! | `tokengate_calls_total` | counter | `op`, `outcome` | calls finished, by outcome |
//! | `tokengate_retries_total` | counter | `op` | failed attempts that were retried |
//! | `tokengate_expired_total` | counter | `op` | calls shed without running (also counted as `timed_out`) |
//! | `tokengate_worker_calls_total` | counter | `worker` | calls each worker thread ran |
//! | `tokengate_limit_started_total` | counter | `limit` | calls let through each named limit |
//! | `tokengate_process_workers_started_total` | counter | | worker processes started, replacements included |
//! | `tokengate_process_worker_exits_total` | counter | `reason` | worker processes that ended early: `lost` (while running a call), `died_idle`, `killed` (their call was killed or timed out) |
//! | `tokengate_process_calls_resent_total` | counter | | process calls sent to another worker process because theirs died before starting them |
//! | `tokengate_lead_unlisted_calls_total` | counter | | calls a lead made to ops its `external_calls` does not list |
//! | `tokengate_calls_in_flight` | gauge | `op`, `state` | live calls by state: `waiting`, `admitted`, `executing` |
//! | `tokengate_calls_held` | gauge | `op` | calls held back by a pause of their operation |
//! | `tokengate_op_paused` | gauge | `op` | 1 while the operation is paused |
//! | `tokengate_op_blocked` | gauge | `op` | 1 while the operation is blocked or probing (auto-block or manual) |
//! | `tokengate_op_health` | gauge | `op`, `state` | 1 for the operation's health state, 0 for the others |
//! | `tokengate_op_orphaned_bodies` | gauge | `op` | bodies still running after their call was killed or timed out |
//! | `tokengate_live_tokens` | gauge | | calls not finished: queued, held or running |
//! | `tokengate_lane_depth` | gauge | `weight` | calls holding a slot of the lane |
//! | `tokengate_lane_in_line` | gauge | `weight` | calls waiting in line for room in the lane |
//! | `tokengate_lane_capacity` | gauge | `weight` | the lane's capacity |
//! | `tokengate_lane_oldest_wait_seconds` | gauge | `weight` | how long the lane's oldest waiting call has waited (0 if none) |
//! | `tokengate_tier_running` | gauge | `tier` | storage calls running |
//! | `tokengate_tier_waiting` | gauge | `tier` | storage calls waiting for their turn |
//! | `tokengate_tier_in_line` | gauge | `tier` | storage calls waiting in line for room |
//! | `tokengate_tier_cap` | gauge | `tier` | how many of the tier's calls may run at once |
//! | `tokengate_limit_running` | gauge | `limit` | calls holding a permit of the limit |
//! | `tokengate_limit_waiting` | gauge | `limit` | calls waiting at the limit's gate |
//! | `tokengate_limit_cap` | gauge | `limit` | the limit's cap (limits with a rate only have none) |
//! | `tokengate_workers` | gauge | | worker threads |
//! | `tokengate_workers_busy` | gauge | | worker threads running a call |
//! | `tokengate_worker_queued` | gauge | `worker` | calls in each worker's mailbox |
//! | `tokengate_io_threads` | gauge | | IO threads alive |
//! | `tokengate_orphaned_bodies` | gauge | | bodies still running after their call was killed or timed out |
//! | `tokengate_sticky_domains` | gauge | | live sticky domains |
//! | `tokengate_lead_domains` | gauge | | live lead domains |
//! | `tokengate_process_workers_alive` | gauge | | worker processes alive |
//! | `tokengate_process_workers_idle` | gauge | | worker processes waiting for a call |
//! | `tokengate_process_workers_max` | gauge | | how many worker processes may run at once |
//! | `tokengate_process_calls_waiting` | gauge | | process calls waiting for a worker process in the process queues |
//! | `tokengate_process_calls_in_flight` | gauge | | process calls handed to the pool: running in a worker process or queued behind one there |
//! | `tokengate_admission_paused` | gauge | | 1 while admission is paused globally |
//! | `tokengate_queue_wait_seconds` | histogram | `op` | from the call to the start of its body |
//! | `tokengate_run_seconds` | histogram | `op` | how long bodies ran (to their result, or to a kill or timeout) |
//!
//! ## Through the `metrics` facade
//!
//! With the `metrics` feature, the coordinator's timer thread publishes
//! these to the installed global recorder every
//! `CoordinatorBuilder::metrics_interval` (1 s by default), and once more
//! when it stops: counters as absolute values (`Counter::absolute`), gauges
//! with `Gauge::set`, and histograms with the samples recorded since the
//! previous publication. The runtime keeps its latencies in log-linear
//! histograms; each new sample reaches the recorder as the midpoint of its
//! bucket, within 6.25 % of the true value. `Handle::publish_metrics`
//! publishes at once, to the recorder current on the calling thread (so
//! `metrics::with_local_recorder` works in tests).
//!
//! Each coordinator publishes its own absolute values: with several in one
//! process, give each a label of its own with
//! `CoordinatorBuilder::metrics_label`, or their series overwrite each
//! other.
//!
//! ## The Prometheus text format
//!
//! [`Handle::prometheus_text`](crate::Handle::prometheus_text) renders the
//! same families, with `# HELP` and `# TYPE` lines and escaped label values.
//! Histograms are cut at the runtime's own bucket boundaries, every power of
//! two nanoseconds from 2¹⁰ ns (about 1 µs) to 2⁴⁰ ns (about 18 minutes), so
//! each `_bucket{le=...}` count is exact, not interpolated: `le` is
//! (2ⁿ − 1) ns in seconds, the largest whole number of nanoseconds the
//! bucket holds.
//!
//! ```
//! use tokengate::OperationsCoordinator;
//!
//! let coordinator = OperationsCoordinator::start();
//! tokengate::spawn("resize", || ()).wait().unwrap();
//! let text = coordinator.prometheus_text();
//! assert!(text.contains("# TYPE tokengate_calls_total counter"));
//! assert!(text.contains(r#"tokengate_calls_total{op="resize",outcome="completed"} 1"#));
//! coordinator.stop();
//! ```

/// The name of the span each guarded call runs in.
pub const CALL_SPAN: &str = "tokengate.call";

/// The target of tokengate's spans and events (filter them with
/// `tokengate=debug` and the like).
pub const TARGET: &str = "tokengate";

/// One metric family a coordinator exposes; see [`METRICS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metric {
    /// Its name, as exported.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Its label names, in the order they are written.
    pub labels: &'static [&'static str],
    /// One line saying what it measures (its `# HELP`).
    pub help: &'static str,
}

/// The type of a [`Metric`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetricKind {
    /// Only goes up, from the coordinator's start.
    Counter,
    /// A value now.
    Gauge,
    /// A distribution of durations, in seconds.
    Histogram,
}

impl MetricKind {
    /// Its name in a Prometheus `# TYPE` line.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

const fn metric(
    name: &'static str,
    kind: MetricKind,
    labels: &'static [&'static str],
    help: &'static str,
) -> Metric {
    Metric {
        name,
        kind,
        labels,
        help,
    }
}

use MetricKind::{Counter, Gauge, Histogram};

/// Every metric family a coordinator exposes, in the order
/// [`prometheus_text`](crate::Handle::prometheus_text) writes them: to
/// describe them to an exporter up front, or to set histogram buckets by
/// name. The module docs have them as a table.
pub static METRICS: &[Metric] = &[
    metric(
        "tokengate_calls_submitted_total",
        Counter,
        &["op"],
        "Guarded calls made, per operation.",
    ),
    metric(
        "tokengate_calls_total",
        Counter,
        &["op", "outcome"],
        "Guarded calls finished, per operation and outcome (completed, failed, killed, timed_out).",
    ),
    metric(
        "tokengate_retries_total",
        Counter,
        &["op"],
        "Failed attempts that were retried, per operation.",
    ),
    metric(
        "tokengate_expired_total",
        Counter,
        &["op"],
        "Calls shed without running because their queue timeout passed (also counted as timed_out).",
    ),
    metric(
        "tokengate_worker_calls_total",
        Counter,
        &["worker"],
        "Calls each worker thread ran.",
    ),
    metric(
        "tokengate_limit_started_total",
        Counter,
        &["limit"],
        "Calls let through each named limit.",
    ),
    metric(
        "tokengate_process_workers_started_total",
        Counter,
        &[],
        "Worker processes started, replacements included.",
    ),
    metric(
        "tokengate_process_worker_exits_total",
        Counter,
        &["reason"],
        "Worker processes that ended early: lost while running a call, died while idle, or killed with their call.",
    ),
    metric(
        "tokengate_process_calls_resent_total",
        Counter,
        &[],
        "Process calls sent to another worker process because theirs died before starting them.",
    ),
    metric(
        "tokengate_lead_unlisted_calls_total",
        Counter,
        &[],
        "Calls a lead made to operations its external_calls does not list.",
    ),
    metric(
        "tokengate_calls_in_flight",
        Gauge,
        &["op", "state"],
        "Live calls per operation, by state (waiting, admitted, executing).",
    ),
    metric(
        "tokengate_calls_held",
        Gauge,
        &["op"],
        "Calls held back by a pause of their operation.",
    ),
    metric(
        "tokengate_op_paused",
        Gauge,
        &["op"],
        "1 while the operation is paused.",
    ),
    metric(
        "tokengate_op_blocked",
        Gauge,
        &["op"],
        "1 while the operation is blocked or being probed (auto-block or a manual block).",
    ),
    metric(
        "tokengate_op_health",
        Gauge,
        &["op", "state"],
        "1 for the operation's health state (healthy, degraded, blocked, probing), 0 for the others.",
    ),
    metric(
        "tokengate_op_orphaned_bodies",
        Gauge,
        &["op"],
        "Bodies of the operation still running after their call was killed or timed out.",
    ),
    metric(
        "tokengate_live_tokens",
        Gauge,
        &[],
        "Calls not finished yet: queued, held or running.",
    ),
    metric(
        "tokengate_lane_depth",
        Gauge,
        &["weight"],
        "Calls holding a slot of the weight's lane.",
    ),
    metric(
        "tokengate_lane_in_line",
        Gauge,
        &["weight"],
        "Calls waiting in line for room in the weight's lane.",
    ),
    metric(
        "tokengate_lane_capacity",
        Gauge,
        &["weight"],
        "The capacity of the weight's lane.",
    ),
    metric(
        "tokengate_lane_oldest_wait_seconds",
        Gauge,
        &["weight"],
        "How long the oldest call waiting in the lane has waited (0 if none waits).",
    ),
    metric(
        "tokengate_tier_running",
        Gauge,
        &["tier"],
        "Storage calls of the tier running.",
    ),
    metric(
        "tokengate_tier_waiting",
        Gauge,
        &["tier"],
        "Storage calls of the tier waiting for their turn.",
    ),
    metric(
        "tokengate_tier_in_line",
        Gauge,
        &["tier"],
        "Storage calls of the tier waiting in line for room in its queue.",
    ),
    metric(
        "tokengate_tier_cap",
        Gauge,
        &["tier"],
        "How many calls of the tier may run at once.",
    ),
    metric(
        "tokengate_limit_running",
        Gauge,
        &["limit"],
        "Calls holding a permit of the named limit.",
    ),
    metric(
        "tokengate_limit_waiting",
        Gauge,
        &["limit"],
        "Calls waiting at the named limit's gate.",
    ),
    metric(
        "tokengate_limit_cap",
        Gauge,
        &["limit"],
        "The named limit's cap (a limit with only a rate has none).",
    ),
    metric("tokengate_workers", Gauge, &[], "Worker threads."),
    metric(
        "tokengate_workers_busy",
        Gauge,
        &[],
        "Worker threads running a call.",
    ),
    metric(
        "tokengate_worker_queued",
        Gauge,
        &["worker"],
        "Calls in each worker thread's mailbox.",
    ),
    metric("tokengate_io_threads", Gauge, &[], "IO threads alive."),
    metric(
        "tokengate_orphaned_bodies",
        Gauge,
        &[],
        "Bodies still running after their call was killed or timed out.",
    ),
    metric(
        "tokengate_sticky_domains",
        Gauge,
        &[],
        "Live sticky domains.",
    ),
    metric("tokengate_lead_domains", Gauge, &[], "Live lead domains."),
    metric(
        "tokengate_process_workers_alive",
        Gauge,
        &[],
        "Worker processes alive.",
    ),
    metric(
        "tokengate_process_workers_idle",
        Gauge,
        &[],
        "Worker processes waiting for a call.",
    ),
    metric(
        "tokengate_process_workers_max",
        Gauge,
        &[],
        "How many worker processes may run at once.",
    ),
    metric(
        "tokengate_process_calls_waiting",
        Gauge,
        &[],
        "Process calls waiting for a worker process in the process queues.",
    ),
    metric(
        "tokengate_process_calls_in_flight",
        Gauge,
        &[],
        "Process calls handed to the pool: running in a worker process or queued behind one there.",
    ),
    metric(
        "tokengate_admission_paused",
        Gauge,
        &[],
        "1 while admission is paused globally.",
    ),
    metric(
        "tokengate_queue_wait_seconds",
        Histogram,
        &["op"],
        "Time from a call to the start of its body, per operation.",
    ),
    metric(
        "tokengate_run_seconds",
        Histogram,
        &["op"],
        "Time bodies ran (to their result, or to a kill or timeout), per operation.",
    ),
];

/// The family named `name`, and its place in [`METRICS`].
pub(crate) fn family(name: &str) -> (usize, &'static Metric) {
    METRICS
        .iter()
        .enumerate()
        .find(|(_, metric)| metric.name == name)
        .unwrap_or_else(|| panic!("`{name}` is not in `telemetry::METRICS`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        for metric in METRICS {
            let name = metric.name;
            assert!(name.starts_with("tokengate_"), "{name}");
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{name}"
            );
            assert_eq!(
                name.ends_with("_total"),
                metric.kind == MetricKind::Counter,
                "{name}: counters, and only counters, end in `_total`"
            );
            if metric.kind == MetricKind::Histogram {
                assert!(name.ends_with("_seconds"), "{name}: durations in seconds");
            }
            assert!(!metric.help.contains('\n'), "{name}");
        }
        let mut names: Vec<_> = METRICS.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METRICS.len(), "a name is listed twice");
    }

    /// The table in the module docs lists every family, with its type and
    /// labels, and nothing else.
    #[test]
    fn the_docs_table_matches_the_list() {
        let source = include_str!("telemetry.rs");
        let rows: Vec<Vec<String>> = source
            .lines()
            .filter_map(|line| line.strip_prefix("//! | `tokengate_"))
            .map(|row| {
                format!("`tokengate_{row}")
                    .split('|')
                    .map(|cell| cell.trim().to_owned())
                    .collect()
            })
            .collect();
        assert_eq!(rows.len(), METRICS.len());
        for (row, metric) in rows.iter().zip(METRICS) {
            assert_eq!(row[0], format!("`{}`", metric.name));
            assert_eq!(row[1], metric.kind.as_str(), "{}", metric.name);
            let labels: Vec<String> = metric.labels.iter().map(|l| format!("`{l}`")).collect();
            assert_eq!(row[2], labels.join(", "), "{}", metric.name);
        }
    }
}
