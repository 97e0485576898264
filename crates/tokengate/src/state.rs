//! The token life cycle: states and the transitions allowed between them.

use std::fmt;

/// Where a token is in its life.
///
/// ```text
///  Created ──► Waiting ──► Admitted ──► Executing ──► Completed | Failed
///     │           │            │            │
///     └───────────┴────────────┴────────────┴──► Killed | TimedOut
/// ```
///
/// * `Created`: the call was made; it has not reached a lane yet.
/// * `Waiting`: it sits in its weight lane (or is held by a pause).
/// * `Admitted`: it was handed to a worker's mailbox.
/// * `Executing`: a worker runs the function body.
/// * `Completed` / `Failed`: the body returned / panicked.
/// * `Killed`: stopped by [`kill`](crate::TaskToken::kill), an admin call, a
///   drain, a stop, a full lane or a missing coordinator; the
///   [`TaskError`](crate::TaskError) says which.
/// * `TimedOut`: its `timeout` passed first.
///
/// The four last states are terminal: every token reaches exactly one of them,
/// exactly once, and never leaves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TokenState {
    /// The call was made; the token has not reached a lane yet.
    Created,
    /// The token waits in its lane, or is held there by a pause.
    Waiting,
    /// The token sits in a worker's mailbox.
    Admitted,
    /// A worker runs the function body.
    Executing,
    /// The body returned a value.
    Completed,
    /// The body panicked.
    Failed,
    /// The token was stopped before it could complete.
    Killed,
    /// The token's timeout passed before it completed.
    TimedOut,
}

impl TokenState {
    /// Every state, in life-cycle order.
    pub const ALL: [TokenState; 8] = [
        TokenState::Created,
        TokenState::Waiting,
        TokenState::Admitted,
        TokenState::Executing,
        TokenState::Completed,
        TokenState::Failed,
        TokenState::Killed,
        TokenState::TimedOut,
    ];

    /// Whether the state is final.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            TokenState::Completed | TokenState::Failed | TokenState::Killed | TokenState::TimedOut
        )
    }

    /// Whether the transition `self → next` is allowed.
    ///
    /// ```
    /// use tokengate::TokenState::*;
    ///
    /// assert!(Waiting.can_become(Admitted));
    /// assert!(Executing.can_become(TimedOut));
    /// assert!(!Waiting.can_become(Executing));
    /// assert!(Executing.can_become(Waiting)); // a failed attempt, retried
    /// assert!(!Completed.can_become(Killed));
    /// ```
    pub const fn can_become(self, next: TokenState) -> bool {
        use TokenState::*;
        matches!(
            (self, next),
            (Created, Waiting)
                | (Waiting, Admitted)
                | (Admitted, Executing)
                | (Executing, Completed | Failed)
                // A failed attempt that is retried.
                | (Executing, Waiting)
                | (Created | Waiting | Admitted | Executing, Killed | TimedOut)
        )
    }

    /// The state's lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenState::Created => "created",
            TokenState::Waiting => "waiting",
            TokenState::Admitted => "admitted",
            TokenState::Executing => "executing",
            TokenState::Completed => "completed",
            TokenState::Failed => "failed",
            TokenState::Killed => "killed",
            TokenState::TimedOut => "timed_out",
        }
    }

    pub(crate) const fn to_u8(self) -> u8 {
        self as u8
    }

    pub(crate) const fn from_u8(v: u8) -> TokenState {
        match v {
            0 => TokenState::Created,
            1 => TokenState::Waiting,
            2 => TokenState::Admitted,
            3 => TokenState::Executing,
            4 => TokenState::Completed,
            5 => TokenState::Failed,
            6 => TokenState::Killed,
            _ => TokenState::TimedOut,
        }
    }
}

impl fmt::Display for TokenState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// With the `serde` feature: serializes as [`as_str`](TokenState::as_str).
#[cfg(feature = "serde")]
impl serde::Serialize for TokenState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::TokenState::{self, *};

    #[test]
    fn terminal_states_are_final() {
        for from in TokenState::ALL.into_iter().filter(|s| s.is_terminal()) {
            for to in TokenState::ALL {
                assert!(!from.can_become(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn kill_and_timeout_reach_from_every_live_state() {
        for from in TokenState::ALL.into_iter().filter(|s| !s.is_terminal()) {
            assert!(from.can_become(Killed));
            assert!(from.can_become(TimedOut));
        }
    }

    #[test]
    fn u8_round_trip() {
        for s in TokenState::ALL {
            assert_eq!(TokenState::from_u8(s.to_u8()), s);
        }
    }
}
