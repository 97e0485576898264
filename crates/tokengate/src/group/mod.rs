//! [`TokenGroup`]: structured concurrency over tokens, as asyncio's
//! `TaskGroup` and tokio's `JoinSet` give it.
//!
//! A group owns the tokens added to it. Join it for every value in add order
//! ([`join`](TokenGroup::join), or [`wait`](TokenGroup::wait) from sync code),
//! or take the outcomes as they come ([`join_next`](TokenGroup::join_next) /
//! [`wait_next`](TokenGroup::wait_next)). Three promises:
//!
//! * **Fail fast.** The first member that fails (panics, is killed, times
//!   out, is rejected, loses its worker process; with
//!   [`try_join`](TokenGroup::try_join) also one that returns `Err`) kills
//!   every other member: queued ones never run, running ones see
//!   [`is_cancelled`](crate::is_cancelled) and resolve
//!   [`Killed`](crate::ErrorKind::Killed) with [`KillReason::Group`],
//!   `process_pool` ones lose their worker process. The [`GroupError`] holds
//!   every failure with its member's id, and how many were cancelled.
//! * **Nothing outlives it.** A group dropped before it was joined (the
//!   future of `join` dropped by `select!` or a timeout, a `?` that returned
//!   early) kills what it still holds, unless
//!   [`detach_all`](TokenGroup::detach_all) let it go.
//! * **Costs what its tokens cost.** A group spawns no thread and no task:
//!   its members' own completions wake it, through one small waker each and
//!   one shared ready queue. A group of 100,000 members is 100,000 calls plus
//!   a few dozen bytes each.
//!
//! The group notices a failure when it hands the failed member back, that is
//! while it is joined; in the usual shape (add, then join) that is as soon as
//! the member fails.
//!
//! ```
//! use std::time::Duration;
//! use tokengate::{task_token_guard, OperationsCoordinator, TokenGroup};
//!
//! #[task_token_guard(op = "cook")]
//! fn cook(dish: u32) -> u32 {
//!     if dish == 0 {
//!         std::thread::sleep(Duration::from_millis(20));
//!         panic!("dropped the plate");
//!     }
//!     while !tokengate::is_cancelled() {
//!         std::thread::sleep(Duration::from_millis(1));
//!     }
//!     dish
//! }
//!
//! let coordinator = OperationsCoordinator::start();
//! let mut kitchen = TokenGroup::new();
//! for dish in 0..5 {
//!     kitchen.add(cook(dish));
//! }
//! let err = kitchen.wait().unwrap_err();
//! let (_, first) = err.first().unwrap();
//! assert_eq!(first.panic_message(), Some("dropped the plate"));
//! assert_eq!(err.cancelled(), 4); // everyone else stopped
//!
//! // From async code, the same with `join`; or take outcomes as they come:
//! let mut group: TokenGroup<u32> = (10..13).map(|d| tokengate::spawn("plate", move || d)).collect();
//! let mut served = Vec::new();
//! while let Some((_id, result)) = group.wait_next() {
//!     served.push(result.unwrap());
//! }
//! served.sort();
//! assert_eq!(served, [10, 11, 12]);
//! coordinator.stop();
//! ```

mod error;
mod members;
mod notify;

pub use error::{GroupError, MemberError};
pub(crate) use members::Members;

use std::fmt;
use std::future::poll_fn;
use std::task::{Context, Poll};

use members::Resolved;

use crate::error::{KillReason, TokenId};
use crate::{TaskError, TaskToken};

/// A set of calls that succeed or fail together; see the
/// [module docs](crate::TokenGroup#structured-concurrency) for the promises.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tokengate::{task_token_guard, OperationsCoordinator, TokenGroup};
///
/// #[task_token_guard(op = "fetch", weight = "light")]
/// fn fetch(page: u32) -> String {
///     format!("page {page}")
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// let mut group = TokenGroup::new();
/// for page in 1..=3 {
///     group.add(fetch(page));
/// }
/// let pages = group.join().await.unwrap(); // add order
/// assert_eq!(pages, ["page 1", "page 2", "page 3"]);
/// coordinator.stop();
/// # }
/// ```
///
/// # Structured concurrency
///
/// ```
/// use std::time::Duration;
/// use tokengate::{task_token_guard, KillReason, OperationsCoordinator, TokenGroup};
///
/// #[task_token_guard(op = "step")]
/// fn step(n: u32) -> u32 {
///     if n == 0 {
///         panic!("step 0 failed");
///     }
///     while !tokengate::is_cancelled() {
///         std::thread::sleep(Duration::from_millis(1));
///     }
///     n
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// let mut group: TokenGroup<u32> = (0..3).map(step).collect();
/// let (_, first) = group.wait_next().unwrap(); // completion order: the failure
/// assert!(first.unwrap_err().is_panic());
/// while let Some((_, rest)) = group.wait_next() {
///     // the group killed the others as soon as it saw the failure
///     assert_eq!(rest.unwrap_err().kill_reason(), Some(KillReason::Group));
/// }
/// coordinator.stop();
/// ```
///
/// * **Fail fast**: the first member that fails kills every other member
///   ([`KillReason::Group`]); [`GroupError`] holds every failure and how many
///   were cancelled. Failures count when the group hands them back, that is
///   while it is joined (`join`, `wait`, `join_next`, ...).
/// * **Nothing outlives it**: dropping a group kills what it still holds;
///   [`detach_all`](Self::detach_all) lets members go on their own.
/// * **No thread or task per member**: the members' completions wake the
///   group directly.
///
/// From a guarded fn, [`wait`](Self::wait) runs still-queued members on its
/// own worker when it would otherwise block, as [`TaskToken::wait`] does, so
/// a group joined inside a call never deadlocks, even on one worker.
pub struct TokenGroup<T> {
    members: Members<T>,
    /// Failures handed back by `join_next`/`wait_next`, kept for the next
    /// join's error.
    failures: Vec<(TokenId, TaskError)>,
    /// A member failed: the rest were killed, and members added from now on
    /// are killed at once.
    failed: bool,
}

