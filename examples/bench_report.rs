//! One table of tokengate's performance targets, measured in one process against
//! tokio's `spawn_blocking` and rayon + oneshot, plus the original Python
//! system's workloads (a) and (b) next to its published figures.
//!
//! Run it with `cargo run --release --example bench_report` (about 45 s on
//! 2 cores), or only some row groups with `--rows`, for example
//! `cargo run --release --example bench_report -- --rows 2,12,13`. Every figure is the median of 7 rounds taken after a warm-up, and
//! the systems are measured in turn within each round, so drift in CPU speed
//! (this kind of VM drifts by up to ±40 % over tens of seconds) hits them alike.
//! Compare ratios, not absolute numbers, across machines.
//!
//! * `spawn_blocking`: a tokio multi-thread runtime with its defaults (one
//!   worker per logical CPU, up to 512 blocking threads);
//! * rayon + oneshot: `rayon::spawn` on the global pool (one thread per logical
//!   CPU) replying through `tokio::sync::oneshot`, as `tokio-rayon` does;
//! * tokengate: `OperationsCoordinator::start()` with its defaults.
//!
//! Async callers are the main thread in `Runtime::block_on`. The per-round
//! figures behind rows 1–3 are printed before the table: on a VM, sequential
//! round trips are often bimodal (a few µs while the worker still spins when the
//! next call comes, tens of µs once both sides sleep between calls), and a
//! median hides that. PASS/MISS is information, not a test. The measuring code lives in `benches/lib.rs` and is
//! shared with the criterion benches.
//!
//! Rows 6–8 measure the routing features against a plain call on the same
//! coordinator: what a sticky call (`sticky_anchor`, a distinct `u64` key per
//! call, `hash_policy = "standard"`) and a storage-tier call (`storage_speed =
//! "FAST"`, IO threads) add per call (target ≤ 0.5 µs), what a call under a named
//! limit that never binds and a call with `retries = 3` that needs none add,
//! the fingerprint cost per policy, and per-key FIFO throughput with 1, 16 and 1,024 keys (criterion
//! versions: `benches/routing.rs`).
//!
//! Row 10 is a `TokenGroup` of 100,000 members (guarded no-op calls): the
//! time to make the calls, add them to a group and join it, per member,
//! against the same calls waited on one by one (`tokengate::map`); and the
//! bytes per member, counted by this binary's allocator (switched on only
//! for that measurement): what a queued call costs, and what the group adds
//! to it. `--rows 10` runs this row alone.
//!
//! Rows 9 measure process-pool calls (`process_pool = true`, one warm worker
//! process per logical CPU) against procspawn's `Pool` of the same size and
//! against tokengate's own thread path: a `u64 -> u64` round trip (target
//! ≤ 50 µs), a batch of 1,000 such calls (target ≤ 4 µs per call: the calls
//! wait in the process queues, holding no thread, and up to 8 are pipelined
//! to each process), a cold start (from
//! `OperationsCoordinator::start()` to the first call's result, and a start
//! with `prestart_processes(true)`; procspawn: a one-shot `spawn` + `join`,
//! and `Pool::new` + the first call), a 1 MiB `Vec<u8>` argument whose
//! checksum comes back (procspawn gets a plain `Vec<u8>` too, as users write
//! it: serde sends it element by element unless it is wrapped for
//! `serde_bytes`), and 4 × cores calls of 10 ms of pure CPU, wall time in
//! processes vs on threads. procspawn re-executes this binary and diverts it
//! in `procspawn::init()`, the first line of `main`; tokengate's workers
//! divert before `main` on a variable of their own. Criterion versions:
//! `benches/process.rs`.
//!
//! Rows 11 ask whether weights hold CPU share: closed-loop clients of a
//! ~75 µs `/light` and a ~20 ms `/heavy` endpoint handled on a tokio runtime
//! (`tokengate_benches::service`), under a light flood (64 light, 2 heavy
//! clients; heavy p50 against rayon's) and a heavy flood (4 light, 16 heavy;
//! light p50 against `spawn_blocking`'s), on the default coordinator, with
//! the same figure for one built with `cpu_share(true)` beside it. The
//! `weights_service` example prints every backend's figures.
//!
//! Row 14 is a burst from idle, the original's "Medium x8" shape: after
//! 30 ms of quiet, 8 calls of ~50 µs made from one thread and waited on,
//! as a speedup over running them serially, beside rayon's `scope`.
//!
//! Rows 12 measure what the `tracing` feature costs a call: a batch of
//! 100,000 no-op calls (as row 2, `.wait()` each) with no subscriber, with a
//! subscriber that is not interested in tokengate's `DEBUG` span (a
//! registry behind a `WARN` filter), and with one that is (a registry and a
//! layer that does nothing, so the figure is tokengate's and the registry's
//! span bookkeeping, not formatting), also inside a caller's span. Each is
//! what it adds to the calls without a subscriber measured beside it. The
//! feature cannot be switched off within one binary, so the row without a
//! subscriber is the baseline: what tracing costs there is one relaxed load
//! when the call is made and a flag check when it runs, which the
//! not-interested row bounds from above (it does that, plus the span
//! macro's level check and a look-up of the caller's span).
//!
//! Rows 13 measure the `metrics` feature with a recorder installed
//! (metrics-util's `DebuggingRecorder`, a registry like any exporter's):
//! one publication of every family (the timer thread does one per
//! `metrics_interval`, 1 s by default), and a batch of 100,000 no-op calls
//! on a coordinator that publishes every millisecond, against one that
//! never does. A call itself never touches the recorder; what a
//! publication costs is spread over the calls made meanwhile.

use std::alloc::{GlobalAlloc, Layout, System as SystemAlloc};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use tokengate::{OperationsCoordinator, StorageSpeed, TaskToken, TokenGroup};
use tokengate_benches::keys::{KeyPolicy, ns_per_key, payload};
use tokengate_benches::machine::{cores, cpu_model, rss};
use tokengate_benches::process_pool::{Carrier, ColdStart, MIB, ProcessHarness, bytes, cold_start};
use tokengate_benches::service::{self, Endpoints, Mix};
use tokengate_benches::stats::{fmt_ns, median, nanos, quantile};
use tokengate_benches::systems::{Harness, Routing, System, noop, square};
use tokengate_benches::work;

const ROUNDS: usize = 7;

/// Whether [`Counting`] counts now: only while row 10 measures.
static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated and not freed while counting.
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// The system allocator, counting [`LIVE`] bytes while [`COUNTING`] is on.
/// Off, it costs one relaxed load per call.
struct Counting;

impl Counting {
    fn count(bytes: isize) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_add(bytes, Ordering::Relaxed);
        }
    }
}

