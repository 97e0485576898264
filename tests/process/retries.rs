//! `retries` on a process-pool fn: a lost worker process is retried on a
//! fresh one, with the arguments encoded once and sent again.

use tokengate_tests::{builder, settle, with_coordinator};

use crate::{fns, scratch_dir};

#[test]
fn a_call_whose_worker_dies_is_retried_on_a_fresh_worker() {
    let dir = scratch_dir("retry-lost");
    with_coordinator(builder("p-retry-lost").process_workers(1), |c| {
        let marker = dir.join("died").display().to_string();
        let mut token = fns::dies_once(marker);
        let pid = settle(&mut token).expect("the retry succeeds");
        assert_ne!(pid, std::process::id());
        assert_eq!(token.attempts(), 2);
        assert_eq!(c.stats().op("p_dies_once").unwrap().retries, 1);

        let mut hopeless = fns::always_dies();
        let err = settle(&mut hopeless).unwrap_err();
        assert!(err.is_worker_lost(), "{err}");
        assert_eq!(hopeless.attempts(), 3);
    });
}
