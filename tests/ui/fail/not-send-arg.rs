use std::rc::Rc;

use tokengate::task_token_guard;

#[task_token_guard]
fn count(shared: Rc<Vec<u8>>) -> usize {
    shared.len()
}

#[task_token_guard]
fn address(ptr: *const u8) -> usize {
    ptr as usize
}

fn main() {
    let _a = count(Rc::new(Vec::new()));
    let _b = address(std::ptr::null());
}
