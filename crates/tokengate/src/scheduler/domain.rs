//! Sticky domains: calls with one anchor and one argument fingerprint run on one
//! worker, one at a time, in submission order.
//!
//! A domain is created by its first call and pinned to a home worker of that
//! call's weight. It counts its members (`refs`): a call joins when it is made
//! and leaves when it reaches a terminal state, exactly once each way, so the
//! pin is released precisely when the domain's last queued or running call
//! finishes; a call killed while running leaves when its body returns, so no
//! later call of the domain is pinned elsewhere and overlaps that body. At most one member is *active* (admitted to the pinned
//! worker or running); the next one is dispatched when the active one finishes,
//! whether it completed, failed, was killed or timed out (a killed body may run
//! on; the worker is busy with it, so the next member still runs after it).

use crate::sync::{Mutex, MutexGuard};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::DomainKey;
use crate::fingerprint::FixedHasher;
use crate::token::JobRef;
use crate::{TokenState, Weight};

struct Domain {
    /// The worker every member runs on.
    worker: usize,
    /// Members waiting for their turn, in submission order (may hold stale,
    /// already-finished entries, skipped when reached).
    queue: VecDeque<JobRef>,
    /// The member admitted or running now.
    active: Option<u64>,
    /// Members not finished yet.
    refs: usize,
    /// Members killed while running whose bodies still run (by token id).
    killed_running: Vec<u64>,
    /// Members whose killed bodies returned before the kill was observed here
    /// (the two happen on different threads, in either order).
    returned_early: Vec<u64>,
}

/// What a domain needs from the scheduler to pin and dispatch members.
pub(crate) trait Dispatch {
    /// Chooses the worker a new domain of `weight` is pinned to, and counts the pin.
    fn pin(&self, weight: Weight) -> usize;
    /// A domain pinned to `worker` was released.
    fn unpin(&self, worker: usize);
    /// May this call leave `Waiting` now (no pause in the way)?
    fn admission_open(&self, job: &JobRef) -> bool;
    /// Sends an admitted call to `worker`'s pinned channel.
    fn send_pinned(&self, worker: usize, job: JobRef);
}

type Shard = HashMap<DomainKey, Domain, BuildHasherDefault<FixedHasher>>;

/// Shards of the domain table (a power of two): calls of different domains
/// rarely contend on one lock.
const SHARDS: usize = 16;

pub(crate) struct Domains {
    shards: Box<[Mutex<Shard>]>,
}

impl Default for Domains {
    fn default() -> Self {
        Domains {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
        }
    }
}

impl std::fmt::Debug for Domains {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Domains")
            .field("live", &self.len())
            .finish()
    }
}

impl Domains {
    fn lock(&self, key: &DomainKey) -> MutexGuard<'_, Shard> {
        let mut hasher = FixedHasher::default();
        key.hash(&mut hasher);
        let shard = &self.shards[hasher.finish() as usize & (SHARDS - 1)];
        shard.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn shards(&self) -> impl Iterator<Item = MutexGuard<'_, Shard>> {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// A call of domain `key` and `weight` was made (before it is queued).
    /// Returns the domain's worker, which stays fixed while the call is a member.
    pub(crate) fn join(&self, key: DomainKey, weight: Weight, sched: &impl Dispatch) -> usize {
        let mut map = self.lock(&key);
        let domain = map.entry(key).or_insert_with(|| Domain {
            worker: sched.pin(weight),
            queue: VecDeque::new(),
            active: None,
            refs: 0,
            killed_running: Vec::new(),
            returned_early: Vec::new(),
        });
        domain.refs += 1;
        domain.worker
    }

    /// Queues a `Waiting` member and dispatches it if it is its domain's turn.
    pub(crate) fn enqueue(&self, key: DomainKey, job: JobRef, sched: &impl Dispatch) {
        let mut map = self.lock(&key);
        // A member killed on its way here has already left; if it was the last,
        // its domain is gone, and there is nothing to queue.
        let Some(domain) = map.get_mut(&key) else {
            return;
        };
        // A retried member kept its turn through its backoff: it is first in
        // line again (and waits there if a pause holds it).
        if domain.active == Some(job.header().id) {
            domain.active = None;
            domain.queue.push_front(job);
            pump(domain, sched);
            return;
        }
        // Its turn already (the usual case for a fresh domain): dispatch it
        // without queueing.
        if domain.active.is_none() && domain.queue.is_empty() && sched.admission_open(&job) {
            if job.transition(TokenState::Waiting, TokenState::Admitted) {
                domain.active = Some(job.header().id);
                sched.send_pinned(domain.worker, job);
            }
            return;
        }
        domain.queue.push_back(job);
        pump(domain, sched);
    }

    /// A member reached a terminal state: the next member gets its turn. It
    /// also leaves the domain (`leave`), unless its body still runs (it was
    /// killed or timed out while running): then it leaves with
    /// [`body_returned`](Self::body_returned), so the pin, and with it the
    /// worker every member runs on, outlives the body.
    pub(crate) fn finish(&self, key: DomainKey, id: u64, leave: bool, sched: &impl Dispatch) {
        let mut map = self.lock(&key);
        let Some(domain) = map.get_mut(&key) else {
            return;
        };
        if domain.active == Some(id) {
            domain.active = None;
        }
        if leave || take(&mut domain.returned_early, id) {
            domain.refs -= 1;
        } else {
            domain.killed_running.push(id);
        }
        if domain.refs == 0 {
            sched.unpin(domain.worker);
            map.remove(&key);
        } else {
            pump(domain, sched);
        }
    }

