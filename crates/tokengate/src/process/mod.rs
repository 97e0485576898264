//! Process-pool calls (Unix): `process_pool = true` runs a call in a warm worker
//! process, for isolation.
//!
//! Threads already run Rust code in parallel; what a process adds is a wall.
//! A call that crashes (abort, segfault, `exit`), leaks, or must be stopped
//! hard cannot take the application with it, and killing it really stops it.
//!
//! ```text
//! caller                          coordinator                       worker process
//!   │ args encoded (postcard)       │                                 │
//!   │ submit ─────────────────────▶ │ a process has room: CALL(id) ─▶ │ decode, run fn
//!   │                               │ else: process queue of its      │ (catch panics),
//!   │                               │ weight (no thread held)         │ one call at a time
//!   │ token ◀── resolve ─ reader ◀──┼──────────── VALUE/PANIC/ERROR(id)│ encode result
//!   │           thread: decode,     │ and send the next queued call
//! ```
//!
//! # One coordinator
//!
//! A process-pool call is an ordinary call whose body happens to run in a
//! worker process. It is admitted, queued, paused, drained, killed, timed out,
//! retried and counted exactly like a thread call, but it never occupies a
//! worker thread: it waits in its weight's *process queue* (one per weight,
//! bounded by `lane_capacity` under the full-lane policy, like a lane) until a
//! worker process has room, and is handed to the pool from whichever thread
//! finds room: the caller's, when a process is free at once, or the reader
//! thread that just got a reply. The queues are served one call per weight in
//! turn, each in call order. So a backlog of process calls holds no thread
//! that thread calls need, whatever their weight, and at most
//! [`process_workers`] calls run in processes at once (default: one per core).
//!
//! Calls are pipelined: once every worker process has started, up to
//! [`process_pipeline`] calls (default 8) are in flight to one, always the
//! least busy. A worker runs them one at a time, in order, so it starts the
//! next as soon as it has answered one, and a batch of short calls costs no
//! round trip per call. Calls are only sent behind short ones (under a
//! millisecond): behind a long call they wait in their process queue and go
//! to whichever process frees up first.
//!
//! Calls whose tags route them to a thread keep that route: a `sticky_anchor`
//! call waits in its domain and a lead's child in its lead's group (see
//! below), and the worker thread that runs it sends it to a worker process and
//! blocks until its reply.
//!
//! # Workers
//!
//! A worker is the current executable, re-executed with an environment
//! variable that diverts it into worker mode before `main` (an ELF
//! `.init_array` or Mach-O `__mod_init_func` entry, `src/process/entry.rs`,
//! the crate's one `unsafe` item), so no code needs adding to `main`, and
//! binaries, examples, test harnesses and doctests all work as they are. It
//! finds fns by op name in a registry the linker builds, so parent and worker
//! need no shared address layout. Workers start on first use (or all at once
//! with [`CoordinatorBuilder::prestart_processes`]) and stay warm.
//!
//! A worker inherits the parent's environment, working directory, stdout and
//! stderr (so its prints and panic messages show up as usual). Its stdin is
//! the socket to its parent: a process-pool fn must not read stdin, and should
//! give any process it starts a stdin of its own (`Stdio::null()`).
//!
//! Frames are length-prefixed (`src/process/frame.rs`); arguments and results
//! are serde values in postcard's compact binary encoding, and `Vec<u8>` ones
//! travel as one block (`src/process/codec.rs`).
//!
//! `remote` fns share the registry and the encoding: a worker host finds a
//! remote call's fn by its op name the same way, and without a remote backend
//! a coordinator runs remote calls here, as process-pool calls (see
//! [`remote`](crate::remote)).
//!
//! # Faults and cancellation
//!
//! - A panic in the fn fails the token with the panic message
//!   ([`TaskError::is_panic`]); the worker lives on.
//! - A value that cannot cross (a `Serialize` or `Deserialize` impl reports
//!   an error, or the bytes do not match the type) fails the token with
//!   [`TaskError::is_process_failure`]; the worker lives on. The error names
//!   the step and the side (encoding the arguments in the caller, decoding
//!   them in worker process `pid`, encoding the value there, or decoding it in
//!   the caller) and quotes the impl's own message, such as "email is not
//!   valid", which postcard alone would drop (`src/process/codec.rs`).
//! - A worker that dies fails the call it was running with
//!   [`TaskError::is_worker_lost`] and is replaced in the background. A
//!   worker reports each call it starts (in the same write as the previous
//!   call's reply, so it costs nothing when calls queue), so the pool knows
//!   which of the calls in flight to it it may have run: only that one fails.
//!   The calls queued behind it, which it certainly had not started, go to
//!   another worker, in order ([`ProcessStats::resent`]). A call that may
//!   have started is never resent, so no call runs twice. A call sent to a
//!   worker with nothing else in flight counts as started when it is sent
//!   (the worker starts it as soon as it reads it), so one handed to a worker
//!   that died idle, or whose threads the kernel is still tearing down after
//!   a kill, fails as lost; `retries` with `retry_on = ["worker_lost"]`
//!   covers that for fns that are safe to repeat.
//! - [`kill`](crate::TaskToken::kill), a `timeout`, or a stop that outlasts
//!   its stop timeout, of a call a worker may be running kills that worker
//!   process (SIGKILL) at once, reaps it and starts a replacement; the calls
//!   queued behind it go to another worker. A killed call that is still in
//!   its process queue, or queued in a worker behind another call, never
//!   runs and costs its worker nothing: the worker skips it.
//! - Workers exit when their coordinator stops (every one is reaped before
//!   `stop` returns) and within 50 ms of their parent's death.
//! - A call that allocates past its fn's `memory_limit` fails with
//!   [`TaskError::is_memory_limit`], and its worker is replaced (below).
//!
//! # Memory limits
//!
//! `memory_limit = "256MiB"` on a `process_pool` fn holds the worker process
//! running a call to that much memory on top of what the worker held when the
//! call started. The limit travels with the call, in its frame; the worker
//! lowers its soft `RLIMIT_DATA` to its current data size plus the limit,
//! runs the call (decoding its arguments and encoding its value included), and
//! puts its own limit back, so that the next call, limited or not, starts
//! afresh (`src/process/memory.rs`). An allocation past the limit fails, Rust
//! aborts the process on a failed allocation (after printing `memory
//! allocation of N bytes failed` to the inherited stderr), and the call fails
//! with an error that names the limit. The worker is replaced like any lost
//! one; the error is not [`is_worker_lost`](crate::TaskError::is_worker_lost), since
//! the same call would only exceed its limit again.
//!
//! Why `RLIMIT_DATA`: since Linux 4.7 it counts every private writable
//! mapping, which is what a call's allocations are (the heap, anonymous
//! `mmap`s, thread stacks), and not the executable, shared libraries, files
//! mapped for reading, or address space that is only reserved. `RLIMIT_AS`
//! counts all of those: measured on Linux 6.18 with glibc, a worker of the
//! test harness maps 75 MiB of address space at rest, 64 MiB of it the malloc
//! arena that glibc reserves (unbacked) for its watchdog thread, and another
//! 64 MiB appears whenever a new thread first allocates; its data size is
//! 2.4 MiB. A cgroup's `memory.max` would count pages actually used, but needs
//! a cgroup v2 hierarchy delegated to the process, which containers and CI
//! runners rarely give, and it ends a process with SIGKILL, which says
//! nothing. Counting from the worker's size when the call starts, rather than
//! from zero, keeps the worker's own memory (its executable's data, the pool's
//! buffers, what the allocator keeps from earlier calls) out of the call's
//! budget: a 64 MiB-limited call allocates a 63 MiB block and fails on a
//! 64 MiB one. Holding and lifting the limit costs about 8 µs per limited call
//! (reading `/proc/self/status`, three `rlimit` calls), against some 100 µs
//! for a process call's round trip; a call without a limit pays nothing.
//!
//! What to know:
//!
//! - The limit counts address space taken, not pages touched:
//!   `Vec::with_capacity(n)` counts `n` bytes at once. Threads the call starts
//!   share the limit (it is the process's), and their stacks count.
//! - It bounds each call, not the worker over time: memory a call keeps after
//!   it returns (a leak, a cache in a `static`) is part of what the next call
//!   starts from.
//! - A call that handles a failed allocation itself (`Vec::try_reserve`) sees
//!   the error and may carry on under the limit.
//! - The parent sees only that the worker aborted while a limited call ran. A
//!   limited call that aborts for another reason (a stack overflow,
//!   `std::process::abort`, a panic under `panic = "abort"`) is reported as
//!   exceeding its limit too; the error quotes the worker's exit status. A
//!   worker that dies otherwise (a signal, an exit) is reported as lost.
//! - A process-pool call made inside a worker process runs inline (below),
//!   under the limit of the call it runs in, if any, not its own.
//! - Linux (and Android) only: elsewhere `RLIMIT_DATA` does not count
//!   `mmap`ed allocations, so a call with a memory limit fails with
//!   [`TaskError::is_process_failure`] and a message that says so, rather than
//!   run unbounded.
//!
//! # Guarded calls inside a worker process
//!
//! A worker process has no coordinator. A guarded call made there (by a
//! process-pool fn calling another guarded fn) runs inline, on the calling
//! thread, before the call returns its (already resolved) token: the outer
//! call is already isolated and already holds a core, and sending work back to
//! the parent would let a worker block on a parent that is waiting for it.
//! Tags are not applied inline: weights, tiers and sticky domains are the
//! parent's; the outer call's timeout and kill cover the inner calls, since
//! they end the whole process.
//!
//! # `sticky_anchor` and `external_calls`
//!
//! Both are honoured in the parent, where the call is routed:
//!
//! - A `sticky_anchor` process-pool fn is serialised per key as on threads:
//!   one member of a domain runs at a time, in submission order, each in
//!   whichever worker process is free (a domain is pinned to a worker thread,
//!   not to a process). Its members wait in their domain, and the member
//!   running holds its domain's worker thread while its worker process runs
//!   it.
//! - An `external_calls` process-pool fn is a lead as on threads (it waits in
//!   its weight's process queue like any process call), and is itself routed
//!   to its parent's lead group when it is a child (then it holds a worker
//!   thread of that group while it runs). The children it calls from inside
//!   its worker process run inline in that process, which is the strongest
//!   affinity a domain can have.
//!
//! [`process_workers`]: crate::CoordinatorBuilder::process_workers
//! [`process_pipeline`]: crate::CoordinatorBuilder::process_pipeline
//! [`ProcessStats::resent`]: crate::stats::ProcessStats::resent
//! [`CoordinatorBuilder::prestart_processes`]: crate::CoordinatorBuilder::prestart_processes
//! [`TaskError::is_panic`]: crate::TaskError::is_panic
//! [`TaskError::is_process_failure`]: crate::TaskError::is_process_failure
//! [`TaskError::is_worker_lost`]: crate::TaskError::is_worker_lost
//! [`TaskError::is_memory_limit`]: crate::TaskError::is_memory_limit

