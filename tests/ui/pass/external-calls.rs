//! A lead: `external_calls` names the ops its children run, which then follow
//! the lead's worker group.
#![deny(warnings)]

use tokengate::{TaskToken, Weight, task_token_guard};

#[task_token_guard(op = "parent", external_calls = ["child_op"])]
fn parent(n: u64) -> u64 {
    n
}

#[task_token_guard(
    weight = "heavy",
    external_calls = ["fetch", "parse", "store"],
    digest_policy = "short",
    timeout = "1s"
)]
fn pipeline(url: String) -> usize {
    url.len()
}

// A list passed through a `macro_rules!` fragment.
macro_rules! lead {
    ($name:ident, $calls:expr) => {
        #[task_token_guard(external_calls = $calls)]
        fn $name() {}
    };
}

lead!(from_macro, ["a", "b"]);

fn main() {
    let token = parent(1);
    assert_eq!(token.op(), "parent");
    assert!(no_coordinator(token));

    let token = pipeline("https://example.invalid".to_owned());
    assert_eq!(token.weight(), Weight::Heavy);
    assert!(no_coordinator(token));

    assert!(no_coordinator(from_macro()));
}

/// Whether the call failed at once for want of a coordinator, as every call
/// here does.
fn no_coordinator<T>(token: TaskToken<T>) -> bool {
    token.wait().is_err_and(|error| error.is_no_coordinator())
}
