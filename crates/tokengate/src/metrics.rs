//! O(1) telemetry primitives: per-thread sharded counters and log-linear latency
//! histograms. Writers touch only their own shard's cache line; readers sum the
//! shards. Nothing here grows with the number of tokens ever submitted.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::TokenState;

/// Keeps a value on its own cache line(s), so shards never false-share.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

/// The shard the current thread writes to.
pub(crate) fn shard_index(shards: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    SHARD.with(|s| {
        let mut v = s.get();
        if v == usize::MAX {
            v = NEXT.fetch_add(1, Ordering::Relaxed);
            s.set(v);
        }
        v % shards
    })
}

/// How many tokens made each allowed transition (one increment per transition).
///
/// Transition slots: `Created→Waiting`, `Waiting→Admitted`, `Admitted→Executing`,
/// `Executing→Completed`, `Executing→Failed`, then `→Killed` and `→TimedOut`
/// from each of the four live states, then `Executing→Waiting` (a retry).
#[derive(Debug, Default)]
pub(crate) struct StateCounters {
    created: AtomicU64,
    moves: [AtomicU64; 14],
}

fn move_slot(from: TokenState, to: TokenState) -> usize {
    use TokenState::*;
    let live = from.to_u8() as usize; // Created..Executing = 0..=3
    match (from, to) {
        (Created, Waiting) => 0,
        (Waiting, Admitted) => 1,
        (Admitted, Executing) => 2,
        (Executing, Completed) => 3,
        (Executing, Failed) => 4,
        (Executing, Waiting) => 13,
        (_, Killed) => 5 + live,
        _ => 9 + live, // (_, TimedOut): the only transitions left
    }
}

impl StateCounters {
    /// Release: a reader that sees the count (Acquire, in `StateTotals::add`)
    /// also sees what was done before it, such as the registry removal of a
    /// finished token.
    pub(crate) fn record(&self, from: TokenState, to: TokenState) {
        self.moves[move_slot(from, to)].fetch_add(1, Ordering::Release);
    }

    /// A token was created in this shard.
    pub(crate) fn create(&self) {
        self.created.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sums of [`StateCounters`] over shards: `entered[s]` and `left[s]` per state.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StateTotals {
    pub(crate) entered: [u64; 8],
    pub(crate) left: [u64; 8],
}

impl StateTotals {
    pub(crate) fn add(&mut self, counters: &StateCounters) {
        let m: [u64; 14] = std::array::from_fn(|i| counters.moves[i].load(Ordering::Acquire));
        let state = |s: TokenState| s.to_u8() as usize;
        use TokenState::*;
        self.entered[state(Created)] += counters.created.load(Ordering::Relaxed);
        self.entered[state(Waiting)] += m[0] + m[13];
        self.entered[state(Admitted)] += m[1];
        self.entered[state(Executing)] += m[2];
        self.entered[state(Completed)] += m[3];
        self.entered[state(Failed)] += m[4];
        self.entered[state(Killed)] += m[5] + m[6] + m[7] + m[8];
        self.entered[state(TimedOut)] += m[9] + m[10] + m[11] + m[12];
        for live in 0..4 {
            self.left[live] += m[5 + live] + m[9 + live];
        }
        self.left[state(Created)] += m[0];
        self.left[state(Waiting)] += m[1];
        self.left[state(Admitted)] += m[2];
        self.left[state(Executing)] += m[3] + m[4] + m[13];
    }

    pub(crate) fn merge(&mut self, other: &StateTotals) {
        for i in 0..8 {
            self.entered[i] += other.entered[i];
            self.left[i] += other.left[i];
        }
    }

    /// Tokens in `state` now (for live states) or ever (for terminal states).
    pub(crate) fn count(&self, state: TokenState) -> u64 {
        let i = state.to_u8() as usize;
        // Shards are read one after another, so a token counted as entered in one
        // shard may already be counted as left in another: clamp at zero.
        self.entered[i].saturating_sub(self.left[i])
    }
}

/// Counters split per thread shard.
#[derive(Debug)]
pub(crate) struct ShardedStates {
    shards: Box<[Padded<StateCounters>]>,
}

impl ShardedStates {
    pub(crate) fn new(shards: usize) -> Self {
        ShardedStates {
            shards: (0..shards).map(|_| Padded::default()).collect(),
        }
    }

    pub(crate) fn local(&self) -> &StateCounters {
        &self.shards[shard_index(self.shards.len())].0
    }

    pub(crate) fn totals(&self) -> StateTotals {
        let mut totals = StateTotals::default();
        for shard in self.shards.iter() {
            totals.add(&shard.0);
        }
        totals
    }
}

/// Values below this are their own bucket; above, each power of two has
/// `SUB` buckets, so the relative error of a percentile is at most 1/SUB.
const LINEAR: u64 = 8;
const SUB_BITS: u32 = 3;
const SUB: usize = 1 << SUB_BITS;
/// Powers of two covered: up to 2^43 ns (2.4 hours); longer durations share
/// the last bucket (their maximum is still exact).
const TOP_EXP: usize = 43;
const BUCKETS: usize = LINEAR as usize + (TOP_EXP + 1 - SUB_BITS as usize) * SUB;

/// A lock-free log-linear histogram of nanosecond durations.
#[derive(Debug)]
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let mantissa = ((v >> (exp - SUB_BITS)) as usize) & (SUB - 1);
    (LINEAR as usize + (exp - SUB_BITS) as usize * SUB + mantissa).min(BUCKETS - 1)
}

/// The smallest value that falls in bucket `i` (a lower bound for reporting).
fn bucket_floor(i: usize) -> u64 {
    if i < LINEAR as usize {
        return i as u64;
    }
    let j = i - LINEAR as usize;
    let exp = (j / SUB) as u32 + SUB_BITS;
    let mantissa = (j % SUB) as u64;
    (1u64 << exp) | (mantissa << (exp - SUB_BITS))
}

/// The middle of bucket `i` (the last bucket, which is open-ended, stands
/// for its floor).
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
fn bucket_midpoint(i: usize) -> u64 {
    let floor = bucket_floor(i);
    if i + 1 >= BUCKETS {
        return floor;
    }
    floor + (bucket_floor(i + 1) - floor) / 2
}

impl Histogram {
    pub(crate) fn record(&self, nanos: u64) {
        self.buckets[bucket_of(nanos)].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(nanos, Ordering::Relaxed);
        // A shard is almost always written by one thread: a plain check-then-store
        // keeps the common case free of a read-modify-write loop; a rare race
        // between two threads sharing a shard can only lose a maximum, never a count.
        if nanos > self.max.load(Ordering::Relaxed) {
            self.max.store(nanos, Ordering::Relaxed);
        }
    }
}

/// A histogram sharded per writing thread, so writers on different threads
/// do not contend on its cache lines.
#[derive(Debug)]
pub(crate) struct ShardedHistogram {
    shards: Box<[Padded<Histogram>]>,
}

impl ShardedHistogram {
    pub(crate) fn new(shards: usize) -> Self {
        ShardedHistogram {
            shards: (0..shards.max(1)).map(|_| Padded::default()).collect(),
        }
    }

