//! Storage tiers (`storage_speed`): IO calls run on IO threads, never on CPU
//! workers, at most `cap` of a tier at once; caps can change at run time
//! without losing or doubling a permit; admin actions (pause, kill, drain,
//! timeout) reach IO calls too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokengate::{
    OperationsCoordinator, StorageSpeed, TaskToken, TokenId, TokenState, WorkerInfo,
    current_token_id, current_worker, task_token_guard,
};
use tokengate_tests::{
    Gate, Log, PATIENCE, builder, error, eventually, single_worker, value, with_coordinator,
};

/// What the IO bodies of one test saw.
#[derive(Debug)]
struct Tracker {
    /// Bodies inside now, and the most ever.
    active: AtomicUsize,
    max: AtomicUsize,
    started: AtomicUsize,
    finished: AtomicUsize,
    /// Set by the test: bodies that start from now on log how many bodies
    /// were inside with them.
    watch: AtomicBool,
    /// For each body started while `watch` was set: bodies inside, itself included.
    watched: Arc<Log<usize>>,
    /// Ids of the calls whose bodies ran.
    ran: Arc<Log<u64>>,
}

impl Tracker {
    fn new() -> Arc<Tracker> {
        Arc::new(Tracker {
            active: AtomicUsize::new(0),
            max: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            watch: AtomicBool::new(false),
            watched: Log::new(),
            ran: Log::new(),
        })
    }

    /// Enters the region; returns how many bodies are inside, this one included.
    fn enter(&self) -> usize {
        self.started.fetch_add(1, Ordering::SeqCst);
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        if self.watch.load(Ordering::SeqCst) {
            self.watched.push(now);
        }
        self.ran
            .push(current_token_id().expect("inside a guarded call").as_u64());
        now
    }

    fn leave(&self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
        self.finished.fetch_add(1, Ordering::SeqCst);
    }

    fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }

    fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

/// Where an IO body ran: the worker it saw (`None` on an IO thread) and the
/// token id it saw.
type Place = (Option<WorkerInfo>, Option<TokenId>);

/// The body every IO fn below runs: enter, wait for the gate, sleep, leave.
fn io_body(t: &Tracker, gate: &Gate, sleep: Duration) -> Place {
    let place = (current_worker(), current_token_id());
    t.enter();
    assert!(gate.wait(), "the test never opened the gate");
    if !sleep.is_zero() {
        std::thread::sleep(sleep);
    }
    t.leave();
    place
}

#[task_token_guard(op = "slow_io", storage_speed = "SLOW")]
fn slow_io(t: Arc<Tracker>, gate: Arc<Gate>, sleep: Duration) -> Place {
    io_body(&t, &gate, sleep)
}

#[task_token_guard(op = "moderate_io", storage_speed = "MODERATE")]
fn moderate_io(t: Arc<Tracker>, gate: Arc<Gate>, sleep: Duration) -> Place {
    io_body(&t, &gate, sleep)
}

#[task_token_guard(op = "fast_io", storage_speed = "FAST")]
fn fast_io(t: Arc<Tracker>, gate: Arc<Gate>, sleep: Duration) -> Place {
    io_body(&t, &gate, sleep)
}

#[task_token_guard(op = "insane_io", storage_speed = "INSANE")]
fn insane_io(t: Arc<Tracker>, gate: Arc<Gate>, sleep: Duration) -> Place {
    io_body(&t, &gate, sleep)
}

/// Stays inside until both trackers saw their target of bodies inside at once
/// (or `patience` passes), then leaves: FAST and INSANE calls must then run
/// side by side, 50 + 70 of them.
#[task_token_guard(op = "fast_hold", storage_speed = "FAST")]
fn fast_hold(mine: Arc<Tracker>, targets: Arc<[(Arc<Tracker>, usize); 2]>) -> Place {
    hold_body(&mine, &targets)
}

