//! Measuring helpers shared by the criterion benches in this folder and by the
//! `bench_report` example.
//!
//! The thread-path helpers measure one of three systems doing the same job, so
//! that ratios taken in one process are like for like:
//!
//! * **tokengate**: a guarded fn, awaited (or `.wait()`ed) through its token;
//! * **`spawn_blocking`**: `tokio::task::spawn_blocking(f)` awaited through its
//!   `JoinHandle`, on a multi-thread runtime with tokio's defaults (one worker
//!   per logical CPU, up to 512 blocking threads);
//! * **rayon + oneshot**: `rayon::spawn` on rayon's global pool (one thread per
//!   logical CPU) replying through a `tokio::sync::oneshot` channel, which is
//!   what the `tokio-rayon` crate does.
//!
//! Async callers run on the main thread inside `Runtime::block_on` (a "remote"
//! caller, as most applications that hand blocking work off are).
//!
//! Modules: [`stats`] (medians, percentiles), [`machine`] (CPU model, RSS),
//! [`work`] (a calibrated pure-CPU spin), [`systems`] (the calls being compared
//! and the timed loops, including the routed calls: sticky and storage-tier),
//! [`keys`] (routing-key fingerprints, one per policy), [`process_pool`]
//! (`process_pool = true` calls against procspawn's process pool; executables
//! that use it call `procspawn::init()` first in `main`).

/// Order statistics over samples.
pub mod stats {
    use std::time::Duration;

    /// The median of `values` (the lower middle one for an even count).
    ///
    /// # Panics
    ///
    /// Panics if `values` is empty or holds a NaN.
    pub fn median(values: &[f64]) -> f64 {
        quantile(values, 0.5)
    }

    /// The `q` quantile (0.0..=1.0) of `values`, nearest rank.
    ///
    /// # Panics
    ///
    /// Panics if `values` is empty or holds a NaN.
    pub fn quantile(values: &[f64], q: f64) -> f64 {
        assert!(!values.is_empty(), "no samples");
        let mut sorted = values.to_vec();
        sorted.sort_by(|a, b| a.partial_cmp(b).expect("no NaN samples"));
        let rank = ((sorted.len() as f64 - 1.0) * q.clamp(0.0, 1.0)).round() as usize;
        sorted[rank]
    }

    /// Durations as nanoseconds, for [`median`] and [`quantile`].
    pub fn nanos(durations: &[Duration]) -> Vec<f64> {
        durations.iter().map(|d| d.as_nanos() as f64).collect()
    }

    /// Formats nanoseconds with a unit that keeps about 3 significant digits.
    pub fn fmt_ns(ns: f64) -> String {
        if ns < 1e3 {
            format!("{ns:.0} ns")
        } else if ns < 1e6 {
            format!("{:.1} µs", ns / 1e3)
        } else if ns < 1e9 {
            format!("{:.2} ms", ns / 1e6)
        } else {
            format!("{:.2} s", ns / 1e9)
        }
    }
}

/// Facts about the machine and the process.
pub mod machine {
    /// Logical CPUs available to this process.
    pub fn cores() -> usize {
        std::thread::available_parallelism().map_or(1, usize::from)
    }

    /// The CPU model from `/proc/cpuinfo`, or `"unknown"`.
    pub fn cpu_model() -> String {
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| {
                info.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".to_owned())
    }

    /// Resident memory of this process, from `/proc/self/status`.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Rss {
        /// `VmRSS`: resident now, in bytes.
        pub now: u64,
        /// `VmHWM`: the peak resident size so far, in bytes.
        pub peak: u64,
    }

    /// Reads [`Rss`]; `None` where `/proc` is not available.
    pub fn rss() -> Option<Rss> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            let kb: u64 = line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(kb * 1024)
        };
        Some(Rss {
            now: field("VmRSS:")?,
            peak: field("VmHWM:")?,
        })
    }
}

/// A fixed amount of pure CPU work, calibrated to a duration once.
pub mod work {
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    /// Runs `iterations` rounds of a xorshift step: no memory traffic, no
    /// syscalls, nothing the optimiser can fold away.
    pub fn spin(iterations: u64) -> u64 {
        let mut x = black_box(0x9E37_79B9_7F4A_7C15_u64);
        for _ in 0..black_box(iterations) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        black_box(x)
    }

