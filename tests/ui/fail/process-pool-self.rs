use tokengate::task_token_guard;

pub struct Counter(u64);

impl Counter {
    // A worker process finds the fn by op name, with nothing to call it on:
    // any `self` is refused, by value or borrowed.
    #[task_token_guard(process_pool = true)]
    pub fn take(self) -> u64 {
        self.0
    }

    #[task_token_guard(process_pool = true)]
    pub fn peek(&self) -> u64 {
        self.0
    }

    // The body runs as a fn of its own, where `Self` is not in scope.
    #[task_token_guard(process_pool = true)]
    pub fn make(n: u64) -> Self {
        Counter(n)
    }

    // An associated fn without `self` that does not name `Self` is fine.
    #[task_token_guard(process_pool = true)]
    pub fn double(n: u64) -> u64 {
        n * 2
    }
}

fn main() {
    let _a = Counter(1).take();
    let _b = Counter(1).peek();
    let _c = Counter::make(1);
    let _d = Counter::double(1);
}
