//! The Concurrent construct: run one guarded fn over many items, results in
//! input order ([`map`], [`a_map`]) or as they finish ([`map_unordered`],
//! [`a_map_unordered`]).

mod unordered;

pub use unordered::{AMapUnordered, MapUnordered, a_map_unordered, map_unordered};

use crate::{TaskError, TaskToken};

/// Runs `f` over `items` through the coordinator and returns the results in
/// input order. Every call is made first (so they run in parallel), then each
/// is waited on.
///
/// `f` is a guarded fn, or any closure that returns a [`TaskToken`]; for a plain
/// closure use [`Task::func`](crate::Task::func).
///
/// ```
/// use tokengate::{task_token_guard, OperationsCoordinator};
///
/// #[task_token_guard(op = "len", weight = "light")]
/// fn len(s: String) -> usize {
///     s.len()
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// let words = ["a", "bb", "ccc"].map(String::from);
/// let lens: Vec<usize> = tokengate::map(len, words).into_iter().map(Result::unwrap).collect();
/// assert_eq!(lens, [1, 2, 3]);
/// coordinator.stop();
/// ```
pub fn map<I, R, F>(f: F, items: I) -> Vec<Result<R, TaskError>>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> TaskToken<R>,
{
    let tokens: Vec<TaskToken<R>> = items.into_iter().map(f).collect();
    tokens.into_iter().map(TaskToken::wait).collect()
}

/// The async form of [`map`]: same calls, same order, awaited instead of
/// waited on. Making a call never blocks, so neither does this: calls whose
/// lane is full wait in line (see [`FullLanePolicy`](crate::FullLanePolicy)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tokengate::{Task, Weight};
///
/// let coordinator = tokengate::OperationsCoordinator::start();
/// let cube = Task::new("cube").weight(Weight::Light).func(|x: i64| x * x * x);
/// let cubes = tokengate::a_map(cube, [-2, 3]).await;
/// assert_eq!(cubes.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [-8, 27]);
/// coordinator.stop();
/// # }
/// ```
pub async fn a_map<I, R, F>(f: F, items: I) -> Vec<Result<R, TaskError>>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> TaskToken<R>,
{
    let tokens: Vec<TaskToken<R>> = items.into_iter().map(f).collect();
    let mut results = Vec::with_capacity(tokens.len());
    for token in tokens {
        results.push(token.await);
    }
    results
}
