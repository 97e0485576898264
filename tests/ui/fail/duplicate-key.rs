use tokengate::task_token_guard;

#[task_token_guard(weight = "light", op = "square", weight = "heavy")]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    let _token = square(3);
}
