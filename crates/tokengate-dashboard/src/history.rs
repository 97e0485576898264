//! [`History`]: the last five minutes, one [`Sample`] a second, for the
//! page's throughput and latency charts.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokengate::stats::Stats;

/// How many samples are kept: five minutes of one a second.
pub(crate) const WINDOW: usize = 300;

/// One second of the coordinator's life: rates over the interval since the
/// previous sample, and latencies.
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
    /// Run time percentiles, in seconds, of every call since the coordinator
    /// started (the coordinator keeps cumulative histograms).
    pub(crate) p50: f64,
    /// 95th percentile, as `p50`.
    pub(crate) p95: f64,
    /// 99th percentile, as `p50`.
    pub(crate) p99: f64,
    /// The mean run time, in seconds, of the bodies that ended in this
    /// interval (from the change in count and mean), if any did.
    pub(crate) mean: Option<f64>,
}

impl Sample {
    /// The sample for `now`, given the previous snapshot and how long ago it
    /// was taken (rates are zero for the first sample).
    pub(crate) fn between(
        previous: Option<(&Stats, Duration)>,
        now: &Stats,
        at: SystemTime,
    ) -> Sample {
        let t = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let run = &now.run_time;
        let mut sample = Sample {
            t,
            in_flight: now.in_flight,
            p50: run.p50.as_secs_f64(),
            p95: run.p95.as_secs_f64(),
            p99: run.p99.as_secs_f64(),
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
        let ended = run.count.saturating_sub(before.run_time.count);
        if ended > 0 {
            let total = |s: &Stats| s.run_time.mean.as_secs_f64() * s.run_time.count as f64;
            sample.mean = Some(((total(now) - total(before)) / ended as f64).max(0.0));
        }
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
