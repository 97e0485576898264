//! The scheduler's per-thread state, in one place: which scheduler (and which
//! of its workers) a thread serves, the calls it is running, the storage tier
//! an IO thread's call belongs to, and the worker a caller last placed a call
//! on.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use super::Scheduler;
use crate::StorageSpeed;
use crate::token::{Job, JobRef};

/// Where a guarded fn is running: which scheduler, and which worker (`None`
/// on an IO thread).
#[derive(Clone)]
pub(crate) struct WorkerContext {
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) worker: Option<usize>,
}

/// Everything the scheduler keeps per thread.
struct Context {
    /// Set for the life of a worker or IO thread.
    thread: RefCell<Option<WorkerContext>>,
    /// The call whose body this thread is running (innermost, for nested
    /// claims).
    current: RefCell<Option<JobRef>>,
    /// On an IO thread, the storage tier of the call it runs.
    io_tier: Cell<Option<StorageSpeed>>,
    /// The worker this thread last handed a call to: it is likely still awake
    /// (spinning), so a caller making calls one after another tries it first.
    last_worker: Cell<usize>,
}

thread_local! {
    static CONTEXT: Context = const {
        Context {
            thread: RefCell::new(None),
            current: RefCell::new(None),
            io_tier: Cell::new(None),
            last_worker: Cell::new(0),
        }
    };
}

/// The worker context of the calling thread, if it is a worker or IO thread.
pub(crate) fn worker_context() -> Option<WorkerContext> {
    CONTEXT.with(|c| c.thread.borrow().clone())
}

/// Marks the calling thread as worker `worker` of `scheduler` (`None`: an IO
/// thread) until [`leave`].
pub(crate) fn enter(scheduler: Arc<Scheduler>, worker: Option<usize>) {
    CONTEXT.with(|c| *c.thread.borrow_mut() = Some(WorkerContext { scheduler, worker }));
}

/// The calling thread no longer serves a scheduler.
pub(crate) fn leave() {
    CONTEXT.with(|c| c.thread.borrow_mut().take());
}

/// Whether the calling thread is a worker or IO thread of `scheduler`, and
/// which worker (`Some(None)` on an IO thread).
pub(crate) fn worker_of(scheduler: &Scheduler) -> Option<Option<usize>> {
    CONTEXT.with(|c| {
        let thread = c.thread.borrow();
        let ctx = thread.as_ref()?;
        std::ptr::eq(Arc::as_ptr(&ctx.scheduler), scheduler).then_some(ctx.worker)
    })
}

/// Runs `f` with the innermost running call, if any.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&dyn Job>) -> R) -> R {
    CONTEXT.with(|c| f(c.current.borrow().as_deref()))
}

/// Runs a call this thread moved to `Executing`, as the thread's current call.
pub(crate) fn run_claimed(job: JobRef) {
    let previous = CONTEXT.with(|c| c.current.replace(Some(job.clone())));
    job.run(&job);
    CONTEXT.with(|c| *c.current.borrow_mut() = previous);
}

/// Runs an IO call of tier `speed` (see [`run_claimed`]), recording its tier.
pub(crate) fn run_io_claimed(job: JobRef, speed: StorageSpeed) {
    let previous = CONTEXT.with(|c| c.io_tier.replace(Some(speed)));
    run_claimed(job);
    CONTEXT.with(|c| c.io_tier.set(previous));
}

/// The storage tier of the IO call this thread runs, if it is an IO thread.
pub(crate) fn io_tier() -> Option<StorageSpeed> {
    CONTEXT.with(|c| c.io_tier.get())
}

/// The worker this thread last placed a call on.
pub(crate) fn last_worker() -> usize {
    CONTEXT.with(|c| c.last_worker.get())
}

/// Records the worker this thread just placed a call on.
pub(crate) fn set_last_worker(worker: usize) {
    CONTEXT.with(|c| c.last_worker.set(worker));
}
