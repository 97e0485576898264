//! Batch dispatch of no-op calls: submit n, then await them all in order.
//!
//! This is the amortised per-call cost of the hand-off when callers do not wait
//! for each result before making the next call, where designs differ most:
//! `spawn_blocking` pays a notify and a mutex per call, a mailbox design pays
//! close to a channel send. The batch size is the parameter (1k, 10k, 100k);
//! throughput is reported per element (call). Systems as in `round_trip.rs`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use tokengate_benches::systems::{Harness, System};

fn batch(c: &mut Criterion) {
    let harness = Harness::new();
    let mut group = c.benchmark_group("batch");
    // A 100k spawn_blocking batch takes about a second: sample flat, 10 times.
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    for size in [1_000u64, 10_000, 100_000] {
        group.throughput(Throughput::Elements(size));
        for system in System::ALL {
            group.bench_with_input(BenchmarkId::new(system.name(), size), &size, |b, &size| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| harness.batch(system, black_box(size)))
                        .sum::<Duration>()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, batch);
criterion_main!(benches);
