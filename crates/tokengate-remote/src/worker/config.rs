//! How a [`Worker`](crate::Worker) is set up, and the executor it runs jobs
//! with.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::broker::BrokerSettings;
use crate::error::Error;
use crate::job::DEFAULT_POOL;
use crate::names::{WEIGHTS, check_token, check_weight};
use crate::topology::Topology;
use crate::worker::cancel::CancelFlag;

/// What runs a worker's jobs.
#[derive(Clone)]
pub(crate) enum Runner {
    /// An executor of the user's ([`WorkerConfig::new`]).
    Executor(Executor),
    /// The `remote` fns of this executable, on a tokengate coordinator: the
    /// one given, or one the worker starts ([`Worker::nats`](crate::Worker::nats)).
    Host(Option<tokengate::Handle>),
}

/// Runs one job: `(op, encoded arguments, cancel flag)` to the encoded value
/// or a [`Failure`]. Called on a thread of the worker's blocking pool, one
/// call per slot at most; a panic is caught and reported as
/// [`Outcome::Panic`](crate::Outcome::Panic).
pub type Executor = Arc<dyn Fn(&str, &[u8], &CancelFlag) -> Result<Vec<u8>, Failure> + Send + Sync>;

/// Called with `(job id, op)` after a job's result is stored by the broker
/// and before the job is acknowledged.
pub type ResultHook = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// Why an executor could not produce a value. Either way the job is finished:
/// the caller gets the message, and the job is not run again.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The job could not run or failed: an unknown op, arguments that do not
    /// decode, an error of the fn.
    Error(String),
    /// The fn panicked with this message, caught by the executor itself (the
    /// worker catches the panics it does not).
    Panic(String),
}

/// The settings of a [`Worker`](crate::Worker), built by value.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tokengate_remote::{Failure, WorkerConfig};
///
/// let config = WorkerConfig::new("nats://10.0.0.5:4222", |op, args, _cancel| match op {
///     "echo" => Ok(args.to_vec()),
///     _ => Err(Failure::Error(format!("unknown op `{op}`"))),
/// })
/// .pool("gpu")
/// .weights(["heavy"])
/// .slots(8)
/// .ack_wait(Duration::from_secs(10));
/// # let _ = config;
/// ```
#[derive(Clone)]
#[must_use = "a config does nothing until `Worker::start` or `serve` takes it"]
pub struct WorkerConfig {
    pub(crate) broker: BrokerSettings,
    pub(crate) runner: Runner,
    pub(crate) pool: String,
    pub(crate) weights: Vec<String>,
    pub(crate) sticky: bool,
    pub(crate) slots: usize,
    pub(crate) worker_id: Option<String>,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) progress_interval: Option<Duration>,
    pub(crate) poll_interval: Duration,
    pub(crate) stop_timeout: Duration,
    pub(crate) on_result_stored: Option<ResultHook>,
}

impl WorkerConfig {
    /// A worker of the NATS server at `url` that runs jobs with `executor`,
    /// with the defaults below.
    ///
    /// | setting | default |
    /// |---|---|
    /// | [`pool`](Self::pool) | `"default"` |
    /// | [`weights`](Self::weights) | `light`, `medium`, `heavy` |
    /// | [`sticky`](Self::sticky) | off |
    /// | [`slots`](Self::slots) | one per CPU |
    /// | [`worker_id`](Self::worker_id) | random, 16 hex digits |
    /// | [`heartbeat_interval`](Self::heartbeat_interval) | 2 s |
    /// | [`progress_interval`](Self::progress_interval) | `ack_wait / 3` |
    /// | [`poll_interval`](Self::poll_interval) | 1 s |
    /// | [`stop_timeout`](Self::stop_timeout) | 30 s |
    /// | [`connect_timeout`](Self::connect_timeout) | 5 s |
    /// | [`topology`](Self::topology) | [`Topology::new`]: namespace `tg`, 4 partitions, `ack_wait` 10 s, `max_deliver` 5 |
    pub fn new(
        url: impl Into<String>,
        executor: impl Fn(&str, &[u8], &CancelFlag) -> Result<Vec<u8>, Failure> + Send + Sync + 'static,
    ) -> WorkerConfig {
        WorkerConfig::with_runner(url, Runner::Executor(Arc::new(executor)))
    }

    /// The defaults of [`new`](Self::new), with `runner`.
    fn with_runner(url: impl Into<String>, runner: Runner) -> WorkerConfig {
        WorkerConfig {
            broker: BrokerSettings::new(url),
            runner,
            pool: DEFAULT_POOL.to_owned(),
            weights: WEIGHTS.iter().map(|w| (*w).to_owned()).collect(),
            sticky: false,
            slots: std::thread::available_parallelism().map_or(1, |n| n.get()),
            worker_id: None,
            heartbeat_interval: Duration::from_secs(2),
            progress_interval: None,
            poll_interval: Duration::from_secs(1),
            stop_timeout: Duration::from_secs(30),
            on_result_stored: None,
        }
    }

