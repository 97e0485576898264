//! The workers a caller has heard from: each worker's latest heartbeat, kept
//! until the worker says it leaves or is not heard from for three of its
//! heartbeat intervals.
//!
//! The broker keeps no record of the clients pulling from its consumers, so
//! the workers announce themselves: every worker publishes a heartbeat on
//! `<namespace>.hb.<pool>.<worker id>` (core NATS, not stored) every
//! interval, at once when a caller asks (`<namespace>.ctl.heartbeat`, sent
//! by each caller when it connects or reconnects), and a last one when it
//! stops. A worker that dies (`kill -9`, a lost network) just falls silent.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::wire::HeartbeatBody;

/// How many heartbeat intervals of silence make a worker gone.
const MISSED: u32 = 3;

/// One live worker, as its latest heartbeat describes it, from
/// [`Caller::workers`](crate::Caller::workers).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerInfo {
    /// The worker's id ([`WorkerConfig::worker_id`](crate::WorkerConfig::worker_id);
    /// random by default).
    pub id: String,
    /// The name of the machine it runs on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// The pool it serves.
    pub pool: String,
    /// The weights it serves (`"light"`, `"medium"`, `"heavy"`).
    pub weights: Vec<String>,
    /// Whether it serves the pool's sticky partitions.
    pub sticky: bool,
    /// Jobs it runs at once, at most.
    pub slots: usize,
    /// Jobs it was running at its latest heartbeat.
    pub busy: usize,
    /// Jobs it had finished running at its latest heartbeat, since it
    /// started.
    pub done: u64,
    /// When it started, by its own clock.
    pub started_at: SystemTime,
    /// How long it has served, by its own clock, as of now.
    pub up: Duration,
    /// How long ago its latest heartbeat came.
    pub last_seen: Duration,
    /// How often it sends one; it is dropped from the list after three
    /// intervals of silence.
    pub heartbeat_interval: Duration,
}

impl fmt::Display for WorkerInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on {} (pid {}), pool {}: {}/{} slots busy, {} done, weights {}{}",
            self.id,
            self.host,
            self.pid,
            self.pool,
            self.busy,
            self.slots,
            self.done,
            self.weights.join(","),
            if self.sticky { " and sticky" } else { "" }
        )
    }
}

/// The latest heartbeat of each worker heard from, by pool and worker id.
#[derive(Default)]
pub(crate) struct Roster {
    heard: Mutex<HashMap<(String, String), Heard>>,
}

struct Heard {
    beat: HeartbeatBody,
    at: Instant,
}

impl Roster {
    /// Takes in one heartbeat: the worker is listed (again), or removed when
    /// it says it leaves.
    pub(crate) fn heard(&self, beat: HeartbeatBody) {
        let mut heard = self.heard.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (beat.pool.clone(), beat.worker.clone());
        if beat.leaving {
            heard.remove(&key);
        } else {
            heard.insert(
                key,
                Heard {
                    beat,
                    at: Instant::now(),
                },
            );
        }
    }

    /// The workers heard from within three of their intervals, by pool,
    /// host, pid and id; the others are forgotten.
    pub(crate) fn live(&self) -> Vec<WorkerInfo> {
        let mut heard = self.heard.lock().unwrap_or_else(PoisonError::into_inner);
        heard.retain(|_, h| h.at.elapsed() <= h.beat.interval * MISSED);
        let mut live: Vec<WorkerInfo> = heard
            .values()
            .map(|Heard { beat, at }| {
                let since = at.elapsed();
                WorkerInfo {
                    id: beat.worker.clone(),
                    host: beat.host.clone(),
                    pid: beat.pid,
                    pool: beat.pool.clone(),
                    weights: beat.weights.clone(),
                    sticky: beat.sticky,
                    slots: usize::try_from(beat.slots).unwrap_or(usize::MAX),
                    busy: usize::try_from(beat.busy).unwrap_or(usize::MAX),
                    done: beat.done,
                    started_at: UNIX_EPOCH + Duration::from_millis(beat.started),
                    up: beat.up + since,
                    last_seen: since,
                    heartbeat_interval: beat.interval,
                }
            })
            .collect();
        drop(heard);
        live.sort_by(|a, b| {
            (&a.pool, &a.host, a.pid, &a.id).cmp(&(&b.pool, &b.host, b.pid, &b.id))
        });
        live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(worker: &str, slots: u64, interval: Duration) -> HeartbeatBody {
        HeartbeatBody {
            worker: worker.into(),
            host: "box".into(),
            pid: 7,
            pool: "default".into(),
            weights: vec!["light".into(), "heavy".into()],
            sticky: false,
            slots,
            busy: 1,
            done: 9,
            started: 1_000,
            up: Duration::from_secs(5),
            interval,
            leaving: false,
        }
    }

    #[test]
    fn lists_the_latest_beat_of_each_worker_until_it_leaves() {
        let roster = Roster::default();
        roster.heard(beat("b", 2, Duration::from_secs(60)));
        roster.heard(beat("a", 3, Duration::from_secs(60)));
        roster.heard(beat("a", 4, Duration::from_secs(60)));
        let live = roster.live();
        let listed: Vec<(&str, usize)> = live.iter().map(|w| (w.id.as_str(), w.slots)).collect();
        assert_eq!(listed, [("a", 4), ("b", 2)]);
        assert_eq!(
            live[0].to_string(),
            "a on box (pid 7), pool default: 1/4 slots busy, 9 done, weights light,heavy"
        );
        assert!(live[0].up >= Duration::from_secs(5));
        assert_eq!(live[0].started_at, UNIX_EPOCH + Duration::from_secs(1));

        let mut leaving = beat("a", 4, Duration::from_secs(60));
        leaving.leaving = true;
        roster.heard(leaving);
        assert_eq!(roster.live().len(), 1);
    }

    #[test]
    fn forgets_a_worker_silent_for_three_intervals() {
        let roster = Roster::default();
        roster.heard(beat("quick", 1, Duration::from_millis(10)));
        roster.heard(beat("slow", 1, Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(40));
        let live: Vec<String> = roster.live().into_iter().map(|w| w.id).collect();
        assert_eq!(live, ["slow"]);
    }
}