#[task_token_guard(op = "insane_hold", storage_speed = "INSANE")]
fn insane_hold(mine: Arc<Tracker>, targets: Arc<[(Arc<Tracker>, usize); 2]>) -> Place {
    hold_body(&mine, &targets)
}

fn hold_body(mine: &Tracker, targets: &[(Arc<Tracker>, usize); 2]) -> Place {
    let place = (current_worker(), current_token_id());
    mine.enter();
    // Generous, yet short enough that a cap that never binds fails the test in
    // seconds rather than after `PATIENCE`.
    let deadline = Instant::now() + Duration::from_secs(5);
    while targets.iter().any(|(t, target)| t.max() < *target) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    // Long enough for a call past the cap to show up in `max`, if one starts.
    std::thread::sleep(Duration::from_millis(1));
    mine.leave();
    place
}

#[task_token_guard(op = "cpu_call", weight = "light")]
fn cpu_call(x: u64) -> (u64, Option<WorkerInfo>) {
    (x * 2, current_worker())
}

fn open() -> Arc<Gate> {
    let gate = Gate::new();
    gate.open();
    gate
}

/// Waits for an IO call; asserts that it completed, on an IO thread.
#[track_caller]
fn done(token: TaskToken<Place>) {
    let id = token.id();
    assert_on_io_thread(id, value(token));
}

/// Asserts that an IO call's body ran on an IO thread, under its own token id.
#[track_caller]
fn assert_on_io_thread(id: TokenId, place: Place) {
    let (worker, seen) = place;
    assert_eq!(worker, None, "IO call {id} ran on a CPU worker");
    assert_eq!(seen, Some(id), "IO call {id} saw another token id");
}

#[test]
fn slow_tier_caps_a_flood_at_ten_while_cpu_calls_keep_running() {
    with_coordinator(
        builder("io-slow-flood").core_groups(1).workers_per_core(2),
        |c| {
            assert_eq!(c.storage_cap(StorageSpeed::Slow), 10);
            let t = Tracker::new();
            let gate = Gate::new();
            let flood: Vec<TaskToken<Place>> = (0..200)
                .map(|_| slow_io(t.clone(), gate.clone(), Duration::from_millis(20)))
                .collect();

            // Ten bodies run (held on the gate), the rest wait for their turn.
            eventually("ten IO calls run", || t.started() == 10);
            let s = c.stats();
            let slow = s.storage(StorageSpeed::Slow);
            assert_eq!((slow.cap, slow.running, slow.waiting), (10, 10, 190), "{s}");
            assert!(
                s.io_threads >= 10,
                "{} IO threads for 10 calls",
                s.io_threads
            );
            assert!(
                s.workers.iter().all(|w| !w.busy),
                "an IO call holds a worker"
            );

            // CPU calls run and finish while the whole IO flood is still queued or held.
            let cpu: Vec<_> = (0..50).map(cpu_call).collect();
            for (x, token) in cpu.into_iter().enumerate() {
                let (doubled, worker) = value(token);
                assert_eq!(doubled, x as u64 * 2);
                assert!(worker.is_some(), "a CPU call ran off the CPU workers");
            }
            assert_eq!(t.finished(), 0, "the IO flood finished before CPU calls");
            assert_eq!(t.started(), 10, "the cap let more IO calls in");

            gate.open();
            for token in flood {
                let id = token.id();
                assert_on_io_thread(id, value(token));
            }
            assert_eq!((t.started(), t.finished()), (200, 200));
            assert_eq!(t.max(), 10, "more than the SLOW cap ran at once");
            eventually("the tier counts no running call", || {
                c.stats().storage(StorageSpeed::Slow).running == 0
            });
            let s = c.stats();
            let slow = s.storage(StorageSpeed::Slow);
            assert_eq!(
                (slow.speed, slow.running, slow.high_water, slow.waiting),
                (StorageSpeed::Slow, 0, 10, 0)
            );
            assert_eq!(s.tokens.completed, 250);
            // CPU workers ran exactly the 50 CPU calls, none of the 200 IO calls.
            eventually("workers counted the CPU calls", || {
                c.stats().workers.iter().map(|w| w.ran).sum::<u64>() >= 50
            });
            assert_eq!(c.stats().workers.iter().map(|w| w.ran).sum::<u64>(), 50);
            // Other tiers saw nothing.
            for tier in s.storage.iter().filter(|t| t.speed != StorageSpeed::Slow) {
                assert_eq!((tier.running, tier.high_water, tier.waiting), (0, 0, 0));
                assert_eq!(tier.cap, tier.speed.default_cap());
            }
        },
    );
}

