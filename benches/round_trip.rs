//! Sequential round trip of a no-op call: submit one, wait for its result,
//! repeat. This is the latency floor of handing a blocking call to another
//! thread, and the number the "≤ 1.0× `spawn_blocking`" target is about.
//!
//! Compared, with the helpers in `lib.rs`: a tokengate guarded fn awaited from
//! `Runtime::block_on`, the same `.wait()`ed from a plain thread, tokio's
//! `spawn_blocking`, and `rayon::spawn` + a tokio oneshot (what `tokio-rayon`
//! does). One criterion iteration is one round trip.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tokengate_benches::systems::{Harness, System};

fn round_trip(c: &mut Criterion) {
    let harness = Harness::new();
    let mut group = c.benchmark_group("round_trip");
    for system in System::ALL {
        group.bench_function(BenchmarkId::new("noop", system), |b| {
            b.iter_custom(|iters| {
                harness
                    .round_trip(system, black_box(iters))
                    .into_iter()
                    .sum()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, round_trip);
criterion_main!(benches);
