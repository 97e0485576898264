//! The parent side: a pool of warm worker processes, and one call's exchange
//! with one of them.
//!
//! A process-pool call is an ordinary call whose body, run on a worker thread
//! like any other, checks out an idle worker process, sends it the call, and
//! blocks on the reply. Everything before that point (admission, lanes,
//! weights, pause, drain, sticky domains, stats) is the thread path unchanged.
//!
//! While it blocks, the thread wakes every [`POLL`] to check whether its call
//! was killed, timed out or shut down; if so it kills the worker process
//! (SIGKILL), reaps it and starts a replacement in the background. A worker
//! that dies on its own (abort, signal, exit) is noticed by its socket closing;
//! its call fails with a worker-lost error and it is replaced the same way.
//!
//! A worker that aborts while it runs a call with a `memory_limit` is taken
//! to have exceeded that limit (see `memory`): its call fails with a
//! memory-limit error that names the limit, not a worker-lost one.
//!
//! A call that may have reached a process is never resent, so nothing runs
//! twice. A call that certainly did not is sent to another process: a worker
//! found dead when it is checked out (it died while idle, say to the OOM
//! killer), or one whose socket refuses the call, is replaced and counted in
//! `died_idle`, and the call goes on to a live or fresh worker.
//!
//! # Stopping
//!
//! [`shutdown`](ProcessPool::shutdown) closes the pool, ends every worker it
//! holds, and then waits until no worker is being started or reaped
//! elsewhere (a replacement starting in the background, a killed call's worker
//! being reaped by its thread): a start in progress sees the pool closed
//! within one [`POLL`] and ends its process. So when it returns, no worker
//! process the pool ever started is alive.

use std::collections::HashMap;
use std::io;
use std::num::NonZeroU64;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::entry::{self, ENV};
use super::frame::{self, FrameReader, PANIC, READY, ReadError, VALUE};
use crate::error::{KillReason, Reason};
use crate::stats::ProcessStats;

/// How often a thread waiting on a worker process checks for cancellation.
const POLL: Duration = Duration::from_millis(5);

/// How long a new worker may take to report ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a stopping pool lets idle workers exit by themselves.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// Called with a panic's message and the worker's pid when a call panics in
/// a worker process, in place of the worker printing it.
pub(crate) type OnPanic = Box<dyn Fn(&str, u32) + Send + Sync>;

/// The worker processes of one coordinator.
pub(crate) struct ProcessPool {
    size: usize,
    /// Set: workers keep their panics quiet, and they are reported here.
    on_panic: Option<OnPanic>,
    state: Mutex<PoolState>,
    /// Signalled when a worker is checked in, or a slot frees up.
    freed: Condvar,
    spawned: AtomicU64,
    lost: AtomicU64,
    died_idle: AtomicU64,
    killed: AtomicU64,
}

#[derive(Debug, Default)]
struct PoolState {
    /// Workers waiting for a call, most recently used last.
    idle: Vec<Worker>,
    /// Every live worker process, idle or busy, by pid.
    children: HashMap<u32, Child>,
    /// Workers being started (they count against the size).
    starting: usize,
    /// Workers taken out of `children` and being killed or reaped by the
    /// thread that retired them; `shutdown` waits for them.
    reaping: usize,
    closed: bool,
}

/// A started worker process's connection.
#[derive(Debug)]
struct Worker {
    pid: u32,
    socket: UnixStream,
    reader: FrameReader,
}

/// What a thread waiting for a reply should do next.
enum Wait {
    Keep,
    Cancel,
    Dead,
}

/// How one exchange ended, for the caller to turn into a result.
enum Outcome {
    Reply(u8, Vec<u8>),
    /// The worker's socket refused the call: it died before the call reached it.
    NotDelivered,
    /// The worker died.
    Lost,
    /// The call was cancelled and the worker killed.
    Killed,
}

