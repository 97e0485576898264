//! Atomics that `loom` can model: under `--cfg loom` the protocol types built on
//! these are checked over every interleaving (see the `loom_*` tests).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::AtomicU8;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::AtomicU8;
