//! Worker mode: what a worker process runs instead of `main`.
//!
//! A pool starts a worker by re-executing the current executable with
//! [`ENV`] set to the parent's pid and stdin connected to one end of a Unix
//! socket pair. The executable may be anything: the user's binary, an example,
//! a `cargo test` harness. None of them calls into tokengate before `main`, so
//! the diversion has to happen earlier: [`WORKER_ENTRY`] is an ELF
//! `.init_array` entry (a Mach-O `__mod_init_func` entry on Apple targets),
//! which the loader runs before `main` in every executable that links this
//! crate. It returns at once unless [`ENV`] names the parent, and otherwise
//! serves calls until the parent goes away, then exits without ever reaching
//! `main`. This is the crate's only `unsafe` item; the alternative, a
//! `tokengate::worker_main()` line as the first statement of every `main`,
//! cannot be added to a test harness's generated `main` at all.
//!
//! A worker exits when its socket closes (the pool stopped, or the parent died
//! while the worker was idle), and a watchdog thread also checks every
//! [`WATCH`] whether the parent changed (the parent died while the worker was
//! busy): no worker outlives its parent by more than that.

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsFd as _;
use std::os::unix::net::UnixStream;
use std::os::unix::process::parent_id;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::codec::{self, Side};
use super::frame::{self, ERROR, FrameBuf, FrameReader, PANIC, READY, VALUE};
use super::{memory, registry};

/// Set, to the parent's pid, in a worker process's environment.
pub(crate) const ENV: &str = "TOKENGATE_WORKER";

/// Set in a worker process's environment when its parent reports panics
/// itself (a coordinator with a panic handler): the worker prints none.
pub(crate) const QUIET_PANICS: &str = "TOKENGATE_QUIET_PANICS";

/// The exit code of a worker that could not lift a call's memory limit after
/// the call: it must not serve another call under it.
const LIMIT_STUCK: i32 = 73;

/// How often a worker checks that its parent is still alive.
const WATCH: Duration = Duration::from_millis(50);

static IN_WORKER: AtomicBool = AtomicBool::new(false);

/// Whether this process is a tokengate worker process serving calls.
///
/// Guarded calls made inside a worker process run inline, on the calling
/// thread (see the [`process`](crate::process) docs).
pub fn is_worker_process() -> bool {
    IN_WORKER.load(Ordering::Relaxed)
}

/// The parent pid named by [`ENV`], if this process was started as a worker of
/// its parent (a grandchild that merely inherited the variable is not one).
fn started_as_worker() -> bool {
    std::env::var_os(ENV)
        .and_then(|value| value.to_str()?.parse::<u32>().ok())
        .is_some_and(|pid| pid == parent_id())
}

/// Whether this process was started as a worker but is running `main` anyway,
/// because the entry did not run (a platform without one): it must not start
/// workers of its own, which would do the same, without end.
pub(crate) fn entry_missed() -> bool {
    !is_worker_process() && started_as_worker()
}

/// Defines [`WORKER_ENTRY`] on the `$platform`s, whose loaders run the
/// initializers in the section it names, and [`SUPPORTED`] accordingly: the
/// list is written once, at the call below.
macro_rules! loader_entry {
    ($($platform:meta),* $(,)?) => {
        #[cfg(any($($platform),*))]
        #[allow(unsafe_code)]
        #[used]
        // SAFETY: placing a function pointer in the loader's initializer array
        // is sound when the function is safe to call before `main` with
        // whatever arguments the loader passes. `worker_entry` takes none (the
        // C ABI lets a callee ignore the `argc, argv, envp` glibc passes),
        // never unwinds (it catches every panic), and uses only what the C
        // runtime has set up before initializers run: the environment, file
        // descriptors, threads and the allocator. It does not rely on anything
        // std initialises in `main` (it reads no `std::env::args`), and in an
        // ordinary process it returns after one environment lookup.
        #[cfg_attr(not(target_vendor = "apple"), unsafe(link_section = ".init_array"))]
        #[cfg_attr(target_vendor = "apple", unsafe(link_section = "__DATA,__mod_init_func"))]
        pub(crate) static WORKER_ENTRY: extern "C" fn() = worker_entry;

        /// Whether this platform has a worker entry; elsewhere process-pool
        /// calls fail with an error that says so.
        pub(crate) const SUPPORTED: bool = cfg!(any($($platform),*));
    };
}

