//! Telemetry: `tokengate.call` spans that continue the caller's span tree on
//! the worker, the events of failed calls, `prometheus_text` read back by
//! parsers of the format, and the export to the `metrics` facade.
//!
//! Subscribers and recorders here are scoped to the test's thread
//! (`tracing::subscriber::with_default`, `metrics::with_local_recorder`),
//! so tests run side by side; a call's span carries its subscriber to the
//! threads that run or resolve it. The global recorder is tested in its own
//! binary (`metrics_export.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tokengate::{AutoBlock, ErrorKind, FullLanePolicy, Task, Weight};
use tokengate_tests::recording::{Recording, recorded};
use tokengate_tests::{
    EXPECTED_PANIC, builder, error, eventually, quiet_expected_panics, resolve, single_worker,
    value, with_coordinator,
};
use tracing::Level;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;

// ----- spans -------------------------------------------------------------------

#[test]
fn a_calls_span_is_a_child_of_the_callers_span_and_is_entered_on_the_worker() {
    recorded(|log| {
        with_coordinator(single_worker("trace-tree"), |_| {
            let request = tracing::info_span!("request", path = "/thumbnails");
            let (token, inner) = request.in_scope(|| {
                let token = Task::new("resize").weight(Weight::Heavy).spawn(|| {
                    tracing::info!("resizing");
                    // A call made inside a call: its span is a child of this
                    // call's span.
                    let inner = tokengate::spawn("encode", || tracing::info!("encoding"));
                    let id = inner.id();
                    value(inner);
                    (std::thread::current().id(), id)
                });
                (token.id(), value(token))
            });
            let (ran_on, inner_id) = inner;
            let (serial, span) = log.call_span(token);
            assert_eq!(span.parent, Some(log.span_named("request")));
            assert_eq!(span.fields["op"], "resize");
            assert_eq!(span.fields["weight"], "heavy");
            assert_eq!(span.fields["path"], "lane");
            assert_eq!(span.fields["lead"], "false");
            assert_eq!(span.fields["process"], "false");
            assert_eq!(span.fields["outcome"], "completed");
            assert!(span.fields.contains_key("queue_wait"), "{span:?}");
            // Entered where the body ran: on the worker, not here.
            assert!(span.entered_on.contains(&ran_on), "{span:?}");
            assert_ne!(ran_on, std::thread::current().id());
            let (_, inner_span) = log.call_span(inner_id);
            assert_eq!(inner_span.parent, Some(serial));
            // The bodies' own events are in their calls' spans.
            let resizing = &log.events("resizing")[0];
            assert_eq!(resizing.span, Some(serial));
            assert_eq!(
                log.events("encoding")[0].span,
                Some(log.call_span(inner_id).0)
            );
            // Closed once the call resolved and its body returned.
            eventually("the call's span closes", || log.call_span(token).1.closed);
        });
    });
}

#[test]
fn a_filtered_out_call_span_still_leaves_the_body_in_the_callers_span() {
    let recording = Recording::default();
    let only_info = recording
        .clone()
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    let subscriber = tracing_subscriber::registry().with(only_info);
    tracing::subscriber::with_default(subscriber, || {
        with_coordinator(builder("trace-filtered"), |_| {
            let request = tracing::info_span!("request");
            let token = request.in_scope(|| tokengate::spawn("quiet", || tracing::info!("inside")));
            value(token);
            let inside = &recording.events("inside")[0];
            assert_eq!(inside.span, Some(recording.span_named("request")));
            let log = recording.log();
            assert!(
                log.spans.values().all(|span| span.name != "tokengate.call"),
                "the DEBUG span was filtered out: {:#?}",
                log.spans
            );
        });
    });
}

#[test]
fn the_path_fields_say_where_a_call_runs() {
    recorded(|log| {
        with_coordinator(builder("trace-paths"), |_| {
            let tier = Task::new("read_blob").storage_speed(tokengate::StorageSpeed::Fast);
            let sticky = Task::new("settle").sticky("account", &7_u64);
            let tier = tier.spawn(|| ()).id();
            let sticky = sticky.spawn(|| ()).id();
            eventually("both calls finished", || {
                [tier, sticky]
                    .iter()
                    .all(|&id| log.call_span(id).1.fields.contains_key("outcome"))
            });
            let (_, tier) = log.call_span(tier);
            assert_eq!(
                (tier.fields["path"].as_str(), tier.fields["tier"].as_str()),
                ("tier", "FAST")
            );
            assert_eq!(log.call_span(sticky).1.fields["path"], "sticky");
        });
    });
}