    /// How many [`spin`] iterations take `target` on this thread now: the
    /// median of 5 timed runs after a warm-up.
    pub fn calibrate(target: Duration) -> u64 {
        let probe = 1_000_000;
        spin(probe);
        let mut estimates: Vec<f64> = (0..5)
            .map(|_| {
                let start = Instant::now();
                spin(probe);
                probe as f64 / start.elapsed().as_secs_f64()
            })
            .collect();
        estimates.sort_by(|a, b| a.total_cmp(b));
        let per_second = estimates[2];
        (per_second * target.as_secs_f64()).round().max(1.0) as u64
    }
}

/// The systems compared, their no-op and CPU calls, and the timed loops.
pub mod systems {
    use std::fmt;
    use std::future::Future;
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    use tokengate::{OperationsCoordinator, TaskToken, task_token_guard};
    use tokio::runtime::Runtime;
    use tokio::sync::oneshot;

    /// A guarded no-op with the default weight (medium).
    #[task_token_guard(op = "noop")]
    pub fn noop(x: u64) -> u64 {
        black_box(x)
    }

    /// The original's latency probe: `square(x) = x*x`, op `bench_square`, light.
    #[task_token_guard(op = "bench_square", weight = "light")]
    pub fn square(x: u64) -> u64 {
        x * x
    }

    /// `iterations` of [`spin`](crate::work::spin), default weight.
    #[task_token_guard(op = "cpu_spin")]
    pub fn cpu_spin(iterations: u64) -> u64 {
        crate::work::spin(iterations)
    }

