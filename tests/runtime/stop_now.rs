//! `stop_now`: every call, queued and running, is killed at once, then the
//! coordinator stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokengate::{KillReason, Task, TaskToken};
use tokengate_tests::{Gate, builder, eventually, resolve};

#[test]
fn stop_now_kills_queued_and_running_calls_and_resolves_every_token() {
    let coordinator = builder("stop-now")
        .core_groups(1)
        .workers_per_core(2)
        .limit("api", 1)
        .start()
        .unwrap();
    let gate = Gate::new();
    let cancelled = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (running, queued, at_gate) = coordinator.run(|| {
        let spin = |task: Task| {
            let (gate, cancelled, started) = (gate.clone(), cancelled.clone(), started.clone());
            task.spawn(move || {
                started.fetch_add(1, Ordering::SeqCst);
                if !gate.wait_or_cancelled() {
                    cancelled.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        let running: Vec<TaskToken<()>> = (0..2).map(|_| spin(Task::new("busy"))).collect();
        let queued: Vec<TaskToken<()>> = (0..20).map(|_| spin(Task::new("queued"))).collect();
        let at_gate: Vec<TaskToken<()>> = (0..5)
            .map(|_| spin(Task::new("limited").limit("api")))
            .collect();
        (running, queued, at_gate)
    });
    eventually("both workers run", || started.load(Ordering::SeqCst) == 2);
    let done = Task::new("done");
    let finished = coordinator.run(|| done.spawn(|| 3));
    // Nothing frees a worker: `finished` is queued too, and killed with the rest.
    coordinator.stop_now();
    for token in running.into_iter().chain(queued).chain(at_gate) {
        assert!(
            token.is_finished(),
            "stop_now returned with a pending token"
        );
        let err = resolve(token).unwrap_err();
        assert_eq!(err.kill_reason(), Some(KillReason::StopNow), "{err}");
    }
    assert_eq!(
        resolve(finished).unwrap_err().kill_reason(),
        Some(KillReason::StopNow)
    );
    // The running bodies saw the kill and returned early; none other started.
    assert_eq!(cancelled.load(Ordering::SeqCst), 2);
    assert_eq!(started.load(Ordering::SeqCst), 2);
}

#[test]
fn stop_now_keeps_finished_results() {
    let coordinator = builder("stop-now-done").start().unwrap();
    let token = coordinator.run(|| Task::new("quick").spawn(|| 5));
    eventually("it finished", || token.is_finished());
    coordinator.stop_now();
    assert_eq!(resolve(token).unwrap(), 5);
}
