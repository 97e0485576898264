use tokengate::task_token_guard;

// A limit holds a worker process; a thread call shares the program's.
#[task_token_guard(memory_limit = "256MiB")]
fn on_a_thread(n: u64) -> u64 {
    n
}

#[task_token_guard(process_pool = false, memory_limit = "256MiB")]
fn switched_off(n: u64) -> u64 {
    n
}

fn main() {
    let _a = on_a_thread(1);
    let _b = switched_off(1);
}