    pub(crate) fn record(&self, nanos: u64) {
        self.shards[shard_index(self.shards.len())].0.record(nanos);
    }

    /// Every shard, for merging into a snapshot.
    pub(crate) fn shards(&self) -> impl Iterator<Item = &Histogram> {
        self.shards.iter().map(|shard| &shard.0)
    }
}

/// A snapshot merged from histogram shards.
#[derive(Clone, Debug)]
pub(crate) struct HistogramSnapshot {
    buckets: Vec<u64>,
    sum: u64,
    max: u64,
}

impl HistogramSnapshot {
    pub(crate) fn merge<'a>(parts: impl IntoIterator<Item = &'a Histogram>) -> Self {
        let mut snap = HistogramSnapshot {
            buckets: vec![0; BUCKETS],
            sum: 0,
            max: 0,
        };
        for h in parts {
            for (acc, b) in snap.buckets.iter_mut().zip(h.buckets.iter()) {
                *acc += b.load(Ordering::Relaxed);
            }
            snap.sum += h.sum.load(Ordering::Relaxed);
            snap.max = snap.max.max(h.max.load(Ordering::Relaxed));
        }
        snap
    }

    pub(crate) fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The sum of the samples, in nanoseconds.
    pub(crate) fn sum_nanos(&self) -> u64 {
        self.sum
    }

    /// How many samples are below `boundary` nanoseconds, exactly:
    /// `boundary` must be where a bucket starts (a power of two from
    /// [`LINEAR`] up is).
    pub(crate) fn count_below(&self, boundary: u64) -> u64 {
        let first = bucket_of(boundary);
        debug_assert_eq!(bucket_floor(first), boundary, "not a bucket boundary");
        self.buckets[..first].iter().sum()
    }

