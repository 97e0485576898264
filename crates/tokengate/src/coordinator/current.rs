//! Which coordinator a guarded call goes to.
//!
//! In order:
//! 1. inside a guarded fn (on a worker thread): the coordinator running it;
//! 2. on a thread that entered a coordinator ([`enter`] / [`run`]): the most
//!    recently entered one;
//! 3. otherwise the process default: the most recently started coordinator that
//!    is still running.
//!
//! [`enter`]: crate::OperationsCoordinator::enter
//! [`run`]: crate::OperationsCoordinator::run

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::Shared;
use crate::scheduler::worker_context;

/// Started coordinators, oldest first; the last live one is the default.
static STARTED: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());
/// Bumped on every start and stop, so threads can cache the default.
static GENERATION: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static ENTERED: RefCell<Vec<Arc<Shared>>> = const { RefCell::new(Vec::new()) };
    static DEFAULT: RefCell<(u64, Weak<Shared>)> = const { RefCell::new((0, Weak::new())) };
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
    if let Some(ctx) = worker_context() {
        return Some(ctx.shared);
    }
    if let Some(entered) = ENTERED.with(|e| e.borrow().last().cloned()) {
        return Some(entered);
    }
    let generation = GENERATION.load(Ordering::SeqCst);
    DEFAULT.with(|cache| {
        let mut cache = cache.borrow_mut();
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
/// Made by [`OperationsCoordinator::enter`](crate::OperationsCoordinator::enter).
/// Guards nest: the most recent one wins. A guard must be dropped on the thread
/// that made it, so it is neither `Send` nor `Sync`.
#[derive(Debug)]
#[must_use = "the binding ends when the guard is dropped"]
pub struct EnterGuard<'a> {
    _coordinator: PhantomData<&'a ()>,
    _not_send: PhantomData<*const ()>,
}

pub(crate) fn enter(shared: &Arc<Shared>) -> EnterGuard<'_> {
    ENTERED.with(|e| e.borrow_mut().push(shared.clone()));
    EnterGuard {
        _coordinator: PhantomData,
        _not_send: PhantomData,
    }
}

impl Drop for EnterGuard<'_> {
    fn drop(&mut self) {
        ENTERED.with(|e| e.borrow_mut().pop());
    }
}
