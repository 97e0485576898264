use tokengate::task_token_guard;

#[derive(Clone)]
pub struct Job(u32);

impl Job {
    #[task_token_guard(op = "job_run", retries = 2)]
    fn run(self) -> u32 {
        self.0
    }
}

fn main() {
    let _ = Job(1).run();
}
