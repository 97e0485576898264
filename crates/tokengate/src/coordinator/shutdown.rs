//! Stopping a coordinator, as numbered steps.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::shared::{RUNNING, STOPPING, Shared};
use crate::TokenState;
use crate::error::{KillReason, Reason};
use crate::token::{kill, terminate_with};

/// How a stop treats calls already made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Queued calls fail with a shutdown error; running ones may finish.
    Graceful,
    /// Every call is killed at once, running ones too (`stop_now`).
    Now,
}

impl Shared {
    /// Stops the coordinator, in steps:
    ///
    /// 1. Admission closes: `submit` fails calls from now on, and this waits
    ///    for calls already past its check to be queued (or given up). The
    ///    scheduler stops handing out work: workers exit after their current
    ///    call, idle IO threads exit, and no queued call starts from here on
    ///    (one a worker already took may still start).
    /// 2. Every queued call (created, waiting in any queue, or admitted to a
    ///    mailbox) is resolved with a shutdown error; calls that already run
    ///    may finish. With [`Stop::Now`], every call, running ones too, is
    ///    killed instead (running bodies see `is_cancelled()`, process calls
    ///    lose their worker process): from here on no token is pending.
    /// 3. Running calls get the stop timeout to finish (forever, if it is too
    ///    large for the clock); a call that stops its own coordinator is not
    ///    waited for. Remote calls in flight get the same time for their
    ///    outcome to come back, and process calls in the pool for their
    ///    reply.
    /// 4. Calls still running then resolve with a shutdown error; their
    ///    threads are left to finish the body on their own.
    /// 5. Queues and lines are cleared (breaking the reference cycles between
    ///    queued calls and the coordinator), the timer and admission threads
    ///    stop, the remote backend is closed, the worker processes are ended
    ///    and reaped, and the threads that exited are joined.
    /// 6. With the `metrics` feature, the final values are published.
    ///
    /// Returns false if the coordinator was already stopping.
    pub(crate) fn stop(&self, how: Stop) -> bool {
        // 1.
        if self
            .state
            .compare_exchange(RUNNING, STOPPING, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return false;
        }
        super::current::unregister(self);
        while self.submitting.load(Ordering::SeqCst) > 0 {
            std::thread::yield_now();
        }
        // Before the sweep: a call the sweep has not reached yet must not
        // start on a worker that just finished another one.
        self.scheduler.begin_stop();
        // 2.
        if how == Stop::Now {
            // Queued calls first (see `kill_all_by_operation`).
            let (running, queued): (Vec<_>, Vec<_>) = self
                .registry
                .snapshot()
                .into_iter()
                .partition(|job| job.header().state() == TokenState::Executing);
            for job in queued.into_iter().chain(running) {
                kill(&*job, KillReason::StopNow);
            }
        }
        for job in self.registry.snapshot() {
            for state in [
                TokenState::Created,
                TokenState::Waiting,
                TokenState::Admitted,
            ] {
                if job.transition(state, TokenState::Killed) {
                    job.resolve_error(job.header().error(Reason::Shutdown));
                    break;
                }
            }
        }
        // 3.
        let deadline = Instant::now().checked_add(self.config.stop_timeout);
        let all_exited = self.scheduler.wait_threads(deadline);
        self.wait_remote(deadline);
        #[cfg(feature = "process")]
        self.wait_process(deadline);
        // 4.
        for job in self.registry.snapshot() {
            terminate_with(&*job, TokenState::Killed, Reason::Shutdown);
        }
        // 5.
        for entry in self.op_entries() {
            drop(entry.take_held());
        }
        self.limits.clear();
        self.orphans.clear();
        self.timer.stop();
        self.admitter.stop();
        self.close_remote();
        #[cfg(feature = "process")]
        self.process.shutdown();
        self.scheduler.clear_and_join(all_exited);
        let services = std::mem::take(
            &mut *self
                .service_threads
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        for handle in services {
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
        // 6. The final values go to the `metrics` recorder.
        #[cfg(feature = "metrics")]
        self.export.publish(self);
        true
    }
}
