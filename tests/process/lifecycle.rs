//! Worker processes start on demand or with the coordinator, and never
//! outlive it or their parent process.

use std::process::{Command, Stdio};
use std::time::Duration;

use tokengate_tests::{builder, resolve, value};

use crate::{exited, fns, read_when_written, scratch_dir, wait_exited};

#[test]
fn workers_start_on_first_use_unless_prestarted() {
    let lazy = builder("p-lazy").process_workers(2).start().unwrap();
    assert!(lazy.worker_processes().is_empty());
    lazy.run(|| value(fns::square(1)));
    assert_eq!(
        lazy.worker_processes().len(),
        1,
        "one call needs one worker"
    );
    lazy.stop();

    let eager = builder("p-eager")
        .process_workers(3)
        .prestart_processes(true)
        .start()
        .unwrap();
    let pids = eager.worker_processes();
    assert_eq!(pids.len(), 3);
    let p = eager.stats().processes;
    assert_eq!((p.size, p.alive, p.idle, p.spawned), (3, 3, 3, 3));
    eager.stop();
    for pid in pids {
        assert!(exited(pid), "worker {pid} outlived stop");
    }
}

#[test]
fn stop_ends_every_worker_before_it_returns() {
    let coordinator = builder("p-stop").process_workers(2).start().unwrap();
    let tokens: Vec<_> = coordinator.run(|| (0..50).map(fns::square).collect());
    for (i, token) in tokens.into_iter().enumerate() {
        assert_eq!(value(token), (i * i) as u64);
    }
    let pids = coordinator.worker_processes();
    assert!(!pids.is_empty());
    coordinator.stop();
    for pid in pids {
        assert!(exited(pid), "worker {pid} outlived stop");
    }
}

#[test]
fn stop_kills_a_call_that_outlasts_the_stop_timeout() {
    let dir = scratch_dir("stop-running");
    let coordinator = builder("p-stop-running")
        .process_workers(1)
        .stop_timeout(Duration::from_millis(100))
        .start()
        .unwrap();
    let pid_file = dir.join("pid");
    let token = coordinator.run(|| fns::spin(pid_file.display().to_string(), 60));
    let pid: u32 = read_when_written(&pid_file).parse().unwrap();
    coordinator.stop();
    assert!(resolve(token).unwrap_err().is_shutdown());
    wait_exited(pid);
}

#[test]
fn stop_now_kills_a_running_call_s_worker_process() {
    let dir = scratch_dir("stop-now");
    // A stop timeout that would keep `stop` waiting: `stop_now` does not.
    let coordinator = builder("p-stop-now")
        .process_workers(1)
        .stop_timeout(Duration::from_secs(3600))
        .start()
        .unwrap();
    let pid_file = dir.join("pid");
    let token = coordinator.run(|| fns::spin(pid_file.display().to_string(), 3600));
    let pid: u32 = read_when_written(&pid_file).parse().unwrap();
    coordinator.stop_now();
    let err = resolve(token).unwrap_err();
    assert_eq!(
        err.kill_reason(),
        Some(tokengate::KillReason::StopNow),
        "{err}"
    );
    wait_exited(pid);
}

const ORPHAN_CHILD: &str = "lifecycle::orphan_parent";
const ORPHAN_ENV: &str = "TOKENGATE_TEST_ORPHAN_DIR";

/// Run in a child process by the test below: starts a coordinator with two
/// workers, makes a call that spins in one of them for a minute, writes the
/// other's pid, and waits to be killed.
#[test]
#[ignore = "helper: run by workers_exit_when_their_parent_dies in a child process"]
fn orphan_parent() {
    let Some(dir) = std::env::var_os(ORPHAN_ENV) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let coordinator = builder("p-orphan")
        .process_workers(2)
        .prestart_processes(true)
        .start()
        .unwrap();
    let _bound = coordinator.enter();
    let busy_file = dir.join("busy");
    let busy = fns::spin(busy_file.display().to_string(), 60);
    let busy_pid: u32 = read_when_written(&busy_file).parse().unwrap();
    let idle = coordinator
        .worker_processes()
        .into_iter()
        .find(|&pid| pid != busy_pid)
        .expect("two workers");
    std::fs::write(dir.join("idle"), format!("{idle}\n")).unwrap();
    std::thread::sleep(Duration::from_secs(60));
    drop(busy);
}

#[test]
fn workers_exit_when_their_parent_dies() {
    let dir = scratch_dir("orphans");
    let mut parent = Command::new(std::env::current_exe().unwrap())
        .args([ORPHAN_CHILD, "--exact", "--ignored", "--test-threads=1"])
        .env(ORPHAN_ENV, dir.as_os_str())
        .stdout(Stdio::null())
        .spawn()
        .expect("the test binary runs again");
    let idle: u32 = read_when_written(&dir.join("idle")).parse().unwrap();
    let busy: u32 = read_when_written(&dir.join("busy")).parse().unwrap();
    assert_ne!(idle, busy);
    assert!(!exited(idle) && !exited(busy));
    parent.kill().unwrap();
    parent.wait().unwrap();
    // The idle worker sees its socket close; the busy one's watchdog sees its
    // parent change.
    wait_exited(idle);
    wait_exited(busy);
}
