//! Issue 8, hardening: ways to hang, misroute or over-admit calls.
//!
//! Each test is named after the promise it keeps; the doc comment names the
//! defect. Values whose `Drop` panics are dropped by the runtime on its own
//! threads (a worker, the timer) and in admin calls: none of those may unwind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokengate::{Task, TaskToken, task_token_guard};
use tokengate_tests::{
    ExpectedPanic, Gate, builder, error, eventually, quiet_expected_panics, single_worker, value,
    with_coordinator,
};

/// Panics when dropped, with a payload that panics when dropped too.
#[derive(Debug)]
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            std::panic::panic_any(ExpectedPanic);
        }
    }
}

/// A payload whose own `Drop` panics (with a payload that does not).
struct PanickingPayload;

impl Drop for PanickingPayload {
    fn drop(&mut self) {
        std::panic::panic_any(ExpectedPanic);
    }
}

/// A call that proves the (single) worker still serves calls.
fn still_serves() {
    assert_eq!(
        value(tokengate::spawn("spawn", || 41 + 1)),
        42,
        "the worker lives on"
    );
}

/// Defect 1: a panic payload whose `Drop` panics killed the worker thread, so
/// the token stayed `Executing` and every later call stayed queued.
#[test]
fn a_panic_payload_that_panics_when_dropped_leaves_the_worker_alive() {
    quiet_expected_panics();
    with_coordinator(single_worker("payload-drop"), |_| {
        let err = error(tokengate::spawn("spawn", || -> u8 {
            std::panic::panic_any(PanickingPayload)
        }));
        assert!(err.is_panic(), "{err}");
        still_serves();
    });
}

/// A call that runs until `gate` opens, then returns a [`PanicOnDrop`];
/// returns once it runs.
fn returning_after(gate: &Arc<Gate>) -> TaskToken<PanicOnDrop> {
    let started = Arc::new(AtomicBool::new(false));
    let token = {
        let (gate, started) = (gate.clone(), started.clone());
        tokengate::spawn("spawn", move || {
            started.store(true, Ordering::SeqCst);
            gate.wait();
            PanicOnDrop
        })
    };
    eventually("the call runs", || started.load(Ordering::SeqCst));
    token
}

/// Defect 2: a return value whose `Drop` panics, dropped on the worker,
/// killed the worker: when the token was dropped before the call finished,
/// when the call was killed while running, and when it timed out.
#[test]
fn a_value_that_panics_when_dropped_on_a_worker_leaves_it_alive() {
    quiet_expected_panics();
    with_coordinator(single_worker("value-drop"), |_| {
        // The token is dropped before the call returns its value.
        let gate = Gate::new();
        let token = returning_after(&gate);
        drop(token);
        gate.open();
        still_serves();

        // The call is killed while it runs; its late value is dropped.
        let gate = Gate::new();
        let token = returning_after(&gate);
        assert!(token.kill());
        gate.open();
        assert!(error(token).is_killed());
        still_serves();

        // The call times out while it runs; its late value is dropped.
        let timed = Task::new("timed").timeout(Duration::from_millis(20));
        let token = timed.spawn(|| {
            while !tokengate::is_cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
            PanicOnDrop
        });
        assert!(error(token).is_timeout());
        still_serves();
    });
}

/// Defect 3: dropping an older guard popped the top of the stack, so calls
/// went to the coordinator whose guard had just been dropped.
#[test]
fn enter_guards_dropped_out_of_order_keep_the_live_binding() {
    let a = builder("enter-a").start().unwrap();
    let b = builder("enter-b").start().unwrap();
    let guard_a = a.enter();
    let guard_b = b.enter();
    drop(guard_a);
    value(tokengate::spawn("spawn", || ()));
    assert_eq!(b.stats().tokens.completed, 1, "b is still entered");
    assert_eq!(a.stats().tokens.submitted, 0, "a's guard was dropped");
    drop(guard_b);
    a.stop();
    b.stop();
}

/// A call that runs until `gate` opens; returns once it runs.
fn running_until(gate: &Arc<Gate>) -> TaskToken<bool> {
    let started = Arc::new(AtomicBool::new(false));
    let token = {
        let (gate, started) = (gate.clone(), started.clone());
        tokengate::spawn("spawn", move || {
            started.store(true, Ordering::SeqCst);
            gate.wait()
        })
    };
    eventually("the call runs", || started.load(Ordering::SeqCst));
    token
}

/// A call queued behind a running one, holding an argument that panics when
/// dropped, on a single worker whose running call waits for `gate`.
fn queued_behind(gate: &Arc<Gate>) -> (TaskToken<bool>, TaskToken<u8>) {
    let running = running_until(gate);
    let argument = PanicOnDrop;
    let queued = tokengate::spawn("spawn", move || {
        let _keep = &argument;
        1u8
    });
    (running, queued)
}

