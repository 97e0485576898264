use tokengate::task_token_guard;

// A storage call waits for a turn of this host's storage tier, which a call
// run on another host would not hold: the key written later is refused.
#[task_token_guard(remote = true, storage_speed = "FAST")]
fn io_then_remote() {}

#[task_token_guard(storage_speed = "FAST", remote = true)]
fn remote_then_io() {}

// Leads with equal keys share one domain, but remote leads run on whichever
// worker host takes them: a remote lead is a domain of its own there.
#[task_token_guard(external_calls = ["child"], remote = "gpu", hash_policy = "fast")]
fn keyed_lead(user: u64) -> u64 {
    user
}

#[task_token_guard(remote = true, external_calls = ["child"], digest_policy = "short")]
fn digested_lead() {}

// `remote = false` is as good as absent: it excludes nothing.
#[task_token_guard(remote = false, storage_speed = "FAST")]
fn local_io() {}

fn main() {
    let _a = io_then_remote();
    let _b = remote_then_io();
    let _c = keyed_lead(1);
    let _d = digested_lead();
    let _e = local_io();
}
