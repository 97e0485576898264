use tokengate::task_token_guard;

#[task_token_guard]
struct Job;

trait Worker {
    #[task_token_guard]
    fn work(self) -> u8;
}

fn main() {}
