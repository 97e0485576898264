//! A sticky fn's domain key under each `hash_policy`, computed from borrowed
//! arguments before they move to the worker.
#![deny(warnings)]

use std::hash::Hash;

use serde::Serialize;
use tokengate::{TaskToken, task_token_guard};

// The default, `"standard"`: a stable digest of the arguments' serde encoding.
// `String` and `Vec` are not `Copy`: the key only borrows them.
#[task_token_guard(sticky_anchor = "account")]
fn deposit(account: String, amounts: Vec<u64>) -> u64 {
    drop(account);
    amounts.iter().sum()
}

#[task_token_guard(sticky_anchor = "account", hash_policy = "standard")]
fn withdraw(account: String, amount: u64) -> u64 {
    account.len() as u64 + amount
}

// `"full"`: the op name is part of the key too.
#[task_token_guard(sticky_anchor = "account", hash_policy = "full")]
fn audit(account: String) -> usize {
    account.len()
}

// `"fast"`: the arguments' `Hash`; `Serialize` is not needed.
#[task_token_guard(sticky_anchor = "cache", hash_policy = "fast")]
fn lookup(key: (u8, char), mut tries: u8) -> u8 {
    tries += key.0;
    tries
}

// `"none"`: the anchor alone; the arguments need neither trait.
#[task_token_guard(sticky_anchor = "log", hash_policy = "none")]
fn append(value: f64) -> f64 {
    value
}

// No arguments: keyed on the anchor alone.
#[task_token_guard(sticky_anchor = "singleton")]
fn tick() -> u8 {
    1
}

// Generic arguments, with the trait their policy needs.
#[task_token_guard(sticky_anchor = "generic", hash_policy = "fast")]
fn first_fast<T: Hash + Send + 'static>(items: Vec<T>) -> usize {
    items.len()
}

#[task_token_guard(sticky_anchor = "generic")]
fn first_stable<T>(items: Vec<T>) -> usize
where
    T: Serialize + Send + 'static,
{
    items.len()
}

// `impl Trait` arguments cannot be named in a check; the key's own bound holds.
#[task_token_guard(sticky_anchor = "opaque", hash_policy = "fast")]
fn opaque_fast(id: impl Hash + Send + 'static) -> u8 {
    drop(id);
    0
}

#[task_token_guard(sticky_anchor = "opaque")]
fn opaque_stable(id: impl Serialize + Send + 'static, n: u8) -> u8 {
    drop(id);
    n
}

// `self` by value is part of the key, borrowed as `&self`.
#[derive(Clone, Hash, Serialize)]
pub struct Cart {
    items: Vec<String>,
}

impl Cart {
    #[task_token_guard(sticky_anchor = "cart")]
    pub fn checkout(self, coupon: Option<String>) -> usize {
        self.items.len() + coupon.map_or(0, |c| c.len())
    }

    #[task_token_guard(sticky_anchor = "cart", hash_policy = "fast")]
    pub fn count(mut self) -> usize {
        self.items.dedup();
        self.items.len()
    }

    #[task_token_guard(sticky_anchor = "cart", hash_policy = "full")]
    pub fn boxed(self: Box<Self>) -> usize {
        self.items.len()
    }
}

fn main() {
    let tokens: Vec<TaskToken<u64>> = vec![
        deposit("alice".to_owned(), vec![1, 2]),
        withdraw("alice".to_owned(), 1),
    ];
    for token in tokens {
        assert!(no_coordinator(token));
    }
    assert!(no_coordinator(audit("bob".to_owned())));
    assert!(no_coordinator(lookup((1, 'x'), 2)));
    assert!(no_coordinator(append(1.5)));
    assert!(no_coordinator(tick()));
    assert!(no_coordinator(first_fast(vec!['a'])));
    assert!(no_coordinator(first_stable(vec!["a"])));
    assert!(no_coordinator(opaque_fast(3u8)));
    assert!(no_coordinator(opaque_stable("id", 1)));

    let cart = Cart {
        items: vec!["apple".to_owned()],
    };
    assert_eq!(cart.clone().checkout(None).op(), "checkout");
    assert!(no_coordinator(cart.clone().count()));
    assert!(no_coordinator(Box::new(cart).boxed()));
}

/// Whether the call failed at once for want of a coordinator, as every call
/// here does.
fn no_coordinator<T>(token: TaskToken<T>) -> bool {
    token.wait().is_err_and(|error| error.is_no_coordinator())
}