loader_entry!(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    target_os = "illumos",
    target_vendor = "apple",
);

extern "C" fn worker_entry() {
    if !started_as_worker() {
        return;
    }
    let code = catch_unwind(serve).unwrap_or(70);
    std::process::exit(code);
}

/// Serves calls on the socket at stdin until it closes; the exit code.
fn serve() -> i32 {
    IN_WORKER.store(true, Ordering::Relaxed);
    if std::env::var_os(QUIET_PANICS).is_some() {
        // The parent hands the message, sent back with the call's result, to
        // its panic handler.
        std::panic::set_hook(Box::new(|_| {}));
    }
    let Ok(fd) = io::stdin().as_fd().try_clone_to_owned() else {
        return 71;
    };
    let mut socket = UnixStream::from(fd);
    watch_parent(parent_id());

    let Ok(ready) = FrameBuf::new(READY).finish() else {
        return 71;
    };
    if frame::send(&mut socket, &ready).is_err() {
        return 0;
    }
    let mut reader = FrameReader::new();
    // Calls read and not started yet, in arrival order; replies and
    // `STARTED`s not written yet.
    let mut queue: VecDeque<Vec<u8>> = VecDeque::new();
    let mut out = Vec::new();
    let mut spare = Vec::new();
    loop {
        // Take in every frame that has arrived (a `CANCEL` takes its call out
        // of the queue before it starts); wait for one only with nothing to
        // run, once the replies are out. A lone call the parent counts as
        // started already is never cancelled by a frame (the parent kills
        // this worker instead): it starts without a look for more.
        while queue.is_empty()
            || reader.buffered()
            || (!(queue.len() == 1 && implicit(&queue[0])) && readable(&socket))
        {
            if queue.is_empty() && !flush(&mut socket, &mut out) {
                return 0;
            }
            match reader.next(&mut socket, || true) {
                Ok((frame::CALL, body)) => queue.push_back(body),
                Ok((frame::CANCEL, body)) => {
                    let id = frame::split_id(&body).map(|(id, _)| id);
                    let queued = queue
                        .iter()
                        .position(|call| frame::split_id(call).map(|(id, _)| id) == id);
                    if let (Some(at), Some(id)) = (queued, id) {
                        drop(queue.remove(at));
                        FrameBuf::tagged(&mut out, frame::SKIPPED, id, &[]);
                    }
                }
                // A frame this worker does not know: a parent of another version.
                Ok(_) => return 72,
                // The pool closed the socket, or the parent died.
                Err(_) => return 0,
            }
        }
        let body = queue.pop_front().expect("a call is queued");
        let request = frame::split_call(&body);
        if let Some(request) = &request
            && request.flags & frame::IMPLICIT_START == 0
        {
            // Out before the call runs: a parent that sees this worker die
            // knows the call may have run, and does not send it again.
            FrameBuf::tagged(&mut out, frame::STARTED, request.id, &[]);
            if !flush(&mut socket, &mut out) {
                return 0;
            }
        }
        let started = std::time::Instant::now();
        let id = frame::split_id(&body).map_or(0, |(id, _)| id);
        let (mut reply, limit_lifted) = answer(id, request, spare);
        frame::set_ran(&mut reply, started.elapsed());
        reader.recycle(body);
        if out.is_empty() {
            std::mem::swap(&mut out, &mut reply);
        } else {
            out.extend_from_slice(&reply);
        }
        if !limit_lifted {
            flush(&mut socket, &mut out);
            return LIMIT_STUCK;
        }
        spare = reply;
    }
}

