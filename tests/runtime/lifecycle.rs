//! Starting, stopping and panics: stop resolves every token, running calls get
//! the stop timeout, a panic costs only its own call.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use tokengate::{OperationsCoordinator, Task, TaskToken, TokenState, task_token_guard};
use tokengate_tests::{
    EXPECTED_PANIC, ExpectedPanic, Gate, PATIENCE, builder, error, eventually,
    quiet_expected_panics, single_worker, value, with_coordinator,
};

fn flagged(op: &'static str, runs: &Arc<AtomicUsize>) -> TaskToken<()> {
    let runs = runs.clone();
    Task::new(op).spawn(move || {
        runs.fetch_add(1, Ordering::SeqCst);
    })
}

#[test]
fn stop_resolves_queued_calls_as_shutdown_and_lets_running_ones_finish() {
    // One running; two in the mailbox; held by an op pause; in the lane; and
    // deferred by `admit` because the lane (6 slots) is full.
    let c = single_worker("stop-queued")
        .mailbox_capacity(3)
        .lane_capacity(6)
        .start()
        .unwrap();
    let gate = Gate::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let (running, mut queued, in_line) = c.run(|| {
        let g = gate.clone();
        let running = Task::new("running").spawn(move || {
            assert!(g.wait());
            42u32
        });
        eventually("the call runs", || running.state() == TokenState::Executing);
        c.pause_operation("held");
        let mut queued: Vec<TaskToken<()>> = (0..2).map(|_| flagged("held", &runs)).collect();
        queued.extend((0..6).map(|_| flagged("queued", &runs)));
        let in_line: Vec<_> = (0..3).map(|_| flagged("in_line", &runs)).collect();
        (running, queued, in_line)
    });
    assert_eq!(queued[2].state(), TokenState::Admitted);
    assert_eq!(queued[7].state(), TokenState::Waiting);
    assert_eq!(c.stats().tokens.waiting, 2 + 4 + 3);
    queued.extend(in_line);

    let stopper = std::thread::spawn(move || c.stop());
    // Every queued call resolves as shut down while the running one still runs.
    for t in queued {
        let err = error(t);
        assert!(err.is_shutdown(), "{err}");
        assert!(err.to_string().contains("stopped"), "{err}");
    }
    assert!(!running.is_finished());
    gate.open();
    assert_eq!(
        value(running),
        42,
        "a running call may finish within the stop timeout"
    );
    stopper.join().unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "a queued call ran after stop"
    );
}

#[test]
fn a_call_running_past_the_stop_timeout_resolves_as_shutdown() {
    let c = single_worker("stop-timeout")
        .stop_timeout(Duration::from_millis(100))
        .start()
        .unwrap();
    let started = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let s = started.clone();
    let t = c.run(|| {
        Task::new("stubborn").spawn(move || {
            s.store(true, Ordering::SeqCst);
            let deadline = Instant::now() + PATIENCE;
            while !tokengate::is_cancelled() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            // Its coordinator has stopped: a call made now fails as shut down.
            let nested = Task::new("late").spawn(|| 1).wait();
            tx.send((
                tokengate::is_cancelled(),
                nested.map_err(|e| e.is_shutdown()),
            ))
            .unwrap();
            7u32
        })
    });
    eventually("the call runs", || started.load(Ordering::SeqCst));
    c.stop();
    // `stop` resolved it before returning.
    assert!(t.is_finished());
    let err = error(t);
    assert!(err.is_shutdown(), "{err}");
    let (saw_cancel, nested) = rx.recv_timeout(PATIENCE).expect("the body returns");
    assert!(
        saw_cancel,
        "the body learns of the shutdown through is_cancelled()"
    );
    assert_eq!(
        nested,
        Err(true),
        "a call made after stop fails as shut down"
    );
}

#[test]
fn stop_releases_a_thread_dropping_a_call_in_line() {
    let c = single_worker("stop-dropper")
        .mailbox_capacity(1)
        .lane_capacity(1)
        .start()
        .unwrap();
    let gate = Gate::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let g = gate.clone();
    let blocker = c.run(|| Task::new("blocker").spawn(move || assert!(g.wait())));
    eventually("the blocker runs", || {
        blocker.state() == TokenState::Executing
    });
    let queued = c.run(|| flagged("queued", &runs));

    // A thread makes a call, which waits in line (the lane is full), and
    // drops its token: the drop waits until the call enters its lane, which
    // cannot happen while the worker is blocked.
    let in_line = c.run(|| flagged("in_line", &runs));
    assert_eq!(c.stats().lane(tokengate::Weight::Medium).in_line, 1);
    let dropper = std::thread::spawn(move || drop(in_line));
    // Stopping resolves the call in line, which releases the dropping thread.
    let stopper = std::thread::spawn(move || c.stop());
    dropper.join().unwrap();
    assert!(error(queued).is_shutdown());
    assert!(!blocker.is_finished());
    gate.open();
    value(blocker);
    stopper.join().unwrap();
    assert_eq!(
        runs.load(Ordering::SeqCst),
        0,
        "a queued call ran after stop"
    );
}

