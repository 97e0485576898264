//! [`GroupError`]: why a group did not produce every member's value.

use std::error::Error;
use std::fmt;

use crate::{TaskError, TokenId};

/// Why [`TokenGroup::join`](crate::TokenGroup::join) (or `wait`, `try_join`,
/// `try_wait`) produced no values: every member failure the group saw, with
/// the member's id, in the order they happened, and how many members the
/// group cancelled because of them.
///
/// More than one member can fail before the group's kill lands (two calls
/// panicking at once, say), so all failures are kept, as Python's
/// `ExceptionGroup` keeps them. Its `Display` is the first failure's message
/// plus a count of the rest; [`source`](Error::source) is the first failure.
///
/// `E` is [`TaskError`] for `join`/`wait`, and [`MemberError<E>`] for
/// `try_join`/`try_wait` over fns that return `Result<_, E>`.
#[derive(Debug)]
pub struct GroupError<E = TaskError> {
    failures: Vec<(TokenId, E)>,
    cancelled: usize,
}

impl<E> GroupError<E> {
    pub(crate) fn new(failures: Vec<(TokenId, E)>, cancelled: usize) -> GroupError<E> {
        GroupError {
            failures,
            cancelled,
        }
    }

    /// The first failure and its member's id; `None` when no member failed
    /// and the group was killed instead ([`kill_all`](crate::TokenGroup::kill_all)).
    pub fn first(&self) -> Option<(TokenId, &E)> {
        self.failures.first().map(|(id, err)| (*id, err))
    }

    /// Every failure, first first, with its member's id.
    pub fn failures(&self) -> &[(TokenId, E)] {
        &self.failures
    }

    /// Every failure, by value.
    pub fn into_failures(self) -> Vec<(TokenId, E)> {
        self.failures
    }

    /// How many members the group killed (after the first failure, or by
    /// [`kill_all`](crate::TokenGroup::kill_all)) before they produced a
    /// value.
    pub fn cancelled(&self) -> usize {
        self.cancelled
    }
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((_, first)) = self.failures.first() else {
            return write!(
                f,
                "the group was killed before its members finished ({} cancelled); \
                 join it without `kill_all` to get their values",
                self.cancelled
            );
        };
        write!(f, "{first}")?;
        let (more, cancelled) = (self.failures.len() - 1, self.cancelled);
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        match (more, cancelled) {
            (0, 0) => Ok(()),
            (0, c) => write!(f, "; the group cancelled {c} other member{}", plural(c)),
            (m, 0) => write!(f, "; {m} more member{} failed", plural(m)),
            (m, c) => write!(
                f,
                "; {m} more member{} failed, and the group cancelled {c}",
                plural(m)
            ),
        }
    }
}

impl<E: Error + 'static> Error for GroupError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.failures
            .first()
            .map(|(_, err)| err as &(dyn Error + 'static))
    }
}

/// How one member of a `try_join`/`try_wait` failed: its call produced no
/// value, or its value was an `Err`.
#[derive(Debug)]
pub enum MemberError<E> {
    /// The call failed (panic, kill, timeout, rejection, lost worker, ...).
    Task(TaskError),
    /// The call returned `Err`.
    Err(E),
}

impl<E> MemberError<E> {
    /// The call's error, if the call itself failed.
    pub fn task_error(&self) -> Option<&TaskError> {
        match self {
            MemberError::Task(err) => Some(err),
            MemberError::Err(_) => None,
        }
    }

    /// The `Err` the call returned, if it returned one.
    pub fn returned(&self) -> Option<&E> {
        match self {
            MemberError::Task(_) => None,
            MemberError::Err(err) => Some(err),
        }
    }
}

impl<E: fmt::Display> fmt::Display for MemberError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemberError::Task(err) => err.fmt(f),
            MemberError::Err(err) => err.fmt(f),
        }
    }
}

/// Transparent: its message and source are those of the error inside.
impl<E: Error + 'static> Error for MemberError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            MemberError::Task(err) => err.source(),
            MemberError::Err(err) => err.source(),
        }
    }
}