// SAFETY: every method forwards its arguments unchanged to the system
// allocator and returns its result; the only addition is an atomic counter
// update, which neither allocates nor touches the memory.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let ptr = unsafe { SystemAlloc.alloc(layout) };
        if !ptr.is_null() {
            Counting::count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { SystemAlloc.alloc_zeroed(layout) };
        if !ptr.is_null() {
            Counting::count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on as is.
        unsafe { SystemAlloc.dealloc(ptr, layout) };
        Counting::count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        let new = unsafe { SystemAlloc.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            Counting::count(new_size as isize - layout.size() as isize);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One line of the table.
struct Row {
    id: &'static str,
    what: String,
    ours: String,
    reference: String,
    /// tokengate ÷ reference.
    ratio: Option<f64>,
    target: Option<Target>,
}

/// An upper bound on a row's figure (its ratio, or its value where it has none).
struct Target {
    value: f64,
    limit: f64,
    label: String,
}

impl Target {
    /// At most 0.5 µs (500 ns) added per call, or spent per key.
    fn half_micro(ns: f64) -> Option<Target> {
        Some(Target {
            value: ns,
            limit: 500.0,
            label: "<= 0.5 µs".to_owned(),
        })
    }

    /// At most `limit_us` microseconds (`ns` is the figure, in ns).
    fn micros(ns: f64, limit_us: f64) -> Option<Target> {
        Some(Target {
            value: ns,
            limit: limit_us * 1e3,
            label: format!("<= {limit_us} µs"),
        })
    }

    /// A bound on the row's ratio.
    fn ratio(ratio: f64, limit: f64) -> Option<Target> {
        Some(Target {
            value: ratio,
            limit,
            label: format!("<= {limit}"),
        })
    }
}

/// What variant `i` adds to variant 0 (the baseline): the median of its
/// per-round differences from the baseline measured right beside it (drift
/// hits both alike).
fn added(values: &[Vec<f64>], i: usize) -> f64 {
    let diffs: Vec<f64> = values[i]
        .iter()
        .zip(&values[0])
        .map(|(v, base)| v - base)
        .collect();
    median(&diffs)
}

/// A difference in ns, with its sign.
fn signed(ns: f64) -> String {
    if ns < 0.0 {
        format!("-{}", fmt_ns(-ns))
    } else {
        format!("+{}", fmt_ns(ns))
    }
}

/// Prints each system's per-round figures (scaled by `scale`), so that a
/// bimodal or drifting measurement is visible behind its median.
fn print_rounds(row: &str, unit: &str, scale: f64, names: &[&str], rounds: &[Vec<f64>]) {
    println!("row {row}, per round ({unit}):");
    for (name, values) in names.iter().zip(rounds) {
        let shown: Vec<String> = values.iter().map(|v| format!("{:.2}", v / scale)).collect();
        println!("    {name:<16} {}", shown.join("  "));
    }
}

/// Which row groups to measure: `--rows 2,12` (a group is the number a
/// row id starts with), or all.
struct Only(Option<Vec<u32>>);

impl Only {
    fn from_args() -> Only {
        let mut args = std::env::args().skip(1);
        let mut only = None;
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--rows" => {
                    let list = args.next().expect("`--rows` takes a list such as `2,12`");
                    let groups = list
                        .split(',')
                        .map(|id| id.trim().parse().expect("row groups are numbers: `2,12`"))
                        .collect();
                    only = Some(groups);
                }
                other => panic!("unknown argument `{other}`; the one option is `--rows 2,12`"),
            }
        }
        Only(only)
    }

    fn wants(&self, group: u32) -> bool {
        self.0.as_ref().is_none_or(|groups| groups.contains(&group))
    }
}

fn main() {
    // procspawn's worker processes are this binary: they stop here.
    procspawn::init();
    let only = Only::from_args();
    let started = Instant::now();
    println!("tokengate bench_report");
    println!("machine: {} logical CPUs, {}", cores(), cpu_model());
    let harness = Harness::new();
    println!(
        "tokengate: {} core groups x {} workers (defaults); tokio: multi-thread runtime, \
         defaults; rayon: global pool, {} threads\n",
        harness.coordinator.core_groups(),
        harness.coordinator.worker_count() / harness.coordinator.core_groups(),
        rayon::current_num_threads()
    );

    let mut rows = Vec::new();
    // Memory first: later rows free large heaps that the allocator would reuse.
    let memory = only.wants(4).then(memory_row);
    if only.wants(1) {
        rows.extend(round_trip_rows(&harness));
    }
    if only.wants(2) {
        rows.extend(batch_rows(&harness));
    }
    if only.wants(3) {
        rows.extend(cpu_scaling_rows(&harness));
    }
    if only.wants(14) {
        rows.extend(burst_rows(&harness));
    }
    rows.extend(memory);
    if only.wants(10) {
        rows.extend(group_rows());
    }
    if only.wants(5) {
        rows.extend(original_latency_rows(&harness));
        rows.extend(original_throughput_rows(&harness));
    }
    // Row 8's ratios need row 6's plain batch.
    let plain_ns_per_call = (only.wants(6) || only.wants(8)).then(|| {
        let (routing, plain_ns_per_call) = routing_rows(&harness);
        if only.wants(6) {
            rows.extend(routing);
        }
        plain_ns_per_call
    });
    if only.wants(7) {
        rows.extend(fingerprint_rows());
    }
    if let Some(plain_ns_per_call) = plain_ns_per_call.filter(|_| only.wants(8)) {
        rows.extend(fifo_rows(&harness, plain_ns_per_call));
    }
    if only.wants(9) {
        rows.extend(process_rows());
    }
    if only.wants(11) {
        rows.extend(service_rows(&harness));
    }
    if only.wants(12) {
        rows.extend(tracing_rows(&harness));
    }
    // Last: it installs a global recorder.
    if only.wants(13) {
        rows.extend(metrics_rows(&harness));
    }

    println!();
    print_table(&rows);
    println!(
        "\nratio = tokengate / reference. For tok/s rows higher is better; for time and \
         memory rows lower is better.\nrun time: {:.1?}",
        started.elapsed()
    );
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<3} {:<46} {:>22} {:>30} {:>8} {:>8} {:>5}",
        "#", "measurement", "tokengate", "reference", "ratio", "target", ""
    );
    println!("{}", "-".repeat(128));
    for row in rows {
        let ratio = row.ratio.map_or("-".to_owned(), |r| format!("{r:.3}"));
        let (target, verdict) = match &row.target {
            Some(t) => (
                t.label.clone(),
                if t.value <= t.limit { "PASS" } else { "MISS" },
            ),
            None => ("-".to_owned(), ""),
        };
        println!(
            "{:<3} {:<46} {:>22} {:>30} {:>8} {:>8} {:>5}",
            row.id, row.what, row.ours, row.reference, ratio, target, verdict
        );
    }
}

// ----- 1. sequential round trip ------------------------------------------------

