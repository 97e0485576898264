//! The live-token registry: id → token, for `kill_token`, operation-wide kills
//! and shutdown. A token is inserted when submitted and removed when it reaches a
//! terminal state, so the registry holds only live tokens, and its size follows
//! the calls in flight, not the calls ever made. Entries are weak: the registry never keeps a token alive.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::token::{Job, JobRef};

/// Ids are unique integers already, so hashing is one multiply.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Shard = HashMap<u64, Weak<dyn Job>, BuildHasherDefault<IdHasher>>;

/// A sharded map of live tokens.
pub(crate) struct Registry {
    shards: Box<[Mutex<Shard>]>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("shards", &self.shards.len())
            .finish()
    }
}

impl Registry {
    pub(crate) fn new(shards: usize) -> Self {
        Registry {
            shards: (0..shards.next_power_of_two())
                .map(|_| Mutex::default())
                .collect(),
        }
    }

    fn shard(&self, id: u64) -> MutexGuard<'_, Shard> {
        // Consecutive ids (ids come in per-thread blocks) land in different shards.
        let i = (id as usize) & (self.shards.len() - 1);
        self.shards[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn insert(&self, job: &JobRef) {
        let id = job.header().id;
        self.shard(id).insert(id, Arc::downgrade(job));
    }

    pub(crate) fn remove(&self, id: u64) {
        self.shard(id).remove(&id);
    }

    pub(crate) fn get(&self, id: u64) -> Option<JobRef> {
        self.shard(id).get(&id).and_then(Weak::upgrade)
    }

    /// Every live token (a snapshot: tokens may finish while it is used).
    pub(crate) fn snapshot(&self) -> Vec<JobRef> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
            all.extend(shard.values().filter_map(Weak::upgrade));
        }
        all
    }

    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }
}
