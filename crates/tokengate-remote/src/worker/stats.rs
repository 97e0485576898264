//! A worker's counters, read at once.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::caller::ConnectionState;

/// Counts behind [`WorkerStats`].
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) received: AtomicU64,
    pub(crate) executed: AtomicU64,
    pub(crate) values: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) panics: AtomicU64,
    pub(crate) expired: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) killed: AtomicU64,
    pub(crate) poison: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) unpublished: AtomicU64,
    pub(crate) running: AtomicU64,
    pub(crate) finished: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub(crate) fn read(&self, connection: ConnectionState) -> WorkerStats {
        let Counters {
            received,
            executed,
            values,
            errors,
            panics,
            expired,
            timed_out,
            killed,
            poison,
            malformed,
            unpublished,
            running,
            finished,
        } = self;
        WorkerStats {
            received: received.load(Relaxed),
            executed: executed.load(Relaxed),
            values: values.load(Relaxed),
            errors: errors.load(Relaxed),
            panics: panics.load(Relaxed),
            expired: expired.load(Relaxed),
            timed_out: timed_out.load(Relaxed),
            killed: killed.load(Relaxed),
            poison: poison.load(Relaxed),
            malformed: malformed.load(Relaxed),
            unpublished: unpublished.load(Relaxed),
            running: running.load(Relaxed),
            finished: finished.load(Relaxed),
            connection,
        }
    }
}

/// What a [`Worker`](crate::Worker) has done so far, from
/// [`Worker::stats`](crate::Worker::stats).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerStats {
    /// Job deliveries taken from the broker.
    pub received: u64,
    /// Executor calls started.
    pub executed: u64,
    /// Jobs that returned a value.
    pub values: u64,
    /// Jobs that ended in an error (the executor's, or one found before
    /// running: an unreadable job, another wire format).
    pub errors: u64,
    /// Jobs whose fn panicked.
    pub panics: u64,
    /// Jobs dropped unrun because their deadline had passed in the queue.
    pub expired: u64,
    /// Jobs stopped because they ran past their deadline.
    pub timed_out: u64,
    /// Jobs stopped or dropped because their caller killed them.
    pub killed: u64,
    /// Jobs ended as lost on their last allowed delivery.
    pub poison: u64,
    /// Deliveries without a job id or reply subject (not from a caller);
    /// dropped.
    pub malformed: u64,
    /// Results the broker did not store in time; their jobs are delivered
    /// again.
    pub unpublished: u64,
    /// Executor calls running now.
    pub running: u64,
    /// Executor calls that have returned (whatever they returned, and also
    /// after a kill or a deadline).
    pub finished: u64,
    /// The connection to the broker now.
    pub connection: ConnectionState,
}

impl fmt::Display for WorkerStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let WorkerStats {
            received,
            executed,
            values,
            errors,
            panics,
            expired,
            timed_out,
            killed,
            poison,
            malformed,
            unpublished,
            running,
            finished,
            connection,
        } = self;
        write!(
            f,
            "received {received}, executed {executed}, values {values}, errors {errors}, panics \
             {panics}, expired {expired}, timed out {timed_out}, killed {killed}, poison \
             {poison}, malformed {malformed}, unpublished {unpublished}, running {running}, \
             finished {finished}, broker {connection}"
        )
    }
}
