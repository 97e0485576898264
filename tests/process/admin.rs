//! Process-pool calls go through the same admission, pause, drain, kill and
//! stats as thread calls.

use tokengate::TokenState;
use tokengate_tests::{builder, eventually, resolve, value, with_coordinator};

use crate::{fns, read_when_written, scratch_dir};

#[test]
fn pause_and_resume_an_operation() {
    with_coordinator(builder("p-pause").process_workers(1), |coordinator| {
        coordinator.pause_operation("p_square");
        let held: Vec<_> = (0..5).map(fns::square).collect();
        // Other operations keep running.
        assert_eq!(value(fns::shout("x".into(), 2)), "XX");
        for token in &held {
            assert_eq!(token.state(), TokenState::Waiting);
        }
        assert_eq!(coordinator.resume_operation("p_square"), 5);
        for (i, token) in held.into_iter().enumerate() {
            assert_eq!(value(token), (i * i) as u64);
        }
    });
}

#[test]
fn drain_and_kill_by_operation() {
    let dir = scratch_dir("drain");
    with_coordinator(builder("p-drain").process_workers(1), |coordinator| {
        coordinator.pause_operation("p_square");
        let held: Vec<_> = (0..4).map(fns::square).collect();
        assert_eq!(coordinator.drain_operation("p_square"), 4);
        for token in held {
            assert!(resolve(token).unwrap_err().is_killed());
        }
        coordinator.resume_operation("p_square");

        let pid_file = dir.join("pid");
        let running = fns::spin(pid_file.display().to_string(), 60);
        let pid: u32 = read_when_written(&pid_file).parse().unwrap();
        assert_eq!(coordinator.kill_all_by_operation("p_spin"), 1);
        assert!(resolve(running).unwrap_err().is_killed());
        crate::wait_exited(pid);
        assert_eq!(value(fns::square(9)), 81);

        let stats = coordinator.stats();
        let square = stats.op("p_square").unwrap();
        assert_eq!((square.counts.killed, square.counts.completed), (4, 1));
        assert_eq!(stats.op("p_spin").unwrap().counts.killed, 1);
        eventually("the killed worker counted", || {
            coordinator.stats().processes.killed == 1
        });
    });
}

#[test]
fn global_pause_holds_process_calls_too() {
    with_coordinator(builder("p-global").process_workers(1), |coordinator| {
        coordinator.pause_admission();
        let token = fns::square(7);
        assert_eq!(token.state(), TokenState::Waiting);
        coordinator.resume_admission();
        assert_eq!(value(token), 49);
    });
}

#[test]
fn weights_and_stats_apply_to_process_calls() {
    with_coordinator(builder("p-stats").process_workers(2), |coordinator| {
        let tokens: Vec<_> = (0..20).map(fns::square).collect();
        for token in tokens {
            assert_eq!(token.weight(), tokengate::Weight::Medium);
            value(token);
        }
        let stats = coordinator.stats();
        assert_eq!(stats.op("p_square").unwrap().counts.completed, 20);
        assert_eq!(stats.lane(tokengate::Weight::Medium).counts.completed, 20);
        let p = stats.processes;
        assert!(p.spawned >= 1 && p.spawned <= 2, "{p:?}");
        assert_eq!((p.size, p.lost, p.killed), (2, 0, 0));
        assert!(stats.to_string().contains("processes:"));
    });
}

#[test]
fn a_backlog_of_heavy_process_calls_leaves_medium_workers_free() {
    // Two groups of two workers: each group keeps one worker for its home
    // weights, so heavy calls (home: group 1) never hold group 2's reserved
    // worker, even while a backlog waits for the single worker process.
    with_coordinator(
        builder("p-backlog")
            .core_groups(2)
            .workers_per_core(2)
            .process_workers(1),
        |coordinator| {
            let backlog: Vec<_> = (0..6).map(|_| fns::heavy_nap(200)).collect();
            eventually("a heavy call running", || {
                coordinator.stats().tokens.executing > 0
            });
            for n in 0..20 {
                assert_eq!(value(fns::double(n)), n * 2);
            }
            let unfinished = backlog.iter().filter(|t| !t.state().is_terminal()).count();
            assert!(
                unfinished > 0,
                "the medium calls waited for the whole backlog"
            );
            for token in backlog {
                assert_eq!(value(token), 200);
            }
        },
    );
}
