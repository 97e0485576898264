use tokengate::task_token_guard;

pub struct Plain {
    pub id: u32,
}

// `hash_policy = "fast"` keys a sticky call on its arguments' `Hash`: each
// argument type without it is reported on the type.
#[task_token_guard(sticky_anchor = "shard", hash_policy = "fast")]
fn scale(factor: f64, item: Plain, count: u32) -> f64 {
    factor * f64::from(item.id + count)
}

#[task_token_guard(sticky_anchor = "shard", hash_policy = "fast")]
fn generic<T: Send + 'static>(value: T) -> u8 {
    drop(value);
    0
}

// An `impl Trait` type cannot be named in a check: the key's own bound reports
// it, on the type too.
#[task_token_guard(sticky_anchor = "shard", hash_policy = "fast")]
fn opaque(id: impl Send + 'static) -> u8 {
    drop(id);
    0
}

// A type of several tokens is reported once, on all of them.
#[task_token_guard(sticky_anchor = "shard", hash_policy = "fast")]
fn weights(values: Vec<f64>, tag: u8) -> usize {
    values.len() + usize::from(tag)
}

// Past 12 arguments, the key groups them into tuples of 12: still reported
// once, on the type.
#[task_token_guard(sticky_anchor = "shard", hash_policy = "fast")]
fn wide(
    a0: u8, a1: u8, a2: u8, a3: u8, a4: u8, a5: u8, a6: u8, a7: u8, a8: u8, a9: u8,
    a10: u8, a11: u8, a12: u8, ratio: f64,
) -> f64 {
    let sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11 + a12;
    ratio * f64::from(sum)
}

fn main() {
    let _a = scale(1.0, Plain { id: 1 }, 2);
    let _b = generic(1u8);
    let _c = opaque(1u8);
    let _d = weights(Vec::new(), 0);
    let _e = wide(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1.0);
}
