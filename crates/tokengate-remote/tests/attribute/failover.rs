//! Worker hosts that die under `remote = true` calls, and a broker that
//! restarts: the token still resolves once, with the right value or a clear
//! error, and the broker is left clean.
//!
//! The hosts are `tokengate-remote-test-host` processes serving the fns of
//! `host_fns` (this test binary has the same ones), killed by pid.

use std::time::{Duration, Instant};

use tokengate::ErrorKind;

use crate::host_fns::{crash, nap};
use crate::support::*;

#[test]
fn a_host_killed_mid_call_is_replaced_by_a_redelivery_and_the_token_resolves_once() {
    let server = NatsServer::start();
    let log = Log::new();
    let args = host_args(&log, &[]);
    // Both hosts serve before the call, so the kill comes while it runs.
    let mut hosts = [
        WorkerProcess::start_host(&server, &args),
        WorkerProcess::start_host(&server, &args),
    ];
    let coordinator = start(caller(1).remote(remote(&server)));
    let _bound = coordinator.enter();

    let token = nap(7, 1_500);
    eventually("a host starts the call", || log.calls().len() == 1);
    let first = log.calls()[0].1;
    let (victim, survivor) = if hosts[0].pid() == first {
        (0, 1)
    } else {
        (1, 0)
    };
    assert_eq!(hosts[victim].pid(), first);
    hosts[victim].kill9();

    let (tag, pid) = token.wait().expect("the redelivery completes the call");
    assert_eq!(
        (tag, pid),
        (7, hosts[survivor].pid()),
        "the survivor ran it"
    );
    assert_eq!(
        log.calls(),
        [
            ("host_nap".to_owned(), first),
            ("host_nap".to_owned(), hosts[survivor].pid())
        ]
    );
    let stats = coordinator.stats();
    let remote = stats.remote.as_ref().expect("a backend");
    assert_eq!(
        (
            remote.redelivered,
            remote.duplicates_dropped,
            remote.in_flight
        ),
        (1, 0, 0)
    );
    assert_eq!((stats.tokens.completed, stats.tokens.failed), (1, 0));
    wait_until_queue_empty(&server);
}

#[test]
fn a_call_that_kills_every_host_it_reaches_fails_as_worker_lost_and_leaves_nothing_queued() {
    let server = NatsServer::start();
    let log = Log::new();
    // `max_deliver` set on the caller's side, and the same on the hosts'.
    let args = host_args(&log, &["--max-deliver", "3"]);
    let coordinator = start(caller(1).remote(remote(&server).max_deliver(3)));
    let _bound = coordinator.enter();

    let token = crash();
    // Deliveries 1 and 2 each end their host; delivery 3 is the last one
    // allowed, and the host that gets it ends the call instead of running it.
    let mut live = Vec::new();
    for _ in 0..3 {
        if token.is_finished() {
            break;
        }
        let mut host = WorkerProcess::start_host(&server, &args);
        let deadline = Instant::now() + PATIENCE;
        loop {
            if token.is_finished() {
                live.push(host);
                break;
            }
            if host.wait_exit_for(Duration::from_millis(20)) {
                break;
            }
            assert!(Instant::now() < deadline, "nothing happened to the call");
        }
    }
    let err = token.wait().expect_err("no host finished the call");
    assert_eq!(err.kind(), ErrorKind::WorkerLost, "{err}");
    assert!(err.is_worker_lost());
    let text = err.to_string();
    assert!(text.contains("(op `host_crash`)"), "{text}");
    assert!(text.contains("delivered 3 times"), "{text}");
    assert_eq!(
        log.calls().len(),
        2,
        "it ran twice, and not on its last delivery"
    );
    assert_eq!(live.len(), 1, "the host of the last delivery lives on");
    let stats = coordinator.stats();
    assert_eq!(stats.remote.as_ref().unwrap().poison, 1);
    assert_eq!((stats.tokens.failed, stats.tokens.completed), (1, 0));
    wait_until_queue_empty(&server);
}

#[test]
fn queued_remote_calls_complete_after_the_broker_restarts() {
    let mut hosts = Hosts::start(1);
    let coordinator = start(caller(1).remote(hosts.remote()));
    let _bound = coordinator.enter();
    let mut tokens: Vec<_> = (0..8).map(|tag| nap(tag, 100)).collect();
    // One slot: the first runs, the others wait in the stream.
    assert_eq!(tokens.remove(0).wait().unwrap().0, 0);
    assert!(
        jobs_queue(&hosts.server).messages >= 4,
        "calls are still queued when the broker stops"
    );

    hosts.server.restart();
    for (tag, token) in (1..).zip(tokens) {
        let (got, pid) = token.wait().expect("the call completes after the restart");
        assert_eq!((got, pid), (tag, std::process::id()), "call {tag}");
    }
    wait_until_queue_empty(&hosts.server);
    let stats = coordinator.stats();
    let remote = stats.remote.as_ref().unwrap();
    assert_eq!((remote.in_flight, remote.unavailable), (0, 0));
    assert_eq!(stats.tokens.completed, 8);
}