    /// A worker host of the NATS server at `url` for this executable's
    /// `remote = true` fns (see [`Worker::nats`](crate::Worker::nats)), with
    /// the defaults of [`new`](Self::new).
    pub fn nats(url: impl Into<String>) -> WorkerConfig {
        WorkerConfig::with_runner(url, Runner::Host(None))
    }

    /// Runs the jobs of this executable's `remote = true` fns as calls of the
    /// coordinator `handle` names, instead of a coordinator the worker starts
    /// for itself: its workers, process pool, limits and stats then serve
    /// them. Replaces the executor given to [`new`](Self::new), if any.
    pub fn coordinator(mut self, handle: tokengate::Handle) -> WorkerConfig {
        self.runner = Runner::Host(Some(handle));
        self
    }

    /// Sets the pool served (1 to 64 of `A-Z a-z 0-9 _ -`).
    pub fn pool(mut self, pool: impl Into<String>) -> WorkerConfig {
        self.pool = pool.into();
        self
    }

    /// Sets the weights served (`"light"`, `"medium"`, `"heavy"`): one
    /// consumer each. Hosts may serve different weights of one pool; each
    /// weight is shared by all the workers that serve it.
    pub fn weights<I, S>(mut self, weights: I) -> WorkerConfig
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.weights = weights.into_iter().map(Into::into).collect();
        self
    }

    /// Serves the pool's sticky partitions too (one consumer each, with one
    /// job in flight per partition across all workers), or not.
    pub fn sticky(mut self, serve: bool) -> WorkerConfig {
        self.sticky = serve;
        self
    }

    /// Sets how many jobs run at once. The worker never takes more jobs from
    /// the broker than it has free slots, and a pull request waiting for a
    /// job holds a slot: with fewer slots than consumers (weights, plus
    /// partitions when sticky), idle consumers take turns of one
    /// [`poll_interval`](Self::poll_interval).
    pub fn slots(mut self, slots: usize) -> WorkerConfig {
        self.slots = slots;
        self
    }

    /// Sets the worker's id (1 to 64 of `A-Z a-z 0-9 _ -`), by which callers
    /// list it ([`Caller::workers`](crate::Caller::workers)); two live
    /// workers of a pool must not share one. Random by default: a worker that
    /// restarts is listed as a new one.
    pub fn worker_id(mut self, id: impl Into<String>) -> WorkerConfig {
        self.worker_id = Some(id.into());
        self
    }

    /// Sets how often the worker publishes its heartbeat (its id, host,
    /// pool, slots, busy slots, jobs done), by which callers list it. A
    /// caller drops a worker it has not heard from for three intervals: the
    /// time a dead worker stays listed.
    pub fn heartbeat_interval(mut self, interval: Duration) -> WorkerConfig {
        self.heartbeat_interval = interval;
        self
    }

    /// Sets how often a running job is reported in progress to the broker
    /// (which then waits `ack_wait` again); must be below `ack_wait`.
    pub fn progress_interval(mut self, interval: Duration) -> WorkerConfig {
        self.progress_interval = Some(interval);
        self
    }

    /// Sets how long one pull request waits for a job before it is renewed.
    pub fn poll_interval(mut self, interval: Duration) -> WorkerConfig {
        self.poll_interval = interval;
        self
    }

    /// Sets how long [`Worker::stop`](crate::Worker::stop) waits for running
    /// jobs to finish.
    pub fn stop_timeout(mut self, timeout: Duration) -> WorkerConfig {
        self.stop_timeout = timeout;
        self
    }

    /// Sets a hook called with `(job id, op)` after each job's result is
    /// stored by the broker and before the job is acknowledged, on the
    /// worker's I/O thread (keep it short). A worker that dies in between
    /// leaves a job that runs again; its second result is dropped by the
    /// caller.
    pub fn on_result_stored(
        mut self,
        hook: impl Fn(&str, &str) + Send + Sync + 'static,
    ) -> WorkerConfig {
        self.on_result_stored = Some(Arc::new(hook));
        self
    }

    /// Sets how long connecting may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> WorkerConfig {
        self.broker.connect_timeout = timeout;
        self
    }

    /// Sets the settings shared with the callers of the namespace (see
    /// [`Topology`]); the callers must be given the same.
    pub fn topology(mut self, topology: Topology) -> WorkerConfig {
        self.broker.topology = topology;
        self
    }

    /// Sets the namespace of the broker's streams and subjects
    /// ([`Topology::namespace`]).
    pub fn namespace(mut self, namespace: impl Into<String>) -> WorkerConfig {
        self.broker.topology = self.broker.topology.namespace(namespace);
        self
    }

    /// Sets the number of sticky partitions per pool
    /// ([`Topology::partitions`]).
    pub fn partitions(mut self, partitions: u32) -> WorkerConfig {
        self.broker.topology = self.broker.topology.partitions(partitions);
        self
    }

    /// Sets the broker's failover time after a worker dies
    /// ([`Topology::ack_wait`]).
    pub fn ack_wait(mut self, ack_wait: Duration) -> WorkerConfig {
        self.broker.topology = self.broker.topology.ack_wait(ack_wait);
        self
    }

    /// Sets how often a job is delivered at most before it ends as lost
    /// ([`Topology::max_deliver`]).
    pub fn max_deliver(mut self, max_deliver: u32) -> WorkerConfig {
        self.broker.topology = self.broker.topology.max_deliver(max_deliver);
        self
    }

    /// Sets how long the broker remembers job ids
    /// ([`Topology::duplicate_window`]).
    pub fn duplicate_window(mut self, window: Duration) -> WorkerConfig {
        self.broker.topology = self.broker.topology.duplicate_window(window);
        self
    }

    /// Sets how long an unread result stays on the broker
    /// ([`Topology::result_max_age`]).
    pub fn result_max_age(mut self, age: Duration) -> WorkerConfig {
        self.broker.topology = self.broker.topology.result_max_age(age);
        self
    }

    /// The settings shared with the callers.
    pub(crate) fn shared(&self) -> &Topology {
        &self.broker.topology
    }

    /// The interval of in-progress acks.
    pub(crate) fn progress_every(&self, ack_wait: Duration) -> Duration {
        self.progress_interval
            .unwrap_or(ack_wait / 3)
            .min(ack_wait / 2)
            .max(Duration::from_millis(10))
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        self.broker.check()?;
        check_token("pool name", &self.pool).map_err(Error::config)?;
        for weight in &self.weights {
            check_weight(weight).map_err(Error::config)?;
        }
        if self.weights.is_empty() && !self.sticky {
            return Err(Error::config(
                "the worker serves nothing: give it at least one weight, or `sticky(true)`",
            ));
        }
        if self.slots == 0 {
            return Err(Error::config(
                "`slots` must be at least 1; the default is one per CPU",
            ));
        }
        if let Some(id) = &self.worker_id {
            check_token("worker id", id).map_err(Error::config)?;
        }
        if self.heartbeat_interval < Duration::from_millis(10) {
            return Err(Error::config(
                "`heartbeat_interval` must be at least 10 ms; the default is 2 s",
            ));
        }
        if self
            .progress_interval
            .is_some_and(|p| p >= self.shared().ack_wait)
        {
            return Err(Error::config(
                "`progress_interval` must be shorter than `ack_wait`",
            ));
        }
        if self.poll_interval < Duration::from_millis(10) {
            return Err(Error::config(
                "`poll_interval` must be at least 10 ms; the default is 1 s",
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let WorkerConfig {
            broker,
            runner,
            pool,
            weights,
            sticky,
            slots,
            worker_id,
            heartbeat_interval,
            progress_interval,
            poll_interval,
            stop_timeout,
            on_result_stored,
        } = self;
        f.debug_struct("WorkerConfig")
            .field("broker", broker)
            .field(
                "runner",
                &match runner {
                    Runner::Executor(_) => "executor",
                    Runner::Host(None) => "remote fns, on a coordinator of its own",
                    Runner::Host(Some(_)) => "remote fns, on the coordinator given",
                },
            )
            .field("pool", pool)
            .field("weights", weights)
            .field("sticky", sticky)
            .field("slots", slots)
            .field("worker_id", worker_id)
            .field("heartbeat_interval", heartbeat_interval)
            .field("progress_interval", progress_interval)
            .field("poll_interval", poll_interval)
            .field("stop_timeout", stop_timeout)
            .field(
                "on_result_stored",
                &on_result_stored.as_ref().map(|_| "<fn>"),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> WorkerConfig {
        WorkerConfig::new("nats://127.0.0.1:1", |_, args, _| Ok(args.to_vec()))
    }

    #[test]
    fn refuses_values_out_of_range() {
        assert!(base().check().is_ok());
        let err = base().weights(["huge"]).check().unwrap_err();
        assert!(err.is_config());
        assert_eq!(
            err.to_string(),
            "unknown weight `huge`; expected one of `light`, `medium`, `heavy`"
        );
        assert!(base().weights(Vec::<String>::new()).check().is_err());
        assert!(
            base()
                .weights(Vec::<String>::new())
                .sticky(true)
                .check()
                .is_ok()
        );
        assert!(base().pool("a b").check().is_err());
        assert!(base().worker_id("a.b").check().is_err());
        assert!(
            base()
                .heartbeat_interval(Duration::from_millis(1))
                .check()
                .is_err()
        );
        assert!(base().slots(0).check().is_err());
        assert!(base().max_deliver(1).check().is_err());
        assert!(base().ack_wait(Duration::from_millis(10)).check().is_err());
        assert!(
            base()
                .ack_wait(Duration::from_secs(1))
                .progress_interval(Duration::from_secs(1))
                .check()
                .is_err()
        );
    }

    #[test]
    fn progress_acks_come_well_within_ack_wait() {
        let config = base();
        assert_eq!(
            config.progress_every(Duration::from_secs(9)),
            Duration::from_secs(3)
        );
        let config = base().progress_interval(Duration::from_secs(8));
        assert_eq!(
            config.progress_every(Duration::from_secs(9)),
            Duration::from_millis(4500)
        );
    }
}