#[test]
fn default_caps_and_builder_caps_are_reported() {
    with_coordinator(
        builder("io-caps").storage_cap(StorageSpeed::Moderate, 3),
        |c| {
            let caps: Vec<(StorageSpeed, usize)> =
                c.stats().storage.iter().map(|t| (t.speed, t.cap)).collect();
            assert_eq!(
                caps,
                [
                    (StorageSpeed::Slow, 10),
                    (StorageSpeed::Moderate, 3),
                    (StorageSpeed::Fast, 50),
                    (StorageSpeed::Insane, 70),
                ]
            );
            assert_eq!(c.storage_cap(StorageSpeed::Moderate), 3);
            c.set_storage_cap(StorageSpeed::Insane, 100);
            assert_eq!(c.storage_cap(StorageSpeed::Insane), 100);
            assert_eq!(c.stats().storage(StorageSpeed::Insane).cap, 100);
            let defaults: Vec<usize> = StorageSpeed::ALL.iter().map(|s| s.default_cap()).collect();
            assert_eq!(defaults, [10, 25, 50, 70]);
            for speed in StorageSpeed::ALL {
                assert_eq!(speed.to_string().parse::<StorageSpeed>(), Ok(speed));
                assert_eq!(
                    speed.as_str().to_lowercase().parse::<StorageSpeed>(),
                    Ok(speed)
                );
            }
            let err = "WARP".parse::<StorageSpeed>().unwrap_err().to_string();
            assert!(err.contains("WARP"), "{err}");
        },
    );
}

#[test]
fn changing_a_cap_at_run_time_loses_and_doubles_no_permit() {
    with_coordinator(
        builder("io-cap-change").storage_cap(StorageSpeed::Moderate, 2),
        |c| {
            let moderate =
                |c: &OperationsCoordinator| c.stats().storage(StorageSpeed::Moderate).clone();
            let t = Tracker::new();
            let gate = Gate::new();
            let tokens: Vec<TaskToken<Place>> = (0..20)
                .map(|_| moderate_io(t.clone(), gate.clone(), Duration::from_millis(2)))
                .collect();

            // Cap 2: two run, eighteen wait, and it stays so.
            eventually("two calls run", || {
                t.started() == 2 && moderate(c).running == 2
            });
            std::thread::sleep(Duration::from_millis(30));
            assert_eq!(t.started(), 2, "the cap of 2 let more calls in");
            let m = moderate(c);
            assert_eq!((m.cap, m.running, m.waiting), (2, 2, 18));

            // Raised to 5: three more start at once.
            c.set_storage_cap(StorageSpeed::Moderate, 5);
            assert_eq!(c.storage_cap(StorageSpeed::Moderate), 5);
            eventually("five calls run", || {
                t.started() == 5 && moderate(c).running == 5
            });
            std::thread::sleep(Duration::from_millis(30));
            assert_eq!(t.started(), 5, "the cap of 5 let more calls in");
            let m = moderate(c);
            assert_eq!((m.cap, m.running, m.high_water, m.waiting), (5, 5, 5, 15));

            // Lowered to 1: running calls keep their turn; new ones start one at a time.
            c.set_storage_cap(StorageSpeed::Moderate, 1);
            let m = moderate(c);
            assert_eq!((m.cap, m.running, m.waiting), (1, 5, 15));
            t.watch.store(true, Ordering::SeqCst);
            gate.open();
            for token in tokens {
                let id = token.id();
                assert_on_io_thread(id, value(token));
            }
            let watched = t.watched.items();
            assert_eq!(watched.len(), 15, "calls started after the cap was lowered");
            assert!(
                watched.iter().all(|&inside| inside == 1),
                "calls started after lowering the cap to 1 ran alongside others: {watched:?}"
            );
            assert_eq!(t.max(), 5);
            eventually("no call of the tier runs", || moderate(c).running == 0);
            let m = moderate(c);
            assert_eq!((m.running, m.high_water, m.waiting), (0, 5, 0));

            // Every permit came back, once: with cap 3, exactly three run again.
            c.set_storage_cap(StorageSpeed::Moderate, 3);
            let t = Tracker::new();
            let gate = Gate::new();
            let tokens: Vec<TaskToken<Place>> = (0..4)
                .map(|_| moderate_io(t.clone(), gate.clone(), Duration::ZERO))
                .collect();
            eventually("three calls run", || {
                t.started() == 3 && moderate(c).running == 3
            });
            std::thread::sleep(Duration::from_millis(30));
            assert_eq!(t.started(), 3, "a permit was doubled");
            assert_eq!(moderate(c).waiting, 1);
            gate.open();
            tokens.into_iter().for_each(done);
            eventually("no call of the tier runs", || moderate(c).running == 0);
            assert_eq!(c.stats().tokens.completed, 24);
        },
    );
}

