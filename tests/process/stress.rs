//! Stress: 4 threads make 1,200 process-pool calls (quick, slow, and some that
//! abort their worker), in small batches, while another thread kills random
//! recent calls by id, queued or running.
//! Every token resolves exactly once; a call that completed ran exactly once
//! (each claims a marker file exclusively, so a second run would fail); the
//! counters add up; the pool never exceeds its size; and every worker is gone
//! after stop.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokengate_tests::{SplitMix64, builder, resolve};

use crate::{exited, fns, scratch_dir};

const THREADS: u32 = 4;
const PER_THREAD: u32 = 300;
const SIZE: usize = 2;

#[test]
fn every_process_call_resolves_once_under_kills_and_crashes() {
    let dir = scratch_dir("stress");
    let dir_arg = dir.display().to_string();
    let coordinator = Arc::new(builder("p-stress").process_workers(SIZE).start().unwrap());
    // Ids of recent calls, and of recent slow calls (likely running).
    let recent: Arc<[Mutex<Vec<u64>>; 2]> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let seen_pids: Arc<Mutex<Vec<u32>>> = Arc::default();

    let killer = {
        let (coordinator, recent, done, seen_pids) = (
            coordinator.clone(),
            recent.clone(),
            done.clone(),
            seen_pids.clone(),
        );
        std::thread::spawn(move || {
            let mut rng = SplitMix64::new(7);
            let mut kills = 0;
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_micros(200 + rng.below(800)));
                let id = {
                    let recent = recent[rng.below(2) as usize].lock().unwrap();
                    (!recent.is_empty()).then(|| recent[rng.below(recent.len() as u64) as usize])
                };
                if let Some(id) = id {
                    kills += u32::from(coordinator.kill_token(id.into()));
                }
                let p = coordinator.stats().processes;
                assert!(p.alive <= SIZE, "{p:?}");
                seen_pids
                    .lock()
                    .unwrap()
                    .extend(coordinator.worker_processes());
            }
            kills
        })
    };

    let callers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (coordinator, recent, dir_arg) =
                (coordinator.clone(), recent.clone(), dir_arg.clone());
            std::thread::spawn(move || {
                let _bound = coordinator.enter();
                let mut rng = SplitMix64::new(u64::from(t) + 100);
                let mut calls = Vec::new();
                let mut results = Vec::new();
                for n in 0..PER_THREAD {
                    let i = t * PER_THREAD + n;
                    let roll = rng.below(100);
                    let (kind, token) = if roll < 3 {
                        ("crash", fns::die(true, 0))
                    } else if roll < 15 {
                        ("slow", fns::slow_mark(dir_arg.clone(), i, 30))
                    } else {
                        ("quick", fns::mark(dir_arg.clone(), i))
                    };
                    for list in &recent[..1 + usize::from(kind == "slow")] {
                        let mut list = list.lock().unwrap();
                        list.push(token.id().as_u64());
                        if list.len() > 32 {
                            list.remove(0);
                        }
                    }
                    calls.push((i, kind, token));
                    // Small batches, so that recent calls are often running.
                    if calls.len() == 8 {
                        let batch = calls.drain(..).map(|(i, kind, t)| (i, kind, resolve(t)));
                        results.extend(batch);
                    }
                }
                results.extend(calls.into_iter().map(|(i, kind, t)| (i, kind, resolve(t))));
                results
            })
        })
        .collect();

    let mut completed = 0u64;
    let mut failed = 0u64;
    let mut killed = 0u64;
    let mut crashes = 0u64;
    for caller in callers {
        for (i, kind, result) in caller.join().unwrap() {
            let marker = dir.join(i.to_string());
            crashes += u64::from(kind == "crash");
            match (kind, result) {
                ("crash", Err(err)) if err.is_worker_lost() => failed += 1,
                (_, Ok(v)) => {
                    assert_eq!(v, i);
                    assert!(marker.exists(), "call {i} completed without running");
                    completed += 1;
                }
                (_, Err(err)) if err.is_killed() => killed += 1,
                (kind, other) => panic!("{kind} call {i}: unexpected {other:?}"),
            }
        }
    }
    done.store(true, Ordering::SeqCst);
    let kills = killer.join().unwrap();
    assert!(u64::from(kills) >= killed);
    assert!(killed > 0, "the killer never got a call");

    let stats = coordinator.stats();
    let t = stats.tokens;
    assert_eq!(t.submitted, u64::from(THREADS * PER_THREAD));
    assert_eq!(
        (t.completed, t.failed, t.killed, t.timed_out),
        (completed, failed, killed, 0)
    );
    assert_eq!(stats.in_flight, 0);
    let p = stats.processes;
    // A worker is killed only for a call killed while it ran, and lost only
    // to a crash (whose call may have been killed first).
    assert!(p.killed <= killed, "{p:?}");
    assert!(
        failed <= p.lost && p.lost <= crashes,
        "{p:?}, {crashes} crashes"
    );
    let pids = coordinator.worker_processes();
    Arc::into_inner(coordinator).unwrap().stop();
    let mut all = seen_pids.lock().unwrap().clone();
    all.extend(pids);
    all.sort_unstable();
    all.dedup();
    for pid in all {
        assert!(exited(pid), "worker {pid} outlived stop");
    }
}
