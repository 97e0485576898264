use tokengate::task_token_guard;

// `#[key]` marks an argument of a sticky call's key: a fn that is not sticky
// has no such key.
#[task_token_guard(op = "settle")]
fn settle(#[key] account: u64, amount: i64) -> i64 {
    amount + account as i64
}

// A lead without a `hash_policy` seeds its domain from its token id, not from
// its arguments.
#[task_token_guard(external_calls = ["post"])]
fn batch(#[key] account: u64, entries: u32) -> u32 {
    entries + account as u32
}

// Under `hash_policy = "none"` the key is the anchor alone.
#[task_token_guard(sticky_anchor = "ledger", hash_policy = "none")]
fn append(#[key] account: u64, entry: String) -> usize {
    entry.len() + account as usize
}

fn main() {
    let _a = settle(1, 2);
    let _b = batch(1, 2);
    let _c = append(1, String::new());
}