    /// A sticky no-op: anchor `bench_key`, keyed by `x` (`hash_policy =
    /// "standard"`: a SHA-256 of the canonical encoding of the `u64`), so each
    /// distinct `x` is its own domain. Default weight, like [`noop`].
    #[task_token_guard(
        op = "sticky_noop",
        sticky_anchor = "bench_key",
        hash_policy = "standard"
    )]
    pub fn sticky_noop(x: u64) -> u64 {
        black_box(x)
    }

    /// A storage-tier no-op: `storage_speed = "FAST"` (an IO call: it runs on an
    /// IO thread, at most 50 of the tier at once by default).
    #[task_token_guard(op = "tier_noop", storage_speed = "FAST")]
    pub fn tier_noop(x: u64) -> u64 {
        black_box(x)
    }

    /// The named limit [`limited_noop`] calls share; the [`Harness`] sizes it
    /// far above any batch, so it never binds and its bookkeeping is measured.
    pub const BENCH_LIMIT: &str = "bench_limit";

    /// A no-op under the named limit [`BENCH_LIMIT`]: a permit taken and
    /// given back per call. Default weight, like [`noop`].
    #[task_token_guard(op = "limited_noop", limit = "bench_limit")]
    pub fn limited_noop(x: u64) -> u64 {
        black_box(x)
    }

    /// A no-op with `retries = 3` that succeeds at once: what arming retries
    /// costs a call that never needs one. Default weight, like [`noop`].
    #[task_token_guard(op = "retried_noop", retries = 3)]
    pub fn retried_noop(x: u64) -> u64 {
        black_box(x)
    }

    /// How a no-op call is routed: the routing features' cost is measured
    /// against [`Routing::Plain`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Routing {
        /// [`noop`]: its weight lane, any eligible worker.
        Plain,
        /// [`sticky_noop`]: a sticky domain per distinct argument.
        Sticky,
        /// [`tier_noop`]: storage tier FAST, on IO threads.
        Tier,
        /// [`limited_noop`]: a permit of a named limit that never binds.
        Limited,
        /// [`retried_noop`]: `retries = 3`, never needed.
        Retried,
    }

    impl Routing {
        /// Every routing.
        pub const ALL: [Routing; 5] = [
            Routing::Plain,
            Routing::Sticky,
            Routing::Tier,
            Routing::Limited,
            Routing::Retried,
        ];

        /// Short, stable names (used as criterion ids).
        pub const fn name(self) -> &'static str {
            match self {
                Routing::Plain => "plain",
                Routing::Sticky => "sticky",
                Routing::Tier => "tier_fast",
                Routing::Limited => "limited",
                Routing::Retried => "retried",
            }
        }

        /// Makes the call with argument `x`.
        pub fn call(self, x: u64) -> TaskToken<u64> {
            match self {
                Routing::Plain => noop(x),
                Routing::Sticky => sticky_noop(x),
                Routing::Tier => tier_noop(x),
                Routing::Limited => limited_noop(x),
                Routing::Retried => retried_noop(x),
            }
        }
    }

    impl fmt::Display for Routing {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.name())
        }
    }

    /// A way to run a call on another thread and await its result.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum System {
        /// A tokengate guarded fn; the token is awaited.
        TokenGate,
        /// A tokengate guarded fn; the caller blocks in `.wait()` (no runtime).
        TokenGateWait,
        /// `tokio::task::spawn_blocking`, awaited.
        SpawnBlocking,
        /// `rayon::spawn` + `tokio::sync::oneshot`, awaited.
        RayonOneshot,
    }

    impl System {
        /// Every system.
        pub const ALL: [System; 4] = [
            System::TokenGate,
            System::TokenGateWait,
            System::SpawnBlocking,
            System::RayonOneshot,
        ];

        /// Short, stable names (used as criterion ids).
        pub const fn name(self) -> &'static str {
            match self {
                System::TokenGate => "tokengate",
                System::TokenGateWait => "tokengate_wait",
                System::SpawnBlocking => "spawn_blocking",
                System::RayonOneshot => "rayon_oneshot",
            }
        }
    }

    impl fmt::Display for System {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.name())
        }
    }

    /// Runs `f` on rayon's global pool and returns the receiving end of its reply.
    pub fn rayon_oneshot<T, F>(f: F) -> oneshot::Receiver<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        rayon::spawn(move || {
            // The receiver may be gone; then nobody wants the value.
            let _ = tx.send(f());
        });
        rx
    }

    /// A tokio multi-thread runtime (tokio's defaults) and a tokengate
    /// coordinator (tokengate's defaults), started once and reused.
    #[derive(Debug)]
    pub struct Harness {
        /// Drives every async caller (`block_on` on the calling thread).
        pub rt: Runtime,
        /// The coordinator guarded calls go to.
        pub coordinator: OperationsCoordinator,
    }

    impl Default for Harness {
        fn default() -> Self {
            Harness::new()
        }
    }

    /// Submits `n` calls with `submit`, then awaits them in order, checking
    /// each result. Returns the time from the first submission to the last result.
    async fn submit_then_await<Fut, E>(n: u64, submit: impl FnMut(u64) -> Fut) -> Duration
    where
        Fut: Future<Output = Result<u64, E>>,
        E: fmt::Debug,
    {
        submit_then_await_expecting(n, submit, |i| i).await
    }

    /// [`submit_then_await`] where call `i` must return `expect(i)`.
    async fn submit_then_await_expecting<Fut, E>(
        n: u64,
        mut submit: impl FnMut(u64) -> Fut,
        expect: impl Fn(u64) -> u64,
    ) -> Duration
    where
        Fut: Future<Output = Result<u64, E>>,
        E: fmt::Debug,
    {
        let start = Instant::now();
        let pending: Vec<Fut> = (0..n).map(&mut submit).collect();
        for (i, call) in (0..n).zip(pending) {
            assert_eq!(call.await.expect("call failed"), expect(i));
        }
        start.elapsed()
    }

    /// Times `n` sequential calls (submit one, await it, repeat), one sample each.
    async fn one_at_a_time<Fut, E>(n: u64, mut submit: impl FnMut(u64) -> Fut) -> Vec<Duration>
    where
        Fut: Future<Output = Result<u64, E>>,
        E: fmt::Debug,
    {
        let mut samples = Vec::with_capacity(n as usize);
        for i in 0..n {
            let start = Instant::now();
            let value = submit(i).await.expect("call failed");
            samples.push(start.elapsed());
            assert_eq!(value, i);
        }
        samples
    }

    /// Times `n` sequential guarded calls from a sync caller (call one,
    /// `.wait()` on it, repeat), one sample each.
    fn wait_one_at_a_time(n: u64, mut call: impl FnMut(u64) -> TaskToken<u64>) -> Vec<Duration> {
        (0..n)
            .map(|i| {
                let start = Instant::now();
                let value = call(i).wait().expect("call failed");
                let elapsed = start.elapsed();
                assert_eq!(value, i);
                elapsed
            })
            .collect()
    }

    impl Harness {
        /// Starts the runtime and the coordinator, and warms both up (threads
        /// spawned, first-call caches filled).
        ///
        /// # Panics
        ///
        /// Panics if the runtime or the coordinator cannot start.
        pub fn new() -> Harness {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("tokio runtime starts");
            let coordinator = OperationsCoordinator::builder()
                .limit(BENCH_LIMIT, 1 << 30)
                .start()
                .expect("the coordinator starts");
            let harness = Harness { rt, coordinator };
            for system in System::ALL {
                harness.batch(system, 1_000);
            }
            harness
        }

        /// `n` sequential round trips of a no-op call: one latency per call.
        pub fn round_trip(&self, system: System, n: u64) -> Vec<Duration> {
            let _bound = self.coordinator.enter();
            match system {
                System::TokenGate => self.rt.block_on(one_at_a_time(n, noop)),
                System::TokenGateWait => wait_one_at_a_time(n, noop),
                System::SpawnBlocking => self.rt.block_on(one_at_a_time(n, |i| {
                    tokio::task::spawn_blocking(move || black_box(i))
                })),
                System::RayonOneshot => self
                    .rt
                    .block_on(one_at_a_time(n, |i| rayon_oneshot(move || black_box(i)))),
            }
        }

        /// Submits `n` no-op calls, then awaits them all in order (the `Wait`
        /// system `.wait()`s them); returns the total time.
        pub fn batch(&self, system: System, n: u64) -> Duration {
            let _bound = self.coordinator.enter();
            match system {
                System::TokenGate => self.rt.block_on(submit_then_await(n, noop)),
                System::TokenGateWait => {
                    let start = Instant::now();
                    let tokens: Vec<TaskToken<u64>> = (0..n).map(noop).collect();
                    for (i, token) in (0..n).zip(tokens) {
                        assert_eq!(token.wait().expect("call failed"), i);
                    }
                    start.elapsed()
                }
                System::SpawnBlocking => self.rt.block_on(submit_then_await(n, |i| {
                    tokio::task::spawn_blocking(move || black_box(i))
                })),
                System::RayonOneshot => self.rt.block_on(submit_then_await(n, |i| {
                    rayon_oneshot(move || black_box(i))
                })),
            }
        }

        /// Submits `n` no-op calls routed by `routing` (argument `i` for call
        /// `i`: distinct sticky keys), then awaits them all in order; returns
        /// the total time. The async caller of [`System::TokenGate`].
        pub fn routed_batch(&self, routing: Routing, n: u64) -> Duration {
            let _bound = self.coordinator.enter();
            self.rt.block_on(submit_then_await(n, |i| routing.call(i)))
        }

        /// `n` sequential round trips of a no-op call routed by `routing`, from a
        /// sync caller (`.wait()`, as [`System::TokenGateWait`]): one latency per call.
        pub fn routed_round_trip(&self, routing: Routing, n: u64) -> Vec<Duration> {
            let _bound = self.coordinator.enter();
            wait_one_at_a_time(n, |i| routing.call(i))
        }

        /// Per-key FIFO: submits `n` sticky no-op calls spread round-robin over
        /// `keys` keys (call `i` has key `i % keys`), then awaits them all in
        /// order; returns the total time. Calls of one key run one at a time on
        /// one worker, so `keys = 1` serialises the whole batch.
        ///
        /// # Panics
        ///
        /// Panics if `keys` is 0.
        pub fn sticky_fifo(&self, keys: u64, n: u64) -> Duration {
            assert!(keys > 0, "at least one key");
            let _bound = self.coordinator.enter();
            self.rt.block_on(submit_then_await_expecting(
                n,
                |i| sticky_noop(i % keys),
                |i| i % keys,
            ))
        }

        /// Submits `calls` calls of `iterations` spin rounds each, then awaits
        /// them all; returns the wall time.
        pub fn cpu_burst(&self, system: System, calls: usize, iterations: u64) -> Duration {
            let _bound = self.coordinator.enter();
            let start = Instant::now();
            let results: Vec<u64> = match system {
                System::TokenGate => self.rt.block_on(async {
                    let tokens: Vec<_> = (0..calls).map(|_| cpu_spin(iterations)).collect();
                    let mut results = Vec::with_capacity(calls);
                    for token in tokens {
                        results.push(token.await.expect("call failed"));
                    }
                    results
                }),
                System::TokenGateWait => {
                    let tokens: Vec<_> = (0..calls).map(|_| cpu_spin(iterations)).collect();
                    tokens
                        .into_iter()
                        .map(|t| t.wait().expect("call failed"))
                        .collect()
                }
                System::SpawnBlocking => self.rt.block_on(async {
                    let handles: Vec<_> = (0..calls)
                        .map(|_| tokio::task::spawn_blocking(move || crate::work::spin(iterations)))
                        .collect();
                    let mut results = Vec::with_capacity(calls);
                    for handle in handles {
                        results.push(handle.await.expect("call failed"));
                    }
                    results
                }),
                System::RayonOneshot => self.rt.block_on(async {
                    let replies: Vec<_> = (0..calls)
                        .map(|_| rayon_oneshot(move || crate::work::spin(iterations)))
                        .collect();
                    let mut results = Vec::with_capacity(calls);
                    for reply in replies {
                        results.push(reply.await.expect("call failed"));
                    }
                    results
                }),
            };
            let elapsed = start.elapsed();
            assert!(
                results.windows(2).all(|w| w[0] == w[1]),
                "spin is deterministic"
            );
            elapsed
        }
    }
}

