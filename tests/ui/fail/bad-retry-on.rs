use tokengate::task_token_guard;

#[task_token_guard(retries = 3, retry_on = ["panic", "oom"])]
fn unknown_cause() {}

#[task_token_guard(retries = 3, retry_on = ["timeout", "Timeout"])]
fn repeated_cause() {}

#[task_token_guard(retries = 3, retry_on = [])]
fn no_cause() {}

#[task_token_guard(retries = 3, retry_on = "panic")]
fn not_a_list() {}

fn main() {
    let _a = unknown_cause();
    let _b = repeated_cause();
    let _c = no_cause();
    let _d = not_a_list();
}
