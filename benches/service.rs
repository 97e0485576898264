//! A service with two endpoints, in process: do weights hold CPU share?
//!
//! The shape of a real service on a small machine: a `/light` endpoint of
//! about 75 µs of CPU and a `/heavy` endpoint of about 20 ms, each request
//! handled by a task on a tokio multi-thread runtime (tokio's defaults, as
//! an axum server has) that hands the CPU work off and awaits it. Clients are
//! closed loops: each sends a request, waits for its answer, and sends the
//! next at once, so the load adapts to how fast the service answers, and a
//! backend that favours one endpoint shows it in the other's latency.
//!
//! Two mixes: a **heavy flood** (16 heavy clients, 4 light) asks whether
//! light requests stay fast while heavy ones saturate the machine; a **light
//! flood** (64 light clients, 2 heavy) asks whether heavy requests still get
//! their share of the CPU. Backends: tokengate with the weights set (light
//! and heavy), tokengate with every fn at the default weight (medium),
//! `spawn_blocking`, and rayon + oneshot. No HTTP stack: what is compared is
//! how each backend shares the CPU, which a socket would only blur.

use std::time::{Duration, Instant};

use tokengate::{Handle, TaskToken, task_token_guard};
use tokio::runtime::Runtime;

use crate::systems::rayon_oneshot;
use crate::work::{calibrate, spin};

/// The `/light` endpoint's work, on the light lane.
#[task_token_guard(op = "svc_light", weight = "light")]
pub fn svc_light(iterations: u64) -> u64 {
    spin(iterations)
}

/// The `/heavy` endpoint's work, on the heavy lane.
#[task_token_guard(op = "svc_heavy", weight = "heavy")]
pub fn svc_heavy(iterations: u64) -> u64 {
    spin(iterations)
}

/// The `/light` endpoint's work at the default weight.
#[task_token_guard(op = "svc_light_unweighted")]
pub fn svc_light_unweighted(iterations: u64) -> u64 {
    spin(iterations)
}

/// The `/heavy` endpoint's work at the default weight.
#[task_token_guard(op = "svc_heavy_unweighted")]
pub fn svc_heavy_unweighted(iterations: u64) -> u64 {
    spin(iterations)
}

/// How a request's CPU work is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// tokengate, `/light` on the light lane, `/heavy` on the heavy lane.
    Weighted,
    /// As `Weighted`, on a coordinator built with `cpu_share(true)`: the
    /// handle passed to [`run`] must be that coordinator's.
    CpuShare,
    /// tokengate, both endpoints at the default weight (medium).
    Unweighted,
    /// `tokio::task::spawn_blocking`.
    SpawnBlocking,
    /// `rayon::spawn` on the global pool, replying through a oneshot.
    Rayon,
}

impl Backend {
    /// Every backend, in the order reports list them.
    pub const ALL: [Backend; 5] = [
        Backend::CpuShare,
        Backend::Weighted,
        Backend::Unweighted,
        Backend::SpawnBlocking,
        Backend::Rayon,
    ];

    /// A short name for reports.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::CpuShare => "tokengate (cpu_share)",
            Backend::Weighted => "tokengate (weights)",
            Backend::Unweighted => "tokengate (all medium)",
            Backend::SpawnBlocking => "spawn_blocking",
            Backend::Rayon => "rayon + oneshot",
        }
    }
}

/// How many closed-loop clients each endpoint has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    /// A name for reports.
    pub name: &'static str,
    /// Clients of `/light`.
    pub light: usize,
    /// Clients of `/heavy`.
    pub heavy: usize,
}

impl Mix {
    /// 16 heavy clients and 4 light ones.
    pub const HEAVY_FLOOD: Mix = Mix {
        name: "heavy flood",
        light: 4,
        heavy: 16,
    };
    /// 64 light clients and 2 heavy ones.
    pub const LIGHT_FLOOD: Mix = Mix {
        name: "light flood",
        light: 64,
        heavy: 2,
    };
}

/// The two endpoints' work, calibrated on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// Spin iterations of about 75 µs.
    pub light: u64,
    /// Spin iterations of about 20 ms.
    pub heavy: u64,
}

impl Endpoints {
    /// Calibrates both endpoints' work.
    pub fn calibrate() -> Endpoints {
        Endpoints {
            light: calibrate(Duration::from_micros(75)),
            heavy: calibrate(Duration::from_millis(20)),
        }
    }
}

/// Request latencies of one run, per endpoint.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Latencies {
    /// `/light` requests, in ns.
    pub light: Vec<f64>,
    /// `/heavy` requests, in ns.
    pub heavy: Vec<f64>,
}

/// One request's CPU work through `backend`.
async fn request(backend: Backend, handle: &Handle, heavy: bool, iterations: u64) -> u64 {
    let token = |f: fn(u64) -> TaskToken<u64>| handle.run(|| f(iterations));
    match (backend, heavy) {
        (Backend::Weighted | Backend::CpuShare, false) => {
            token(svc_light).await.expect("the call succeeds")
        }
        (Backend::Weighted | Backend::CpuShare, true) => {
            token(svc_heavy).await.expect("the call succeeds")
        }
        (Backend::Unweighted, false) => token(svc_light_unweighted)
            .await
            .expect("the call succeeds"),
        (Backend::Unweighted, true) => token(svc_heavy_unweighted)
            .await
            .expect("the call succeeds"),
        (Backend::SpawnBlocking, _) => tokio::task::spawn_blocking(move || spin(iterations))
            .await
            .expect("the task succeeds"),
        (Backend::Rayon, _) => rayon_oneshot(move || spin(iterations))
            .await
            .expect("the reply arrives"),
    }
}

/// Runs `mix` against `backend` for `warm_up` + `measure`, on `rt` (calls
/// through `backend`'s coordinator go to `handle`'s), and returns the
/// latencies of the requests sent during `measure`.
pub fn run(
    rt: &Runtime,
    handle: &Handle,
    backend: Backend,
    mix: Mix,
    endpoints: Endpoints,
    warm_up: Duration,
    measure: Duration,
) -> Latencies {
    rt.block_on(async {
        let from = Instant::now() + warm_up;
        let until = from + measure;
        let clients: Vec<_> = (0..mix.light + mix.heavy)
            .map(|i| {
                let heavy = i >= mix.light;
                let iterations = if heavy {
                    endpoints.heavy
                } else {
                    endpoints.light
                };
                let handle = handle.clone();
                let client = tokio::spawn(async move {
                    let mut seen = Vec::new();
                    loop {
                        let sent = Instant::now();
                        if sent >= until {
                            break;
                        }
                        std::hint::black_box(request(backend, &handle, heavy, iterations).await);
                        if sent >= from {
                            seen.push(sent.elapsed().as_nanos() as f64);
                        }
                    }
                    seen
                });
                (heavy, client)
            })
            .collect();
        let mut latencies = Latencies::default();
        for (heavy, client) in clients {
            let seen = client.await.expect("a client finishes");
            if heavy {
                latencies.heavy.extend(seen);
            } else {
                latencies.light.extend(seen);
            }
        }
        latencies
    })
}
