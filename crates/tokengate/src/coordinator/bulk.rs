//! Streaming maps in progress, for dashboards: [`Handle::bulk_maps`](crate::Handle::bulk_maps).
//!
//! A [`map_unordered`](crate::map_unordered) registers once, with the
//! coordinator its first call went to, and updates its entry's counters as
//! each item resolves (three relaxed stores); its registration removes the
//! entry when the map ends or is dropped.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

use super::route::route_of;
use super::shared::Shared;
use crate::stats::BulkMap;
use crate::token::Job;

/// The maps registered with one coordinator.
#[derive(Debug, Default)]
pub(crate) struct BulkMaps {
    next: AtomicU64,
    entries: Mutex<Vec<Arc<Entry>>>,
}

/// One map's counters.
#[derive(Debug)]
struct Entry {
    id: u64,
    label: String,
    started_at: Instant,
    done: AtomicUsize,
    total: AtomicUsize,
    failed: AtomicUsize,
    in_flight: AtomicUsize,
}

impl BulkMaps {
    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Entry>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A snapshot of every map registered now, oldest first.
    pub(crate) fn snapshot(&self) -> Vec<BulkMap> {
        self.lock()
            .iter()
            .map(|entry| BulkMap {
                label: entry.label.clone(),
                done: entry.done.load(Relaxed),
                total: entry.total.load(Relaxed),
                failed: entry.failed.load(Relaxed),
                in_flight: entry.in_flight.load(Relaxed),
                started_at: entry.started_at,
                elapsed: entry.started_at.elapsed(),
            })
            .collect()
    }

    fn remove(&self, id: u64) {
        self.lock().retain(|entry| entry.id != id);
    }
}

/// A map's registration with the coordinator its calls go to; removed when
/// dropped.
#[derive(Debug)]
pub(crate) struct BulkProgress {
    entry: Arc<Entry>,
    shared: Weak<Shared>,
}

impl BulkProgress {
    /// Registers a map labelled `label` with the coordinator that runs
    /// `first`, the map's first call; `None` if no coordinator runs it (the
    /// call failed at birth).
    pub(crate) fn register(first: &dyn Job, label: String) -> Option<BulkProgress> {
        let shared = &route_of(first)?.shared;
        let bulk = &shared.bulk_maps;
        let entry = Arc::new(Entry {
            id: bulk.next.fetch_add(1, Relaxed),
            label,
            started_at: Instant::now(),
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
        });
        bulk.lock().push(entry.clone());
        Some(BulkProgress {
            entry,
            shared: Arc::downgrade(shared),
        })
    }

    /// Records the map's counts now.
    pub(crate) fn update(&self, done: usize, total: usize, failed: usize, in_flight: usize) {
        let entry = &self.entry;
        entry.done.store(done, Relaxed);
        entry.total.store(total, Relaxed);
        entry.failed.store(failed, Relaxed);
        entry.in_flight.store(in_flight, Relaxed);
    }
}

impl Drop for BulkProgress {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.upgrade() {
            shared.bulk_maps.remove(self.entry.id);
        }
    }
}
