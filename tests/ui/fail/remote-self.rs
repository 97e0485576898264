use tokengate::task_token_guard;

pub struct Counter(u64);

impl Counter {
    // A worker host finds the fn by op name, with nothing to call it on.
    #[task_token_guard(remote = true)]
    pub fn take(self) -> u64 {
        self.0
    }

    #[task_token_guard(remote = true, process_pool = true)]
    pub fn peek(&self) -> u64 {
        self.0
    }

    // An associated fn without `self` is fine.
    #[task_token_guard(remote = true)]
    pub fn double(n: u64) -> u64 {
        n * 2
    }
}

fn main() {
    let _a = Counter(1).take();
    let _b = Counter(1).peek();
    let _c = Counter::double(1);
}
