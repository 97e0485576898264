//! Lead domains: a call tagged `external_calls = [...]` is a *lead*; guarded
//! calls of the listed ops made while it runs (directly, or from its children,
//! however deep) are its *children*. Children inherit the lead's domain seed and
//! run in the lead's worker group.
//!
//! The seed is a digest (per the lead's `digest_policy`) of its call list and,
//! per its `hash_policy`, of either
//!
//! * the lead token's id (`none`, the default): every lead call is a domain of
//!   its own;
//! * its arguments' key (`fast`, `standard` or `full`, made as a sticky call's
//!   key is, of every argument or of those marked `#[key]`): leads of one call
//!   list with equal key arguments share one domain while any of them (or any
//!   child) is live, so their children run in one worker group.
//!
//! Two leads whose seeds collide (short digests) share one domain as well:
//! collisions only merge domains. A domain counts its members: the lead
//! joins when it is made, each child when it is made, and each leaves when it
//! reaches a terminal state, exactly once, so the domain is released when the
//! lead and every child have finished. A child that is itself a lead is counted
//! in its parent's domain and leads its own.
//!
//! Calls made inside a lead to ops *not* in its list are routed freely, like
//! any call outside a lead; the coordinator counts them
//! ([`Stats::lead_unlisted_calls`](crate::Stats::lead_unlisted_calls)) so a
//! forgotten entry in the list is visible.
//!
//! A `remote` lead runs on a worker host as a lead of the host's
//! coordinator (see `remote/host.rs`): its domain is *hosted* there, so that
//! the children it lists that are `remote` fns themselves run on that host
//! instead of going back through the broker, and a kill of the lead (its
//! caller's kill or deadline, relayed by the broker) kills its domain's
//! members with it, and any member made after.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::fingerprint::{DigestPolicy, Fingerprint, KeyId};

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
    /// Led by a `remote` lead running on this worker host.
    hosted: AtomicBool,
    /// The hosted lead was killed: its members are killed too, and members
    /// made later are killed as they are made.
    killed: AtomicBool,
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

    /// Marks the domain as led by a `remote` lead on its worker host; set by
    /// the lead's body before it runs the fn, so before any child is made.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    pub(crate) fn host(&self) {
        self.hosted.store(true, Ordering::Release);
    }

    /// Whether a `remote` lead on its worker host leads the domain.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    pub(crate) fn is_hosted(&self) -> bool {
        self.hosted.load(Ordering::Acquire)
    }

    /// Marks the domain's lead as killed; true if this call did it.
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    pub(crate) fn kill(&self) -> bool {
        !self.killed.swap(true, Ordering::AcqRel)
    }

    /// Whether the domain's lead was killed (a hosted lead only).
    pub(crate) fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
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

/// What a lead's seed is made from, fixed when its call is made; the token id
/// joins it at admission.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SeedFrom {
    /// The key of the lead's arguments under its `hash_policy`; `None` under
    /// `none`, where the seed is made from the token id instead.
    pub(crate) key: Option<KeyId>,
    /// How the seed is digested.
    pub(crate) digest: DigestPolicy,
}

/// The seed of the lead with token id `id` and call list `calls`.
///
/// Each kind of material has its own form, so a keyed seed never equals a
/// token id's (but by a digest collision): `"{id}:{calls:?}"` (the id in
/// decimal), `"fast {key:016x}:{calls:?}"`, `"stable {key}:{calls:?}"` (the
/// key's hex) or, for a keyed lead without arguments, `"anchor:{calls:?}"`.
pub(crate) fn seed(id: u64, calls: &[&str], from: SeedFrom) -> Fingerprint {
    let material = match from.key {
        None => format!("{id}:{calls:?}"),
        Some(KeyId::Anchor) => format!("anchor:{calls:?}"),
        Some(KeyId::Fast(key)) => format!("fast {key:016x}:{calls:?}"),
        Some(KeyId::Stable(key)) => format!("stable {key}:{calls:?}"),
    };
    from.digest.digest(material.as_bytes())
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
            hosted: AtomicBool::new(false),
            killed: AtomicBool::new(false),
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
