//! [`Path`]: where a call waits and which threads may run it.
//!
//! A call's path is decided once, when it is made (by the coordinator's
//! admission), from its attribute's tags, and never changes: every part of the
//! scheduler that queues, places or claims the call asks it for its path.

use crate::StorageSpeed;
use crate::fingerprint::KeyId;

/// Names a sticky domain: the anchor and the argument fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct DomainKey {
    pub(crate) anchor: &'static str,
    pub(crate) key: KeyId,
}

/// Where a call waits and which threads may run it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Path {
    /// Its weight lane; any eligible worker.
    Lane,
    /// Its storage tier; IO threads.
    Storage(StorageSpeed),
    /// Its storage tier, then (holding the tier's turn) its weight's turn
    /// queue; CPU workers of the weight's home groups.
    Combined(StorageSpeed),
    /// Its sticky domain; the domain's worker (fixed while the call is a
    /// member), one member at a time.
    Sticky { key: DomainKey, worker: usize },
    /// A lead's child: the lead's worker group.
    Group(usize),
    /// A remote call: the remote lane, while its backend's in-flight window
    /// is full; then the backend, which runs it on another host. No thread
    /// of this scheduler runs it or claims it.
    Remote,
    /// A process-pool call: its weight's process queue, while no worker
    /// process has room; then a worker process. No thread of this scheduler
    /// runs it or claims it.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    Process,
}
