//! The flag a running job is told to stop by.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set when a running job should stop: it was killed by its caller, or it ran
/// past its deadline. The executor polls it (a thread cannot be stopped from
/// outside) and returns early; whatever it returns then is dropped.
///
/// # Examples
///
/// ```
/// use tokengate_remote::CancelFlag;
///
/// let flag = CancelFlag::new();
/// let seen_by_the_fn = flag.clone();
/// assert!(!seen_by_the_fn.is_cancelled());
/// flag.cancel();
/// assert!(seen_by_the_fn.is_cancelled());
/// ```
#[derive(Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A flag that is not set.
    pub fn new() -> CancelFlag {
        CancelFlag::default()
    }

    /// Whether the job should stop.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    /// Sets the flag, for every clone.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }
}

impl fmt::Debug for CancelFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CancelFlag")
            .field(&self.is_cancelled())
            .finish()
    }
}
