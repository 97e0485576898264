//! The streaming map: [`map_unordered`] / [`a_map_unordered`], results in
//! completion order, with bounded submission, fail fast and progress.
//!
//! `map` makes every call first and waits in input order; that is right for
//! a few hundred items and wrong for a million (a million tokens queued at
//! once) or when results should be used as soon as they exist. A streaming
//! map makes at most [`in_flight`](MapUnordered::in_flight) calls at a time,
//! making the next as each resolves, and hands back `(index, result)` pairs
//! as the calls finish: what users otherwise build by hand around
//! `FuturesUnordered` and a semaphore.
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use tokengate::{task_token_guard, OperationsCoordinator};
//!
//! #[task_token_guard(op = "thumbnail", weight = "light")]
//! fn thumbnail(id: u32) -> String {
//!     format!("thumb-{id}")
//! }
//!
//! static SHOWN: AtomicUsize = AtomicUsize::new(0);
//!
//! let coordinator = OperationsCoordinator::start();
//! let mut seen = vec![false; 1_000];
//! for (index, result) in tokengate::map_unordered(thumbnail, 0..1_000)
//!     .in_flight(64) // at most 64 calls made and unresolved at once
//!     .on_progress(|done, _total| SHOWN.store(done, Ordering::Relaxed))
//! {
//!     assert_eq!(result.unwrap(), format!("thumb-{index}"));
//!     seen[index] = true;
//! }
//! assert!(seen.iter().all(|&s| s));
//! assert_eq!(SHOWN.load(Ordering::Relaxed), 1_000);
//! coordinator.stop();
//! ```

use std::fmt;
use std::future::poll_fn;
use std::task::{Context, Poll};

use crate::coordinator::BulkProgress;
use crate::error::KillReason;
use crate::group::Members;
use crate::{TaskError, TaskToken, TokenId};

/// A progress hook: `(done, total)`.
type Progress = Box<dyn FnMut(usize, usize) + Send>;

/// Runs `f` over `items` through the coordinator and yields `(index,
/// result)` pairs in the order the calls finish, `index` being the item's
/// position in `items`. A blocking iterator; for async code see
/// [`a_map_unordered`].
///
/// By default every call is made on the first `next`, as [`map`](crate::map)
/// does; bound that with [`in_flight`](MapUnordered::in_flight). Stop at the
/// first failure with [`fail_fast`](MapUnordered::fail_fast); watch progress
/// with [`on_progress`](MapUnordered::on_progress) and, from anywhere,
/// [`Handle::bulk_maps`](crate::Handle::bulk_maps). Dropping the iterator
/// kills the calls it has in flight (queued ones never run); items it has
/// not submitted are never called.
///
/// ```
/// use tokengate::{task_token_guard, OperationsCoordinator};
///
/// #[task_token_guard(op = "check_link", weight = "light")]
/// fn check_link(url: String) -> bool {
///     url.starts_with("https://")
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// let urls = (0..1_000).map(|i| format!("https://example.com/{i}"));
/// let mut broken = 0;
/// for (index, ok) in tokengate::map_unordered(check_link, urls).in_flight(32).fail_fast() {
///     if !ok.expect("no call fails") {
///         println!("link {index} is broken");
///         broken += 1;
///     }
/// }
/// assert_eq!(broken, 0);
/// coordinator.stop();
/// ```
pub fn map_unordered<I, R, F>(f: F, items: I) -> MapUnordered<I::IntoIter, F, R>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> TaskToken<R>,
{
    MapUnordered {
        core: Unordered::new(f, items.into_iter()),
    }
}

/// The async form of [`map_unordered`]: the same calls, the same order,
/// taken with `.next().await` (or [`poll_next`](AMapUnordered::poll_next),
/// to build a `Stream`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tokengate::{OperationsCoordinator, Task, Weight};
///
/// let coordinator = OperationsCoordinator::start();
/// let square = Task::new("square").weight(Weight::Light).func(|x: u64| x * x);
/// let mut results = tokengate::a_map_unordered(square, 0..100).in_flight(8);
/// let mut sum = 0;
/// while let Some((_index, result)) = results.next().await {
///     sum += result.unwrap();
/// }
/// assert_eq!(sum, (0..100).map(|x| x * x).sum::<u64>());
/// coordinator.stop();
/// # }
/// ```
pub fn a_map_unordered<I, R, F>(f: F, items: I) -> AMapUnordered<I::IntoIter, F, R>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> TaskToken<R>,
{
    AMapUnordered {
        core: Unordered::new(f, items.into_iter()),
    }
}

