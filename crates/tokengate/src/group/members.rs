//! [`Members`]: the tokens a group holds, and the order they resolve in.
//!
//! The core shared by [`TokenGroup`](crate::TokenGroup) and
//! [`map_unordered`](crate::map_unordered): a slab of live tokens, each
//! watched through the group's [`Notifier`], handed back one by one in the
//! order they resolved, from async code ([`poll_next`](Members::poll_next))
//! or sync code ([`wait_next`](Members::wait_next)). It spawns nothing: the
//! members' own completions wake the group.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::notify::Notifier;
use crate::error::{KillReason, TokenId};
use crate::scheduler::{park_waiting, worker_context};
use crate::token::thread_waker;
use crate::{TaskError, TaskToken};

/// Members a blocked waiter tries to run itself before it parks (see
/// [`Members::wait_next`]).
const HELP_BUDGET: usize = 32;

/// What [`Members::poll_next`] hands back: the member's slot, its token's
/// id and its outcome.
pub(crate) type Resolved<T> = (usize, TokenId, Result<T, TaskError>);

/// The live tokens of one group.
#[derive(Debug)]
pub(crate) struct Members<T> {
    /// Live tokens by slot; `None`: a slot whose member was handed back.
    slots: Vec<Option<TaskToken<T>>>,
    /// Slots free for reuse; only when `reuse` is on (a group keeps slots
    /// in add order instead).
    free: Vec<usize>,
    reuse: bool,
    notifier: Arc<Notifier>,
    /// Arrivals taken from the notifier, not handed back yet.
    ready: VecDeque<usize>,
    /// Tokens held.
    live: usize,
    /// Where a blocked waiter looks next for a member to run itself.
    help_at: usize,
}

impl<T> Members<T> {
    /// No members. With `reuse`, slots of handed-back members are reused (a
    /// streaming map); without, slot numbers are add order (a group).
    pub(crate) fn new(reuse: bool) -> Members<T> {
        Members {
            slots: Vec::new(),
            free: Vec::new(),
            reuse,
            notifier: Arc::default(),
            ready: VecDeque::new(),
            live: 0,
            help_at: 0,
        }
    }

    /// Takes `token` in and returns its slot.
    pub(crate) fn insert(&mut self, token: TaskToken<T>) -> usize {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        if token.watch(&self.notifier.waker_for(slot)) {
            // Resolved already (rejected at birth, say): no wake will come.
            self.ready.push_back(slot);
        }
        self.slots[slot] = Some(token);
        self.live += 1;
        slot
    }

    /// Tokens held: added and not handed back yet.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Slots handed out so far (live or not): the add count of a group.
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The live tokens.
    pub(crate) fn tokens(&self) -> impl Iterator<Item = &TaskToken<T>> {
        self.slots.iter().flatten()
    }

    /// Kills every live token for `reason`; returns how many this killed
    /// (tokens already resolved are left alone). They are handed back as
    /// they resolve, like any other.
    pub(crate) fn kill_all(&self, reason: KillReason) -> usize {
        self.tokens().filter(|token| token.kill_for(reason)).count()
    }

    /// Drops every live token without killing it: their calls run on,
    /// detached, and nothing is handed back for them.
    pub(crate) fn detach_all(&mut self) {
        // Their wakers point at the old notifier; arrivals there are ignored.
        self.notifier.close();
        self.notifier = Arc::default();
        self.ready.clear();
        self.live = 0;
        self.free.clear();
        if self.reuse {
            self.slots.clear();
        } else {
            // Slot numbers stay add order: the slots stay, empty.
            for slot in &mut self.slots {
                drop(slot.take());
            }
        }
    }

    /// The next member to resolve, from async code: `Ready(None)` once no
    /// member is held; `Pending` (with `waker` registered) until one
    /// resolves.
    pub(crate) fn poll_next(&mut self, waker: &Waker) -> Poll<Option<Resolved<T>>> {
        loop {
            while let Some(slot) = self.ready.pop_front() {
                if let Some(resolved) = self.take(slot) {
                    return Poll::Ready(Some(resolved));
                }
            }
            if self.live == 0 {
                return Poll::Ready(None);
            }
            if !self.notifier.collect(&mut self.ready, waker) {
                return Poll::Pending;
            }
        }
    }

    /// Hands back the member in `slot`, which its waker reported resolved.
    fn take(&mut self, slot: usize) -> Option<Resolved<T>> {
        let mut token = self.slots.get_mut(slot)?.take()?;
        let id = token.id();
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(&mut token).poll(&mut cx) {
            Poll::Ready(result) => {
                self.live -= 1;
                if self.reuse {
                    self.free.push(slot);
                }
                Some((slot, id, result))
            }
            Poll::Pending => {
                // Only a stored outcome wakes a member; should that ever
                // change, watch it again rather than lose it.
                if token.watch(&self.notifier.waker_for(slot)) {
                    self.ready.push_back(slot);
                }
                self.slots[slot] = Some(token);
                None
            }
        }
    }

    /// The next member to resolve, blocking the calling thread until one
    /// does; `None` once no member is held.
    ///
    /// On a coordinator thread (a group joined inside a guarded fn) the
    /// waiter runs still-queued members itself before it parks, as
    /// [`TaskToken::wait`] does, so a group joined on a coordinator's only
    /// worker still finishes.
    pub(crate) fn wait_next(&mut self) -> Option<Resolved<T>> {
        let waker = thread_waker();
        let helps = worker_context().is_some();
        let mut round = 0;
        loop {
            if let Poll::Ready(next) = self.poll_next(&waker) {
                return next;
            }
            if helps && self.help_one() {
                round = 0;
                continue;
            }
            if helps {
                park_waiting(None, round);
            } else {
                std::thread::park();
            }
            round = round.saturating_add(1);
        }
    }

    /// Runs one still-queued member on this thread, if one of the next few
    /// may run here. Returns whether it ran one.
    fn help_one(&mut self) -> bool {
        let n = self.slots.len();
        for _ in 0..n.min(HELP_BUDGET) {
            let at = self.help_at % n;
            self.help_at = at + 1;
            let Some(token) = &self.slots[at] else {
                continue;
            };
            if token.is_finished() {
                continue;
            }
            let job = token.job();
            if job.owner().is_some_and(|owner| owner.help(&job)) {
                return true;
            }
        }
        false
    }
}

impl<T> Drop for Members<T> {
    /// Kills what is still held: nothing a group holds outlives it unless it
    /// was detached.
    fn drop(&mut self) {
        // Closed first: the kills' arrivals have nobody to go to.
        self.notifier.close();
        self.kill_all(KillReason::Group);
    }
}
