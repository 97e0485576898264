use tokengate::task_token_guard;

#[task_token_guard(process_pool = true, memory_limit = "lots")]
fn unparseable() {}

#[task_token_guard(process_pool = true, memory_limit = "256mb")]
fn unknown_unit() {}

#[task_token_guard(process_pool = true, memory_limit = "1.5GiB")]
fn fraction() {}

#[task_token_guard(process_pool = true, memory_limit = "0MiB")]
fn zero() {}

#[task_token_guard(process_pool = true, memory_limit = "99999999999GiB")]
fn too_large() {}

fn main() {
    let _a = unparseable();
    let _b = unknown_unit();
    let _c = fraction();
    let _d = zero();
    let _e = too_large();
}
