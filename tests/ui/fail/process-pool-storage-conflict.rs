use tokengate::task_token_guard;

// An IO call runs on an IO thread, a process-pool call in a worker process:
// `storage_speed` and `process_pool = true` exclude each other, and the key
// written later is the error.
#[task_token_guard(storage_speed = "FAST", process_pool = true)]
fn io_then_pool(path: String) -> usize {
    path.len()
}

#[task_token_guard(process_pool = true, storage_speed = "SLOW")]
fn pool_then_io(path: String) -> usize {
    path.len()
}

// `process_pool = false` is a thread call, which IO may be.
#[task_token_guard(storage_speed = "FAST", process_pool = false)]
fn io(path: String) -> usize {
    path.len()
}

fn main() {
    let _a = io_then_pool(String::new());
    let _b = pool_then_io(String::new());
    let _c = io(String::new());
}
