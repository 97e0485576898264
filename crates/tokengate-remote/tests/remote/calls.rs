//! Round trips and the outcomes of plain calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokengate_remote::{Failure, Job, Outcome};

use crate::support::*;

#[test]
fn round_trip_through_every_weight() {
    let server = NatsServer::start();
    let worker = start(worker_config(&server, |op, args, _| match op {
        "double" => Ok([args, args].concat()),
        other => Err(Failure::Error(format!("unknown op `{other}`"))),
    }));
    let caller = caller(&server);
    let outcomes = Outcomes::new();
    let ids: Vec<String> = ["light", "medium", "heavy"]
        .into_iter()
        .enumerate()
        .map(|(i, weight)| {
            let job = Job::new(caller.next_job_id(), "double", vec![i as u8]).weight(weight);
            submit(&caller, &outcomes, job)
        })
        .collect();
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(value(outcomes.wait(id)), vec![i as u8, i as u8]);
    }
    let stats = caller.stats();
    assert_eq!(
        (stats.submitted, stats.resolved, stats.in_flight),
        (3, 3, 0)
    );
    assert_eq!(stats.duplicates_dropped, 0);
    assert_eq!(worker.stats().values, 3);
    wait_until_queue_empty(&server);
    eventually("the caller purged the results it read", || {
        results_left(&server) == 0
    });
}

#[test]
fn errors_and_panics_come_back_as_results_and_are_not_run_again() {
    quiet_expected_panics();
    let server = NatsServer::start();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let worker = start(worker_config(&server, move |op, _, _| {
        counted.fetch_add(1, Ordering::SeqCst);
        match op {
            "fail" => Err(Failure::Error("the input is not a number".to_owned())),
            "panic" => panic!("{EXPECTED_PANIC}: the fn failed"),
            other => Err(Failure::Error(format!("unknown op `{other}`"))),
        }
    }));
    let caller = caller(&server);
    let outcomes = Outcomes::new();
    let fail = submit(&caller, &outcomes, Job::new("e.1", "fail", vec![]));
    let panic = submit(&caller, &outcomes, Job::new("e.2", "panic", vec![]));
    assert_eq!(
        outcomes.wait(&fail),
        Outcome::Error("the input is not a number".to_owned())
    );
    assert_eq!(
        outcomes.wait(&panic),
        Outcome::Panic(format!("{EXPECTED_PANIC}: the fn failed"))
    );
    // Both were acked: nothing is left to deliver again, so the fn ran twice
    // in all, once per job.
    wait_until_queue_empty(&server);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let stats = worker.stats();
    assert_eq!((stats.errors, stats.panics, stats.executed), (1, 1, 2));
    assert_eq!(caller.stats().redelivered, 0);
}

#[test]
fn a_resubmitted_job_id_is_dropped_by_the_broker() {
    let server = NatsServer::start();
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let gate = Gate::new();
    let held = gate.clone();
    let worker = start(worker_config(&server, move |_, args, _| {
        counted.fetch_add(1, Ordering::SeqCst);
        held.wait();
        Ok(args.to_vec())
    }));
    let caller = caller(&server);
    let outcomes = Outcomes::new();
    let first = submit(&caller, &outcomes, Job::new("same-id", "echo", vec![1]));
    // While the first is in flight, this caller refuses the id itself.
    let again = Outcomes::new();
    submit(&caller, &again, Job::new("same-id", "echo", vec![2]));
    match again.wait("same-id") {
        Outcome::Error(msg) => assert!(msg.contains("already in flight"), "{msg}"),
        other => panic!("expected an error, got {other:?}"),
    }
    gate.open();
    assert_eq!(value(outcomes.wait(&first)), vec![1]);
    // Once it resolved, the id goes to the broker again, which still
    // remembers it and drops the copy.
    let later = Outcomes::new();
    submit(&caller, &later, Job::new("same-id", "echo", vec![3]));
    match later.wait("same-id") {
        Outcome::Error(msg) => assert!(msg.contains("dropped this copy"), "{msg}"),
        other => panic!("expected an error, got {other:?}"),
    }
    wait_until_queue_empty(&server);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the job ran once");
    assert_eq!(worker.stats().received, 1);
}

