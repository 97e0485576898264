use tokengate::task_token_guard;

#[task_token_guard(process_pool = 1)]
fn number() {}

#[task_token_guard(process_pool = "yes")]
fn string() {}

#[task_token_guard(process_pool = "true")]
fn quoted_bool() {}

#[task_token_guard(process_pool = yes)]
fn bare_word() {}

fn main() {
    let _a = number();
    let _b = string();
    let _c = quoted_bool();
    let _d = bare_word();
}
