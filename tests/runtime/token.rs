//! `TaskToken`: waiting, awaiting, identity, state, timings, auto traits,
//! detaching, and the guarantee that every token ends in exactly one terminal state.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokengate::{
    OperationsCoordinator, Task, TaskError, TaskToken, TokenState, Weight, stats::Stats,
    task_token_guard,
};
use tokengate_tests::{
    EXPECTED_PANIC, Gate, PATIENCE, block_on, builder, error, eventually, quiet_expected_panics,
    settle, single_worker, value, with_coordinator,
};

#[task_token_guard(op = "square", weight = "light")]
fn square(x: u64) -> u64 {
    x * x
}

#[task_token_guard]
fn plain_default() -> u8 {
    1
}

#[task_token_guard(op = "gated", weight = "heavy", timeout = "1h")]
fn gated(gate: Arc<Gate>, v: u32) -> u32 {
    assert!(gate.wait(), "gate never opened");
    v
}

/// Loops until its call is cancelled (or PATIENCE passes); counts its exit.
fn until_cancelled(exits: Arc<AtomicUsize>) -> u32 {
    let deadline = Instant::now() + PATIENCE;
    while !tokengate::is_cancelled() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    exits.fetch_add(1, Ordering::SeqCst);
    7
}

#[test]
fn token_is_a_future_and_can_be_waited_on() {
    with_coordinator(builder("future").core_groups(1).workers_per_core(2), |_| {
        assert_eq!(square(7).wait().unwrap(), 49);
        assert_eq!(block_on(square(8)).unwrap(), 64);
        let all = block_on(futures::future::join_all((0..50).map(square)));
        for (i, r) in all.into_iter().enumerate() {
            assert_eq!(r.unwrap(), (i * i) as u64);
        }
        // A token awaited from a task of a multi-threaded runtime.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_time()
            .build()
            .unwrap();
        let token = square(9);
        let joined = rt.block_on(async move {
            let handle = tokio::spawn(token);
            tokio::time::timeout(PATIENCE, handle).await
        });
        assert_eq!(joined.expect("awaited in time").unwrap().unwrap(), 81);
    });
}

#[test]
fn wait_timeout_is_none_while_running_then_some() {
    with_coordinator(single_worker("wait-timeout"), |_| {
        let gate = Gate::new();
        let mut token = gated(gate.clone(), 5);
        eventually("the gated call runs", || {
            token.state() == TokenState::Executing
        });
        assert!(token.wait_timeout(Duration::from_millis(20)).is_none());
        assert!(token.wait_timeout(Duration::ZERO).is_none());
        // Still running, and still waitable.
        assert_eq!(token.state(), TokenState::Executing);
        assert!(!token.is_finished());
        gate.open();
        let result = token
            .wait_timeout(PATIENCE)
            .expect("resolves once the gate opens");
        assert_eq!(result.unwrap(), 5);
        assert!(token.is_finished());
        assert_eq!(token.state(), TokenState::Completed);
    });
}

#[test]
fn awaiting_is_cancel_safe() {
    with_coordinator(single_worker("cancel-safe"), |_| {
        let gate = Gate::new();
        let mut token = gated(gate.clone(), 11);
        let result = block_on(async {
            // The gate is closed, so this await cannot finish: it times out and is
            // dropped mid-await; the call keeps running.
            let first = tokio::time::timeout(Duration::from_millis(20), &mut token).await;
            assert!(
                first.is_err(),
                "the call cannot have finished: its gate is closed"
            );
            assert!(!token.is_finished());
            gate.open();
            (&mut token).await
        });
        assert_eq!(result.unwrap(), 11);
    });
}

