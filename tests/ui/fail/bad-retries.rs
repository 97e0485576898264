use tokengate::task_token_guard;

// `retries` takes a whole number from 0 to 100, unquoted.
#[task_token_guard(retries = "3")]
fn quoted() {}

#[task_token_guard(retries = 2.5)]
fn fractional() {}

#[task_token_guard(retries = many)]
fn word() {}

#[task_token_guard(retries = 101)]
fn too_many() {}

fn main() {
    let _a = quoted();
    let _b = fractional();
    let _c = word();
    let _d = too_many();
}
