use tokengate::task_token_guard;

#[task_token_guard(op = "a" weight = "heavy")]
fn missing_comma() {}

#[task_token_guard(heavy)]
fn missing_value() {}

fn main() {
    let _a = missing_comma();
    let _b = missing_value();
}
