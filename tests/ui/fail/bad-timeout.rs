use tokengate::task_token_guard;

#[task_token_guard(timeout = "abc")]
fn unparseable() {}

#[task_token_guard(timeout = "2d")]
fn unknown_unit() {}

#[task_token_guard(timeout = "0ms")]
fn zero() {}

#[task_token_guard(timeout = "1.5ns")]
fn sub_nanosecond() {}

#[task_token_guard(timeout = "6000000h")]
fn too_long() {}

fn main() {
    let _a = unparseable();
    let _b = unknown_unit();
    let _c = zero();
    let _d = sub_nanosecond();
    let _e = too_long();
}
