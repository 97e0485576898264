//! Panics, crashes and cancellation of process-pool calls.

use tokengate_tests::{builder, eventually, resolve, value, with_coordinator};

use crate::{fns, read_when_written, scratch_dir, wait_exited};

#[test]
fn a_panic_fails_the_call_with_its_message_and_the_worker_lives_on() {
    with_coordinator(builder("p-panic").process_workers(1), |coordinator| {
        let before = value(fns::pid());
        let err = resolve(fns::explode("disk on fire".into())).unwrap_err();
        assert!(err.is_panic(), "{err}");
        let expected = format!("{} disk on fire", tokengate_tests::EXPECTED_PANIC);
        assert_eq!(err.panic_message(), Some(expected.as_str()));
        assert_eq!(value(fns::pid()), before, "the same worker serves on");
        let stats = coordinator.stats();
        assert_eq!((stats.processes.spawned, stats.processes.lost), (1, 0));
        assert_eq!(stats.op("p_panic").unwrap().counts.failed, 1);
    });
}

#[test]
fn a_worker_that_dies_fails_its_call_and_is_replaced() {
    with_coordinator(builder("p-die").process_workers(1), |coordinator| {
        for (abort, code) in [(true, 0), (false, 3), (false, 0)] {
            let before = value(fns::pid());
            let err = resolve(fns::die(abort, code)).unwrap_err();
            assert!(err.is_worker_lost(), "{err}");
            assert_eq!(err.lost_worker_pid(), Some(before));
            let text = err.to_string();
            let status = if abort { "SIGABRT" } else { "exit status" };
            assert!(text.contains(status), "{text}");
            wait_exited(before);
            let after = value(fns::pid());
            assert_ne!(after, before, "a new worker serves the next call");
        }
        let stats = coordinator.stats();
        assert_eq!(stats.processes.lost, 3);
        assert_eq!(stats.processes.spawned, 4);
    });
}

#[test]
fn a_worker_killed_from_outside_fails_its_call() {
    let dir = scratch_dir("outside");
    with_coordinator(builder("p-outside").process_workers(1), |_| {
        // SIGSEGV stands for a crash in native code.
        for signal in ["KILL", "SEGV"] {
            let pid_file = dir.join(signal);
            let token = fns::spin(pid_file.display().to_string(), 60);
            let pid = read_when_written(&pid_file);
            let status = std::process::Command::new("kill")
                .args([format!("-{signal}").as_str(), &pid])
                .status()
                .expect("kill runs");
            assert!(status.success());
            let err = resolve(token).unwrap_err();
            assert!(err.is_worker_lost(), "{err}");
            assert!(err.to_string().contains(&format!("SIG{signal}")), "{err}");
            assert_eq!(value(fns::square(3)), 9);
        }
    });
}

#[test]
fn no_call_is_lost_or_run_twice_when_a_worker_dies_among_them() {
    let dir = scratch_dir("twice");
    with_coordinator(builder("p-twice").process_workers(2), |_| {
        let dir_arg = dir.display().to_string();
        let mut tokens = Vec::new();
        let mut crashes = Vec::new();
        for i in 0..200u32 {
            tokens.push(fns::mark(dir_arg.clone(), i));
            if i % 50 == 25 {
                crashes.push(fns::die(true, 0));
            }
        }
        for (i, token) in tokens.into_iter().enumerate() {
            assert_eq!(value(token), i as u32);
        }
        for crash in crashes {
            assert!(resolve(crash).unwrap_err().is_worker_lost());
        }
        let marks = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(marks, 200, "every call ran exactly once");
    });
}

#[test]
fn kill_stops_a_running_call_by_killing_its_worker() {
    let dir = scratch_dir("kill");
    with_coordinator(builder("p-kill").process_workers(1), |coordinator| {
        let pid_file = dir.join("pid");
        let token = fns::spin(pid_file.display().to_string(), 60);
        let pid: u32 = read_when_written(&pid_file).parse().unwrap();
        assert!(token.kill());
        assert!(resolve(token).unwrap_err().is_killed());
        wait_exited(pid);
        eventually("the killed worker replaced", || {
            let p = coordinator.stats().processes;
            p.killed == 1 && p.alive == 1
        });
        assert!(!coordinator.worker_processes().contains(&pid));
        assert_eq!(value(fns::square(5)), 25);
    });
}

