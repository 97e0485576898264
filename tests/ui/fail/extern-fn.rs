use tokengate::task_token_guard;

#[task_token_guard]
extern "C" fn callback(x: u32) -> u32 {
    x
}

fn main() {
    let _token = callback(1);
}
