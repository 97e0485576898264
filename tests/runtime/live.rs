//! `live_calls`: what is queued, what runs, and which bodies run on after
//! their call was killed.

use std::time::Duration;

use tokengate::stats::LivePath;
use tokengate::{StorageSpeed, Task, TokenState, Weight};
use tokengate_tests::{Gate, builder, error, eventually, value, with_coordinator};

#[test]
fn live_calls_list_queued_running_and_orphaned_calls() {
    with_coordinator(
        builder("live-calls").core_groups(1).workers_per_core(1),
        |coordinator| {
            let gate = Gate::new();
            let running = {
                let gate = gate.clone();
                // Ignores its kill: the body runs on until the gate opens.
                Task::new("stubborn")
                    .weight(Weight::Heavy)
                    .spawn(move || gate.wait())
            };
            eventually("it runs", || running.state() == TokenState::Executing);
            let queued = Task::new("queued").weight(Weight::Light).spawn(|| 1);
            let io = {
                let gate = gate.clone();
                Task::new("io")
                    .storage_speed(StorageSpeed::Fast)
                    .spawn(move || gate.wait())
            };
            eventually("the IO call runs", || io.state() == TokenState::Executing);

            let live = coordinator.live_calls();
            let find = |id| live.iter().find(|c| c.id == id).cloned().unwrap();
            let r = find(running.id());
            assert_eq!(
                (r.op, r.state, r.path, r.worker, r.body_running),
                (
                    "stubborn",
                    TokenState::Executing,
                    LivePath::Lane(Weight::Heavy),
                    Some(0),
                    false
                )
            );
            assert!(r.running_for.is_some());
            let q = find(queued.id());
            // In its lane, or in the worker's mailbox behind the running call.
            assert!(
                matches!(q.state, TokenState::Waiting | TokenState::Admitted),
                "{q:?}"
            );
            assert_eq!((q.worker, q.running_for), (None, None));
            let i = find(io.id());
            assert_eq!(
                (i.path, i.worker),
                (LivePath::Storage(StorageSpeed::Fast), None)
            );
            // Oldest first.
            assert_eq!(live[0].id, running.id());

            // Killed while running: it leaves the live set, its body stays listed.
            assert!(running.kill());
            let running_id = running.id();
            assert!(error(running).is_killed());
            let after = coordinator.live_calls();
            let orphan = after.iter().find(|c| c.id == running_id).unwrap();
            assert_eq!(
                (orphan.state, orphan.body_running),
                (TokenState::Killed, true)
            );
            assert_eq!(coordinator.stats().orphaned_bodies, 1);

            gate.open();
            assert!(value(io));
            assert_eq!(value(queued), 1);
            eventually("the orphaned body returned", || {
                coordinator.stats().orphaned_bodies == 0
            });
            assert!(coordinator.live_calls().is_empty());
        },
    );
}

#[test]
fn a_call_running_past_its_op_s_p99_is_flagged() {
    with_coordinator(builder("live-p99"), |coordinator| {
        let task = Task::new("usually_quick");
        for _ in 0..40 {
            value(task.spawn(|| ()));
        }
        let gate = Gate::new();
        let slow = {
            let gate = gate.clone();
            task.spawn(move || {
                gate.wait();
            })
        };
        eventually("it runs past the p99", || {
            coordinator
                .live_calls()
                .iter()
                .any(|c| c.id == slow.id() && c.over_p99)
        });
        std::thread::sleep(Duration::from_millis(1));
        gate.open();
        value(slow);
    });
}

#[test]
fn a_lane_reports_how_long_its_oldest_call_has_waited() {
    use tokengate_tests::{single_worker, with_coordinator};
    with_coordinator(single_worker("oldest-wait"), |c| {
        assert_eq!(c.stats().lane(Weight::Medium).oldest_wait, None);
        let gate = Gate::new();
        let blocker = {
            let gate = gate.clone();
            Task::new("blocker").spawn(move || gate.wait())
        };
        eventually("the worker is busy", || {
            blocker.state() == TokenState::Executing
        });
        // Mailboxes take a few calls first; the rest wait in the lane.
        let queued: Vec<_> = (0..100)
            .map(|i| Task::new("queued").spawn(move || i))
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        let waited = c
            .stats()
            .lane(Weight::Medium)
            .oldest_wait
            .expect("calls wait");
        assert!(waited >= Duration::from_millis(20), "{waited:?}");
        gate.open();
        assert!(value(blocker));
        for (i, token) in queued.into_iter().enumerate() {
            assert_eq!(value(token), i);
        }
        assert_eq!(c.stats().lane(Weight::Medium).oldest_wait, None);
    });
}
