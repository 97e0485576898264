use tokengate::task_token_guard;

pub struct Counter {
    n: u64,
}

impl Counter {
    #[task_token_guard]
    pub fn get(&self) -> u64 {
        self.n
    }

    #[task_token_guard]
    pub fn bump(&mut self) {
        self.n += 1;
    }

    #[task_token_guard]
    pub fn explicit(self: &Self) -> u64 {
        self.n
    }
}

fn main() {
    let mut counter = Counter { n: 0 };
    let _a = counter.get();
    let _b = counter.bump();
    let _c = counter.explicit();
}
