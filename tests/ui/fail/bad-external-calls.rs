use tokengate::task_token_guard;

#[task_token_guard(external_calls = "child_op")]
fn not_a_list() {}

#[task_token_guard(external_calls = [])]
fn empty_list() {}

// Every bad element is reported.
#[task_token_guard(external_calls = ["fetch", "", parse, "fetch"])]
fn bad_elements() {}

fn main() {
    let _a = not_a_list();
    let _b = empty_list();
    let _c = bad_elements();
}
