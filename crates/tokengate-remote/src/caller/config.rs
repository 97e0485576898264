//! How a [`Caller`](crate::Caller) is set up.

use std::time::Duration;

use crate::broker::BrokerSettings;
use crate::error::Error;
use crate::names::check_token;

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
    /// Sticky partitions of every pool; workers must use the same count.
    pub(crate) partitions: u32,
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
/// The broker's redelivery settings, `ack_wait` and `max_deliver`, belong to
/// the worker hosts, which create the consumers they pull from
/// ([`WorkerConfig::ack_wait`](crate::WorkerConfig::ack_wait),
/// [`WorkerConfig::max_deliver`](crate::WorkerConfig::max_deliver)).
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
    /// | [`partitions`](Self::partitions) | 4 |
    /// | [`connect_timeout`](Self::connect_timeout) | 5 s |
    /// | [`duplicate_window`](Self::duplicate_window) | 2 min |
    /// | [`result_max_age`](Self::result_max_age) | 10 min |
    pub fn new(url: impl Into<String>) -> CallerConfig {
        CallerConfig {
            broker: BrokerSettings::new(url),
            caller_id: None,
            max_in_flight: 1_000,
            publish_attempts: 3,
            publish_timeout: Duration::from_secs(2),
            partitions: 4,
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

    /// Sets the number of sticky partitions per pool; it must equal the
    /// workers' [`WorkerConfig::partitions`](crate::WorkerConfig::partitions).
    pub fn partitions(mut self, partitions: u32) -> CallerConfig {
        self.partitions = partitions;
        self
    }

    /// Sets how long connecting may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> CallerConfig {
        self.broker.connect_timeout = timeout;
        self
    }

    /// Sets how long the broker remembers job ids to drop a job submitted
    /// twice (used when this caller creates the jobs stream).
    pub fn duplicate_window(mut self, window: Duration) -> CallerConfig {
        self.broker.duplicate_window = window;
        self
    }

    /// Sets how long an unread result stays in the results stream (used when
    /// this caller creates it).
    pub fn result_max_age(mut self, age: Duration) -> CallerConfig {
        self.broker.result_max_age = age;
        self
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
        if self.partitions == 0 {
            return Err(Error::config(
                "`partitions` must be at least 1; the default is 4",
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
