use tokengate::task_token_guard;

// The limit holds a worker process on the worker host: a remote call without
// `process_pool` runs on a thread there, which cannot be bounded.
#[task_token_guard(remote = true, memory_limit = "64MiB")]
fn unbounded(data: Vec<u8>) -> usize {
    data.len()
}

// With `process_pool` too, the host's process pool holds the limit.
#[task_token_guard(remote = true, process_pool = true, memory_limit = "64MiB")]
fn bounded(data: Vec<u8>) -> usize {
    data.len()
}

fn main() {
    let _a = unbounded(vec![1]);
    let _b = bounded(vec![1]);
}
