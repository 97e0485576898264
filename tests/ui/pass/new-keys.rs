//! Every new key with each of its valid values, in any case.
#![deny(warnings)]

use tokengate::{TaskToken, Weight, task_token_guard};

#[task_token_guard(storage_speed = "SLOW")]
fn read_slow(path: String) -> usize {
    path.len()
}

#[task_token_guard(storage_speed = "moderate", op = "read_moderate")]
fn read_moderate() {}

#[task_token_guard(storage_speed = "Fast", weight = "light")]
fn read_fast() {}

#[task_token_guard(storage_speed = "INSANE", timeout = "2s")]
fn read_insane() {}

#[task_token_guard(sticky_anchor = "user_session")]
fn touch_session(user: u64) -> u64 {
    user
}

#[task_token_guard(external_calls = ["child_op", "other_op"])]
fn lead(seed: u64) -> u64 {
    seed
}

#[task_token_guard(sticky_anchor = "a", hash_policy = "NONE")]
fn hash_none(x: u8) -> u8 {
    x
}

#[task_token_guard(sticky_anchor = "a", hash_policy = "fast")]
fn hash_fast(x: u8) -> u8 {
    x
}

#[task_token_guard(sticky_anchor = "a", hash_policy = "Standard")]
fn hash_standard(x: u8) -> u8 {
    x
}

#[task_token_guard(sticky_anchor = "a", hash_policy = "full")]
fn hash_full(x: u8) -> u8 {
    x
}

#[task_token_guard(sticky_anchor = "a", digest_policy = "full")]
fn digest_full(x: u8) -> u8 {
    x
}

#[task_token_guard(sticky_anchor = "a", digest_policy = "SHORT")]
fn digest_short(x: u8) -> u8 {
    x
}

#[task_token_guard(external_calls = ["child_op"], digest_policy = "fast")]
fn digest_fast(x: u8) -> u8 {
    x
}

#[task_token_guard(external_calls = ["child_op"], digest_policy = "Minimal")]
fn digest_minimal(x: u8) -> u8 {
    x
}

// Only the arguments marked `#[key]` form the key and need the policy's
// trait: `f64` has no `Hash`, and `Memo` no serde.
#[task_token_guard(sticky_anchor = "accounts", hash_policy = "fast")]
fn settle(#[key] account: u64, amount: f64) -> f64 {
    amount + account as f64
}

pub struct Memo(pub String);

#[task_token_guard(sticky_anchor = "accounts")]
fn annotate(#[key] account: u64, #[key] day: u32, memo: Memo) -> usize {
    memo.0.len() + account as usize + day as usize
}

// A lead keyed on its arguments, as the original's lead example writes it.
#[task_token_guard(
    op = "lead",
    weight = "medium",
    hash_policy = "fast",
    digest_policy = "fast",
    external_calls = ["child"]
)]
fn keyed_lead(n: i64) -> i64 {
    n
}

#[task_token_guard(external_calls = ["child"], hash_policy = "full")]
fn marked_lead(#[key] tenant: String, payload: Memo) -> usize {
    tenant.len() + payload.0.len()
}

#[task_token_guard(external_calls = ["child"], hash_policy = "none")]
fn unkeyed_lead(n: i64) -> i64 {
    n
}

// `limit` goes with every other key; `weight` goes with `storage_speed`.
#[task_token_guard(limit = "github_api")]
fn limited() {}

#[task_token_guard(limit = "db.primary-2", storage_speed = "MODERATE", weight = "heavy")]
fn limited_io() {}

#[task_token_guard(limit = "shards", sticky_anchor = "shard", process_pool = false)]
fn limited_sticky(shard: u32) -> u32 {
    shard
}

// Every key that can go together, in one attribute.
#[task_token_guard(
    op = "everything",
    weight = "heavy",
    timeout = "250ms",
    sticky_anchor = "tenant",
    hash_policy = "full",
    digest_policy = "short"
)]
fn everything(tenant: String, shard: u32) -> String {
    format!("{tenant}/{shard}")
}

fn main() {
    // No coordinator is running, so every call fails at once.
    let token = read_slow("/tmp/x".to_owned());
    assert_eq!(token.op(), "read_slow");
    assert!(no_coordinator(token));
    assert_eq!(read_moderate().op(), "read_moderate");
    assert_eq!(read_fast().weight(), Weight::Light);
    assert!(no_coordinator(read_insane()));

    assert!(no_coordinator(touch_session(7)));
    assert!(no_coordinator(lead(1)));

    for token in [
        hash_none(1),
        hash_fast(1),
        hash_standard(1),
        hash_full(1),
        digest_full(1),
        digest_short(1),
        digest_fast(1),
        digest_minimal(1),
    ] {
        assert!(no_coordinator(token));
    }

    assert!(no_coordinator(settle(1, 2.5)));
    assert!(no_coordinator(keyed_lead(1)));
    assert!(no_coordinator(unkeyed_lead(1)));
    assert!(no_coordinator(annotate(1, 2, Memo(String::new()))));
    assert!(no_coordinator(marked_lead("acme".to_owned(), Memo(String::new()))));
    assert!(no_coordinator(limited()));
    let token = limited_io();
    assert_eq!(token.weight(), Weight::Heavy);
    assert!(no_coordinator(token));
    assert!(no_coordinator(limited_sticky(3)));

    let token = everything("acme".to_owned(), 3);
    assert_eq!(token.op(), "everything");
    assert_eq!(token.weight(), Weight::Heavy);
    assert!(no_coordinator(token));
}

/// Whether the call failed at once for want of a coordinator, as every call
/// here does.
fn no_coordinator<T>(token: TaskToken<T>) -> bool {
    token.wait().is_err_and(|error| error.is_no_coordinator())
}
