//! `stats()` and `live_tokens()`: counts that add up, per op and per lane,
//! latency summaries over executed calls, and a registry that forgets finished
//! tokens.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokengate::stats::StateCounts;
use tokengate::{Task, TaskToken, TokenState, Weight};
use tokengate_tests::{
    EXPECTED_PANIC, Gate, Outcomes, builder, eventually, quiet_expected_panics, resolve,
    single_worker, value, with_coordinator,
};

fn sum(counts: impl IntoIterator<Item = StateCounts>) -> StateCounts {
    counts
        .into_iter()
        .fold(StateCounts::default(), |mut acc, c| {
            acc.submitted += c.submitted;
            acc.waiting += c.waiting;
            acc.admitted += c.admitted;
            acc.executing += c.executing;
            acc.completed += c.completed;
            acc.failed += c.failed;
            acc.killed += c.killed;
            acc.timed_out += c.timed_out;
            acc
        })
}

#[test]
fn counts_add_up_per_operation_and_per_lane() {
    quiet_expected_panics();
    with_coordinator(builder("counts").core_groups(2).workers_per_core(1), |c| {
        let executed = Arc::new(AtomicUsize::new(0));
        let body = |e: &Arc<AtomicUsize>, panic: bool, pause: Duration| {
            let e = e.clone();
            move || {
                e.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(pause);
                if panic {
                    panic!("{EXPECTED_PANIC}: stats");
                }
            }
        };
        let mut tokens: Vec<TaskToken<()>> = Vec::new();
        let light = Task::new("ok_light").weight(Weight::Light);
        let heavy = Task::new("ok_heavy").weight(Weight::Heavy);
        tokens.extend((0..30).map(|_| light.spawn(body(&executed, false, Duration::ZERO))));
        tokens
            .extend((0..20).map(|_| heavy.spawn(body(&executed, false, Duration::from_millis(1)))));
        tokens.push(heavy.spawn(body(&executed, false, Duration::from_millis(5))));
        tokens
            .extend((0..5).map(|_| Task::new("boom").spawn(body(&executed, true, Duration::ZERO))));
        // Held by a pause of their op, then killed; and held until they time out.
        c.pause_operation("held_kill");
        c.pause_operation("held_timeout");
        tokens.extend(
            (0..4).map(|_| Task::new("held_kill").spawn(body(&executed, false, Duration::ZERO))),
        );
        let late = Task::new("held_timeout")
            .weight(Weight::Light)
            .timeout(Duration::from_millis(20));
        tokens.extend((0..3).map(|_| late.spawn(body(&executed, false, Duration::ZERO))));
        assert_eq!(c.kill_all_by_operation("held_kill"), 4);

        let mut outcomes = Outcomes::default();
        for t in tokens {
            outcomes.record(&resolve(t));
        }
        assert_eq!(
            (
                outcomes.completed,
                outcomes.failed,
                outcomes.killed,
                outcomes.timed_out
            ),
            (51, 5, 4, 3)
        );
        let s = c.stats();
        let t = s.tokens;
        assert_eq!(t.submitted, 63);
        assert_eq!(
            (t.completed, t.failed, t.killed, t.timed_out),
            (
                outcomes.completed,
                outcomes.failed,
                outcomes.killed,
                outcomes.timed_out
            )
        );
        assert_eq!(t.submitted, t.completed + t.failed + t.killed + t.timed_out);
        assert_eq!(t.finished(), t.submitted);
        assert_eq!((t.in_flight(), s.in_flight), (0, 0));
        assert_eq!((t.waiting, t.admitted, t.executing), (0, 0, 0));

        // Per operation and per lane, the parts add up to the whole.
        assert_eq!(sum(s.ops.iter().map(|o| o.counts)), t);
        assert_eq!(sum(s.lanes.iter().map(|l| l.counts)), t);
        let names: Vec<&str> = s.ops.iter().map(|o| o.op).collect();
        assert_eq!(
            names,
            ["boom", "held_kill", "held_timeout", "ok_heavy", "ok_light"],
            "sorted by name"
        );
        let op = |name| s.op(name).unwrap().counts;
        assert_eq!(
            (op("ok_light").submitted, op("ok_light").completed),
            (30, 30)
        );
        assert_eq!(
            (op("ok_heavy").submitted, op("ok_heavy").completed),
            (21, 21)
        );
        assert_eq!((op("boom").submitted, op("boom").failed), (5, 5));
        assert_eq!((op("held_kill").submitted, op("held_kill").killed), (4, 4));
        assert_eq!(
            (op("held_timeout").submitted, op("held_timeout").timed_out),
            (3, 3)
        );
        assert_eq!(s.lane(Weight::Light).counts.submitted, 33);
        assert_eq!(s.lane(Weight::Medium).counts.submitted, 9);
        assert_eq!(s.lane(Weight::Heavy).counts.completed, 21);
        let weights: Vec<Weight> = s.lanes.iter().map(|l| l.weight).collect();
        assert_eq!(weights, Weight::ALL, "lightest first");
        assert!(s.lanes.iter().all(|l| l.depth == 0 && l.capacity == 65_536));

        // Latencies: one sample per executed call, none for calls that never ran.
        let ran = executed.load(Ordering::SeqCst) as u64;
        assert_eq!(ran, 56);
        assert_eq!(s.queue_wait.count, ran);
        assert_eq!(s.run_time.count, ran);
        for l in [s.queue_wait, s.run_time] {
            assert!(l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max, "{l:?}");
            assert!(l.mean <= l.max, "{l:?}");
        }
        assert!(
            s.run_time.max >= Duration::from_millis(5),
            "one body slept 5 ms: {:?}",
            s.run_time
        );
        // A worker counts a call as run (and itself idle) just after the call's
        // token resolves.
        eventually("the workers count every executed call and go idle", || {
            let w = c.stats().workers;
            w.iter().map(|w| w.ran).sum::<u64>() == ran
                && w.iter().all(|w| !w.busy && w.queued == 0)
        });
        assert_eq!(c.live_tokens(), 0);

        let text = s.to_string();
        for name in names {
            assert!(text.contains(name), "{text}");
        }
        c.resume_operation("held_kill");
        c.resume_operation("held_timeout");
    });
}

