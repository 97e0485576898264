//! The admin surface: kills, pauses and drains, by token, by operation or for
//! the whole coordinator.

use super::shared::Shared;
use crate::TokenState;
use crate::error::{KillReason, Reason};
use crate::token::kill;

impl Shared {
    /// Ends a global pause: wakes idle workers, dispatches storage tiers and
    /// sticky domains, and has the admission thread hand waiting remote calls
    /// over.
    pub(crate) fn resume_admission(&self) {
        self.scheduler.set_paused(false);
        self.scheduler.wake_after_pause();
        self.admitter.wake();
    }

    pub(crate) fn kill_token(&self, id: u64) -> bool {
        self.registry
            .get(id)
            .is_some_and(|job| kill(&*job, KillReason::Admin))
    }

    /// Kills every live call of `op`: queued ones first, so that killing a
    /// running one cannot free a worker that would then start a queued call
    /// the kill has not reached yet.
    pub(crate) fn kill_all_by_operation(&self, op: &str) -> usize {
        let (running, queued): (Vec<_>, Vec<_>) = self
            .registry
            .snapshot()
            .into_iter()
            .filter(|job| job.header().op == op)
            .partition(|job| job.header().state() == TokenState::Executing);
        queued
            .into_iter()
            .chain(running)
            .filter(|job| kill(&**job, KillReason::Operation))
            .count()
    }

    pub(crate) fn pause_operation(&self, op: &str) {
        self.lock_paused_ops().insert(op.to_owned());
        for entry in self.op_entries().iter().filter(|e| e.name == op) {
            entry.pause();
        }
    }

    pub(crate) fn resume_operation(&self, op: &str) -> usize {
        self.lock_paused_ops().remove(op);
        let mut released = 0;
        for entry in self.op_entries().iter().filter(|e| e.name == op) {
            for job in entry.resume() {
                released += usize::from(self.route_held(job));
            }
        }
        // Sticky members of the op wait in their domains, not in hold queues.
        self.scheduler.wake_after_pause();
        released
    }

    /// Kills every `Waiting` call (of `op`, if given) and returns how many:
    /// wherever it waits (a lane, a lane's line, a hold queue, a sticky
    /// domain), the registry knows it.
    pub(crate) fn drain(&self, op: Option<&str>) -> usize {
        self.registry
            .snapshot()
            .into_iter()
            .filter(|job| op.is_none_or(|op| job.header().op == op))
            .filter(|job| {
                job.transition(TokenState::Waiting, TokenState::Killed) && {
                    job.resolve_error(job.header().error(Reason::Killed(KillReason::Drain)));
                    true
                }
            })
            .count()
    }
}