/// Defect 4: a panic while `stop()` dropped a queued call's arguments escaped
/// `stop()` and left the coordinator half stopped (a later queued call still
/// ran, worker threads were never joined); `kill()` and drains of such a call
/// panicked in the caller; the timer thread died timing one out.
#[test]
fn admin_calls_and_stop_survive_arguments_that_panic_when_dropped() {
    quiet_expected_panics();
    // A mailbox of one: a call behind the running one waits in its lane.
    let coordinator = single_worker("arg-drop")
        .mailbox_capacity(1)
        .start()
        .unwrap();
    let bound = coordinator.enter();
    let gate = Gate::new();

    // kill(), drain_operation() and drain_pool() each resolve one such call.
    let (running, queued) = queued_behind(&gate);
    assert!(queued.kill(), "kill returns instead of panicking");
    assert!(error(queued).is_killed());
    let argument = PanicOnDrop;
    let queued = Task::new("drained").spawn(move || {
        let _keep = &argument;
    });
    assert_eq!(coordinator.drain_operation("drained"), 1);
    assert!(error(queued).is_killed());
    let argument = PanicOnDrop;
    let queued = tokengate::spawn("spawn", move || {
        let _keep = &argument;
    });
    assert_eq!(coordinator.drain_pool(), 1);
    assert!(error(queued).is_killed());

    // The timer resolves one by its timeout, and still serves later timeouts.
    let argument = PanicOnDrop;
    let timed = Task::new("timed").timeout(Duration::from_millis(10));
    let queued = timed.spawn(move || {
        let _keep = &argument;
    });
    assert!(error(queued).is_timeout());
    let queued = timed.spawn(|| ());
    assert!(error(queued).is_timeout(), "the timer thread lives on");
    gate.open();
    value(running);

    // stop() resolves queued calls holding such arguments, and a later queued
    // call never runs.
    let gate = Gate::new();
    let (running, queued) = queued_behind(&gate);
    let ran_after_stop = Arc::new(AtomicBool::new(false));
    let later = {
        let ran = ran_after_stop.clone();
        tokengate::spawn("spawn", move || ran.store(true, Ordering::SeqCst))
    };
    drop(bound);
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            gate.open();
        })
    };
    coordinator.stop();
    opener.join().unwrap();
    assert!(error(queued).is_shutdown());
    assert!(error(later).is_shutdown());
    assert!(
        !ran_after_stop.load(Ordering::SeqCst),
        "a queued call ran after stop"
    );
    value(running);
}

/// Defect 7: builder values that panicked (or aborted the process) instead of
/// returning a `BuildError`.
#[test]
fn builder_values_out_of_range_are_errors_not_panics() {
    let err = builder("nul").thread_name("tg\0x").start().unwrap_err();
    assert!(err.to_string().contains("NUL"), "{err}");
    for capacity in [usize::MAX, 1 << 40] {
        let err = builder("mailbox")
            .mailbox_capacity(capacity)
            .start()
            .unwrap_err();
        assert!(err.to_string().contains("mailbox_capacity"), "{err}");
    }
    let err = builder("workers")
        .core_groups(usize::MAX / 2)
        .workers_per_core(4)
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("workers_per_core"), "{err}");
    let err = builder("processes")
        .process_workers(usize::MAX)
        .start()
        .unwrap_err();
    assert!(err.to_string().contains("process_workers"), "{err}");

    // A stop timeout too large for the clock means "wait as long as calls run".
    let forever = builder("forever")
        .stop_timeout(Duration::MAX)
        .start()
        .unwrap();
    let gate = Gate::new();
    let running = forever.run(|| running_until(&gate));
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            gate.open();
        })
    };
    forever.stop();
    opener.join().unwrap();
    assert!(value(running), "stop waited for the running call");
}

/// Defect 8: worker threads had Rust's default stack, with no way to raise it.
#[test]
fn stack_size_lets_deep_recursion_run_on_a_worker() {
    fn depth(n: u32) -> u64 {
        let frame = std::hint::black_box([n as u8; 1024]);
        if n == 0 {
            return u64::from(frame[0]);
        }
        depth(n - 1) + u64::from(frame[512] & 1)
    }
    with_coordinator(single_worker("stack").stack_size(256 << 20), |_| {
        // Over 8 MiB of frames: far past the default 2 MiB.
        let sum = value(tokengate::spawn("spawn", || depth(8_000)));
        assert_eq!(sum, 4_000);
    });
}

