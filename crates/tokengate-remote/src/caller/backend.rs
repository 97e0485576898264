//! A [`Caller`] as a coordinator's remote backend: the core's `remote = true`
//! calls become jobs, and their outcomes settle the calls' tokens.
//!
//! A call's job id is `<caller id>.<token id>.<attempt>`: unique among this
//! caller's jobs (a token id is unique in its process, and each attempt of a
//! retried call is a job of its own), and among all callers' as long as
//! caller ids are. A kill finds the job by the same id.

use std::sync::Arc;

use tokengate::remote::{
    ConnectRemote, RemoteBackend, RemoteConnection, RemoteDone, RemoteJob, RemoteOutcome,
    RemotePermit, RemoteStats, RemoteWorker,
};
use tokengate::{TokenId, Weight};

use crate::caller::{Caller, CallerConfig, ConnectionState, Permit, WorkerInfo};
use crate::job::{Job, Outcome};

impl Caller {
    /// The job id of attempt `attempt` of the call `token`.
    fn job_id(&self, token: TokenId, attempt: u32) -> String {
        format!("{}.{token}.{attempt}", self.id())
    }
}

impl RemoteBackend for Caller {
    fn try_reserve(&self) -> Option<RemotePermit> {
        Caller::try_reserve(self).map(RemotePermit::new)
    }

    fn when_capacity(&self, wake: Box<dyn FnOnce() + Send>) {
        Caller::when_capacity(self, wake);
    }

    fn submit(&self, permit: RemotePermit, job: RemoteJob, on_done: RemoteDone) {
        let permit = match permit.into_inner().downcast::<Permit>() {
            Ok(permit) => *permit,
            Err(_) => {
                // The coordinator hands back what `try_reserve` gave it.
                on_done(RemoteOutcome::Error(
                    "a permit of another backend was submitted to this caller; this is a bug, \
                     please report it"
                        .to_owned(),
                ));
                return;
            }
        };
        let id = self.job_id(job.token, job.attempt);
        let mut sent = Job::new(id, job.op, job.args)
            .weight(job.weight.as_str())
            .pool(job.pool);
        if let Some(budget) = job.budget {
            sent = sent.deadline(budget);
        }
        if let Some(key) = job.sticky {
            sent = sent.sticky(key);
        }
        Caller::submit(
            self,
            permit,
            sent,
            Box::new(move |outcome| on_done(outcome.into())),
        );
    }

    fn kill(&self, token: TokenId, attempt: u32) {
        Caller::kill(self, &self.job_id(token, attempt));
    }

    fn stats(&self) -> RemoteStats {
        let stats = Caller::stats(self);
        let mut remote = RemoteStats::default();
        remote.connection = match stats.connection {
            ConnectionState::Connected => RemoteConnection::Connected,
            ConnectionState::Disconnected => RemoteConnection::Disconnected,
            ConnectionState::Pending => RemoteConnection::Pending,
        };
        remote.max_in_flight = self.max_in_flight();
        remote.in_flight = stats.in_flight;
        remote.submitted = stats.submitted;
        remote.redelivered = stats.redelivered;
        remote.duplicates_dropped = stats.duplicates_dropped;
        remote.poison = stats.poison;
        remote.unavailable = stats.unavailable;
        remote.workers = self.workers().into_iter().map(listed).collect();
        remote
    }

    fn close(&self) {
        self.shut_down();
    }
}

/// A worker heard from, as the core lists it.
fn listed(info: WorkerInfo) -> RemoteWorker {
    let mut worker = RemoteWorker::default();
    worker.weights = Weight::ALL
        .into_iter()
        .filter(|w| info.weights.iter().any(|name| name == w.as_str()))
        .collect();
    worker.id = info.id;
    worker.host = info.host;
    worker.pid = info.pid;
    worker.pool = info.pool;
    worker.sticky = info.sticky;
    worker.slots = info.slots;
    worker.busy = info.busy;
    worker.done = info.done;
    worker.up = info.up;
    worker.last_seen = info.last_seen;
    worker
}

impl From<Outcome> for RemoteOutcome {
    fn from(outcome: Outcome) -> RemoteOutcome {
        match outcome {
            Outcome::Value(bytes) => RemoteOutcome::Value(bytes),
            Outcome::Panic(message) => RemoteOutcome::Panic(message),
            Outcome::Error(message) => RemoteOutcome::Error(message),
            Outcome::TimedOut(message) => RemoteOutcome::TimedOut(message),
            Outcome::WorkerLost(message) => RemoteOutcome::WorkerLost(message),
            Outcome::Unavailable(message) => RemoteOutcome::Unavailable(message),
            Outcome::Cancelled => RemoteOutcome::Cancelled,
        }
    }
}

impl ConnectRemote for CallerConfig {
    /// Connects a [`Caller`] with these settings, when the coordinator
    /// starts.
    fn connect(&self) -> Result<Arc<dyn RemoteBackend>, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Arc::new(Caller::connect(self.clone())?))
    }
}
