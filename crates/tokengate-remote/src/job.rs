//! What a caller submits (a [`Job`]) and what it gets back (an [`Outcome`]).

use std::fmt;
use std::time::Duration;

/// The pool a job goes to when none is named.
pub const DEFAULT_POOL: &str = "default";

/// One call to run on a remote worker: an op name, its encoded arguments, and
/// where and how it may run.
///
/// The arguments are already encoded (the core encodes them as it does for
/// its process pool); this crate moves them as one block and never looks
/// inside.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use tokengate_remote::Job;
///
/// let job = Job::new("c1.17", "thumbnail", vec![1, 2, 3])
///     .weight("heavy")
///     .pool("gpu")
///     .deadline(Duration::from_secs(30))
///     .sticky(42_u64);
/// assert_eq!(job.id(), "c1.17");
/// assert_eq!(job.weight_name(), "heavy");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Job {
    /// Unique among every caller of the broker within its duplicate window;
    /// also the `Nats-Msg-Id` the broker deduplicates by.
    pub(crate) id: String,
    /// The op name the worker's executor finds the fn by.
    pub(crate) op: String,
    /// `"light"`, `"medium"` or `"heavy"`.
    pub(crate) weight: String,
    /// The pool of workers the job goes to.
    pub(crate) pool: String,
    /// The encoded arguments.
    pub(crate) args: Vec<u8>,
    /// The time the call may still take, counted from submission.
    pub(crate) deadline: Option<Duration>,
    /// Jobs with equal keys run one at a time, in submission order.
    pub(crate) sticky: Option<StickyKey>,
}

impl Job {
    /// A job with id `id` that calls `op` with the encoded `args`: weight
    /// `"medium"`, pool [`DEFAULT_POOL`], no deadline, no sticky key.
    ///
    /// The id must be unique among all jobs of every caller of the broker
    /// within the broker's duplicate window (a job submitted again with the
    /// same id is dropped by the broker); [`Caller::next_job_id`] makes such
    /// ids. It is checked when the job is submitted: 1 to 200 visible ASCII
    /// characters.
    ///
    /// [`Caller::next_job_id`]: crate::Caller::next_job_id
    pub fn new(id: impl Into<String>, op: impl Into<String>, args: Vec<u8>) -> Job {
        Job {
            id: id.into(),
            op: op.into(),
            weight: "medium".to_owned(),
            pool: DEFAULT_POOL.to_owned(),
            args,
            deadline: None,
            sticky: None,
        }
    }

    /// Sets the weight, as the core spells it: `"light"`, `"medium"` or
    /// `"heavy"`. Workers serve weights, so hosts may serve different ones.
    #[must_use]
    pub fn weight(mut self, weight: impl Into<String>) -> Job {
        self.weight = weight.into();
        self
    }

    /// Sets the pool of workers the job goes to (1 to 64 of `A-Z a-z 0-9 _ -`).
    #[must_use]
    pub fn pool(mut self, pool: impl Into<String>) -> Job {
        self.pool = pool.into();
        self
    }

    /// Sets the budget the call has left: a worker drops the job if it waited
    /// longer than this in the queue, and stops it when it runs past it; either
    /// way the outcome is [`Outcome::TimedOut`]. The caller's own timer stays
    /// the authority on the call's timeout; this only keeps workers from doing
    /// work nobody waits for.
    #[must_use]
    pub fn deadline(mut self, budget: Duration) -> Job {
        self.deadline = Some(budget);
        self
    }

    /// Sets a sticky key: jobs of the pool with equal keys run one at a time,
    /// in submission order, on whichever worker serves their partition
    /// ([`WorkerConfig::sticky`](crate::WorkerConfig::sticky)). A sticky job
    /// is queued by its partition, not by its weight.
    ///
    /// The order is the order in which the broker stored the jobs: a publish
    /// retried while the broker was unreachable may be stored after a later
    /// job of its key.
    #[must_use]
    pub fn sticky(mut self, key: impl Into<StickyKey>) -> Job {
        self.sticky = Some(key.into());
        self
    }

