use tokengate::task_token_guard;

// `retry_backoff` and `queue_timeout` are durations, as `timeout` is; each
// error names its key.
#[task_token_guard(retries = 1, retry_backoff = "soon")]
fn unparseable_backoff() {}

#[task_token_guard(retries = 1, retry_backoff = "0s")]
fn zero_backoff() {}

#[task_token_guard(queue_timeout = "2d")]
fn unknown_unit() {}

#[task_token_guard(queue_timeout = "0ms")]
fn zero_queue_timeout() {}

#[task_token_guard(queue_timeout = 100)]
fn not_a_string() {}

fn main() {
    let _a = unparseable_backoff();
    let _b = zero_backoff();
    let _c = unknown_unit();
    let _d = zero_queue_timeout();
    let _e = not_a_string();
}
