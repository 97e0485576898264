use tokengate::task_token_guard;

#[task_token_guard]
async fn fetch(id: u64) -> String {
    id.to_string()
}

// The fn is still emitted as a sync fn returning a token, so callers that
// `.await` it type-check: the only error is the one on `async`.
async fn caller() -> usize {
    fetch(1).await.map(|s| s.len()).unwrap_or(0)
}

// An `impl Trait` return type too: the stand-in needs no hidden type for it.
#[task_token_guard]
async fn count(n: u64) -> impl Iterator<Item = u64> + Send + 'static {
    0..n
}

fn main() {
    drop(caller());
    drop(count(3));
}
