//! Names on the broker: streams, subjects, consumers, and the checks that
//! keep user-given parts (namespaces, pool names, caller ids, job ids) from
//! breaking them.
//!
//! Every stream and subject name starts with the namespace
//! ([`Topology::namespace`](crate::Topology::namespace), `tg` by default),
//! so deployments that share a server never see each other's jobs:
//!
//! ```text
//! TG_JOBS, TG_RESULTS                   the streams: the namespace in capitals
//! tg.jobs.<pool>.<weight>.<op>          a job for any worker serving that weight
//! tg.jobs.<pool>.sticky.p<N>.<op>       a job with a sticky key, partition N
//! tg.res.<caller id>                    the results of one caller's jobs
//! tg.ctl.<pool>.kill                    "stop job <id>" (core NATS, not stored)
//! tg.hb.<pool>.<worker id>              a worker's heartbeat (core NATS)
//! tg.ctl.heartbeat                      "every worker: a heartbeat now" (core NATS)
//! ```
//!
//! The op is the last token for people reading the broker's monitoring; the
//! worker takes the op from the job's body, where any string may stand.

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use crate::job::StickyKey;

/// The namespace of [`Names::default`].
pub(crate) const DEFAULT_NAMESPACE: &str = "tg";

/// The names of one namespace. Namespaces that differ in case only name the
/// same streams and subjects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Names {
    /// The first token of every subject, in lowercase.
    subjects: String,
    /// The prefix of the stream names, in capitals.
    streams: String,
}

impl Default for Names {
    fn default() -> Names {
        Names::new(DEFAULT_NAMESPACE)
    }
}

impl Names {
    /// The names of `namespace`, which [`check_token`] has accepted.
    pub(crate) fn new(namespace: &str) -> Names {
        Names {
            subjects: namespace.to_ascii_lowercase(),
            streams: namespace.to_ascii_uppercase(),
        }
    }

    /// The work-queue stream that holds queued jobs.
    pub(crate) fn jobs_stream(&self) -> String {
        format!("{}_JOBS", self.streams)
    }

    /// The stream that holds results until their caller has read them.
    pub(crate) fn results_stream(&self) -> String {
        format!("{}_RESULTS", self.streams)
    }

    /// The subjects of the jobs stream.
    pub(crate) fn jobs_subjects(&self) -> String {
        format!("{}.jobs.>", self.subjects)
    }

    /// The subjects of the results stream.
    pub(crate) fn results_subjects(&self) -> String {
        format!("{}.res.>", self.subjects)
    }

    /// The subject a job is published on.
    pub(crate) fn job_subject(&self, pool: &str, route: Route<'_>, op: &str) -> String {
        let (ns, op) = (&self.subjects, op_token(op));
        match route {
            Route::Weight(weight) => format!("{ns}.jobs.{pool}.{weight}.{op}"),
            Route::Partition(n) => format!("{ns}.jobs.{pool}.{STICKY}.p{n}.{op}"),
        }
    }

    /// The filter subject of the consumer that serves `route` in `pool`;
    /// filters of different routes never overlap, as a work-queue stream
    /// requires.
    pub(crate) fn consumer_filter(&self, pool: &str, route: Route<'_>) -> String {
        let ns = &self.subjects;
        match route {
            Route::Weight(weight) => format!("{ns}.jobs.{pool}.{weight}.>"),
            Route::Partition(n) => format!("{ns}.jobs.{pool}.{STICKY}.p{n}.>"),
        }
    }

    /// The subject a caller's results are published on.
    pub(crate) fn result_subject(&self, caller: &str) -> String {
        format!("{}.res.{caller}", self.subjects)
    }

    /// The subject kill messages for a pool's jobs are published on.
    pub(crate) fn kill_subject(&self, pool: &str) -> String {
        format!("{}.ctl.{pool}.kill", self.subjects)
    }

    /// The subject a worker publishes its heartbeats on.
    pub(crate) fn heartbeat_subject(&self, pool: &str, worker: &str) -> String {
        format!("{}.hb.{pool}.{worker}", self.subjects)
    }

    /// The subjects of every worker's heartbeats.
    pub(crate) fn heartbeats(&self) -> String {
        format!("{}.hb.>", self.subjects)
    }

    /// The subject that asks every worker for a heartbeat at once, so that a
    /// caller that just connected need not wait a period to list them.
    pub(crate) fn heartbeat_request(&self) -> String {
        format!("{}.ctl.heartbeat", self.subjects)
    }
}

/// The weights a job may have, as the core spells them.
pub(crate) const WEIGHTS: [&str; 3] = ["light", "medium", "heavy"];

/// The subject token of sticky partitions; never a weight.
const STICKY: &str = "sticky";

/// The longest pool name or caller id.
const MAX_TOKEN: usize = 64;

/// The longest job id.
const MAX_JOB_ID: usize = 200;

/// Checks that `value` can stand as one subject token and in consumer names:
/// 1 to 64 of `A-Z a-z 0-9 _ -`. `what` names it in the error ("pool name").
pub(crate) fn check_token(what: &str, value: &str) -> Result<(), String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_TOKEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid {what} `{value}`; use 1 to {MAX_TOKEN} of the characters `A-Z`, `a-z`, \
             `0-9`, `_` and `-`"
        ))
    }
}

/// Checks a weight: one of [`WEIGHTS`], in lowercase.
pub(crate) fn check_weight(weight: &str) -> Result<(), String> {
    if WEIGHTS.contains(&weight) {
        Ok(())
    } else {
        Err(format!(
            "unknown weight `{weight}`; expected one of `light`, `medium`, `heavy`"
        ))
    }
}

