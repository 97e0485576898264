//! The admission thread: moves calls waiting in line (made while their lane
//! was full) into their lanes as room frees up, in call order, and lets calls
//! waiting at a limit's gate through as permits free up or its rate allows.
//!
//! Whoever gives a lane slot back, or joins a line while there is room, only
//! sets a flag and signals this thread. Moving a call in means queueing it
//! (its domain, its op's hold queue, its lane or tier), which takes locks that
//! the signalling thread may already hold (a sticky domain handing its turn
//! on, a storage tier dispatching), so it is done here, on a thread that holds
//! none.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

#[derive(Debug, Default)]
struct State {
    /// A line or gate may be able to move.
    pending: bool,
    /// A gate held only by its rate may move at this instant.
    due: Option<Instant>,
    stopped: bool,
}

/// The flag and signal the admission thread waits on.
#[derive(Debug, Default)]
pub(crate) struct Admitter {
    state: Mutex<State>,
    signal: Condvar,
}

impl Admitter {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A line may be able to move: have the thread look.
    pub(crate) fn wake(&self) {
        let mut state = self.lock();
        if !state.pending {
            state.pending = true;
            drop(state);
            self.signal.notify_one();
        }
    }

    /// A gate may move at `at` (its rate allows the next call then).
    pub(crate) fn wake_at(&self, at: Instant) {
        let mut state = self.lock();
        if state.due.is_none_or(|due| at < due) {
            state.due = Some(at);
            drop(state);
            self.signal.notify_one();
        }
    }

    /// Ends [`run`](Self::run).
    pub(crate) fn stop(&self) {
        self.lock().stopped = true;
        self.signal.notify_one();
    }

    /// The thread's loop: `move_all` each time it is woken or a due instant
    /// passes, until stopped.
    pub(crate) fn run(&self, move_all: impl Fn()) {
        let mut state = self.lock();
        loop {
            if state.stopped {
                return;
            }
            let now = Instant::now();
            if state.due.is_some_and(|due| due <= now) {
                state.due = None;
                state.pending = true;
            }
            if state.pending {
                state.pending = false;
                drop(state);
                move_all();
                state = self.lock();
                continue;
            }
            state = match state.due {
                Some(due) => {
                    self.signal
                        .wait_timeout(state, due - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
                None => self.signal.wait(state).unwrap_or_else(|p| p.into_inner()),
            };
        }
    }
}
