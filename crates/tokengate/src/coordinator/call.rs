//! [`Call`]: everything the runtime needs to route one call, from the
//! attribute's [`Site`](crate::__private::Site) or a [`Task`](crate::Task).

use std::time::Duration;

use super::RetryPolicy;
use super::lead::SeedFrom;
use crate::__private::Site;
use crate::fingerprint::{HashPolicy, KeyId};
use crate::{StorageSpeed, Weight};

#[derive(Clone, Copy, Debug)]
pub(crate) struct Call {
    pub(crate) op: &'static str,
    pub(crate) weight: Weight,
    /// Whether `weight` was given rather than defaulted: on a storage call, it
    /// makes a combined storage and CPU call.
    pub(crate) weight_explicit: bool,
    pub(crate) timeout: Option<Duration>,
    /// `storage_speed`: an IO call, capped by its tier.
    pub(crate) storage: Option<StorageSpeed>,
    /// `sticky_anchor` and the argument fingerprint.
    pub(crate) sticky: Option<(&'static str, KeyId)>,
    /// `external_calls` and what the lead's seed is made from: this call is a
    /// lead.
    pub(crate) lead: Option<(&'static [&'static str], SeedFrom)>,
    /// `limit`: the named limit that admits the call, on top of its other
    /// gates.
    pub(crate) limit: Option<&'static str>,
    /// `retries` (with `retry_backoff` and `retry_on`).
    pub(crate) retry: Option<RetryPolicy>,
    /// `queue_timeout`: shed the call if it has not started by then.
    pub(crate) queue_timeout: Option<Duration>,
    /// `process_pool = true`: its body runs in a worker process (for its
    /// span's `process` field; the body itself does the sending).
    pub(crate) process: bool,
}

impl Call {
    pub(crate) fn plain(op: &'static str, weight: Weight, timeout: Option<Duration>) -> Call {
        Call {
            op,
            weight,
            weight_explicit: false,
            timeout,
            storage: None,
            sticky: None,
            lead: None,
            limit: None,
            retry: None,
            queue_timeout: None,
            process: false,
        }
    }

    /// The call of `site`; `key` is the fingerprint of its key arguments, if
    /// the expansion computed one (a sticky call or a keyed lead with
    /// arguments).
    pub(crate) fn from_site(site: &'static Site, key: Option<KeyId>) -> Call {
        // A fn without arguments has no fingerprint: it is keyed on its anchor
        // (or, for a lead, its call list) alone.
        let key = key.unwrap_or(KeyId::Anchor);
        Call {
            op: site.op,
            weight: site.weight,
            weight_explicit: site.weight_explicit,
            timeout: site.timeout,
            storage: site.storage,
            sticky: site.sticky_anchor.map(|anchor| (anchor, key)),
            lead: site.external_calls.map(|calls| {
                let keyed = site.hash_policy.is_some_and(|p| p != HashPolicy::None);
                let seed = SeedFrom {
                    key: keyed.then_some(key),
                    digest: site.digest_policy,
                };
                (calls, seed)
            }),
            limit: site.limit,
            retry: (site.retries > 0).then_some(RetryPolicy {
                retries: site.retries,
                backoff: site.retry_backoff,
                on: site.retry_on,
            }),
            queue_timeout: site.queue_timeout,
            process: site.process_pool,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::lead;

    #[test]
    fn a_call_carries_its_sites_limit_and_whether_its_weight_was_given() {
        static DEFAULTED: Site = Site::new("defaulted").storage_speed(StorageSpeed::Moderate);
        static GIVEN: Site = Site::new("given")
            .weight(Weight::Medium)
            .storage_speed(StorageSpeed::Moderate)
            .limit("github_api");

        let call = Call::from_site(&DEFAULTED, None);
        assert!(!call.weight_explicit);
        assert_eq!(call.limit, None);
        // The default weight, but given.
        let call = Call::from_site(&GIVEN, None);
        assert!(call.weight_explicit);
        assert_eq!(call.weight, Weight::Medium);
        assert_eq!(call.limit, Some("github_api"));
        // `spawn` and `Task` calls name neither.
        let call = Call::plain("spawned", Weight::Heavy, None);
        assert!(!call.weight_explicit);
        assert_eq!(call.limit, None);
    }

    #[test]
    fn a_call_carries_its_sites_guards_and_a_plain_call_none() {
        use crate::__private::{DEFAULT_RETRY_BACKOFF, RETRY_DEFAULT, RETRY_ERR, RETRY_PANIC};

        static GUARDED: Site = Site::new("guarded")
            .retries(3)
            .retry_backoff_nanos(25_000_000)
            .retry_on(RETRY_PANIC | RETRY_ERR)
            .queue_timeout_nanos(100_000_000);
        static RETRIED: Site = Site::new("retried").retries(2);

        let call = Call::from_site(&GUARDED, None);
        let policy = call.retry.expect("retried");
        assert_eq!(policy.retries, 3);
        assert_eq!(policy.backoff, Duration::from_millis(25));
        assert_eq!(policy.on, RETRY_PANIC | RETRY_ERR);
        assert_eq!(call.queue_timeout, Some(Duration::from_millis(100)));
        // `retries` alone: the default backoff and causes.
        let call = Call::from_site(&RETRIED, None);
        let policy = call.retry.expect("retried");
        assert_eq!(policy.retries, 2);
        assert_eq!(policy.backoff, DEFAULT_RETRY_BACKOFF);
        assert_eq!(policy.on, RETRY_DEFAULT);
        assert_eq!(call.queue_timeout, None);
        // `spawn` and `Task` calls are neither retried nor shed.
        let call = Call::plain("spawned", Weight::Heavy, None);
        assert_eq!((call.retry, call.queue_timeout), (None, None));
    }

    #[test]
    fn a_leads_seed_comes_from_its_token_id_unless_it_has_a_hash_policy() {
        static CALLS: [&str; 1] = ["child"];
        static BY_ID: Site = Site::new("by_id").external_calls(&CALLS);
        static NONE: Site = Site::new("none")
            .external_calls(&CALLS)
            .hash_policy(HashPolicy::None);
        static KEYED: Site = Site::new("keyed")
            .external_calls(&CALLS)
            .hash_policy(HashPolicy::Fast);
        let seed = |site: &'static Site, id: u64, key: Option<KeyId>| {
            let (calls, from) = Call::from_site(site, key).lead.expect("a lead");
            lead::seed(id, calls, from)
        };

        // Seeded from the token id: another call, another seed, whatever the
        // key.
        for site in [&BY_ID, &NONE] {
            assert_ne!(
                seed(site, 1, Some(KeyId::Fast(7))),
                seed(site, 2, Some(KeyId::Fast(7)))
            );
        }
        // Seeded from the key: equal keys, one seed, whatever the token id.
        assert_eq!(
            seed(&KEYED, 1, Some(KeyId::Fast(7))),
            seed(&KEYED, 2, Some(KeyId::Fast(7)))
        );
        assert_ne!(
            seed(&KEYED, 1, Some(KeyId::Fast(7))),
            seed(&KEYED, 1, Some(KeyId::Fast(8)))
        );
        // Without arguments, every call of the lead shares one seed.
        assert_eq!(seed(&KEYED, 1, None), seed(&KEYED, 2, None));
        assert_ne!(seed(&KEYED, 1, None), seed(&KEYED, 1, Some(KeyId::Fast(7))));
    }
}
