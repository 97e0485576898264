//! `memory_limit`: a call that allocates past its limit fails with an error
//! that names it, its worker is replaced, and the limit ends with the call.

use tokengate_tests::{builder, resolve, value};

use crate::{fns, wait_exited};

const MIB: usize = 1 << 20;

#[test]
fn a_call_past_its_memory_limit_fails_naming_it_and_the_limit_ends_with_the_call() {
    let coordinator = builder("p-memory").process_workers(1).start().unwrap();
    let bound = coordinator.enter();

    // Well under the limit: the worker's own memory does not count against it.
    let (first, pages) = value(fns::allocate_limited(8 * MIB));
    assert_eq!(pages, 8 * MIB / 4096);

    let err = resolve(fns::allocate_limited(512 * MIB)).unwrap_err();
    assert!(err.is_memory_limit(), "{err}");
    assert!(!err.is_worker_lost(), "{err}");
    assert_eq!(err.lost_worker_pid(), Some(first));
    let text = err.to_string();
    assert!(
        text.contains("exceeded its memory limit of 64 MiB"),
        "{text}"
    );
    wait_exited(first);

    // A fresh worker serves the next call.
    let (second, pages) = value(fns::allocate_limited(8 * MIB));
    assert_ne!(second, first);
    assert_eq!(pages, 8 * MIB / 4096);

    // The same warm worker, which has just run a limited call, is not limited
    // for a call without one.
    let (third, pages) = value(fns::allocate(256 * MIB));
    assert_eq!(third, second);
    assert_eq!(pages, 256 * MIB / 4096);
    // Nor for a limited call after that: the limit counts from what the worker
    // holds when the call starts.
    assert_eq!(value(fns::allocate_limited(48 * MIB)).0, second);

    let stats = coordinator.stats();
    assert_eq!((stats.processes.spawned, stats.processes.lost), (2, 1));
    assert_eq!(stats.op("p_allocate_limited").unwrap().counts.failed, 1);
    drop(bound);
    coordinator.stop();
}

#[test]
fn a_call_without_a_limit_that_aborts_has_lost_its_worker() {
    let coordinator = builder("p-memory-none").process_workers(1).start().unwrap();
    let bound = coordinator.enter();
    let err = resolve(fns::die(true, 0)).unwrap_err();
    assert!(err.is_worker_lost(), "{err}");
    assert!(!err.is_memory_limit(), "{err}");
    drop(bound);
    coordinator.stop();
}