#[test]
fn cap_zero_holds_a_tier_until_raised() {
    with_coordinator(
        builder("io-cap-zero").storage_cap(StorageSpeed::Fast, 0),
        |c| {
            let t = Tracker::new();
            let gate = open();
            let held: Vec<TaskToken<Place>> = (0..5)
                .map(|_| fast_io(t.clone(), gate.clone(), Duration::ZERO))
                .collect();
            // Another tier is not held.
            let other = Tracker::new();
            value(slow_io(other.clone(), gate.clone(), Duration::ZERO));
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(t.started(), 0, "a call of a tier with cap 0 ran");
            assert!(held.iter().all(|t| t.state() == TokenState::Waiting));
            let fast = c.stats().storage(StorageSpeed::Fast).clone();
            assert_eq!((fast.cap, fast.running, fast.waiting), (0, 0, 5));

            // Setting 0 again changes nothing; raising releases them all.
            c.set_storage_cap(StorageSpeed::Fast, 0);
            std::thread::sleep(Duration::from_millis(10));
            assert_eq!(t.started(), 0);
            c.set_storage_cap(StorageSpeed::Fast, 2);
            for token in held {
                let id = token.id();
                assert_on_io_thread(id, value(token));
            }
            assert!(t.max() <= 2);

            // A cap set to 0 at run time holds new calls; running ones finish.
            let t = Tracker::new();
            let gate = Gate::new();
            let running = insane_io(t.clone(), gate.clone(), Duration::ZERO);
            eventually("the call runs", || t.started() == 1);
            c.set_storage_cap(StorageSpeed::Insane, 0);
            let later = insane_io(t.clone(), open(), Duration::ZERO);
            gate.open();
            done(running);
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(t.started(), 1, "a call started under cap 0");
            assert_eq!(later.state(), TokenState::Waiting);
            let insane = c.stats().storage(StorageSpeed::Insane).clone();
            assert_eq!((insane.cap, insane.running, insane.waiting), (0, 0, 1));
            c.set_storage_cap(StorageSpeed::Insane, 1);
            done(later);
            assert_eq!(t.started(), 2);
        },
    );
}

