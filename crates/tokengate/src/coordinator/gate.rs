//! Limited calls at their limit's gate: entering it at admission, leaving it
//! when the admission thread lets them through, and giving the permit back
//! (see [`limit`](super::limit) for the rules).

use super::builder::FullLanePolicy;
use super::limit::{Entry, Limit};
use super::route::{Route, route_of};
use super::shared::Shared;
use crate::TokenState;
use crate::error::Reason;
use crate::token::{JobRef, terminate_with};

impl Shared {
    /// A fresh limited call arrives at its gate. Returns true if it holds a
    /// permit and is to be routed now; otherwise it waits at the gate (or was
    /// turned away, or ended meanwhile).
    pub(super) fn pass_gate(&self, job: &JobRef, route: &Route, limit: &Limit) -> bool {
        // Rejecting coordinators bound every queue, the gate's too.
        let bound =
            (self.config.full_lane == FullLanePolicy::Reject).then_some(self.config.lane_capacity);
        match limit.enter(job, &route.gate, bound) {
            Entry::Granted => self.still_waiting(job, limit, route),
            Entry::Queued(wake_at) => {
                if let Some(at) = wake_at {
                    self.admitter.wake_at(at);
                }
                // Killed before it was marked as waiting: nobody counted it
                // out yet.
                self.still_waiting(job, limit, route);
                false
            }
            Entry::Full(bound) => {
                terminate_with(
                    &**job,
                    TokenState::Killed,
                    Reason::LimitFull {
                        name: limit.name.to_string(),
                        waiting: bound,
                    },
                );
                false
            }
        }
    }

    /// Whether `job` is still `Waiting` after its gate bits changed; if not,
    /// ends its hold on the gate here (its end may have found nothing to
    /// release).
    fn still_waiting(&self, job: &JobRef, limit: &Limit, route: &Route) -> bool {
        if job.header().state() == TokenState::Waiting {
            return true;
        }
        self.end_gate(limit, route);
        false
    }

    /// Lets through every limit's waiting calls that may pass now (the
    /// admission thread's work, with moving lines).
    pub(super) fn move_gates(&self) {
        for limit in self.limits.all() {
            let ready = limit.take_ready(|job| route_of(&**job).is_some_and(|r| r.op.is_paused()));
            if let Some(at) = ready.wake_at {
                self.admitter.wake_at(at);
            }
            for job in ready.paused {
                let route = route_of(&*job).expect("limited calls have a route");
                // Held by its op without a permit; it passes the gate again
                // when the op resumes (`route_held`).
                let resumed =
                    limit.leave(&job, &route.gate, false) && !route.op.hold_if_paused(&job);
                if resumed {
                    self.reenter_gate(job);
                }
            }
            for job in ready.granted {
                let route = route_of(&*job).expect("limited calls have a route");
                if limit.leave(&job, &route.gate, true) {
                    self.route_new(job);
                } else {
                    self.admitter.wake();
                }
            }
        }
    }

    /// A limited call that left its gate without a permit (held by a pause of
    /// its op) goes back to it.
    pub(super) fn reenter_gate(&self, job: JobRef) {
        let route = route_of(&*job).expect("limited calls have a route");
        let limit = route
            .limit
            .as_ref()
            .expect("only limited calls pass a gate");
        if self.pass_gate(&job, route, limit) {
            self.route_new(job);
        }
    }

    /// The call ended (or its body returned): gives back what it held at its
    /// gate, and has the gate moved if calls wait there.
    pub(crate) fn end_gate(&self, limit: &Limit, route: &Route) {
        if limit.end(&route.gate) {
            self.admitter.wake();
        }
    }
}
