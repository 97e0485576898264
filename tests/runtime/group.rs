//! `TokenGroup`: fail fast, add and completion order, drops that kill,
//! nesting, `Result` members, detaching, and a group of 100,000 members.

use std::collections::HashSet;
use std::error::Error;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use tokengate::{
    ErrorKind, GroupError, KillReason, MemberError, Task, TaskToken, TokenGroup, TokenId,
    TokenState, task_token_guard,
};
use tokengate_tests::{
    EXPECTED_PANIC, Gate, PATIENCE, block_on, builder, eventually, quiet_expected_panics,
    single_worker, value, with_coordinator,
};

/// Runs `f` (a blocking join) on another thread and fails the test if it
/// takes longer than [`PATIENCE`], rather than hang the run.
fn within<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("the group did not finish within {PATIENCE:?}"))
}

/// A call that runs until it is cancelled, then counts that it saw it.
fn until_cancelled(saw: &Arc<AtomicUsize>) -> TaskToken<u32> {
    let saw = saw.clone();
    Task::new("sibling").spawn(move || {
        let started = std::time::Instant::now();
        while !tokengate::is_cancelled() {
            assert!(started.elapsed() < PATIENCE, "never cancelled");
            std::thread::sleep(Duration::from_millis(1));
        }
        saw.fetch_add(1, Ordering::SeqCst);
        0
    })
}

#[test]
fn one_failure_after_100ms_cancels_its_four_siblings() {
    quiet_expected_panics();
    with_coordinator(
        builder("group-seed").core_groups(1).workers_per_core(5),
        |c| {
            let saw = Arc::new(AtomicUsize::new(0));
            let mut group = TokenGroup::new();
            let siblings: Vec<TokenId> = (0..4).map(|_| group.add(until_cancelled(&saw))).collect();
            let failing = group.add(Task::new("raiser").spawn(|| -> u32 {
                std::thread::sleep(Duration::from_millis(100));
                panic!("{EXPECTED_PANIC}: raised after 100 ms")
            }));
            assert_eq!(group.len(), 5);
            let err = within(move || group.wait()).unwrap_err();
            let (id, first) = err.first().expect("a member failed");
            assert_eq!(id, failing);
            assert_eq!(first.kind(), ErrorKind::Panic);
            assert_eq!(err.failures().len(), 1);
            assert_eq!(err.cancelled(), 4);
            assert!(err.to_string().contains("raised after 100 ms"), "{err}");
            assert!(
                err.to_string().contains("cancelled 4 other members"),
                "{err}"
            );
            assert!(err.source().is_some());
            eventually("every sibling's body saw the cancellation", || {
                saw.load(Ordering::SeqCst) == 4
            });
            let killed = c.stats().tokens.killed;
            assert!(killed >= 4, "{killed} killed");
            assert!(!siblings.contains(&failing));
        },
    );
}

#[test]
fn killed_siblings_say_their_group_killed_them() {
    quiet_expected_panics();
    with_coordinator(
        builder("group-reason").core_groups(1).workers_per_core(3),
        |_| {
            let saw = Arc::new(AtomicUsize::new(0));
            let mut group = TokenGroup::new();
            group.add(until_cancelled(&saw));
            group.add(until_cancelled(&saw));
            group.add(Task::new("raiser").spawn(|| -> u32 { panic!("{EXPECTED_PANIC}: first") }));
            let mut outcomes = Vec::new();
            block_on(async {
                while let Some((_, result)) = group.join_next().await {
                    outcomes.push(result);
                }
            });
            assert!(outcomes[0].as_ref().unwrap_err().is_panic());
            for killed in &outcomes[1..] {
                let err = killed.as_ref().unwrap_err();
                assert_eq!(err.kill_reason(), Some(KillReason::Group), "{err}");
                assert!(err.to_string().contains("by its group"), "{err}");
            }
            assert_eq!(outcomes.len(), 3);
        },
    );
}

