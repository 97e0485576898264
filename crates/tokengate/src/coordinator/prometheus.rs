//! The Prometheus text exposition format (version 0.0.4), written from a
//! coordinator's samples without any exporter: what
//! [`Handle::prometheus_text`](crate::Handle::prometheus_text) returns.
//!
//! Per family, a `# HELP` and a `# TYPE` line, then its samples; families
//! with no sample now (no named limit, say) are left out. Label values
//! escape `\`, `"` and newlines, help texts `\` and newlines, as the format
//! requires. Histograms are cut at the runtime's own bucket boundaries (see
//! [`BOUNDARIES`]), so their cumulative counts are exact.

use std::fmt::Write as _;

use super::samples::{Sample, Value};
use crate::metrics::HistogramSnapshot;
use crate::telemetry::MetricKind;

/// The powers of two (of nanoseconds) a histogram is cut at: 2¹⁰ ns (about
/// 1 µs) to 2⁴⁰ ns (about 18 minutes), every power of two, where the
/// runtime's log-linear buckets start. Longer samples are counted in `+Inf`.
const BOUNDARIES: std::ops::RangeInclusive<u32> = 10..=40;

/// Renders `samples` (grouped by family) in the text format.
pub(crate) fn render(samples: &[Sample]) -> String {
    let mut out = String::with_capacity(samples.len() * 64);
    let mut previous = None;
    for sample in samples {
        let metric = sample.metric;
        if previous != Some(metric.name) {
            previous = Some(metric.name);
            out.push_str("# HELP ");
            out.push_str(metric.name);
            out.push(' ');
            escape(&mut out, metric.help, false);
            out.push('\n');
            let _ = writeln!(out, "# TYPE {} {}", metric.name, metric.kind.as_str());
        }
        match &sample.value {
            Value::Number(value) => {
                debug_assert_ne!(metric.kind, MetricKind::Histogram);
                line(&mut out, metric.name, "", sample, None, *value);
            }
            Value::Histogram(histogram) => histogram_lines(&mut out, sample, histogram),
        }
    }
    out
}

/// A histogram's `_bucket` lines (cumulative, one per boundary and `+Inf`),
/// then its `_sum` (seconds) and `_count`.
fn histogram_lines(out: &mut String, sample: &Sample, histogram: &HistogramSnapshot) {
    let name = sample.metric.name;
    let count = histogram.count() as f64;
    for exp in BOUNDARIES {
        let boundary = 1u64 << exp;
        // Whole nanoseconds below 2^exp are at most 2^exp - 1: the bucket's
        // inclusive upper bound, as `le` means.
        let le = Bound((boundary - 1) as f64 / 1e9);
        let below = histogram.count_below(boundary) as f64;
        line(out, name, "_bucket", sample, Some(le), below);
    }
    line(
        out,
        name,
        "_bucket",
        sample,
        Some(Bound(f64::INFINITY)),
        count,
    );
    let sum = histogram.sum_nanos() as f64 / 1e9;
    line(out, name, "_sum", sample, None, sum);
    line(out, name, "_count", sample, None, count);
}

/// A bucket's `le` bound, in seconds.
#[derive(Clone, Copy)]
struct Bound(f64);

/// One sample line: `name{labels} value`, with `le` appended to the labels
/// for a histogram bucket.
fn line(out: &mut String, name: &str, suffix: &str, sample: &Sample, le: Option<Bound>, v: f64) {
    out.push_str(name);
    out.push_str(suffix);
    let mut labels = sample.labels().peekable();
    if labels.peek().is_some() || le.is_some() {
        out.push('{');
        let mut first = true;
        for (key, value) in labels {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(key);
            out.push_str("=\"");
            escape(out, value, true);
            out.push('"');
        }
        if let Some(Bound(le)) = le {
            if !first {
                out.push(',');
            }
            out.push_str("le=\"");
            number(out, le);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    number(out, v);
    out.push('\n');
}

/// Writes `text` escaped: backslashes and newlines always, double quotes in
/// a label value.
fn escape(out: &mut String, text: &str, quotes: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Writes a value as the format spells it (Go's `ParseFloat` reads it):
/// `+Inf`, `-Inf`, `NaN`, or a plain decimal.
fn number(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut out = String::new();
        escape(&mut out, "a\\b\"c\nd", true);
        assert_eq!(out, r#"a\\b\"c\nd"#);
        let mut out = String::new();
        escape(&mut out, "a\\b\"c\nd", false);
        assert_eq!(out, "a\\\\b\"c\\nd");
    }

    #[test]
    fn numbers_are_written_as_the_format_reads_them() {
        let written = |v: f64| {
            let mut out = String::new();
            number(&mut out, v);
            out
        };
        assert_eq!(written(3.0), "3");
        assert_eq!(written(0.25), "0.25");
        assert_eq!(written(1023.0 / 1e9), "0.000001023");
        assert_eq!(written(f64::INFINITY), "+Inf");
        assert_eq!(written(f64::NEG_INFINITY), "-Inf");
        assert_eq!(written(f64::NAN), "NaN");
        assert_eq!(written(u64::MAX as f64).parse::<f64>(), Ok(u64::MAX as f64));
    }
}
