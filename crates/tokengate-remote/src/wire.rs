//! The messages on the broker: a job and a result, each a NATS message with
//! a few headers and a postcard body.
//!
//! ```text
//! job     subject  tg.jobs.<pool>.<weight>.<op> | tg.jobs.<pool>.sticky.p<N>.<op>
//!         headers  Nats-Msg-Id: <job id>     (the broker deduplicates by it)
//!                  Tg-Format:   1
//!                  Tg-Reply:    tg.res.<caller id>
//!         body     JobBody { op: str, budget: Option<Duration>, args: bytes }
//!
//! result  subject  tg.res.<caller id>
//!         headers  Tg-Format:   1
//!         body     ResultBody { job: str, delivered: u64, outcome: WireOutcome }
//!
//! kill    subject  tg.ctl.<pool>.kill          (core NATS, not stored)
//!         body     the job id, UTF-8
//!
//! beat    subject  tg.hb.<pool>.<worker id>    (core NATS, not stored)
//!         headers  Tg-Format:   1
//!         body     HeartbeatBody { worker, host, pid, pool, weights, sticky,
//!                  slots, busy, done, started, up, interval, leaving }
//!
//! ask     subject  tg.ctl.heartbeat            (core NATS; every worker beats now)
//! ```
//!
//! (`tg` is the default namespace; see [`Topology`](crate::Topology).)
//!
//! The id and reply subject are headers, not body fields, so that a worker
//! that cannot read a body (another format version) can still answer the
//! right caller with an error that says so.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::job::Outcome;

/// The format of the bodies below; a peer that speaks another one answers
/// with an error instead of guessing.
pub(crate) const FORMAT: &str = "1";

/// The header that carries [`FORMAT`].
pub(crate) const FORMAT_HEADER: &str = "Tg-Format";

/// The header that carries the subject a job's result goes to.
pub(crate) const REPLY_HEADER: &str = "Tg-Reply";

/// The body of a job message.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct JobBody<'a> {
    /// The op name, exactly as the caller gave it.
    #[serde(borrow)]
    pub(crate) op: &'a str,
    /// The budget the call had left when it was submitted.
    pub(crate) budget: Option<Duration>,
    /// The encoded arguments, one block.
    #[serde(with = "serde_bytes")]
    pub(crate) args: &'a [u8],
}

/// The body of a result message.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ResultBody {
    /// The id of the job this is the result of.
    pub(crate) job: String,
    /// Which delivery of the job produced it (1 for the first).
    pub(crate) delivered: u64,
    /// How it ended.
    pub(crate) outcome: WireOutcome,
}

/// The body of a heartbeat: a worker says who it is, what it serves and how
/// busy it is, every `interval`, when asked, and once more when it stops.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HeartbeatBody {
    /// The worker's id, unique among live workers.
    pub(crate) worker: String,
    /// The name of the machine it runs on.
    pub(crate) host: String,
    /// Its process id there.
    pub(crate) pid: u32,
    /// The pool it serves.
    pub(crate) pool: String,
    /// The weights it serves.
    pub(crate) weights: Vec<String>,
    /// Whether it serves the pool's sticky partitions.
    pub(crate) sticky: bool,
    /// Jobs it runs at once, at most.
    pub(crate) slots: u64,
    /// Jobs it runs now.
    pub(crate) busy: u64,
    /// Jobs it has finished running since it started.
    pub(crate) done: u64,
    /// When it started, in milliseconds since the Unix epoch by its clock.
    pub(crate) started: u64,
    /// How long it has served, by its own clock.
    pub(crate) up: Duration,
    /// How often it beats: a worker not heard from for three of these is
    /// gone.
    pub(crate) interval: Duration,
    /// The last beat of a worker that stops.
    pub(crate) leaving: bool,
}

/// The outcomes a worker reports (the others arise on the caller's side).
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum WireOutcome {
    /// The encoded value.
    Value(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The panic message.
    Panic(String),
    /// Why the job failed.
    Error(String),
    /// How the deadline was missed.
    TimedOut(String),
    /// Why no worker finished the job.
    WorkerLost(String),
}

impl From<WireOutcome> for Outcome {
    fn from(outcome: WireOutcome) -> Outcome {
        match outcome {
            WireOutcome::Value(value) => Outcome::Value(value),
            WireOutcome::Panic(msg) => Outcome::Panic(msg),
            WireOutcome::Error(msg) => Outcome::Error(msg),
            WireOutcome::TimedOut(msg) => Outcome::TimedOut(msg),
            WireOutcome::WorkerLost(msg) => Outcome::WorkerLost(msg),
        }
    }
}

/// Encodes a body (postcard).
pub(crate) fn encode<T: Serialize>(body: &T) -> Vec<u8> {
    // The bodies hold strings, integers and byte blocks only, which postcard
    // always encodes.
    postcard::to_stdvec(body).expect("postcard encodes plain structs")
}

/// Decodes a body (postcard), or says why it cannot.
pub(crate) fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|err| {
        format!(
            "could not decode a {what} ({err}); callers and workers must use the same \
             tokengate-remote wire format"
        )
    })
}

/// The error a peer sends for a message in another format.
pub(crate) fn format_mismatch(theirs: Option<&str>) -> String {
    format!(
        "the job uses wire format `{}`, and this worker reads format `{FORMAT}`; run callers and \
         workers built with the same tokengate-remote version",
        theirs.unwrap_or("(none)")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_bodies_round_trip_without_copying_args() {
        let args = vec![7_u8; 1000];
        let bytes = encode(&JobBody {
            op: "thumbnail",
            budget: Some(Duration::from_millis(1500)),
            args: &args,
        });
        // One length-prefixed block: the op, the budget, 1000 bytes and
        // their varint length, nothing per byte.
        assert!(bytes.len() < 1000 + 32, "{} bytes", bytes.len());
        let body: JobBody<'_> = decode(&bytes, "job").unwrap();
        assert_eq!(body.op, "thumbnail");
        assert_eq!(body.budget, Some(Duration::from_millis(1500)));
        assert_eq!(body.args, &args[..]);
    }

    #[test]
    fn result_bodies_round_trip() {
        for outcome in [
            WireOutcome::Value(vec![1, 2, 3]),
            WireOutcome::Panic("boom".into()),
            WireOutcome::Error("bad".into()),
            WireOutcome::TimedOut("late".into()),
            WireOutcome::WorkerLost("gone".into()),
        ] {
            let bytes = encode(&ResultBody {
                job: "c.1".into(),
                delivered: 2,
                outcome,
            });
            let body: ResultBody = decode(&bytes, "result").unwrap();
            assert_eq!(body.job, "c.1");
            assert_eq!(body.delivered, 2);
        }
    }

    #[test]
    fn heartbeats_round_trip() {
        let beat = HeartbeatBody {
            worker: "w1".into(),
            host: "box-a".into(),
            pid: 42,
            pool: "gpu".into(),
            weights: vec!["heavy".into()],
            sticky: true,
            slots: 8,
            busy: 3,
            done: 1_000,
            started: 1_700_000_000_000,
            up: Duration::from_secs(90),
            interval: Duration::from_secs(2),
            leaving: false,
        };
        let back: HeartbeatBody = decode(&encode(&beat), "heartbeat").unwrap();
        assert_eq!(back, beat);
    }

    #[test]
    fn garbage_is_an_error_that_names_the_message() {
        let err = decode::<ResultBody>(&[0xff, 0xff, 0xff], "result").unwrap_err();
        assert!(err.starts_with("could not decode a result ("), "{err}");
        assert!(err.contains("same tokengate-remote wire format"), "{err}");
    }
}
