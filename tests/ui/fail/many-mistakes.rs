use tokengate::task_token_guard;

pub struct Cache;

impl Cache {
    // Every mistake is reported at once, each on its own token.
    #[task_token_guard(weight = "huge", timeout = "soon", color = "red")]
    pub async fn lookup(&self, key: &str) -> u64 {
        key.len() as u64
    }
}

fn main() {}
