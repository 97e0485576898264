//! The synchronisation types the runtime's protocols are built on, switched to
//! `loom`'s under `--cfg loom`, so that the real code (the token's state cell,
//! lanes, sticky domains, placement and the idle search) runs in the loom
//! models, over every interleaving (the `loom` tests in `token/` and
//! `scheduler/`). Everything else uses `std` directly.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
