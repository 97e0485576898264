//! A job carries its budget: workers drop a job whose budget was spent in the
//! queue and stop one that runs past it. (The caller's own timer remains the
//! authority on a call's timeout; these tests set none.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokengate_remote::{Job, Outcome};

use crate::support::*;

#[test]
fn a_job_whose_budget_is_spent_in_the_queue_is_not_run() {
    let server = NatsServer::start();
    let gate = Gate::new();
    let held = gate.clone();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let log = ran.clone();
    let worker = start(worker_config(&server, move |op, args, _| {
        log.lock().unwrap().push(op.to_owned());
        if op == "block" {
            held.wait();
        }
        Ok(args.to_vec())
    }));
    let caller = caller(&server);
    let outcomes = Outcomes::new();
    // The worker's one slot is taken by `block`; `late` waits in the queue.
    let block = submit(&caller, &outcomes, Job::new("d.1", "block", vec![]));
    eventually("`block` runs", || worker.stats().running == 1);
    let budget = Duration::from_millis(300);
    let late = submit(
        &caller,
        &outcomes,
        Job::new("d.2", "late", vec![]).deadline(budget),
    );
    std::thread::sleep(budget * 2);
    gate.open();
    value(outcomes.wait(&block));
    match outcomes.wait(&late) {
        Outcome::TimedOut(msg) => {
            assert!(msg.contains("waited"), "{msg}");
            assert!(msg.contains("it was not run"), "{msg}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(*ran.lock().unwrap(), ["block"], "`late` never ran");
    assert_eq!(worker.stats().expired, 1);
    wait_until_queue_empty(&server);
}

#[test]
fn a_job_that_runs_past_its_budget_is_told_to_stop() {
    let server = NatsServer::start();
    let stopped = Arc::new(Mutex::new(false));
    let seen = stopped.clone();
    let worker = start(worker_config(&server, move |_, _, cancel| {
        // Runs until told to stop (or PATIENCE passes).
        let deadline = std::time::Instant::now() + PATIENCE;
        while !cancel.is_cancelled() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        *seen.lock().unwrap() = cancel.is_cancelled();
        Ok(vec![])
    }));
    let caller = caller(&server);
    let outcomes = Outcomes::new();
    let id = submit(
        &caller,
        &outcomes,
        Job::new("d.3", "spin", vec![]).deadline(Duration::from_millis(500)),
    );
    match outcomes.wait(&id) {
        Outcome::TimedOut(msg) => assert!(msg.contains("ran past its deadline"), "{msg}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    eventually("the fn saw its cancel flag", || *stopped.lock().unwrap());
    eventually("the worker's slot is free again", || {
        worker.stats().running == 0
    });
    assert_eq!(worker.stats().timed_out, 1);
    wait_until_queue_empty(&server);
}
