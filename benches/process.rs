//! Process-pool calls (`process_pool = true`): what running a call in a warm
//! worker process costs, next to procspawn's process pool and tokengate's
//! thread path (the helpers in `process_pool.rs`).
//!
//! * `round_trip`: one `u64 -> u64` no-op, then wait for it; one criterion
//!   iteration is one round trip.
//! * `batch`: start 100 no-op calls, then wait for each; throughput in calls.
//! * `cold_start`: from nothing to the first call's result (a new
//!   coordinator or pool each iteration, torn down untimed).
//! * `arg_1mib`: a 1 MiB `Vec<u8>` argument, the callee returns its checksum.
//! * `cpu_scaling`: 4 × cores calls of about 5 ms of pure CPU each, submitted
//!   at once; on c cores the ideal is 4 × 5 ms.
//!
//! procspawn re-executes this binary and diverts it in `procspawn::init()`,
//! which must run first in `main`; hence a hand-written `main` instead of
//! `criterion_main!`. tokengate's worker processes divert before `main`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group};
use tokengate_benches::machine::cores;
use tokengate_benches::process_pool::{Carrier, ColdStart, MIB, ProcessHarness, bytes, cold_start};
use tokengate_benches::work;

fn round_trip(c: &mut Criterion, harness: &ProcessHarness) {
    let mut group = c.benchmark_group("process/round_trip");
    for carrier in Carrier::ALL {
        group.bench_function(BenchmarkId::new("u64", carrier), |b| {
            b.iter_custom(|iters| {
                harness
                    .round_trip(carrier, black_box(iters))
                    .into_iter()
                    .sum()
            })
        });
    }
    group.finish();
}

fn batch(c: &mut Criterion, harness: &ProcessHarness) {
    const N: u64 = 100;
    let mut group = c.benchmark_group("process/batch");
    group.throughput(Throughput::Elements(N));
    for carrier in Carrier::ALL {
        group.bench_function(BenchmarkId::new("u64", carrier), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| harness.batch(carrier, N)).sum())
        });
    }
    group.finish();
}

fn cold(c: &mut Criterion) {
    let mut group = c.benchmark_group("process/cold_start");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    for how in ColdStart::ALL {
        group.bench_function(BenchmarkId::new("first_result", how), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| cold_start(how).first_result)
                    .sum::<Duration>()
            })
        });
    }
    group.finish();
}

fn arg_1mib(c: &mut Criterion, harness: &ProcessHarness) {
    let data = bytes(MIB);
    let mut group = c.benchmark_group("process/arg_1mib");
    group.throughput(Throughput::Bytes(MIB as u64));
    for carrier in Carrier::ALL {
        group.bench_function(BenchmarkId::new("vec_u8", carrier), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| harness.bytes_round_trip(carrier, data.clone()))
                    .sum()
            })
        });
    }
    group.finish();
}

fn cpu_scaling(c: &mut Criterion, harness: &ProcessHarness) {
    let calls = 4 * cores();
    let iterations = work::calibrate(Duration::from_millis(5));
    let mut group = c.benchmark_group("process/cpu_scaling");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.throughput(Throughput::Elements(calls as u64));
    for carrier in Carrier::ALL {
        group.bench_function(BenchmarkId::new("spin_5ms", carrier), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| harness.cpu_burst(carrier, calls, iterations))
                    .sum::<Duration>()
            })
        });
    }
    group.finish();
}

fn warm(c: &mut Criterion) {
    let harness = ProcessHarness::new();
    round_trip(c, &harness);
    batch(c, &harness);
    arg_1mib(c, &harness);
    cpu_scaling(c, &harness);
}

criterion_group!(benches, warm, cold);

fn main() {
    // procspawn's workers are this binary too: they stop here and serve calls.
    procspawn::init();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