#[test]
fn live_states_are_counted_while_calls_are_in_flight() {
    with_coordinator(single_worker("live").mailbox_capacity(3), |c| {
        let gate = Gate::new();
        let tokens: Vec<TaskToken<()>> = (0..7)
            .map(|_| {
                let g = gate.clone();
                Task::new("live").spawn(move || assert!(g.wait()))
            })
            .collect();
        eventually("the first call runs", || {
            tokens[0].state() == TokenState::Executing
        });
        let s = c.stats();
        let t = s.tokens;
        // 1 running, 2 in the mailbox (3 with the running one), 4 in the lane.
        assert_eq!((t.executing, t.admitted, t.waiting), (1, 2, 4), "{t:?}");
        assert_eq!((t.submitted, t.in_flight(), s.in_flight), (7, 7, 7));
        assert_eq!(s.lane(Weight::Medium).depth, 4);
        assert!(s.workers[0].busy);
        assert_eq!(s.workers[0].queued, 2);
        assert_eq!(c.live_tokens(), 7);
        gate.open();
        tokens.into_iter().for_each(value);
        assert_eq!(c.live_tokens(), 0);
        assert_eq!(c.stats().in_flight, 0);
    });
}

#[test]
fn the_registry_forgets_finished_tokens() {
    with_coordinator(
        builder("registry").core_groups(1).workers_per_core(2),
        |c| {
            for round in 0..5u64 {
                let tokens: Vec<TaskToken<u64>> = (0..2_000)
                    .map(|i| Task::new("many").spawn(move || i + round))
                    .collect();
                let dropped: Vec<TaskToken<u64>> = (0..500)
                    .map(|i| Task::new("detached").spawn(move || i))
                    .collect();
                drop(dropped);
                for (i, t) in tokens.into_iter().enumerate() {
                    assert_eq!(value(t), i as u64 + round);
                }
                eventually("every token of the round finished", || {
                    c.stats().in_flight == 0
                });
                assert_eq!(c.live_tokens(), 0, "round {round}");
            }
            assert_eq!(c.stats().tokens.completed, 12_500);
        },
    );
}

#[test]
fn latencies_are_kept_per_operation_and_printed_to_their_precision() {
    with_coordinator(builder("per-op-latency"), |c| {
        let slow =
            Task::new("slow").spawn(|| std::thread::sleep(std::time::Duration::from_millis(20)));
        let fast: Vec<_> = (0..10).map(|_| Task::new("fast").spawn(|| ())).collect();
        value(slow);
        fast.into_iter().for_each(value);
        let stats = c.stats();
        let (slow, fast) = (stats.op("slow").unwrap(), stats.op("fast").unwrap());
        assert_eq!((slow.run_time.count, fast.run_time.count), (1, 10));
        assert_eq!(fast.queue_wait.count, 10);
        // Bucket floors are within 12.5 % below the value: 20 ms slept is at
        // least 17.5 ms.
        assert!(slow.run_time.p50 >= std::time::Duration::from_micros(17_500));
        assert!(fast.run_time.max < slow.run_time.p50);
        assert_eq!(
            stats.run_time.count, 11,
            "the whole summary merges every op"
        );
        // Three significant digits: no nanosecond digits of a bucket bound.
        let line = stats.to_string();
        let slow_line = line.lines().find(|l| l.contains("op slow")).unwrap();
        let p50 = slow_line
            .split("run p50 ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        assert!(p50.ends_with("ms"), "{slow_line}");
        let digits = p50.trim_end_matches("ms").replace('.', "");
        assert!(
            digits.len() <= 3,
            "{p50} has more digits than its precision"
        );
    });
}

#[test]
fn stats_serialize_with_names_and_seconds() {
    with_coordinator(builder("stats-json"), |c| {
        value(Task::new("json").weight(Weight::Heavy).spawn(|| ()));
        let json = serde_json::to_value(c.stats()).expect("stats serialize");
        assert_eq!(json["tokens"]["completed"], 1);
        let op = &json["ops"][0];
        assert_eq!(op["op"], "json");
        assert!(
            op["run_time"]["max"].as_f64().unwrap() < 60.0,
            "seconds: {op}"
        );
        assert_eq!(json["lanes"][2]["weight"], "heavy");
        assert_eq!(json["storage"][2]["speed"], "FAST");
    });
}
