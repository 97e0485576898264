//! Auto-block: a circuit breaker per operation, and manual blocks.
//!
//! Each operation name has a [`Guard`]. With [`AutoBlock`] configured, the
//! guard counts the op's finished attempts in a sliding time window (ten
//! buckets of a tenth of the window each, kept in atomics, so recording an
//! outcome takes no lock): calls, failures (panics, lost or failed worker
//! processes, timeouts; kills are not the op's fault and do not count) and
//! slow calls. After a failure or a slow call it checks the window: with at
//! least `min_calls` calls and a failure (or slow-call) ratio at the
//! threshold, the op *trips*: it is blocked, and new calls of it fail at once
//! with [`ErrorKind::Blocked`](crate::ErrorKind::Blocked). Calls already
//! queued stay queued (drain them to drop them).
//!
//! After the cooldown the op is *probing* (half-open): the next `probes`
//! calls are let through; the first outcome decides: a success closes the
//! guard (and clears its window), a failure blocks it again for another
//! cooldown. Calls beyond the probes are refused until then.
//!
//! A manual block ([`Handle::block_operation`](crate::Handle::block_operation))
//! lasts until it is lifted; it is never probed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::stats::{HealthState, OpHealth};

/// Settings of the per-operation circuit breaker; see
/// [`CoordinatorBuilder::auto_block`](crate::CoordinatorBuilder::auto_block).
///
/// ```
/// use std::time::Duration;
/// use tokengate::AutoBlock;
///
/// let rule = AutoBlock::new()
///     .failure_ratio(0.9)
///     .min_calls(10)
///     .window(Duration::from_secs(30))
///     .cooldown(Duration::from_secs(5))
///     .slow_call(Duration::from_secs(2), 0.5);
/// # let _ = rule;
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AutoBlock {
    pub(crate) failure_ratio: f64,
    pub(crate) min_calls: u32,
    pub(crate) window: Duration,
    pub(crate) cooldown: Duration,
    pub(crate) slow: Option<(Duration, f64)>,
    pub(crate) probes: u32,
}

impl Default for AutoBlock {
    fn default() -> Self {
        AutoBlock::new()
    }
}

impl AutoBlock {
    /// The defaults: trip at a 50% failure ratio over at least 20 calls in a
    /// 30 s window; probe after 5 s with one call; no slow-call rule.
    pub const fn new() -> AutoBlock {
        AutoBlock {
            failure_ratio: 0.5,
            min_calls: 20,
            window: Duration::from_secs(30),
            cooldown: Duration::from_secs(5),
            slow: None,
            probes: 1,
        }
    }

    /// The failure ratio (0.0–1.0) at which an op trips.
    pub const fn failure_ratio(mut self, ratio: f64) -> AutoBlock {
        self.failure_ratio = ratio;
        self
    }

    /// The fewest calls in the window before an op can trip.
    pub const fn min_calls(mut self, calls: u32) -> AutoBlock {
        self.min_calls = calls;
        self
    }

    /// How far back outcomes count.
    pub const fn window(mut self, window: Duration) -> AutoBlock {
        self.window = window;
        self
    }

    /// How long a tripped op stays blocked before it is probed.
    pub const fn cooldown(mut self, cooldown: Duration) -> AutoBlock {
        self.cooldown = cooldown;
        self
    }

    /// Also trip when at least `ratio` of the window's calls ran longer than
    /// `threshold` (the original's spike detection, made to act). A call
    /// counts when it finishes (a timeout counts as a failure besides).
    pub const fn slow_call(mut self, threshold: Duration, ratio: f64) -> AutoBlock {
        self.slow = Some((threshold, ratio));
        self
    }

    /// How many calls are let through to probe a blocked op (default 1).
    pub const fn probes(mut self, probes: u32) -> AutoBlock {
        self.probes = probes;
        self
    }
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const PROBING: u8 = 2;
const MANUAL: u8 = 3;

/// Why an op is blocked.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Why {
    Failures {
        ratio: f64,
        calls: u32,
    },
    Slow {
        ratio: f64,
        calls: u32,
        threshold: Duration,
    },
    ProbeFailed,
    Manual,
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Failures { ratio, calls } => {
                write!(f, "{:.0}% of its last {calls} calls failed", ratio * 100.0)
            }
            Why::Slow {
                ratio,
                calls,
                threshold,
            } => write!(
                f,
                "{:.0}% of its last {calls} calls ran longer than {threshold:?}",
                ratio * 100.0
            ),
            Why::ProbeFailed => f.write_str("a probe call failed"),
            Why::Manual => f.write_str("it was blocked with `Handle::block_operation`"),
        }
    }
}

/// How recording an outcome changed a guard.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Change {
    /// It tripped (or a probe failed): the op is blocked, for this reason.
    Blocked(Why),
    /// A probe succeeded: the op is no longer blocked.
    Unblocked,
}

/// A refusal: the op is blocked, why, and when it will be probed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Refusal {
    pub(crate) why: Why,
    /// `None` for a manual block (never probed) or while probes run.
    pub(crate) probe_in: Option<Duration>,
}

