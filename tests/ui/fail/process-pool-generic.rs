use tokengate::task_token_guard;

// The registry holds one concrete fn per op: no type or const parameters.
#[task_token_guard(process_pool = true)]
fn first<T: Clone + Send + 'static>(items: Vec<T>) -> Option<T> {
    items.first().cloned()
}

#[task_token_guard(process_pool = true)]
fn sum<const N: usize>(values: [u64; N]) -> u64 {
    values.iter().sum()
}

// `impl Trait` names no type that a worker could decode.
#[task_token_guard(process_pool = true)]
fn total(values: impl IntoIterator<Item = u64> + Send + 'static) -> u64 {
    values.into_iter().sum()
}

// Nor one that the caller could. The error is the only one: the stand-in
// emitted for the refused fn needs no hidden type for `impl Send`.
#[task_token_guard(process_pool = true)]
fn opaque(n: u64) -> impl Send {
    n
}

fn main() {
    let _a = first(vec![1u8]);
    let _b = sum([1, 2]);
    let _c = total(vec![1]);
    let _d = opaque(1);
}
