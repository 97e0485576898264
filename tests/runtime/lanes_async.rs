//! Several async submitters (`admit`) waiting on one full lane: each gets room
//! in the order it started waiting, however often it is polled again (as any
//! future in a `select!` or `join!` is), and one that is dropped, before or
//! after it was woken, passes its turn on, so the others still complete.
//!
//! The set-up: one worker, held by a call blocked on a gate; a lane of one slot,
//! taken by a call queued behind it. Every submitter defers one call, which logs
//! its label when it runs; the worker runs calls in lane order, so the log is
//! the order in which the submitters got room.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokengate::{Admit, OperationsCoordinator, Task, TaskToken, TokenState, Weight};
use tokengate_tests::{Gate, Log, PATIENCE, eventually, single_worker, value};

/// What the test sees of, and does to, one submitter task.
#[derive(Debug, Default)]
struct Probe {
    /// How many times its `admit` future was polled.
    polls: AtomicUsize,
    /// Its waker was called (by the lane, when room freed).
    woken: AtomicBool,
    /// At its next poll, the task drops its `admit` future instead of polling it.
    drop_it: AtomicBool,
    /// The task's own waker, for the test to wake it without cause.
    task: Mutex<Option<Waker>>,
}

impl Probe {
    fn polls(&self) -> usize {
        self.polls.load(Ordering::SeqCst)
    }

    /// Wakes the task: it polls its `admit` future again, as a `select!` does
    /// when another of its branches fires.
    fn poke(&self) {
        if let Some(waker) = &*self.task.lock().unwrap() {
            waker.wake_by_ref();
        }
    }
}

/// Records that the lane woke the submitter, then wakes its task.
struct Spy {
    probe: Arc<Probe>,
    task: Waker,
}

impl futures::task::ArcWake for Spy {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.probe.woken.store(true, Ordering::SeqCst);
        arc_self.task.wake_by_ref();
    }
}

/// An `admit` future as a task awaits it, watched and steered by its probe.
/// Resolves to `None` if it was told to drop the future.
struct Submitter<R> {
    admit: Option<Admit<R>>,
    probe: Arc<Probe>,
}

impl<R> Future for Submitter<R> {
    type Output = Option<R>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<R>> {
        let this = &mut *self;
        *this.probe.task.lock().unwrap() = Some(cx.waker().clone());
        if this.probe.drop_it.load(Ordering::SeqCst) {
            this.admit = None;
            return Poll::Ready(None);
        }
        let admit = this.admit.as_mut().expect("polled after it resolved");
        let spy = futures::task::waker(Arc::new(Spy {
            probe: this.probe.clone(),
            task: cx.waker().clone(),
        }));
        let poll = Pin::new(admit).poll(&mut Context::from_waker(&spy));
        this.probe.polls.fetch_add(1, Ordering::SeqCst);
        poll.map(Some)
    }
}

/// A call that logs `label` when it runs and returns it.
fn logged(log: &Arc<Log<u32>>, label: u32) -> TaskToken<u32> {
    let log = log.clone();
    Task::new("logged").spawn(move || {
        log.push(label);
        label
    })
}

/// A call that logs `label` when it starts, then holds the worker until `gate`
/// opens.
fn logged_gated(log: &Arc<Log<u32>>, label: u32, gate: &Arc<Gate>) -> TaskToken<u32> {
    let (log, gate) = (log.clone(), gate.clone());
    Task::new("logged").spawn(move || {
        log.push(label);
        assert!(gate.wait(), "the test never opened the gate");
        label
    })
}

/// One worker and a lane of one slot.
fn one_slot(name: &str) -> OperationsCoordinator {
    single_worker(name)
        .mailbox_capacity(1)
        .lane_capacity(1)
        .start()
        .unwrap()
}

/// Occupies the only worker until `gate` opens.
fn block_worker(c: &OperationsCoordinator, gate: &Arc<Gate>) -> TaskToken<()> {
    let g = gate.clone();
    let t = c.run(|| Task::new("blocker").spawn(move || assert!(g.wait())));
    eventually("the blocker runs", || t.state() == TokenState::Executing);
    t
}

#[derive(Clone, Copy, Debug)]
enum Flavor {
    CurrentThread,
    MultiThread,
}

/// Runs `future` on a fresh tokio runtime of `flavor`; panics after [`PATIENCE`].
fn block_on<F: Future>(flavor: Flavor, future: F) -> F::Output {
    let mut builder = match flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(2);
            b
        }
    };
    let rt = builder.enable_time().build().expect("a tokio runtime");
    rt.block_on(async {
        tokio::time::timeout(PATIENCE, future)
            .await
            .unwrap_or_else(|_| panic!("the submitters did not finish within {PATIENCE:?}"))
    })
}

