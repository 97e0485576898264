//! Process queues and pipelining: process-pool calls wait for a worker
//! process without holding a worker thread, several are in flight to one
//! worker process at once, and a kill or a death among them ends only the
//! call it concerns.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokengate_tests::{Gate, builder, eventually, resolve, value, with_coordinator};

use crate::{exited, fns, read_when_written, scratch_dir, wait_exited};

#[test]
fn a_batch_larger_than_the_pool_completes_while_every_worker_thread_is_busy() {
    with_coordinator(
        builder("p-no-thread")
            .core_groups(1)
            .workers_per_core(1)
            .process_workers(2),
        |coordinator| {
            // The coordinator's only worker thread is held until the end.
            let gate = Gate::new();
            let started = Arc::new(AtomicBool::new(false));
            let holder = {
                let (gate, started) = (gate.clone(), started.clone());
                tokengate::spawn("holds_the_worker", move || {
                    started.store(true, Ordering::SeqCst);
                    gate.wait()
                })
            };
            eventually("the worker thread is held", || {
                started.load(Ordering::SeqCst)
            });
            let tokens: Vec<_> = (0..40u64).map(fns::square).collect();
            for (n, token) in (0..40u64).zip(tokens) {
                assert_eq!(value(token), n * n);
            }
            let stats = coordinator.stats();
            assert_eq!(stats.op("p_square").unwrap().counts.completed, 40);
            assert_eq!(stats.processes.waiting, 0);
            assert!(!holder.is_finished(), "no process call needed the worker");
            gate.open();
            assert!(value(holder));
        },
    );
}

#[test]
fn a_call_waiting_for_a_process_waits_in_its_queue_and_can_be_killed() {
    let dir = scratch_dir("queue");
    with_coordinator(
        builder("p-queue").process_workers(1).process_pipeline(1),
        |coordinator| {
            let pid_file = dir.join("pid");
            let blocker = fns::spin(pid_file.display().to_string(), 60);
            read_when_written(&pid_file);
            let touched = dir.join("touched");
            let queued = fns::touch(touched.display().to_string());
            let next = fns::square(4);
            let stats = coordinator.stats().processes;
            assert_eq!((stats.waiting, stats.in_flight), (2, 1), "{stats:?}");
            assert!(queued.kill());
            assert!(resolve(queued).unwrap_err().is_killed());
            assert!(blocker.kill());
            assert!(resolve(blocker).unwrap_err().is_killed());
            assert_eq!(value(next), 16);
            assert!(!touched.exists(), "the killed call never ran");
            assert_eq!(coordinator.stats().processes.pipeline, 1);
        },
    );
}

#[test]
fn a_call_killed_behind_a_running_one_in_its_process_leaves_the_process_alone() {
    let dir = scratch_dir("behind");
    with_coordinator(builder("p-behind").process_workers(1), |coordinator| {
        // A worker takes calls behind the one it runs once its last one was
        // short.
        assert_eq!(value(fns::square(1)), 1);
        let pid_file = dir.join("pid");
        let runner = fns::spin(pid_file.display().to_string(), 60);
        let pid: u32 = read_when_written(&pid_file).parse().unwrap();
        // Sent to the busy worker process, behind the running call.
        let touched = dir.join("touched");
        let behind = fns::touch(touched.display().to_string());
        let after = fns::square(7);
        eventually("both pipelined", || {
            coordinator.stats().processes.in_flight == 3
        });
        assert!(behind.kill());
        assert!(resolve(behind).unwrap_err().is_killed());
        let stats = coordinator.stats().processes;
        assert_eq!(stats.killed, 0, "{stats:?}");
        assert!(!exited(pid), "the running call's process lives on");

        // Killing the running call ends its process; the call behind it,
        // never started, goes to the replacement.
        assert!(runner.kill());
        assert!(resolve(runner).unwrap_err().is_killed());
        assert_eq!(value(after), 49);
        wait_exited(pid);
        assert!(!touched.exists(), "the killed call never ran");
        let stats = coordinator.stats().processes;
        assert_eq!((stats.killed, stats.lost), (1, 0), "{stats:?}");
        assert_eq!(stats.resent, 1, "{stats:?}");
        assert_eq!(
            coordinator.stats().op("p_square").unwrap().counts.completed,
            2
        );
    });
}

#[test]
fn a_worker_killed_with_pipelined_calls_fails_only_the_running_one() {
    let dir = scratch_dir("pipelined");
    let marks = dir.join("marks");
    std::fs::create_dir(&marks).unwrap();
    with_coordinator(builder("p-pipelined").process_workers(1), |coordinator| {
        assert_eq!(value(fns::square(1)), 1);
        let pid_file = dir.join("pid");
        let runner = fns::spin(pid_file.display().to_string(), 60);
        let pid = read_when_written(&pid_file);
        let marks_arg = marks.display().to_string();
        let behind: Vec<_> = (0..3u32).map(|i| fns::mark(marks_arg.clone(), i)).collect();
        eventually("all pipelined", || {
            coordinator.stats().processes.in_flight == 4
        });
        let status = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let err = resolve(runner).unwrap_err();
        assert!(err.is_worker_lost(), "{err}");
        for (i, token) in (0..3u32).zip(behind) {
            assert_eq!(value(token), i, "a call that never started is sent again");
        }
        assert_eq!(
            std::fs::read_dir(&marks).unwrap().count(),
            3,
            "each ran once"
        );
        let stats = coordinator.stats().processes;
        assert_eq!(
            (stats.lost, stats.resent, stats.killed),
            (1, 3, 0),
            "{stats:?}"
        );
        let op = coordinator.stats().op("p_mark").unwrap().counts;
        assert_eq!((op.completed, op.failed), (3, 0));
    });
}

#[test]
fn under_reject_a_full_process_queue_turns_calls_away() {
    let dir = scratch_dir("reject");
    with_coordinator(
        builder("p-reject")
            .process_workers(1)
            .process_pipeline(1)
            .lane_capacity(2)
            .full_lane_policy(tokengate::FullLanePolicy::Reject),
        |coordinator| {
            let pid_file = dir.join("pid");
            let blocker = fns::spin(pid_file.display().to_string(), 60);
            read_when_written(&pid_file);
            let waiting: Vec<_> = (0..2u64).map(fns::square).collect();
            let err = resolve(fns::square(9)).unwrap_err();
            assert!(err.is_rejected(), "{err}");
            assert_eq!(coordinator.stats().processes.waiting, 2);
            assert!(blocker.kill());
            for (n, token) in (0..2u64).zip(waiting) {
                assert_eq!(value(token), n * n);
            }
        },
    );
}

#[test]
fn no_call_waits_in_a_process_behind_a_long_one() {
    let dir = scratch_dir("long");
    with_coordinator(builder("p-long").process_workers(1), |coordinator| {
        // Its last call was long: the worker takes one call at a time.
        assert_eq!(value(fns::heavy_nap(20)), 20);
        let pid_file = dir.join("pid");
        let runner = fns::spin(pid_file.display().to_string(), 60);
        read_when_written(&pid_file);
        let queued = fns::square(3);
        let stats = coordinator.stats().processes;
        assert_eq!((stats.in_flight, stats.waiting), (1, 1), "{stats:?}");
        assert!(runner.kill());
        assert_eq!(value(queued), 9);
    });
}
