//! The non-generic part of a token: identity, state and clock.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::state_cell::StateCell;
use crate::error::{Reason, TaskError};
use crate::{TokenState, Weight};

/// Identity, state and timestamps of one call, whatever its closure and
/// result types.
#[derive(Debug)]
pub(crate) struct Header {
    /// Unique in the process; never reused.
    pub(crate) id: u64,
    /// The operation name (`op = "..."`).
    pub(crate) op: &'static str,
    /// The call's weight class.
    pub(crate) weight: Weight,
    /// The deadline measured from the call, if any.
    pub(crate) timeout: Option<Duration>,
    /// A routing tag for the scheduler that runs the call, set when it is
    /// made; opaque to the token layer (0: none).
    pub(crate) tag: u8,
    /// Whether its owner traces the call (hands out spans for its body, and
    /// wants to hear how it resolved): set when it is made, so that an
    /// untraced call pays a flag check, not a call into its owner.
    #[cfg(feature = "tracing")]
    pub(crate) traced: bool,
    /// The state, plus whether the token holds a slot of its lane's capacity.
    state: StateCell,
    /// Nanoseconds since [`epoch`] when the call was made.
    created: u64,
    /// Which of its scheduler's threads runs the body: an index the scheduler
    /// chose, plus one (0: none recorded).
    runner: AtomicU32,
    /// Attempts that failed and were retried (see `again`), and attempts
    /// whose body started.
    retried: AtomicU32,
    attempts: AtomicU32,
    /// The running attempt passed its own deadline: its body should stop,
    /// and a retry may follow (`retry_on = "timeout"`).
    attempt_cancelled: AtomicBool,
    /// Nanoseconds since [`epoch`] of admission, start and finish; 0 = not yet.
    admitted: AtomicU64,
    started: AtomicU64,
    finished: AtomicU64,
}

/// The process-wide clock origin for token timestamps.
pub(crate) fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since [`epoch`], never 0 (0 means "not yet").
pub(crate) fn now_ns() -> u64 {
    let origin = epoch();
    (origin.elapsed().as_nanos() as u64).max(1)
}

impl Header {
    pub(crate) fn new(
        id: u64,
        op: &'static str,
        weight: Weight,
        timeout: Option<Duration>,
    ) -> Header {
        Header {
            id,
            op,
            weight,
            timeout,
            tag: 0,
            #[cfg(feature = "tracing")]
            traced: false,
            state: StateCell::new(),
            created: now_ns(),
            runner: AtomicU32::new(0),
            retried: AtomicU32::new(0),
            attempts: AtomicU32::new(0),
            attempt_cancelled: AtomicBool::new(false),
            admitted: AtomicU64::new(0),
            started: AtomicU64::new(0),
            finished: AtomicU64::new(0),
        }
    }

    /// The header with routing tag `tag` (see [`tag`](Self::tag)).
    pub(crate) fn tagged(mut self, tag: u8) -> Header {
        self.tag = tag;
        self
    }

    /// The header of a call its owner traces (see [`traced`](Self::traced)).
    #[cfg(feature = "tracing")]
    pub(crate) fn with_trace(mut self, traced: bool) -> Header {
        self.traced = traced;
        self
    }

    pub(crate) fn state(&self) -> TokenState {
        self.state.load()
    }

    /// Records that the token holds a lane slot; false (nothing recorded) if it
    /// is no longer `Waiting`. See [`StateCell`].
    pub(crate) fn arm_lane_slot(&self) -> bool {
        self.state.arm_slot()
    }

    /// Whether the token holds a lane slot: `Waiting` in its lane, as opposed
    /// to `Waiting` in line for room.
    pub(crate) fn holds_slot(&self) -> bool {
        self.state.holds_slot()
    }

    /// Moves `from → to` if the token is in `from` and stamps the time. On
    /// success returns whether the token held a lane slot (now given up) and
    /// the time stamped. The transition is not reported to anyone: see
    /// `Job::transition`, which is how the rest of the crate moves tokens.
    pub(crate) fn advance(&self, from: TokenState, to: TokenState) -> Option<(bool, u64)> {
        debug_assert!(from.can_become(to), "{from} -> {to}");
        let held_slot = self.state.transition(from, to)?;
        // `Created → Waiting` follows creation at once: it needs no clock read.
        let now = if to == TokenState::Waiting {
            self.created
        } else {
            now_ns()
        };
        if to == TokenState::Waiting && from == TokenState::Executing {
            // A retry. The failed attempt's timestamps stay until the next
            // attempt's overwrite them (its owner reads how long it ran).
            self.retried.fetch_add(1, Ordering::Relaxed);
            self.attempt_cancelled.store(false, Ordering::Relaxed);
            return Some((held_slot, now));
        }
        match to {
            TokenState::Admitted => self.admitted.store(now, Ordering::Relaxed),
            TokenState::Executing => {
                self.started.store(now, Ordering::Relaxed);
                self.attempts.fetch_add(1, Ordering::Relaxed);
            }
            s if s.is_terminal() => self.finished.store(now, Ordering::Relaxed),
            _ => {}
        }
        Some((held_slot, now))
    }

    /// Records that thread `index` of the scheduler runs the body.
    pub(crate) fn set_runner(&self, index: usize) {
        let index = u32::try_from(index).map_or(0, |i| i.saturating_add(1));
        self.runner.store(index, Ordering::Relaxed);
    }

    /// The thread recorded by [`set_runner`](Self::set_runner), if any.
    pub(crate) fn runner(&self) -> Option<usize> {
        match self.runner.load(Ordering::Relaxed) {
            0 => None,
            i => Some(i as usize - 1),
        }
    }

    pub(crate) fn created_ns(&self) -> u64 {
        self.created
    }

    pub(crate) fn admitted_ns(&self) -> u64 {
        self.admitted.load(Ordering::Relaxed)
    }

    pub(crate) fn started_ns(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    pub(crate) fn finished_ns(&self) -> u64 {
        self.finished.load(Ordering::Relaxed)
    }

    /// A kill or a timeout was requested: the running body should stop.
    pub(crate) fn is_cancelled(&self) -> bool {
        matches!(self.state(), TokenState::Killed | TokenState::TimedOut)
            || self.attempt_cancelled()
    }

    /// The running attempt passed its own deadline.
    pub(crate) fn attempt_cancelled(&self) -> bool {
        self.attempt_cancelled.load(Ordering::Acquire)
    }

    /// Cuts off attempt `attempt` (counted from 0) if it is the one running:
    /// its body sees [`is_cancelled`](Self::is_cancelled). Returns whether it
    /// did.
    pub(crate) fn cancel_attempt(&self, attempt: u32) -> bool {
        if self.state() != TokenState::Executing || self.retried() != attempt {
            return false;
        }
        self.attempt_cancelled.store(true, Ordering::Release);
        true
    }

    /// Attempts that failed and were retried.
    pub(crate) fn retried(&self) -> u32 {
        self.retried.load(Ordering::Relaxed)
    }

    /// Attempts whose body started.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::Relaxed)
    }

    pub(crate) fn error(&self, kind: Reason) -> TaskError {
        TaskError::new(self.op, self.id, kind)
    }
}
