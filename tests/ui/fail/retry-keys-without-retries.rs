use tokengate::task_token_guard;

// `retry_backoff` and `retry_on` shape retries: without `retries`, there are
// none, and the keys would have no effect.
#[task_token_guard(retry_backoff = "10ms")]
fn backoff_alone() {}

#[task_token_guard(retry_on = ["panic"], op = "lonely")]
fn causes_alone() {}

// With `retries`, both are fine, `retries = 0` included.
#[task_token_guard(retries = 0, retry_backoff = "10ms", retry_on = ["panic"])]
fn with_retries() {}

fn main() {
    let _a = backoff_alone();
    let _b = causes_alone();
    let _c = with_retries();
}