#[test]
fn every_failure_is_kept_when_several_fail_before_the_kill_lands() {
    quiet_expected_panics();
    with_coordinator(builder("group-several"), |_| {
        let mut group = TokenGroup::new();
        let mut handles = Vec::new();
        let mut failing = Vec::new();
        for i in 0..3 {
            let token = Task::new("fails")
                .spawn(move || -> u32 { panic!("{EXPECTED_PANIC}: failure {i}") });
            handles.push(token.kill_handle());
            failing.push(group.add(token));
        }
        group.add(Task::new("fine").spawn(|| 1));
        // All three fail before the group looks.
        eventually("the failing calls resolve", || {
            handles.iter().all(|h| h.is_finished())
        });
        let err = group.wait().unwrap_err();
        let mut ids: Vec<TokenId> = err.failures().iter().map(|(id, _)| *id).collect();
        ids.sort();
        failing.sort();
        assert_eq!(ids, failing);
        assert!(err.failures().iter().all(|(_, e)| e.is_panic()));
        assert!(err.to_string().contains("2 more members failed"), "{err}");
    });
}

#[test]
fn join_returns_values_in_add_order() {
    with_coordinator(
        builder("group-order").core_groups(1).workers_per_core(4),
        |_| {
            let mut group = TokenGroup::new();
            for i in 0..8u64 {
                // Later members finish first.
                group.add(Task::new("sleepy").spawn(move || {
                    std::thread::sleep(Duration::from_millis(5 * (8 - i)));
                    i
                }));
            }
            let values = block_on(group.join()).unwrap();
            assert_eq!(values, (0..8).collect::<Vec<_>>());
        },
    );
}

#[test]
fn join_next_yields_members_in_completion_order() {
    with_coordinator(
        builder("group-next").core_groups(1).workers_per_core(4),
        |_| {
            let gates: Vec<Arc<Gate>> = (0..4).map(|_| Gate::new()).collect();
            let mut group = TokenGroup::new();
            let ids: Vec<TokenId> = gates
                .iter()
                .enumerate()
                .map(|(i, gate)| {
                    let gate = gate.clone();
                    group.add(Task::new("gated").spawn(move || {
                        assert!(gate.wait());
                        i
                    }))
                })
                .collect();
            for i in [2, 0, 3, 1] {
                gates[i].open();
                let (id, result) = group.wait_next().expect("a member is held");
                assert_eq!((id, result.unwrap()), (ids[i], i));
            }
            assert!(group.is_empty());
            assert!(group.wait_next().is_none());
        },
    );
}

#[test]
fn dropping_an_unjoined_group_kills_its_members_and_queued_ones_never_run() {
    with_coordinator(single_worker("group-drop"), |c| {
        let gate = Gate::new();
        let g = gate.clone();
        let blocker = Task::new("blocker").spawn(move || assert!(g.wait()));
        eventually("the blocker runs", || {
            blocker.state() == TokenState::Executing
        });
        let ran = Arc::new(AtomicUsize::new(0));
        let mut group = TokenGroup::new();
        let mut handles = Vec::new();
        for _ in 0..5 {
            let ran = ran.clone();
            let token = Task::new("queued").spawn(move || {
                ran.fetch_add(1, Ordering::SeqCst);
            });
            handles.push(token.kill_handle());
            group.add(token);
        }
        assert!(handles.iter().all(|h| !h.is_finished()));
        drop(group);
        assert!(
            handles.iter().all(|h| h.is_finished()),
            "killed at the drop"
        );
        gate.open();
        value(blocker);
        // The only worker has passed the killed calls' queue entries.
        value(Task::new("after").spawn(|| ()));
        assert_eq!(ran.load(Ordering::SeqCst), 0, "a killed queued call ran");
        assert_eq!(c.stats().op("queued").unwrap().counts.killed, 5);
    });
}

#[test]
fn a_join_dropped_by_a_timeout_kills_the_members() {
    with_coordinator(
        builder("group-timeout").core_groups(1).workers_per_core(3),
        |_| {
            let saw = Arc::new(AtomicUsize::new(0));
            let mut group = TokenGroup::new();
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    let token = until_cancelled(&saw);
                    let handle = token.kill_handle();
                    group.add(token);
                    handle
                })
                .collect();
            let late = block_on(async {
                tokio::time::timeout(Duration::from_millis(30), group.join()).await
            });
            assert!(late.is_err(), "the members never finish on their own");
            assert!(handles.iter().all(|h| h.is_finished()));
            eventually("every body saw the cancellation", || {
                saw.load(Ordering::SeqCst) == 3
            });
        },
    );
}

#[task_token_guard(op = "leaf", weight = "light")]
fn leaf(x: u64) -> u64 {
    x * 10
}

