//! How a [`Caller`](crate::Caller) is set up.

use std::time::Duration;

use crate::broker::BrokerSettings;
use crate::error::Error;
use crate::names::check_token;
use crate::topology::Topology;

/// The settings of a [`Caller`](crate::Caller), built by value.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tokengate_remote::CallerConfig;
///
/// let config = CallerConfig::new("nats://10.0.0.5:4222")
///     .max_in_flight(1_000)
///     .publish_attempts(3)
///     .publish_timeout(Duration::from_secs(2));
/// # let _ = config;
/// ```
#[derive(Clone, Debug)]
#[must_use = "a config does nothing until `Caller::connect` takes it"]
pub struct CallerConfig {
    pub(crate) broker: BrokerSettings,
    /// The caller's id; results come back on `tg.res.<id>`.
    pub(crate) caller_id: Option<String>,
    /// Jobs between submission and outcome, at most.
    pub(crate) max_in_flight: usize,
    /// Publishes of one job before it resolves as unavailable.
    pub(crate) publish_attempts: u32,
    /// How long one publish waits for the broker's confirmation.
    pub(crate) publish_timeout: Duration,
}

/// The settings of a coordinator's NATS JetStream backend, for
/// [`CoordinatorBuilder::remote`](tokengate::CoordinatorBuilder::remote): the
/// coordinator connects a [`Caller`](crate::Caller) with them when it starts,
/// and closes it when it stops.
///
/// ```no_run
/// use tokengate::OperationsCoordinator;
/// use tokengate_remote::Remote;
///
/// let coordinator = OperationsCoordinator::builder()
///     .remote(Remote::nats("nats://10.0.0.5:4222").max_in_flight(1_000))
///     .start()?;
/// println!("{:?}", coordinator.stats().remote);
/// # Ok::<(), tokengate::BuildError>(())
/// ```
///
/// Its settings are of two kinds. Those of this caller alone:
/// [`max_in_flight`](CallerConfig::max_in_flight), the publish attempts and
/// timeouts, its id. And the [`Topology`] it shares with every worker host
/// of its namespace: the stream names, `partitions`, `ack_wait`,
/// `max_deliver`, set here with the setters of those names or all at once
/// with [`topology`](CallerConfig::topology), and given the same to
/// [`Worker::nats`](crate::Worker::nats). A coordinator whose topology
/// differs from the one recorded on the broker does not start.
///
/// ```no_run
/// use tokengate::OperationsCoordinator;
/// use tokengate_remote::{Remote, Topology};
///
/// let shared = Topology::new().namespace("orders").max_deliver(3);
/// let coordinator = OperationsCoordinator::builder()
///     .remote(Remote::nats("nats://10.0.0.5:4222").topology(shared))
///     .start()?;
/// for worker in coordinator.stats().remote.expect("a backend").workers {
///     println!("{} (pid {}): {}/{} slots busy", worker.host, worker.pid, worker.busy, worker.slots);
/// }
/// # Ok::<(), tokengate::BuildError>(())
/// ```
pub type Remote = CallerConfig;

impl CallerConfig {
    /// The same as [`new`](Self::new): a caller of (or a coordinator's
    /// backend to) the NATS server at `url`.
    pub fn nats(url: impl Into<String>) -> CallerConfig {
        CallerConfig::new(url)
    }

    /// A caller of the NATS server at `url` (`nats://host:port`), with the
    /// defaults below.
    ///
    /// | setting | default |
    /// |---|---|
    /// | [`caller_id`](Self::caller_id) | random, 16 hex digits |
    /// | [`max_in_flight`](Self::max_in_flight) | 1,000 |
    /// | [`publish_attempts`](Self::publish_attempts) | 3 |
    /// | [`publish_timeout`](Self::publish_timeout) | 2 s |
    /// | [`connect_timeout`](Self::connect_timeout) | 5 s |
    /// | [`topology`](Self::topology) | [`Topology::new`]: namespace `tg`, 4 partitions, `ack_wait` 10 s, `max_deliver` 5 |
    pub fn new(url: impl Into<String>) -> CallerConfig {
        CallerConfig {
            broker: BrokerSettings::new(url),
            caller_id: None,
            max_in_flight: 1_000,
            publish_attempts: 3,
            publish_timeout: Duration::from_secs(2),
        }
    }

    /// Sets the caller's id (1 to 64 of `A-Z a-z 0-9 _ -`). Results come back
    /// on `tg.res.<id>`, so two live callers must never share one.
    pub fn caller_id(mut self, id: impl Into<String>) -> CallerConfig {
        self.caller_id = Some(id.into());
        self
    }

