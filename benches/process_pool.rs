//! Process-pool calls (`process_pool = true`) against procspawn, and against
//! tokengate's own thread path.
//!
//! A process-pool call pays for isolation with two process wake-ups and an
//! encoding on each side; these helpers measure what that costs, so that the
//! figures can be read next to a crate whose only job is running fns in other
//! processes:
//!
//! * **tokengate, process**: a `process_pool = true` guarded fn, `.wait()`ed,
//!   on a coordinator whose worker processes (one per logical CPU) are warm;
//! * **procspawn**: a `procspawn::Pool` of the same size (one process per
//!   logical CPU), `spawn(args, fn)` then `join()`;
//! * **tokengate, thread**: a guarded fn with the same body on the same
//!   coordinator's worker threads, for reference.
//!
//! Both process systems re-execute the current executable and divert the
//! copy before it does anything else: tokengate when its loader entry finds
//! `TOKENGATE_WORKER`, procspawn when `procspawn::init()`, the first line of
//! `main`, finds its own variable. Neither variable is set in the parent, so
//! a worker of one system never turns into a worker of the other. Every
//! executable that uses these helpers must call `procspawn::init()` first.
//!
//! The values are what a user would write: `u64`, and a plain `Vec<u8>`.
//! tokengate sends a `Vec<u8>` argument as one block; procspawn encodes it as
//! a sequence of bytes, one element at a time, unless the user wraps it for
//! `serde_bytes`, which these helpers do not.

use std::hint::black_box;
use std::time::{Duration, Instant};

use tokengate::{OperationsCoordinator, TaskToken, task_token_guard};

/// The process-pool no-op: returns its argument, from a worker process.
#[task_token_guard(op = "bench_process_echo", process_pool = true)]
pub fn process_echo(x: u64) -> u64 {
    black_box(x)
}

/// Sums the bytes of its argument in a worker process (see [`checksum`]).
#[task_token_guard(op = "bench_process_checksum", process_pool = true)]
pub fn process_checksum(data: Vec<u8>) -> u64 {
    checksum(&data)
}

/// [`process_checksum`]'s twin on the thread path: same body, no process.
#[task_token_guard(op = "bench_thread_checksum")]
pub fn thread_checksum(data: Vec<u8>) -> u64 {
    checksum(&data)
}

/// `iterations` of [`spin`](crate::work::spin) in a worker process; the twin
/// of [`cpu_spin`](crate::systems::cpu_spin) (default weight, like it).
#[task_token_guard(op = "bench_process_spin", process_pool = true)]
pub fn process_spin(iterations: u64) -> u64 {
    crate::work::spin(iterations)
}

/// procspawn's no-op.
fn procspawn_echo(x: u64) -> u64 {
    black_box(x)
}

/// procspawn's [`checksum`] call.
fn procspawn_checksum(data: Vec<u8>) -> u64 {
    checksum(&data)
}

/// procspawn's [`spin`](crate::work::spin) call.
fn procspawn_spin(iterations: u64) -> u64 {
    crate::work::spin(iterations)
}

/// The wrapping sum of `data` read as little-endian 64-bit words (the tail
/// zero-padded): every byte counts, so an argument that did not arrive whole
/// gives another sum, and at 8 bytes a step it costs little next to moving
/// the bytes, which is what the large-argument figures are about.
pub fn checksum(data: &[u8]) -> u64 {
    let words = data.chunks_exact(8);
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    words
        .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")))
        .fold(u64::from_le_bytes(tail), u64::wrapping_add)
}

/// A deterministic `len`-byte argument (not all one value, not all zeros).
pub fn bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// One MiB: the large-argument case.
pub const MIB: usize = 1 << 20;

/// How a call reaches the code that runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carrier {
    /// A `process_pool = true` guarded fn, `.wait()`ed.
    Process,
    /// `procspawn::Pool::spawn`, `join()`ed.
    Procspawn,
    /// A guarded fn on tokengate's worker threads, `.wait()`ed.
    Thread,
}

impl Carrier {
    /// Every carrier.
    pub const ALL: [Carrier; 3] = [Carrier::Process, Carrier::Procspawn, Carrier::Thread];

