//! Guarded calls without the attribute: [`spawn`] and the [`Task`] builder.

use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use crate::coordinator::{Call, DEFAULT_BACKOFF, RetryOn, RetryPolicy};
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
    queue_timeout: Option<Duration>,
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
            queue_timeout: None,
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

    /// Sheds calls that have not started `wait` after they were made, as the
    /// attribute's `queue_timeout` does: they resolve expired without running.
    pub const fn queue_timeout(mut self, wait: Duration) -> Task {
        self.queue_timeout = Some(wait);
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

    /// Retries failed calls: up to `retries` more attempts, on the same
    /// token, as the attribute's `retries` key does. The result takes bodies
    /// that can run again (`Fn`, not `FnOnce`); see [`RetryingTask`].
    pub const fn retries(self, retries: u32) -> RetryingTask {
        RetryingTask {
            task: self,
            policy: RetryPolicy {
                retries,
                backoff: DEFAULT_BACKOFF,
                on: RetryOn::Panic.bit() | RetryOn::WorkerLost.bit(),
            },
        }
    }

    fn call(&self) -> Call {
        let mut call = Call::plain(self.op, self.weight, self.timeout);
        call.weight_explicit = self.weight_explicit;
        call.storage = self.storage;
        call.limit = self.limit;
        call.sticky = self.sticky;
        call.queue_timeout = self.queue_timeout;
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

/// A [`Task`] whose calls are retried when an attempt fails, as with the
/// attribute's `retries`, `retry_backoff` and `retry_on` keys: the token
/// resolves once, with the last attempt's outcome, and
/// [`TaskToken::attempts`] says how many ran. Between attempts the call waits
/// on the coordinator's timer (no thread is held) for a backoff that doubles
/// from [`retry_backoff`](Self::retry_backoff) (10 ms by default) up to 30 s,
/// with full jitter, then re-enters admission. A kill, a stop, or the call's
/// `timeout` (measured from the call, unless [`RetryOn::Timeout`] makes it
/// bound each attempt) ends the retries.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use tokengate::Task;
///
/// let coordinator = tokengate::OperationsCoordinator::start();
/// let flaky = Task::new("flaky").retries(3);
/// let tries = Arc::new(AtomicU32::new(0));
/// let seen = tries.clone();
/// let token = flaky.spawn(move || {
///     if seen.fetch_add(1, Ordering::SeqCst) < 2 {
///         panic!("not yet");
///     }
///     "done"
/// });
/// let attempts = {
///     let mut token = token;
///     let value = token.wait_timeout(std::time::Duration::from_secs(30)).unwrap().unwrap();
///     assert_eq!(value, "done");
///     token.attempts()
/// };
/// assert_eq!(attempts, 3);
/// coordinator.stop();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryingTask {
    task: Task,
    policy: RetryPolicy,
}

impl RetryingTask {
    /// The first backoff (default 10 ms); each later one doubles, up to 30 s.
    pub const fn retry_backoff(mut self, backoff: Duration) -> RetryingTask {
        self.policy.backoff = backoff;
        self
    }

    /// Which failures are retried (default: [`RetryOn::DEFAULT`], panics and
    /// lost worker processes). [`RetryOn::Err`] applies to
    /// [`try_spawn`](Self::try_spawn) calls, whose values are `Result`s.
    pub fn retry_on(mut self, causes: &[RetryOn]) -> RetryingTask {
        self.policy.on = causes.iter().fold(0, |bits, cause| bits | cause.bit());
        self
    }

    /// Runs `f` as one call, retried on failure (`f` runs once per attempt).
    pub fn spawn<T, F>(&self, f: F) -> TaskToken<T>
    where
        T: Send + 'static,
        F: Fn() -> T + Send + Sync + 'static,
    {
        self.submit(f, None)
    }

    /// [`spawn`](Self::spawn) for a fallible body: with [`RetryOn::Err`]
    /// among the causes, an `Err` value is retried too, and the token holds
    /// the last attempt's `Result`.
    pub fn try_spawn<V, E, F>(&self, f: F) -> TaskToken<Result<V, E>>
    where
        V: Send + 'static,
        E: Send + 'static,
        F: Fn() -> Result<V, E> + Send + Sync + 'static,
    {
        self.submit(f, Some(Result::is_err))
    }

    fn submit<T, F>(&self, f: F, is_err: Option<fn(&T) -> bool>) -> TaskToken<T>
    where
        T: Send + 'static,
        F: Fn() -> T + Send + Sync + 'static,
    {
        let mut call = self.task.call();
        call.retry = Some(self.policy);
        let f = Arc::new(f);
        crate::coordinator::submit_retrying(
            call,
            move || {
                let f = f.clone();
                move || f()
            },
            is_err,
        )
    }
}
