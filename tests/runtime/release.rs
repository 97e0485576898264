//! What `stop` leaves behind: nothing. The calls it resolves, wherever they
//! waited, free what they captured, and every thread of the coordinator has
//! exited by the time `stop` returns. (That the queues themselves, and the
//! coordinator they refer to, are freed is checked by the `heap` test binary,
//! which counts allocated bytes.)

use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::{Serialize, Serializer};
use tokengate::{OperationsCoordinator, Task, TaskToken, TokenState, task_token_guard};
use tokengate_tests::{Gate, eventually, single_worker, value};

/// Something a call captures; the test keeps a `Weak` to see it freed.
#[derive(Debug, Default)]
struct Captured;

/// What a sticky call captures, left out of its key (serializes as `()`, hashes
/// as nothing), so that the calls of one key share a domain.
struct Unkeyed(Arc<Captured>, Option<Arc<Gate>>);

impl Serialize for Unkeyed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl Hash for Unkeyed {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

#[task_token_guard(op = "release_sticky", sticky_anchor = "release")]
fn sticky(key: u32, captured: Unkeyed) -> u32 {
    let Unkeyed(captured, gate) = captured;
    drop(captured);
    if let Some(gate) = gate {
        assert!(gate.wait(), "the test never opened the gate");
    }
    key
}

/// Occupies the only worker until `gate` opens.
fn block_worker(c: &OperationsCoordinator, gate: &Arc<Gate>) -> TaskToken<()> {
    let g = gate.clone();
    let t = c.run(|| Task::new("blocker").spawn(move || assert!(g.wait())));
    eventually("the blocker runs", || t.state() == TokenState::Executing);
    t
}

/// Stops `c` while a helper thread waits until the stop resolved `tokens`,
/// then opens `gate`; returns the tokens.
fn stop_then_open<T: Send + 'static>(
    c: OperationsCoordinator,
    gate: &Arc<Gate>,
    tokens: Vec<TaskToken<T>>,
) -> Vec<TaskToken<T>> {
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            eventually("stop resolves the queued calls", || {
                tokens.iter().all(TaskToken::is_finished)
            });
            gate.open();
            tokens
        })
    };
    c.stop();
    opener.join().expect("the opener thread")
}

/// `n` calls that each capture a fresh value; returns their tokens and `Weak`s
/// to the values.
fn capturing(n: usize) -> (Vec<TaskToken<()>>, Vec<Weak<Captured>>) {
    (0..n)
        .map(|_| {
            let captured = Arc::new(Captured);
            let weak = Arc::downgrade(&captured);
            let token = Task::new("capturing").spawn(move || drop(captured));
            (token, weak)
        })
        .unzip()
}

/// Stops `c`; once the stop has resolved the queued `tokens`, a helper thread
/// opens `gate`, which lets the running call finish (stop waits for it). Then
/// checks that the queued calls were resolved as shut down and, once their
/// tokens are dropped, freed what they captured.
fn stop_and_check<T: std::fmt::Debug + Send + 'static>(
    c: OperationsCoordinator,
    gate: &Arc<Gate>,
    tokens: Vec<TaskToken<T>>,
    weaks: &[Weak<Captured>],
) {
    let tokens = stop_then_open(c, gate, tokens);
    for token in tokens {
        let err = token.wait().unwrap_err();
        assert!(err.is_shutdown(), "{err}");
    }
    let alive = weaks.iter().filter(|w| w.upgrade().is_some()).count();
    assert_eq!(
        alive, 0,
        "stop kept {alive} captured values of queued calls"
    );
}

#[test]
fn stop_frees_what_calls_queued_in_a_lane_captured() {
    // Behind a blocked worker: the calls wait in their lane.
    let c = single_worker("release-lane")
        .mailbox_capacity(1)
        .start()
        .unwrap();
    let gate = Gate::new();
    let blocker = block_worker(&c, &gate);
    let (tokens, weaks) = c.run(|| capturing(100));
    assert!(tokens.iter().all(|t| t.state() == TokenState::Waiting));
    drop(blocker);
    stop_and_check(c, &gate, tokens, &weaks);

    // Held by a pause: the calls wait in their lane, though no call runs.
    let c = single_worker("release-paused").start().unwrap();
    c.pause_admission();
    let (tokens, weaks) = c.run(|| capturing(100));
    assert!(tokens.iter().all(|t| t.state() == TokenState::Waiting));
    stop_and_check(c, &Gate::new(), tokens, &weaks);
}

