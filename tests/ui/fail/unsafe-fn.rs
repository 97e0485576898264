use tokengate::task_token_guard;

#[task_token_guard]
unsafe fn read(ptr: usize) -> u8 {
    ptr as u8
}

fn main() {
    let _token = unsafe { read(0) };
}
