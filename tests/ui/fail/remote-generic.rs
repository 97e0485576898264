use tokengate::task_token_guard;

// One op name must name one concrete fn on every worker host.
#[task_token_guard(remote = true)]
fn largest<T: PartialOrd + Send + 'static>(items: Vec<T>) -> usize {
    items.len()
}

#[task_token_guard(remote = "gpu")]
fn chunk<const N: usize>(data: Vec<u8>) -> usize {
    data.len() / N
}

// The decoder on the host needs the argument's type.
#[task_token_guard(remote = true)]
fn total(items: impl IntoIterator<Item = u64> + Send + 'static) -> u64 {
    items.into_iter().sum()
}

fn main() {
    let _a = largest(vec![1, 2]);
    let _b = chunk::<4>(vec![1, 2]);
    let _c = total(vec![1, 2]);
}
