//! [`Snapshot`]: everything the page shows, taken once a second and sent to
//! every open page as one JSON text.

use serde::Serialize;
use tokengate::stats::{LiveCall, Stats};
use tokengate::{Handle, TokenState};

use crate::history::Sample;

/// The most live calls a snapshot lists (the oldest; `live_total` says how
/// many there are). A coordinator may hold a million queued calls; the page
/// needs the ones that are stuck, and those are the oldest.
pub(crate) const LIVE_SHOWN: usize = 100;

/// What the page shows, at one instant.
#[derive(Debug, Serialize)]
pub(crate) struct Snapshot {
    /// The coordinator's stats.
    pub(crate) stats: Stats,
    /// The blocked operations, by name.
    pub(crate) blocked: Vec<String>,
    /// For each worker thread, by index: the operation of the call running on
    /// it, if one does (from the live calls).
    pub(crate) running: Vec<Option<&'static str>>,
    /// How many calls are live.
    pub(crate) live_total: usize,
    /// The oldest live calls, at most [`LIVE_SHOWN`].
    pub(crate) live: Vec<LiveCall>,
    /// The worker processes' pids, sorted.
    pub(crate) pids: Vec<u32>,
    /// This second's sample (also in the history).
    pub(crate) sample: Sample,
    /// Whether the coordinator still runs.
    pub(crate) running_coordinator: bool,
}

impl Snapshot {
    /// Reads the live calls, blocks and worker processes of `handle` around
    /// `stats`. Its cost is one pass over the live calls.
    pub(crate) fn take(handle: &Handle, stats: Stats, sample: Sample) -> Snapshot {
        let mut live = handle.live_calls();
        let mut running = vec![None; stats.workers.len()];
        for call in &live {
            if let (TokenState::Executing, Some(worker)) = (call.state, call.worker) {
                if let Some(slot) = running.get_mut(worker) {
                    *slot = Some(call.op);
                }
            }
        }
        let live_total = live.len();
        live.truncate(LIVE_SHOWN);
        Snapshot {
            stats,
            blocked: handle.blocked_operations(),
            running,
            live_total,
            live,
            pids: pids(handle),
            sample,
            running_coordinator: handle.is_running(),
        }
    }
}

#[cfg(feature = "process")]
fn pids(handle: &Handle) -> Vec<u32> {
    handle.worker_processes()
}

#[cfg(not(feature = "process"))]
fn pids(_: &Handle) -> Vec<u32> {
    Vec::new()
}
