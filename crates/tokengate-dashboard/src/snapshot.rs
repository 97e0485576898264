//! [`Snapshot`]: everything the page shows, taken once a second and sent to
//! every open page as one JSON text.

use serde::Serialize;
use tokengate::stats::{BulkMap, LiveCall, Stats};
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
    /// Streaming maps in progress (`map_unordered`), oldest first.
    pub(crate) bulk: Vec<BulkMap>,
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
            bulk: handle.bulk_maps(),
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use tokengate::{OperationsCoordinator, Task};

    use super::{Sample, Snapshot};

    #[test]
    fn a_snapshot_lists_the_bulk_maps_in_progress() {
        let coordinator = OperationsCoordinator::start();
        let handle = coordinator.handle();
        let release = Arc::new(AtomicBool::new(false));
        let r = release.clone();
        let mapping = std::thread::spawn(move || {
            let _bound = handle.enter();
            let item = move |i: u32| {
                let r = r.clone();
                Task::new("bulk_item").spawn(move || {
                    while !r.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    i
                })
            };
            tokengate::map_unordered(item, 0..3u32)
                .label("nightly export")
                .count()
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while coordinator.bulk_maps().is_empty() {
            assert!(Instant::now() < deadline, "the map never registered");
            std::thread::sleep(Duration::from_millis(2));
        }
        let handle = coordinator.handle();
        let snapshot = Snapshot::take(&handle, handle.stats(), Sample::default());
        assert_eq!(snapshot.bulk.len(), 1);
        assert_eq!(snapshot.bulk[0].label, "nightly export");
        assert_eq!((snapshot.bulk[0].done, snapshot.bulk[0].total), (0, 3));
        release.store(true, Ordering::SeqCst);
        assert_eq!(mapping.join().unwrap(), 3);
        let snapshot = Snapshot::take(&handle, handle.stats(), Sample::default());
        assert!(snapshot.bulk.is_empty(), "a finished map leaves the list");
        coordinator.stop();
    }
}
