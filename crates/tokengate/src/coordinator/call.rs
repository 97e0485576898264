//! [`Call`]: everything the runtime needs to route one call, from the
//! attribute's [`Site`](crate::__private::Site) or a [`Task`](crate::Task).

use std::time::Duration;

use crate::__private::Site;
use crate::fingerprint::DigestPolicy;
use crate::fingerprint::KeyId;
use crate::{StorageSpeed, Weight};

#[derive(Clone, Copy, Debug)]
pub(crate) struct Call {
    pub(crate) op: &'static str,
    pub(crate) weight: Weight,
    /// Whether `weight` was given rather than defaulted: on a storage call, it
    /// makes a combined storage and CPU call.
    #[allow(dead_code)] // read by combined storage+CPU routing
    pub(crate) weight_explicit: bool,
    pub(crate) timeout: Option<Duration>,
    /// `storage_speed`: an IO call, capped by its tier.
    pub(crate) storage: Option<StorageSpeed>,
    /// `sticky_anchor` and the argument fingerprint.
    pub(crate) sticky: Option<(&'static str, KeyId)>,
    /// `external_calls` (and the digest for the seed): this call is a lead.
    pub(crate) lead: Option<(&'static [&'static str], DigestPolicy)>,
    /// `limit`: the named limit that admits the call, on top of its other
    /// gates.
    #[allow(dead_code)] // read by named limits
    pub(crate) limit: Option<&'static str>,
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
        }
    }

    pub(crate) fn from_site(site: &'static Site, key: Option<KeyId>) -> Call {
        Call {
            op: site.op,
            weight: site.weight,
            weight_explicit: site.weight_explicit,
            timeout: site.timeout,
            storage: site.storage,
            sticky: site
                .sticky_anchor
                .map(|anchor| (anchor, key.unwrap_or(KeyId::Anchor))),
            lead: site.external_calls.map(|calls| (calls, site.digest_policy)),
            limit: site.limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
