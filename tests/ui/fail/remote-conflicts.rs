use tokengate::task_token_guard;

// A storage call waits for a turn of this host's storage tier, which a call
// run on another host would not hold: the key written later is refused.
#[task_token_guard(remote = true, storage_speed = "FAST")]
fn io_then_remote() {}

#[task_token_guard(storage_speed = "FAST", remote = true)]
fn remote_then_io() {}

// A lead's children run in its worker group on this host.
#[task_token_guard(external_calls = ["child"], remote = "gpu")]
fn lead() {}

// `remote = false` is as good as absent: it excludes nothing.
#[task_token_guard(remote = false, storage_speed = "FAST")]
fn local_io() {}

fn main() {
    let _a = io_then_remote();
    let _b = remote_then_io();
    let _c = lead();
    let _d = local_io();
}
