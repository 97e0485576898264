//! Worker processes (`tokengate-remote-test-worker`) that die: killed by pid
//! mid-job, crashing between storing a result and acking it, or killed by
//! the job itself; and two processes sharing a pool.

use std::collections::HashSet;

use tokengate_remote::{Job, Outcome};

use crate::support::*;

/// `ACK_WAIT` in the test worker's flag.
fn ack_wait_ms() -> String {
    ACK_WAIT.as_millis().to_string()
}

#[test]
fn a_worker_killed_mid_job_is_replaced_by_a_redelivery() {
    let server = NatsServer::start();
    let log = Log::new();
    let args = ["--ack-wait-ms", &ack_wait_ms(), "--log", log.arg()];
    let mut first = WorkerProcess::start(&server, &args);
    let caller = caller(&server);
    let outcomes = Outcomes::new();
    let id = submit(&caller, &outcomes, Job::new("p.1", "sleep", millis(500)));
    eventually("the first worker runs the job", || {
        log.calls() == [("sleep".to_owned(), first.pid())]
    });
    let second = WorkerProcess::start(&server, &args);
    first.kill9();
    assert_eq!(value(outcomes.wait(&id)), millis(500));
    assert_eq!(
        log.calls(),
        [
            ("sleep".to_owned(), first.pid()),
            ("sleep".to_owned(), second.pid())
        ],
        "the second worker ran it again"
    );
    let stats = caller.stats();
    assert_eq!(stats.redelivered, 1);
    assert_eq!(stats.duplicates_dropped, 0);
    wait_until_queue_empty(&server);
    assert_eq!(outcomes.count(&id), 1);
}

#[test]
fn a_worker_dying_between_result_and_ack_runs_the_job_twice_and_one_result_is_kept() {
    let server = NatsServer::start();
    let log = Log::new();
    let ack_wait = ack_wait_ms();
    let mut crashing = WorkerProcess::start(
        &server,
        &[
            "--ack-wait-ms",
            &ack_wait,
            "--log",
            log.arg(),
            "--crash-after-result",
        ],
    );
    let caller = caller(&server);
    let outcomes = Outcomes::new();
    let id = submit(&caller, &outcomes, Job::new("p.2", "echo", vec![42]));
    // The result was stored before the worker ended.
    assert_eq!(value(outcomes.wait(&id)), vec![42]);
    assert!(
        crashing.wait_exit(),
        "the worker ended after storing the result"
    );
    // Unacked, the job is delivered again, to the next worker.
    let _second = WorkerProcess::start(&server, &["--ack-wait-ms", &ack_wait, "--log", log.arg()]);
    eventually("the second result was dropped", || {
        caller.stats().duplicates_dropped == 1
    });
    assert_eq!(log.calls().len(), 2, "the job ran twice");
    assert_eq!(outcomes.count(&id), 1, "one outcome");
    wait_until_queue_empty(&server);
}

#[test]
fn a_job_that_kills_every_worker_ends_as_worker_lost() {
    let server = NatsServer::start();
    let log = Log::new();
    let args = [
        "--ack-wait-ms",
        &ack_wait_ms(),
        "--max-deliver",
        "3",
        "--log",
        log.arg(),
    ];
    let caller = caller_with(&server, |config| config.max_deliver(3));
    let outcomes = Outcomes::new();
    let id = submit(&caller, &outcomes, Job::new("p.3", "crash", vec![]));
    // Deliveries 1 and 2 each end their worker; delivery 3 is the last
    // allowed, and ends the job instead of running it.
    let mut workers = Vec::new();
    for _ in 0..3 {
        if outcomes.has(&id) {
            break;
        }
        let mut worker = WorkerProcess::start(&server, &args);
        let died = {
            let deadline = std::time::Instant::now() + PATIENCE;
            loop {
                if outcomes.has(&id) {
                    break false;
                }
                if worker.wait_exit_for(std::time::Duration::from_millis(20)) {
                    break true;
                }
                assert!(std::time::Instant::now() < deadline, "nothing happened");
            }
        };
        if !died {
            workers.push(worker);
        }
    }
    match outcomes.wait(&id) {
        Outcome::WorkerLost(msg) => {
            assert!(msg.contains("job `p.3` (op `crash`)"), "{msg}");
            assert!(msg.contains("delivered 3 times"), "{msg}");
        }
        other => panic!("expected a lost worker, got {other:?}"),
    }
    assert_eq!(
        log.calls().len(),
        2,
        "it ran twice, and not on its last delivery"
    );
    assert_eq!(caller.stats().poison, 1);
    wait_until_queue_empty(&server);
}

#[test]
fn two_worker_processes_share_a_pool() {
    let server = NatsServer::start();
    let log = Log::new();
    let args = [
        "--slots",
        "2",
        "--ack-wait-ms",
        &ack_wait_ms(),
        "--log",
        log.arg(),
    ];
    let a = WorkerProcess::start(&server, &args);
    let b = WorkerProcess::start(&server, &args);
    let caller = caller(&server);
    let outcomes = Outcomes::new();
    let ids: Vec<String> = (0..16_u64)
        .map(|i| {
            let job = Job::new(caller.next_job_id(), "sleep", millis(100 + i));
            submit(&caller, &outcomes, job)
        })
        .collect();
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(value(outcomes.wait(id)), millis(100 + i as u64));
    }
    let pids: HashSet<u32> = log.calls().into_iter().map(|(_, pid)| pid).collect();
    assert_eq!(pids, HashSet::from([a.pid(), b.pid()]), "both served");
    assert_eq!(log.calls().len(), 16, "each job ran once");
    wait_until_queue_empty(&server);
}