impl<T> Default for TokenGroup<T> {
    fn default() -> Self {
        TokenGroup::new()
    }
}

impl<T> TokenGroup<T> {
    /// An empty group.
    pub fn new() -> TokenGroup<T> {
        TokenGroup {
            members: Members::new(false),
            failures: Vec::new(),
            failed: false,
        }
    }

    /// Adds a call to the group and returns its token's id (the id its
    /// outcome is reported with). The group owns the token from now on.
    ///
    /// If a member has already failed, the call is killed at once: a failed
    /// group takes no new work.
    ///
    /// # Panics
    ///
    /// The group panics when it hands the member back if the token's result
    /// was already taken ([`TaskToken::wait_timeout`] returned it), as the
    /// token itself would.
    pub fn add(&mut self, token: TaskToken<T>) -> TokenId {
        let id = token.id();
        if self.failed {
            token.kill_for(KillReason::Group);
        }
        self.members.insert(token);
        id
    }

    /// Members held: added, and not handed back by `join_next`/`wait_next`
    /// yet (finished ones included, until they are).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the group holds no member.
    pub fn is_empty(&self) -> bool {
        self.members.len() == 0
    }

    /// Kills every member still running or queued ([`KillReason::Group`]);
    /// returns how many this killed. They are handed back, killed, by the
    /// next `join_next`, and make the next `join` fail. The group itself
    /// stays usable.
    pub fn kill_all(&mut self) -> usize {
        self.members.kill_all(KillReason::Group)
    }

    /// Lets every member go: their calls run on, detached, as dropped tokens'
    /// calls do, and the group holds nothing (it stays usable). The one way
    /// for a call to outlive its group.
    pub fn detach_all(&mut self) {
        self.members.detach_all();
    }

