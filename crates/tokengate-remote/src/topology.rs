//! The settings every caller and worker of one namespace shares: how the
//! broker's streams and consumers are set up, recorded on the broker by the
//! first side to connect and checked by every other.

use std::time::Duration;

use crate::error::Error;
use crate::names::{DEFAULT_NAMESPACE, Names, check_token};

/// What the callers and the workers of one deployment must agree on: the
/// namespace of its streams and subjects, the sticky partitions, and how the
/// broker redelivers jobs whose worker died.
///
/// Give the same `Topology` to both sides, with
/// [`CallerConfig::topology`](crate::CallerConfig::topology) (or
/// [`Remote::nats`](crate::Remote)) and
/// [`WorkerConfig::topology`](crate::WorkerConfig::topology); their setters
/// of the same names (`.max_deliver(3)` on either) change the one they hold.
/// Whichever side connects first creates the streams and records these
/// settings in the jobs stream's description; a caller or worker whose
/// settings differ from that record fails to start
/// ([`Error::is_mismatch`](crate::Error::is_mismatch)), with an error that
/// names both values, instead of half-working (jobs on partitions nobody
/// serves, a poison limit other than the one configured).
///
/// | setting | default | used for |
/// |---|---|---|
/// | [`namespace`](Self::namespace) | `tg` | stream names `TG_JOBS`, `TG_RESULTS`; subjects `tg.…` |
/// | [`partitions`](Self::partitions) | 4 | sticky keys map to this many partitions per pool |
/// | [`ack_wait`](Self::ack_wait) | 10 s | how long the broker waits for a sign of life from a job's worker before delivering it again: the failover time |
/// | [`max_deliver`](Self::max_deliver) | 5 | deliveries of one job at most; the last one ends it as lost (a poison job) |
/// | [`duplicate_window`](Self::duplicate_window) | 2 min | how long the broker remembers job ids to drop a job sent twice |
/// | [`result_max_age`](Self::result_max_age) | 10 min | how long an unread result stays on the broker |
///
/// To change a setting of a running deployment, stop its callers and
/// workers, delete the namespace's streams (`nats stream rm TG_JOBS`,
/// `nats stream rm TG_RESULTS`) once no job is queued, and start them all
/// with the new settings; or move to a new namespace.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tokengate_remote::{Remote, Topology, Worker};
///
/// let topology = Topology::new()
///     .namespace("orders")
///     .ack_wait(Duration::from_secs(30))
///     .max_deliver(3);
/// let caller = Remote::nats("nats://10.0.0.5:4222").topology(topology.clone());
/// let worker = Worker::nats("nats://10.0.0.5:4222").slots(8).topology(topology);
/// # let _ = (caller, worker);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a topology does nothing until a caller's or worker's config takes it"]
pub struct Topology {
    pub(crate) namespace: String,
    pub(crate) partitions: u32,
    pub(crate) ack_wait: Duration,
    pub(crate) max_deliver: u32,
    pub(crate) duplicate_window: Duration,
    pub(crate) result_max_age: Duration,
}

impl Default for Topology {
    fn default() -> Topology {
        Topology::new()
    }
}

/// How a recorded topology starts, in the jobs stream's description.
const RECORD: &str = "tokengate-remote topology 1:";

impl Topology {
    /// The defaults in the table above.
    pub fn new() -> Topology {
        Topology {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            partitions: 4,
            ack_wait: Duration::from_secs(10),
            max_deliver: 5,
            duplicate_window: Duration::from_secs(120),
            result_max_age: Duration::from_secs(600),
        }
    }