impl std::fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessPool")
            .field("size", &self.size)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl ProcessPool {
    pub(crate) fn new(size: usize, on_panic: Option<OnPanic>) -> ProcessPool {
        ProcessPool {
            size,
            on_panic,
            state: Mutex::new(PoolState::default()),
            freed: Condvar::new(),
            spawned: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            died_idle: AtomicU64::new(0),
            killed: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts workers until the pool is full. On an error, the ones it
    /// started are ended again.
    pub(crate) fn prestart(&self) -> io::Result<()> {
        let missing = {
            let state = self.lock();
            self.size - state.children.len() - state.starting
        };
        let mut started = Vec::with_capacity(missing);
        for _ in 0..missing {
            match self.spawn() {
                Ok(worker) => started.push(worker),
                Err(err) => {
                    for (worker, child) in started {
                        drop(worker);
                        end(child, EXIT_GRACE);
                    }
                    return Err(err);
                }
            }
        }
        let mut state = self.lock();
        for (worker, child) in started {
            state.children.insert(worker.pid, child);
            state.idle.push(worker);
        }
        Ok(())
    }

    /// Sends one finished `CALL` frame to a worker and returns the reply body.
    /// `memory_limit` is the one the frame carries, which a worker that
    /// aborts is taken to have exceeded.
    ///
    /// Runs on the thread running the call, as its body; `cancelled` tells it
    /// whether that call was killed, timed out or shut down meanwhile.
    pub(crate) fn call(
        self: &Arc<Self>,
        request: &[u8],
        memory_limit: Option<NonZeroU64>,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Vec<u8>, Reason> {
        loop {
            let worker = self.checkout(cancelled)?;
            if let Some(result) = self.call_on(worker, request, memory_limit, cancelled) {
                return result;
            }
            // Not delivered: the next worker is a live one, or a fresh one.
        }
    }

    /// Sends the call to `worker` and waits for its result; `None` if the
    /// call never reached it (the worker was dead), so it may go to another.
    fn call_on(
        self: &Arc<Self>,
        mut worker: Worker,
        request: &[u8],
        memory_limit: Option<NonZeroU64>,
        cancelled: &dyn Fn() -> bool,
    ) -> Option<Result<Vec<u8>, Reason>> {
        let pid = worker.pid;
        let mut polls = 0u32;
        // Every POLL: cancelled? Every 20 POLLs: still alive? (Its socket
        // closes when it dies, unless a process it started inherited it.)
        let waiting = || {
            if cancelled() {
                return Wait::Cancel;
            }
            polls += 1;
            if polls % 20 == 0 && self.exited(pid) {
                return Wait::Dead;
            }
            Wait::Keep
        };
        let result = match worker.exchange(request, waiting) {
            Outcome::Reply(VALUE, body) => {
                self.checkin(worker);
                Ok(body)
            }
            Outcome::Reply(PANIC, body) => {
                self.checkin(worker);
                let message = String::from_utf8_lossy(&body);
                if let Some(on_panic) = &self.on_panic {
                    on_panic(&message, pid);
                }
                Err(Reason::panic(message))
            }
            Outcome::Reply(frame::ERROR, body) => {
                self.checkin(worker);
                Err(Reason::Process(String::from_utf8_lossy(&body).into_owned()))
            }
            Outcome::Reply(kind, _) => {
                let exit = self.retire(worker, false);
                self.lost.fetch_add(1, Ordering::Relaxed);
                #[cfg(feature = "tracing")]
                tracing::error!(
                    target: crate::telemetry::TARGET,
                    pid,
                    status = %exit.status,
                    frame_kind = kind,
                    "worker process lost"
                );
                Err(Reason::Process(format!(
                    "worker process {pid} sent an unknown frame kind {kind} and was \
                     replaced ({})",
                    exit.status
                )))
            }
            Outcome::NotDelivered => {
                self.retire(worker, true);
                self.died_idle.fetch_add(1, Ordering::Relaxed);
                died_idle(pid);
                return None;
            }
            Outcome::Lost => {
                let Exit { status, aborted } = self.retire(worker, false);
                self.lost.fetch_add(1, Ordering::Relaxed);
                #[cfg(feature = "tracing")]
                tracing::error!(
                    target: crate::telemetry::TARGET,
                    pid,
                    status = %status,
                    memory_limit = memory_limit.filter(|_| aborted).map(NonZeroU64::get),
                    "worker process lost"
                );
                Err(match memory_limit {
                    // An allocation the limit refused aborts the worker.
                    Some(limit) if aborted => Reason::MemoryLimit { limit, pid, status },
                    _ => Reason::WorkerLost { pid, status },
                })
            }
            Outcome::Killed => {
                self.retire(worker, true);
                self.killed.fetch_add(1, Ordering::Relaxed);
                Err(Reason::Killed(KillReason::Token))
            }
        };
        Some(result)
    }

    /// An idle worker, a new one if the pool has room, or the next one freed.
    fn checkout(self: &Arc<Self>, cancelled: &dyn Fn() -> bool) -> Result<Worker, Reason> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return Err(Reason::Shutdown);
            }
            if let Some(worker) = state.idle.pop() {
                // A worker that died while idle has not seen this call: it
                // leaves the pool here, and the call goes on to the next one.
                let child = state.children.get_mut(&worker.pid);
                if child.is_some_and(|child| !matches!(child.try_wait(), Ok(None))) {
                    state.children.remove(&worker.pid);
                    self.died_idle.fetch_add(1, Ordering::Relaxed);
                    died_idle(worker.pid);
                    continue;
                }
                return Ok(worker);
            }
            if state.children.len() + state.starting < self.size {
                state.starting += 1;
                drop(state);
                return self.adopt(self.spawn());
            }
            if cancelled() {
                return Err(Reason::Killed(KillReason::Token));
            }
            state = self
                .freed
                .wait_timeout(state, POLL)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn checkin(&self, worker: Worker) {
        let mut state = self.lock();
        if state.closed {
            // Shutdown took the child already; closing the socket ends it.
            return;
        }
        state.idle.push(worker);
        drop(state);
        self.freed.notify_one();
    }

    /// Removes a worker that died or must die, kills and reaps it, and starts a
    /// replacement in the background. How it ended.
    fn retire(self: &Arc<Self>, worker: Worker, kill: bool) -> Exit {
        drop(worker.socket);
        let child = {
            let mut state = self.lock();
            let child = state.children.remove(&worker.pid);
            state.reaping += usize::from(child.is_some());
            child
        };
        let exit = match child {
            Some(child) => {
                // Unless killed, it closed its socket: it has exited or is
                // about to, so it gets a grace period first.
                let exit = end(child, if kill { Duration::ZERO } else { EXIT_GRACE });
                self.lock().reaping -= 1;
                self.freed.notify_all();
                exit
            }
            None => Exit {
                status: "stopped with its coordinator".to_owned(),
                aborted: false,
            },
        };
        self.replace();
        exit
    }

    /// Starts one worker on a short-lived thread, so that the pool is warm
    /// again without delaying the failed call's result.
    fn replace(self: &Arc<Self>) {
        {
            let mut state = self.lock();
            if state.closed || state.children.len() + state.starting >= self.size {
                return;
            }
            state.starting += 1;
        }
        let pool = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("tokengate-process-restart".into())
            .spawn(move || {
                // On an error, the next call that finds no idle worker tries
                // again, and reports the error if it persists.
                if let Ok(worker) = pool.adopt(pool.spawn()) {
                    pool.checkin(worker);
                }
            });
        if spawned.is_err() {
            self.lock().starting -= 1;
        }
    }

    /// Takes a worker started for a slot reserved in `starting` into the
    /// pool, or ends it if the pool closed meanwhile. Either way the slot is
    /// settled and a waiting checkout is told.
    fn adopt(&self, started: io::Result<(Worker, Child)>) -> Result<Worker, Reason> {
        let mut state = self.lock();
        let adopted = match started {
            Ok((worker, child)) if !state.closed => {
                state.children.insert(worker.pid, child);
                Ok(worker)
            }
            Ok((_, child)) => {
                // Ended before the slot is settled: a stopping pool waits for
                // the slot, so no worker it started outlives `shutdown`.
                drop(state);
                end(child, Duration::ZERO);
                state = self.lock();
                Err(Reason::Shutdown)
            }
            Err(err) if state.closed => {
                drop(err);
                Err(Reason::Shutdown)
            }
            Err(err) => Err(Reason::Process(format!(
                "could not start a worker process: {err}"
            ))),
        };
        state.starting -= 1;
        drop(state);
        self.freed.notify_all();
        adopted
    }

    /// Starts one worker process and waits until it reports ready.
    fn spawn(&self) -> io::Result<(Worker, Child)> {
        if !entry::SUPPORTED {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "process_pool fns need Linux, a BSD, illumos or macOS",
            ));
        }
        if entry::entry_missed() {
            return Err(io::Error::other(
                "this process was started as a tokengate worker but its worker entry did \
                 not run, so it cannot start workers of its own",
            ));
        }
        let (ours, theirs) = UnixStream::pair()?;
        let child = {
            // The command owns the child's end until it is dropped here; from
            // then on the child holds the only copy, and its exit closes the
            // socket.
            let mut command = Command::new(std::env::current_exe()?);
            command
                .env(ENV, std::process::id().to_string())
                .stdin(Stdio::from(OwnedFd::from(theirs)));
            if self.on_panic.is_some() {
                command.env(entry::QUIET_PANICS, "1");
            }
            command.spawn()?
        };
        let pid = child.id();
        let mut worker = Worker {
            pid,
            socket: ours,
            reader: FrameReader::new(),
        };
        let ready = worker.socket.set_read_timeout(Some(POLL)).and_then(|()| {
            let deadline = Instant::now() + READY_TIMEOUT;
            // A pool that closes meanwhile does not wait for the new worker.
            let keep_waiting = || Instant::now() < deadline && !self.lock().closed;
            match worker.reader.next(&mut worker.socket, keep_waiting) {
                Ok((READY, _)) => Ok(()),
                Ok((kind, _)) => Err(io::Error::other(format!(
                    "worker process {pid} sent frame kind {kind} instead of ready"
                ))),
                Err(ReadError::Abandoned) if self.lock().closed => Err(io::Error::other(
                    "the pool stopped while a worker process was starting",
                )),
                Err(ReadError::Abandoned) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("worker process {pid} did not report ready within {READY_TIMEOUT:?}"),
                )),
                Err(ReadError::Closed) => Err(io::Error::other(format!(
                    "worker process {pid} exited before it was ready; does the executable \
                     link tokengate and run on a supported platform?"
                ))),
                Err(ReadError::Io(err)) => Err(err),
            }
        });
        match ready {
            Ok(()) => {
                self.spawned.fetch_add(1, Ordering::Relaxed);
                Ok((worker, child))
            }
            Err(err) => {
                end(child, Duration::ZERO);
                Err(err)
            }
        }
    }

    /// Stops the pool: idle workers get their socket closed and exit; busy
    /// ones (whose calls the coordinator has already resolved) are killed.
    /// Every worker is reaped before this returns, including those being
    /// started or retired on other threads meanwhile.
    pub(crate) fn shutdown(&self) {
        let (idle, children) = {
            let mut state = self.lock();
            state.closed = true;
            (
                std::mem::take(&mut state.idle),
                std::mem::take(&mut state.children),
            )
        };
        self.freed.notify_all();
        let idle: Vec<u32> = idle.into_iter().map(|worker| worker.pid).collect();
        for (pid, child) in children {
            let grace = if idle.contains(&pid) {
                EXIT_GRACE
            } else {
                Duration::ZERO
            };
            end(child, grace);
        }
        let mut state = self.lock();
        while state.starting > 0 || state.reaping > 0 {
            state = self
                .freed
                .wait_timeout(state, POLL)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Whether worker `pid` has exited (or is no longer this pool's).
    fn exited(&self, pid: u32) -> bool {
        match self.lock().children.get_mut(&pid) {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => true,
        }
    }

    pub(crate) fn stats(&self) -> ProcessStats {
        let state = self.lock();
        ProcessStats {
            size: self.size,
            alive: state.children.len(),
            idle: state.idle.len(),
            spawned: self.spawned.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            died_idle: self.died_idle.load(Ordering::Relaxed),
            killed: self.killed.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.lock().children.keys().copied().collect();
        pids.sort_unstable();
        pids
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Worker {
    /// Sends `request` and reads the reply, giving up (and reporting `Killed`)
    /// once `cancelled` says so.
    fn exchange(&mut self, request: &[u8], mut waiting: impl FnMut() -> Wait) -> Outcome {
        if frame::send(&mut self.socket, request).is_err() {
            // Its end of the socket is closed: it died before this call.
            return Outcome::NotDelivered;
        }
        let mut dead = false;
        let read = self.reader.next(&mut self.socket, || match waiting() {
            Wait::Keep => true,
            Wait::Cancel => false,
            Wait::Dead => {
                dead = true;
                false
            }
        });
        match read {
            Ok((kind, body)) => Outcome::Reply(kind, body),
            Err(ReadError::Abandoned) if !dead => Outcome::Killed,
            Err(_) => Outcome::Lost,
        }
    }
}

/// Reports a worker process found dead before a call reached it.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn died_idle(pid: u32) {
    #[cfg(feature = "tracing")]
    tracing::warn!(target: crate::telemetry::TARGET, pid, "worker process died idle");
}

/// How a worker process ended.
struct Exit {
    /// Its exit status, as text: `signal: 6 (SIGABRT) (core dumped)`.
    status: String,
    /// Whether it ended by SIGABRT (before a kill of ours), as Rust ends a
    /// process whose allocation failed.
    aborted: bool,
}

impl Exit {
    fn of(status: ExitStatus) -> Exit {
        Exit {
            status: status.to_string(),
            aborted: status.signal() == Some(rustix::process::Signal::ABORT.as_raw()),
        }
    }
}

/// Ends `child`: waits up to `grace` for it to exit, then kills it; reaps it.
fn end(mut child: Child, grace: Duration) -> Exit {
    let deadline = Instant::now() + grace;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Exit::of(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_micros(200));
            }
            _ => break,
        }
    }
    let _ = child.kill();
    match child.wait() {
        // Killed here: whatever it was doing, it did not abort on its own.
        Ok(status) => Exit {
            aborted: false,
            ..Exit::of(status)
        },
        Err(err) => Exit {
            status: format!("could not be reaped: {err}"),
            aborted: false,
        },
    }
}