/// Ten buckets of a tenth of the window each.
const BUCKETS: usize = 10;

#[derive(Debug, Default)]
struct Bucket {
    /// Which tenth-of-a-window since the guard's start this bucket counts.
    epoch: AtomicU64,
    calls: AtomicU32,
    failures: AtomicU32,
    slow: AtomicU32,
}

#[derive(Debug, Default)]
struct Inner {
    opened_at: Option<Instant>,
    why: Option<Why>,
    probes_left: u32,
    last_failure: Option<String>,
}

/// One operation's breaker.
#[derive(Debug)]
pub(crate) struct Guard {
    state: AtomicU8,
    start: Instant,
    buckets: [Bucket; BUCKETS],
    inner: Mutex<Inner>,
}

impl Guard {
    fn new() -> Guard {
        Guard {
            state: AtomicU8::new(CLOSED),
            start: Instant::now(),
            buckets: Default::default(),
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a new call may be admitted now; `Err` says why not. The common
    /// case (a closed guard) is one atomic load.
    pub(crate) fn admit(&self, rule: Option<&AutoBlock>) -> Result<(), Refusal> {
        if self.state.load(Ordering::Acquire) == CLOSED {
            return Ok(());
        }
        let mut inner = self.lock();
        let now = Instant::now();
        match self.state.load(Ordering::Acquire) {
            CLOSED => Ok(()),
            MANUAL => Err(Refusal {
                why: Why::Manual,
                probe_in: None,
            }),
            OPEN => {
                let cooldown = rule.map_or(Duration::ZERO, |r| r.cooldown);
                let opened = inner.opened_at.unwrap_or(now);
                let ready = opened + cooldown;
                if now < ready {
                    return Err(Refusal {
                        why: inner.why.clone().unwrap_or(Why::ProbeFailed),
                        probe_in: Some(ready - now),
                    });
                }
                // Half-open: this call is the first probe.
                inner.probes_left = rule.map_or(1, |r| r.probes.max(1)) - 1;
                self.state.store(PROBING, Ordering::Release);
                Ok(())
            }
            _ => {
                if inner.probes_left > 0 {
                    inner.probes_left -= 1;
                    return Ok(());
                }
                Err(Refusal {
                    why: inner.why.clone().unwrap_or(Why::ProbeFailed),
                    probe_in: None,
                })
            }
        }
    }

    fn epoch(&self, now: Instant, rule: &AutoBlock) -> u64 {
        let bucket = (rule.window.as_nanos() / BUCKETS as u128).max(1);
        (now.saturating_duration_since(self.start).as_nanos() / bucket) as u64
    }

    /// Keeps `message` as the op's last failure.
    pub(crate) fn note_failure(&self, message: String) {
        self.lock().last_failure = Some(message);
    }

    /// Records a finished attempt: whether it failed, and how long it ran.
    /// May trip the guard, or decide a probe; returns how that changed it.
    pub(crate) fn record(&self, rule: &AutoBlock, failed: bool, ran: Duration) -> Option<Change> {
        let now = Instant::now();
        let slow = rule.slow.is_some_and(|(threshold, _)| ran > threshold);
        let epoch = self.epoch(now, rule);
        let bucket = &self.buckets[epoch as usize % BUCKETS];
        let seen = bucket.epoch.load(Ordering::Acquire);
        if seen != epoch
            && bucket
                .epoch
                .compare_exchange(seen, epoch, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // A bucket left over from an earlier lap of the ring: start it
            // afresh (a racing increment may be lost; this is a health
            // estimate, not an account).
            bucket.calls.store(0, Ordering::Relaxed);
            bucket.failures.store(0, Ordering::Relaxed);
            bucket.slow.store(0, Ordering::Relaxed);
        }
        bucket.calls.fetch_add(1, Ordering::Relaxed);
        if failed {
            bucket.failures.fetch_add(1, Ordering::Relaxed);
        }
        if slow {
            bucket.slow.fetch_add(1, Ordering::Relaxed);
        }
        match self.state.load(Ordering::Acquire) {
            PROBING => self.decide_probe(failed || slow, now),
            CLOSED if failed || slow => self.maybe_trip(rule, now),
            _ => None,
        }
    }

    /// The first outcome while probing decides.
    fn decide_probe(&self, failed: bool, now: Instant) -> Option<Change> {
        let mut inner = self.lock();
        if self.state.load(Ordering::Acquire) != PROBING {
            return None;
        }
        if failed {
            inner.opened_at = Some(now);
            inner.why = Some(Why::ProbeFailed);
            self.state.store(OPEN, Ordering::Release);
            return Some(Change::Blocked(Why::ProbeFailed));
        }
        inner.opened_at = None;
        inner.why = None;
        for bucket in &self.buckets {
            bucket.calls.store(0, Ordering::Relaxed);
            bucket.failures.store(0, Ordering::Relaxed);
            bucket.slow.store(0, Ordering::Relaxed);
        }
        self.state.store(CLOSED, Ordering::Release);
        Some(Change::Unblocked)
    }

    fn window(&self, rule: &AutoBlock, now: Instant) -> (u32, u32, u32) {
        let current = self.epoch(now, rule);
        let mut sums = (0, 0, 0);
        for bucket in &self.buckets {
            let epoch = bucket.epoch.load(Ordering::Acquire);
            if epoch + (BUCKETS as u64) <= current || epoch > current {
                continue;
            }
            sums.0 += bucket.calls.load(Ordering::Relaxed);
            sums.1 += bucket.failures.load(Ordering::Relaxed);
            sums.2 += bucket.slow.load(Ordering::Relaxed);
        }
        sums
    }

    fn maybe_trip(&self, rule: &AutoBlock, now: Instant) -> Option<Change> {
        let (calls, failures, slow) = self.window(rule, now);
        if calls < rule.min_calls.max(1) {
            return None;
        }
        let ratio = f64::from(failures) / f64::from(calls);
        let why = if ratio >= rule.failure_ratio {
            Why::Failures { ratio, calls }
        } else {
            let (threshold, slow_ratio) = rule.slow?;
            let ratio = f64::from(slow) / f64::from(calls);
            if ratio < slow_ratio {
                return None;
            }
            Why::Slow {
                ratio,
                calls,
                threshold,
            }
        };
        let mut inner = self.lock();
        if self
            .state
            .compare_exchange(CLOSED, OPEN, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return None;
        }
        inner.opened_at = Some(now);
        inner.why = Some(why.clone());
        Some(Change::Blocked(why))
    }

    /// Blocks the op until [`unblock`](Self::unblock).
    pub(crate) fn block(&self) {
        let mut inner = self.lock();
        inner.why = Some(Why::Manual);
        inner.opened_at = Some(Instant::now());
        self.state.store(MANUAL, Ordering::Release);
    }

    /// Lifts any block; the window starts afresh. Returns whether it was
    /// blocked (or probing).
    pub(crate) fn unblock(&self) -> bool {
        let mut inner = self.lock();
        inner.why = None;
        inner.opened_at = None;
        for bucket in &self.buckets {
            bucket.calls.store(0, Ordering::Relaxed);
            bucket.failures.store(0, Ordering::Relaxed);
            bucket.slow.store(0, Ordering::Relaxed);
        }
        self.state.swap(CLOSED, Ordering::AcqRel) != CLOSED
    }

    pub(crate) fn is_blocked(&self) -> bool {
        self.state.load(Ordering::Acquire) != CLOSED
    }

    pub(crate) fn health(&self, rule: Option<&AutoBlock>) -> OpHealth {
        let now = Instant::now();
        let (calls, failures, slow) = rule.map_or((0, 0, 0), |rule| self.window(rule, now));
        let inner = self.lock();
        let state = match self.state.load(Ordering::Acquire) {
            CLOSED if failures > 0 || slow > 0 => HealthState::Degraded,
            CLOSED => HealthState::Healthy,
            PROBING => HealthState::Probing,
            _ => HealthState::Blocked,
        };
        OpHealth {
            state,
            window_calls: calls,
            window_failures: failures,
            window_slow: slow,
            blocked_because: inner.why.as_ref().map(ToString::to_string),
            last_failure: inner.last_failure.clone(),
        }
    }
}

/// Every op's guard, by name (made on first use, or by a manual block of an
/// op not called yet).
#[derive(Debug, Default)]
pub(crate) struct Guards {
    map: Mutex<HashMap<String, Arc<Guard>>>,
}

impl Guards {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Guard>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn of(&self, op: &str) -> Arc<Guard> {
        let mut map = self.lock();
        if let Some(guard) = map.get(op) {
            return guard.clone();
        }
        let guard = Arc::new(Guard::new());
        map.insert(op.to_owned(), guard.clone());
        guard
    }

    /// The names of the ops blocked (or probing) now, sorted.
    pub(crate) fn blocked(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .lock()
            .iter()
            .filter(|(_, guard)| guard.is_blocked())
            .map(|(name, _)| name.clone())
            .collect();
        names.sort();
        names
    }
}

impl super::shared::Shared {
    /// An attempt's body ran and ended (`Executing → to` at `now`): with
    /// auto-block on, its op's guard counts the outcome. Completions are
    /// successes; failures, timeouts and retried attempts are failures; kills
    /// are not the op's doing and are not counted.
    pub(crate) fn attempt_ended(
        &self,
        route: &super::route::Route,
        header: &crate::token::Header,
        to: crate::TokenState,
        now: u64,
    ) {
        use crate::TokenState::*;
        let Some(rule) = &self.config.auto_block else {
            return;
        };
        let failed = match to {
            Completed => false,
            Failed | TimedOut | Waiting => true,
            _ => return,
        };
        let ran = Duration::from_nanos(now.saturating_sub(header.started_ns()));
        match route.op.guard.record(rule, failed, ran) {
            Some(Change::Blocked(why)) => super::trace::op_blocked(route.op.name, &why, false),
            Some(Change::Unblocked) => super::trace::op_unblocked(route.op.name, "probe"),
            None => {}
        }
    }
}