    /// Short, stable names (used as criterion ids).
    pub const fn name(self) -> &'static str {
        match self {
            Carrier::Process => "tokengate_process",
            Carrier::Procspawn => "procspawn_pool",
            Carrier::Thread => "tokengate_thread",
        }
    }
}

impl std::fmt::Display for Carrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A call in flight on one carrier.
enum Pending<T> {
    Token(TaskToken<T>),
    Procspawn(procspawn::JoinHandle<T>),
}

impl<T: Send + serde::Serialize + serde::de::DeserializeOwned + 'static> Pending<T> {
    fn finish(self) -> T {
        match self {
            Pending::Token(token) => token.wait().expect("tokengate call failed"),
            Pending::Procspawn(handle) => handle.join().expect("procspawn call failed"),
        }
    }
}

/// A coordinator with warm worker processes and a procspawn pool of the same
/// size, started once and reused.
#[derive(Debug)]
pub struct ProcessHarness {
    /// Runs the tokengate calls, process and thread alike.
    pub coordinator: OperationsCoordinator,
    /// procspawn's warm processes.
    pub pool: procspawn::Pool,
}

impl Default for ProcessHarness {
    fn default() -> Self {
        ProcessHarness::new()
    }
}

impl ProcessHarness {
    /// Starts both pools (one process per logical CPU each, started now) and
    /// warms them: every process has served calls before anything is timed.
    ///
    /// # Panics
    ///
    /// Panics if either pool cannot start, or if `procspawn::init()` was not
    /// called first in `main`.
    pub fn new() -> ProcessHarness {
        let processes = crate::machine::cores();
        let coordinator = OperationsCoordinator::builder()
            .process_workers(processes)
            .prestart_processes(true)
            .start()
            .expect("coordinator starts");
        let pool = procspawn::Pool::new(processes).expect("procspawn pool starts");
        let harness = ProcessHarness { coordinator, pool };
        for carrier in Carrier::ALL {
            harness.batch(carrier, 200);
        }
        harness
    }

    /// Starts the no-op call for `x` on `carrier`.
    fn echo(&self, carrier: Carrier, x: u64) -> Pending<u64> {
        match carrier {
            Carrier::Process => Pending::Token(process_echo(x)),
            Carrier::Procspawn => Pending::Procspawn(self.pool.spawn(x, procspawn_echo)),
            Carrier::Thread => Pending::Token(crate::systems::noop(x)),
        }
    }

    /// `n` sequential round trips of a `u64 -> u64` no-op: one latency each.
    pub fn round_trip(&self, carrier: Carrier, n: u64) -> Vec<Duration> {
        let _bound = self.coordinator.enter();
        (0..n)
            .map(|i| {
                let start = Instant::now();
                let value = self.echo(carrier, i).finish();
                let elapsed = start.elapsed();
                assert_eq!(value, i);
                elapsed
            })
            .collect()
    }

    /// Starts `n` no-op calls, then waits for each in order; the total time.
    pub fn batch(&self, carrier: Carrier, n: u64) -> Duration {
        let _bound = self.coordinator.enter();
        let start = Instant::now();
        let pending: Vec<Pending<u64>> = (0..n).map(|i| self.echo(carrier, i)).collect();
        for (i, call) in (0..n).zip(pending) {
            assert_eq!(call.finish(), i);
        }
        start.elapsed()
    }

    /// One round trip of `data` (moved in, as a caller that has it would):
    /// the callee returns its [`checksum`]. Making `data` is not timed.
    pub fn bytes_round_trip(&self, carrier: Carrier, data: Vec<u8>) -> Duration {
        let _bound = self.coordinator.enter();
        let expected = checksum(&data);
        let start = Instant::now();
        let call = match carrier {
            Carrier::Process => Pending::Token(process_checksum(data)),
            Carrier::Procspawn => Pending::Procspawn(self.pool.spawn(data, procspawn_checksum)),
            Carrier::Thread => Pending::Token(thread_checksum(data)),
        };
        let sum = call.finish();
        let elapsed = start.elapsed();
        assert_eq!(sum, expected, "the argument arrived whole");
        elapsed
    }

