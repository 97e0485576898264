//! [`History`]: the last five minutes, one [`Sample`] a second, for the
//! page's throughput and latency charts.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokengate::stats::Stats;

use crate::latency::RunBuckets;

/// How many samples are kept: five minutes of one a second.
pub(crate) const WINDOW: usize = 300;

/// One second of the coordinator's life: rates over the interval since the
/// previous sample, and run-time latencies over the last few seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub(crate) struct Sample {
    /// When it was taken, in seconds since the Unix epoch.
    pub(crate) t: f64,
    /// Calls made per second.
    pub(crate) submitted: f64,
    /// Calls that returned a value, per second.
    pub(crate) completed: f64,
    /// Calls that failed (panicked) or timed out, per second.
    pub(crate) failed: f64,
    /// Calls killed, drained, rejected or shed, per second.
    pub(crate) killed: f64,
    /// Calls in flight at the sample.
    pub(crate) in_flight: u64,
    /// The median run time, in seconds, of the bodies that ended in the last
    /// [`LATENCY_WINDOW`] (`None` if none did).
    pub(crate) p50: Option<f64>,
    /// The 95th percentile, as `p50`.
    pub(crate) p95: Option<f64>,
    /// The 99th percentile, as `p50`.
    pub(crate) p99: Option<f64>,
    /// The mean, as `p50` (exact; percentiles are interpolated within
    /// power-of-two buckets).
    pub(crate) mean: Option<f64>,
}

/// The window the latency figures of a sample cover: long enough to hold a
/// few calls of a slow workload, short enough to show a spike.
pub(crate) const LATENCY_WINDOW: Duration = Duration::from_secs(5);

impl Sample {
    /// The sample for `now`: rates since the `previous` snapshot (taken that
    /// long ago; zero for the first sample) and latencies of `recent`, the
    /// run times recorded over the last [`LATENCY_WINDOW`].
    pub(crate) fn new(
        at: SystemTime,
        now: &Stats,
        previous: Option<(&Stats, Duration)>,
        recent: &RunBuckets,
    ) -> Sample {
        let t = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let mut sample = Sample {
            t,
            in_flight: now.in_flight,
            p50: recent.quantile(0.50),
            p95: recent.quantile(0.95),
            p99: recent.quantile(0.99),
            mean: recent.mean(),
            ..Sample::default()
        };
        let Some((before, elapsed)) = previous else {
            return sample;
        };
        let secs = elapsed.as_secs_f64().max(1e-3);
        let rate = |now: u64, before: u64| now.saturating_sub(before) as f64 / secs;
        let (a, b) = (&now.tokens, &before.tokens);
        sample.submitted = rate(a.submitted, b.submitted);
        sample.completed = rate(a.completed, b.completed);
        sample.failed = rate(a.failed + a.timed_out, b.failed + b.timed_out);
        sample.killed = rate(a.killed, b.killed);
        sample
    }
}

/// The ring of the last [`WINDOW`] samples, oldest first.
#[derive(Debug, Default)]
pub(crate) struct History {
    samples: Mutex<VecDeque<Sample>>,
}

impl History {
    pub(crate) fn push(&self, sample: Sample) {
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if samples.len() == WINDOW {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    /// The samples, oldest first.
    pub(crate) fn samples(&self) -> Vec<Sample> {
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        samples.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_five_minutes() {
        let history = History::default();
        for i in 0..WINDOW + 10 {
            history.push(Sample {
                t: i as f64,
                ..Sample::default()
            });
        }
        let samples = history.samples();
        assert_eq!(samples.len(), WINDOW);
        assert_eq!(samples[0].t, 10.0);
        assert_eq!(samples[WINDOW - 1].t, (WINDOW + 9) as f64);
    }
}