// ----- events ------------------------------------------------------------------

#[test]
fn kills_timeouts_rejections_and_panics_are_reported_inside_the_calls_span() {
    quiet_expected_panics();
    recorded(|log| {
        let setup = single_worker("trace-events")
            .lane_capacity(1)
            .full_lane_policy(FullLanePolicy::Reject);
        with_coordinator(setup, |c| {
            // A kill of a queued call: DEBUG, with who killed it.
            c.pause_operation("held");
            let held = tokengate::spawn("held", || ());
            let held_id = held.id();
            assert!(held.kill());
            assert_eq!(error(held).kind(), ErrorKind::Killed);
            c.resume_operation("held");
            let killed = log.events("call killed");
            assert_eq!(killed.len(), 1, "{killed:?}");
            assert_eq!(killed[0].level, Level::DEBUG);
            assert_eq!(killed[0].fields["reason"], "token");
            assert_eq!(killed[0].fields["token_id"], held_id.as_u64().to_string());
            assert_eq!(killed[0].span, Some(log.call_span(held_id).0));
            assert_eq!(log.call_span(held_id).1.fields["outcome"], "killed");

            // A timeout, fired on the timer's thread: WARN.
            let slow = Task::new("slow")
                .timeout(Duration::from_millis(20))
                .spawn(|| {
                    while !tokengate::is_cancelled() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                });
            let slow_id = slow.id();
            assert_eq!(error(slow).kind(), ErrorKind::TimedOut);
            let timed_out = log.events("call timed out");
            assert_eq!(timed_out.len(), 1, "{timed_out:?}");
            assert_eq!(timed_out[0].level, Level::WARN);
            assert_eq!(timed_out[0].span, Some(log.call_span(slow_id).0));
            assert!(timed_out[0].fields["error"].contains("timed out"));
            assert_eq!(log.call_span(slow_id).1.fields["outcome"], "timed_out");

            // A rejection: with admission paused, the first call takes the
            // lane's one slot, and the next is rejected.
            c.pause_admission();
            let queued = tokengate::spawn("queued", || ());
            let rejected = tokengate::spawn("overflow", || ());
            let rejected_id = rejected.id();
            assert_eq!(error(rejected).kind(), ErrorKind::Rejected);
            c.resume_admission();
            value(queued);
            let rejections = log.events("call rejected");
            assert_eq!(rejections.len(), 1, "{rejections:?}");
            assert_eq!(rejections[0].level, Level::WARN);
            assert_eq!(rejections[0].span, Some(log.call_span(rejected_id).0));

            // A panic: ERROR, on the worker, with its message.
            let boom = tokengate::spawn("boom", || -> u8 { panic!("{EXPECTED_PANIC}: boom") });
            let boom_id = boom.id();
            assert_eq!(error(boom).kind(), ErrorKind::Panic);
            let panics = log.events("call panicked");
            assert_eq!(panics.len(), 1, "{panics:?}");
            assert_eq!(panics[0].level, Level::ERROR);
            assert!(panics[0].fields["panic"].contains("boom"));
            assert_eq!(panics[0].span, Some(log.call_span(boom_id).0));
            assert_eq!(log.call_span(boom_id).1.fields["outcome"], "panic");

            // Nothing above DEBUG for the calls that succeeded.
            let log = log.log();
            let loud: Vec<_> = log
                .events
                .iter()
                .filter(|e| e.level <= Level::INFO && !e.message.starts_with("call "))
                .collect();
            assert!(loud.is_empty(), "{loud:?}");
        });
    });
}

