//! [`KillOnDrop`]: a token whose call is killed if its waiter goes away.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::TaskToken;
use super::cell::kill;
use super::kill_handle::KillHandle;
use crate::TaskError;
use crate::error::{KillReason, TokenId};

/// A [`TaskToken`] that kills its call when it is dropped before the call
/// finished. Made by [`TaskToken::kill_on_drop`]; compare tokio-util's
/// `AbortOnDropHandle`.
///
/// A plain token *detaches* its call when dropped: the call runs on and its
/// result is thrown away. That is right for fire-and-forget work, and wrong
/// where the caller's going away means nobody wants the result any more: an
/// HTTP handler whose client disconnected, the losing branch of `select!`, a
/// `tokio::time::timeout` that elapsed. Wrap the token, and the call is killed
/// with the future that awaited it (queued, it never runs; running, its body
/// sees [`is_cancelled`](crate::is_cancelled) and the token resolves
/// [`Killed`](crate::ErrorKind::Killed) with
/// [`KillReason::Dropped`](crate::KillReason::Dropped)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use tokengate::{task_token_guard, OperationsCoordinator};
///
/// #[task_token_guard(op = "render")]
/// fn render() -> u32 {
///     while !tokengate::is_cancelled() {
///         std::thread::sleep(Duration::from_millis(1));
///     }
///     0
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// let call = render().kill_on_drop();
/// let handle = call.kill_handle();
/// // The deadline passes; the timeout drops `call`, which kills the render.
/// let late = tokio::time::timeout(Duration::from_millis(20), call).await;
/// assert!(late.is_err());
/// assert!(handle.is_finished());
/// coordinator.stop();
/// # }
/// ```
#[must_use = "dropping a `KillOnDrop` kills its call; `.await` it or call `.wait()`"]
pub struct KillOnDrop<T> {
    /// `None` once the token was handed back ([`detach`](Self::detach), `wait`).
    token: Option<TaskToken<T>>,
}

impl<T> KillOnDrop<T> {
    pub(crate) fn new(token: TaskToken<T>) -> KillOnDrop<T> {
        KillOnDrop { token: Some(token) }
    }

    fn token(&self) -> &TaskToken<T> {
        self.token
            .as_ref()
            .expect("a `KillOnDrop` holds its token until it is consumed")
    }

    /// Blocks until the call finishes and returns its result, as
    /// [`TaskToken::wait`] does. A blocking wait is not dropped half-way, so
    /// there is nothing to kill on the way.
    pub fn wait(self) -> Result<T, TaskError> {
        self.detach().wait()
    }

    /// Gives back the plain token: the call is no longer killed on drop.
    pub fn detach(mut self) -> TaskToken<T> {
        self.token.take().expect("a `KillOnDrop` holds its token")
    }

    /// Kills the call now; see [`TaskToken::kill`].
    pub fn kill(&self) -> bool {
        self.token().kill()
    }

    /// A handle that can kill the call from elsewhere.
    pub fn kill_handle(&self) -> KillHandle {
        self.token().kill_handle()
    }

    /// The id of the call's token.
    pub fn id(&self) -> TokenId {
        self.token().id()
    }

    /// Whether the call has reached a terminal state.
    pub fn is_finished(&self) -> bool {
        self.token().is_finished()
    }
}

impl<T> Future for KillOnDrop<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let token = self
            .token
            .as_mut()
            .expect("a `KillOnDrop` holds its token until it is consumed");
        Pin::new(token).poll(cx)
    }
}

impl<T> Drop for KillOnDrop<T> {
    /// Kills the call unless it has finished (a call that resolved is not
    /// touched, whether or not its result was taken).
    fn drop(&mut self) {
        if let Some(token) = &self.token
            && !token.is_finished()
        {
            kill(token.job_ref(), KillReason::Dropped);
        }
    }
}

impl<T> fmt::Debug for KillOnDrop<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KillOnDrop")
            .field("token", &self.token)
            .finish()
    }
}