    /// Samples per bucket, with a value each bucket stands for (its
    /// midpoint, within 1/(2·SUB) of every value in it), in nanoseconds.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.buckets
            .iter()
            .enumerate()
            .map(|(i, &count)| (bucket_midpoint(i), count))
    }

    /// Samples per bucket, in bucket order (for telling two snapshots
    /// apart).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn counts(&self) -> &[u64] {
        &self.buckets
    }

    pub(crate) fn mean(&self) -> Duration {
        Duration::from_nanos(self.sum.checked_div(self.count()).unwrap_or(0))
    }

    pub(crate) fn max(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    /// The value at quantile `q` in `0.0..=1.0`, rounded down to its bucket floor
    /// (never above the recorded maximum).
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        let n = self.count();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (i, &c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Duration::from_nanos(bucket_floor(i).min(self.max));
            }
        }
        Duration::from_nanos(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_tight() {
        let mut last = 0;
        for v in (0..10_000u64).chain([1 << 20, 1 << 40, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b >= last || v < 10_000, "bucket went backwards at {v}");
            assert!(bucket_floor(b) <= v);
            if (LINEAR..1 << (TOP_EXP + 1)).contains(&v) {
                // relative error under 1/SUB, within the covered range
                assert!((v - bucket_floor(b)) as f64 / v as f64 <= 1.0 / SUB as f64);
            }
            last = b;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn counts_below_powers_of_two_are_exact() {
        let h = Histogram::default();
        for v in [0, 7, 1023, 1024, 1025, 2047, 2048, 1 << 30, (1 << 30) - 1] {
            h.record(v);
        }
        let s = HistogramSnapshot::merge([&h]);
        assert_eq!(s.count_below(1 << 10), 3);
        assert_eq!(s.count_below(1 << 11), 6);
        assert_eq!(s.count_below(1 << 12), 7);
        assert_eq!(s.count_below(1 << 30), 8);
        assert_eq!(s.count_below(1 << 31), 9);
        assert_eq!(
            s.sum_nanos(),
            7 + 1023 + 1024 + 1025 + 2047 + 2048 + (2 << 30) - 1
        );
    }

    #[test]
    fn a_bucket_midpoint_is_within_a_sixteenth_of_its_values() {
        let h = Histogram::default();
        let values = [3u64, 1_000, 1_234_567, 999_999_999];
        for v in values {
            h.record(v);
        }
        let s = HistogramSnapshot::merge([&h]);
        let mids: Vec<u64> = s
            .buckets()
            .filter(|&(_, count)| count > 0)
            .map(|(mid, _)| mid)
            .collect();
        assert_eq!(mids.len(), values.len());
        for (mid, v) in mids.into_iter().zip(values) {
            let error = mid.abs_diff(v) as f64 / v as f64;
            assert!(error <= 1.0 / (2 * SUB) as f64, "{v} stands as {mid}");
        }
    }

    #[test]
    fn quantiles_of_uniform_values() {
        let h = Histogram::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let s = HistogramSnapshot::merge([&h]);
        assert_eq!(s.count(), 1000);
        let p50 = s.quantile(0.5).as_nanos() as f64;
        assert!((p50 - 500_000.0).abs() / 500_000.0 < 0.13, "p50 {p50}");
        let p95 = s.quantile(0.95).as_nanos() as f64;
        assert!((p95 - 950_000.0).abs() / 950_000.0 < 0.13, "p95 {p95}");
        assert_eq!(s.max(), Duration::from_micros(1_000_000 / 1000));
        assert_eq!(s.mean(), Duration::from_nanos(500_500));
    }
}

#[cfg(test)]
mod counter_tests {
    use super::*;
    use TokenState::*;

    #[test]
    fn totals_follow_transitions() {
        let c = StateCounters::default();
        for _ in 0..3 {
            c.create();
            c.record(Created, Waiting);
        }
        c.record(Waiting, Admitted);
        c.record(Waiting, Killed);
        c.record(Admitted, Executing);
        let mut t = StateTotals::default();
        t.add(&c);
        assert_eq!(t.entered[Created.to_u8() as usize], 3);
        assert_eq!(t.count(Waiting), 1);
        assert_eq!(t.count(Admitted), 0);
        assert_eq!(t.count(Executing), 1);
        assert_eq!(t.count(Killed), 1);
        c.record(Executing, TimedOut);
        c.record(Waiting, TimedOut);
        let mut t = StateTotals::default();
        t.add(&c);
        assert_eq!(t.count(Executing), 0);
        assert_eq!(t.count(Waiting), 0);
        assert_eq!(t.count(TimedOut), 2);
    }

    #[test]
    fn a_retry_moves_a_token_from_executing_back_to_waiting() {
        let c = StateCounters::default();
        c.create();
        for (from, to) in [
            (Created, Waiting),
            (Waiting, Admitted),
            (Admitted, Executing),
        ] {
            c.record(from, to);
        }
        c.record(Executing, Waiting);
        let mut t = StateTotals::default();
        t.add(&c);
        assert_eq!((t.count(Executing), t.count(Waiting)), (0, 1));
        for (from, to) in [
            (Waiting, Admitted),
            (Admitted, Executing),
            (Executing, Completed),
        ] {
            c.record(from, to);
        }
        let mut t = StateTotals::default();
        t.add(&c);
        assert_eq!(
            (t.count(Waiting), t.count(Executing), t.count(Completed)),
            (0, 0, 1)
        );
    }

    #[test]
    fn every_allowed_transition_has_its_own_slot() {
        let mut seen = std::collections::HashSet::new();
        for from in TokenState::ALL {
            for to in TokenState::ALL {
                if from.can_become(to) {
                    assert!(seen.insert(move_slot(from, to)), "{from} -> {to}");
                }
            }
        }
        assert_eq!(seen.len(), 14);
    }
}
