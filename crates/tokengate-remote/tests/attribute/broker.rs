//! A broker that is down: a clear error at start, and at submit after the
//! backend's bounded publish attempts; never a hang.

use std::time::{Duration, Instant};

use crate::fns::*;
use crate::support::*;

#[test]
fn a_broker_down_at_submit_fails_the_call_with_a_clear_error() {
    let mut hosts = Hosts::start(1);
    let coordinator = start(
        caller(1).remote(
            hosts
                .remote()
                .publish_attempts(2)
                .publish_timeout(Duration::from_millis(300)),
        ),
    );
    let _bound = coordinator.enter();
    assert_eq!(double(vec![1]).wait().unwrap(), vec![1, 1]);

    hosts.server.stop();
    let made = Instant::now();
    let err = double(vec![2]).wait().unwrap_err();
    assert!(made.elapsed() < PATIENCE);
    assert!(err.is_remote_unavailable(), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("remote call `attr_double` could not be sent: "),
        "{text}"
    );
    assert!(text.contains("2 attempt(s)"), "{text}");
    assert!(text.contains(&hosts.server.url()), "{text}");
    let remote = coordinator.stats().remote.unwrap();
    assert_eq!((remote.unavailable, remote.in_flight), (1, 0));
}

#[test]
fn a_coordinator_whose_broker_is_down_does_not_start() {
    let mut server = NatsServer::start();
    let url = server.url();
    server.stop();
    let err = caller(1)
        .remote(tokengate_remote::Remote::nats(&url).connect_timeout(Duration::from_millis(500)))
        .start()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("could not start the remote backend: "),
        "{text}"
    );
    assert!(text.contains(&url), "{text}");
}
