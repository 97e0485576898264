//! Which coordinator a guarded call goes to.
//!
//! In order:
//! 1. inside a guarded fn (on a worker thread): the coordinator running it;
//! 2. on a thread that entered a coordinator ([`enter`] / [`run`]): the most
//!    recently entered one;
//! 3. otherwise the process default: the most recently started coordinator that
//!    is still running.
//!
//! [`enter`]: crate::Handle::enter
//! [`run`]: crate::Handle::run

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::Shared;
use super::context;
use super::route::route_of;
use crate::scheduler::with_current;

/// Started coordinators, oldest first; the last live one is the default.
static STARTED: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());
/// Bumped on every start and stop, so threads can cache the default.
static GENERATION: AtomicU64 = AtomicU64::new(1);
/// Set when a coordinator was dropped before any call reached it: the likely
/// cause of a later "no coordinator" error (`let _ = ...start();`).
static DROPPED_UNUSED: AtomicBool = AtomicBool::new(false);

/// Notes that a coordinator was dropped before any call reached it.
pub(crate) fn note_dropped_unused() {
    DROPPED_UNUSED.store(true, Ordering::Relaxed);
}

/// Whether a coordinator was ever dropped before any call reached it.
pub(crate) fn dropped_unused() -> bool {
    DROPPED_UNUSED.load(Ordering::Relaxed)
}

pub(crate) fn register(shared: &Arc<Shared>) {
    let mut started = STARTED.lock().unwrap_or_else(|p| p.into_inner());
    started.retain(|w| w.strong_count() > 0);
    started.push(Arc::downgrade(shared));
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

pub(crate) fn unregister(shared: &Shared) {
    let mut started = STARTED.lock().unwrap_or_else(|p| p.into_inner());
    started.retain(|w| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), shared));
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// The coordinator a guarded call made on this thread goes to, if any.
pub(crate) fn resolve() -> Option<Arc<Shared>> {
    // Inside a guarded fn: the coordinator running it.
    if let Some(shared) = with_current(|job| Some(route_of(job?)?.shared.clone())) {
        return Some(shared);
    }
    if let Some((_, entered)) = context::with_entered(|e| e.stack.last().cloned()).flatten() {
        return Some(entered);
    }
    let generation = GENERATION.load(Ordering::SeqCst);
    context::with_default(|cache| {
        if cache.0 != generation {
            let started = STARTED.lock().unwrap_or_else(|p| p.into_inner());
            let default = started
                .iter()
                .rev()
                .find(|w| w.upgrade().is_some_and(|s| s.is_running()))
                .cloned()
                .unwrap_or_default();
            *cache = (generation, default);
        }
        cache.1.upgrade()
    })
}

/// Binds guarded calls on this thread to a coordinator until dropped.
///
/// Made by [`Handle::enter`](crate::Handle::enter).
/// Guards nest: calls go to the coordinator of the most recently made guard
/// still alive. Guards may be dropped in any order: dropping one ends its own
/// binding and no other, so after
///
/// ```
/// # let (a, b) = (tokengate::OperationsCoordinator::start(), tokengate::OperationsCoordinator::start());
/// let guard_a = a.enter();
/// let guard_b = b.enter();
/// drop(guard_a);
/// // calls made here still go to `b`
/// # assert_eq!(tokengate::spawn("one", || 1).wait().unwrap(), 1);
/// # assert_eq!(b.stats().tokens.completed, 1);
/// # drop(guard_b);
/// # a.stop(); b.stop();
/// ```
///
/// A guard must be dropped on the thread that made it, so it is neither `Send`
/// nor `Sync`.
#[derive(Debug)]
#[must_use = "the binding ends when the guard is dropped"]
pub struct EnterGuard<'a> {
    /// Names this guard's entry in the thread's stack.
    id: u64,
    _coordinator: PhantomData<&'a ()>,
    _not_send: PhantomData<*const ()>,
}

pub(crate) fn enter(shared: &Arc<Shared>) -> EnterGuard<'_> {
    let id = context::with_entered(|entered| {
        let id = entered.next;
        entered.next += 1;
        entered.stack.push((id, shared.clone()));
        id
    })
    .expect("a thread that runs code has its context");
    EnterGuard {
        id,
        _coordinator: PhantomData,
        _not_send: PhantomData,
    }
}

impl Drop for EnterGuard<'_> {
    fn drop(&mut self) {
        // A guard held in another thread-local may be dropped after the
        // context is gone, as the thread exits: then there is nothing to undo.
        context::with_entered(|entered| {
            if let Some(at) = entered.stack.iter().rposition(|(id, _)| *id == self.id) {
                entered.stack.remove(at);
            }
        });
    }
}
