//! `cpu_share(true)`: at most one running call per core group, shared out by
//! weight; an owner under its share starts at once; a call waiting on a token
//! gives its permit back, so nested calls never deadlock on permits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokengate::{TaskToken, task_token_guard};
use tokengate_tests::{Gate, builder, eventually, resolve, value, with_coordinator};

/// Counts the bodies running now and the most at once.
#[derive(Default)]
struct Running {
    now: AtomicUsize,
    most: AtomicUsize,
}

impl Running {
    fn enter(&self) {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

#[task_token_guard(op = "cpu_light", weight = "light")]
fn light(running: Arc<Running>, gate: Arc<Gate>) {
    running.enter();
    gate.wait();
    running.leave();
}

#[task_token_guard(op = "cpu_heavy", weight = "heavy")]
fn heavy(running: Arc<Running>) -> usize {
    running.enter();
    let seen = running.now.load(Ordering::SeqCst);
    running.leave();
    seen
}

#[test]
fn calls_of_one_weight_run_at_most_one_per_core_group() {
    // Two groups of two workers: without CPU share, light calls run on three
    // workers at once (light's home group and group 0's roaming worker).
    with_coordinator(
        builder("cpu-share-cap")
            .core_groups(2)
            .workers_per_core(2)
            .cpu_share(true),
        |c| {
            let (running, gate) = (Arc::new(Running::default()), Gate::new());
            let tokens: Vec<TaskToken<()>> = (0..6)
                .map(|_| light(running.clone(), gate.clone()))
                .collect();
            eventually("two light calls run", || {
                running.now.load(Ordering::SeqCst) == 2
            });
            // Every worker has had a chance to take a call: the others wait
            // for a permit, admitted, not running.
            eventually("the other light calls are with workers", || {
                c.stats().tokens.admitted + c.stats().tokens.waiting == 4
            });
            assert_eq!(running.now.load(Ordering::SeqCst), 2);
            gate.open();
            for token in tokens {
                value(token);
            }
            assert_eq!(running.most.load(Ordering::SeqCst), 2);
        },
    );
}

#[test]
fn a_heavy_call_starts_while_light_calls_hold_every_permit() {
    with_coordinator(
        builder("cpu-share-owner")
            .core_groups(2)
            .workers_per_core(2)
            .cpu_share(true),
        |_| {
            let (running, gate) = (Arc::new(Running::default()), Gate::new());
            let lights: Vec<TaskToken<()>> = (0..2)
                .map(|_| light(running.clone(), gate.clone()))
                .collect();
            eventually("both permits are held by light calls", || {
                running.now.load(Ordering::SeqCst) == 2
            });
            // Heavy owns group 0's permit, which light borrowed: it starts
            // at once, next to the two blocked light calls.
            assert_eq!(value(heavy(running.clone())), 3);
            gate.open();
            for token in lights {
                value(token);
            }
        },
    );
}

#[task_token_guard(op = "cpu_child", weight = "heavy")]
fn child(x: u64) -> u64 {
    x * 2
}

#[task_token_guard(op = "cpu_lead", weight = "heavy")]
fn lead(n: u64) -> u64 {
    let children: Vec<TaskToken<u64>> = (0..n).map(child).collect();
    children.into_iter().map(|t| t.wait().unwrap()).sum()
}

#[test]
fn leads_waiting_on_children_of_their_own_weight_never_deadlock_on_permits() {
    // One group: one permit, which each waiting lead gives back while it waits.
    with_coordinator(
        builder("cpu-share-nested")
            .core_groups(1)
            .workers_per_core(4)
            .cpu_share(true),
        |c| {
            let leads: Vec<TaskToken<u64>> = (0..8).map(|_| lead(20)).collect();
            for token in leads {
                assert_eq!(resolve(token).unwrap(), (0..20).map(|x| x * 2).sum::<u64>());
            }
            assert_eq!(c.stats().tokens.completed, 8 + 8 * 20);
        },
    );
}