#[test]
fn fast_and_insane_caps_bind_at_fifty_and_seventy() {
    with_coordinator(builder("io-big-caps"), |c| {
        let (fast, insane) = (Tracker::new(), Tracker::new());
        let targets = Arc::new([(fast.clone(), 50), (insane.clone(), 70)]);
        let mut tokens: Vec<TaskToken<Place>> = Vec::new();
        for i in 0..200 {
            if i < 150 {
                tokens.push(fast_hold(fast.clone(), targets.clone()));
            }
            tokens.push(insane_hold(insane.clone(), targets.clone()));
        }
        for token in tokens {
            let id = token.id();
            assert_on_io_thread(id, value(token));
        }
        assert_eq!(
            (fast.max(), insane.max()),
            (50, 70),
            "the most FAST and INSANE calls that ran at once"
        );
        assert_eq!((fast.finished(), insane.finished()), (150, 200));
        let s = c.stats();
        assert_eq!(s.storage(StorageSpeed::Fast).high_water, 50);
        assert_eq!(s.storage(StorageSpeed::Insane).high_water, 70);
        assert!(
            s.io_threads >= 120,
            "{} IO threads for 120 calls at once",
            s.io_threads
        );
    });
}

#[test]
fn pauses_hold_io_calls_and_resumes_release_them() {
    with_coordinator(
        builder("io-pause").storage_cap(StorageSpeed::Slow, 2),
        |c| {
            let t = Tracker::new();

            // A global pause holds IO calls waiting.
            c.pause_admission();
            let held: Vec<TaskToken<Place>> = (0..6)
                .map(|_| slow_io(t.clone(), open(), Duration::ZERO))
                .collect();
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(t.started(), 0, "an IO call ran while admission was paused");
            let s = c.stats();
            assert_eq!(s.storage(StorageSpeed::Slow).waiting, 6);
            assert_eq!(s.tokens.waiting, 6);
            c.resume_admission();
            held.into_iter().for_each(done);
            assert_eq!(t.started(), 6);

            // A pause while calls run: they finish, but their turn passes to no one.
            let gate = Gate::new();
            let tokens: Vec<TaskToken<Place>> = (0..6)
                .map(|_| slow_io(t.clone(), gate.clone(), Duration::ZERO))
                .collect();
            eventually("two calls run", || t.started() == 8);
            c.pause_admission();
            gate.open();
            eventually("the running calls finish", || {
                t.finished() == 8 && c.stats().storage(StorageSpeed::Slow).running == 0
            });
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(
                t.started(),
                8,
                "an IO call started while admission was paused"
            );
            assert_eq!(c.stats().storage(StorageSpeed::Slow).waiting, 4);
            c.resume_admission();
            tokens.into_iter().for_each(done);
            assert_eq!(t.started(), 12);

            // A pause of the operation holds its IO calls too.
            c.pause_operation("slow_io");
            let held: Vec<TaskToken<Place>> = (0..3)
                .map(|_| slow_io(t.clone(), open(), Duration::ZERO))
                .collect();
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(t.started(), 12, "a call of a paused op ran");
            let s = c.stats();
            let op = s.op("slow_io").expect("op stats");
            assert!(op.paused);
            assert_eq!(op.held, 3);
            assert_eq!(c.resume_operation("slow_io"), 3);
            held.into_iter().for_each(done);
            assert_eq!(t.started(), 15);
            assert!(t.max() <= 2);
        },
    );
}

#[test]
fn killed_queued_io_calls_never_run() {
    with_coordinator(
        builder("io-kill-queued").storage_cap(StorageSpeed::Slow, 1),
        |c| {
            let t = Tracker::new();
            let gate = Gate::new();
            let first = slow_io(t.clone(), gate.clone(), Duration::ZERO);
            eventually("the first call runs", || t.started() == 1);
            let queued: Vec<TaskToken<Place>> = (0..4)
                .map(|_| slow_io(t.clone(), gate.clone(), Duration::ZERO))
                .collect();
            assert_eq!(c.stats().storage(StorageSpeed::Slow).waiting, 4);
            let mut queued = queued.into_iter();
            let (a, b, d, e) = (
                queued.next().unwrap(),
                queued.next().unwrap(),
                queued.next().unwrap(),
                queued.next().unwrap(),
            );
            assert!(b.kill());
            assert!(c.kill_token(d.id()));
            let (b_id, d_id) = (b.id(), d.id());
            assert!(error(b).is_killed());
            assert!(error(d).is_killed());
            assert_eq!(c.stats().storage(StorageSpeed::Slow).waiting, 2);

            gate.open();
            for token in [first, a, e] {
                done(token);
            }
            let ran = t.ran.items();
            assert_eq!(ran.len(), 3);
            assert!(
                !ran.contains(&b_id.as_u64()) && !ran.contains(&d_id.as_u64()),
                "a killed queued IO call ran"
            );
            let s = c.stats();
            assert_eq!((s.tokens.completed, s.tokens.killed), (3, 2));
        },
    );
}

