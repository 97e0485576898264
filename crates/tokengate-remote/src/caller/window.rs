//! The in-flight window: at most `max_in_flight` jobs between submission and
//! their outcome, and a [`Permit`] for each.
//!
//! The core decides what a full window means for a call (wait or refuse), so
//! the window only answers and notifies: [`Window::try_reserve`] never
//! blocks, and [`Window::when_free`] runs a callback once a job leaves it.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// A callback run once the window may have room.
pub(crate) type Wake = Box<dyn FnOnce() + Send + 'static>;

pub(crate) struct Window {
    max: usize,
    state: Mutex<State>,
    freed: Condvar,
}

struct State {
    /// Permits out (reserved, or held by jobs in flight).
    used: usize,
    /// Callbacks waiting for room, oldest first.
    wakes: Vec<Wake>,
}

impl Window {
    pub(crate) fn new(max: usize) -> Arc<Window> {
        Arc::new(Window {
            max,
            state: Mutex::new(State {
                used: 0,
                wakes: Vec::new(),
            }),
            freed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it; a poisoned lock still holds
        // consistent counts.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    /// Permits out now.
    pub(crate) fn used(&self) -> usize {
        self.lock().used
    }

    /// A permit if the window has room, at once.
    pub(crate) fn try_reserve(self: &Arc<Window>) -> Option<Permit> {
        let mut state = self.lock();
        if state.used < self.max {
            state.used += 1;
            Some(Permit {
                window: Some(self.clone()),
            })
        } else {
            None
        }
    }

    /// A permit once the window has room, waiting at most `timeout`.
    pub(crate) fn reserve_timeout(self: &Arc<Window>, timeout: Duration) -> Option<Permit> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while state.used >= self.max {
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self
                .freed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        state.used += 1;
        Some(Permit {
            window: Some(self.clone()),
        })
    }

    /// Runs `wake` once the window has room: now if it has, else when a
    /// permit is released. Room is not reserved for it: `wake` should try
    /// again with [`try_reserve`](Self::try_reserve).
    pub(crate) fn when_free(&self, wake: Wake) {
        let mut state = self.lock();
        if state.used < self.max {
            drop(state);
            run(wake);
        } else {
            state.wakes.push(wake);
        }
    }

    /// Returns one permit.
    pub(crate) fn release(&self) {
        let wake = {
            let mut state = self.lock();
            state.used -= 1;
            (!state.wakes.is_empty()).then(|| state.wakes.remove(0))
        };
        self.freed.notify_one();
        if let Some(wake) = wake {
            run(wake);
        }
    }
}

/// Runs a wake callback; a panic in it must not take the window's caller down.
fn run(wake: Wake) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(wake));
}

impl fmt::Debug for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Window")
            .field("max", &self.max)
            .field("used", &state.used)
            .field("wakes", &state.wakes.len())
            .finish()
    }
}

/// Room for one job in a caller's in-flight window, from
/// [`Caller::try_reserve`](crate::Caller::try_reserve).
///
/// [`Caller::submit`](crate::Caller::submit) takes it; the job holds the room
/// until its outcome is delivered. Dropped unused, it gives the room back.
#[must_use = "a permit holds room in the window until it is submitted with or dropped"]
pub struct Permit {
    window: Option<Arc<Window>>,
}

impl Permit {
    /// Hands the room over to a job in flight, which releases it through its
    /// window when it resolves.
    pub(crate) fn into_job(mut self) {
        self.window = None;
    }

    /// Whether the permit is from `window`.
    pub(crate) fn is_from(&self, window: &Arc<Window>) -> bool {
        self.window.as_ref().is_some_and(|w| Arc::ptr_eq(w, window))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(window) = self.window.take() {
            window.release();
        }
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn reserves_up_to_max_and_gives_back_on_drop() {
        let window = Window::new(2);
        let a = window.try_reserve().expect("room");
        let b = window.try_reserve().expect("room");
        assert!(window.try_reserve().is_none());
        assert_eq!(window.used(), 2);
        drop(a);
        assert_eq!(window.used(), 1);
        let c = window.try_reserve().expect("room again");
        drop((b, c));
        assert_eq!(window.used(), 0);
    }

    #[test]
    fn a_permit_handed_to_a_job_is_released_by_the_job() {
        let window = Window::new(1);
        window.try_reserve().unwrap().into_job();
        assert_eq!(window.used(), 1);
        window.release();
        assert_eq!(window.used(), 0);
    }

    #[test]
    fn wakes_run_when_room_comes_back() {
        let window = Window::new(1);
        let woken = Arc::new(AtomicUsize::new(0));
        let permit = window.try_reserve().unwrap();
        let w = woken.clone();
        window.when_free(Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(woken.load(Ordering::SeqCst), 0, "no room yet");
        drop(permit);
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        let w = woken.clone();
        window.when_free(Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(woken.load(Ordering::SeqCst), 2, "room now: runs at once");
    }

    #[test]
    fn reserve_timeout_waits_for_a_release_or_gives_up() {
        let window = Window::new(1);
        let permit = window.try_reserve().unwrap();
        assert!(window.reserve_timeout(Duration::from_millis(10)).is_none());
        let w = window.clone();
        let waiter =
            std::thread::spawn(move || w.reserve_timeout(Duration::from_secs(20)).is_some());
        drop(permit);
        assert!(waiter.join().unwrap());
    }
}
