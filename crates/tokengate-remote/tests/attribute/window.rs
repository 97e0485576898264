//! What a remote call holds while it runs elsewhere (no worker thread, room
//! in the window), and how the coordinator's admission controls apply to it.

use tokengate::{FullLanePolicy, TokenState};

use crate::fns::*;
use crate::support::*;

#[test]
fn a_remote_call_holds_no_worker_thread() {
    let hosts = Hosts::start(8);
    // One worker thread for the whole calling coordinator.
    let coordinator = start(caller(1).remote(hosts.remote()));
    let _bound = coordinator.enter();

    let tag = tag();
    let calls: Vec<_> = (0..8).map(|_| gated(tag)).collect();
    eventually("all eight run on the host", || started(tag) == 8);
    let stats = coordinator.stats();
    assert_eq!(stats.remote.unwrap().in_flight, 8);
    assert_eq!(stats.tokens.executing, 8);
    assert!(
        stats.workers.iter().all(|worker| !worker.busy),
        "no worker thread is busy: {:?}",
        stats.workers
    );
    // The one worker thread is free for a local call meanwhile.
    assert_eq!(local(1).wait().unwrap(), 2);

    open(tag);
    for call in calls {
        assert_eq!(call.wait().unwrap(), tag);
    }
}

#[test]
fn the_in_flight_window_bounds_remote_calls() {
    let hosts = Hosts::start(8);
    let coordinator = start(caller(1).remote(hosts.remote().max_in_flight(2)));
    let _bound = coordinator.enter();

    let tag = tag();
    let calls: Vec<_> = (0..6).map(|_| gated(tag)).collect();
    eventually("two run on the host", || started(tag) == 2);
    let remote = coordinator.stats().remote.unwrap();
    assert_eq!((remote.in_flight, remote.waiting), (2, 4));
    let waiting = calls
        .iter()
        .filter(|call| call.state() == TokenState::Waiting)
        .count();
    assert_eq!(waiting, 4);

    open(tag);
    for call in calls {
        assert_eq!(call.wait().unwrap(), tag);
    }
    assert_eq!(started(tag), 6);
    assert!(most_at_once(tag) <= 2, "{} ran at once", most_at_once(tag));
    let remote = coordinator.stats().remote.unwrap();
    assert_eq!(
        (remote.in_flight, remote.waiting, remote.submitted),
        (0, 0, 6)
    );
}

#[test]
fn a_full_window_and_lane_reject_under_the_reject_policy() {
    let hosts = Hosts::start(8);
    let coordinator = start(
        caller(1)
            .lane_capacity(2)
            .full_lane_policy(FullLanePolicy::Reject)
            .remote(hosts.remote().max_in_flight(2)),
    );
    let _bound = coordinator.enter();

    let tag = tag();
    let accepted: Vec<_> = (0..4).map(|_| gated(tag)).collect();
    let rejected = gated(tag);
    assert!(rejected.is_finished(), "rejected at once");
    let err = rejected.wait().unwrap_err();
    assert!(err.is_rejected(), "{err}");
    assert!(
        err.to_string()
            .contains("its remote backend has 2 calls in flight"),
        "{err}"
    );
    open(tag);
    for call in accepted {
        assert_eq!(call.wait().unwrap(), tag);
    }
}

#[test]
fn pauses_and_drains_hold_remote_calls_as_any_call() {
    let hosts = Hosts::start(2);
    let coordinator = start(caller(1).remote(hosts.remote()));
    let _bound = coordinator.enter();

    coordinator.pause_operation("attr_gated");
    let tag = tag();
    open(tag);
    let held = gated(tag);
    assert_eq!(held.state(), TokenState::Waiting);
    assert_eq!(coordinator.stats().op("attr_gated").unwrap().held, 1);
    assert_eq!(coordinator.resume_operation("attr_gated"), 1);
    assert_eq!(held.wait().unwrap(), tag);

    coordinator.pause_admission();
    let drained = gated(tag);
    assert_eq!(coordinator.drain_operation("attr_gated"), 1);
    assert!(drained.wait().unwrap_err().is_killed());
    let paused = gated(tag);
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(paused.state(), TokenState::Waiting, "held by the pause");
    coordinator.resume_admission();
    assert_eq!(paused.wait().unwrap(), tag);
    assert_eq!(started(tag), 2, "the drained call never ran");
}
