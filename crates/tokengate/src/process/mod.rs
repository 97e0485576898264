//! Process-pool calls (Unix): `process_pool = true` runs a call in a warm worker
//! process, for isolation.
//!
//! Threads already run Rust code in parallel; what a process adds is a wall.
//! A call that crashes (abort, segfault, `exit`), leaks, or must be stopped
//! hard cannot take the application with it, and killing it really stops it.
//!
//! ```text
//! caller                worker thread (any lane)            worker process
//!   │ args moved in       │                                   │
//!   │ submit ───────────▶ │ body: encode args (postcard)      │
//!   │                     │ checkout idle process ──CALL────▶ │ decode, run fn
//!   │                     │ wait, poll cancel every 5 ms      │ (catch panics)
//!   │ token ◀── resolve ─ │ decode ◀───────VALUE/PANIC/ERROR─ │ encode result
//! ```
//!
//! # One coordinator
//!
//! A process-pool call is an ordinary call whose body happens to be "run this
//! in a worker process". It is admitted, queued in its weight's lane, placed on
//! a worker thread, paused, drained, killed and counted exactly like a thread
//! call; only its body's run time is spent waiting on a socket. At most
//! [`process_workers`] calls run in processes at once (default: one per
//! core); more wait for a free process on their worker thread.
//!
//! While they wait they hold that thread, so give process-pool fns the weight
//! of the work they do, usually `"heavy"`: each core group keeps one worker
//! for its home weights, so a backlog of heavy process calls never holds the
//! workers that medium and light calls are served by first.
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
//! - A worker that dies fails the token it was running with
//!   [`TaskError::is_worker_lost`] and is replaced in the background. A call
//!   that may have reached a worker is never resent, so no call runs twice;
//!   one that certainly did not (its worker died while idle) goes to another
//!   worker.
//! - [`kill`](crate::TaskToken::kill), a `timeout`, or a stop that outlasts
//!   its stop timeout kills the worker process running the call (SIGKILL)
//!   within a few milliseconds, reaps it and starts a replacement.
//! - Workers exit when their coordinator stops (every one is reaped before
//!   `stop` returns) and within 50 ms of their parent's death.
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
//!   not to a process).
//! - An `external_calls` process-pool fn is a lead as on threads, and is
//!   itself routed to its parent's lead group when it is a child. The children
//!   it calls from inside its worker process run inline in that process, which
//!   is the strongest affinity a domain can have.
//!
//! [`process_workers`]: crate::CoordinatorBuilder::process_workers
//! [`CoordinatorBuilder::prestart_processes`]: crate::CoordinatorBuilder::prestart_processes
//! [`TaskError::is_panic`]: crate::TaskError::is_panic
//! [`TaskError::is_process_failure`]: crate::TaskError::is_process_failure
//! [`TaskError::is_worker_lost`]: crate::TaskError::is_worker_lost

pub(crate) mod codec;
mod entry;
mod frame;
mod pool;
pub(crate) mod registry;

use std::cell::Cell;
use std::sync::Arc;

use crate::error::{Failure, Reason};

use codec::Side;
pub use entry::is_worker_process;
pub(crate) use pool::{OnPanic, ProcessPool};
use registry::ProcessFn;

/// The body of a process-pool call, run on the worker thread the call was
/// placed on: sends the call to a worker process of `pool` (its coordinator's)
/// and returns its value.
///
/// With no pool (a process-pool fn calling another one inside a worker
/// process), the fn runs right here instead, through the same encoding, so
/// that it sees the same values it would have seen in a process of its own.
pub(crate) fn dispatch<T>(
    pool: Option<&Arc<ProcessPool>>,
    entry: &'static ProcessFn,
    encode_args: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
    decode: fn(&[u8]) -> Result<T, String>,
) -> T {
    let reply = match pool {
        Some(pool) => send(pool, entry, encode_args),
        None => {
            let mut args = Vec::new();
            let mut reply = Vec::new();
            encode_args(&mut args)
                .map_err(|err| codec::locate(&err, Side::Caller))
                .and_then(|()| {
                    (entry.run)(&args, &mut reply)
                        .map_err(|err| codec::locate(&err, Side::Worker(std::process::id())))
                })
                .map(|()| reply)
                .map_err(Reason::Process)
        }
    };
    match reply {
        Ok(reply) => decode(&reply).unwrap_or_else(|err| {
            Failure::raise(Reason::Process(codec::locate(&err, Side::Caller)))
        }),
        Err(kind) => Failure::raise(kind),
    }
}

/// Sends one call to a worker process of `pool`.
fn send(
    pool: &Arc<ProcessPool>,
    entry: &'static ProcessFn,
    encode_args: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
) -> Result<Vec<u8>, Reason> {
    thread_local! {
        /// The last request's allocation, reused: a worker thread sending
        /// large arguments does not fault in a fresh buffer for each call.
        static REQUEST: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    }
    let mut request = frame::FrameBuf::call(REQUEST.take(), entry.op);
    encode_args(request.body())
        .map_err(|err| Reason::Process(codec::locate(&err, Side::Caller)))?;
    let request = request
        .finish()
        .map_err(|err| Reason::Process(err.to_string()))?;
    let reply = pool.call(&request, &crate::is_cancelled);
    if request.capacity() <= 64 << 20 {
        REQUEST.set(request);
    }
    reply
}
