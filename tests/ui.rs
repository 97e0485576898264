//! Compile tests for `#[task_token_guard]`: `ui/pass` must build and run,
//! `ui/fail` must fail with exactly the errors in the matching `.stderr`.
//!
//! # One toolchain
//!
//! The `.stderr` files pin the compiler's messages, which change from one Rust
//! release to the next and differ between channels. They were generated with
//! stable Rust 1.95 (`rustc 1.95.0`), and the test runs on that toolchain
//! alone: on any other compiler it is ignored, and `cargo test` says why (for
//! example `cargo +nightly test -p tokengate-tests --test ui` reports
//! `test ui ... ignored` with the reason). The pass tests are ignored with
//! them: they deny warnings, so a newer compiler's new lints could fail them
//! for reasons of its own.
//!
//! To regenerate the files, run on stable 1.95
//!
//! ```text
//! TRYBUILD=overwrite cargo +1.95.0 test -p tokengate-tests --test ui
//! ```
//!
//! and review every changed `.stderr`. To move to a newer toolchain, regenerate
//! them on it and change `1.95` here and in the attribute below (the selector
//! and the reason).

#[rustversion::attr(
    not(stable(1.95)),
    ignore = "the `.stderr` files pin the messages of stable rustc 1.95; run on that toolchain"
)]
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