fn round_trip_rows(h: &Harness) -> Vec<Row> {
    const N: u64 = 20_000;
    let systems = System::ALL;
    for system in systems {
        h.round_trip(system, 2_000);
    }
    // Per system: per-round median and p95 latency.
    let mut medians = vec![Vec::new(); systems.len()];
    let mut p95s = vec![Vec::new(); systems.len()];
    for _ in 0..ROUNDS {
        for (i, system) in systems.into_iter().enumerate() {
            let samples = nanos(&h.round_trip(system, N));
            medians[i].push(median(&samples));
            p95s[i].push(quantile(&samples, 0.95));
        }
    }
    let names = systems.map(System::name);
    print_rounds("1 (median latency)", "µs", 1e3, &names, &medians);
    let m: Vec<f64> = medians.iter().map(|v| median(v)).collect();
    let p: Vec<f64> = p95s.iter().map(|v| median(v)).collect();
    let cell = |i: usize| format!("{} (p95 {})", fmt_ns(m[i]), fmt_ns(p[i]));
    let (tg, tg_wait, sb, rayon) = (0, 1, 2, 3);
    vec![
        Row {
            id: "1",
            what: format!("round trip, no-op, await (median of {N})"),
            ours: cell(tg),
            reference: format!("spawn_blocking {}", cell(sb)),
            ratio: Some(m[tg] / m[sb]),
            target: Target::ratio(m[tg] / m[sb], 1.0),
        },
        Row {
            id: "1",
            what: "round trip, no-op, .wait() (sync caller)".to_owned(),
            ours: cell(tg_wait),
            reference: format!("spawn_blocking {}", cell(sb)),
            ratio: Some(m[tg_wait] / m[sb]),
            target: Target::ratio(m[tg_wait] / m[sb], 1.0),
        },
        Row {
            id: "1",
            what: "round trip, no-op, await (vs rayon)".to_owned(),
            ours: cell(tg),
            reference: format!("rayon+oneshot {}", cell(rayon)),
            ratio: Some(m[tg] / m[rayon]),
            target: None,
        },
    ]
}

// ----- 2. batch ----------------------------------------------------------------

fn batch_rows(h: &Harness) -> Vec<Row> {
    const N: u64 = 100_000;
    let systems = [
        System::TokenGate,
        System::TokenGateWait,
        System::SpawnBlocking,
        System::RayonOneshot,
    ];
    for system in systems {
        h.batch(system, N);
    }
    let mut per_call = vec![Vec::new(); systems.len()];
    for _ in 0..ROUNDS {
        for (i, system) in systems.into_iter().enumerate() {
            per_call[i].push(h.batch(system, N).as_nanos() as f64 / N as f64);
        }
    }
    let names = systems.map(System::name);
    print_rounds("2 (batch)", "ns/call", 1.0, &names, &per_call);
    let m: Vec<f64> = per_call.iter().map(|v| median(v)).collect();
    let (tg, tg_wait, sb, rayon) = (0, 1, 2, 3);
    vec![
        Row {
            id: "2",
            what: "batch: 100k no-op, submit all, await in order".to_owned(),
            ours: format!("{}/call", fmt_ns(m[tg])),
            reference: format!("spawn_blocking {}/call", fmt_ns(m[sb])),
            ratio: Some(m[tg] / m[sb]),
            target: Target::ratio(m[tg] / m[sb], 0.1),
        },
        Row {
            id: "2",
            what: "batch: 100k no-op, same (vs rayon)".to_owned(),
            ours: format!("{}/call", fmt_ns(m[tg])),
            reference: format!("rayon+oneshot {}/call", fmt_ns(m[rayon])),
            ratio: Some(m[tg] / m[rayon]),
            target: Target::ratio(m[tg] / m[rayon], 1.5),
        },
        Row {
            id: "2",
            what: "batch: 100k no-op, .wait() each (vs rayon)".to_owned(),
            ours: format!("{}/call", fmt_ns(m[tg_wait])),
            reference: format!("rayon+oneshot {}/call", fmt_ns(m[rayon])),
            ratio: Some(m[tg_wait] / m[rayon]),
            target: None,
        },
    ]
}

// ----- 3. CPU scaling ----------------------------------------------------------

fn cpu_scaling_rows(h: &Harness) -> Vec<Row> {
    let calls = 4 * cores();
    let iterations = work::calibrate(Duration::from_millis(20));
    let systems = [
        System::TokenGate,
        System::RayonOneshot,
        System::SpawnBlocking,
    ];
    h.cpu_burst(System::TokenGate, cores(), iterations / 10);
    let mut ratios = vec![Vec::new(); systems.len()];
    let mut per_call_ms = Vec::new();
    // The serial cost of one call, measured right before and right after each
    // burst: CPU speed drifts on a VM, and the ideal must use today's speed.
    let serial_call = || {
        let start = Instant::now();
        black_box(work::spin(iterations));
        start.elapsed().as_secs_f64()
    };
    for _ in 0..ROUNDS {
        for (i, system) in systems.into_iter().enumerate() {
            let before = serial_call();
            let wall = h.cpu_burst(system, calls, iterations).as_secs_f64();
            let per_call = (before + serial_call()) / 2.0;
            per_call_ms.push(per_call * 1e3);
            ratios[i].push(wall / (calls as f64 * per_call / cores() as f64));
        }
    }
    let names = systems.map(System::name);
    print_rounds("3 (wall / ideal)", "ratio", 1.0, &names, &ratios);
    let r: Vec<f64> = ratios.iter().map(|v| median(v)).collect();
    let what = format!(
        "cpu: {calls} x {:.1} ms spin, wall / (work / {} cores)",
        median(&per_call_ms),
        cores()
    );
    vec![Row {
        id: "3",
        what,
        ours: format!("{:.3}", r[0]),
        reference: format!("rayon {:.3}, spawn_blocking {:.3}", r[1], r[2]),
        ratio: None,
        target: Some(Target {
            value: r[0],
            limit: 1.05,
            label: "<= 1.05".to_owned(),
        }),
    }]
}

// ----- 14. a burst from idle -----------------------------------------------------

/// Row 14: the original's "Medium x8" shape from idle. After 30 ms of quiet
/// (every worker parked), one thread makes 8 calls of ~50 µs of CPU and waits
/// for all of them: the wall time against the same 8 calls run serially on
/// that thread (measured right beside it) and against rayon's `scope` with 8
/// `spawn`s after the same quiet. What this measures is mostly how fast
/// parked threads wake on a VM.
fn burst_rows(h: &Harness) -> Vec<Row> {
    const CALLS: usize = 8;
    let iterations = work::calibrate(Duration::from_micros(50));
    let _bound = h.coordinator.enter();
    let serial = || {
        let start = Instant::now();
        for _ in 0..CALLS {
            black_box(work::spin(black_box(iterations)));
        }
        start.elapsed().as_secs_f64()
    };
    let ours = || {
        let start = Instant::now();
        let tokens: Vec<TaskToken<u64>> = (0..CALLS)
            .map(|_| tokengate_benches::systems::cpu_spin(iterations))
            .collect();
        for token in tokens {
            black_box(token.wait().expect("the call succeeds"));
        }
        start.elapsed().as_secs_f64()
    };
    let rayon_scope = || {
        let start = Instant::now();
        rayon::scope(|s| {
            for _ in 0..CALLS {
                s.spawn(|_| {
                    black_box(work::spin(black_box(iterations)));
                });
            }
        });
        start.elapsed().as_secs_f64()
    };
    let quiet = || std::thread::sleep(Duration::from_millis(30));
    let (mut speedups, mut rayon_speedups, mut walls) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..=ROUNDS * 3 {
        quiet();
        let wall = ours();
        let serial_wall = serial();
        quiet();
        let rayon_wall = rayon_scope();
        // The first round warms both pools up.
        if round > 0 {
            walls.push(wall * 1e9);
            speedups.push(serial_wall / wall);
            rayon_speedups.push(serial_wall / rayon_wall);
        }
    }
    let names = ["tokengate", "rayon scope"];
    print_rounds(
        "14 (serial / wall)",
        "speedup",
        1.0,
        &names,
        &[speedups.clone(), rayon_speedups.clone()],
    );
    let (ours, rayon) = (median(&speedups), median(&rayon_speedups));
    vec![Row {
        id: "14",
        what: format!("burst from idle: {CALLS} x 50 µs after 30 ms quiet, serial / wall"),
        ours: format!("{ours:.2}x ({})", fmt_ns(median(&walls))),
        reference: format!("rayon scope {rayon:.2}x"),
        ratio: None,
        target: Some(Target {
            value: 1.0 / ours,
            limit: 1.0 / 1.6,
            label: ">= 1.6x".to_owned(),
        }),
    }]
}