#[test]
fn dropping_the_coordinator_stops_it() {
    let c = single_worker("drop").start().unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    c.pause_admission();
    let tokens: Vec<TaskToken<()>> = c.run(|| (0..3).map(|_| flagged("dropped", &runs)).collect());
    drop(c);
    for t in tokens {
        assert!(error(t).is_shutdown());
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[test]
fn a_guarded_call_may_stop_its_own_coordinator() {
    let c = builder("self-stop")
        .core_groups(1)
        .workers_per_core(2)
        .start()
        .unwrap();
    let slot: Arc<Mutex<Option<OperationsCoordinator>>> = Arc::default();
    let gate = Gate::new();
    let (s, g) = (slot.clone(), gate.clone());
    let (tx, rx) = mpsc::channel();
    let t = c.run(|| {
        Task::new("stopper").spawn(move || {
            assert!(g.wait());
            let own = s.lock().unwrap().take().expect("the coordinator");
            own.stop();
            tx.send(()).unwrap();
            5u32
        })
    });
    *slot.lock().unwrap() = Some(c);
    gate.open();
    rx.recv_timeout(PATIENCE)
        .expect("stop returns inside a guarded call");
    // Stopped while running: like any call still running at the end of a stop.
    let err = error(t);
    assert!(err.is_shutdown(), "{err}");
}

#[task_token_guard(op = "explode")]
fn explode(n: u32) -> u32 {
    if n % 2 == 0 {
        panic!("{EXPECTED_PANIC}: boom {n}");
    }
    n
}

#[test]
fn a_panicking_call_fails_alone_and_the_worker_lives_on() {
    quiet_expected_panics();
    with_coordinator(single_worker("panic"), |c| {
        for n in 0..20 {
            let mut t = explode(n);
            let result = tokengate_tests::settle(&mut t);
            if n % 2 == 0 {
                let err = result.unwrap_err();
                assert!(err.is_panic(), "{err}");
                assert_eq!(
                    err.panic_message(),
                    Some(format!("{EXPECTED_PANIC}: boom {n}").as_str())
                );
                assert!(err.to_string().contains("panicked"), "{err}");
                assert_eq!(t.state(), TokenState::Failed);
            } else {
                assert_eq!(result.unwrap(), n);
            }
        }
        let err = error(Task::new("any").spawn(|| -> u8 { std::panic::panic_any(ExpectedPanic) }));
        assert_eq!(err.panic_message(), Some("<non-string panic payload>"));
        assert_eq!(err.op(), "any");
        // The same single worker keeps serving calls.
        assert_eq!(value(Task::new("after").spawn(|| 9)), 9);
        let s = c.stats();
        assert_eq!((s.tokens.failed, s.tokens.completed), (11, 11));
        // A worker counts a call as run just after the call's token resolves.
        eventually("the worker counts all 22 calls", || {
            c.stats().workers[0].ran == 22
        });
    });
}

#[test]
fn builder_rejects_zero_settings() {
    type Setter = fn(tokengate::CoordinatorBuilder) -> tokengate::CoordinatorBuilder;
    let cases: [(&str, Setter); 4] = [
        ("core_groups", |b| b.core_groups(0)),
        ("workers_per_core", |b| b.workers_per_core(0)),
        ("lane_capacity", |b| b.lane_capacity(0)),
        ("mailbox_capacity", |b| b.mailbox_capacity(0)),
    ];
    for (name, set) in cases {
        let err = set(builder("zero")).start().unwrap_err();
        assert!(err.to_string().contains(name), "{name}: {err}");
    }
    with_coordinator(builder("sizes").core_groups(3).workers_per_core(2), |c| {
        assert_eq!((c.core_groups(), c.worker_count()), (3, 6));
        assert_eq!(c.stats().workers.len(), 6);
    });
}