/// Yields to the runtime until `cond` holds; panics after [`PATIENCE`].
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {PATIENCE:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The submitters of one test: a task each, made one after another so that
/// each has started waiting for room before the next one starts.
struct Submitters {
    probes: Vec<Arc<Probe>>,
    tasks: Vec<tokio::task::JoinHandle<Option<TaskToken<u32>>>>,
}

impl Submitters {
    /// Starts a submitter per label; each defers one `logged` call. Must run
    /// inside a tokio runtime.
    async fn start(c: &OperationsCoordinator, log: &Arc<Log<u32>>, labels: &[u32]) -> Self {
        let mut submitters = Submitters {
            probes: Vec::new(),
            tasks: Vec::new(),
        };
        for &label in labels {
            let admit = c.run(|| tokengate::admit(|| logged(log, label)));
            let probe = Arc::new(Probe::default());
            submitters.tasks.push(tokio::spawn(Submitter {
                admit: Some(admit),
                probe: probe.clone(),
            }));
            // Its place in line is taken at its first poll.
            until(&format!("submitter {label} waits for room"), || {
                probe.polls() == 1
            })
            .await;
            submitters.probes.push(probe);
        }
        submitters
    }

    /// Wakes every submitter without cause and waits until each polled again.
    async fn poke_all(&self) {
        for probe in &self.probes {
            probe.poke();
        }
        until("every submitter polled again", || {
            self.probes.iter().all(|p| p.polls() >= 2)
        })
        .await;
    }

    /// Tells submitter `k` to drop its `admit` future at its next poll, wakes
    /// it, and waits until it did.
    async fn drop_one(&mut self, k: usize) {
        self.probes[k].drop_it.store(true, Ordering::SeqCst);
        self.probes[k].poke();
        let done = (&mut self.tasks[k]).await.expect("the submitter task");
        assert!(done.is_none(), "submitter {k} completed instead");
    }

    /// Waits for every submitter not dropped; returns their tokens.
    async fn finish(self) -> Vec<TaskToken<u32>> {
        let mut tokens = Vec::new();
        for (task, probe) in self.tasks.into_iter().zip(&self.probes) {
            if probe.drop_it.load(Ordering::SeqCst) {
                continue;
            }
            tokens.push(
                task.await
                    .expect("the submitter task")
                    .expect("not dropped"),
            );
        }
        tokens
    }
}

/// Checks the outcome: the blocker and `first` (label 0) completed, and so did
/// the call of every submitter not dropped (`tokens`, labels `kept`); the calls
/// ran in `order`; the calls of the `dropped` submitters were killed.
fn check_order(
    c: OperationsCoordinator,
    log: &Log<u32>,
    (blocker, first, tokens): (TaskToken<()>, TaskToken<u32>, Vec<TaskToken<u32>>),
    (kept, order): (&[u32], &[u32]),
    dropped: u64,
) {
    value(blocker);
    assert_eq!(value(first), 0);
    let values: Vec<u32> = tokens.into_iter().map(value).collect();
    assert_eq!(values, kept, "every submitter's call completed");
    assert_eq!(log.items(), order, "submitters got lane room out of order");
    let s = c.stats();
    assert_eq!(
        s.op("logged").unwrap().counts.killed,
        dropped,
        "the deferred call of a dropped submitter is killed"
    );
    assert_eq!(s.lane(Weight::Medium).depth, 0, "a lane slot leaked");
    assert_eq!(c.live_tokens(), 0);
    c.stop();
}

fn submitters_polled_again_while_waiting_all_complete_in_order(flavor: Flavor) {
    let c = one_slot(&format!("admit-repoll-{flavor:?}"));
    let gate = Gate::new();
    let blocker = block_worker(&c, &gate);
    let log = Log::new();
    let first = c.run(|| logged(&log, 0));
    assert_eq!(first.state(), TokenState::Waiting);
    assert_eq!(c.stats().lane(Weight::Medium).depth, 1, "the lane is full");
    let tokens = block_on(flavor, async {
        let submitters = Submitters::start(&c, &log, &[1, 2, 3, 4]).await;
        submitters.poke_all().await;
        assert_eq!(
            c.stats().tokens.waiting,
            5,
            "every deferred call still waits"
        );
        gate.open();
        submitters.finish().await
    });
    check_order(
        c,
        &log,
        (blocker, first, tokens),
        (&[1, 2, 3, 4], &[0, 1, 2, 3, 4]),
        0,
    );
}

#[test]
fn submitters_polled_again_while_waiting_all_complete_in_order_current_thread() {
    submitters_polled_again_while_waiting_all_complete_in_order(Flavor::CurrentThread);
}

#[test]
fn submitters_polled_again_while_waiting_all_complete_in_order_multi_thread() {
    submitters_polled_again_while_waiting_all_complete_in_order(Flavor::MultiThread);
}

fn a_dropped_waiting_submitter_leaves_the_line_and_the_others_complete(flavor: Flavor) {
    let c = one_slot(&format!("admit-drop-waiting-{flavor:?}"));
    let gate = Gate::new();
    let blocker = block_worker(&c, &gate);
    let log = Log::new();
    let first = c.run(|| logged(&log, 0));
    let tokens = block_on(flavor, async {
        let mut submitters = Submitters::start(&c, &log, &[1, 2, 3, 4]).await;
        // The first in line and one further back give up while they wait.
        submitters.drop_one(0).await;
        submitters.drop_one(2).await;
        assert_eq!(c.stats().op("logged").unwrap().counts.killed, 2);
        gate.open();
        submitters.finish().await
    });
    check_order(c, &log, (blocker, first, tokens), (&[2, 4], &[0, 2, 4]), 2);
}

#[test]
fn a_dropped_waiting_submitter_leaves_the_line_and_the_others_complete_current_thread() {
    a_dropped_waiting_submitter_leaves_the_line_and_the_others_complete(Flavor::CurrentThread);
}

#[test]
fn a_dropped_waiting_submitter_leaves_the_line_and_the_others_complete_multi_thread() {
    a_dropped_waiting_submitter_leaves_the_line_and_the_others_complete(Flavor::MultiThread);
}

/// On a current-thread runtime, the test's own task blocks the thread (sync
/// waits) so that a woken submitter cannot be polled until the test lets it.
#[test]
fn a_submitter_dropped_after_it_was_woken_passes_the_room_on() {
    let c = one_slot("admit-drop-woken");
    let gate = Gate::new();
    let blocker = block_worker(&c, &gate);
    let log = Log::new();
    let first = c.run(|| logged(&log, 0));
    let tokens = block_on(Flavor::CurrentThread, async {
        let mut submitters = Submitters::start(&c, &log, &[1, 2, 3]).await;
        // The worker takes `first` from the lane: a slot frees and the first
        // submitter is woken, but cannot run yet.
        gate.open();
        eventually("the first submitter is woken", || {
            submitters.probes[0].woken.load(Ordering::SeqCst)
        });
        assert!(!submitters.probes[1].woken.load(Ordering::SeqCst));
        // It is dropped before it takes the slot: the next one must get it.
        submitters.drop_one(0).await;
        submitters.finish().await
    });
    check_order(c, &log, (blocker, first, tokens), (&[2, 3], &[0, 2, 3]), 1);
}

#[test]
fn a_submitter_dropped_after_it_was_woken_keeps_the_line_when_the_room_is_gone() {
    let c = one_slot("admit-drop-woken-full");
    let gate = Gate::new();
    let blocker = block_worker(&c, &gate);
    let log = Log::new();
    let hold_first = Gate::new();
    let first = c.run(|| logged_gated(&log, 0, &hold_first));
    let tokens = block_on(Flavor::CurrentThread, async {
        let mut submitters = Submitters::start(&c, &log, &[1, 2, 3]).await;
        gate.open();
        eventually("the first submitter is woken", || {
            submitters.probes[0].woken.load(Ordering::SeqCst)
        });
        eventually("the worker runs `first`", || {
            first.state() == TokenState::Executing
        });
        // Before the woken submitter runs, a sync call takes the free slot.
        let sync_call = c.run(|| logged(&log, 9));
        assert_eq!(sync_call.state(), TokenState::Waiting);
        assert_eq!(c.stats().lane(Weight::Medium).depth, 1, "the lane is full");
        // Dropped now, the woken submitter has no room to pass on: the others
        // keep their places in line.
        submitters.drop_one(0).await;
        hold_first.open();
        assert_eq!(value(sync_call), 9);
        submitters.finish().await
    });
    check_order(
        c,
        &log,
        (blocker, first, tokens),
        (&[2, 3], &[0, 9, 2, 3]),
        1,
    );
}