/// A guarded fn that joins a group of its own: nested groups.
#[task_token_guard(op = "branch")]
fn branch(x: u64) -> u64 {
    let group: TokenGroup<u64> = (0..x).map(leaf).collect();
    group.wait().unwrap().into_iter().sum()
}

#[test]
fn groups_nest_inside_guarded_fns_even_on_one_worker() {
    with_coordinator(single_worker("group-nested"), |_| {
        let outer: TokenGroup<u64> = (1..=5).map(branch).collect();
        let sums = within(move || outer.wait()).unwrap();
        let expected: Vec<u64> = (1..=5u64).map(|x| (0..x).map(|i| i * 10).sum()).collect();
        assert_eq!(sums, expected);
    });
}

#[test]
fn a_failure_inside_a_nested_group_fails_the_outer_one() {
    quiet_expected_panics();
    with_coordinator(
        builder("group-nested-fail")
            .core_groups(1)
            .workers_per_core(2),
        |_| {
            let outer_member = Task::new("inner_group").spawn(|| {
                let mut inner = TokenGroup::new();
                inner.add(Task::new("ok").spawn(|| 1));
                inner.add(Task::new("bad").spawn(|| -> i32 { panic!("{EXPECTED_PANIC}: inner") }));
                match inner.wait() {
                    Ok(values) => values.len(),
                    Err(err) => panic!("{EXPECTED_PANIC}: inner group failed: {err}"),
                }
            });
            let mut outer = TokenGroup::new();
            outer.add(outer_member);
            let err = block_on(outer.join()).unwrap_err();
            let (_, first) = err.first().unwrap();
            assert!(
                first
                    .panic_message()
                    .unwrap()
                    .contains("inner group failed"),
                "{first}"
            );
        },
    );
}

#[test]
fn try_join_treats_an_err_value_as_a_failure_and_fails_fast() {
    with_coordinator(
        builder("group-try").core_groups(1).workers_per_core(4),
        |_| {
            let saw = Arc::new(AtomicUsize::new(0));
            let mut group: TokenGroup<Result<u32, String>> = TokenGroup::new();
            for _ in 0..2 {
                let saw = saw.clone();
                group.add(Task::new("patient").spawn(move || {
                    while !tokengate::is_cancelled() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    saw.fetch_add(1, Ordering::SeqCst);
                    Ok(1)
                }));
            }
            let bad = group.add(Task::new("refuses").spawn(|| {
                std::thread::sleep(Duration::from_millis(20));
                Err("no such page".to_owned())
            }));
            let err: GroupError<MemberError<String>> = block_on(group.try_join()).unwrap_err();
            let (id, first) = err.first().unwrap();
            assert_eq!(id, bad);
            assert_eq!(first.returned().map(String::as_str), Some("no such page"));
            assert_eq!(err.cancelled(), 2);
            assert!(err.to_string().starts_with("no such page"), "{err}");
            eventually("the siblings saw the cancellation", || {
                saw.load(Ordering::SeqCst) == 2
            });

            // All Ok: the values, unwrapped, in add order; from sync code too.
            let good: TokenGroup<Result<u32, String>> = (0..4)
                .map(|i| Task::new("fine").spawn(move || Ok(i)))
                .collect();
            assert_eq!(within(move || good.try_wait()).unwrap(), [0, 1, 2, 3]);
        },
    );
}