#[test]
fn ids_are_unique_across_threads_and_never_zero() {
    with_coordinator(builder("ids").core_groups(1).workers_per_core(2), |c| {
        const THREADS: usize = 4;
        const PER_THREAD: usize = 3_000;
        let ids: Vec<u64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        c.run(|| {
                            let tokens: Vec<TaskToken<()>> = (0..PER_THREAD)
                                .map(|_| Task::new("id").spawn(|| ()))
                                .collect();
                            let ids: Vec<u64> = tokens.iter().map(|t| t.id().as_u64()).collect();
                            for t in tokens {
                                value(t);
                            }
                            ids
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        assert_eq!(ids.len(), THREADS * PER_THREAD);
        assert!(!ids.contains(&0), "0 is not a valid id");
        let unique: HashSet<u64> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "token ids repeat");

        // An error names the id of its token.
        quiet_expected_panics();
        let token = Task::new("id").spawn(|| -> u8 { panic!("{EXPECTED_PANIC}: id") });
        let id = token.id();
        assert!(!unique.contains(&id.as_u64()));
        let err = error(token);
        assert_eq!(err.token_id(), id);
        assert_eq!(err.op(), "id");
    });
}

#[test]
fn op_weight_and_state_are_reported() {
    with_coordinator(single_worker("op-weight").mailbox_capacity(2), |_| {
        let t = square(3);
        assert_eq!((t.op(), t.weight()), ("square", Weight::Light));
        assert_eq!(value(t), 9);
        let t = plain_default();
        assert_eq!((t.op(), t.weight()), ("plain_default", Weight::Medium));
        value(t);
        let t = Task::new("task-heavy").weight(Weight::Heavy).spawn(|| 1);
        assert_eq!((t.op(), t.weight()), ("task-heavy", Weight::Heavy));
        value(t);
        let t = tokengate::spawn("spawn", || 2);
        assert_eq!((t.op(), t.weight()), ("spawn", Weight::Medium));
        value(t);

        // One running, one in the worker's mailbox, one in its lane.
        let gate = Gate::new();
        let running = gated(gate.clone(), 1);
        eventually("the first call runs", || {
            running.state() == TokenState::Executing
        });
        let admitted = gated(gate.clone(), 2);
        assert_eq!(admitted.state(), TokenState::Admitted);
        let waiting = gated(gate.clone(), 3);
        assert_eq!(waiting.state(), TokenState::Waiting);
        for t in [&running, &admitted, &waiting] {
            assert!(!t.is_finished());
            assert!(!t.state().is_terminal());
            assert_eq!((t.op(), t.weight()), ("gated", Weight::Heavy));
        }
        let debug = format!("{waiting:?}");
        assert!(
            debug.contains("gated") && debug.contains("Waiting"),
            "{debug}"
        );
        gate.open();
        let mut all = [running, admitted, waiting];
        for (i, t) in all.iter_mut().enumerate() {
            assert_eq!(settle(t).unwrap(), i as u32 + 1);
            assert_eq!(t.state(), TokenState::Completed);
            assert!(t.is_finished());
        }
    });
}

#[test]
fn timings_are_ordered_and_spans_appear_when_finished() {
    with_coordinator(single_worker("timings").mailbox_capacity(1), |_| {
        let gate = Gate::new();
        let g2 = gate.clone();
        let mut running = Task::new("timed").spawn(move || {
            assert!(g2.wait());
            std::thread::sleep(Duration::from_millis(20));
        });
        eventually("the call runs", || running.state() == TokenState::Executing);
        // Queued behind it, in the lane (the mailbox holds one call).
        let mut queued = Task::new("timed").spawn(|| ());
        assert_eq!(queued.state(), TokenState::Waiting);
        let mut killed = Task::new("timed").spawn(|| ());

        assert!(running.started_at().is_some());
        assert!(running.queue_wait().is_some());
        assert!(running.finished_at().is_none());
        assert!(running.run_time().is_none());
        assert!(queued.admitted_at().is_none());
        assert!(queued.started_at().is_none());
        assert!(queued.queue_wait().is_none());

        assert!(killed.kill());
        assert!(settle(&mut killed).unwrap_err().is_killed());
        assert!(killed.admitted_at().is_none());
        assert!(killed.started_at().is_none());
        assert!(killed.finished_at().is_some());
        assert!(killed.created_at() <= killed.finished_at().unwrap());
        assert!(killed.queue_wait().is_none());
        assert!(killed.run_time().is_none());

        gate.open();
        settle(&mut running).unwrap();
        settle(&mut queued).unwrap();
        for t in [&running, &queued] {
            let created = t.created_at();
            let admitted = t.admitted_at().expect("admitted");
            let started = t.started_at().expect("started");
            let finished = t.finished_at().expect("finished");
            assert!(
                created <= admitted,
                "created {created:?} > admitted {admitted:?}"
            );
            assert!(
                admitted <= started,
                "admitted {admitted:?} > started {started:?}"
            );
            assert!(
                started <= finished,
                "started {started:?} > finished {finished:?}"
            );
            assert_eq!(t.queue_wait(), Some(started - created));
            assert_eq!(t.run_time(), Some(finished - started));
        }
        // The body slept 20 ms: its run time cannot be shorter.
        assert!(running.run_time().unwrap() >= Duration::from_millis(20));
        // The queued call started after the first one finished.
        assert!(queued.started_at().unwrap() >= running.finished_at().unwrap());
    });
}

#[test]
fn handles_are_send_sync_unpin() {
    fn send_sync_unpin<T: Send + Sync + Unpin + 'static>() {}
    fn send_sync<T: Send + Sync + 'static>() {}
    fn future<F: Future<Output = Result<u32, TaskError>> + Send + Unpin>() {}
    fn error<E: std::error::Error + Send + Sync + Clone + 'static>() {}
    send_sync_unpin::<TaskToken<u32>>();
    send_sync_unpin::<TaskToken<Vec<String>>>();
    future::<TaskToken<u32>>();
    error::<TaskError>();
    error::<tokengate::Cancelled>();
    send_sync::<OperationsCoordinator>();
    send_sync::<Stats>();
    send_sync::<Task>();
    send_sync::<tokengate::WorkerInfo>();
}

#[test]
fn dropping_a_token_detaches_the_call() {
    with_coordinator(builder("detach").core_groups(1).workers_per_core(2), |c| {
        let ran = Arc::new(AtomicUsize::new(0));
        let gate = Gate::new();
        for _ in 0..100 {
            let (ran, gate) = (ran.clone(), gate.clone());
            drop(Task::new("detached").spawn(move || {
                assert!(gate.wait());
                ran.fetch_add(1, Ordering::SeqCst);
            }));
        }
        assert_eq!(
            ran.load(Ordering::SeqCst),
            0,
            "gate closed: nothing can have finished"
        );
        gate.open();
        eventually("all 100 detached calls ran", || {
            ran.load(Ordering::SeqCst) == 100
        });
        eventually("stats count them completed", || {
            c.stats().tokens.completed == 100
        });
        eventually("no live token remains", || c.live_tokens() == 0);
        assert_eq!(ran.load(Ordering::SeqCst), 100, "no call ran twice");
    });
}

#[test]
fn every_path_ends_in_exactly_one_terminal_state() {
    quiet_expected_panics();
    with_coordinator(single_worker("terminal").mailbox_capacity(2), |c| {
        let exits = Arc::new(AtomicUsize::new(0));
        let never_ran: Vec<Arc<AtomicBool>> = (0..3).map(|_| Arc::default()).collect();
        let flag_call = |flag: &Arc<AtomicBool>, task: Task| {
            let flag = flag.clone();
            task.spawn(move || flag.store(true, Ordering::SeqCst))
        };

        // Executing → Completed, with a mailbox call (Admitted) and two lane calls
        // (Waiting) behind it.
        let gate = Gate::new();
        let g = gate.clone();
        let mut blocker = Task::new("path").spawn(move || assert!(g.wait()));
        eventually("the blocker runs", || {
            blocker.state() == TokenState::Executing
        });
        let admitted = flag_call(&never_ran[0], Task::new("path"));
        let waiting = flag_call(&never_ran[1], Task::new("path"));
        let mut queued_timeout = flag_call(
            &never_ran[2],
            Task::new("path").timeout(Duration::from_millis(30)),
        );
        assert_eq!(admitted.state(), TokenState::Admitted);
        assert_eq!(waiting.state(), TokenState::Waiting);

        // Admitted → Killed, Waiting → Killed, Waiting → TimedOut.
        assert!(admitted.kill());
        assert!(waiting.kill());
        assert!(settle(&mut queued_timeout).unwrap_err().is_timeout());
        assert!(
            !blocker.is_finished(),
            "the blocker still holds the only worker"
        );
        gate.open();
        settle(&mut blocker).unwrap();

        // Executing → Killed, Executing → TimedOut, Executing → Failed, Completed.
        let e = exits.clone();
        let running_killed = Task::new("path").spawn(move || {
            until_cancelled(e);
        });
        eventually("it runs", || {
            running_killed.state() == TokenState::Executing
        });
        assert!(running_killed.kill());
        eventually("the killed body returns", || {
            exits.load(Ordering::SeqCst) == 1
        });
        // The worker is idle now, so this call normally starts long before its
        // timeout; on a machine too slow for that it times out while queued (a
        // path checked above), and another call is made, until one times out
        // while it runs.
        let mut timeout_attempts = 0u64;
        let running_timeout = loop {
            timeout_attempts += 1;
            assert!(
                timeout_attempts <= 10,
                "none of 10 calls started before its 300 ms timeout"
            );
            let e = exits.clone();
            let started = Arc::new(AtomicBool::new(false));
            let s = started.clone();
            let mut token =
                Task::new("path")
                    .timeout(Duration::from_millis(300))
                    .spawn(move || {
                        s.store(true, Ordering::SeqCst);
                        until_cancelled(e);
                    });
            assert!(settle(&mut token).unwrap_err().is_timeout());
            // The body notices and returns, or never started.
            eventually("the call lets go of its closure", || {
                Arc::strong_count(&started) == 1
            });
            if started.load(Ordering::SeqCst) {
                break token;
            }
        };
        let mut failed = Task::new("path").spawn(|| -> u8 { panic!("{EXPECTED_PANIC}: path") });
        let completed = Task::new("path").spawn(|| ());

        // (token, expected terminal state, was its result already taken above?)
        let mut tokens: Vec<(TaskToken<()>, TokenState, bool)> = vec![
            (blocker, TokenState::Completed, true),
            (admitted, TokenState::Killed, false),
            (waiting, TokenState::Killed, false),
            (queued_timeout, TokenState::TimedOut, true),
            (running_killed, TokenState::Killed, false),
            (running_timeout, TokenState::TimedOut, true),
            (completed, TokenState::Completed, false),
        ];
        assert!(settle(&mut failed).unwrap_err().is_panic());
        assert_eq!(failed.state(), TokenState::Failed);
        for (token, expected, taken) in tokens.iter_mut() {
            if !*taken {
                let result = settle(token);
                match *expected {
                    TokenState::Completed => assert!(result.is_ok()),
                    TokenState::Killed => assert!(result.unwrap_err().is_killed()),
                    TokenState::TimedOut => assert!(result.unwrap_err().is_timeout()),
                    other => panic!("unexpected {other}"),
                }
            }
            assert_eq!(token.state(), *expected, "token {}", token.id());
            assert!(token.state().is_terminal());
        }
        // The killed and timed-out bodies noticed and returned; their late results
        // changed nothing.
        assert_eq!(exits.load(Ordering::SeqCst), 2);
        assert_eq!(failed.state(), TokenState::Failed);
        assert!(!failed.kill());
        for (token, expected, _) in &tokens {
            assert_eq!(token.state(), *expected);
            assert!(!token.kill(), "a finished token cannot be killed again");
            assert!(token.finished_at().is_some());
        }
        for flag in &never_ran {
            assert!(
                !flag.load(Ordering::SeqCst),
                "a killed or timed-out queued call ran"
            );
        }
        // Each timeout attempt is one more timed-out call.
        let s = c.stats().tokens;
        assert_eq!(s.submitted, 7 + timeout_attempts);
        assert_eq!(
            (s.completed, s.failed, s.killed, s.timed_out),
            (2, 1, 3, 1 + timeout_attempts),
            "each token counted once, in its terminal state: {s:?}"
        );
        assert_eq!(s.in_flight(), 0);
        assert_eq!((s.waiting, s.admitted, s.executing), (0, 0, 0));
    });
}
