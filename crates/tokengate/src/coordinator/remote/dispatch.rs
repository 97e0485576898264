//! Handing admitted remote calls to the backend, and settling their tokens
//! when the outcome comes back, without a thread waiting in between.
//!
//! ```text
//! caller / admission thread                       backend (its own threads)
//! ─────────────────────────                       ─────────────────────────
//! route_new ─ lane clear, room ─▶ hand_over ─────▶ submit(permit, job, on_done)
//!     │                     Waiting→Admitted→Executing,   │
//!     │                     body taken unrun              ▼ ... worker host ...
//!     └─ no room ─▶ remote lane (Waiting, a slot)    on_done(outcome)
//!                   or its line / rejected                │
//!                        ▲                                ▼
//!  pump_remote ◀─ admitter.wake ◀─ when_capacity    settle_remote: settle_elsewhere
//!  (while room)                                      (value, panic, failure, retry,
//!                                                     or dropped after a kill)
//! ```
//!
//! A remote call is admitted and counted like any call: it takes its op's
//! guard and its limit's gate first, then its path is `Path::Remote`. It is
//! handed to the backend from whichever thread routes it, as long as the
//! remote lane is clear and the backend's window has room; otherwise it waits
//! in the remote lane (holding a slot, or in its line when the lane is full,
//! or rejected, per the full-lane policy), and the pump takes it out as room
//! frees: the backend runs a wake when room comes back, which has the
//! admission thread pump. A paused coordinator or op holds calls back as in
//! any lane; a drain, kill or timeout resolves a waiting call where it waits.
//!
//! Once handed over, a call is `Executing` and holds nothing but its room in
//! the window: its outcome settles its token from the backend's thread. A
//! kill or timeout resolves the token at once (the token layer) and tells the
//! backend to stop the call ([`Shared::kill_remote`], from `observe`); the
//! backend answers a kill with `Cancelled` at once, which reaches the token
//! as a late outcome and is dropped, so the call's body counts as returned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::{RemoteBackend, RemoteJob, RemoteOutcome, RemotePermit};
use crate::coordinator::route::route_of;
use crate::coordinator::shared::Shared;
use crate::error::Reason;
use crate::scheduler::held_back;
use crate::token::{Header, JobRef, Settled, epoch};
use crate::{TokenId, TokenState};

/// A coordinator's remote backend, and what the coordinator keeps about it.
pub(crate) struct RemoteLink {
    pub(crate) backend: Arc<dyn RemoteBackend>,
    /// Whether a wake is registered with the backend (one at a time is
    /// enough: it has the admission thread pump, which registers again if
    /// the window is still full).
    armed: Arc<AtomicBool>,
    /// Calls handed to the backend whose outcome has not come back.
    running: AtomicUsize,
}

impl RemoteLink {
    pub(crate) fn new(backend: Arc<dyn RemoteBackend>) -> RemoteLink {
        RemoteLink {
            backend,
            armed: Arc::new(AtomicBool::new(false)),
            running: AtomicUsize::new(0),
        }
    }

    /// Calls handed to the backend whose outcome has not come back.
    pub(crate) fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for RemoteLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteLink")
            .field("running", &self.running())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// Whether remote calls may leave the remote lane now.
    fn remote_open(&self) -> bool {
        self.is_running() && !self.scheduler.is_paused()
    }

    /// Hands a `Waiting` remote call to the backend now, from this thread,
    /// if admission is open and the remote lane is clear (so it stays FIFO)
    /// and the window has room. `Some(true)`: handed over; `Some(false)`: it
    /// finished meanwhile; `None`: it must wait in the remote lane.
    pub(crate) fn place_remote(&self, job: &JobRef) -> Option<bool> {
        let link = self.remote.as_ref()?;
        let route = route_of(&**job).expect("admitted tokens have a route");
        if !self.remote_open() || route.op.is_paused() || !self.scheduler.remote_lane.is_clear() {
            return None;
        }
        match link.backend.try_reserve() {
            Some(permit) => Some(self.hand_over(link, job.clone(), permit)),
            None => {
                self.arm_remote_wake(link);
                None
            }
        }
    }

    /// Hands waiting remote calls to the backend, oldest first, while its
    /// window has room and admission is open (the routing thread's and the
    /// admission thread's work).
    pub(crate) fn pump_remote(&self) {
        let Some(link) = &self.remote else {
            return;
        };
        let lane = &self.scheduler.remote_lane;
        while self.remote_open() && !lane.is_empty() {
            let Some(permit) = link.backend.try_reserve() else {
                self.arm_remote_wake(link);
                return;
            };
            // Stale entries are skipped; the permit goes back if none is left.
            let Some(job) = lane.pop() else {
                return;
            };
            // Paused op: the op keeps it (with its slot) until it resumes.
            if held_back(&job) {
                continue;
            }
            self.hand_over(link, job, permit);
        }
    }

