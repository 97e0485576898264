//! Publishing a coordinator's metrics to the `metrics` facade (the `metrics`
//! feature): every family of [`telemetry::METRICS`](crate::telemetry::METRICS),
//! sampled from the same counters and histograms as
//! [`stats`](crate::Handle::stats), by the timer thread every
//! `metrics_interval` and once more at stop, or when asked
//! ([`Handle::publish_metrics`](crate::Handle::publish_metrics)).
//!
//! A guarded call never touches the recorder, whatever is installed: the
//! cost of metrics is one publication per interval (tens of microseconds for
//! a few operations), not a cost per call. That is also why a recorder
//! installed late loses nothing but histogram samples from before it was:
//!
//! * counters are published as absolute values (`Counter::absolute`), and
//!   gauges with `Gauge::set`, so each publication is complete on its own;
//! * histograms get the samples recorded since the previous publication,
//!   each as the midpoint of its runtime histogram bucket (within 6.25 % of
//!   the value it stands for), with `Histogram::record_many`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use metrics::{Key, Label, Level, Metadata, Recorder, SharedString, Unit};

use super::samples::{self, Sample, Value};
use super::shared::Shared;
use super::stats;
use crate::telemetry::{METRICS, MetricKind, TARGET};

/// Where tokengate's metrics come from, for recorders that filter on it.
static METADATA: Metadata<'static> = Metadata::new(TARGET, Level::INFO, Some(module_path!()));

/// A coordinator's publisher: its extra labels, and how far its histograms
/// were published.
#[derive(Debug)]
pub(crate) struct Export {
    /// Labels added to every series (`metrics_label`).
    labels: Vec<Label>,
    /// Per histogram series (family, op): bucket counts published so far.
    published: Mutex<HashMap<(&'static str, String), Vec<u64>>>,
}

impl Export {
    pub(crate) fn new(labels: &[(String, String)]) -> Export {
        Export {
            labels: labels
                .iter()
                .map(|(key, value)| Label::new(key.clone(), value.clone()))
                .collect(),
            published: Mutex::default(),
        }
    }

    /// Publishes `shared`'s metrics to the recorder current on this thread.
    pub(crate) fn publish(&self, shared: &Shared) {
        let (stats, latencies) = stats::collect_with_latencies(shared);
        let samples = samples::from_stats(&stats, latencies);
        // Held for the whole publication: two at once (the timer's and a
        // caller's) would publish one histogram sample twice.
        let mut published = self
            .published
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        metrics::with_recorder(|recorder| {
            describe(recorder);
            for sample in &samples {
                self.publish_sample(recorder, sample, &mut published);
            }
        });
    }

    fn publish_sample(
        &self,
        recorder: &dyn Recorder,
        sample: &Sample,
        published: &mut HashMap<(&'static str, String), Vec<u64>>,
    ) {
        let labels: Vec<Label> = sample
            .labels()
            .map(|(key, value)| Label::new(key, value.to_owned()))
            .chain(self.labels.iter().cloned())
            .collect();
        let key = Key::from_parts(sample.metric.name, labels);
        match (&sample.value, sample.metric.kind) {
            (Value::Number(value), MetricKind::Counter) => {
                recorder
                    .register_counter(&key, &METADATA)
                    .absolute(*value as u64);
            }
            (Value::Number(value), _) => {
                recorder.register_gauge(&key, &METADATA).set(*value);
            }
            (Value::Histogram(histogram), _) => {
                let series = (sample.metric.name, sample.labels.join("\u{0}"));
                let seen = published
                    .entry(series)
                    .or_insert_with(|| vec![0; histogram.counts().len()]);
                let handle = recorder.register_histogram(&key, &METADATA);
                for ((midpoint, count), seen) in histogram.buckets().zip(seen.iter_mut()) {
                    let new = count.saturating_sub(*seen);
                    if new > 0 {
                        let samples = usize::try_from(new).unwrap_or(usize::MAX);
                        handle.record_many(midpoint as f64 / 1e9, samples);
                    }
                    *seen = (*seen).max(count);
                }
            }
        }
    }
}

/// Tells the recorder each family's help text and unit.
fn describe(recorder: &dyn Recorder) {
    for metric in METRICS {
        let unit = metric.name.ends_with("_seconds").then_some(Unit::Seconds);
        let help = SharedString::const_str(metric.help);
        let name = metric.name.into();
        match metric.kind {
            MetricKind::Counter => recorder.describe_counter(name, unit, help),
            MetricKind::Gauge => recorder.describe_gauge(name, unit, help),
            MetricKind::Histogram => recorder.describe_histogram(name, unit, help),
        }
    }
}
