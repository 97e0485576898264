//! Compile tests for `#[task_token_guard]`: `ui/pass` must build and run,
//! `ui/fail` must fail with exactly the errors in the matching `.stderr`.
//!
//! The `.stderr` files pin the compiler's output, which changes between Rust
//! releases; regenerate them with `TRYBUILD=overwrite cargo test -p tokengate-tests
//! --test ui` and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
