//! The admission thread: moves calls waiting in line (made while their lane
//! was full) into their lanes as room frees up, in call order.
//!
//! Whoever gives a lane slot back, or joins a line while there is room, only
//! sets a flag and signals this thread. Moving a call in means queueing it
//! (its domain, its op's hold queue, its lane or tier), which takes locks that
//! the signalling thread may already hold (a sticky domain handing its turn
//! on, a storage tier dispatching), so it is done here, on a thread that holds
//! none.

use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Debug, Default)]
struct State {
    /// A line may be able to move.
    pending: bool,
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

    /// Ends [`run`](Self::run).
    pub(crate) fn stop(&self) {
        self.lock().stopped = true;
        self.signal.notify_one();
    }

    /// The thread's loop: `move_lines` each time it is woken, until stopped.
    pub(crate) fn run(&self, move_lines: impl Fn()) {
        let mut state = self.lock();
        loop {
            if state.stopped {
                return;
            }
            if state.pending {
                state.pending = false;
                drop(state);
                move_lines();
                state = self.lock();
                continue;
            }
            state = self.signal.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }
}
