use tokengate::task_token_guard;

#[task_token_guard(remote = 1)]
fn number() {}

#[task_token_guard(remote = "true")]
fn quoted_bool() {}

#[task_token_guard(remote = "gpu pool")]
fn spaced_pool() {}

#[task_token_guard(remote = "")]
fn empty_pool() {}

fn main() {
    let _a = number();
    let _b = quoted_bool();
    let _c = spaced_pool();
    let _d = empty_pool();
}