pub(crate) mod codec;
mod entry;
mod frame;
mod memory;
mod pool;
pub(crate) mod registry;

use std::num::NonZeroU64;
use std::sync::Arc;

use crate::error::{Failure, Reason};

use codec::Side;
pub use entry::is_worker_process;
pub(crate) use pool::{OnPanic, ProcessJob, ProcessPool, Reply};
use registry::ProcessFn;

/// The body of a process-pool call run on a thread (a worker host's job,
/// a sticky or lead-group call, a call made inside a worker process): sends
/// the call to a worker process of `pool` and blocks until its value comes.
///
/// With no pool (a process-pool fn calling another one inside a worker
/// process), the fn runs right here instead, through the same encoding, so
/// that it sees the same values it would have seen in a process of its own,
/// and under the memory limit of the call it runs in, if any, rather than its
/// own.
pub(crate) fn dispatch<T>(
    pool: Option<&Arc<ProcessPool>>,
    entry: &'static ProcessFn,
    memory_limit: Option<NonZeroU64>,
    encode_args: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
    decode: fn(&[u8]) -> Result<T, String>,
) -> T {
    let Some(pool) = pool else {
        let mut args = Vec::new();
        let mut reply = Vec::new();
        let ran = encode_args(&mut args)
            .map_err(|err| codec::locate(&err, Side::Caller))
            .and_then(|()| {
                (entry.run)(&args, &mut reply)
                    .map_err(|err| codec::locate(&err, Side::Worker(std::process::id())))
            });
        return match ran {
            Ok(()) => decode_value(&reply, decode),
            Err(message) => Failure::raise(Reason::Process(message)),
        };
    };
    match call_frame(entry, memory_limit, encode_args) {
        Ok(frame) => dispatch_frame(pool, frame, memory_limit, decode),
        Err(message) => Failure::raise(Reason::Process(message)),
    }
}

