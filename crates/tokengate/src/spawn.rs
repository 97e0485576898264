//! Guarded calls without the attribute: [`spawn`] and the [`Task`] builder.

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use crate::coordinator::Call;
use crate::fingerprint::{self, KeyId};
use crate::{StorageSpeed, TaskToken, Weight};

/// Runs a closure through the coordinator as a medium call of operation `op`,
/// like a guarded fn would. The op names the call in stats and admin calls
/// (pause, kill and drain by operation); for other settings use [`Task`].
///
/// ```
/// let coordinator = tokengate::OperationsCoordinator::start();
/// let token = tokengate::spawn("factorial", || (1..=10u32).product::<u32>());
/// assert_eq!(token.wait().unwrap(), 3_628_800);
/// assert_eq!(coordinator.stats().op("factorial").unwrap().counts.completed, 1);
/// coordinator.stop();
/// ```
pub fn spawn<T, F>(op: &'static str, f: F) -> TaskToken<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    Task::new(op).spawn(f)
}

/// The attribute's settings as a value, for closures and for fns you cannot
/// annotate: op name, `weight`, `timeout`, `storage_speed`, `limit`, and a
/// sticky key given explicitly.
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
    weight_explicit: bool,
    timeout: Option<Duration>,
    storage: Option<StorageSpeed>,
    limit: Option<&'static str>,
    sticky: Option<(&'static str, KeyId)>,
}

impl Task {
    /// Settings for `op`: medium weight, no timeout, no tags.
    pub const fn new(op: &'static str) -> Task {
        Task {
            op,
            weight: Weight::Medium,
            weight_explicit: false,
            timeout: None,
            storage: None,
            limit: None,
            sticky: None,
        }
    }

    /// Sets the weight. With [`storage_speed`](Self::storage_speed) too, the
    /// calls are *combined* calls, as on the attribute: bounded by the tier,
    /// run on CPU workers of this weight.
    pub const fn weight(mut self, weight: Weight) -> Task {
        self.weight = weight;
        self.weight_explicit = true;
        self
    }

    /// Sets a timeout, measured from each call.
    pub const fn timeout(mut self, timeout: Duration) -> Task {
        self.timeout = Some(timeout);
        self
    }

    /// Makes the calls IO calls of storage tier `speed`, as `storage_speed`
    /// does on the attribute: run on IO threads, at most the tier's cap at
    /// once (or, with an explicit [`weight`](Self::weight), on CPU workers
    /// within the tier's cap).
    pub const fn storage_speed(mut self, speed: StorageSpeed) -> Task {
        self.storage = Some(speed);
        self
    }

    /// Has the calls pass the named limit `name`, as `limit = "name"` does on
    /// the attribute (size it with
    /// [`CoordinatorBuilder::limit`](crate::CoordinatorBuilder::limit)).
    pub const fn limit(mut self, name: &'static str) -> Task {
        self.limit = Some(name);
        self
    }

    /// Makes the calls sticky, as `sticky_anchor` does on the attribute: calls
    /// with equal `anchor` and `key` run one at a time, in call order, on one
    /// worker. The key is hashed with `Hash` (the attribute's
    /// `hash_policy = "fast"`).
    ///
    /// ```
    /// use tokengate::Task;
    ///
    /// let coordinator = tokengate::OperationsCoordinator::start();
    /// let account = 42_u64;
    /// let settle = Task::new("settle").sticky("accounts", &account);
    /// let tokens: Vec<_> = (0..5).map(|i| settle.spawn(move || i)).collect();
    /// let order: Vec<i32> = tokens.into_iter().map(|t| t.wait().unwrap()).collect();
    /// assert_eq!(order, [0, 1, 2, 3, 4]);
    /// coordinator.stop();
    /// ```
    pub fn sticky<K: Hash + ?Sized>(mut self, anchor: &'static str, key: &K) -> Task {
        self.sticky = Some((anchor, KeyId::Fast(fingerprint::fast_key(key))));
        self
    }

    fn call(&self) -> Call {
        let mut call = Call::plain(self.op, self.weight, self.timeout);
        call.weight_explicit = self.weight_explicit;
        call.storage = self.storage;
        call.limit = self.limit;
        call.sticky = self.sticky;
        call
    }

    /// Runs `f` as one call with these settings.
    pub fn spawn<T, F>(&self, f: F) -> TaskToken<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        crate::coordinator::submit(self.call(), f)
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
