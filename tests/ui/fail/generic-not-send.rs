use tokengate::task_token_guard;

// `T` needs `Send + 'static` to move to a worker thread.
#[task_token_guard]
fn identity<T>(value: T) -> T {
    value
}

fn main() {
    let _token = identity(1u8);
}