    /// Starts `calls` calls of `iterations` spin rounds each, then waits for
    /// them all; the wall time.
    pub fn cpu_burst(&self, carrier: Carrier, calls: usize, iterations: u64) -> Duration {
        let _bound = self.coordinator.enter();
        let start = Instant::now();
        let pending: Vec<Pending<u64>> = (0..calls)
            .map(|_| match carrier {
                Carrier::Process => Pending::Token(process_spin(iterations)),
                Carrier::Procspawn => {
                    Pending::Procspawn(self.pool.spawn(iterations, procspawn_spin))
                }
                Carrier::Thread => Pending::Token(crate::systems::cpu_spin(iterations)),
            })
            .collect();
        let results: Vec<u64> = pending.into_iter().map(Pending::finish).collect();
        let elapsed = start.elapsed();
        assert!(
            results.windows(2).all(|w| w[0] == w[1]),
            "spin is deterministic"
        );
        elapsed
    }
}

/// How a cold start was timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColdStart {
    /// `OperationsCoordinator::builder().start()`, then the first process-pool
    /// call, which starts its worker process.
    FirstCall,
    /// `builder().prestart_processes(true).start()` (every worker process
    /// started and ready before `start` returns), then the first call.
    Prestart,
    /// `procspawn::spawn(x, f).join()`: a new process for one call.
    ProcspawnOneShot,
    /// `procspawn::Pool::new(cores)`, then the first call.
    ProcspawnPool,
}

impl ColdStart {
    /// Every way.
    pub const ALL: [ColdStart; 4] = [
        ColdStart::FirstCall,
        ColdStart::Prestart,
        ColdStart::ProcspawnOneShot,
        ColdStart::ProcspawnPool,
    ];

    /// Short, stable names (used as criterion ids).
    pub const fn name(self) -> &'static str {
        match self {
            ColdStart::FirstCall => "tokengate_first_call",
            ColdStart::Prestart => "tokengate_prestart",
            ColdStart::ProcspawnOneShot => "procspawn_one_shot",
            ColdStart::ProcspawnPool => "procspawn_pool",
        }
    }
}

impl std::fmt::Display for ColdStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One cold start's two figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cold {
    /// From the first line to a started pool (`start()` or `Pool::new`
    /// returned); zero for a one-shot spawn, which has no pool.
    pub started: Duration,
    /// From the first line to the first call's result.
    pub first_result: Duration,
}

/// Times one cold start of `how`, with one process per logical CPU. Tearing
/// down afterwards (stopping the coordinator, killing procspawn's pool) is
/// not timed.
///
/// # Panics
///
/// Panics if a pool cannot start or its call fails.
pub fn cold_start(how: ColdStart) -> Cold {
    let processes = crate::machine::cores();
    let start = Instant::now();
    match how {
        ColdStart::FirstCall | ColdStart::Prestart => {
            let coordinator = OperationsCoordinator::builder()
                .process_workers(processes)
                .prestart_processes(how == ColdStart::Prestart)
                .start()
                .expect("coordinator starts");
            let started = start.elapsed();
            let value = coordinator.run(|| process_echo(7).wait());
            let first_result = start.elapsed();
            assert_eq!(value.expect("first call"), 7);
            coordinator.stop();
            Cold {
                started,
                first_result,
            }
        }
        ColdStart::ProcspawnOneShot => {
            let value = procspawn::spawn(7u64, procspawn_echo).join();
            let first_result = start.elapsed();
            assert_eq!(value.expect("one-shot call"), 7);
            Cold {
                started: Duration::ZERO,
                first_result,
            }
        }
        ColdStart::ProcspawnPool => {
            let pool = procspawn::Pool::new(processes).expect("procspawn pool starts");
            let started = start.elapsed();
            let value = pool.spawn(7u64, procspawn_echo).join();
            let first_result = start.elapsed();
            assert_eq!(value.expect("first pooled call"), 7);
            drop(pool);
            Cold {
                started,
                first_result,
            }
        }
    }
}
