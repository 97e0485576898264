//! What the runtime does with panics that come from user code: the message of
//! a panic, and dropping user values so that a panic in their `Drop` never
//! escapes into a worker thread, the timer or an admin call.
//!
//! A worker thread drops values it did not make: a call's captured arguments
//! (a kill or a stop resolves a queued call), a killed call's late return
//! value, a caught panic payload, a token nobody holds any more. Any of them
//! may panic when dropped. Unwinding out of a worker would end the thread and
//! strand every call behind it, and unwinding out of `stop()` would leave the
//! coordinator half stopped, so every such drop goes through [`drop_quietly`].

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// How many times a panic payload that panics again when dropped is dropped
/// in turn before the rest is leaked.
const NESTED_PANICS: usize = 8;

/// Drops `value`, catching a panic in its `Drop`.
///
/// The payload of such a panic is dropped the same way, since it may panic
/// too (`panic_any` takes any value); after [`NESTED_PANICS`] panics in a row
/// the last payload is leaked rather than dropped. The panic hook still runs
/// for each panic, so the user sees them reported.
pub(crate) fn drop_quietly<T>(value: T) {
    let Err(mut payload) = catch_unwind(AssertUnwindSafe(move || drop(value))) else {
        return;
    };
    for _ in 0..NESTED_PANICS {
        match catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            Ok(()) => return,
            Err(next) => payload = next,
        }
    }
    std::mem::forget(payload);
}

/// The message of a panic payload: the `&str` or `String` that `panic!` makes,
/// or a placeholder for any other payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Runs `f` with the panic hook silenced, for unit tests that panic on
/// purpose. Tests run in parallel: one at a time swaps the hook.
#[cfg(test)]
pub(crate) fn silenced<R>(f: impl FnOnce() -> R) -> R {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    r.unwrap_or_else(|payload| std::panic::resume_unwind(payload))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Panics when dropped, `depth` times over: its payload is another one.
    struct Bomb(usize, &'static AtomicUsize);

    impl Drop for Bomb {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::SeqCst);
            if self.0 > 0 {
                std::panic::panic_any(Bomb(self.0 - 1, self.1));
            }
        }
    }

    #[test]
    fn panicking_drops_and_payloads_are_contained() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        silenced(|| drop_quietly(Bomb(3, &DROPS)));
        assert_eq!(
            DROPS.load(Ordering::SeqCst),
            4,
            "each payload is dropped once"
        );
    }

    #[test]
    // It leaks a payload on purpose, which miri reports as a leak.
    #[cfg_attr(miri, ignore)]
    fn endless_payload_chains_are_leaked_not_looped() {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        silenced(|| drop_quietly(Bomb(usize::MAX, &DROPS)));
        assert_eq!(DROPS.load(Ordering::SeqCst), 1 + NESTED_PANICS);
    }

    #[test]
    fn messages_of_common_payloads() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&7u8), "<non-string panic payload>");
    }
}
