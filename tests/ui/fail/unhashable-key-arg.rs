use tokengate::task_token_guard;

pub struct Memo {
    pub text: String,
}

// Only the arguments marked `#[key]` form the key, so only they need `Hash`:
// `rate` is reported, `memo` is not.
#[task_token_guard(sticky_anchor = "accounts", hash_policy = "fast")]
fn settle(#[key] account: u64, #[key] rate: f64, memo: Memo) -> f64 {
    rate * account as f64 + memo.text.len() as f64
}

fn main() {
    let _a = settle(1, 0.5, Memo { text: String::new() });
}
