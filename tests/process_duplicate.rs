//! Two `process_pool` fns with one op name: a coordinator refuses to start.
//! Its own binary, since the duplicate is in every coordinator's executable.

use tokengate::{OperationsCoordinator, task_token_guard};

mod billing {
    #[tokengate::task_token_guard(op = "total", process_pool = true)]
    pub(crate) fn total(cents: Vec<u64>) -> u64 {
        cents.iter().sum()
    }
}

mod stock {
    #[tokengate::task_token_guard(op = "total", process_pool = true)]
    pub(crate) fn total(items: Vec<u32>) -> u64 {
        items.len() as u64
    }
}

#[task_token_guard(op = "distinct", process_pool = true)]
fn distinct() -> u8 {
    1
}

#[test]
fn a_duplicated_op_name_is_a_start_error_naming_both_fns() {
    let err = OperationsCoordinator::builder().start().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("`total`"), "{text}");
    assert!(text.contains("process_duplicate::billing::total"), "{text}");
    assert!(text.contains("process_duplicate::stock::total"), "{text}");
    // The fns exist to be registered; their calls fail without a coordinator.
    assert!(
        billing::total(vec![1])
            .wait()
            .unwrap_err()
            .is_no_coordinator()
    );
    assert!(
        stock::total(vec![1])
            .wait()
            .unwrap_err()
            .is_no_coordinator()
    );
    assert!(distinct().wait().unwrap_err().is_no_coordinator());
}
