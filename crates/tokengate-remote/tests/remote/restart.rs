//! The broker restarted mid-run: jobs stored in files survive it, clients
//! reconnect, and every job completes once for its caller.

use std::time::Duration;

use tokengate_remote::Job;

use crate::support::*;

#[test]
fn queued_jobs_survive_a_broker_restart_and_complete() {
    let mut server = NatsServer::start();
    let worker = start(worker_config(&server, |_, args, _| {
        std::thread::sleep(Duration::from_millis(100));
        Ok(args.to_vec())
    }));
    let caller = caller(&server);
    let outcomes = Outcomes::new();
    let ids: Vec<String> = (0..8_u8)
        .map(|i| {
            submit(
                &caller,
                &outcomes,
                Job::new(caller.next_job_id(), "echo", vec![i]),
            )
        })
        .collect();
    // One slot: the first runs, the others wait in the stream.
    assert_eq!(value(outcomes.wait(&ids[0])), vec![0]);
    assert!(
        jobs_queue(&server).messages >= 4,
        "jobs are still queued when the broker stops"
    );
    server.restart();
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(value(outcomes.wait(id)), vec![i as u8], "job {id}");
        assert_eq!(outcomes.count(id), 1);
    }
    wait_until_queue_empty(&server);
    let stats = caller.stats();
    assert_eq!((stats.resolved, stats.unavailable), (8, 0));
    assert!(worker.stats().values >= 8);
}
