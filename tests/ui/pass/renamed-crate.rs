//! `crate = "…"` names tokengate by another path, for code that reaches it
//! through a re-export: a module's `pub use`, an `extern crate … as …`, or a
//! module-relative path. Every kind of guarded fn expands through that path,
//! and runs. (This crate depends on tokengate too, so `::tokengate` would
//! resolve here as well: that the expansion names no other path is checked by
//! the expansion's unit tests, and that it names the given one by
//! `ui/fail/crate-unresolved.rs`.)
#![deny(warnings)]

extern crate tokengate as renamed;

use std::sync::Mutex;

use reexport::tg::{OperationsCoordinator, TaskToken, Weight, task_token_guard};

mod reexport {
    pub use ::tokengate as tg;
}

// Plain, with every site setter that names a runtime type.
#[task_token_guard(crate = "crate::reexport::tg", weight = "heavy", timeout = "20s")]
fn square(x: u64) -> u64 {
    x * x
}

#[task_token_guard(crate = "crate::reexport::tg", storage_speed = "FAST")]
fn read(path: String) -> usize {
    path.len()
}

#[task_token_guard(
    crate = "crate::reexport::tg",
    external_calls = ["square"],
    digest_policy = "short"
)]
fn lead(n: u64) -> u64 {
    square(n).wait().unwrap() + 1
}

// Sticky, under each hash policy; a pattern argument gets a hidden name.
#[task_token_guard(crate = "crate::reexport::tg", sticky_anchor = "account")]
fn deposit(account: String, (cents, memo): (u64, String)) -> u64 {
    drop(account);
    cents + memo.len() as u64
}

#[task_token_guard(
    crate = "crate::reexport::tg",
    sticky_anchor = "account",
    hash_policy = "full"
)]
fn audit(account: String) -> usize {
    account.len()
}

#[task_token_guard(crate = "renamed", sticky_anchor = "cache", hash_policy = "fast")]
fn lookup(key: (u8, char)) -> u8 {
    key.0
}

#[task_token_guard(crate = "renamed", sticky_anchor = "log", hash_policy = "none")]
fn append(value: f64) -> f64 {
    LOG.lock().unwrap().push(value);
    value
}

static LOG: Mutex<Vec<f64>> = Mutex::new(Vec::new());

// Process pool: the registration goes through the path too, `linkme` included.
#[task_token_guard(crate = "renamed", process_pool = true)]
fn checksum(data: Vec<u8>) -> (u32, u64) {
    (std::process::id(), data.iter().map(|&b| u64::from(b)).sum())
}

#[task_token_guard(crate = "::renamed", sticky_anchor = "customer", process_pool = true)]
fn sticky_total(customer: String, cents: Vec<u64>) -> (u32, u64) {
    drop(customer);
    (std::process::id(), cents.iter().sum())
}

// A method keyed on `self`, and a path relative to the module.
#[derive(Hash)]
pub struct Cart {
    items: Vec<String>,
}

mod nested {
    use super::Cart;

    impl Cart {
        #[super::task_token_guard(
            crate = "super::reexport::tg",
            sticky_anchor = "cart",
            hash_policy = "fast"
        )]
        pub fn checkout(self) -> usize {
            self.items.len()
        }
    }
}

fn main() {
    let coordinator = OperationsCoordinator::start();

    let token: TaskToken<u64> = square(7);
    assert_eq!((token.op(), token.weight()), ("square", Weight::Heavy));
    assert_eq!(token.wait().unwrap(), 49);
    assert_eq!(read("/etc".to_owned()).wait().unwrap(), 4);
    assert_eq!(lead(3).wait().unwrap(), 10);

    let memo = || "rent".to_owned();
    assert_eq!(deposit("alice".to_owned(), (5, memo())).wait().unwrap(), 9);
    assert_eq!(audit("bob".to_owned()).wait().unwrap(), 3);
    assert_eq!(lookup((4, 'x')).wait().unwrap(), 4);
    let appended: Vec<TaskToken<f64>> = (0..3).map(|i| append(f64::from(i))).collect();
    for token in appended {
        token.wait().unwrap();
    }
    // One domain, so the calls ran in the order they were made.
    assert_eq!(*LOG.lock().unwrap(), [0.0, 1.0, 2.0]);

    let (pid, sum) = checksum(vec![2; 10]).wait().unwrap();
    assert_ne!(pid, std::process::id());
    assert_eq!(sum, 20);
    let (pid, sum) = sticky_total("acme".to_owned(), vec![1, 2]).wait().unwrap();
    assert_ne!(pid, std::process::id());
    assert_eq!(sum, 3);

    let cart = Cart {
        items: vec!["apple".to_owned(), "pear".to_owned()],
    };
    assert_eq!(cart.checkout().wait().unwrap(), 2);

    coordinator.stop();
}
