//! Generic parameters, bounds and where clauses are kept; the checks see them.
#![deny(warnings)]

use std::fmt::Debug;
use std::hash::Hash;

use tokengate::{TaskToken, task_token_guard};

#[task_token_guard(op = "largest")]
fn largest<T: PartialOrd + Copy + Send + 'static>(items: Vec<T>) -> Option<T> {
    items
        .into_iter()
        .fold(None, |best, x| match best {
            Some(b) if b >= x => Some(b),
            _ => Some(x),
        })
}

#[task_token_guard(weight = "light")]
fn describe<K, V, const N: usize>(pairs: [(K, V); N]) -> String
where
    K: Debug + Hash + Send + 'static,
    V: Debug + Send + 'static,
{
    format!("{pairs:?}")
}

fn main() {
    let token: TaskToken<Option<i32>> = largest(vec![3, 9, 2]);
    assert!(token.wait().unwrap_err().is_no_coordinator());

    let token: TaskToken<String> = describe([("a", 1), ("b", 2)]);
    assert!(token.wait().unwrap_err().is_no_coordinator());
}
