//! [`Call`]: everything the runtime needs to route one call.

use std::time::Duration;

use crate::Weight;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Call {
    pub(crate) op: &'static str,
    pub(crate) weight: Weight,
    pub(crate) timeout: Option<Duration>,
}

impl Call {
    pub(crate) fn plain(op: &'static str, weight: Weight, timeout: Option<Duration>) -> Call {
        Call {
            op,
            weight,
            timeout,
        }
    }
}
