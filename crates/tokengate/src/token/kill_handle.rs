//! [`KillHandle`]: kill a call from somewhere its token is not.

use std::fmt;
use std::sync::Weak;

use super::cell::{Job, kill};
use crate::error::{KillReason, TokenId};

/// A cloneable handle that kills one call from anywhere: another thread, a
/// cancel button, an admin endpoint, a shutdown hook. Made by
/// [`TaskToken::kill_handle`](crate::TaskToken::kill_handle).
///
/// The handle does not keep the call's result (nor its arguments) alive: once
/// the call finished and its token is gone, [`kill`](Self::kill) just returns
/// false. Compare tokio's `AbortHandle`.
///
/// ```
/// use std::time::Duration;
/// use tokengate::{task_token_guard, ErrorKind, OperationsCoordinator};
///
/// #[task_token_guard(op = "long_report")]
/// fn long_report() -> u32 {
///     while !tokengate::is_cancelled() {
///         std::thread::sleep(Duration::from_millis(1));
///     }
///     0
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// let token = long_report();
/// let cancel = token.kill_handle();
/// std::thread::spawn(move || assert!(cancel.kill()));
/// assert_eq!(token.wait().unwrap_err().kind(), ErrorKind::Killed);
/// coordinator.stop();
/// ```
#[derive(Clone)]
pub struct KillHandle {
    id: TokenId,
    job: Weak<dyn Job>,
}

impl KillHandle {
    pub(crate) fn new(id: TokenId, job: Weak<dyn Job>) -> KillHandle {
        KillHandle { id, job }
    }

    /// Kills the call, exactly as [`TaskToken::kill`](crate::TaskToken::kill)
    /// does. Returns `true` if this took effect, `false` if the call had
    /// already finished (or was killed by someone else first).
    pub fn kill(&self) -> bool {
        self.job
            .upgrade()
            .is_some_and(|job| kill(&*job, KillReason::Token))
    }

    /// The id of the call's token.
    pub fn id(&self) -> TokenId {
        self.id
    }

    /// Whether the call has reached a terminal state.
    pub fn is_finished(&self) -> bool {
        self.job
            .upgrade()
            .is_none_or(|job| job.header().state().is_terminal())
    }
}

impl fmt::Debug for KillHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KillHandle")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}
