//! A token's state and its lane slot, in one atomic byte.
//!
//! The low bits hold the [`TokenState`]; the top bit says the token holds one
//! slot of its lane's capacity. The caller that queues a token takes a slot
//! *before* it can mark the token, and a kill may move the token out of
//! `Waiting` in between. Keeping both facts in one byte makes the hand-off a
//! single-location race: [`arm_slot`](StateCell::arm_slot) sets the bit only
//! while the token is `Waiting` (atomically with that check), and the transition
//! that leaves `Waiting` clears the bit and reports it, so the slot is given back
//! exactly once. Checked over all interleavings by `loom_state_cell` below,
//! with a kill and with a worker's claim racing the arm.

use std::sync::atomic::Ordering::{AcqRel, Acquire};

use crate::TokenState;
use crate::sync::AtomicU8;

const SLOT: u8 = 0x80;

/// A [`TokenState`] plus the "holds a lane slot" bit.
#[derive(Debug)]
pub(crate) struct StateCell(AtomicU8);

impl StateCell {
    pub(crate) fn new() -> Self {
        StateCell(AtomicU8::new(TokenState::Created.to_u8()))
    }

    pub(crate) fn load(&self) -> TokenState {
        TokenState::from_u8(self.0.load(Acquire) & !SLOT)
    }

    /// Whether the token holds a lane slot (it is `Waiting` in its lane).
    pub(crate) fn holds_slot(&self) -> bool {
        self.0.load(Acquire) & SLOT != 0
    }

    /// Moves `from → to` if the token is in `from`. On success returns whether
    /// the token held a lane slot, which the caller must now give back.
    pub(crate) fn transition(&self, from: TokenState, to: TokenState) -> Option<bool> {
        let mut current = self.0.load(Acquire);
        loop {
            if current & !SLOT != from.to_u8() {
                return None;
            }
            match self
                .0
                .compare_exchange_weak(current, to.to_u8(), AcqRel, Acquire)
            {
                Ok(previous) => return Some(previous & SLOT != 0),
                Err(actual) => current = actual,
            }
        }
    }

    /// Records that the token holds a lane slot. Returns false if the token is
    /// no longer `Waiting`: then nothing was recorded and the caller keeps the
    /// slot (and must give it back).
    pub(crate) fn arm_slot(&self) -> bool {
        let waiting = TokenState::Waiting.to_u8();
        // The bit is set by a compare-and-swap from `Waiting` itself, so it is
        // never set on a token in any other state: a worker that claims the
        // token concurrently (`Waiting → Admitted → Executing`) either sees the
        // bit (and gives the slot back with its transition) or wins first (and
        // this returns false, so the caller gives it back). Never both.
        self.0
            .compare_exchange(waiting, waiting | SLOT, AcqRel, Acquire)
            .is_ok()
    }
}

#[cfg(all(test, loom))]
mod loom_state_cell {
    use super::StateCell;
    use crate::TokenState::{self, *};
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use loom::thread;

    /// A queuing caller arms the slot while a kill and a worker race to move the
    /// token out of `Waiting`: the slot is given back exactly once.
    #[test]
    fn slot_is_released_exactly_once() {
        loom::model(|| {
            let cell = Arc::new(StateCell::new());
            cell.transition(Created, Waiting).unwrap();
            let released = Arc::new(AtomicUsize::new(0));
            let leave = |to: TokenState| {
                let (cell, released) = (cell.clone(), released.clone());
                thread::spawn(move || {
                    if cell.transition(Waiting, to) == Some(true) {
                        released.fetch_add(1, SeqCst);
                    }
                })
            };
            let killer = leave(Killed);
            let worker = leave(Admitted);
            if !cell.arm_slot() {
                released.fetch_add(1, SeqCst);
            }
            killer.join().unwrap();
            worker.join().unwrap();
            assert_ne!(cell.load(), Waiting);
            assert_eq!(released.load(SeqCst), 1);
        });
    }

    /// A queuing caller arms the slot while a worker claims the token and runs
    /// it to completion (`Waiting → Admitted → Executing → Completed`), as a
    /// worker waiting on a call that waits in line does while the admission
    /// thread moves it into its lane: the slot is given back exactly once,
    /// whichever side wins.
    #[test]
    fn slot_is_released_exactly_once_when_a_claim_races_the_arm() {
        loom::model(|| {
            let cell = Arc::new(StateCell::new());
            cell.transition(Created, Waiting).unwrap();
            let released = Arc::new(AtomicUsize::new(0));
            let claimer = {
                let (cell, released) = (cell.clone(), released.clone());
                thread::spawn(move || {
                    for (from, to) in [
                        (Waiting, Admitted),
                        (Admitted, Executing),
                        (Executing, Completed),
                    ] {
                        match cell.transition(from, to) {
                            Some(true) => {
                                released.fetch_add(1, SeqCst);
                            }
                            Some(false) => {}
                            None => return,
                        }
                    }
                })
            };
            if !cell.arm_slot() {
                released.fetch_add(1, SeqCst);
            }
            claimer.join().unwrap();
            assert_eq!(cell.load(), Completed);
            assert_eq!(released.load(SeqCst), 1);
        });
    }

    /// Without a race the slot stays held until the token leaves `Waiting`.
    #[test]
    fn slot_stays_held_while_waiting() {
        loom::model(|| {
            let cell = StateCell::new();
            cell.transition(Created, Waiting).unwrap();
            assert!(cell.arm_slot());
            assert_eq!(cell.load(), Waiting);
            assert_eq!(cell.transition(Waiting, Admitted), Some(true));
            assert_eq!(cell.transition(Admitted, Executing), Some(false));
        });
    }
}
