//! How a group hears that its members resolved, without a thread or a task
//! per member.
//!
//! Every member's cell holds one waker (see `token/cell.rs`), woken exactly
//! once, when the call's final outcome is stored (never between retried
//! attempts). A group gives each member a waker of its own that names the
//! member's slot and points at the group's one [`Notifier`]: waking it
//! appends the slot to the notifier's ready queue and wakes whoever waits on
//! the group (a task's waker, or a parked thread), if anyone does. So a
//! group of n members costs n small wakers and at most n queued slot
//! numbers, and its waiter is woken once per batch of arrivals, not once per
//! member.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Wake, Waker};

/// The ready queue of one group, shared with its members' wakers.
#[derive(Debug, Default)]
pub(crate) struct Notifier {
    inbox: Mutex<Inbox>,
}

#[derive(Debug, Default)]
struct Inbox {
    /// Slots whose member resolved, in the order they did.
    ready: VecDeque<usize>,
    /// Who to wake at the next arrival.
    waiter: Option<Waker>,
    /// The group is gone (or detached its members): arrivals are ignored.
    closed: bool,
}

impl Notifier {
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        // Nothing panics while the lock is held.
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A waker that reports `slot` as resolved to this notifier.
    pub(crate) fn waker_for(self: &Arc<Self>, slot: usize) -> Waker {
        Waker::from(Arc::new(Arrival {
            slot,
            notifier: self.clone(),
        }))
    }

    fn arrived(&self, slot: usize) {
        let waiter = {
            let mut inbox = self.lock();
            if inbox.closed {
                return;
            }
            inbox.ready.push_back(slot);
            inbox.waiter.take()
        };
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }

    /// Moves every arrival so far into `into` (which must be empty) and
    /// returns true; with none, registers `waiter` for the next one and
    /// returns false.
    pub(crate) fn collect(&self, into: &mut VecDeque<usize>, waiter: &Waker) -> bool {
        debug_assert!(into.is_empty());
        let mut inbox = self.lock();
        if inbox.ready.is_empty() {
            match &mut inbox.waiter {
                Some(current) if current.will_wake(waiter) => {}
                place => *place = Some(waiter.clone()),
            }
            return false;
        }
        std::mem::swap(into, &mut inbox.ready);
        true
    }

    /// Ignores arrivals from now on and forgets the waiter.
    pub(crate) fn close(&self) {
        let mut inbox = self.lock();
        inbox.closed = true;
        inbox.ready = VecDeque::new();
        inbox.waiter = None;
    }
}

/// One member's waker: its slot and its group's notifier.
struct Arrival {
    slot: usize,
    notifier: Arc<Notifier>,
}

impl Wake for Arrival {
    fn wake(self: Arc<Self>) {
        self.notifier.arrived(self.slot);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.notifier.arrived(self.slot);
    }
}
