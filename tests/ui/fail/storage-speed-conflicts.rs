use tokengate::task_token_guard;

// An IO call runs on an IO thread, outside the core groups that sticky domains
// and leads route to: `storage_speed` excludes both.
#[task_token_guard(storage_speed = "FAST", sticky_anchor = "disk")]
fn sticky_io(path: String) -> usize {
    path.len()
}

#[task_token_guard(external_calls = ["parse"], storage_speed = "SLOW")]
fn lead_io(path: String) -> usize {
    path.len()
}

// All three: one error on each key that is refused.
#[task_token_guard(storage_speed = "INSANE", sticky_anchor = "a", external_calls = ["b"])]
fn all_three() {}

fn main() {
    let _a = sticky_io(String::new());
    let _b = lead_io(String::new());
    let _c = all_three();
}