/// Defect 10: a worker claiming a token (`Waiting → Admitted → Executing`)
/// while the caller that deferred it armed its lane slot gave the slot back
/// twice; the count then wrapped and the lane looked full forever. The race
/// is reached through calls waiting in line: their tokens are handed back
/// before their slot is armed (by the admission thread, once there is room),
/// and a guarded fn waiting on one claims it. (The loom model
/// `slot_is_released_exactly_once_when_a_claim_races_the_arm` checks every
/// interleaving; this drives the real path many times.)
#[test]
fn lane_slots_are_given_back_once_when_a_waiting_worker_claims_a_deferred_call() {
    with_coordinator(
        builder("slot-race")
            .core_groups(2)
            .workers_per_core(2)
            .lane_capacity(2)
            .mailbox_capacity(1),
        |coordinator| {
            let rounds = 300;
            for _ in 0..rounds {
                let (tx, rx) = std::sync::mpsc::channel::<TaskToken<u8>>();
                let rx = Arc::new(Mutex::new(rx));
                // Waiters: guarded fns that wait on tokens handed to them, and so
                // claim those still queued.
                let waiters: Vec<_> = (0..4)
                    .map(|_| {
                        let rx = rx.clone();
                        Task::new("waiter").spawn(move || {
                            let mut sum = 0u32;
                            while let Ok(token) = rx.lock().unwrap().recv() {
                                sum += u32::from(token.wait().unwrap_or(0));
                            }
                            sum
                        })
                    })
                    .collect();
                for i in 0..16 {
                    let _ = tx.send(Task::new("leaf").spawn(move || i as u8));
                }
                drop(tx);
                for waiter in waiters {
                    let _ = value(waiter);
                }
            }
            eventually("every lane slot is back", || {
                coordinator.stats().lanes.iter().all(|lane| lane.depth == 0)
            });
            // The lane still admits: it does not look full.
            let tokens: Vec<_> = (0..8)
                .map(|i| tokengate::spawn("spawn", move || i))
                .collect();
            assert_eq!(tokens.into_iter().map(value).sum::<i32>(), 28);
        },
    );
}

// ----- worker processes ------------------------------------------------------

#[task_token_guard(op = "issue8_pid", process_pool = true)]
fn worker_pid() -> u32 {
    std::process::id()
}

#[task_token_guard(op = "issue8_sleep", process_pool = true)]
fn sleep_in_worker(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

/// Process tests count this process's children: one at a time.
fn processes() -> MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// The pids of this process's children that are not reaped yet (alive, or
/// zombies no one waited for).
fn children() -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`: fields after the last `)`.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| ppid.parse::<u32>().ok());
        if ppid == Some(me) {
            found.push(pid);
        }
    }
    found
}

/// Whether process `pid` is dead (gone, or a zombie: its socket is closed).
fn dead(pid: u32) -> bool {
    // Its leader shows `Z` while its other threads still exit and its
    // socket is still open: dead once no thread is left (the entry goes, or
    // only the zombie leader remains).
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Err(_) => true,
        Ok(status) => {
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(str::trim)
            };
            field("State:").is_some_and(|s| s.starts_with('Z'))
                && std::fs::read_dir(format!("/proc/{pid}/task")).map_or(true, |t| t.count() <= 1)
                && field("Threads:").is_none_or(|n| n == "1")
        }
    }
}

/// Defect 5: the replacement started for a worker killed by its call's kill
/// or timeout could still be alive just after `stop()` returned.
#[test]
fn stop_leaves_no_worker_process_alive_after_a_kill_or_a_timeout() {
    let _one = processes();
    for round in 0..10 {
        let coordinator = builder("replace")
            .process_workers(1)
            .prestart_processes(true)
            .start()
            .unwrap();
        let token = coordinator.run(|| sleep_in_worker(10_000));
        eventually("the call runs in its worker", || {
            coordinator.stats().tokens.executing == 1
        });
        if round % 2 == 0 {
            assert!(token.kill());
        } else {
            assert!(coordinator.kill_token(token.id()));
        }
        // Stop at once: the killed worker's replacement is being started.
        coordinator.stop();
        assert_eq!(
            children(),
            Vec::<u32>::new(),
            "round {round}: a worker outlived stop"
        );
        assert!(error(token).is_killed());
    }
}

/// Defect 6: a worker process that died while idle failed the next call with
/// "worker lost", although that call never ran in it.
#[test]
fn a_worker_that_died_while_idle_does_not_fail_the_next_call() {
    let _one = processes();
    with_coordinator(
        builder("died-idle")
            .process_workers(1)
            .prestart_processes(true),
        |coordinator| {
            let [pid] = coordinator.worker_processes()[..] else {
                panic!("one prestarted worker");
            };
            let killed = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .expect("kill runs");
            assert!(killed.success());
            eventually("the idle worker died", || dead(pid));

            let served_by = value(worker_pid());
            assert_ne!(served_by, pid, "a fresh worker served the call");
            let stats = coordinator.stats().processes;
            assert_eq!(stats.lost, 0, "no call was lost");
            assert_eq!(stats.died_idle, 1);
        },
    );
    // Stopped by now: no worker process is left.
    assert_eq!(children(), Vec::<u32>::new());
}
