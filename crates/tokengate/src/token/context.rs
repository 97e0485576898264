//! The token layer's per-thread state, in one place: the block of ids this
//! thread hands out, and the waker that unparks it when a token it waits on
//! resolves.

use std::cell::Cell;
use std::sync::{Arc, OnceLock};
use std::task::{Wake, Waker};
use std::thread::Thread;

/// Everything the token layer keeps per thread.
struct Context {
    /// (next id, end of the reserved block); see `id.rs`.
    ids: Cell<(u64, u64)>,
    /// This thread's waker, made on first use.
    waker: OnceLock<Waker>,
}

thread_local! {
    static CONTEXT: Context = const {
        Context {
            ids: Cell::new((0, 0)),
            waker: OnceLock::new(),
        }
    };
}

/// Runs `f` on this thread's id block.
pub(super) fn with_ids<R>(f: impl FnOnce(&Cell<(u64, u64)>) -> R) -> R {
    CONTEXT.with(|c| f(&c.ids))
}

/// Unparks the thread that waits on a token.
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// A waker that unparks the calling thread.
pub(crate) fn thread_waker() -> Waker {
    CONTEXT.with(|c| {
        c.waker
            .get_or_init(|| Waker::from(Arc::new(ThreadWaker(std::thread::current()))))
            .clone()
    })
}