// ----- 4. memory ---------------------------------------------------------------

fn memory_row() -> Row {
    const N: usize = 1_000_000;
    let coordinator = OperationsCoordinator::builder()
        .lane_capacity(2_000_000)
        .start()
        .expect("coordinator starts");
    let bound = coordinator.enter();
    // Warm the op's first-call caches on this coordinator, then hold everything.
    assert_eq!(noop(7).wait().unwrap(), 7);
    coordinator.pause_admission();
    let before = rss().expect("/proc/self/status is readable");
    let tokens: Vec<TaskToken<u64>> = (0..N as u64).map(noop).collect();
    let after = rss().expect("/proc/self/status is readable");
    let stats = coordinator.stats();
    assert_eq!(
        stats.tokens.waiting, N as u64,
        "all tokens queued, none run"
    );
    let per_token = (after.now.saturating_sub(before.now)) as f64 / N as f64;
    let per_token_peak = (after.peak.saturating_sub(before.peak)) as f64 / N as f64;
    assert_eq!(coordinator.drain_pool(), N);
    assert!(tokens.iter().all(|t| t.is_finished()));
    drop(tokens);
    drop(bound);
    coordinator.stop();
    Row {
        id: "4",
        what: "memory per queued token (1M queued, RSS growth)".to_owned(),
        ours: format!("{per_token:.0} B (VmHWM {per_token_peak:.0} B)"),
        reference: "incl. 16 B caller-side handle".to_owned(),
        ratio: None,
        target: Some(Target {
            value: per_token,
            limit: 512.0,
            label: "<= 512 B".to_owned(),
        }),
    }
}

// ----- 10. a group of 100,000 members ---------------------------------------

/// Row 10: time and memory of a `TokenGroup` of 100,000 members.
fn group_rows() -> Vec<Row> {
    const N: u64 = 100_000;
    let coordinator = OperationsCoordinator::builder()
        .lane_capacity(2 * N as usize)
        .start()
        .expect("coordinator starts");
    let bound = coordinator.enter();
    assert_eq!(noop(7).wait().unwrap(), 7);

    // Time: make, add and join, against make and wait one by one.
    let mut grouped = Vec::new();
    let mut mapped = Vec::new();
    for round in 0..=3 {
        let started = Instant::now();
        let group: TokenGroup<u64> = (0..N).map(noop).collect();
        let values = group.wait().expect("no member fails");
        let group_time = started.elapsed();
        assert_eq!(values.len(), N as usize);
        let started = Instant::now();
        let values = tokengate::map(noop, 0..N);
        let map_time = started.elapsed();
        assert!(values.iter().all(Result::is_ok));
        if round > 0 {
            // Round 0 warms the allocator and the lanes.
            grouped.push(group_time);
            mapped.push(map_time);
        }
    }
    let group_ns = median(&nanos(&grouped)) / N as f64;
    let map_ns = median(&nanos(&mapped)) / N as f64;

    // Memory: the calls held queued, then added to a group.
    coordinator.pause_admission();
    LIVE.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    let tokens: Vec<TaskToken<u64>> = (0..N).map(noop).collect();
    let calls = LIVE.load(Ordering::SeqCst);
    let mut group = TokenGroup::new();
    group.extend(tokens);
    let with_group = LIVE.load(Ordering::SeqCst);
    COUNTING.store(false, Ordering::SeqCst);
    let per_call = calls as f64 / N as f64;
    let per_member = (with_group - calls) as f64 / N as f64;
    coordinator.resume_admission();
    assert_eq!(group.wait().expect("no member fails").len(), N as usize);
    drop(bound);
    coordinator.stop();

    vec![
        Row {
            id: "10",
            what: "TokenGroup of 100k: make + add + join".to_owned(),
            ours: format!(
                "{} total, {}/member",
                fmt_ns(group_ns * N as f64),
                fmt_ns(group_ns)
            ),
            reference: format!("map (wait each): {}/call", fmt_ns(map_ns)),
            ratio: Some(group_ns / map_ns),
            target: None,
        },
        Row {
            id: "10",
            what: "TokenGroup of 100k: heap bytes per member".to_owned(),
            ours: format!("+{per_member:.0} B over a Vec of tokens"),
            reference: format!("{per_call:.0} B/queued call, in a Vec"),
            ratio: None,
            target: None,
        },
    ]
}

// ----- 5. the original's workloads (a) and (b) ---------------------------------

fn original_latency_rows(h: &Harness) -> Vec<Row> {
    let _bound = h.coordinator.enter();
    let mut medians = Vec::new();
    let mut p95s = Vec::new();
    for _ in 0..ROUNDS {
        for i in 0..100 {
            assert_eq!(square(i).wait().unwrap(), i * i);
        }
        let samples: Vec<f64> = (0..2_000u64)
            .map(|i| {
                let start = Instant::now();
                let value = square(i).wait().unwrap();
                let elapsed = start.elapsed();
                assert_eq!(value, i * i);
                elapsed.as_nanos() as f64
            })
            .collect();
        medians.push(median(&samples));
        p95s.push(quantile(&samples, 0.95));
    }
    let (m, p) = (median(&medians), median(&p95s));
    vec![
        Row {
            id: "5a",
            what: "orig (a): x*x round trip .wait(), median".to_owned(),
            ours: fmt_ns(m),
            reference: "Py-TokenGate 464 µs".to_owned(),
            ratio: Some(m / 464_000.0),
            target: None,
        },
        Row {
            id: "5a",
            what: "orig (a): x*x round trip .wait(), p95".to_owned(),
            ours: fmt_ns(p),
            reference: "Py-TokenGate 634 µs".to_owned(),
            ratio: Some(p / 634_000.0),
            target: None,
        },
    ]
}

/// How a batch's tokens are collected.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Collect {
    /// `join_all` inside `block_on` (the original's `asyncio.gather`).
    Gather,
    /// `.wait()` on each, in order (the original's `.get()`).
    Get,
}

/// One batch of `n` `square` calls; returns (submit time, total time).
fn square_batch(h: &Harness, n: u64, collect: Collect) -> (Duration, Duration) {
    let _bound = h.coordinator.enter();
    let start = Instant::now();
    let tokens: Vec<TaskToken<u64>> = (0..n).map(square).collect();
    let submitted = start.elapsed();
    let results: Vec<u64> = match collect {
        Collect::Gather => {
            h.rt.block_on(futures::future::join_all(tokens))
                .into_iter()
                .map(Result::unwrap)
                .collect()
        }
        Collect::Get => tokens.into_iter().map(|t| t.wait().unwrap()).collect(),
    };
    let total = start.elapsed();
    assert!(results.iter().zip(0..).all(|(&r, i)| r == i * i));
    (submitted, total)
}

