//! [`BodyScope`]: the `tracing` spans an attempt of a traced call runs in
//! (the `tracing` feature), entered on whichever thread runs it.

use tracing::Span;
use tracing::dispatcher::DefaultGuard;
use tracing::span::EnteredSpan;

/// The spans an attempt runs in, entered (the outer one first), with their
/// subscriber as the thread's default meanwhile: the thread looks as the
/// caller's did where the call was made. Dropping it leaves them, innermost
/// first, and restores the thread's default subscriber.
#[derive(Debug)]
pub(crate) struct BodyScope {
    _inner: EnteredSpan,
    _outer: EnteredSpan,
    _default: Option<DefaultGuard>,
}

impl BodyScope {
    /// Enters `[outer, inner]` (either may be disabled).
    pub(crate) fn enter([outer, inner]: [Span; 2]) -> BodyScope {
        let default = [&inner, &outer].into_iter().find_map(|span| {
            span.with_subscriber(|(_, dispatch)| tracing::dispatcher::set_default(dispatch))
        });
        // Fields drop in order: the inner span is left first, the default
        // restored last.
        BodyScope {
            _default: default,
            _outer: outer.entered(),
            _inner: inner.entered(),
        }
    }
}