    /// The job's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The op name.
    pub fn op(&self) -> &str {
        &self.op
    }

    /// The weight's name.
    pub fn weight_name(&self) -> &str {
        &self.weight
    }

    /// The pool's name.
    pub fn pool_name(&self) -> &str {
        &self.pool
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Job {
            id,
            op,
            weight,
            pool,
            args,
            deadline,
            sticky,
        } = self;
        f.debug_struct("Job")
            .field("id", id)
            .field("op", op)
            .field("weight", weight)
            .field("pool", pool)
            .field("args", &format_args!("<{} bytes>", args.len()))
            .field("deadline", deadline)
            .field("sticky", sticky)
            .finish()
    }
}

/// A sticky key: the core's key for a sticky domain, as a number or as bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StickyKey {
    /// A numeric key; partition `key % partitions`.
    U64(u64),
    /// A byte key (a digest, say); partition by its FNV-1a hash.
    Bytes(Vec<u8>),
}

impl From<u64> for StickyKey {
    fn from(key: u64) -> StickyKey {
        StickyKey::U64(key)
    }
}

impl From<Vec<u8>> for StickyKey {
    fn from(key: Vec<u8>) -> StickyKey {
        StickyKey::Bytes(key)
    }
}

impl From<&[u8]> for StickyKey {
    fn from(key: &[u8]) -> StickyKey {
        StickyKey::Bytes(key.to_vec())
    }
}

/// How a job ended, as its completion callback receives it (exactly once).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The fn returned; its encoded value.
    Value(Vec<u8>),
    /// The fn panicked; the panic message. The job is not retried.
    Panic(String),
    /// The job could not run or the fn failed: an unknown op, arguments that
    /// do not decode, an executor's error, a job the caller refused (an
    /// invalid id, pool or weight, arguments over the broker's size limit, an
    /// id already in flight or already seen by the broker). Not retried.
    Error(String),
    /// The job's deadline passed: it waited too long in the queue (it was not
    /// run) or ran past it (it was stopped).
    TimedOut(String),
    /// The job was delivered as often as the broker allows and no worker
    /// finished it: each one it reached died or lost its connection (a poison
    /// job, say, that crashes its worker). It is not retried.
    WorkerLost(String),
    /// The broker did not take the job: it stayed unreachable through every
    /// publish attempt, or the caller closed first. The job may still have
    /// been queued and may run; its result would then be dropped.
    Unavailable(String),
    /// The job was killed through [`Caller::kill`](crate::Caller::kill).
    Cancelled,
}

impl Outcome {
    /// The outcome's name, for messages and stats.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Value(_) => "value",
            Outcome::Panic(_) => "panic",
            Outcome::Error(_) => "error",
            Outcome::TimedOut(_) => "timed out",
            Outcome::WorkerLost(_) => "worker lost",
            Outcome::Unavailable(_) => "unavailable",
            Outcome::Cancelled => "cancelled",
        }
    }
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Value(bytes) => write!(f, "Value(<{} bytes>)", bytes.len()),
            Outcome::Panic(msg) => f.debug_tuple("Panic").field(msg).finish(),
            Outcome::Error(msg) => f.debug_tuple("Error").field(msg).finish(),
            Outcome::TimedOut(msg) => f.debug_tuple("TimedOut").field(msg).finish(),
            Outcome::WorkerLost(msg) => f.debug_tuple("WorkerLost").field(msg).finish(),
            Outcome::Unavailable(msg) => f.debug_tuple("Unavailable").field(msg).finish(),
            Outcome::Cancelled => f.write_str("Cancelled"),
        }
    }
}

/// A job's completion callback. It is called exactly once, with the job's
/// [`Outcome`], on the caller's I/O thread (or, for a kill or a job refused
/// at submission, on the thread that killed or submitted it): it should only
/// hand the outcome on, never block. A panic in it is caught and ignored.
pub type OnDone = Box<dyn FnOnce(Outcome) + Send + 'static>;
