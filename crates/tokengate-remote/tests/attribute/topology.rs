//! The settings callers and worker hosts share (`Topology`): a namespace of
//! their own end to end, and a caller or host whose settings differ from
//! those the broker recorded refused at start, with an error that names
//! them.

use std::time::Duration;

use tokengate::OperationsCoordinator;
use tokengate_remote::{Caller, CallerConfig, Remote, Worker};

use crate::fns::double;
use crate::queue::{stream_names, wait_until_queue_empty_in};
use crate::support::*;

#[test]
fn a_namespace_of_its_own_carries_calls_end_to_end() {
    quiet_expected_panics();
    let server = NatsServer::start();
    let host = OperationsCoordinator::builder()
        .thread_name("tg-host")
        .stop_timeout(PATIENCE)
        .start()
        .unwrap();
    let _worker = Worker::start(
        Worker::nats(server.url())
            .namespace("Orders")
            .ack_wait(ACK_WAIT)
            .coordinator(host.handle())
            .slots(1)
            .heartbeat_interval(Duration::from_millis(200))
            .poll_interval(Duration::from_millis(250)),
    )
    .expect("the worker host starts");
    let coordinator = start(caller(1).remote(remote(&server).namespace("orders")));
    let _bound = coordinator.enter();

    assert_eq!(double(vec![1, 2]).wait().unwrap(), vec![1, 2, 1, 2]);
    assert_eq!(
        stream_names(&server),
        ["ORDERS_JOBS", "ORDERS_RESULTS"],
        "the namespace's streams only"
    );
    eventually("the namespace's host is listed", || {
        coordinator.stats().remote.unwrap().workers.len() == 1
    });
    wait_until_queue_empty_in(&server, "ORDERS_JOBS");

    // A caller of the default namespace hears nothing from it.
    let other = Caller::connect(CallerConfig::new(server.url())).expect("connects");
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(other.workers(), []);
    other.close();
}

#[test]
fn callers_and_hosts_whose_settings_differ_from_the_brokers_do_not_start() {
    let server = NatsServer::start();
    // The first to connect records its settings.
    let first = Caller::connect(CallerConfig::new(server.url()).max_deliver(3)).expect("connects");

    let err = Worker::start(Worker::nats(server.url()).slots(1)).unwrap_err();
    assert!(err.is_mismatch(), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(
            "set up with other settings than this worker's: `max_deliver` is 3 there \
                       and 5 here; give every caller and worker of a namespace the same \
                       `Topology`"
        ),
        "{text}"
    );

    let err = caller(1)
        .remote(
            Remote::nats(server.url())
                .ack_wait(Duration::from_secs(2))
                .max_deliver(3),
        )
        .start()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("could not start the remote backend: the namespace `tg`"),
        "{text}"
    );
    assert!(
        text.contains("`ack_wait` is 10s there and 2s here"),
        "{text}"
    );
    assert!(!text.contains("max_deliver"), "{text}");

    // The same settings are welcome.
    let host = Worker::start(Worker::nats(server.url()).max_deliver(3).slots(1))
        .expect("a host with the recorded settings starts");
    host.stop();
    first.close();
}
