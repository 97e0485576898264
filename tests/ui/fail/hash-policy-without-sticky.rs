use tokengate::task_token_guard;

// `hash_policy` chooses how a sticky key is made from the arguments; without
// `sticky_anchor` there is no such key, not even for a lead.
#[task_token_guard(hash_policy = "fast")]
fn plain(x: u64) -> u64 {
    x
}

#[task_token_guard(external_calls = ["child_op"], hash_policy = "full")]
fn lead(x: u64) -> u64 {
    x
}

fn main() {
    let _a = plain(1);
    let _b = lead(1);
}
