//! The routing features' costs: sticky domains, storage tiers and the
//! fingerprints that key them.
//!
//! * `routing_batch`: submit 100,000 no-op calls, then await them all in order,
//!   routed plainly (its weight lane), sticky (`sticky_anchor`, `hash_policy =
//!   "standard"` on a `u64`: a distinct key, so a new domain, per call) or
//!   through storage tier FAST (IO threads). The sticky and tier figures minus
//!   the plain one are what each feature adds per call (target: ≤ 0.5 µs).
//! * `routing_round_trip`: the same three calls, one at a time, `.wait()`ed
//!   from a sync caller.
//! * `fingerprint`: one routing key of a 64 B and a 4 KiB `String` argument,
//!   per policy (`fast`; `standard` with each digest policy).
//! * `sticky_fifo`: 100,000 sticky no-op calls over 1, 16 and 1,024 keys,
//!   submitted at once, then awaited: each key's calls run one at a time on
//!   its worker, in submission order.
//!
//! The calls and timed loops live in `lib.rs`, shared with `bench_report`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use tokengate_benches::keys::{KeyPolicy, payload};
use tokengate_benches::systems::{Harness, Routing};

const BATCH: u64 = 100_000;

fn routing_batch(c: &mut Criterion) {
    let harness = Harness::new();
    let mut group = c.benchmark_group("routing_batch");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.throughput(Throughput::Elements(BATCH));
    for routing in Routing::ALL {
        group.bench_function(BenchmarkId::new(routing.name(), BATCH), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| harness.routed_batch(routing, black_box(BATCH)))
                    .sum::<Duration>()
            })
        });
    }
    group.finish();
}

fn routing_round_trip(c: &mut Criterion) {
    let harness = Harness::new();
    let mut group = c.benchmark_group("routing_round_trip");
    for routing in Routing::ALL {
        group.bench_function(BenchmarkId::new("noop_wait", routing), |b| {
            b.iter_custom(|iters| {
                harness
                    .routed_round_trip(routing, black_box(iters))
                    .into_iter()
                    .sum()
            })
        });
    }
    group.finish();
}

fn fingerprint(c: &mut Criterion) {
    let mut group = c.benchmark_group("fingerprint");
    for len in [64usize, 4_096] {
        let value = payload(len);
        group.throughput(Throughput::Bytes(len as u64));
        for policy in KeyPolicy::ALL {
            group.bench_with_input(BenchmarkId::new(policy.name(), len), &value, |b, v| {
                b.iter(|| policy.key(black_box(v)))
            });
        }
    }
    group.finish();
}

fn sticky_fifo(c: &mut Criterion) {
    let harness = Harness::new();
    let mut group = c.benchmark_group("sticky_fifo");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.throughput(Throughput::Elements(BATCH));
    for keys in [1u64, 16, 1_024] {
        group.bench_with_input(BenchmarkId::new("keys", keys), &keys, |b, &keys| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| harness.sticky_fifo(keys, black_box(BATCH)))
                    .sum::<Duration>()
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    routing_batch,
    routing_round_trip,
    fingerprint,
    sticky_fifo
);
criterion_main!(benches);