/// The blocking streaming map made by [`map_unordered`]: an iterator of
/// `(index, result)` pairs in completion order.
pub struct MapUnordered<I, F, R> {
    core: Unordered<I, F, R>,
}

/// The async streaming map made by [`a_map_unordered`]: `(index, result)`
/// pairs in completion order, from [`next`](Self::next).
pub struct AMapUnordered<I, F, R> {
    core: Unordered<I, F, R>,
}

/// The builder methods, on both forms.
macro_rules! builders {
    ($form:ident) => {
        impl<I, F, R> $form<I, F, R> {
            /// Makes at most `n` calls at a time: the next call is made when
            /// one of these resolves, so a million items never queue a
            /// million tokens. Default: no bound (every call is made at
            /// once, as [`map`](crate::map) does).
            ///
            /// # Panics
            ///
            /// Panics if `n` is 0: nothing would ever run.
            #[track_caller]
            pub fn in_flight(mut self, n: usize) -> Self {
                assert!(
                    n > 0,
                    "`in_flight(0)` would never make a call; use 1 or more"
                );
                self.core.in_flight = n;
                self
            }

            /// On the first failed call (a [`TaskError`]: panic, kill,
            /// timeout, rejection, ...), kills the calls in flight and makes
            /// no more. The failure is handed back, then the killed calls
            /// (as killed, with
            /// [`KillReason::Group`](crate::KillReason::Group)), then the
            /// map ends; items never submitted are not handed back.
            pub fn fail_fast(mut self) -> Self {
                self.core.fail_fast = true;
                self
            }

            /// Calls `hook(done, total)` after each item resolves, on the
            /// thread that takes the results: `done` counts items resolved
            /// (values and failures), `total` the items submitted plus those
            /// the input iterator says remain (exact for vectors, ranges and
            /// slices; after a [`fail_fast`](Self::fail_fast) stop, the
            /// items submitted).
            pub fn on_progress(mut self, hook: impl FnMut(usize, usize) + Send + 'static) -> Self {
                self.core.progress = Some(Box::new(hook));
                self
            }

            /// The name [`Handle::bulk_maps`](crate::Handle::bulk_maps)
            /// shows for this map. Default: the operation name of its
            /// calls.
            pub fn label(mut self, label: impl Into<String>) -> Self {
                self.core.label = Some(label.into());
                self
            }

            /// Items resolved so far.
            pub fn done(&self) -> usize {
                self.core.done
            }

            /// Calls made and not resolved yet.
            pub fn in_flight_now(&self) -> usize {
                self.core.members.len()
            }
        }

        impl<I, F, R> fmt::Debug for $form<I, F, R> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($form))
                    .field("submitted", &self.core.submitted)
                    .field("done", &self.core.done)
                    .field("failed", &self.core.failed)
                    .field("in_flight", &self.core.members.len())
                    .finish()
            }
        }
    };
}

builders!(MapUnordered);
builders!(AMapUnordered);

