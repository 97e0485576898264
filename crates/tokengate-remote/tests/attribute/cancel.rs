//! Timeouts and kills of remote calls: the token resolves at once, here, and
//! the worker host is told to stop the call.

use std::time::{Duration, Instant};

use tokengate::{KillReason, TokenState};

use crate::fns::*;
use crate::support::*;

#[test]
fn a_timeout_resolves_at_the_deadline_and_stops_the_call_on_its_host() {
    let hosts = Hosts::start(1);
    let coordinator = start(caller(1).remote(hosts.remote()));
    let _bound = coordinator.enter();

    let tag = tag();
    let made = Instant::now();
    let err = spin(tag).wait().unwrap_err();
    let took = made.elapsed();
    assert!(err.is_timeout(), "{err}");
    assert!(
        took >= Duration::from_millis(300),
        "resolved after {took:?}"
    );
    assert!(took < PATIENCE, "resolved after {took:?}");
    eventually("the host's call saw its cancellation", || saw_cancel(tag));
    eventually("the host is idle again", || {
        hosts.worker.stats().running == 0
    });
    let stats = coordinator.stats();
    assert_eq!(stats.tokens.timed_out, 1);
    assert_eq!(stats.remote.unwrap().in_flight, 0);
}

#[test]
fn a_kill_resolves_at_once_wherever_the_call_is() {
    // One call in flight at a time, and one slot on the host: the first call
    // runs there, the second waits in this coordinator.
    let hosts = Hosts::start(1);
    let coordinator = start(caller(1).remote(hosts.remote().max_in_flight(1)));
    let _bound = coordinator.enter();

    let (first, second) = (tag(), tag());
    let running = spin_forever(first);
    eventually("the first call runs on the host", || started(first) == 1);
    let waiting = spin_forever(second);
    assert_eq!(waiting.state(), TokenState::Waiting);
    assert_eq!(coordinator.stats().remote.unwrap().waiting, 1);

    assert!(waiting.kill());
    let err = waiting.wait().unwrap_err();
    assert_eq!(err.kill_reason(), Some(KillReason::Token));

    let killed_at = Instant::now();
    assert!(running.kill());
    assert!(running.is_finished(), "resolved by the kill itself");
    assert!(running.wait().unwrap_err().is_killed());
    assert!(killed_at.elapsed() < PATIENCE);
    eventually("the running call saw its kill on the host", || {
        saw_cancel(first)
    });
    eventually("nothing is in flight", || {
        coordinator.stats().remote.unwrap().in_flight == 0
    });
    assert_eq!(started(second), 0, "the waiting call never ran");
}

#[test]
fn a_kill_takes_a_call_the_broker_still_holds() {
    // Two calls in flight, one host slot: the second waits at the broker.
    let hosts = Hosts::start(1);
    let coordinator = start(caller(1).remote(hosts.remote()));
    let _bound = coordinator.enter();

    let (first, second) = (tag(), tag());
    let running = gated(first);
    eventually("the first call runs on the host", || started(first) == 1);
    let queued = gated(second);
    eventually("the broker holds the second", || {
        coordinator.stats().remote.unwrap().in_flight == 2
    });
    assert_eq!(queued.state(), TokenState::Executing);
    assert!(queued.kill());
    assert!(queued.wait().unwrap_err().is_killed());

    open(first);
    assert_eq!(running.wait().unwrap(), first);
    // A call made after it runs; the killed one, ahead of it, did not.
    let after = tag();
    open(after);
    assert_eq!(gated(after).wait().unwrap(), after);
    assert_eq!(started(second), 0, "the killed call never ran");
    assert_eq!(coordinator.stats().remote.unwrap().in_flight, 0);
}