    /// The body of member `id`, killed while running, has returned: the member
    /// leaves its domain, now or (if the kill is not observed yet) then.
    pub(crate) fn body_returned(&self, key: DomainKey, id: u64, sched: &impl Dispatch) {
        let mut map = self.lock(&key);
        let Some(domain) = map.get_mut(&key) else {
            return;
        };
        if !take(&mut domain.killed_running, id) {
            domain.returned_early.push(id);
            return;
        }
        domain.refs -= 1;
        if domain.refs == 0 {
            sched.unpin(domain.worker);
            map.remove(&key);
        }
    }

    /// Whether a member of `key` may run off the domain's worker (only when
    /// that worker is blocked waiting): not while a killed member's body still
    /// runs, which would then overlap it.
    pub(crate) fn may_run_elsewhere(&self, key: DomainKey) -> bool {
        self.lock(&key)
            .get(&key)
            .is_some_and(|domain| domain.killed_running.is_empty())
    }

    /// Dispatches every domain whose turn is free (after a pause ends).
    pub(crate) fn pump_all(&self, sched: &impl Dispatch) {
        for mut shard in self.shards() {
            for domain in shard.values_mut() {
                pump(domain, sched);
            }
        }
    }

    /// Live domains (pins held).
    pub(crate) fn len(&self) -> usize {
        self.shards().map(|shard| shard.len()).sum()
    }

    /// Drops every queued entry (at stop, to break reference cycles).
    pub(crate) fn clear(&self) {
        for mut shard in self.shards() {
            shard.clear();
        }
    }
}

/// Removes `id` from `ids`; true if it was there.
fn take(ids: &mut Vec<u64>, id: u64) -> bool {
    match ids.iter().position(|&i| i == id) {
        Some(at) => {
            ids.swap_remove(at);
            true
        }
        None => false,
    }
}

fn pump(domain: &mut Domain, sched: &impl Dispatch) {
    while domain.active.is_none() {
        let Some(job) = domain.queue.front() else {
            return;
        };
        let header = job.header();
        if header.state() != TokenState::Waiting {
            domain.queue.pop_front();
            continue;
        }
        if !sched.admission_open(job) {
            return;
        }
        let job = domain.queue.pop_front().expect("front exists");
        if job.transition(TokenState::Waiting, TokenState::Admitted) {
            domain.active = Some(job.header().id);
            sched.send_pinned(domain.worker, job);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::fingerprint::KeyId;

    /// A dispatcher that records pins and sends nothing.
    #[derive(Default)]
    struct Stub {
        pins: AtomicUsize,
    }

    impl Dispatch for Stub {
        fn pin(&self, _: Weight) -> usize {
            self.pins.fetch_add(1, Ordering::SeqCst);
            0
        }
        fn unpin(&self, _: usize) {
            self.pins.fetch_sub(1, Ordering::SeqCst);
        }
        fn admission_open(&self, _: &JobRef) -> bool {
            true
        }
        fn send_pinned(&self, _: usize, _: JobRef) {}
    }

    const KEY: DomainKey = DomainKey {
        anchor: "k",
        key: KeyId::Anchor,
    };

    /// A member killed while running leaves once both the kill is observed and
    /// its body returned, in either order; the pin outlives the body.
    #[test]
    fn a_killed_running_member_leaves_after_kill_and_return_in_either_order() {
        for body_first in [false, true] {
            let (domains, stub) = (Domains::default(), Stub::default());
            domains.join(KEY, Weight::Medium, &stub);
            if body_first {
                domains.body_returned(KEY, 7, &stub);
                assert_eq!(domains.len(), 1, "the kill is not observed yet");
                domains.finish(KEY, 7, false, &stub);
            } else {
                domains.finish(KEY, 7, false, &stub);
                assert_eq!(domains.len(), 1, "the killed body still runs");
                assert!(!domains.may_run_elsewhere(KEY));
                domains.body_returned(KEY, 7, &stub);
            }
            assert_eq!(domains.len(), 0, "body_first = {body_first}");
            assert_eq!(stub.pins.load(Ordering::SeqCst), 0);
        }
    }

    /// Members join and leave once each; the pin goes with the last one.
    #[test]
    fn the_pin_is_released_with_the_last_member() {
        let (domains, stub) = (Domains::default(), Stub::default());
        domains.join(KEY, Weight::Medium, &stub);
        domains.join(KEY, Weight::Medium, &stub);
        assert_eq!(stub.pins.load(Ordering::SeqCst), 1, "one pin per domain");
        domains.finish(KEY, 1, true, &stub);
        assert_eq!(domains.len(), 1);
        domains.finish(KEY, 2, true, &stub);
        assert_eq!(domains.len(), 0);
        assert_eq!(stub.pins.load(Ordering::SeqCst), 0);
    }
}