#[test]
fn the_in_flight_window_bounds_what_is_submitted() {
    let server = NatsServer::start();
    let gate = Gate::new();
    let held = gate.clone();
    let _worker = start(worker_config(&server, move |_, args, _| {
        held.wait();
        Ok(args.to_vec())
    }));
    let caller = caller_with(&server, |config| config.max_in_flight(2));
    let outcomes = Outcomes::new();
    let a = caller.try_reserve().expect("room for the first");
    let b = caller.try_reserve().expect("room for the second");
    assert!(caller.try_reserve().is_none(), "the window holds two");
    assert_eq!(caller.capacity(), 0);
    caller.submit(
        a,
        Job::new("w.1", "echo", vec![1]),
        outcomes.callback("w.1"),
    );
    caller.submit(
        b,
        Job::new("w.2", "echo", vec![2]),
        outcomes.callback("w.2"),
    );
    assert!(caller.try_reserve().is_none(), "two in flight fill it");
    let woken = Arc::new(AtomicUsize::new(0));
    let wake = woken.clone();
    caller.when_capacity(move || {
        wake.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(woken.load(Ordering::SeqCst), 0, "no room yet");
    assert_eq!(caller.stats().in_flight, 2);
    gate.open();
    assert_eq!(value(outcomes.wait("w.1")), vec![1]);
    assert_eq!(value(outcomes.wait("w.2")), vec![2]);
    eventually("the wake ran", || woken.load(Ordering::SeqCst) == 1);
    assert_eq!(caller.capacity(), 2);
    // Dropping an unused permit gives its room back.
    let unused = caller.try_reserve().expect("room again");
    drop(unused);
    assert_eq!(caller.capacity(), 2);
}

#[test]
fn a_broker_that_is_down_at_submit_makes_the_job_unavailable() {
    let mut server = NatsServer::start();
    let caller = caller_with(&server, |config| {
        config
            .publish_attempts(2)
            .publish_timeout(Duration::from_millis(300))
    });
    server.stop();
    let outcomes = Outcomes::new();
    let id = submit(&caller, &outcomes, Job::new("down.1", "echo", vec![]));
    match outcomes.wait(&id) {
        Outcome::Unavailable(msg) => {
            assert!(msg.contains("could not queue job `down.1`"), "{msg}");
            assert!(msg.contains("2 attempt(s)"), "{msg}");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert_eq!(caller.stats().unavailable, 1);
    assert_eq!(caller.capacity(), 1000, "the job's room is back");
}

#[test]
fn invalid_jobs_are_refused_at_submit() {
    let server = NatsServer::start();
    let caller = caller(&server);
    let outcomes = Outcomes::new();
    submit(&caller, &outcomes, Job::new("bad weight", "echo", vec![]));
    submit(
        &caller,
        &outcomes,
        Job::new("w", "echo", vec![]).weight("Huge"),
    );
    submit(
        &caller,
        &outcomes,
        Job::new("p", "echo", vec![]).pool("a.b"),
    );
    let error = |id| match outcomes.wait(id) {
        Outcome::Error(msg) => msg,
        other => panic!("expected an error, got {other:?}"),
    };
    assert!(error("bad weight").starts_with("invalid job id `bad weight`"));
    assert_eq!(
        error("w"),
        "unknown weight `Huge`; expected one of `light`, `medium`, `heavy`"
    );
    assert!(error("p").starts_with("invalid pool name `a.b`"));
    assert_eq!(caller.stats().in_flight, 0);
    assert_eq!(caller.capacity(), 1000);
}

#[test]
fn workers_serve_the_weights_they_name() {
    let server = NatsServer::start();
    let _heavy =
        start(worker_config(&server, |_, _, _| Ok(b"heavy host".to_vec())).weights(["heavy"]));
    let _light = start(
        worker_config(&server, |_, _, _| Ok(b"light host".to_vec())).weights(["light", "medium"]),
    );
    let caller = caller(&server);
    let outcomes = Outcomes::new();
    let mut expected = Vec::new();
    for i in 0..6 {
        let (weight, host) = match i % 3 {
            0 => ("heavy", "heavy host"),
            1 => ("medium", "light host"),
            _ => ("light", "light host"),
        };
        let id = submit(
            &caller,
            &outcomes,
            Job::new(caller.next_job_id(), "where", vec![]).weight(weight),
        );
        expected.push((id, host));
    }
    for (id, host) in expected {
        assert_eq!(value(outcomes.wait(&id)), host.as_bytes(), "job {id}");
    }
}
