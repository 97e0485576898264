//! Load shedding: a call with a queue timeout (`queue_timeout`, or the
//! coordinator's `max_queue_wait`) that has not started when it passes is
//! resolved expired, without running: a request that already missed its
//! deadline should not take a worker. The timer acts on it; calls without a
//! queue timeout pay nothing.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::route::route_of;
use super::shared::Shared;
use crate::TokenState;
use crate::error::Reason;
use crate::token::JobRef;

impl Shared {
    /// Load shedding: a call whose queue timeout passed before its first
    /// attempt started resolves expired, without running.
    pub(crate) fn expire(&self, job: &JobRef, after: Duration) {
        use TokenState::*;
        if job.header().attempts() > 0 {
            return;
        }
        for state in [Waiting, Admitted] {
            if job.transition(state, TimedOut) {
                // Counted before it resolves: whoever sees the error sees
                // the count.
                if let Some(route) = route_of(&**job) {
                    route.op.expired.fetch_add(1, Ordering::SeqCst);
                }
                job.resolve_error(job.header().error(Reason::Expired { after }));
                return;
            }
        }
    }
}
