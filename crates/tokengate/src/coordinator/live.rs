//! Live calls: a snapshot of the calls in flight, and the bodies that still
//! run after their call was killed or timed out ([`Handle::live_calls`]).
//!
//! [`Handle::live_calls`]: crate::Handle::live_calls
//!
//! A live call is in the registry until it reaches a terminal state. A call
//! killed while running leaves the registry then, but its body runs on until
//! it returns, holding its thread: those are kept here, in a small map of
//! their own, from the kill until the body returns. Which of the two events
//! comes first is decided under the map's lock, by two bits per call, so an
//! entry is never left behind.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::route::{Route, route_of};
use super::shared::Shared;
use crate::metrics::HistogramSnapshot;
use crate::scheduler::Path;
use crate::stats::{LiveCall, LivePath};
use crate::token::{Header, JobRef, now_ns};

/// The call was killed or timed out while its body ran.
const KILLED_RUNNING: u8 = 1;
/// Its body returned after such a kill.
const RETURNED: u8 = 2;

/// A run-time p99 is trusted once an op has this many completed samples.
const P99_SAMPLES: u64 = 20;

/// Bodies still running after their call was killed or timed out, by token id.
#[derive(Default)]
pub(crate) struct Orphans {
    map: Mutex<HashMap<u64, JobRef>>,
}

impl std::fmt::Debug for Orphans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orphans")
            .field("running", &self.lock().len())
            .finish()
    }
}

/// A call's bits for [`Orphans`].
#[derive(Debug, Default)]
pub(crate) struct OrphanBits(AtomicU8);

impl Orphans {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, JobRef>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `job` was killed or timed out while its body ran.
    pub(crate) fn killed_running(&self, job: JobRef, bits: &OrphanBits) {
        let mut map = self.lock();
        if bits.0.fetch_or(KILLED_RUNNING, Ordering::Relaxed) & RETURNED == 0 {
            map.insert(job.header().id, job);
        }
    }

    /// The body of a call killed while running returned.
    pub(crate) fn returned(&self, header: &Header, bits: &OrphanBits) {
        let mut map = self.lock();
        if bits.0.fetch_or(RETURNED, Ordering::Relaxed) & KILLED_RUNNING != 0 {
            map.remove(&header.id);
        }
    }

    fn snapshot(&self) -> Vec<JobRef> {
        self.lock().values().cloned().collect()
    }

    /// How many bodies run on after their call ended, per op.
    pub(crate) fn by_op(&self) -> HashMap<&'static str, usize> {
        let mut counts = HashMap::new();
        for job in self.lock().values() {
            *counts.entry(job.header().op).or_default() += 1;
        }
        counts
    }

    /// How many bodies run on after their call ended.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Forgets them all (at stop: their threads are left to finish alone).
    pub(crate) fn clear(&self) {
        let map = std::mem::take(&mut *self.lock());
        drop(map);
    }
}

impl Shared {
    /// Every call in flight, and every body still running after its call
    /// ended, oldest first.
    pub(crate) fn live_calls(&self) -> Vec<LiveCall> {
        let now = now_ns();
        let mut p99s: HashMap<*const (), Option<u64>> = HashMap::new();
        let mut p99_of = |route: &Route| {
            *p99s
                .entry(std::sync::Arc::as_ptr(&route.op).cast())
                .or_insert_with(|| {
                    let snapshot = HistogramSnapshot::merge(route.op.run_time.shards());
                    (snapshot.count() >= P99_SAMPLES).then(|| {
                        u64::try_from(snapshot.quantile(0.99).as_nanos()).unwrap_or(u64::MAX)
                    })
                })
        };
        let live = self.registry.snapshot().into_iter().map(|job| (job, false));
        let orphans = self.orphans.snapshot().into_iter().map(|job| (job, true));
        let mut calls: Vec<LiveCall> = live
            .chain(orphans)
            .filter_map(|(job, body_running)| {
                let route = route_of(&*job)?;
                let header = job.header();
                let started = header.started_ns();
                let running = body_running || header.state() == crate::TokenState::Executing;
                let running_for = running.then(|| now.saturating_sub(started));
                let over_p99 = running_for
                    .zip(p99_of(route))
                    .is_some_and(|(ran, p99)| ran > p99);
                Some(LiveCall {
                    id: crate::TokenId(header.id),
                    op: header.op,
                    state: header.state(),
                    path: live_path(route.path, header.weight),
                    worker: header.runner(),
                    age: Duration::from_nanos(now.saturating_sub(header.created_ns())),
                    running_for: running_for.map(Duration::from_nanos),
                    body_running,
                    over_p99,
                })
            })
            .collect();
        calls.sort_by(|a, b| b.age.cmp(&a.age).then(a.id.cmp(&b.id)));
        calls
    }
}

fn live_path(path: Path, weight: crate::Weight) -> LivePath {
    match path {
        Path::Lane => LivePath::Lane(weight),
        Path::Storage(speed) => LivePath::Storage(speed),
        Path::Combined(speed) => LivePath::Combined(speed),
        Path::Sticky { .. } => LivePath::Sticky,
        Path::Group(_) => LivePath::LeadGroup,
        Path::Remote => LivePath::Remote,
        Path::Process => LivePath::Process(weight),
    }
}