/// Routing keys: what a sticky call's fingerprint costs, per policy.
///
/// The functions are the public ones behind the attribute
/// (`tokengate::fingerprint::{fast_key, stable_key}`), fed the same kind of
/// value a guarded call's argument would be.
pub mod keys {
    use std::fmt;
    use std::hash::Hash;
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    use serde::Serialize;
    use tokengate::fingerprint::{self, DigestPolicy};

    /// A `hash_policy` (and for stable policies, a `digest_policy`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum KeyPolicy {
        /// `hash_policy = "fast"`: the value's `Hash`, FNV-1a, in-process only.
        Fast,
        /// `hash_policy = "standard"` with this `digest_policy`: the digest of the
        /// value's canonical serde encoding.
        Standard(DigestPolicy),
    }

    impl KeyPolicy {
        /// Every policy measured: fast, then standard with each digest.
        pub const ALL: [KeyPolicy; 5] = [
            KeyPolicy::Fast,
            KeyPolicy::Standard(DigestPolicy::Full),
            KeyPolicy::Standard(DigestPolicy::Short),
            KeyPolicy::Standard(DigestPolicy::Fast),
            KeyPolicy::Standard(DigestPolicy::Minimal),
        ];

        /// A short, stable name (criterion ids): `fast`, `standard_full`, ...
        pub fn name(self) -> String {
            match self {
                KeyPolicy::Fast => "fast".to_owned(),
                KeyPolicy::Standard(digest) => format!("standard_{digest}"),
            }
        }

        /// The key of `value` under this policy, folded to 64 bits.
        ///
        /// # Panics
        ///
        /// Panics if `value`'s `Serialize` impl fails.
        pub fn key<T: Hash + Serialize + ?Sized>(self, value: &T) -> u64 {
            match self {
                KeyPolicy::Fast => fingerprint::fast_key(value),
                KeyPolicy::Standard(digest) => {
                    let key = fingerprint::stable_key(value, digest).expect("value encodes");
                    let mut word = [0u8; 8];
                    let bytes = key.as_bytes();
                    let n = bytes.len().min(8);
                    word[..n].copy_from_slice(&bytes[..n]);
                    u64::from_le_bytes(word)
                }
            }
        }
    }

    impl fmt::Display for KeyPolicy {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.name())
        }
    }

    /// A deterministic ASCII argument of `len` bytes.
    pub fn payload(len: usize) -> String {
        (0..len)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect()
    }

    /// Nanoseconds per key of `value` under `policy`: `iterations` keys timed
    /// back to back (after as many untimed), divided.
    pub fn ns_per_key<T: Hash + Serialize + ?Sized>(
        policy: KeyPolicy,
        value: &T,
        iterations: u64,
    ) -> f64 {
        let run = |n: u64| -> Duration {
            let start = Instant::now();
            for _ in 0..n {
                black_box(policy.key(black_box(value)));
            }
            start.elapsed()
        };
        run(iterations);
        run(iterations).as_nanos() as f64 / iterations as f64
    }
}

pub mod process_pool;
pub mod service;