#[test]
fn shed_calls_and_retries_are_reported() {
    quiet_expected_panics();
    recorded(|log| {
        with_coordinator(single_worker("trace-shed"), |c| {
            c.pause_operation("stale");
            let stale = Task::new("stale")
                .queue_timeout(Duration::from_millis(20))
                .spawn(|| ());
            let stale_id = stale.id();
            assert_eq!(error(stale).kind(), ErrorKind::Expired);
            c.resume_operation("stale");
            let shed = log.events("call shed");
            assert_eq!(shed.len(), 1, "{shed:?}");
            assert_eq!(shed[0].level, Level::WARN);
            assert_eq!(log.call_span(stale_id).1.fields["outcome"], "expired");

            let failed_once = Arc::new(AtomicBool::new(false));
            let flaky = Task::new("flaky")
                .retries(2)
                .retry_backoff(Duration::from_millis(1));
            let token = flaky.spawn(move || {
                if !failed_once.swap(true, Ordering::SeqCst) {
                    panic!("{EXPECTED_PANIC}: first attempt");
                }
                7
            });
            let id = token.id();
            assert_eq!(value(token), 7);
            let retries = log.events("retrying call");
            assert_eq!(retries.len(), 1, "{retries:?}");
            assert_eq!(retries[0].level, Level::DEBUG);
            assert_eq!(retries[0].fields["cause"], "panic");
            assert_eq!(retries[0].fields["attempt"], "1");
            assert_eq!(log.call_span(id).1.fields["outcome"], "completed");
        });
    });
}

#[test]
fn auto_block_trips_and_unblocks_are_reported() {
    quiet_expected_panics();
    let rule = AutoBlock::new()
        .failure_ratio(0.5)
        .min_calls(4)
        .cooldown(Duration::from_secs(3600));
    recorded(|log| {
        with_coordinator(builder("trace-autoblock").auto_block(rule), |c| {
            let failing = Task::new("fragile");
            while !resolve(failing.spawn(|| -> u8 { panic!("{EXPECTED_PANIC}: fragile") }))
                .unwrap_err()
                .is_blocked()
            {}
            let blocked = log.events("operation blocked");
            assert_eq!(blocked.len(), 1, "{blocked:?}");
            assert_eq!(blocked[0].level, Level::WARN);
            assert_eq!(blocked[0].fields["op"], "fragile");
            assert!(blocked[0].fields["why"].contains("failed"), "{blocked:?}");
            assert_eq!(log.events("call refused")[0].level, Level::DEBUG);

            assert!(c.unblock_operation("fragile"));
            let unblocked = log.events("operation unblocked");
            assert_eq!(unblocked.len(), 1, "{unblocked:?}");
            assert_eq!(unblocked[0].level, Level::INFO);
            assert_eq!(unblocked[0].fields["how"], "manual");

            c.block_operation("by_hand");
            let manual = log.events("operation blocked");
            assert_eq!(manual.len(), 2, "{manual:?}");
            assert_eq!(
                (manual[1].level, manual[1].fields["op"].as_str()),
                (Level::INFO, "by_hand")
            );
        });
    });
}

// ----- Prometheus text -----------------------------------------------------------

/// An op name that needs every escape of the format: a quote, a backslash
/// and a newline.
const AWKWARD: &str = "we\"ird\\op\nname";

/// One sample line of the text format, read strictly.
#[derive(Debug, PartialEq)]
struct Line {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

fn is_name(name: &str, first: fn(char) -> bool) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(first)
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A float as Go's `ParseFloat` (which Prometheus uses) reads it.
fn go_float(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ if text
            .chars()
            .all(|c| c.is_ascii_digit() || ".eE+-".contains(c)) =>
        {
            text.parse().map_err(|e| format!("{text:?}: {e}"))
        }
        _ => Err(format!("{text:?} is not a number")),
    }
}