#[test]
fn a_retried_member_counts_only_its_final_outcome() {
    quiet_expected_panics();
    with_coordinator(builder("group-retry"), |_| {
        let runs = Arc::new(AtomicUsize::new(0));
        let seen = runs.clone();
        let mut group = TokenGroup::new();
        group.add(
            Task::new("heals")
                .retries(3)
                .retry_backoff(Duration::from_millis(5))
                .spawn(move || {
                    if seen.fetch_add(1, Ordering::SeqCst) < 2 {
                        std::panic::panic_any(tokengate_tests::ExpectedPanic);
                    }
                    7
                }),
        );
        group.add(Task::new("plain").spawn(|| 8));
        assert_eq!(block_on(group.join()).unwrap(), [7, 8]);
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn a_timed_out_member_fails_the_group() {
    with_coordinator(
        builder("group-member-timeout")
            .core_groups(1)
            .workers_per_core(3),
        |_| {
            let saw = Arc::new(AtomicUsize::new(0));
            let mut group = TokenGroup::new();
            group.add(until_cancelled(&saw));
            let slow = group.add(until_cancelled(&saw).timeout(Duration::from_millis(20)));
            let err = block_on(group.join()).unwrap_err();
            let (id, first) = err.first().unwrap();
            assert_eq!((id, first.kind()), (slow, ErrorKind::TimedOut));
            assert_eq!(err.cancelled(), 1);
        },
    );
}

#[test]
fn members_added_after_a_failure_are_killed_at_once() {
    quiet_expected_panics();
    with_coordinator(builder("group-late"), |_| {
        let mut group = TokenGroup::new();
        group.add(Task::new("bad").spawn(|| -> u8 { panic!("{EXPECTED_PANIC}: early") }));
        let (_, first) = group.wait_next().unwrap();
        assert!(first.unwrap_err().is_panic());
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let gate = Gate::new();
        let g = gate.clone();
        let late = group.add(Task::new("late").spawn(move || {
            g.wait();
            r.fetch_add(1, Ordering::SeqCst);
            1
        }));
        let (id, result) = group.wait_next().unwrap();
        assert_eq!(id, late);
        assert_eq!(result.unwrap_err().kill_reason(), Some(KillReason::Group));
        gate.open();
        // The join reports the failure `wait_next` handed back.
        let err = group.wait().unwrap_err();
        assert!(err.first().unwrap().1.is_panic());
    });
}

#[test]
fn detach_all_leaves_the_calls_running() {
    with_coordinator(builder("group-detach"), |_| {
        let gate = Gate::new();
        let done = Arc::new(AtomicUsize::new(0));
        let mut group = TokenGroup::new();
        for _ in 0..3 {
            let (gate, done) = (gate.clone(), done.clone());
            group.add(Task::new("detached").spawn(move || {
                assert!(gate.wait());
                done.fetch_add(1, Ordering::SeqCst);
            }));
        }
        group.detach_all();
        assert!(group.is_empty());
        drop(group);
        gate.open();
        eventually("the detached calls finish", || {
            done.load(Ordering::SeqCst) == 3
        });
    });
}

#[test]
fn kill_all_kills_every_member_and_the_join_says_so() {
    with_coordinator(
        builder("group-kill-all").core_groups(1).workers_per_core(2),
        |_| {
            let saw = Arc::new(AtomicUsize::new(0));
            let mut group: TokenGroup<u32> = (0..4).map(|_| until_cancelled(&saw)).collect();
            assert_eq!(group.kill_all(), 4);
            assert_eq!(group.kill_all(), 0, "nothing left to kill");
            let err = block_on(group.join()).unwrap_err();
            assert!(err.first().is_none());
            assert_eq!(err.cancelled(), 4);
            assert!(err.to_string().contains("killed"), "{err}");
            assert!(err.source().is_none());
        },
    );
}

#[test]
fn an_empty_group_joins_at_once() {
    let group = TokenGroup::<u8>::new();
    assert!(group.is_empty());
    assert_eq!(group.wait().unwrap(), Vec::<u8>::new());
    assert!(block_on(TokenGroup::<u8>::new().join()).unwrap().is_empty());
}

#[test]
fn a_group_and_its_join_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let mut group = TokenGroup::<String>::new();
    send(&group);
    send(&group.join_next());
    send(&group.join());
    let results = TokenGroup::<Result<u8, String>>::new();
    send(&results.try_join());
}

/// This process's thread count.
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc is readable");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Threads line")
}

#[test]
fn a_group_of_100_000_members_needs_no_thread_per_member() {
    const N: u64 = 100_000;
    with_coordinator(builder("group-100k").lane_capacity(2 * N as usize), |_| {
        let before = threads();
        let square = Task::new("square").func(|x: u64| x * x);
        let mut group = TokenGroup::new();
        let mut ids = HashSet::new();
        for x in 0..N {
            ids.insert(group.add(square(x)));
        }
        assert_eq!(group.len(), N as usize);
        assert_eq!(ids.len(), N as usize);
        let during = threads();
        let values = within(move || group.wait()).unwrap();
        assert_eq!(values.len(), N as usize);
        assert!(
            values
                .iter()
                .enumerate()
                .all(|(x, &v)| v == (x as u64).pow(2))
        );
        // Other tests run alongside, with coordinators of their own: the
        // bound is loose, and would catch one thread per member.
        assert!(
            during.saturating_sub(before) < 1_000,
            "{before} threads before adding 100,000 members, {during} after"
        );
    });
}