#[test]
fn a_timeout_stops_a_runaway_call_by_killing_its_worker() {
    let dir = scratch_dir("timeout");
    with_coordinator(builder("p-timeout").process_workers(1), |coordinator| {
        let pid_file = dir.join("pid");
        let err = resolve(fns::runaway(pid_file.display().to_string())).unwrap_err();
        assert!(err.is_timeout(), "{err}");
        let pid: u32 = read_when_written(&pid_file).parse().unwrap();
        wait_exited(pid);
        assert_eq!(value(fns::square(6)), 36);
        assert_eq!(
            coordinator
                .stats()
                .op("p_runaway")
                .unwrap()
                .counts
                .timed_out,
            1
        );
    });
}

#[test]
fn a_queued_call_killed_before_it_starts_never_reaches_a_worker() {
    let dir = scratch_dir("queued");
    with_coordinator(
        builder("p-queued")
            .core_groups(1)
            .workers_per_core(1)
            .process_workers(1),
        |_| {
            let pid_file = dir.join("pid");
            let blocker = fns::spin(pid_file.display().to_string(), 60);
            read_when_written(&pid_file);
            let touched = dir.join("touched");
            let queued = fns::touch(touched.display().to_string());
            assert!(queued.kill());
            assert!(resolve(queued).unwrap_err().is_killed());
            assert!(blocker.kill());
            assert!(resolve(blocker).unwrap_err().is_killed());
            // The next call runs after the killed one would have.
            assert_eq!(value(fns::square(2)), 4);
            assert!(!touched.exists(), "the killed call never ran");
        },
    );
}

#[test]
fn a_lost_worker_and_a_panic_in_a_worker_process_are_reported_in_the_calls_span() {
    use tokengate_tests::recording::recorded;
    use tracing::Level;

    recorded(|log| {
        with_coordinator(builder("p-trace").process_workers(1), |_| {
            let before = value(fns::pid());
            let token = fns::die(true, 0);
            let id = token.id();
            assert!(resolve(token).unwrap_err().is_worker_lost());
            let lost = log.events("worker process lost");
            assert_eq!(lost.len(), 1, "{lost:?}");
            assert_eq!(lost[0].level, Level::ERROR);
            assert_eq!(lost[0].fields["pid"], before.to_string());
            assert!(lost[0].fields["status"].contains("SIGABRT"), "{lost:?}");
            let (serial, span) = log.call_span(id);
            assert_eq!(lost[0].span, Some(serial));
            assert_eq!(span.fields["process"], "true");
            assert_eq!(span.fields["outcome"], "worker_lost");

            let token = fns::explode("in a worker".into());
            let id = token.id();
            assert!(resolve(token).unwrap_err().is_panic());
            let panics = log.events("call panicked");
            assert_eq!(panics.len(), 1, "{panics:?}");
            assert!(
                panics[0].fields["panic"].contains("in a worker"),
                "{panics:?}"
            );
            assert_eq!(panics[0].span, Some(log.call_span(id).0));
        });
    });
}

#[test]
fn a_failing_group_member_ends_its_siblings_worker_processes() {
    tokengate_tests::quiet_expected_panics();
    let dir = scratch_dir("group");
    with_coordinator(builder("p-group").process_workers(2), |coordinator| {
        let pid_file = dir.join("pid");
        let mut group = tokengate::TokenGroup::new();
        group.add(fns::spin(pid_file.display().to_string(), 60));
        let pid: u32 = read_when_written(&pid_file).parse().unwrap();
        group.add(tokengate::spawn("fails_on_a_thread", || -> u32 {
            panic!("{}: a sibling failed", tokengate_tests::EXPECTED_PANIC)
        }));
        let err = tokengate_tests::block_on(group.join()).unwrap_err();
        assert!(err.first().unwrap().1.is_panic());
        assert_eq!(err.cancelled(), 1, "the spinning sibling was cancelled");
        wait_exited(pid);
        eventually("the killed worker replaced", || {
            let p = coordinator.stats().processes;
            p.killed == 1 && p.alive >= 1
        });
        assert!(!coordinator.worker_processes().contains(&pid));
    });
}
