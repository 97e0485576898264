use tokengate::task_token_guard;

// `"err"` retries an `Err` value, so the fn must return a `Result`.
#[task_token_guard(retries = 2, retry_on = ["panic", "err"])]
fn count(n: u64) -> u64 {
    n
}

#[task_token_guard(retries = 2, retry_on = ["err"])]
fn nothing() {}

// Written as `Result`, but not `std::result::Result`: rustc says so, on the
// return type.
pub enum Result<T> {
    Done(T),
}

#[task_token_guard(retries = 2, retry_on = ["err"])]
fn own_result(n: u64) -> Result<u64> {
    Result::Done(n)
}

fn main() {
    let _a = count(1);
    let _b = nothing();
    let _c = own_result(1);
}