    /// Sets the namespace (1 to 64 of `A-Z a-z 0-9 _ -`): the streams are
    /// `<NAMESPACE>_JOBS` and `<NAMESPACE>_RESULTS` (in capitals) and every
    /// subject starts with `<namespace>.` (in lowercase), so deployments
    /// sharing one server never see each other's jobs, results, kills or
    /// heartbeats. Namespaces that differ in case only are the same.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Topology {
        self.namespace = namespace.into();
        self
    }

    /// Sets the number of sticky partitions per pool: a `sticky_anchor`
    /// call's key picks one, and each partition runs one call at a time, in
    /// order, on any worker that serves partitions.
    pub fn partitions(mut self, partitions: u32) -> Topology {
        self.partitions = partitions;
        self
    }

    /// Sets how long the broker waits for a sign of life from a job's worker
    /// (workers send one every third of it while a job runs) before
    /// delivering the job again: the failover time after a worker dies
    /// (at least 100 ms).
    pub fn ack_wait(mut self, ack_wait: Duration) -> Topology {
        self.ack_wait = ack_wait;
        self
    }

    /// Sets how often a job is delivered at most (at least 2). The last
    /// delivery does not run the job: it ends it as lost
    /// ([`Outcome::WorkerLost`](crate::Outcome::WorkerLost)) and removes it
    /// from the stream, so a job that kills its workers runs
    /// `max_deliver - 1` times.
    pub fn max_deliver(mut self, max_deliver: u32) -> Topology {
        self.max_deliver = max_deliver;
        self
    }

    /// Sets how long the broker remembers job ids to drop a job submitted
    /// twice (at least 100 ms).
    pub fn duplicate_window(mut self, window: Duration) -> Topology {
        self.duplicate_window = window;
        self
    }

    /// Sets how long an unread result stays in the results stream (not
    /// shorter than the duplicate window): what a caller that died leaves
    /// behind ages out after it.
    pub fn result_max_age(mut self, age: Duration) -> Topology {
        self.result_max_age = age;
        self
    }

    /// The broker names of the namespace.
    pub(crate) fn names(&self) -> Names {
        Names::new(&self.namespace)
    }

    /// Refuses values the broker would refuse later, with our own words.
    pub(crate) fn check(&self) -> Result<(), Error> {
        check_token("namespace", &self.namespace).map_err(Error::config)?;
        if self.partitions == 0 {
            return Err(Error::config(
                "`partitions` must be at least 1; the default is 4",
            ));
        }
        if self.ack_wait < Duration::from_millis(100) {
            return Err(Error::config(
                "`ack_wait` must be at least 100 ms; the default is 10 s",
            ));
        }
        if self.max_deliver < 2 {
            return Err(Error::config(
                "`max_deliver` must be at least 2 (the last delivery reports the job as lost \
                 instead of running it); the default is 5",
            ));
        }
        if self.duplicate_window < Duration::from_millis(100) {
            return Err(Error::config(
                "`duplicate_window` must be at least 100 ms; the default is 2 min",
            ));
        }
        if self.result_max_age < self.duplicate_window {
            return Err(Error::config(format!(
                "`result_max_age` ({:?}) must not be shorter than `duplicate_window` ({:?})",
                self.result_max_age, self.duplicate_window
            )));
        }
        Ok(())
    }

    /// The settings kept in the jobs stream's description (those that the
    /// streams' own configuration does not hold).
    pub(crate) fn record(&self) -> String {
        format!(
            "{RECORD} partitions={} ack_wait_ms={} max_deliver={}",
            self.partitions,
            self.ack_wait.as_millis(),
            self.max_deliver
        )
    }

    /// Compares `description`, the jobs stream's, with [`record`]: the
    /// settings that differ, as `(setting, on the broker, here)`. A stream
    /// without a record (made by other means) has nothing to compare.
    ///
    /// [`record`]: Self::record
    pub(crate) fn differences(&self, description: &str) -> Vec<(&'static str, String, String)> {
        let Some(fields) = description.strip_prefix(RECORD) else {
            return Vec::new();
        };
        let ours = self.record();
        let ours = ours.strip_prefix(RECORD).unwrap_or_default();
        let theirs: Vec<(&str, &str)> = fields
            .split_whitespace()
            .filter_map(|field| field.split_once('='))
            .collect();
        let mut differ = Vec::new();
        for (key, mine) in ours
            .split_whitespace()
            .filter_map(|field| field.split_once('='))
        {
            let held = theirs
                .iter()
                .find(|(k, _)| *k == key)
                .map_or("(none)", |(_, v)| v);
            if held != mine {
                let setting = match key {
                    "partitions" => "partitions",
                    "ack_wait_ms" => "ack_wait",
                    _ => "max_deliver",
                };
                differ.push((setting, shown(key, held), shown(key, mine)));
            }
        }
        differ
    }
}

/// A recorded value as a person reads it: milliseconds as a duration.
fn shown(key: &str, value: &str) -> String {
    match (key, value.parse::<u64>()) {
        ("ack_wait_ms", Ok(ms)) => format!("{:?}", Duration::from_millis(ms)),
        _ => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_values_out_of_range() {
        assert!(Topology::new().check().is_ok());
        assert!(Topology::new().namespace("a.b").check().is_err());
        assert!(Topology::new().partitions(0).check().is_err());
        assert!(Topology::new().max_deliver(1).check().is_err());
        let err = Topology::new()
            .ack_wait(Duration::from_millis(10))
            .check()
            .unwrap_err();
        assert!(err.is_config());
        assert_eq!(
            err.to_string(),
            "`ack_wait` must be at least 100 ms; the default is 10 s"
        );
        assert!(
            Topology::new()
                .duplicate_window(Duration::from_secs(60))
                .result_max_age(Duration::from_secs(30))
                .check()
                .is_err()
        );
    }

    #[test]
    fn a_record_lists_what_differs() {
        let broker = Topology::new().record();
        assert_eq!(
            broker,
            "tokengate-remote topology 1: partitions=4 ack_wait_ms=10000 max_deliver=5"
        );
        assert!(Topology::new().differences(&broker).is_empty());
        let here = Topology::new()
            .ack_wait(Duration::from_millis(1500))
            .max_deliver(3);
        assert_eq!(
            here.differences(&broker),
            [
                ("ack_wait", "10s".to_owned(), "1.5s".to_owned()),
                ("max_deliver", "5".to_owned(), "3".to_owned()),
            ]
        );
        // A stream made by other means has no record to hold us to.
        assert!(here.differences("").is_empty());
    }
}
