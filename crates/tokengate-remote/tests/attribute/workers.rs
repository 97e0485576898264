//! The worker hosts a calling coordinator lists in `stats().remote.workers`:
//! each with its slots, busy slots and calls done, from its heartbeats; a
//! host killed falls out of the list.

use crate::host_fns::nap;
use crate::support::*;

/// `(pid, slots)` of each listed worker host, by pid.
fn listed(coordinator: &tokengate::OperationsCoordinator) -> Vec<(u32, usize)> {
    let stats = coordinator.stats();
    let mut listed: Vec<(u32, usize)> = stats
        .remote
        .expect("a backend")
        .workers
        .iter()
        .map(|w| (w.pid, w.slots))
        .collect();
    listed.sort_unstable();
    listed
}

#[test]
fn worker_hosts_are_listed_with_their_slots_until_they_die() {
    let server = NatsServer::start();
    let log = Log::new();
    let two = WorkerProcess::start_host(&server, &host_args(&log, &["--slots", "2"]));
    let mut three = WorkerProcess::start_host(&server, &host_args(&log, &["--slots", "3"]));
    let coordinator = start(caller(1).remote(remote(&server)));
    let _bound = coordinator.enter();

    let mut both = vec![(two.pid(), 2), (three.pid(), 3)];
    both.sort_unstable();
    eventually("both hosts are listed with their slots", || {
        listed(&coordinator) == both
    });
    let stats = coordinator.stats();
    let remote = stats.remote.as_ref().unwrap();
    assert_eq!(remote.slots(), (0, 5));
    for worker in &remote.workers {
        assert_eq!(worker.pool, "default");
        assert_eq!(worker.weights, tokengate::Weight::ALL);
        assert!(!worker.host.is_empty() && !worker.id.is_empty());
        assert_eq!((worker.busy, worker.done), (0, 0));
    }
    let text = stats.to_string();
    assert!(
        text.contains(&format!("(pid {}) pool default", three.pid())),
        "{text}"
    );

    // Killed: not heard from again, it drops out within three heartbeat
    // intervals (200 ms each).
    three.kill9();
    eventually("the killed host drops out of the list", || {
        listed(&coordinator) == [(two.pid(), 2)]
    });

    // The one left shows its busy slot while a call runs, and the call done
    // after.
    let busy_done = || {
        let stats = coordinator.stats();
        let worker = &stats.remote.as_ref().unwrap().workers[0];
        (worker.busy, worker.done)
    };
    let token = nap(1, 1_500);
    eventually("the call shows as a busy slot", || busy_done() == (1, 0));
    assert_eq!(token.wait().unwrap(), (1, two.pid()));
    eventually("the call shows as done", || busy_done() == (0, 1));
}