/// Whether the parent counts `CALL` body `call` as started once sent.
fn implicit(call: &[u8]) -> bool {
    frame::split_call(call).is_some_and(|request| request.flags & frame::IMPLICIT_START != 0)
}

/// Writes what `out` holds, if anything, and empties it; false if the parent
/// is gone.
fn flush(socket: &mut UnixStream, out: &mut Vec<u8>) -> bool {
    if out.is_empty() {
        return true;
    }
    let sent = frame::send(socket, out).is_ok();
    if out.capacity() > 64 << 20 {
        *out = Vec::new();
    } else {
        out.clear();
    }
    sent
}

/// Whether a frame (or the socket's end) is waiting to be read, without
/// waiting for one.
fn readable(socket: &UnixStream) -> bool {
    use rustix::event::{PollFd, PollFlags, poll};
    let mut fds = [PollFd::new(socket, PollFlags::IN)];
    matches!(poll(&mut fds, Some(&rustix::event::Timespec::default())), Ok(n) if n > 0)
}

/// The reply frame to `CALL` `id` (`request` is `None` if its body did not
/// parse), written into `buf`'s allocation, run under the call's memory
/// limit, if it has one; and whether the limit was lifted again (always, when
/// there was none).
fn answer(id: u64, request: Option<frame::Request<'_>>, buf: Vec<u8>) -> (Vec<u8>, bool) {
    let Some(request) = request else {
        let text = "a malformed call frame reached the worker process";
        return (message(buf, ERROR, id, text), true);
    };
    let Some(f) = registry::find(request.op) else {
        let exe = std::env::current_exe().unwrap_or_default();
        let text = format!(
            "no process_pool fn named `{}` is linked into {}; the worker runs the \
             parent's executable, so the fn must be part of it",
            request.op,
            exe.display()
        );
        return (message(buf, ERROR, id, &text), true);
    };
    let held = match request.memory_limit.map(memory::Held::new).transpose() {
        Ok(held) => held,
        Err(text) => return (message(buf, ERROR, id, &text), true),
    };
    let mut frame = FrameBuf::reuse(buf, VALUE);
    frame.body().extend_from_slice(&id.to_le_bytes());
    frame.body().extend_from_slice(&[0; 4]);
    let ran = catch_unwind(AssertUnwindSafe(|| (f.run)(request.args, frame.body())));
    // Before the reply allocates: the limit is the call's, not the worker's.
    let lifted = held.is_none_or(memory::Held::lift);
    let reply = match ran {
        Ok(Ok(())) => match frame.finish() {
            Ok(reply) => reply,
            Err(err) => message(Vec::new(), ERROR, id, &err.to_string()),
        },
        Ok(Err(err)) => {
            let text = codec::locate(&err, Side::Worker(std::process::id()));
            message(Vec::new(), ERROR, id, &text)
        }
        Err(payload) => {
            let text = crate::unwind::panic_message(&*payload);
            crate::unwind::drop_quietly(payload);
            message(Vec::new(), PANIC, id, &text)
        }
    };
    (reply, lifted)
}

fn message(buf: Vec<u8>, kind: u8, id: u64, text: &str) -> Vec<u8> {
    let mut frame = FrameBuf::reuse(buf, kind);
    frame.body().extend_from_slice(&id.to_le_bytes());
    frame.body().extend_from_slice(&[0; 4]);
    frame.body().extend_from_slice(text.as_bytes());
    frame.finish().expect("a message is small")
}

/// Exits this worker soon after its parent dies, even while a call runs.
fn watch_parent(parent: u32) {
    let watcher = std::thread::Builder::new()
        .name("tokengate-parent-watch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(WATCH);
                if parent_id() != parent {
                    std::process::exit(0);
                }
            }
        });
    // Without the watcher the socket still ends an idle worker.
    drop(watcher);
}
