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
    /// The weight was given explicitly (on a storage call: a combined call).
    pub(crate) weight_explicit: bool,
    pub(crate) timeout: Option<Duration>,
    /// `storage_speed`: an IO call, capped by its tier.
    pub(crate) storage: Option<StorageSpeed>,
    /// `sticky_anchor` and the argument fingerprint.
    pub(crate) sticky: Option<(&'static str, KeyId)>,
    /// `external_calls` (and the digest for the seed): this call is a lead.
    pub(crate) lead: Option<(&'static [&'static str], DigestPolicy)>,
    /// `limit`: the named limit the call passes before it is routed.
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