#[test]
fn drains_kill_waiting_io_calls_but_not_running_ones() {
    with_coordinator(
        builder("io-drain").storage_cap(StorageSpeed::Slow, 1),
        |c| {
            let t = Tracker::new();
            let gate = Gate::new();
            let running = slow_io(t.clone(), gate.clone(), Duration::ZERO);
            eventually("the first call runs", || t.started() == 1);
            let waiting: Vec<TaskToken<Place>> = (0..4)
                .map(|_| slow_io(t.clone(), gate.clone(), Duration::ZERO))
                .collect();
            let other_op: Vec<TaskToken<Place>> = (0..2)
                .map(|_| moderate_io(t.clone(), open(), Duration::ZERO))
                .collect();
            other_op.into_iter().for_each(done);

            assert_eq!(c.drain_operation("moderate_io"), 0, "nothing of it waits");
            assert_eq!(c.drain_pool(), 4);
            for token in waiting {
                let err = error(token);
                assert!(err.is_killed(), "{err}");
                assert!(err.to_string().contains("drain"), "{err}");
            }
            let slow = c.stats().storage(StorageSpeed::Slow).clone();
            assert_eq!((slow.running, slow.waiting), (1, 0));
            assert_eq!(running.state(), TokenState::Executing);

            // A drain of one operation.
            let more: Vec<TaskToken<Place>> = (0..3)
                .map(|_| slow_io(t.clone(), gate.clone(), Duration::ZERO))
                .collect();
            assert_eq!(c.drain_operation("slow_io"), 3);
            more.into_iter().for_each(|t| assert!(error(t).is_killed()));

            gate.open();
            done(running);
            assert_eq!(t.started(), 3, "a drained IO call ran");
            eventually("no call of the tier runs", || {
                c.stats().storage(StorageSpeed::Slow).running == 0
            });
        },
    );
}

#[task_token_guard(op = "io_timeout", storage_speed = "SLOW", timeout = "50ms")]
fn io_timeout(gate: Arc<Gate>, saw_cancel: Arc<AtomicBool>) -> u8 {
    if !gate.wait_or_cancelled() {
        saw_cancel.store(tokengate::is_cancelled(), Ordering::SeqCst);
    }
    1
}

#[test]
fn a_running_io_call_times_out_and_keeps_its_turn_until_it_returns() {
    with_coordinator(
        builder("io-timeout").storage_cap(StorageSpeed::Slow, 1),
        |c| {
            let saw_cancel = Arc::new(AtomicBool::new(false));
            let token = io_timeout(Gate::new(), saw_cancel.clone());
            let err = error(token);
            assert!(err.is_timeout(), "{err}");
            eventually("the body saw its cancellation", || {
                saw_cancel.load(Ordering::SeqCst)
            });
            eventually("the timed-out body returned its turn", || {
                c.stats().storage(StorageSpeed::Slow).running == 0
            });
            assert_eq!(c.stats().tokens.timed_out, 1);
        },
    );
}

