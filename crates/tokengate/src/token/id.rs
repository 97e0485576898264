//! Token ids: unique in the process, handed out in per-thread blocks so that
//! concurrent callers do not contend on one counter.

use std::sync::atomic::{AtomicU64, Ordering};

use super::context;

/// Ids a thread reserves at a time.
const BLOCK: u64 = 1024;

static NEXT_BLOCK: AtomicU64 = AtomicU64::new(1);

/// A fresh id, never 0 and never repeated in this process.
pub(crate) fn next_id() -> u64 {
    context::with_ids(|range| {
        let (mut next, mut end) = range.get();
        if next == end {
            next = NEXT_BLOCK.fetch_add(BLOCK, Ordering::Relaxed);
            end = next + BLOCK;
        }
        range.set((next + 1, end));
        next
    })
}
