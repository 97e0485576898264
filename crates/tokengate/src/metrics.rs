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

/// How many tokens entered and left each state.
#[derive(Debug, Default)]
pub(crate) struct StateCounters {
    entered: [AtomicU64; 8],
    left: [AtomicU64; 8],
}

impl StateCounters {
    pub(crate) fn record(&self, from: TokenState, to: TokenState) {
        self.left[from.to_u8() as usize].fetch_add(1, Ordering::Relaxed);
        self.entered[to.to_u8() as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn enter(&self, state: TokenState) {
        self.entered[state.to_u8() as usize].fetch_add(1, Ordering::Relaxed);
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
        for i in 0..8 {
            self.entered[i] += counters.entered[i].load(Ordering::Relaxed);
            self.left[i] += counters.left[i].load(Ordering::Relaxed);
        }
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
const BUCKETS: usize = LINEAR as usize + (64 - SUB_BITS as usize) * SUB;

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
    LINEAR as usize + (exp - SUB_BITS) as usize * SUB + mantissa
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

impl Histogram {
    pub(crate) fn record(&self, nanos: u64) {
        self.buckets[bucket_of(nanos)].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(nanos, Ordering::Relaxed);
        self.max.fetch_max(nanos, Ordering::Relaxed);
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

    pub(crate) fn mean(&self) -> Duration {
        let n = self.count();
        Duration::from_nanos(if n == 0 { 0 } else { self.sum / n })
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
            if v >= LINEAR {
                // relative error under 1/SUB
                assert!((v - bucket_floor(b)) as f64 / v as f64 <= 1.0 / SUB as f64);
            }
            last = b;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
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
