use std::rc::Rc;

use tokengate::task_token_guard;

#[task_token_guard]
fn make(n: u8) -> Rc<u8> {
    Rc::new(n)
}

fn main() {
    let _token = make(1);
}
