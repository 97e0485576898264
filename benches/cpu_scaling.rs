//! CPU scaling: do calls of pure CPU work spread over every core?
//!
//! Each call spins for about 5 ms (calibrated at start-up, no memory traffic,
//! no syscalls); n calls are submitted at once and awaited. The parameter is n
//! as a multiple of the logical CPUs (1×, 2×, 4×). On c cores the ideal time is
//! n × 5 ms / c; a scheduler that strands work on a busy worker, or that leaves
//! a core idle, shows up as time above it. tokengate uses the default weight;
//! rayon and `spawn_blocking` are the references.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use tokengate_benches::machine::cores;
use tokengate_benches::systems::{Harness, System};
use tokengate_benches::work;

fn cpu_scaling(c: &mut Criterion) {
    let harness = Harness::new();
    let iterations = work::calibrate(Duration::from_millis(5));
    let mut group = c.benchmark_group("cpu_scaling");
    group.sampling_mode(SamplingMode::Flat).sample_size(20);
    for per_core in [1, 2, 4] {
        let calls = per_core * cores();
        group.throughput(Throughput::Elements(calls as u64));
        for system in [
            System::TokenGate,
            System::RayonOneshot,
            System::SpawnBlocking,
        ] {
            group.bench_with_input(
                BenchmarkId::new(system.name(), calls),
                &calls,
                |b, &calls| {
                    b.iter_custom(|iters| {
                        (0..iters)
                            .map(|_| harness.cpu_burst(system, black_box(calls), iterations))
                            .sum::<Duration>()
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, cpu_scaling);
criterion_main!(benches);