    /// Has the admission thread pump once the backend's window may have
    /// room.
    fn arm_remote_wake(&self, link: &RemoteLink) {
        if link.armed.swap(true, Ordering::SeqCst) {
            return;
        }
        let armed = link.armed.clone();
        let admitter = self.admitter.clone();
        link.backend.when_capacity(Box::new(move || {
            armed.store(false, Ordering::SeqCst);
            admitter.wake();
        }));
    }

    /// Moves a `Waiting` remote call to `Executing` and sends it, holding
    /// `permit`'s room. Returns false if it had finished already (the permit
    /// goes back).
    fn hand_over(&self, link: &RemoteLink, job: JobRef, permit: RemotePermit) -> bool {
        if !job.transition(TokenState::Waiting, TokenState::Admitted) {
            return false;
        }
        // A kill between these steps resolved the call; nothing is sent.
        if !job.transition(TokenState::Admitted, TokenState::Executing) || !job.take_body() {
            return true;
        }
        let route = route_of(&*job).expect("admitted tokens have a route");
        let remote = route
            .remote
            .as_deref()
            .expect("remote calls have a remote part");
        let header = job.header();
        let args = match remote.args(route.retry.is_some()) {
            Ok(args) => args,
            Err(message) => {
                job.settle_elsewhere(&job, Settled::Failed(Reason::Process(message)));
                return true;
            }
        };
        let attempt = header.retried();
        let per_attempt = route.retry.is_some_and(|p| p.per_attempt_timeout());
        let sent = RemoteJob {
            token: TokenId(header.id),
            attempt,
            op: header.op,
            pool: remote.pool,
            weight: header.weight,
            sticky: remote.sticky,
            budget: header
                .timeout
                .map(|timeout| budget(header, timeout, per_attempt)),
            args,
        };
        link.running.fetch_add(1, Ordering::SeqCst);
        let done = job.clone();
        link.backend.submit(
            permit,
            sent,
            Box::new(move |outcome| settle_remote(&done, outcome)),
        );
        // Killed or timed out while it was being sent: that kill found
        // nothing in flight to stop.
        if header.state().is_terminal() {
            link.backend.kill(TokenId(header.id), attempt);
        }
        true
    }

    /// Stops the running attempt of remote call `header` at its backend: it
    /// was killed or timed out (or its attempt ran past its own deadline).
    pub(crate) fn kill_remote(&self, header: &Header) {
        if let Some(link) = &self.remote {
            link.backend.kill(TokenId(header.id), header.retried());
        }
    }

    /// Waits until no remote call is in flight, or `deadline` passes (at
    /// stop: running calls get the stop timeout, as bodies on threads do).
    pub(crate) fn wait_remote(&self, deadline: Option<std::time::Instant>) {
        let Some(link) = &self.remote else {
            return;
        };
        while link.running() > 0 && deadline.is_none_or(|d| std::time::Instant::now() < d) {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Closes the backend (at stop, once every token is resolved).
    pub(crate) fn close_remote(&self) {
        if let Some(link) = &self.remote {
            link.backend.close();
        }
    }

    /// The number of remote calls in flight now, for a rejection's message.
    pub(crate) fn remote_running(&self) -> usize {
        self.remote.as_ref().map_or(0, RemoteLink::running)
    }
}

/// The time a call may still take, for its worker host: its whole timeout
/// for an attempt bounded on its own, else what is left since the call was
/// made.
fn budget(header: &Header, timeout: Duration, per_attempt: bool) -> Duration {
    if per_attempt {
        return timeout;
    }
    let created = epoch() + Duration::from_nanos(header.created_ns());
    timeout.saturating_sub(created.elapsed())
}

/// A remote call's outcome came back: settles its token (see
/// [`Job::settle_elsewhere`](crate::token::Job::settle_elsewhere)).
fn settle_remote(job: &JobRef, outcome: RemoteOutcome) {
    let Some(route) = route_of(&**job) else {
        return;
    };
    if let Some(link) = &route.shared.remote {
        link.running.fetch_sub(1, Ordering::SeqCst);
    }
    let remote = route
        .remote
        .as_deref()
        .expect("remote calls have a remote part");
    let settled = match outcome {
        RemoteOutcome::Value(bytes) => match remote.decode(&bytes) {
            Ok(value) => Settled::Value(value),
            Err(message) => Settled::Failed(Reason::Process(message)),
        },
        RemoteOutcome::Panic(message) => Settled::Panicked(message),
        RemoteOutcome::Error(message) => Settled::Failed(Reason::RemoteFailed(message)),
        RemoteOutcome::TimedOut(_) => {
            let after = job.header().timeout.unwrap_or_default();
            Settled::Failed(Reason::TimedOut(after))
        }
        RemoteOutcome::WorkerLost(message) => Settled::Failed(Reason::RemoteLost(message)),
        RemoteOutcome::Unavailable(message) => Settled::Failed(Reason::RemoteUnavailable(message)),
        // Only our own kills cancel, and those resolved the call first; an
        // attempt cut off by its own deadline settles as timed out.
        RemoteOutcome::Cancelled => Settled::Failed(Reason::RemoteUnavailable(
            "its remote backend cancelled it".to_owned(),
        )),
    };
    job.settle_elsewhere(job, settled);
}
