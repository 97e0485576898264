//! The export to the `metrics` facade's global recorder: the coordinator's
//! timer thread publishes every `metrics_interval`, and a stopping
//! coordinator publishes its final values. Its own binary: a global
//! recorder is process-wide, and can be installed once.

use std::collections::HashMap;
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tokengate_tests::{builder, eventually, value, with_coordinator};

/// What one snapshot held, by name and labels. A snapshot takes counter
/// values and histogram samples with it (the next one sees only what was
/// published since).
fn take(snapshotter: &Snapshotter) -> HashMap<(String, Vec<(String, String)>), DebugValue> {
    snapshotter
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

fn op_key(name: &str, op: &str, extra: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    let labels = [("op", op)]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (name.to_owned(), labels)
}

#[test]
fn the_timer_publishes_every_interval_and_a_stop_publishes_the_final_values() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("no recorder was installed before");
    const CALLS: u64 = 8;

    // Published by the timer thread, every 20 ms.
    with_coordinator(
        builder("metrics-timer").metrics_interval(Duration::from_millis(20)),
        |_| {
            for i in 0..CALLS {
                value(tokengate::spawn("ticked", move || i));
            }
            let completed = op_key(
                "tokengate_calls_total",
                "ticked",
                &[("outcome", "completed")],
            );
            let run_time = op_key("tokengate_run_seconds", "ticked", &[]);
            let mut samples = 0;
            eventually("the timer published every call", || {
                let published = take(&snapshotter);
                if let Some(DebugValue::Histogram(values)) = published.get(&run_time) {
                    samples += values.len();
                }
                published.get(&completed) == Some(&DebugValue::Counter(CALLS))
                    && samples == CALLS as usize
            });
            // Never a sample twice: later publications add none.
            std::thread::sleep(Duration::from_millis(100));
            if let Some(DebugValue::Histogram(values)) = take(&snapshotter).get(&run_time) {
                assert!(values.is_empty(), "published again: {values:?}");
            }
        },
    );

    // Never on its own: the values reach the recorder when it stops.
    let coordinator = builder("metrics-stop")
        .metrics_interval(Duration::MAX)
        .start()
        .unwrap();
    coordinator.run(|| {
        for i in 0..CALLS {
            value(tokengate::spawn("at_stop", move || i));
        }
    });
    let submitted = op_key("tokengate_calls_submitted_total", "at_stop", &[]);
    assert_eq!(take(&snapshotter).get(&submitted), None, "published early");
    coordinator.stop();
    let published = take(&snapshotter);
    assert_eq!(published.get(&submitted), Some(&DebugValue::Counter(CALLS)));
    match published.get(&op_key("tokengate_run_seconds", "at_stop", &[])) {
        Some(DebugValue::Histogram(values)) => assert_eq!(values.len(), CALLS as usize),
        other => panic!("no run times published: {other:?}"),
    }
}
