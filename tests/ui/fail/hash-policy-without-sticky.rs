use tokengate::task_token_guard;

// `hash_policy` chooses how a sticky key, or a lead's seed, is made from the
// arguments; a fn that is neither has no such key.
#[task_token_guard(hash_policy = "fast")]
fn plain(x: u64) -> u64 {
    x
}

fn main() {
    let _a = plain(1);
}
