//! Lead domains: a call tagged `external_calls = [...]` is a *lead*; guarded
//! calls of the listed ops made while it runs (directly, or from its children,
//! however deep) are its *children*. Children inherit the lead's domain seed and
//! run in the lead's worker group.
//!
//! The seed is a digest (per the lead's `digest_policy`) of the lead token's id
//! and its call list. Two leads whose seeds collide (short digests) share one
//! domain: collisions only merge domains. A domain counts its members: the lead
//! joins when it is made, each child when it is made, and each leaves when it
//! reaches a terminal state, exactly once, so the domain is released when the
//! lead and every child have finished. A child that is itself a lead is counted
//! in its parent's domain and leads its own.
//!
//! Calls made inside a lead to ops *not* in its list are routed freely, like
//! any call outside a lead; the coordinator counts them
//! ([`Stats::lead_unlisted_calls`](crate::Stats::lead_unlisted_calls)) so a
//! forgotten entry in the list is visible.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::fingerprint::{DigestPolicy, Fingerprint};

/// No worker group chosen yet.
const UNSET: usize = usize::MAX;

pub(crate) struct LeadDomain {
    pub(crate) seed: Fingerprint,
    /// The ops whose calls become children.
    pub(crate) calls: &'static [&'static str],
    /// The worker group children run in: the group of the worker that made the
    /// first child (the lead's own worker).
    group: AtomicUsize,
    /// Members (lead and children) not finished yet.
    pending: AtomicUsize,
}

impl std::fmt::Debug for LeadDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeadDomain")
            .field("seed", &self.seed)
            .field("pending", &self.pending.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl LeadDomain {
    /// The group children run in, fixed by the first child made from `group`.
    pub(crate) fn group_or(&self, group: usize) -> usize {
        match self
            .group
            .compare_exchange(UNSET, group, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => group,
            Err(set) => set,
        }
    }

    /// A child joins. Only called while a member runs, so `pending > 0`.
    pub(crate) fn add_child(&self) {
        self.pending.fetch_add(1, Ordering::AcqRel);
    }
}

/// The coordinator's live lead domains, by seed.
#[derive(Default)]
pub(crate) struct Leads {
    map: Mutex<HashMap<Fingerprint, Arc<LeadDomain>>>,
    /// Calls made inside a lead to ops it does not list.
    pub(crate) unlisted: AtomicU64,
}

impl std::fmt::Debug for Leads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leads").field("live", &self.len()).finish()
    }
}

/// The seed of the lead with token id `id` and call list `calls`.
pub(crate) fn seed(id: u64, calls: &[&str], digest: DigestPolicy) -> Fingerprint {
    digest.digest(format!("{id}:{calls:?}").as_bytes())
}

impl Leads {
    fn lock(&self) -> MutexGuard<'_, HashMap<Fingerprint, Arc<LeadDomain>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A lead was made: joins (or creates) the domain of its seed.
    pub(crate) fn join(
        &self,
        seed: Fingerprint,
        calls: &'static [&'static str],
    ) -> Arc<LeadDomain> {
        let mut map = self.lock();
        if let Some(domain) = map.get(&seed)
            && domain.pending.load(Ordering::Acquire) > 0
        {
            domain.pending.fetch_add(1, Ordering::AcqRel);
            return domain.clone();
        }
        let domain = Arc::new(LeadDomain {
            seed,
            calls,
            group: AtomicUsize::new(UNSET),
            pending: AtomicUsize::new(1),
        });
        map.insert(seed, domain.clone());
        domain
    }

    /// A member (lead or child) reached a terminal state.
    pub(crate) fn finish(&self, domain: &Arc<LeadDomain>) {
        if domain.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            let mut map = self.lock();
            // A lead with the same seed may have re-created the domain meanwhile.
            if map
                .get(&domain.seed)
                .is_some_and(|d| Arc::ptr_eq(d, domain))
                && domain.pending.load(Ordering::Acquire) == 0
            {
                map.remove(&domain.seed);
            }
        }
    }

    /// Live lead domains.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}