    /// The next member to finish, in completion order, with its token's id:
    /// `None` once the group holds no member. Cancel safe: dropping the
    /// future loses nothing.
    ///
    /// A failed member (a [`TaskError`] other than one the group caused)
    /// makes the group kill the rest, which are then handed back as killed.
    /// Values are not inspected: for a fn returning `Result`, an `Err` comes
    /// back as any value does.
    pub async fn join_next(&mut self) -> Option<(TokenId, Result<T, TaskError>)> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// [`join_next`](Self::join_next) as a poll function, for hand-written
    /// futures and streams.
    pub fn poll_join_next(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(TokenId, Result<T, TaskError>)>> {
        self.members
            .poll_next(cx.waker())
            .map(|next| next.map(|resolved| self.note(resolved)))
    }

    /// [`join_next`](Self::join_next) from sync code: blocks until a member
    /// finishes.
    pub fn wait_next(&mut self) -> Option<(TokenId, Result<T, TaskError>)> {
        let next = self.members.wait_next()?;
        Some(self.note(next))
    }

    /// Notes a member handed back one by one: a failure is kept for the
    /// next join's error, and makes the group fail fast.
    fn note(&mut self, (_, id, result): Resolved<T>) -> (TokenId, Result<T, TaskError>) {
        if let Err(err) = &result
            && !killed_by_group(err)
        {
            self.failures.push((id, err.clone()));
            self.fail();
        }
        (id, result)
    }

    /// The first failure: kill every other member.
    fn fail(&mut self) {
        if !self.failed {
            self.failed = true;
            self.members.kill_all(KillReason::Group);
        }
    }

    /// Waits for every member and returns their values in add order, or the
    /// failures (see [`GroupError`]). Members already handed back by
    /// `join_next` are not in the values.
    ///
    /// Dropping the returned future before it finishes drops the group,
    /// which kills what it still holds.
    pub async fn join(mut self) -> Result<Vec<T>, GroupError> {
        let mut joined = Joined::new(&mut self, |err| err);
        while let Some(next) = poll_fn(|cx| self.members.poll_next(cx.waker())).await {
            self.absorb(&mut joined, next, Ok, |err| err);
        }
        joined.finish()
    }

    /// [`join`](Self::join) from sync code: blocks until every member
    /// finished.
    pub fn wait(mut self) -> Result<Vec<T>, GroupError> {
        let mut joined = Joined::new(&mut self, |err| err);
        while let Some(next) = self.members.wait_next() {
            self.absorb(&mut joined, next, Ok, |err| err);
        }
        joined.finish()
    }

    /// Files one handed-back member into `joined`: its value (split into a
    /// value or a failure by `split`), or its failure, or its cancellation.
    fn absorb<V, E>(
        &mut self,
        joined: &mut Joined<V, E>,
        (slot, id, result): Resolved<T>,
        split: impl FnOnce(T) -> Result<V, E>,
        wrap: impl FnOnce(TaskError) -> E,
    ) {
        let failure = match result.map(split) {
            Ok(Ok(value)) => {
                joined.values[slot] = Some(value);
                return;
            }
            Ok(Err(err)) => err,
            Err(err) if killed_by_group(&err) => {
                joined.cancelled += 1;
                return;
            }
            Err(err) => wrap(err),
        };
        joined.failures.push((id, failure));
        self.fail();
    }
}

impl<U, E> TokenGroup<Result<U, E>> {
    /// [`join`](Self::join) for fns that return `Result`: an `Err` value
    /// counts as a failure too (and makes the group fail fast), and the `Ok`
    /// values come back unwrapped, in add order.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use tokengate::{task_token_guard, MemberError, OperationsCoordinator, TokenGroup};
    ///
    /// #[task_token_guard(op = "parse")]
    /// fn parse(text: &'static str) -> Result<u32, std::num::ParseIntError> {
    ///     text.parse()
    /// }
    ///
    /// let coordinator = OperationsCoordinator::start();
    /// let group: TokenGroup<_> = ["1", "2", "x"].into_iter().map(parse).collect();
    /// let err = group.try_join().await.unwrap_err();
    /// assert!(matches!(err.first(), Some((_, MemberError::Err(_)))));
    /// coordinator.stop();
    /// # }
    /// ```
    pub async fn try_join(mut self) -> Result<Vec<U>, GroupError<MemberError<E>>> {
        let mut joined = Joined::new(&mut self, MemberError::Task);
        while let Some(next) = poll_fn(|cx| self.members.poll_next(cx.waker())).await {
            self.absorb(
                &mut joined,
                next,
                |value| value.map_err(MemberError::Err),
                MemberError::Task,
            );
        }
        joined.finish()
    }

    /// [`try_join`](Self::try_join) from sync code.
    pub fn try_wait(mut self) -> Result<Vec<U>, GroupError<MemberError<E>>> {
        let mut joined = Joined::new(&mut self, MemberError::Task);
        while let Some(next) = self.members.wait_next() {
            self.absorb(
                &mut joined,
                next,
                |value| value.map_err(MemberError::Err),
                MemberError::Task,
            );
        }
        joined.finish()
    }
}

/// Whether `err` is a kill by the member's own group.
fn killed_by_group(err: &TaskError) -> bool {
    err.kill_reason() == Some(KillReason::Group)
}

/// What a join has gathered so far.
struct Joined<V, E> {
    /// By slot (add order); `None`: no value (failed, cancelled, or handed
    /// back earlier).
    values: Vec<Option<V>>,
    failures: Vec<(TokenId, E)>,
    cancelled: usize,
}

impl<V, E> Joined<V, E> {
    /// A join of `group`, starting with the failures `join_next` handed
    /// back (each made an `E` by `wrap`).
    fn new<T>(group: &mut TokenGroup<T>, wrap: impl Fn(TaskError) -> E) -> Joined<V, E> {
        let mut values = Vec::new();
        values.resize_with(group.members.slot_count(), || None);
        Joined {
            values,
            failures: group
                .failures
                .drain(..)
                .map(|(id, err)| (id, wrap(err)))
                .collect(),
            cancelled: 0,
        }
    }

    fn finish(self) -> Result<Vec<V>, GroupError<E>> {
        if self.failures.is_empty() && self.cancelled == 0 {
            Ok(self.values.into_iter().flatten().collect())
        } else {
            Err(GroupError::new(self.failures, self.cancelled))
        }
    }
}

impl<T> FromIterator<TaskToken<T>> for TokenGroup<T> {
    /// A group of every token the iterator yields.
    fn from_iter<I: IntoIterator<Item = TaskToken<T>>>(tokens: I) -> Self {
        let mut group = TokenGroup::new();
        group.extend(tokens);
        group
    }
}

impl<T> Extend<TaskToken<T>> for TokenGroup<T> {
    /// Adds every token the iterator yields.
    fn extend<I: IntoIterator<Item = TaskToken<T>>>(&mut self, tokens: I) {
        for token in tokens {
            self.add(token);
        }
    }
}

impl<T> fmt::Debug for TokenGroup<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenGroup")
            .field("len", &self.len())
            .field("failed", &self.failed)
            .finish()
    }
}
