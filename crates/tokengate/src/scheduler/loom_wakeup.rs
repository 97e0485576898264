//! A loom model of the idle-worker / lane-push hand-off described in the design
//! note ("Lost wake-ups"). It mirrors the order of operations of
//! `worker_main`/`execute` (load drops to 0, then lanes are checked under the
//! lane mutex) and of `Shared::enqueue_waiting`/`Scheduler::nudge_idle` (push
//! under the lane mutex, then read loads and nudge an idle worker).

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::sync::{Arc, Mutex};
use loom::thread;

/// A call pushed to a lane while a worker goes idle is never stranded: either
/// the worker's last lane check finds it, or the caller sees the worker idle
/// and nudges it.
#[test]
fn lane_push_never_strands_a_call() {
    loom::model(|| {
        let lane = Arc::new(Mutex::new(Vec::<u32>::new()));
        let load = Arc::new(AtomicUsize::new(1)); // the worker runs one call
        let nudged = Arc::new(AtomicBool::new(false));

        let worker = {
            let (lane, load) = (lane.clone(), load.clone());
            thread::spawn(move || {
                // `execute`: the call finished.
                load.fetch_sub(1, SeqCst);
                // `find_work`: pull the lane under its mutex.
                lane.lock().unwrap().pop().is_some()
            })
        };
        // Caller: no worker had room at placement time, so push to the lane...
        lane.lock().unwrap().push(7);
        // ...then nudge an idle worker, if any.
        if load.load(SeqCst) == 0 {
            nudged.store(true, SeqCst);
        }
        let found = worker.join().unwrap();
        assert!(found || nudged.load(SeqCst), "the call was stranded");
    });
}
