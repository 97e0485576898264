//! `Caller::kill`: the outcome is final at once; the job is deleted from the
//! queue, or stopped through its cancel flag where it runs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokengate_remote::{Job, Outcome};

use crate::support::*;

#[test]
fn killing_a_queued_and_a_running_job() {
    let server = NatsServer::start();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let cancelled = Arc::new(Mutex::new(Vec::new()));
    let (log, stops) = (ran.clone(), cancelled.clone());
    let worker = start(worker_config(&server, move |op, args, cancel| {
        log.lock().unwrap().push(op.to_owned());
        if op == "spin" {
            let deadline = Instant::now() + PATIENCE;
            while !cancel.is_cancelled() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if cancel.is_cancelled() {
                stops.lock().unwrap().push(op.to_owned());
            }
        }
        Ok(args.to_vec())
    }));
    let caller = caller(&server);
    let outcomes = Outcomes::new();
    let running = submit(&caller, &outcomes, Job::new("k.1", "spin", vec![]));
    eventually("`spin` runs", || worker.stats().running == 1);
    // The worker's one slot is taken: this one stays queued.
    let queued = submit(&caller, &outcomes, Job::new("k.2", "queued", vec![]));
    eventually("the broker holds `queued`", || {
        jobs_queue(&server).messages == 2
    });

    assert!(caller.kill(&queued));
    assert_eq!(
        outcomes.wait(&queued),
        Outcome::Cancelled,
        "resolved at once"
    );
    assert!(caller.kill(&running));
    assert_eq!(outcomes.wait(&running), Outcome::Cancelled);
    assert!(!caller.kill(&running), "a resolved job is not killed twice");
    eventually("the running fn saw its cancel flag", || {
        *cancelled.lock().unwrap() == ["spin"]
    });

    // A job submitted afterwards runs; the killed `queued` was ahead of it in
    // the queue, so it would have run first had it not been deleted.
    let after = submit(&caller, &outcomes, Job::new("k.3", "after", vec![7]));
    assert_eq!(value(outcomes.wait(&after)), vec![7]);
    assert_eq!(
        *ran.lock().unwrap(),
        ["spin", "after"],
        "`queued` never ran"
    );
    assert_eq!(worker.stats().killed, 1);
    let stats = caller.stats();
    assert_eq!((stats.cancelled, stats.in_flight), (2, 0));
    wait_until_queue_empty(&server);
}
