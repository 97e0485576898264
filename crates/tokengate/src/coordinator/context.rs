//! The coordinator's per-thread state, in one place: the coordinators entered
//! on this thread, the cached process default, and the operation entries this
//! thread submitted to last.

use std::cell::{Cell, RefCell};
use std::sync::{Arc, Weak};

use super::ops::{Class, OpEntry};
use super::overrides::Override;
use super::shared::Shared;

/// The coordinators entered on one thread.
pub(super) struct Entered {
    /// The id the next guard gets.
    pub(super) next: u64,
    /// (guard id, coordinator), in the order they were entered.
    pub(super) stack: Vec<(u64, Arc<Shared>)>,
}

/// (coordinator id, op pointer, op length, class): names an op entry without
/// comparing strings.
pub(super) type OpKey = (u64, *const u8, usize, Class);

/// The op entries a thread used last, most recent first.
type OpCache = [Option<(OpKey, Arc<OpEntry>)>; 4];

/// Everything the coordinator keeps per thread.
struct Context {
    /// Coordinators entered on this thread (`OperationsCoordinator::enter`).
    entered: RefCell<Entered>,
    /// The process default as of a generation of starts and stops.
    default: RefCell<(u64, Weak<Shared>)>,
    /// The op entries this thread used last, most recent first.
    ops: RefCell<OpCache>,
    /// The [`Override`] in force for calls made on this thread.
    overrides: Cell<Override>,
}

thread_local! {
    static CONTEXT: Context = const {
        Context {
            entered: RefCell::new(Entered { next: 0, stack: Vec::new() }),
            default: RefCell::new((0, Weak::new())),
            ops: RefCell::new([None, None, None, None]),
            overrides: Cell::new(Override::new()),
        }
    };
}

/// Runs `f` on this thread's entered coordinators. `None` if the thread is
/// exiting (a guard dropped by another thread-local's destructor).
pub(super) fn with_entered<R>(f: impl FnOnce(&mut Entered) -> R) -> Option<R> {
    CONTEXT.try_with(|c| f(&mut c.entered.borrow_mut())).ok()
}

/// Runs `f` on this thread's cached default: (generation, coordinator).
pub(super) fn with_default<R>(f: impl FnOnce(&mut (u64, Weak<Shared>)) -> R) -> R {
    CONTEXT.with(|c| f(&mut c.default.borrow_mut()))
}

/// The op entry cached under `key`, if any.
pub(super) fn cached_op(key: OpKey) -> Option<Arc<OpEntry>> {
    CONTEXT.with(|c| {
        c.ops
            .borrow()
            .iter()
            .flatten()
            .find(|(k, _)| *k == key)
            .map(|(_, entry)| entry.clone())
    })
}

/// Caches `entry` under `key`, evicting the least recently cached.
pub(super) fn cache_op(key: OpKey, entry: Arc<OpEntry>) {
    CONTEXT.with(|c| {
        let mut ops = c.ops.borrow_mut();
        ops.rotate_right(1);
        ops[0] = Some((key, entry));
    });
}

/// The override in force for calls made on this thread (none while the thread
/// is exiting).
pub(super) fn current_override() -> Override {
    CONTEXT.try_with(|c| c.overrides.get()).unwrap_or_default()
}

/// Puts `now` in force for calls made on this thread.
pub(super) fn set_override(now: Override) {
    let _ = CONTEXT.try_with(|c| c.overrides.set(now));
}