    /// Sets how many jobs may be in flight (submitted, outcome not delivered
    /// yet) at once. On loopback, 1,000 already reaches the broker's
    /// throughput plateau; more adds latency, not throughput.
    pub fn max_in_flight(mut self, max: usize) -> CallerConfig {
        self.max_in_flight = max;
        self
    }

    /// Sets how often a job is published (always with the same message id,
    /// so the broker keeps one copy) before it resolves as
    /// [`Outcome::Unavailable`](crate::Outcome::Unavailable).
    pub fn publish_attempts(mut self, attempts: u32) -> CallerConfig {
        self.publish_attempts = attempts;
        self
    }

    /// Sets how long one publish waits for the broker to confirm it stored
    /// the job.
    pub fn publish_timeout(mut self, timeout: Duration) -> CallerConfig {
        self.publish_timeout = timeout;
        self
    }

    /// Sets how long connecting may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> CallerConfig {
        self.broker.connect_timeout = timeout;
        self
    }

    /// Sets the settings shared with the workers of the namespace (see
    /// [`Topology`]); the workers must be given the same.
    pub fn topology(mut self, topology: Topology) -> CallerConfig {
        self.broker.topology = topology;
        self
    }

    /// Sets the namespace of the broker's streams and subjects
    /// ([`Topology::namespace`]).
    pub fn namespace(mut self, namespace: impl Into<String>) -> CallerConfig {
        self.broker.topology = self.broker.topology.namespace(namespace);
        self
    }

    /// Sets the number of sticky partitions per pool
    /// ([`Topology::partitions`]).
    pub fn partitions(mut self, partitions: u32) -> CallerConfig {
        self.broker.topology = self.broker.topology.partitions(partitions);
        self
    }

    /// Sets the broker's failover time after a worker dies
    /// ([`Topology::ack_wait`]).
    pub fn ack_wait(mut self, ack_wait: Duration) -> CallerConfig {
        self.broker.topology = self.broker.topology.ack_wait(ack_wait);
        self
    }

    /// Sets how often a job is delivered at most before it ends as lost
    /// ([`Topology::max_deliver`]).
    pub fn max_deliver(mut self, max_deliver: u32) -> CallerConfig {
        self.broker.topology = self.broker.topology.max_deliver(max_deliver);
        self
    }

    /// Sets how long the broker remembers job ids
    /// ([`Topology::duplicate_window`]).
    pub fn duplicate_window(mut self, window: Duration) -> CallerConfig {
        self.broker.topology = self.broker.topology.duplicate_window(window);
        self
    }

    /// Sets how long an unread result stays on the broker
    /// ([`Topology::result_max_age`]).
    pub fn result_max_age(mut self, age: Duration) -> CallerConfig {
        self.broker.topology = self.broker.topology.result_max_age(age);
        self
    }

    /// The settings shared with the workers.
    pub(crate) fn shared(&self) -> &Topology {
        &self.broker.topology
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        self.broker.check()?;
        if let Some(id) = &self.caller_id {
            check_token("caller id", id).map_err(Error::config)?;
        }
        if self.max_in_flight == 0 {
            return Err(Error::config(
                "`max_in_flight` must be at least 1; the default is 1000",
            ));
        }
        if self.publish_attempts == 0 {
            return Err(Error::config(
                "`publish_attempts` must be at least 1; the default is 3",
            ));
        }
        if self.publish_timeout.is_zero() {
            return Err(Error::config(
                "`publish_timeout` must be more than zero; the default is 2 s",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_values_out_of_range() {
        let base = || CallerConfig::new("nats://127.0.0.1:1");
        assert!(base().check().is_ok());
        let err = base().max_in_flight(0).check().unwrap_err();
        assert!(err.is_config());
        assert_eq!(
            err.to_string(),
            "`max_in_flight` must be at least 1; the default is 1000"
        );
        assert!(base().publish_attempts(0).check().is_err());
        assert!(base().publish_timeout(Duration::ZERO).check().is_err());
        assert!(base().partitions(0).check().is_err());
        assert!(base().max_deliver(1).check().is_err());
        assert!(base().namespace("a b").check().is_err());
        assert!(base().caller_id("a.b").check().is_err());
        assert!(
            base()
                .duplicate_window(Duration::from_secs(60))
                .result_max_age(Duration::from_secs(30))
                .check()
                .is_err()
        );
    }
}
