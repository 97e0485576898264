use tokengate::task_token_guard;

// Only sticky keys and lead seeds are digested.
#[task_token_guard(op = "plain", digest_policy = "short")]
fn plain(x: u64) -> u64 {
    x
}

#[task_token_guard(storage_speed = "FAST", digest_policy = "minimal")]
fn io() {}

fn main() {
    let _a = plain(1);
    let _b = io();
}
