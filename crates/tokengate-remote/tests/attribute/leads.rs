//! Remote leads (`remote` with `external_calls`): the lead runs on a worker
//! host, and so do its children, thread fns and `remote` fns alike, without
//! going back through the broker; a kill of the lead on the caller stops its
//! children on the host.

use std::collections::HashSet;
use std::time::Instant;

use tokengate::{KillReason, OperationsCoordinator};
use tokengate_remote::Worker;

use crate::fns::*;
use crate::support::*;

#[test]
fn a_remote_leads_children_run_on_its_host_and_its_value_combines_theirs() {
    let hosts = Hosts::start(2);
    let coordinator = start(caller(2).remote(hosts.remote()));
    let _bound = coordinator.enter();

    let (lead_ran, children) = lead(3).wait().unwrap();
    assert!(
        lead_ran.2.starts_with("tg-host"),
        "the lead ran on `{}`",
        lead_ran.2
    );
    let tags: Vec<u32> = children.iter().map(|(tag, ..)| *tag).collect();
    assert_eq!(
        tags,
        (0..6).collect::<Vec<_>>(),
        "every child's value, in order"
    );
    for (tag, pid, thread) in &children {
        // The remote ones too: on a thread of the host, not in a worker
        // process of its pool, nor back through the broker.
        assert_eq!(*pid, std::process::id(), "child {tag}");
        assert!(
            thread.starts_with("tg-host"),
            "child {tag} ran on `{thread}`"
        );
    }

    // One job went through the broker: the lead's.
    let remote = coordinator.stats().remote.unwrap();
    assert_eq!(remote.submitted, 1);
    assert_eq!(hosts.worker.stats().values, 1);
    // The host ran the children as calls of its own, in the lead's domain.
    let host = hosts.host.stats();
    for op in ["attr_lead", "attr_child", "attr_remote_child"] {
        let completed = host.op(op).map_or(0, |op| op.counts.completed);
        assert_eq!(completed, if op == "attr_lead" { 1 } else { 3 }, "{op}");
    }
    assert_eq!(host.lead_unlisted_calls, 0);
}

#[test]
fn a_remote_child_of_a_remote_lead_is_not_published_by_a_host_that_calls_too() {
    // The host's coordinator has a backend of its own (a process that is a
    // caller and a worker host), and one slot: a child sent through the
    // broker would go to the host's own pool, and wait there for the slot
    // its lead holds.
    let server = NatsServer::start();
    let host = OperationsCoordinator::builder()
        .thread_name("tg-host")
        .core_groups(1)
        .workers_per_core(2)
        .stop_timeout(PATIENCE)
        .remote(remote(&server))
        .start()
        .expect("the host's coordinator starts");
    let worker = Worker::start(
        Worker::nats(server.url())
            .coordinator(host.handle())
            .slots(1)
            .ack_wait(ACK_WAIT)
            .poll_interval(std::time::Duration::from_millis(250))
            .stop_timeout(PATIENCE),
    )
    .expect("the worker host starts");
    let coordinator = start(caller(1).remote(remote(&server)));
    let _bound = coordinator.enter();

    let leads: Vec<_> = (0..3).map(|_| lead(2)).collect();
    for token in leads {
        let (_, children) = token.wait().unwrap();
        assert_eq!(children.len(), 4);
        assert!(
            children
                .iter()
                .all(|(_, pid, _)| *pid == std::process::id())
        );
    }
    assert_eq!(coordinator.stats().remote.unwrap().submitted, 3);
    assert_eq!(
        host.stats().remote.unwrap().submitted,
        0,
        "the host published none of the leads' children"
    );
    assert_eq!(worker.stats().values, 3);
    // Outside a lead, the host's own remote calls still go to the broker.
    assert_eq!(host.handle().run(|| remote_child(7)).wait().unwrap().0, 7);
    assert_eq!(host.stats().remote.unwrap().submitted, 1);
    drop(worker);
    host.stop();
}

#[test]
fn killing_a_remote_lead_kills_its_children_on_the_host() {
    // Threads for the lead and its four children at once, in its group.
    let hosts = Hosts::start_on(1, 6, |config| config);
    let coordinator = start(caller(1).remote(hosts.remote()));
    let _bound = coordinator.enter();

    let tags: Vec<u32> = (0..4).map(|_| tag()).collect();
    let late = tag();
    let token = spin_lead(tags.clone(), late);
    eventually("every child runs on the host", || {
        tags.iter().all(|&tag| started(tag) == 1)
    });

    let killed_at = Instant::now();
    assert!(token.kill());
    assert!(token.is_finished(), "resolved by the kill itself");
    let err = token.wait().unwrap_err();
    assert_eq!(err.kill_reason(), Some(KillReason::Token));
    assert!(killed_at.elapsed() < PATIENCE);

    eventually("every child saw its cancellation on the host", || {
        tags.iter().all(|&tag| saw_cancel(tag))
    });
    // The lead's body, left running, made one more child: killed as it was
    // made, unrun.
    eventually("the late child ended", || late_outcome(late).is_some());
    assert_eq!(late_outcome(late).unwrap(), "Some(Lead)");
    assert_eq!(started(late), 0, "the late child never ran");
    eventually("the host is idle again", || {
        hosts.worker.stats().running == 0 && hosts.host.live_tokens() == 0
    });
    let host = hosts.host.stats();
    // Two of each kind ran and were killed; the late one was killed unrun.
    let killed = |op: &str| host.op(op).unwrap().counts.killed;
    assert_eq!(killed("attr_spin_child"), 3);
    assert_eq!(killed("attr_spin_remote_child"), 2);
    assert_eq!(coordinator.stats().remote.unwrap().submitted, 1);
}

#[test]
fn with_two_hosts_each_leads_children_run_on_that_leads_host() {
    let server = NatsServer::start();
    let log = Log::new();
    let one = WorkerProcess::start_host(&server, &host_args(&log, &["--slots", "3"]));
    let two = WorkerProcess::start_host(&server, &host_args(&log, &["--slots", "3"]));
    let coordinator = start(caller(1).remote(remote(&server)));
    let _bound = coordinator.enter();
    eventually("both hosts are listed", || {
        coordinator.stats().remote.unwrap().workers.len() == 2
    });

    // A host takes at most 3 leads at once, and each runs a while: both
    // hosts run some.
    let leads: Vec<_> = (0..4).map(|_| crate::host_fns::lead(2, 300)).collect();
    let mut hosts_used = HashSet::new();
    for token in leads {
        let (pid, children) = token.wait().unwrap();
        assert!([one.pid(), two.pid()].contains(&pid), "lead ran in {pid}");
        assert_eq!(
            children,
            (0..4).map(|i| (i, pid)).collect::<Vec<_>>(),
            "every child ran on its lead's host"
        );
        hosts_used.insert(pid);
    }
    assert_eq!(hosts_used.len(), 2, "both hosts ran leads");
    let ran: Vec<u32> = log
        .calls()
        .into_iter()
        .filter(|(op, _)| op == "host_lead")
        .map(|(_, pid)| pid)
        .collect();
    assert_eq!(ran.len(), 4, "each lead ran once: {ran:?}");
    assert_eq!(coordinator.stats().remote.unwrap().submitted, 4);
}