/// Reads a sample line per the text format 0.0.4: a metric name, optional
/// `{name="value",...}` with `\\`, `\"` and `\n` the only escapes, a
/// space, a value, and optionally a timestamp.
fn sample_line(line: &str) -> Result<Line, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !is_name(name, |c| c.is_ascii_alphabetic() || c == '_' || c == ':') {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = rest.find('=').ok_or("a label without `=`")?;
            let key = &rest[..eq];
            if !is_name(key, |c| c.is_ascii_alphabetic() || c == '_') {
                return Err(format!("bad label name {key:?}"));
            }
            rest = rest[eq + 1..]
                .strip_prefix('"')
                .ok_or("an unquoted label value")?;
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next().ok_or("an unterminated label value")? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next().ok_or("a dangling backslash")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        other => return Err(format!("unknown escape `\\{other}`")),
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.push((key.to_owned(), value));
            rest = &rest[end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let rest = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let mut parts = rest.split(' ');
    let value = go_float(parts.next().ok_or("no value")?)?;
    if let Some(timestamp) = parts.next() {
        timestamp
            .parse::<i64>()
            .map_err(|e| format!("timestamp: {e}"))?;
    }
    if parts.next().is_some() {
        return Err("text after the timestamp".into());
    }
    Ok(Line {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// A family and a label set, `le` left out.
type Series = (String, Vec<(String, String)>);

/// Reads a whole exposition strictly: comment lines are well-formed HELP
/// or TYPE lines, each family's TYPE comes once and before its samples,
/// samples of a family are together, and histograms are cumulative, end at
/// `+Inf` and agree with their `_count`. Returns the samples.
fn read_exposition(text: &str) -> Vec<Line> {
    assert!(text.ends_with('\n'), "the last line ends with a newline");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut done: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let mut lines = Vec::new();
    for line in text.lines() {
        if let Some(help) = line.strip_prefix("# HELP ") {
            let (name, doc) = help.split_once(' ').expect("HELP has a name and a text");
            assert!(
                is_name(name, |c| c.is_ascii_alphabetic() || c == '_'),
                "{line}"
            );
            let mut chars = doc.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    assert!(
                        matches!(chars.next(), Some('\\' | 'n')),
                        "bad escape: {line}"
                    );
                }
            }
            continue;
        }
        if let Some(ty) = line.strip_prefix("# TYPE ") {
            let (name, kind) = ty.split_once(' ').expect("TYPE has a name and a type");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "TYPE twice: {line}"
            );
            assert!(
                !done.contains(&name.to_owned()),
                "TYPE after samples: {line}"
            );
            if let Some(previous) = current.replace(name.to_owned()) {
                done.push(previous);
            }
            continue;
        }
        assert!(!line.starts_with('#'), "an unknown comment: {line}");
        let sample = sample_line(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let family = current.as_deref().expect("samples come after a TYPE");
        let kind = &types[family];
        let belongs = match kind.as_str() {
            "histogram" => ["_bucket", "_sum", "_count"]
                .iter()
                .any(|suffix| sample.name == format!("{family}{suffix}")),
            _ => sample.name == family,
        };
        assert!(belongs, "{} is not of family {family}", sample.name);
        lines.push(sample);
    }
    // Histograms: per label set, buckets rise with `le` and end at +Inf = count.
    let mut buckets: HashMap<Series, Vec<(f64, f64)>> = HashMap::new();
    for line in &lines {
        if let Some(family) = line.name.strip_suffix("_bucket") {
            let le = line
                .labels
                .iter()
                .find(|(k, _)| k == "le")
                .expect("a bucket has `le`");
            let le = go_float(&le.1).unwrap();
            let rest: Vec<_> = line
                .labels
                .iter()
                .filter(|(k, _)| k != "le")
                .cloned()
                .collect();
            buckets
                .entry((family.to_owned(), rest))
                .or_default()
                .push((le, line.value));
        }
    }
    for ((family, labels), series) in &buckets {
        assert!(
            series
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "{family} {labels:?}: {series:?}"
        );
        let (last_le, last_count) = *series.last().unwrap();
        assert_eq!(last_le, f64::INFINITY, "{family} ends at +Inf");
        let count = lines
            .iter()
            .find(|l| l.name == format!("{family}_count") && &l.labels == labels)
            .expect("a histogram has a _count");
        assert_eq!(count.value, last_count, "{family} {labels:?}");
    }
    lines
}

fn find<'a>(lines: &'a [Line], name: &str, labels: &[(&str, &str)]) -> &'a Line {
    lines
        .iter()
        .find(|line| {
            line.name == name
                && labels
                    .iter()
                    .all(|(k, v)| line.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .unwrap_or_else(|| panic!("no {name} {labels:?}"))
}

#[test]
fn prometheus_text_is_valid_exposition_format_and_matches_stats() {
    let setup = builder("prometheus").limit("db", 3);
    with_coordinator(setup, |c| {
        const CALLS: u64 = 6;
        let sleep = Duration::from_millis(3);
        let tokens: Vec<_> = (0..CALLS)
            .map(|_| {
                Task::new(AWKWARD)
                    .limit("db")
                    .spawn(move || std::thread::sleep(sleep))
            })
            .collect();
        for token in tokens {
            value(token);
        }
        let failed = error(tokengate::spawn("doomed", || -> u8 {
            std::panic::panic_any(tokengate_tests::ExpectedPanic)
        }));
        assert!(failed.is_panic());
        eventually("every call has finished", || c.stats().in_flight == 0);
        let text = c.prometheus_text();
        let stats = c.stats();

        // Read strictly, and by the prometheus-parse crate.
        let lines = read_exposition(&text);
        let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .expect("prometheus-parse reads it");
        for line in text.lines() {
            assert_ne!(
                prometheus_parse::LineInfo::parse(line),
                prometheus_parse::LineInfo::Ignored,
                "prometheus-parse does not recognize {line:?}"
            );
        }
        for metric in tokengate::telemetry::METRICS {
            let has_samples = text.contains(&format!("\n{}", metric.name));
            if has_samples {
                assert_eq!(
                    scrape.docs.get(metric.name).map(String::as_str),
                    Some(metric.help)
                );
            }
        }

        // The awkward op name comes back exactly, unescaped.
        let op = stats.op(AWKWARD).expect("calls of the awkward op");
        let submitted = find(
            &lines,
            "tokengate_calls_submitted_total",
            &[("op", AWKWARD)],
        );
        assert_eq!(submitted.value, op.counts.submitted as f64);
        assert_eq!(submitted.value, CALLS as f64);
        let completed = find(
            &lines,
            "tokengate_calls_total",
            &[("op", AWKWARD), ("outcome", "completed")],
        );
        assert_eq!(completed.value, CALLS as f64);
        // prometheus-parse keeps label values escaped: the escaped form.
        let escaped = r#"we\"ird\\op\nname"#;
        let parsed = scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == "tokengate_calls_submitted_total" && s.labels.get("op") == Some(escaped)
            })
            .expect("prometheus-parse finds the sample");
        assert_eq!(parsed.value, prometheus_parse::Value::Counter(CALLS as f64));

        let doomed = find(
            &lines,
            "tokengate_calls_total",
            &[("op", "doomed"), ("outcome", "failed")],
        );
        assert_eq!(doomed.value, 1.0);
        assert_eq!(
            find(&lines, "tokengate_workers", &[]).value,
            c.worker_count() as f64
        );
        assert_eq!(
            find(&lines, "tokengate_lane_capacity", &[("weight", "medium")]).value,
            stats.lane(Weight::Medium).capacity as f64
        );
        assert_eq!(
            find(&lines, "tokengate_limit_cap", &[("limit", "db")]).value,
            3.0
        );
        assert_eq!(
            find(&lines, "tokengate_limit_started_total", &[("limit", "db")]).value,
            CALLS as f64
        );
        assert_eq!(find(&lines, "tokengate_live_tokens", &[]).value, 0.0);
        assert_eq!(
            find(
                &lines,
                "tokengate_op_health",
                &[("op", AWKWARD), ("state", "healthy")]
            )
            .value,
            1.0
        );

        // Run time: bodies slept 3 ms, so none is under 2^21 ns (2.1 ms),
        // and (loose bound) all are under 2^36 ns (69 s).
        let run = |suffix: &str, labels: &[(&str, &str)]| {
            find(&lines, &format!("tokengate_run_seconds{suffix}"), labels).value
        };
        assert_eq!(run("_count", &[("op", AWKWARD)]), op.run_time.count as f64);
        assert_eq!(
            run("_bucket", &[("op", AWKWARD), ("le", "0.002097151")]),
            0.0
        );
        assert_eq!(
            run("_bucket", &[("op", AWKWARD), ("le", "68.719476735")]),
            CALLS as f64
        );
        let sum = run("_sum", &[("op", AWKWARD)]);
        assert!(sum >= CALLS as f64 * sleep.as_secs_f64(), "{sum}");
        let mean_sum = op.run_time.mean.as_secs_f64() * CALLS as f64;
        assert!((sum - mean_sum).abs() < 1e-6, "{sum} vs {mean_sum}");
        let histogram = scrape
            .samples
            .iter()
            .find(|s| s.metric == "tokengate_run_seconds" && s.labels.get("op") == Some(escaped))
            .expect("prometheus-parse reads the histogram");
        match &histogram.value {
            prometheus_parse::Value::Histogram(buckets) => {
                assert_eq!(buckets.len(), 32);
                assert_eq!(buckets.last().unwrap().count, CALLS as f64);
            }
            other => panic!("not a histogram: {other:?}"),
        }
    });
}

// ----- the metrics facade --------------------------------------------------------

/// Snapshot entries by name and labels.
type Published = HashMap<Series, DebugValue>;

fn snapshot(recorder: &DebuggingRecorder) -> Published {
    recorder
        .snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let (_, key) = key.into_parts();
            let labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            ((key.name().to_owned(), labels), value)
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn publish_metrics_reaches_the_recorder_of_the_calling_thread() {
    let setup = builder("metrics-local")
        // Only when asked: the timer's own publications go to the global
        // recorder, which this binary does not install.
        .metrics_interval(Duration::MAX)
        .metrics_label("pool", "tests");
    with_coordinator(setup, |c| {
        const CALLS: usize = 5;
        let sleep = Duration::from_millis(2);
        for _ in 0..CALLS {
            value(tokengate::spawn("publish", move || {
                std::thread::sleep(sleep)
            }));
        }
        eventually("every call has finished", || c.stats().in_flight == 0);
        let recorder = DebuggingRecorder::new();
        metrics::with_local_recorder(&recorder, || c.publish_metrics());
        let published = snapshot(&recorder);
        let get = |name: &str, pairs: &[(&str, &str)]| {
            let mut pairs = pairs.to_vec();
            pairs.push(("pool", "tests"));
            published
                .get(&(name.to_owned(), labels(&pairs)))
                .unwrap_or_else(|| panic!("{name} {pairs:?} was not published"))
        };
        assert_eq!(
            get(
                "tokengate_calls_total",
                &[("op", "publish"), ("outcome", "completed")]
            ),
            &DebugValue::Counter(CALLS as u64)
        );
        assert_eq!(
            get("tokengate_workers", &[]),
            &DebugValue::Gauge((c.worker_count() as f64).into())
        );
        match get("tokengate_run_seconds", &[("op", "publish")]) {
            DebugValue::Histogram(samples) => {
                assert_eq!(samples.len(), CALLS);
                // Each stands for its bucket's midpoint: within 1/16 of a
                // value of at least 2 ms.
                let floor = sleep.as_secs_f64() * 15.0 / 16.0;
                assert!(samples.iter().all(|s| s.0 >= floor), "{samples:?}");
            }
            other => panic!("not a histogram: {other:?}"),
        }

        // Published again: counters and gauges as they are, no histogram
        // sample twice.
        value(tokengate::spawn("publish", move || {
            std::thread::sleep(sleep)
        }));
        eventually("the call has finished", || c.stats().in_flight == 0);
        metrics::with_local_recorder(&recorder, || c.publish_metrics());
        let published = snapshot(&recorder);
        let key = |name: &str, pairs: &[(&str, &str)]| {
            let mut pairs = pairs.to_vec();
            pairs.push(("pool", "tests"));
            (name.to_owned(), labels(&pairs))
        };
        assert_eq!(
            published[&key(
                "tokengate_calls_total",
                &[("op", "publish"), ("outcome", "completed")]
            )],
            DebugValue::Counter(CALLS as u64 + 1)
        );
        match &published[&key("tokengate_run_seconds", &[("op", "publish")])] {
            DebugValue::Histogram(samples) => assert_eq!(samples.len(), 1, "{samples:?}"),
            other => panic!("not a histogram: {other:?}"),
        }
    });
}

#[test]
fn a_metrics_label_must_be_a_label_name_of_its_own() {
    for key in ["", "9lives", "has-dash", "__reserved", "op", "le"] {
        let err = builder("metrics-label")
            .metrics_label(key, "x")
            .start()
            .expect_err(key);
        assert!(err.to_string().contains("metrics_label"), "{key}: {err}");
    }
    let err = builder("metrics-interval")
        .metrics_interval(Duration::ZERO)
        .start()
        .expect_err("a zero interval");
    assert!(err.to_string().contains("metrics_interval"), "{err}");
}

#[test]
fn the_readme_lists_every_metric_with_its_type_and_labels() {
    let readme = include_str!("../../README.md");
    let rows: Vec<Vec<&str>> = readme
        .lines()
        .filter(|line| line.starts_with("| `tokengate_"))
        .map(|line| line.split('|').map(str::trim).collect())
        .collect();
    let metrics = tokengate::telemetry::METRICS;
    assert_eq!(rows.len(), metrics.len(), "one row per family");
    for (row, metric) in rows.iter().zip(metrics) {
        assert_eq!(row[1], format!("`{}`", metric.name));
        assert_eq!(row[2], metric.kind.as_str(), "{}", metric.name);
        let labels: Vec<String> = metric.labels.iter().map(|l| format!("`{l}`")).collect();
        assert_eq!(row[3], labels.join(", "), "{}", metric.name);
    }
}
