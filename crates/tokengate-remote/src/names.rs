//! Names on the broker: streams, subjects, consumers, and the checks that
//! keep user-given parts (pool names, caller ids, job ids) from breaking them.
//!
//! ```text
//! tg.jobs.<pool>.<weight>.<op>          a job for any worker serving that weight
//! tg.jobs.<pool>.sticky.p<N>.<op>       a job with a sticky key, partition N
//! tg.res.<caller id>                    the results of one caller's jobs
//! tg.ctl.<pool>.kill                    "stop job <id>" (core NATS, not stored)
//! ```
//!
//! The op is the last token for people reading the broker's monitoring; the
//! worker takes the op from the job's body, where any string may stand.

use std::borrow::Cow;

use crate::job::StickyKey;

/// The work-queue stream that holds queued jobs.
pub(crate) const JOBS_STREAM: &str = "TG_JOBS";

/// The stream that holds results until their caller has read them.
pub(crate) const RESULTS_STREAM: &str = "TG_RESULTS";

/// The subjects of [`JOBS_STREAM`].
pub(crate) const JOBS_SUBJECTS: &str = "tg.jobs.>";

/// The subjects of [`RESULTS_STREAM`].
pub(crate) const RESULTS_SUBJECTS: &str = "tg.res.>";

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

/// The subject a job is published on.
pub(crate) fn job_subject(pool: &str, route: Route<'_>, op: &str) -> String {
    let op = op_token(op);
    match route {
        Route::Weight(weight) => format!("tg.jobs.{pool}.{weight}.{op}"),
        Route::Partition(n) => format!("tg.jobs.{pool}.{STICKY}.p{n}.{op}"),
    }
}

/// The filter subject of the consumer that serves `route` in `pool`; filters
/// of different routes never overlap, as a work-queue stream requires.
pub(crate) fn consumer_filter(pool: &str, route: Route<'_>) -> String {
    match route {
        Route::Weight(weight) => format!("tg.jobs.{pool}.{weight}.>"),
        Route::Partition(n) => format!("tg.jobs.{pool}.{STICKY}.p{n}.>"),
    }
}

/// The durable name of the consumer that serves `route` in `pool`.
pub(crate) fn consumer_name(pool: &str, route: Route<'_>) -> String {
    match route {
        Route::Weight(weight) => format!("tg_{pool}_{weight}"),
        Route::Partition(n) => format!("tg_{pool}_{STICKY}_p{n}"),
    }
}

/// The subject a caller's results are published on.
pub(crate) fn result_subject(caller: &str) -> String {
    format!("tg.res.{caller}")
}

/// The subject kill messages for a pool's jobs are published on.
pub(crate) fn kill_subject(pool: &str) -> String {
    format!("tg.ctl.{pool}.kill")
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
        assert_eq!(
            job_subject("default", Route::Weight("heavy"), "thumbnail"),
            "tg.jobs.default.heavy.thumbnail"
        );
        assert_eq!(
            job_subject("p", Route::Partition(3), "a.b *>"),
            "tg.jobs.p.sticky.p3.a_b___"
        );
        assert_eq!(
            job_subject("p", Route::Weight("light"), ""),
            "tg.jobs.p.light._"
        );
        assert_eq!(
            consumer_filter("p", Route::Weight("light")),
            "tg.jobs.p.light.>"
        );
        assert_eq!(
            consumer_filter("p", Route::Partition(0)),
            "tg.jobs.p.sticky.p0.>"
        );
        assert_eq!(consumer_name("p", Route::Partition(0)), "tg_p_sticky_p0");
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
