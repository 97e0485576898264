//! Do weights hold CPU share? A two-endpoint service under two floods.
//!
//! Closed-loop clients of a ~75 µs `/light` endpoint and a ~20 ms `/heavy`
//! endpoint, handled on a tokio runtime that hands the CPU work to one of
//! five backends: tokengate with the weights set (on a default coordinator and on
//! one with `cpu_share(true)`), tokengate with every fn at
//! medium, `spawn_blocking`, and rayon + oneshot
//! (`tokengate_benches::service` says why this shape). For each mix and
//! backend it prints the p50 and p95 latency of both endpoints.
//!
//! Run it with `cargo run --release --example weights_service [seconds]`
//! (seconds of measurement per mix and backend, default 2); bench_report
//! prints the same as its rows 11.

use std::time::Duration;

use tokengate::OperationsCoordinator;
use tokengate_benches::service::{self, Backend, Endpoints, Mix};
use tokengate_benches::stats::{fmt_ns, quantile};

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .map_or(2.0, |s| s.parse().expect("seconds: a number"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    let coordinator = OperationsCoordinator::start();
    let shared_cores = OperationsCoordinator::builder()
        .cpu_share(true)
        .start()
        .expect("a coordinator with CPU share starts");
    let endpoints = Endpoints::calibrate();
    println!(
        "{} logical CPUs; /light {} spins, /heavy {} spins; {seconds} s per run",
        tokengate_benches::machine::cores(),
        endpoints.light,
        endpoints.heavy
    );
    for mix in [Mix::LIGHT_FLOOD, Mix::HEAVY_FLOOD] {
        println!(
            "\n{} ({} light clients, {} heavy):",
            mix.name, mix.light, mix.heavy
        );
        for backend in Backend::ALL {
            let l = service::run(
                &rt,
                &match backend {
                    Backend::CpuShare => shared_cores.handle(),
                    _ => coordinator.handle(),
                },
                backend,
                mix,
                endpoints,
                Duration::from_millis(500),
                Duration::from_secs_f64(seconds),
            );
            println!(
                "  {:<24} light p50 {:>9} p95 {:>9} ({:>6} req)   heavy p50 {:>9} p95 {:>9} ({:>4} req)",
                backend.name(),
                fmt_ns(quantile(&l.light, 0.5)),
                fmt_ns(quantile(&l.light, 0.95)),
                l.light.len(),
                fmt_ns(quantile(&l.heavy, 0.5)),
                fmt_ns(quantile(&l.heavy, 0.95)),
                l.heavy.len()
            );
        }
    }
    coordinator.stop();
    shared_cores.stop();
}
