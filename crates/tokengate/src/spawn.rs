//! Guarded calls without the attribute: [`spawn`] and the [`Task`] builder.

use std::sync::Arc;
use std::time::Duration;

use crate::{TaskToken, Weight};

/// Runs a closure through the coordinator as a medium call of operation
/// `"spawn"`, like a guarded fn would.
///
/// ```
/// let coordinator = tokengate::OperationsCoordinator::start();
/// let token = tokengate::spawn(|| (1..=10u32).product::<u32>());
/// assert_eq!(token.wait().unwrap(), 3_628_800);
/// coordinator.stop();
/// ```
pub fn spawn<T, F>(f: F) -> TaskToken<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    Task::new("spawn").spawn(f)
}

/// The attribute's settings as a value: op name, weight and timeout, for
/// closures and for fns you cannot annotate.
///
/// ```
/// use tokengate::{Task, Weight};
///
/// const SQUARE: Task = Task::new("square").weight(Weight::Light);
///
/// let coordinator = tokengate::OperationsCoordinator::start();
/// assert_eq!(SQUARE.spawn(|| 12 * 12).wait().unwrap(), 144);
/// let results = tokengate::map(SQUARE.func(|x: u64| x * x), 1..=3);
/// assert_eq!(results.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [1, 4, 9]);
/// coordinator.stop();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Task {
    op: &'static str,
    weight: Weight,
    timeout: Option<Duration>,
}

impl Task {
    /// Settings for `op`: medium weight, no timeout.
    pub const fn new(op: &'static str) -> Task {
        Task {
            op,
            weight: Weight::Medium,
            timeout: None,
        }
    }

    /// Sets the weight.
    pub const fn weight(mut self, weight: Weight) -> Task {
        self.weight = weight;
        self
    }

    /// Sets a timeout, measured from each call.
    pub const fn timeout(mut self, timeout: Duration) -> Task {
        self.timeout = Some(timeout);
        self
    }

    /// Runs `f` as one call with these settings.
    pub fn spawn<T, F>(&self, f: F) -> TaskToken<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        crate::coordinator::submit(
            crate::coordinator::Call::plain(self.op, self.weight, self.timeout),
            f,
        )
    }

    /// Turns a plain closure into a guarded one: each call of the result runs
    /// `f` through the coordinator and returns its token.
    pub fn func<I, R, F>(self, f: F) -> impl Fn(I) -> TaskToken<R> + Send + Sync + 'static
    where
        I: Send + 'static,
        R: Send + 'static,
        F: Fn(I) -> R + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        move |item| {
            let f = f.clone();
            self.spawn(move || f(item))
        }
    }
}