#[test]
fn stop_frees_what_calls_queued_in_a_sticky_domain_captured() {
    let c = single_worker("release-sticky").start().unwrap();
    let gate = Gate::new();
    let first_captured = Arc::new(Captured);
    let first_weak = Arc::downgrade(&first_captured);
    let (first, queued, weaks) = c.run(|| {
        let first = sticky(1, Unkeyed(first_captured, Some(gate.clone())));
        let (queued, weaks): (Vec<TaskToken<u32>>, Vec<Weak<Captured>>) = (0..100)
            .map(|_| {
                let captured = Arc::new(Captured);
                let weak = Arc::downgrade(&captured);
                (sticky(1, Unkeyed(captured, None)), weak)
            })
            .unzip();
        (first, queued, weaks)
    });
    eventually("the first member runs", || {
        first.state() == TokenState::Executing
    });
    assert!(queued.iter().all(|t| t.state() == TokenState::Waiting));
    assert_eq!(c.stats().sticky_domains, 1);
    let queued = stop_then_open(c, &gate, queued);
    assert_eq!(value(first), 1, "stop lets the running member finish");
    assert!(first_weak.upgrade().is_none());
    for token in queued {
        assert!(token.wait().unwrap_err().is_shutdown());
    }
    let alive = weaks.iter().filter(|w| w.upgrade().is_some()).count();
    assert_eq!(
        alive, 0,
        "stop kept {alive} captured values of queued members"
    );
}

/// Sets its flag when the worker thread that ran [`slow_exit`] ends: dropped
/// with that thread's locals, after the worker loop returned. It takes its time,
/// so a `stop` that returned without waiting for the thread would be seen.
struct ExitProbe(Arc<AtomicBool>);

impl Drop for ExitProbe {
    fn drop(&mut self) {
        std::thread::sleep(Duration::from_millis(300));
        self.0.store(true, Ordering::SeqCst);
    }
}

thread_local! {
    static EXIT_PROBE: RefCell<Option<ExitProbe>> = const { RefCell::new(None) };
}

/// Names of this process's threads that start with `prefix`.
fn threads_named(prefix: &str) -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task lists this process's threads")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .filter(|name| name.starts_with(prefix))
        .collect()
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "lists threads through /proc")]
fn every_thread_of_a_coordinator_has_exited_when_stop_returns() {
    // The kernel keeps 15 bytes of a thread's name: "tg-q7x-worker-1",
    // "tg-q7x-timer" and "tg-q7x-admit" fit, and no other test's threads start
    // with "tg-q7x".
    let prefix = "tg-q7x";
    let c = tokengate_tests::builder("q7x")
        .core_groups(1)
        .workers_per_core(2)
        .start()
        .unwrap();
    // A thread names itself once it runs.
    eventually("the coordinator's threads are listed by name", || {
        let mut names = threads_named(prefix);
        names.sort();
        names
            == [
                "tg-q7x-admit",
                "tg-q7x-timer",
                "tg-q7x-worker-0",
                "tg-q7x-worker-1",
            ]
    });
    // Every worker thread gets a probe that holds up its exit.
    let exited: Vec<Arc<AtomicBool>> = (0..2).map(|_| Arc::default()).collect();
    let gate = Gate::new();
    let tokens: Vec<TaskToken<()>> = c.run(|| {
        exited
            .iter()
            .map(|flag| {
                let (flag, gate) = (flag.clone(), gate.clone());
                Task::new("slow_exit").spawn(move || {
                    EXIT_PROBE.with(|p| *p.borrow_mut() = Some(ExitProbe(flag)));
                    // Both calls hold on until both run: one on each worker.
                    assert!(gate.wait(), "the test never opened the gate");
                })
            })
            .collect()
    });
    eventually("both workers run a probe call", || {
        tokens.iter().all(|t| t.state() == TokenState::Executing)
    });
    gate.open();
    tokens.into_iter().for_each(value);
    c.stop();
    assert!(
        exited.iter().all(|flag| flag.load(Ordering::SeqCst)),
        "stop returned before a worker thread finished exiting"
    );
    assert_eq!(
        threads_named(prefix),
        Vec::<String>::new(),
        "threads still running after stop"
    );
}
