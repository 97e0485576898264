//! [`RunBuckets`]: run-time percentiles over a recent window, for the
//! latency chart.
//!
//! The coordinator's histograms count every call since it started, so their
//! percentiles barely move after a few minutes and cannot show a spike. The
//! sampler therefore reads the histogram `tokengate_run_seconds` from
//! [`Handle::prometheus_text`](tokengate::Handle::prometheus_text) (summed
//! over operations: its cumulative bucket counts are exact, at every power
//! of two of nanoseconds) once a second, keeps the last few readings, and
//! takes percentiles of the difference, interpolating within a bucket as
//! Prometheus's `histogram_quantile` does. The mean comes from `_sum` and
//! `_count`, and is exact.

use std::collections::BTreeMap;

/// The histogram read.
const FAMILY: &str = "tokengate_run_seconds";

/// Bucket counts of run times, summed over operations: cumulative counts at
/// each upper bound, the sum of the samples and their count.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RunBuckets {
    /// `(le, cumulative count)`, by increasing `le` (the last is `+Inf`).
    buckets: Vec<(f64, f64)>,
    /// The sum of the samples, in seconds.
    sum: f64,
    /// How many samples.
    count: f64,
}

impl RunBuckets {
    /// Reads the `tokengate_run_seconds` family out of Prometheus text.
    pub(crate) fn parse(text: &str) -> RunBuckets {
        // Bounds are positive (or +Inf), whose bit patterns sort as the
        // numbers do.
        let mut by_le: BTreeMap<u64, f64> = BTreeMap::new();
        let mut parsed = RunBuckets::default();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix(FAMILY) else {
                continue;
            };
            let Some((series, value)) = rest.rsplit_once(' ') else {
                continue;
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let suffix = series.split('{').next().unwrap_or("");
            match suffix {
                "_bucket" => {
                    // `le` is the last label: `...,le="0.000001023"}`.
                    let le = series
                        .rsplit_once("le=\"")
                        .and_then(|(_, le)| le.strip_suffix("\"}"))
                        .and_then(|le| le.parse::<f64>().ok());
                    if let Some(le) = le.filter(|le| *le >= 0.0) {
                        *by_le.entry(le.to_bits()).or_default() += value;
                    }
                }
                "_sum" => parsed.sum += value,
                "_count" => parsed.count += value,
                _ => {}
            }
        }
        parsed.buckets = by_le
            .into_iter()
            .map(|(bits, count)| (f64::from_bits(bits), count))
            .collect();
        parsed
    }

    /// The samples recorded since `earlier` (a reading of the same
    /// coordinator).
    pub(crate) fn since(&self, earlier: &RunBuckets) -> RunBuckets {
        let before = |le: f64| {
            earlier
                .buckets
                .iter()
                .find(|(l, _)| *l == le)
                .map_or(0.0, |(_, c)| *c)
        };
        RunBuckets {
            buckets: self
                .buckets
                .iter()
                .map(|&(le, count)| (le, (count - before(le)).max(0.0)))
                .collect(),
            sum: (self.sum - earlier.sum).max(0.0),
            count: (self.count - earlier.count).max(0.0),
        }
    }

    /// The mean, in seconds, if there are samples.
    pub(crate) fn mean(&self) -> Option<f64> {
        (self.count > 0.0).then(|| self.sum / self.count)
    }

    /// The value at quantile `q` (0.0-1.0), in seconds, interpolated within
    /// its bucket; `None` without samples. A quantile in the `+Inf` bucket is
    /// the largest finite bound.
    pub(crate) fn quantile(&self, q: f64) -> Option<f64> {
        let total = self.buckets.last()?.1;
        if total <= 0.0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total;
        let (mut lower, mut below) = (0.0, 0.0);
        for &(le, count) in &self.buckets {
            if count >= rank && count > below {
                if le.is_infinite() {
                    return Some(lower);
                }
                return Some(lower + (le - lower) * (rank - below) / (count - below));
            }
            (lower, below) = (le, count);
        }
        Some(lower)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# HELP tokengate_run_seconds How long bodies ran.
# TYPE tokengate_run_seconds histogram
tokengate_run_seconds_bucket{op=\"a\",le=\"0.001\"} 2
tokengate_run_seconds_bucket{op=\"a\",le=\"0.002\"} 4
tokengate_run_seconds_bucket{op=\"a\",le=\"+Inf\"} 4
tokengate_run_seconds_sum{op=\"a\"} 0.005
tokengate_run_seconds_count{op=\"a\"} 4
tokengate_run_seconds_bucket{op=\"b le=\\\"9\\\"}\",le=\"0.001\"} 0
tokengate_run_seconds_bucket{op=\"b le=\\\"9\\\"}\",le=\"0.002\"} 2
tokengate_run_seconds_bucket{op=\"b le=\\\"9\\\"}\",le=\"+Inf\"} 4
tokengate_run_seconds_sum{op=\"b le=\\\"9\\\"}\"} 8.003
tokengate_run_seconds_count{op=\"b le=\\\"9\\\"}\"} 4
tokengate_queue_wait_seconds_bucket{op=\"a\",le=\"0.001\"} 100
tokengate_run_seconds_total 7
";

    #[test]
    fn buckets_are_summed_over_operations() {
        let parsed = RunBuckets::parse(TEXT);
        assert_eq!(
            parsed.buckets,
            [(0.001, 2.0), (0.002, 6.0), (f64::INFINITY, 8.0)]
        );
        assert_eq!(parsed.count, 8.0);
        assert!((parsed.sum - 8.008).abs() < 1e-9);
        assert!((parsed.mean().unwrap() - 1.001).abs() < 1e-9);
    }

    #[test]
    fn quantiles_interpolate_within_a_bucket() {
        let parsed = RunBuckets::parse(TEXT);
        // Rank 1 of 8 is halfway through the first bucket (0 to 1 ms, 2 samples).
        assert!((parsed.quantile(0.125).unwrap() - 0.0005).abs() < 1e-12);
        // Rank 4 is halfway through the second (1 to 2 ms, 4 samples).
        assert!((parsed.quantile(0.5).unwrap() - 0.0015).abs() < 1e-12);
        // In +Inf: the largest finite bound.
        assert_eq!(parsed.quantile(0.99), Some(0.002));
        assert_eq!(RunBuckets::default().quantile(0.5), None);
        assert_eq!(RunBuckets::default().mean(), None);
    }

    #[test]
    fn differences_hold_the_recent_samples() {
        let earlier = RunBuckets::parse(TEXT);
        let later = RunBuckets::parse(&TEXT.replace("} 4\ntokengate_run_seconds_sum{op=\"a\"} 0.005\ntokengate_run_seconds_count{op=\"a\"} 4", "} 6\ntokengate_run_seconds_sum{op=\"a\"} 0.011\ntokengate_run_seconds_count{op=\"a\"} 6"));
        let recent = later.since(&earlier);
        assert_eq!(recent.count, 2.0);
        assert!((recent.mean().unwrap() - 0.003).abs() < 1e-9);
        assert_eq!(recent.since(&recent).quantile(0.5), None);
    }
}