/// [`dispatch`] of a `CALL` frame made already ([`call_frame`]), to be held
/// to `memory_limit` in the worker process.
pub(crate) fn dispatch_frame<T>(
    pool: &Arc<ProcessPool>,
    frame: Vec<u8>,
    memory_limit: Option<NonZeroU64>,
    decode: fn(&[u8]) -> Result<T, String>,
) -> T {
    // The call this thread runs, for a panic's report.
    let call =
        crate::scheduler::with_current(|job| job.map(|job| (job.header().op, job.header().id)));
    let reply = pool.call(frame, memory_limit, call, &crate::is_cancelled);
    report_lost(&reply);
    match reply {
        Ok(reply) => decode_value(reply.bytes(), decode),
        Err(reason) => Failure::raise(reason),
    }
}

/// The value in `bytes`, or the failure to read it (in the caller).
fn decode_value<T>(bytes: &[u8], decode: fn(&[u8]) -> Result<T, String>) -> T {
    decode(bytes)
        .unwrap_or_else(|err| Failure::raise(Reason::Process(codec::locate(&err, Side::Caller))))
}

/// The `CALL` frame of one call of `entry`, held to `memory_limit`, with its
/// arguments encoded by `encode_args`; or what went wrong, as the call's
/// failure message.
pub(crate) fn call_frame(
    entry: &'static ProcessFn,
    memory_limit: Option<NonZeroU64>,
    encode_args: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
) -> Result<Vec<u8>, String> {
    let mut request = frame::FrameBuf::call(Vec::new(), entry.op, memory_limit);
    encode_args(request.body()).map_err(|err| codec::locate(&err, Side::Caller))?;
    request.finish().map_err(|err| err.to_string())
}

/// Reports a call whose worker process died under it (with the `tracing`
/// feature, an error event, in the call's span where the caller entered it).
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
pub(crate) fn report_lost(result: &Result<Reply, Reason>) {
    #[cfg(feature = "tracing")]
    match result {
        Err(Reason::WorkerLost { pid, status }) => {
            tracing::error!(
                target: crate::telemetry::TARGET,
                pid,
                status = %status,
                "worker process lost"
            );
        }
        Err(Reason::MemoryLimit { limit, pid, status }) => {
            tracing::error!(
                target: crate::telemetry::TARGET,
                pid,
                status = %status,
                memory_limit = limit.get(),
                "worker process lost"
            );
        }
        _ => {}
    }
}