impl<I, F, R> Iterator for MapUnordered<I, F, R>
where
    I: Iterator,
    F: FnMut(I::Item) -> TaskToken<R>,
{
    type Item = (usize, Result<R, TaskError>);

    /// Blocks until the next call finishes. On a coordinator thread (a map
    /// inside a guarded fn) it runs still-queued calls itself meanwhile, as
    /// [`TaskToken::wait`] does.
    fn next(&mut self) -> Option<Self::Item> {
        self.core.fill();
        match self.core.members.wait_next() {
            Some((slot, id, result)) => Some(self.core.resolved(slot, id, result)),
            None => {
                self.core.end();
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let held = self.core.members.len();
        match &self.core.items {
            Some(items) => {
                let (low, high) = items.size_hint();
                let high = if self.core.fail_fast { None } else { high };
                (
                    if self.core.fail_fast { 0 } else { held + low },
                    high.and_then(|h| h.checked_add(held)),
                )
            }
            None => (held, Some(held)),
        }
    }
}

impl<I, F, R> AMapUnordered<I, F, R>
where
    I: Iterator,
    F: FnMut(I::Item) -> TaskToken<R>,
{
    /// The next call to finish, as `(index, result)`; `None` once every
    /// item was handed back (or, after a [`fail_fast`](Self::fail_fast)
    /// stop, every call made). Cancel safe: dropping the future loses
    /// nothing.
    pub async fn next(&mut self) -> Option<(usize, Result<R, TaskError>)> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// [`next`](Self::next) as a poll function, to implement a `Stream`
    /// (`futures::stream::poll_fn(move |cx| map.poll_next(cx))`).
    pub fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(usize, Result<R, TaskError>)>> {
        self.core.fill();
        match self.core.members.poll_next(cx.waker()) {
            Poll::Ready(Some((slot, id, result))) => {
                Poll::Ready(Some(self.core.resolved(slot, id, result)))
            }
            Poll::Ready(None) => {
                self.core.end();
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What both forms share: the input, the calls in flight, the counts.
struct Unordered<I, F, R> {
    /// The input, until it runs out or a fail-fast stop.
    items: Option<I>,
    f: F,
    members: Members<R>,
    /// The input index of the call in each slot.
    index_of: Vec<usize>,
    submitted: usize,
    in_flight: usize,
    fail_fast: bool,
    done: usize,
    failed: usize,
    progress: Option<Progress>,
    label: Option<String>,
    /// The registration with the coordinator, once a call was made.
    bulk: Option<BulkProgress>,
    registered: bool,
}

impl<I, F, R> Unordered<I, F, R> {
    fn new(f: F, items: I) -> Self {
        Unordered {
            items: Some(items),
            f,
            members: Members::new(true),
            index_of: Vec::new(),
            submitted: 0,
            in_flight: usize::MAX,
            fail_fast: false,
            done: 0,
            failed: 0,
            progress: None,
            label: None,
            bulk: None,
            registered: false,
        }
    }
}

impl<I, F, R> Unordered<I, F, R>
where
    I: Iterator,
    F: FnMut(I::Item) -> TaskToken<R>,
{
    /// Makes calls until `in_flight` are unresolved or the input runs out.
    fn fill(&mut self) {
        let before = self.submitted;
        while self.members.len() < self.in_flight {
            let Some(items) = &mut self.items else {
                break;
            };
            let Some(item) = items.next() else {
                self.items = None;
                break;
            };
            let token = (self.f)(item);
            if !self.registered {
                self.registered = true;
                let label = self.label.take().unwrap_or_else(|| token.op().to_owned());
                self.bulk = BulkProgress::register(token.job_ref(), label);
            }
            let slot = self.members.insert(token);
            match self.index_of.get_mut(slot) {
                Some(index) => *index = self.submitted,
                None => self.index_of.push(self.submitted),
            }
            self.submitted += 1;
        }
        if self.submitted != before {
            self.report();
        }
    }

    /// Items in all, as far as known now.
    fn total(&self) -> usize {
        let left = self.items.as_ref().map_or(0, |items| items.size_hint().0);
        self.submitted.saturating_add(left)
    }

    /// Counts the call in `slot` as resolved, refills, and reports.
    fn resolved(
        &mut self,
        slot: usize,
        _id: TokenId,
        result: Result<R, TaskError>,
    ) -> (usize, Result<R, TaskError>) {
        let index = self.index_of[slot];
        self.done += 1;
        if let Err(err) = &result {
            self.failed += 1;
            if self.fail_fast && err.kill_reason() != Some(KillReason::Group) {
                self.items = None;
                self.members.kill_all(KillReason::Group);
            }
        }
        self.fill();
        self.report();
        let (done, total) = (self.done, self.total());
        if let Some(hook) = &mut self.progress {
            hook(done, total);
        }
        (index, result)
    }

    /// Updates the coordinator's view of this map.
    fn report(&self) {
        if let Some(bulk) = &self.bulk {
            bulk.update(self.done, self.total(), self.failed, self.members.len());
        }
    }

    /// The map ran out: its registration goes.
    fn end(&mut self) {
        self.bulk = None;
    }
}
