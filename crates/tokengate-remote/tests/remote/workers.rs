//! `Caller::workers`: the workers of the namespace, from their heartbeats;
//! listed at once when the caller connects, gone at once when they stop.

use std::time::Duration;

use crate::support::*;

#[test]
fn workers_are_listed_when_the_caller_connects_and_leave_when_they_stop() {
    let server = NatsServer::start();
    // Heartbeats a minute apart: within the test's patience, the caller
    // lists these workers only because it asks for a heartbeat when it
    // connects, and drops one only because it says it leaves.
    let minute = Duration::from_secs(60);
    let echo = |_: &str, args: &[u8], _: &tokengate_remote::CancelFlag| Ok(args.to_vec());
    let alpha = start(
        worker_config(&server, echo)
            .pool("a")
            .worker_id("alpha")
            .slots(2)
            .heartbeat_interval(minute),
    );
    let heavy = start(
        worker_config(&server, echo)
            .weights(["heavy"])
            .sticky(true)
            .slots(3)
            .heartbeat_interval(minute),
    );
    let caller = caller(&server);
    eventually("both workers are listed", || caller.workers().len() == 2);
    let workers = caller.workers();
    let a = &workers[0];
    assert_eq!(
        (a.id.as_str(), a.pool.as_str(), a.slots, a.busy, a.pid),
        ("alpha", "a", 2, 0, std::process::id())
    );
    assert_eq!(a.weights, ["light", "medium", "heavy"]);
    assert_eq!(a.heartbeat_interval, minute);
    let h = &workers[1];
    assert_eq!(
        (h.pool.as_str(), h.slots, h.sticky, h.weights.clone()),
        ("default", 3, true, vec!["heavy".to_owned()])
    );
    assert_eq!(h.id.len(), 16, "a random id: {}", h.id);

    heavy.stop();
    eventually("the stopped worker leaves the list", || {
        caller.workers().len() == 1
    });
    assert_eq!(caller.workers()[0].id, "alpha");
    alpha.stop();
    eventually("no worker is left", || caller.workers().is_empty());
}
