use tokengate::task_token_guard;

#[task_token_guard(op = "")]
fn nameless() {}

fn main() {
    let _token = nameless();
}
