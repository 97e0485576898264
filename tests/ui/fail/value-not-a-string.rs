use tokengate::task_token_guard;

#[task_token_guard(weight = heavy)]
fn bare_word() {}

#[task_token_guard(timeout = 250ms)]
fn bare_number() {}

#[task_token_guard(op = concat!("a", "b"))]
fn macro_call() {}

fn main() {
    let _a = bare_word();
    let _b = bare_number();
    let _c = macro_call();
}
