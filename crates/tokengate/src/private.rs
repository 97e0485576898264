//! What `#[task_token_guard]` expands to. Not a public API: names here may change
//! in any release.

use std::time::Duration;

use crate::{TaskToken, Weight};

/// The static facts of one guarded fn, built at compile time by the attribute.
///
/// Each attribute key is one `const` setter, so a new key is one small addition
/// on both sides.
#[derive(Debug)]
pub struct Site {
    pub(crate) op: &'static str,
    pub(crate) weight: Weight,
    pub(crate) timeout: Option<Duration>,
}

impl Site {
    /// A site for `op` with the defaults: medium weight, no timeout.
    pub const fn new(op: &'static str) -> Site {
        Site {
            op,
            weight: Weight::Medium,
            timeout: None,
        }
    }

    /// `weight = "..."`.
    pub const fn weight(mut self, weight: Weight) -> Site {
        self.weight = weight;
        self
    }

    /// `timeout = "..."`, already parsed to nanoseconds by the attribute.
    pub const fn timeout_nanos(mut self, nanos: u64) -> Site {
        self.timeout = Some(Duration::from_nanos(nanos));
        self
    }
}

/// Submits one call of a guarded fn to the coordinator the calling thread is
/// bound to, and returns its token at once.
pub fn submit<T, F>(site: &'static Site, f: F) -> TaskToken<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    crate::coordinator::submit(
        crate::coordinator::Call::plain(site.op, site.weight, site.timeout),
        f,
    )
}

/// Implemented for every type a guarded call can move to a worker thread.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be moved to a tokengate worker thread",
    label = "this argument type is not `Send + 'static`",
    note = "a guarded call runs on a worker thread, so its arguments move there: \
            use owned, thread-safe types (for example `Arc<T>` instead of `Rc<T>`)"
)]
pub trait MoveToWorker {}

impl<T: Send + 'static> MoveToWorker for T {}

/// Implemented for every type a worker thread can hand back to the caller.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a tokengate worker thread",
    label = "this return type is not `Send + 'static`",
    note = "a guarded call returns its value from a worker thread: \
            use owned, thread-safe types (for example `Arc<T>` instead of `Rc<T>`)"
)]
pub trait ReturnFromWorker {}

impl<T: Send + 'static> ReturnFromWorker for T {}

/// Compile-time check that an argument type can move to a worker; the attribute
/// emits one call per argument, spanned on the argument's type.
pub const fn assert_arg<T: MoveToWorker>() {}

/// Compile-time check for the return type, spanned on it.
pub const fn assert_return<T: ReturnFromWorker>() {}

/// The body the attribute emits for a fn it had to reject, so that the rest of
/// the crate still type-checks while the compile error is reported. Never runs:
/// a crate with that error does not build.
pub fn rejected<T: Send + 'static>() -> TaskToken<T> {
    static REJECTED: Site = Site::new("<rejected by #[task_token_guard]>");
    submit(&REJECTED, || -> T {
        panic!("this fn was rejected by #[task_token_guard] at compile time")
    })
}