/// Checks a job id: 1 to 200 visible ASCII characters (it travels as the
/// `Nats-Msg-Id` header and as the body of kill messages).
pub(crate) fn check_job_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty() && id.len() <= MAX_JOB_ID && id.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid job id `{}`; use 1 to {MAX_JOB_ID} visible ASCII characters (no spaces)",
            id.escape_debug()
        ))
    }
}

/// The op as a subject token: characters a token may not hold become `_`.
fn op_token(op: &str) -> Cow<'_, str> {
    let fine = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if !op.is_empty() && op.chars().all(fine) {
        Cow::Borrowed(op)
    } else if op.is_empty() {
        Cow::Borrowed("_")
    } else {
        Cow::Owned(op.chars().map(|c| if fine(c) { c } else { '_' }).collect())
    }
}

/// Where a job is queued: by weight, or in a sticky partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// Any worker serving this weight of the pool.
    Weight(&'a str),
    /// The sticky partition with this index.
    Partition(u32),
}

/// The durable name of the consumer that serves `route` in `pool` (a
/// stream's consumers are its own: the namespace need not be in it).
pub(crate) fn consumer_name(pool: &str, route: Route<'_>) -> String {
    match route {
        Route::Weight(weight) => format!("tg_{pool}_{weight}"),
        Route::Partition(n) => format!("tg_{pool}_{STICKY}_p{n}"),
    }
}

/// A random id for a caller or worker: 16 hex digits from the standard
/// library's random hasher seed, the time and the process id.
pub(crate) fn random_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let hash = RandomState::new().hash_one((nanos, std::process::id()));
    format!("{hash:016x}")
}

/// The partition of a sticky key among `partitions`: a `u64` key modulo the
/// count, a byte key by its FNV-1a hash. Stable across processes and builds,
/// so every caller puts one key in one partition.
pub(crate) fn partition(key: &StickyKey, partitions: u32) -> u32 {
    let hash = match key {
        StickyKey::U64(k) => *k,
        StickyKey::Bytes(bytes) => bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        }),
    };
    // `partitions` is at least 1 (checked by the configs), so this fits.
    (hash % u64::from(partitions)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked() {
        assert!(check_token("pool name", "gpu-2_a").is_ok());
        let err = check_token("pool name", "a.b").unwrap_err();
        assert_eq!(
            err,
            "invalid pool name `a.b`; use 1 to 64 of the characters `A-Z`, `a-z`, `0-9`, `_` \
             and `-`"
        );
        assert!(check_token("pool name", "").is_err());
        assert!(check_token("pool name", &"x".repeat(65)).is_err());
        assert!(check_token("pool name", "a>").is_err());
    }

    #[test]
    fn weights_are_lowercase_names() {
        assert!(check_weight("heavy").is_ok());
        assert_eq!(
            check_weight("Heavy").unwrap_err(),
            "unknown weight `Heavy`; expected one of `light`, `medium`, `heavy`"
        );
    }

    #[test]
    fn job_ids_are_visible_ascii() {
        assert!(check_job_id("c1a2.17").is_ok());
        assert!(check_job_id("a b").is_err());
        assert!(check_job_id("").is_err());
        assert!(
            check_job_id("line\nbreak")
                .unwrap_err()
                .contains("line\\nbreak")
        );
    }

    #[test]
    fn subjects_keep_ops_in_one_token() {
        let names = Names::default();
        assert_eq!(
            names.job_subject("default", Route::Weight("heavy"), "thumbnail"),
            "tg.jobs.default.heavy.thumbnail"
        );
        assert_eq!(
            names.job_subject("p", Route::Partition(3), "a.b *>"),
            "tg.jobs.p.sticky.p3.a_b___"
        );
        assert_eq!(
            names.job_subject("p", Route::Weight("light"), ""),
            "tg.jobs.p.light._"
        );
        assert_eq!(
            names.consumer_filter("p", Route::Weight("light")),
            "tg.jobs.p.light.>"
        );
        assert_eq!(
            names.consumer_filter("p", Route::Partition(0)),
            "tg.jobs.p.sticky.p0.>"
        );
        assert_eq!(consumer_name("p", Route::Partition(0)), "tg_p_sticky_p0");
    }

    #[test]
    fn a_namespace_prefixes_streams_and_subjects_whatever_its_case() {
        let names = Names::new("Orders-2");
        assert_eq!(names, Names::new("ORDERS-2"));
        assert_eq!(
            (names.jobs_stream(), names.results_stream()),
            ("ORDERS-2_JOBS".to_owned(), "ORDERS-2_RESULTS".to_owned())
        );
        assert_eq!(names.jobs_subjects(), "orders-2.jobs.>");
        assert_eq!(names.result_subject("c1"), "orders-2.res.c1");
        assert_eq!(names.kill_subject("gpu"), "orders-2.ctl.gpu.kill");
        assert_eq!(names.heartbeat_subject("gpu", "w1"), "orders-2.hb.gpu.w1");
        assert_eq!(names.heartbeats(), "orders-2.hb.>");
        assert_eq!(names.heartbeat_request(), "orders-2.ctl.heartbeat");
        assert_eq!(Names::default().jobs_stream(), "TG_JOBS");
    }

    #[test]
    fn partitions_are_stable_and_in_range() {
        assert_eq!(partition(&StickyKey::U64(10), 4), 2);
        let key = StickyKey::Bytes(b"user-42".to_vec());
        let p = partition(&key, 8);
        assert!(p < 8);
        assert_eq!(p, partition(&key, 8));
        // FNV-1a of the empty input is its offset basis.
        assert_eq!(
            partition(&StickyKey::Bytes(Vec::new()), 1_000),
            (0xcbf2_9ce4_8422_2325_u64 % 1_000) as u32
        );
    }
}
