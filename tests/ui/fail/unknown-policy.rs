use tokengate::task_token_guard;

#[task_token_guard(sticky_anchor = "user", hash_policy = "sha256")]
fn bad_hash(user: u64) -> u64 {
    user
}

#[task_token_guard(sticky_anchor = "user", digest_policy = "md5")]
fn bad_digest(user: u64) -> u64 {
    user
}

fn main() {
    let _a = bad_hash(1);
    let _b = bad_digest(1);
}
