//! Opt-in cancellation of lone tokens: `kill_on_drop` and `kill_handle`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokengate::{ErrorKind, KillReason, Task, TaskToken, TokenState};
use tokengate_tests::{
    Gate, block_on, builder, eventually, single_worker, value, with_coordinator,
};

/// A call that runs until it is cancelled, then counts that it saw it.
fn until_cancelled(saw: &Arc<AtomicUsize>) -> TaskToken<u32> {
    let saw = saw.clone();
    Task::new("patient").spawn(move || {
        while !tokengate::is_cancelled() {
            std::thread::sleep(Duration::from_millis(1));
        }
        saw.fetch_add(1, Ordering::SeqCst);
        0
    })
}

#[test]
fn a_kill_on_drop_dropped_early_kills_its_running_call() {
    with_coordinator(builder("kod-running"), |_| {
        let saw = Arc::new(AtomicUsize::new(0));
        let token = until_cancelled(&saw);
        eventually("the call runs", || token.state() == TokenState::Executing);
        let call = token.kill_on_drop();
        let handle = call.kill_handle();
        drop(call);
        assert!(handle.is_finished());
        eventually("the body saw the kill", || saw.load(Ordering::SeqCst) == 1);
    });
}

#[test]
fn the_losing_branch_of_select_is_killed_and_a_queued_one_never_runs() {
    with_coordinator(single_worker("kod-select"), |c| {
        let gate = Gate::new();
        let g = gate.clone();
        let blocker = Task::new("blocker").spawn(move || assert!(g.wait()));
        eventually("the blocker runs", || {
            blocker.state() == TokenState::Executing
        });
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let queued = Task::new("loser").spawn(move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        let id = queued.id();
        block_on(async {
            tokio::select! {
                _ = queued.kill_on_drop() => panic!("the loser cannot finish behind the blocker"),
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
        });
        gate.open();
        value(blocker);
        value(Task::new("after").spawn(|| ()));
        assert_eq!(ran.load(Ordering::SeqCst), 0, "the killed loser ran");
        let op = c.stats();
        assert_eq!(op.op("loser").unwrap().counts.killed, 1, "{id}");
    });
}

#[test]
fn a_finished_call_is_not_touched_by_the_drop() {
    with_coordinator(builder("kod-finished"), |c| {
        let call = Task::new("quick").spawn(|| 5).kill_on_drop();
        let id = call.id();
        assert_eq!(block_on(call).unwrap(), 5);
        let unawaited = Task::new("quick").spawn(|| 6).kill_on_drop();
        eventually("it finishes", || unawaited.is_finished());
        drop(unawaited);
        assert_eq!(c.stats().op("quick").unwrap().counts.completed, 2, "{id}");
    });
}

#[test]
fn a_kill_handle_kill_reads_as_a_kill_by_the_token() {
    with_coordinator(builder("kill-handle-reason"), |_| {
        let saw = Arc::new(AtomicUsize::new(0));
        let mut token = until_cancelled(&saw);
        let handle = token.kill_handle();
        eventually("the call runs", || token.state() == TokenState::Executing);
        assert!(handle.kill());
        let err = tokengate_tests::settle(&mut token).unwrap_err();
        assert_eq!(err.kill_reason(), Some(KillReason::Token));
        assert!(!handle.kill(), "a call is killed once");
        eventually("the body saw the kill", || saw.load(Ordering::SeqCst) == 1);
    });
}

#[test]
fn a_kill_on_drop_can_be_awaited_waited_on_and_detached() {
    with_coordinator(builder("kod-forms"), |_| {
        assert_eq!(Task::new("w").spawn(|| 1).kill_on_drop().wait().unwrap(), 1);
        let saw = Arc::new(AtomicUsize::new(0));
        let detached = until_cancelled(&saw).kill_on_drop().detach();
        eventually("the call runs", || {
            detached.state() == TokenState::Executing
        });
        let handle = detached.kill_handle();
        drop(detached);
        assert!(!handle.is_finished(), "a detached call runs on");
        assert!(handle.kill());
        eventually("the body saw the kill", || saw.load(Ordering::SeqCst) == 1);
    });
}

#[test]
fn a_kill_handle_kills_from_another_thread() {
    with_coordinator(builder("kill-handle"), |_| {
        let saw = Arc::new(AtomicUsize::new(0));
        let token = until_cancelled(&saw);
        eventually("the call runs", || token.state() == TokenState::Executing);
        let handle = token.kill_handle();
        assert_eq!(handle.id(), token.id());
        assert!(!handle.is_finished());
        let clones: Vec<_> = (0..3).map(|_| handle.clone()).collect();
        let killers: Vec<_> = clones
            .into_iter()
            .map(|h| std::thread::spawn(move || h.kill()))
            .collect();
        let kills = killers
            .into_iter()
            .map(|k| k.join().unwrap())
            .filter(|&killed| killed)
            .count();
        assert_eq!(kills, 1, "exactly one kill takes effect");
        let err = tokengate_tests::resolve(token).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Killed);
        assert!(handle.is_finished());
        assert!(!handle.kill());
        eventually("the body saw the kill", || saw.load(Ordering::SeqCst) == 1);
    });
}

#[test]
fn a_kill_handle_outlives_its_finished_call_harmlessly() {
    with_coordinator(builder("kill-handle-late"), |_| {
        let token = Task::new("brief").spawn(|| vec![0u8; 1024]);
        let handle = token.kill_handle();
        assert_eq!(value(token).len(), 1024);
        assert!(handle.is_finished());
        assert!(!handle.kill());
        fn send_sync<T: Send + Sync + Clone>(_: &T) {}
        send_sync(&handle);
    });
}
