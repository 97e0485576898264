//! Without a remote backend, `remote` calls run in the coordinator's own
//! process pool: the same encoding, the same errors, no broker.

use crate::fns::*;
use crate::support::{caller, start};

#[test]
fn without_a_backend_remote_calls_run_in_the_local_process_pool() {
    // Panics are reported here, not printed by the worker processes.
    let coordinator = start(caller(2).panic_handler(|_| {}));
    let _bound = coordinator.enter();

    assert_eq!(double(vec![1, 2]).wait().unwrap(), vec![1, 2, 1, 2]);
    let (pid, _) = where_am_i().wait().unwrap();
    assert_ne!(pid, std::process::id(), "ran in a worker process");
    assert_eq!(parse("7".to_owned()).wait().unwrap(), Ok(7));
    assert!(boom("locally".to_owned()).wait().unwrap_err().is_panic());
    let err = picky(Picky(String::new())).wait().unwrap_err();
    assert!(err.is_process_failure(), "{err}");
    assert!(
        err.to_string().contains("a picky value must not be empty"),
        "{err}"
    );

    let stats = coordinator.stats();
    assert!(stats.remote.is_none());
    assert!(stats.processes.spawned > 0);
}
