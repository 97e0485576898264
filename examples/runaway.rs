//! A call that never returns, stopped for real.
//!
//! `runaway` loops forever on pure CPU and never looks at
//! `tokengate::is_cancelled()`. On a thread, a timeout could only resolve its
//! token: the loop would keep its core until the process exits. As a
//! `process_pool = true` fn with `timeout = "500ms"`, its token resolves with
//! a timeout error at the deadline and the worker process running it is
//! killed and reaped; the pool starts a replacement, and the application
//! carries on.
//!
//! The fn writes its pid to a file before it starts looping, so that `main`
//! can check afterwards that the process is gone. Run with
//! `cargo run --release --example runaway`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokengate::stats::ProcessStats;
use tokengate::{OperationsCoordinator, task_token_guard};

/// Writes this process's pid to `pid_file`, then spins forever.
#[task_token_guard(op = "runaway", process_pool = true, timeout = "500ms")]
fn runaway(pid_file: String) -> u64 {
    std::fs::write(&pid_file, std::process::id().to_string()).expect("pid file is writable");
    let mut x = 1u64;
    loop {
        x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
}

/// Sleeps `ms` milliseconds (so that calls made together overlap and use
/// every worker process), then returns the pid of the process it ran in.
#[task_token_guard(op = "whoami", process_pool = true)]
fn whoami(ms: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id()
}

/// What `/proc` says about `pid`: `None` when there is no such process, else
/// its state letter (`Z` for a zombie: exited, not reaped).
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": the state follows the last ')'.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
}

fn show(label: &str, p: &ProcessStats) {
    println!(
        "{label:<26} {} alive ({} idle) of {}, {} started, {} lost, {} killed",
        p.alive, p.idle, p.size, p.spawned, p.lost, p.killed
    );
}

fn main() {
    // Two worker processes: one for the runaway, one for everything else.
    let coordinator = OperationsCoordinator::builder()
        .process_workers(2)
        .prestart_processes(true)
        .start()
        .expect("coordinator starts");
    let first_workers = coordinator.worker_processes();
    println!(
        "this process: {}; worker processes: {first_workers:?}",
        std::process::id()
    );
    show("processes at start:", &coordinator.stats().processes);

    let pid_file: PathBuf =
        std::env::temp_dir().join(format!("tokengate-runaway-{}.pid", std::process::id()));
    let _ = std::fs::remove_file(&pid_file);
    let start = Instant::now();
    let token = runaway(pid_file.display().to_string());

    // While it loops, the other worker processes keep serving calls.
    std::thread::sleep(Duration::from_millis(100));
    let busy_pid = read_pid(&pid_file);
    let others: Vec<u32> = (0..3)
        .map(|_| whoami(0).wait().expect("whoami runs beside the runaway"))
        .collect();
    println!("runaway is looping in pid {busy_pid}; meanwhile whoami() ran in {others:?}");
    assert!(!others.contains(&busy_pid));

    let err = token.wait().expect_err("runaway never returns");
    let resolved_at = Instant::now();
    let resolved = resolved_at - start;
    assert!(err.is_timeout(), "a timeout, not {err}");
    println!("runaway resolved after {resolved:.0?}: {err}");

    // The pool kills and reaps the process within a few ms of the deadline.
    let gone_by = Instant::now() + Duration::from_secs(20);
    let mut state = proc_state(busy_pid);
    while state.is_some() && Instant::now() < gone_by {
        std::thread::sleep(Duration::from_millis(1));
        state = proc_state(busy_pid);
    }
    match state {
        None => println!(
            "pid {busy_pid}: gone (no /proc/{busy_pid}) {:.1?} after the token resolved",
            resolved_at.elapsed()
        ),
        Some(s) => panic!("pid {busy_pid} still exists, state {s}"),
    }
    show("processes after the kill:", &coordinator.stats().processes);

    // The application carries on. The replacement starts in the background;
    // once it is ready, calls made together run in both processes.
    let ready_by = Instant::now() + Duration::from_secs(20);
    while coordinator.stats().processes.idle < 2 && Instant::now() < ready_by {
        std::thread::sleep(Duration::from_millis(1));
    }
    let tokens: Vec<_> = (0..4).map(|_| whoami(50)).collect();
    let after: Vec<u32> = tokens
        .into_iter()
        .map(|t| t.wait().expect("process-pool calls still work"))
        .collect();
    assert!(!after.contains(&busy_pid));
    let replacement: Vec<u32> = coordinator
        .worker_processes()
        .into_iter()
        .filter(|pid| !first_workers.contains(pid))
        .collect();
    println!("whoami(50) x 4 after the kill ran in {after:?}; replacement: {replacement:?}");
    assert!(
        after.iter().any(|pid| replacement.contains(pid)),
        "the replacement served calls"
    );
    println!("worker processes now: {:?}", coordinator.worker_processes());
    let processes = coordinator.stats().processes;
    show("processes at the end:", &processes);
    assert_eq!(processes.killed, 1);
    assert_eq!(processes.lost, 0);

    let _ = std::fs::remove_file(&pid_file);
    coordinator.stop();
}

/// The pid `runaway` wrote to `path`, waiting for it to appear.
fn read_pid(path: &Path) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse().ok())
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "runaway wrote no pid file");
        std::thread::sleep(Duration::from_millis(5));
    }
}