fn original_throughput_rows(h: &Harness) -> Vec<Row> {
    // (n, the original's gather and get figures in tok/s)
    let cases = [
        (1_000u64, 2_501.0, 2_885.0),
        (10_000, 2_152.0, 3_150.0),
        (50_000, 2_661.0, 3_326.0),
    ];
    square_batch(h, 500, Collect::Gather);
    square_batch(h, 500, Collect::Get);
    let mut rows = Vec::new();
    for (n, py_gather, py_get) in cases {
        let mut gather = Vec::new();
        let mut get = Vec::new();
        let mut submit_only = Vec::new();
        let mut await_only = Vec::new();
        for _ in 0..ROUNDS {
            let (sub, total) = square_batch(h, n, Collect::Gather);
            gather.push(n as f64 / total.as_secs_f64());
            submit_only.push(n as f64 / sub.as_secs_f64());
            await_only.push(n as f64 / (total - sub).as_secs_f64());
            let (_, total) = square_batch(h, n, Collect::Get);
            get.push(n as f64 / total.as_secs_f64());
        }
        let (g, w) = (median(&gather), median(&get));
        let label = if n == 1_000 {
            "1k".to_owned()
        } else {
            format!("{}k", n / 1_000)
        };
        rows.push(Row {
            id: "5b",
            what: format!("orig (b): {label} x*x, submit all, gather, e2e"),
            ours: format!("{g:.0} tok/s"),
            reference: format!("Py-TokenGate {py_gather:.0} tok/s"),
            ratio: Some(g / py_gather),
            target: None,
        });
        rows.push(Row {
            id: "5b",
            what: format!("orig (b): {label} x*x, submit all, .wait() each"),
            ours: format!("{w:.0} tok/s"),
            reference: format!("Py-TokenGate {py_get:.0} tok/s"),
            ratio: Some(w / py_get),
            target: None,
        });
        if n == 50_000 {
            let (s, a) = (median(&submit_only), median(&await_only));
            rows.push(Row {
                id: "5b",
                what: "orig (b): 50k, submission only".to_owned(),
                ours: format!("{s:.0} tok/s"),
                reference: "Py-TokenGate 12267 tok/s".to_owned(),
                ratio: Some(s / 12_267.0),
                target: None,
            });
            rows.push(Row {
                id: "5b",
                what: "orig (b): 50k, gather, awaiting only".to_owned(),
                ours: format!("{a:.0} tok/s"),
                reference: "Py-TokenGate 3332 tok/s".to_owned(),
                ratio: Some(a / 3_332.0),
                target: None,
            });
        }
    }
    rows
}

// ----- 6. routing overhead: sticky and storage-tier calls vs plain ------------

/// Rows 6, and the plain batch cost per call (ns) for row 8's ratios.
fn routing_rows(h: &Harness) -> (Vec<Row>, f64) {
    const N: u64 = 100_000;
    const TRIPS: u64 = 20_000;
    let routes = Routing::ALL;
    for routing in routes {
        h.routed_batch(routing, N);
        h.routed_round_trip(routing, 2_000);
    }
    // Per routing, per round: batch ns/call and round-trip median ns.
    let mut batch = vec![Vec::new(); routes.len()];
    let mut trip = vec![Vec::new(); routes.len()];
    for _ in 0..ROUNDS {
        for (i, routing) in routes.into_iter().enumerate() {
            batch[i].push(h.routed_batch(routing, N).as_nanos() as f64 / N as f64);
            trip[i].push(median(&nanos(&h.routed_round_trip(routing, TRIPS))));
        }
    }
    let names = routes.map(Routing::name);
    print_rounds("6 (batch 100k)", "ns/call", 1.0, &names, &batch);
    print_rounds("6 (round trip, median)", "µs", 1e3, &names, &trip);
    let stats = h.coordinator.stats();
    println!(
        "row 6: IO threads alive after the tier runs: {} (tier FAST cap {}, high water {})",
        stats.io_threads,
        h.coordinator.storage_cap(StorageSpeed::Fast),
        stats.storage(StorageSpeed::Fast).high_water
    );
    let (plain, sticky, tier, limited, retried) = (0, 1, 2, 3, 4);
    let labels = [
        (sticky, "sticky (new key each)"),
        (tier, "tier FAST"),
        (limited, "named limit (never full)"),
        (retried, "retries = 3 (none needed)"),
    ];
    let mb: Vec<f64> = batch.iter().map(|v| median(v)).collect();
    let mt: Vec<f64> = trip.iter().map(|v| median(v)).collect();
    let mut rows = Vec::new();
    for (i, label) in labels {
        let add = added(&batch, i);
        rows.push(Row {
            id: "6",
            what: format!("{label}: batch 100k, added per call"),
            ours: format!("{} ({}/call)", signed(add), fmt_ns(mb[i])),
            reference: format!("plain {}/call", fmt_ns(mb[plain])),
            ratio: Some(mb[i] / mb[plain]),
            target: Target::half_micro(add),
        });
    }
    for (i, label) in labels {
        let add = added(&trip, i);
        rows.push(Row {
            id: "6",
            what: format!("{label}: round trip .wait(), added"),
            ours: format!("{} ({})", signed(add), fmt_ns(mt[i])),
            reference: format!("plain {}", fmt_ns(mt[plain])),
            ratio: Some(mt[i] / mt[plain]),
            target: Target::half_micro(add),
        });
    }
    (rows, mb[plain])
}

// ----- 7. fingerprint cost per policy ------------------------------------------