#[test]
fn a_killed_running_io_call_counts_against_the_cap_until_its_body_returns() {
    with_coordinator(
        builder("io-kill-running").storage_cap(StorageSpeed::Slow, 1),
        |c| {
            let t = Tracker::new();
            let gate = Gate::new();
            let running = slow_io(t.clone(), gate.clone(), Duration::ZERO);
            eventually("the call runs", || t.started() == 1);
            let next = slow_io(t.clone(), open(), Duration::ZERO);
            assert!(running.kill());
            assert!(error(running).is_killed());
            // The killed body still runs on its IO thread: the next call waits.
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(
                t.started(),
                1,
                "a call started beside a killed body still running"
            );
            let slow = c.stats().storage(StorageSpeed::Slow).clone();
            assert_eq!((slow.running, slow.waiting), (1, 1));
            gate.open();
            done(next);
            assert_eq!(t.max(), 1);
            eventually("no call of the tier runs", || {
                c.stats().storage(StorageSpeed::Slow).running == 0
            });
        },
    );
}

#[task_token_guard(op = "waits_on_io")]
fn waits_on_io(t: Arc<Tracker>, n: usize) -> Vec<Place> {
    let tokens: Vec<TaskToken<Place>> = (0..n)
        .map(|_| slow_io(t.clone(), open(), Duration::from_millis(1)))
        .collect();
    tokens.into_iter().map(|t| t.wait().unwrap()).collect()
}

#[test]
fn a_worker_waiting_on_io_calls_neither_deadlocks_nor_runs_them_itself() {
    with_coordinator(
        single_worker("io-nested").storage_cap(StorageSpeed::Slow, 2),
        |c| {
            let t = Tracker::new();
            let places = value(waits_on_io(t.clone(), 12));
            assert_eq!(places.len(), 12);
            assert!(
                places
                    .iter()
                    .all(|(worker, id)| worker.is_none() && id.is_some()),
                "an IO call ran inline on the waiting worker: {places:?}"
            );
            assert!(t.max() <= 2, "the cap did not hold for nested IO calls");
            // The worker ran only the outer call.
            eventually("the worker counted the outer call", || {
                c.stats().workers[0].ran == 1
            });
        },
    );
}

#[test]
fn io_calls_resolve_at_stop() {
    let c = builder("io-stop")
        .storage_cap(StorageSpeed::Slow, 1)
        .stop_timeout(PATIENCE)
        .start()
        .unwrap();
    let _g = c.enter();
    let t = Tracker::new();
    let gate = Gate::new();
    let running = slow_io(t.clone(), gate.clone(), Duration::ZERO);
    eventually("the call runs", || t.started() == 1);
    let queued = slow_io(t.clone(), gate.clone(), Duration::ZERO);
    let opener = {
        let gate = gate.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            gate.open();
        })
    };
    drop(_g);
    c.stop();
    opener.join().unwrap();
    assert!(
        error(queued).is_shutdown(),
        "a queued IO call survived stop"
    );
    // The running call finished within the stop timeout.
    done(running);
    assert_eq!(t.started(), 1);
}

#[task_token_guard(op = "nested_io_inner", storage_speed = "SLOW")]
fn nested_io_inner() -> u8 {
    7
}

#[task_token_guard(op = "nested_io_outer", storage_speed = "SLOW")]
fn nested_io_outer() -> Option<u8> {
    let mut inner = nested_io_inner();
    // Far more than the inner call needs, far less than `PATIENCE`: a hang
    // shows up as `None` (and the inner call, detached, runs later).
    inner
        .wait_timeout(Duration::from_secs(2))
        .map(|result| result.expect("the inner call completes"))
}

#[test]
fn io_calls_waiting_on_io_calls_of_their_own_full_tier_do_not_hang() {
    with_coordinator(
        builder("io-nested-io").storage_cap(StorageSpeed::Slow, 2),
        |_| {
            let outers: Vec<TaskToken<Option<u8>>> = (0..2).map(|_| nested_io_outer()).collect();
            let results: Vec<Option<u8>> = outers.into_iter().map(value).collect();
            assert_eq!(results, [Some(7), Some(7)], "inner IO calls never ran");
        },
    );
}
