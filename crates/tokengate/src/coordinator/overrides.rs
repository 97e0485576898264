//! [`Override`]: weight and timeout for the calls made inside a scope, over
//! what their fn declares.

use std::time::Duration;

use super::Call;
use super::context;
use crate::Weight;

/// Settings that replace a guarded fn's own `weight` and `timeout` for the
/// calls made on this thread inside [`scope`](Self::scope), so that one fn can
/// serve a latency-sensitive caller and a batch caller without a second copy.
///
/// Unset fields keep the fn's own setting; scopes nest, and an inner scope's
/// set fields win. An override applies to calls *made* in the scope (their
/// tokens may be awaited anywhere); bodies run on worker threads, so calls a
/// body makes are not affected. A `storage_speed` call keeps its routing: a
/// weight given here does not turn it into a CPU call.
///
/// ```
/// use std::time::Duration;
/// use tokengate::{task_token_guard, OperationsCoordinator, Override, Weight};
///
/// #[task_token_guard(op = "render", weight = "light")]
/// fn render(page: u32) -> String {
///     format!("page {page}")
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// let interactive = render(1);
/// let batch = Override::new()
///     .weight(Weight::Heavy)
///     .timeout(Duration::from_secs(60))
///     .scope(|| (2..10).map(render).collect::<Vec<_>>());
/// assert_eq!(interactive.weight(), Weight::Light);
/// assert!(batch.iter().all(|token| token.weight() == Weight::Heavy));
/// coordinator.stop();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use = "an override does nothing until `.scope(..)` runs code under it"]
pub struct Override {
    pub(crate) weight: Option<Weight>,
    pub(crate) timeout: Option<Duration>,
}

impl Override {
    /// An override that changes nothing yet.
    pub const fn new() -> Override {
        Override {
            weight: None,
            timeout: None,
        }
    }

    /// Calls made in the scope get this weight.
    pub const fn weight(mut self, weight: Weight) -> Override {
        self.weight = Some(weight);
        self
    }

    /// Calls made in the scope get this timeout (measured from each call),
    /// instead of their fn's.
    pub const fn timeout(mut self, timeout: Duration) -> Override {
        self.timeout = Some(timeout);
        self
    }

    /// Runs `f` with this override in force for calls made on this thread,
    /// over any override already in force; the previous one is back when `f`
    /// returns or unwinds.
    pub fn scope<R>(self, f: impl FnOnce() -> R) -> R {
        /// Puts the outer override back, however the scope ends.
        struct Restore(Override);
        impl Drop for Restore {
            fn drop(&mut self) {
                context::set_override(self.0);
            }
        }
        let outer = context::current_override();
        let _restore = Restore(outer);
        context::set_override(Override {
            weight: self.weight.or(outer.weight),
            timeout: self.timeout.or(outer.timeout),
        });
        f()
    }

    /// `call` with the override in force on this thread applied.
    pub(crate) fn apply(call: &mut Call) {
        let now = context::current_override();
        if now == Override::new() {
            return;
        }
        if let Some(weight) = now.weight
            && call.storage.is_none()
        {
            call.weight = weight;
        }
        if let Some(timeout) = now.timeout {
            call.timeout = Some(timeout);
        }
    }
}