fn fingerprint_rows() -> Vec<Row> {
    // (argument length, keys per timed run: a few ms each)
    let sizes = [(64usize, 20_000u64), (4_096, 500)];
    let values: Vec<String> = sizes.iter().map(|&(len, _)| payload(len)).collect();
    let policies = KeyPolicy::ALL;
    // Per policy, per size: per-round ns/key.
    let mut ns = vec![vec![Vec::new(); sizes.len()]; policies.len()];
    for _ in 0..ROUNDS {
        for (p, policy) in policies.into_iter().enumerate() {
            for (s, &(_, iterations)) in sizes.iter().enumerate() {
                ns[p][s].push(ns_per_key(policy, values[s].as_str(), iterations));
            }
        }
    }
    let names: Vec<String> = policies.iter().map(|p| p.name()).collect();
    for (s, &(len, _)) in sizes.iter().enumerate() {
        let rounds: Vec<Vec<f64>> = ns.iter().map(|per_size| per_size[s].clone()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        print_rounds(
            &format!("7 (key of {len} B)"),
            "ns/key",
            1.0,
            &names,
            &rounds,
        );
    }
    policies
        .into_iter()
        .enumerate()
        .map(|(p, policy)| {
            let (small, large) = (median(&ns[p][0]), median(&ns[p][1]));
            let what = match policy {
                KeyPolicy::Fast => "key: hash fast (Hash, FNV-1a), 64 B | 4 KiB".to_owned(),
                KeyPolicy::Standard(digest) => {
                    format!("key: standard, digest {digest}, 64 B | 4 KiB")
                }
            };
            Row {
                id: "7",
                what,
                ours: format!("{} | {}", fmt_ns(small), fmt_ns(large)),
                reference: format!("4 KiB at {:.0} MB/s", 4_096.0 / large * 1e3),
                ratio: None,
                // The budget of a whole sticky call's routing, on the 64 B key.
                target: Target::half_micro(small),
            }
        })
        .collect()
}

// ----- 8. per-key FIFO throughput ----------------------------------------------

fn fifo_rows(h: &Harness, plain_ns_per_call: f64) -> Vec<Row> {
    const N: u64 = 100_000;
    let key_counts = [1u64, 16, 1_024];
    for &keys in &key_counts {
        h.sticky_fifo(keys, N);
    }
    let mut per_s = vec![Vec::new(); key_counts.len()];
    for _ in 0..ROUNDS {
        for (i, &keys) in key_counts.iter().enumerate() {
            per_s[i].push(N as f64 / h.sticky_fifo(keys, N).as_secs_f64());
        }
    }
    let names = ["1 key", "16 keys", "1024 keys"];
    print_rounds("8 (sticky FIFO)", "k calls/s", 1e3, &names, &per_s);
    let plain_per_s = 1e9 / plain_ns_per_call;
    key_counts
        .iter()
        .zip(&per_s)
        .map(|(&keys, values)| {
            let m = median(values);
            Row {
                id: "8",
                what: format!("sticky FIFO: 100k no-op over {keys} key(s), e2e"),
                ours: format!("{m:.0} calls/s"),
                reference: format!("plain batch {plain_per_s:.0} calls/s"),
                ratio: Some(m / plain_per_s),
                target: None,
            }
        })
        .collect()
}

// ----- 11. weights hold CPU share: a two-endpoint service ------------------------

/// Rows 11: the in-process service of `tokengate_benches::service` (closed-loop
/// clients of a ~75 µs `/light` and a ~20 ms `/heavy` endpoint), each mix
/// against each backend for 2 s after 0.5 s of warm-up.
fn service_rows(h: &Harness) -> Vec<Row> {
    let endpoints = Endpoints::calibrate();
    let shared_cores = OperationsCoordinator::builder()
        .cpu_share(true)
        .start()
        .expect("a coordinator with CPU share starts");
    let (warm_up, measure) = (Duration::from_millis(500), Duration::from_secs(2));
    let p50 = |mix: Mix| -> Vec<(f64, f64)> {
        service::Backend::ALL
            .map(|backend| {
                let handle = match backend {
                    service::Backend::CpuShare => shared_cores.handle(),
                    _ => h.coordinator.handle(),
                };
                let l = service::run(&h.rt, &handle, backend, mix, endpoints, warm_up, measure);
                let (light, heavy) = (quantile(&l.light, 0.5), quantile(&l.heavy, 0.5));
                println!(
                    "row 11 ({}): {:<24} light p50 {:>9} p95 {:>9} ({} requests); heavy p50 {:>9} \
                     p95 {:>9} ({} requests)",
                    mix.name,
                    backend.name(),
                    fmt_ns(light),
                    fmt_ns(quantile(&l.light, 0.95)),
                    l.light.len(),
                    fmt_ns(heavy),
                    fmt_ns(quantile(&l.heavy, 0.95)),
                    l.heavy.len()
                );
                (light, heavy)
            })
            .to_vec()
    };
    let (shared, weighted, unweighted, blocking, rayon) = (0, 1, 2, 3, 4);
    let light_flood = p50(Mix::LIGHT_FLOOD);
    let heavy_flood = p50(Mix::HEAVY_FLOOD);
    shared_cores.stop();
    let heavy_in_light_flood = light_flood[weighted].1;
    let light_in_heavy_flood = heavy_flood[weighted].0;
    vec![
        Row {
            id: "11",
            what: "light flood (64 light, 2 heavy): heavy p50".to_owned(),
            ours: format!(
                "{} (cpu_share {}, all medium {})",
                fmt_ns(heavy_in_light_flood),
                fmt_ns(light_flood[shared].1),
                fmt_ns(light_flood[unweighted].1)
            ),
            reference: format!("rayon {}", fmt_ns(light_flood[rayon].1)),
            ratio: Some(heavy_in_light_flood / light_flood[rayon].1),
            target: Target::ratio(heavy_in_light_flood / light_flood[rayon].1, 1.2),
        },
        Row {
            id: "11",
            what: "heavy flood (4 light, 16 heavy): light p50".to_owned(),
            ours: format!(
                "{} (cpu_share {}, all medium {})",
                fmt_ns(light_in_heavy_flood),
                fmt_ns(heavy_flood[shared].0),
                fmt_ns(heavy_flood[unweighted].0)
            ),
            reference: format!("spawn_blocking {}", fmt_ns(heavy_flood[blocking].0)),
            ratio: Some(light_in_heavy_flood / heavy_flood[blocking].0),
            target: Target::ratio(light_in_heavy_flood / heavy_flood[blocking].0, 0.1),
        },
    ]
}

// ----- 9. process-pool calls vs procspawn ---------------------------------------

/// Rows 9: one [`ProcessHarness`] (warm pools) for the warm rows, and a fresh
/// coordinator or pool for each cold start.
fn process_rows() -> Vec<Row> {
    let started = Instant::now();
    let harness = ProcessHarness::new();
    let stats = harness.coordinator.stats().processes;
    println!(
        "row 9: tokengate worker processes {:?} ({} of {}); procspawn pool of {}",
        harness.coordinator.worker_processes(),
        stats.alive,
        stats.size,
        harness.pool.size()
    );
    let mut rows = process_call_rows(&harness);
    rows.extend(process_bytes_rows(&harness));
    rows.extend(process_cpu_rows(&harness));
    drop(harness);
    rows.extend(process_cold_rows());
    println!("rows 9 took {:.1?}", started.elapsed());
    rows
}

/// Round trip and batch of a `u64 -> u64` no-op.
fn process_call_rows(h: &ProcessHarness) -> Vec<Row> {
    const TRIPS: u64 = 1_000;
    const BATCH: u64 = 1_000;
    let carriers = Carrier::ALL;
    for carrier in carriers {
        h.round_trip(carrier, 200);
    }
    let mut medians = vec![Vec::new(); carriers.len()];
    let mut p95s = vec![Vec::new(); carriers.len()];
    let mut batch = vec![Vec::new(); carriers.len()];
    for _ in 0..ROUNDS {
        for (i, carrier) in carriers.into_iter().enumerate() {
            let samples = nanos(&h.round_trip(carrier, TRIPS));
            medians[i].push(median(&samples));
            p95s[i].push(quantile(&samples, 0.95));
            batch[i].push(h.batch(carrier, BATCH).as_nanos() as f64 / BATCH as f64);
        }
    }
    let names = carriers.map(Carrier::name);
    print_rounds("9 (round trip, median)", "µs", 1e3, &names, &medians);
    print_rounds("9 (batch 1k)", "µs/call", 1e3, &names, &batch);
    let m: Vec<f64> = medians.iter().map(|v| median(v)).collect();
    let p: Vec<f64> = p95s.iter().map(|v| median(v)).collect();
    let b: Vec<f64> = batch.iter().map(|v| median(v)).collect();
    let cell = |i: usize| format!("{} (p95 {})", fmt_ns(m[i]), fmt_ns(p[i]));
    let (process, procspawn, thread) = (0, 1, 2);
    vec![
        Row {
            id: "9",
            what: format!("process: round trip u64, .wait() (median of {TRIPS})"),
            ours: cell(process),
            reference: format!("procspawn pool {}", cell(procspawn)),
            ratio: Some(m[process] / m[procspawn]),
            target: Target::micros(m[process], 50.0),
        },
        Row {
            id: "9",
            what: "process: round trip u64 (vs thread path)".to_owned(),
            ours: cell(process),
            reference: format!("thread {}", cell(thread)),
            ratio: Some(m[process] / m[thread]),
            target: None,
        },
        Row {
            id: "9",
            what: format!(
                "process: batch {}k u64, start all, wait each",
                BATCH / 1_000
            ),
            ours: format!("{}/call", fmt_ns(b[process])),
            reference: format!(
                "procspawn {}/call; thread {}/call",
                fmt_ns(b[procspawn]),
                fmt_ns(b[thread])
            ),
            ratio: Some(b[process] / b[procspawn]),
            // Pipelined: several calls in flight per process (issue 13).
            target: Target::micros(b[process], 4.0),
        },
    ]
}

/// A 1 MiB `Vec<u8>` argument; the callee returns its checksum.
fn process_bytes_rows(h: &ProcessHarness) -> Vec<Row> {
    const CALLS: usize = 15;
    let data = bytes(MIB);
    let carriers = Carrier::ALL;
    for carrier in carriers {
        h.bytes_round_trip(carrier, data.clone());
    }
    let mut per_round = vec![Vec::new(); carriers.len()];
    for _ in 0..ROUNDS {
        for (i, carrier) in carriers.into_iter().enumerate() {
            let samples: Vec<f64> = (0..CALLS)
                .map(|_| h.bytes_round_trip(carrier, data.clone()).as_nanos() as f64)
                .collect();
            per_round[i].push(median(&samples));
        }
    }
    let names = carriers.map(Carrier::name);
    print_rounds("9 (1 MiB argument, median)", "µs", 1e3, &names, &per_round);
    let m: Vec<f64> = per_round.iter().map(|v| median(v)).collect();
    let (process, procspawn, thread) = (0, 1, 2);
    vec![Row {
        id: "9",
        what: "process: 1 MiB Vec<u8> arg, checksum back".to_owned(),
        ours: fmt_ns(m[process]),
        reference: format!(
            "procspawn {}; thread {}",
            fmt_ns(m[procspawn]),
            fmt_ns(m[thread])
        ),
        ratio: Some(m[process] / m[procspawn]),
        target: None,
    }]
}

/// 4 × cores calls of 10 ms of pure CPU, in processes and on threads.
fn process_cpu_rows(h: &ProcessHarness) -> Vec<Row> {
    let calls = 4 * cores();
    let iterations = work::calibrate(Duration::from_millis(10));
    let carriers = Carrier::ALL;
    for carrier in carriers {
        h.cpu_burst(carrier, cores(), iterations / 10);
    }
    // As row 3: the ideal uses the serial cost measured around each burst.
    let serial_call = || {
        let start = Instant::now();
        black_box(work::spin(iterations));
        start.elapsed().as_secs_f64()
    };
    let mut walls = vec![Vec::new(); carriers.len()];
    let mut ratios = vec![Vec::new(); carriers.len()];
    for _ in 0..ROUNDS {
        for (i, carrier) in carriers.into_iter().enumerate() {
            let before = serial_call();
            let wall = h.cpu_burst(carrier, calls, iterations).as_secs_f64();
            let per_call = (before + serial_call()) / 2.0;
            walls[i].push(wall * 1e3);
            ratios[i].push(wall / (calls as f64 * per_call / cores() as f64));
        }
    }
    let names = carriers.map(Carrier::name);
    print_rounds("9 (cpu wall)", "ms", 1.0, &names, &walls);
    print_rounds("9 (cpu wall / ideal)", "ratio", 1.0, &names, &ratios);
    // Process ÷ thread per round, side by side in time, then the median.
    let per_round: Vec<f64> = walls[0].iter().zip(&walls[2]).map(|(p, t)| p / t).collect();
    let w: Vec<f64> = walls.iter().map(|v| median(v)).collect();
    let r: Vec<f64> = ratios.iter().map(|v| median(v)).collect();
    let (process, procspawn, thread) = (0, 1, 2);
    vec![Row {
        id: "9",
        what: format!("process: cpu {calls} x 10 ms, wall (/ ideal)"),
        ours: format!("{:.1} ms ({:.3})", w[process], r[process]),
        reference: format!(
            "thread {:.1} ms ({:.3}); procspawn {:.1} ms ({:.3})",
            w[thread], r[thread], w[procspawn], r[procspawn]
        ),
        ratio: Some(median(&per_round)),
        target: None,
    }]
}

/// Cold starts: a new coordinator (or procspawn pool) per sample.
fn process_cold_rows() -> Vec<Row> {
    const PER_ROUND: usize = 3;
    let ways = ColdStart::ALL;
    for how in ways {
        cold_start(how);
    }
    // Per way, per round: the median start and first-result times.
    let mut started = vec![Vec::new(); ways.len()];
    let mut first = vec![Vec::new(); ways.len()];
    for _ in 0..ROUNDS {
        for (i, how) in ways.into_iter().enumerate() {
            let samples: Vec<_> = (0..PER_ROUND).map(|_| cold_start(how)).collect();
            let s: Vec<f64> = samples
                .iter()
                .map(|c| c.started.as_nanos() as f64)
                .collect();
            let f: Vec<f64> = samples
                .iter()
                .map(|c| c.first_result.as_nanos() as f64)
                .collect();
            started[i].push(median(&s));
            first[i].push(median(&f));
        }
    }
    let names = ways.map(ColdStart::name);
    print_rounds("9 (cold: first result)", "ms", 1e6, &names, &first);
    print_rounds("9 (cold: pool started)", "ms", 1e6, &names, &started);
    let s: Vec<f64> = started.iter().map(|v| median(v)).collect();
    let f: Vec<f64> = first.iter().map(|v| median(v)).collect();
    let (first_call, prestart, one_shot, pool) = (0, 1, 2, 3);
    vec![
        Row {
            id: "9",
            what: "process cold: start() -> first result".to_owned(),
            ours: format!(
                "{} (start {})",
                fmt_ns(f[first_call]),
                fmt_ns(s[first_call])
            ),
            reference: format!("procspawn spawn+join {}", fmt_ns(f[one_shot])),
            ratio: Some(f[first_call] / f[one_shot]),
            target: None,
        },
        Row {
            id: "9",
            what: format!("process cold: prestart {} procs -> first result", cores()),
            ours: format!("{} (start {})", fmt_ns(f[prestart]), fmt_ns(s[prestart])),
            reference: format!(
                "procspawn Pool::new {} (new {})",
                fmt_ns(f[pool]),
                fmt_ns(s[pool])
            ),
            ratio: Some(f[prestart] / f[pool]),
            target: None,
        },
    ]
}

// ----- 12. tracing: what the `tracing` feature costs a call --------------------

/// A layer that does nothing: what rows 12 measure is tokengate's and the
/// registry's span bookkeeping, not a layer's formatting.
struct Quiet;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Quiet {}

fn tracing_rows(h: &Harness) -> Vec<Row> {
    use tracing::dispatcher::{Dispatch, with_default};
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt as _;

    const N: u64 = 100_000;
    let not_interested = Dispatch::new(
        tracing_subscriber::registry()
            .with(LevelFilter::WARN)
            .with(Quiet),
    );
    let interested = Dispatch::new(tracing_subscriber::registry().with(Quiet));
    // Per variant: ns per call of a batch.
    let variants: [(&str, &dyn Fn() -> Duration); 4] = [
        ("no subscriber", &|| h.batch(System::TokenGateWait, N)),
        ("not interested", &|| {
            with_default(&not_interested, || h.batch(System::TokenGateWait, N))
        }),
        ("interested", &|| {
            with_default(&interested, || h.batch(System::TokenGateWait, N))
        }),
        ("caller's span", &|| {
            with_default(&interested, || {
                tracing::info_span!("request").in_scope(|| h.batch(System::TokenGateWait, N))
            })
        }),
    ];
    for (_, batch) in &variants {
        batch();
    }
    let mut per_call = vec![Vec::new(); variants.len()];
    for _ in 0..ROUNDS {
        for (i, (_, batch)) in variants.iter().enumerate() {
            per_call[i].push(batch().as_nanos() as f64 / N as f64);
        }
    }
    let names: Vec<&str> = variants.iter().map(|(name, _)| *name).collect();
    print_rounds(
        "12 (batch 100k, .wait() each)",
        "ns/call",
        1.0,
        &names,
        &per_call,
    );
    let m: Vec<f64> = per_call.iter().map(|v| median(v)).collect();
    let (none, quiet, traced, nested) = (0, 1, 2, 3);
    let baseline = format!("no subscriber {}/call", fmt_ns(m[none]));
    let row = |i: usize, what: &str, target: Option<Target>| Row {
        id: "12",
        what: what.to_owned(),
        ours: format!("{} ({}/call)", signed(added(&per_call, i)), fmt_ns(m[i])),
        reference: baseline.clone(),
        ratio: Some(m[i] / m[none]),
        target,
    };
    let quiet_added = added(&per_call, quiet);
    vec![
        Row {
            id: "12",
            what: "tracing on, no subscriber: batch 100k, per call".to_owned(),
            ours: format!("{}/call", fmt_ns(m[none])),
            reference: "(the baseline of rows 12)".to_owned(),
            ratio: None,
            target: None,
        },
        row(
            quiet,
            "tracing: subscriber not interested, added",
            Some(Target {
                value: quiet_added,
                limit: 30.0,
                label: "<= 30 ns".to_owned(),
            }),
        ),
        row(traced, "tracing: span per call (registry), added", None),
        row(nested, "tracing: same, in a caller's span, added", None),
    ]
}

// ----- 13. metrics: what the `metrics` feature costs ---------------------------

/// `n` no-op calls on `coordinator`, then `.wait()` on each; the total time.
fn wait_batch(coordinator: &OperationsCoordinator, n: u64) -> Duration {
    let _bound = coordinator.enter();
    let start = Instant::now();
    let tokens: Vec<TaskToken<u64>> = (0..n).map(noop).collect();
    for (i, token) in (0..n).zip(tokens) {
        assert_eq!(token.wait().expect("call failed"), i);
    }
    start.elapsed()
}

fn metrics_rows(h: &Harness) -> Vec<Row> {
    use metrics_util::debugging::DebuggingRecorder;

    const N: u64 = 100_000;
    const PUBLICATIONS: u32 = 200;
    // One publication of the harness coordinator (the ops of the rows
    // before), to a recorder on this thread.
    let local = DebuggingRecorder::new();
    let drained = local.snapshotter();
    let publish = || {
        let start = Instant::now();
        for _ in 0..PUBLICATIONS {
            metrics::with_local_recorder(&local, || h.coordinator.publish_metrics());
        }
        let ns = start.elapsed().as_nanos() as f64 / f64::from(PUBLICATIONS);
        drop(drained.snapshot());
        ns
    };
    publish();
    let per_publication: Vec<f64> = (0..ROUNDS).map(|_| publish()).collect();
    print_rounds(
        "13 (one publication)",
        "µs",
        1e3,
        &["publish"],
        std::slice::from_ref(&per_publication),
    );
    let ops = h.coordinator.stats().ops.len();
    let series = {
        metrics::with_local_recorder(&local, || h.coordinator.publish_metrics());
        drained.snapshot().into_vec().len()
    };

    // Calls on a coordinator whose timer publishes every millisecond, and
    // on one that never does, with a global recorder installed.
    let global = DebuggingRecorder::new();
    let global_drained = global.snapshotter();
    global
        .install()
        .expect("bench_report installs the only recorder");
    let start = |interval| {
        OperationsCoordinator::builder()
            .metrics_interval(interval)
            .start()
            .expect("coordinator starts")
    };
    let coordinators = [start(Duration::MAX), start(Duration::from_millis(1))];
    for c in &coordinators {
        wait_batch(c, N);
    }
    let mut per_call = vec![Vec::new(); coordinators.len()];
    for _ in 0..ROUNDS {
        for (i, c) in coordinators.iter().enumerate() {
            per_call[i].push(wait_batch(c, N).as_nanos() as f64 / N as f64);
            drop(global_drained.snapshot());
        }
    }
    print_rounds(
        "13 (batch 100k, .wait() each)",
        "ns/call",
        1.0,
        &["never publishes", "publishes every 1 ms"],
        &per_call,
    );
    for c in coordinators {
        c.stop();
    }
    let m: Vec<f64> = per_call.iter().map(|v| median(v)).collect();
    let p = median(&per_publication);
    // At the default 1 s interval, one publication per second of calls.
    let calls_per_s = 1e9 / m[0];
    vec![
        Row {
            id: "13",
            what: "metrics: one publication, recorder installed".to_owned(),
            ours: fmt_ns(p),
            reference: format!("{ops} ops, {series} series"),
            ratio: None,
            target: None,
        },
        Row {
            id: "13",
            what: "metrics: per call, publishing every 1 s".to_owned(),
            ours: format!("{:.3} ns/call", p / calls_per_s),
            reference: format!("at {calls_per_s:.0} calls/s"),
            ratio: None,
            target: None,
        },
        Row {
            id: "13",
            what: "metrics: publishing every 1 ms, added/call".to_owned(),
            ours: format!("{} ({}/call)", signed(added(&per_call, 1)), fmt_ns(m[1])),
            reference: format!("never {}/call", fmt_ns(m[0])),
            ratio: Some(m[1] / m[0]),
            target: None,
        },
    ]
}
