//! The parent side: a pool of warm worker processes, the calls in flight to
//! each, and the threads that read their replies.
//!
//! ```text
//! submit(job) ─┬─ a worker with room ──CALL(id)──▶ worker process: runs its calls
//!   (any       │   (non-blocking send)              one at a time, in order
//!   thread)    └─ none: `waiting` (FIFO) ◀─┐                  │
//!                                          │ room freed       │ STARTED / VALUE(id) ...
//! cancel(id) ── not started: CANCEL(id) ───┼──────────────────┤
//!            └─ started: kick the reader,  │                  ▼
//!               which SIGKILLs the worker  │
//!                                     reader thread (one per worker): settles
//!                                     the call by id, sends waiting calls,
//!                                     asks the coordinator for more (`pump`)
//! ```
//!
//! No thread waits for a call: whoever submits it sends it to a worker with
//! room, or leaves it in the pool's `waiting` queue, and the worker's reader
//! thread hands its outcome to the call's [`Done`] when the reply comes.
//! Several calls may be in flight to one worker (up to the pipeline depth, once
//! the pool has all its workers and while the worker's calls are short; one
//! at a time otherwise), so a worker finds its next call already in its socket
//! when it finishes one.
//!
//! Frames to a worker queue in its outbox under the pool's lock; one thread
//! at a time owns the outbox and sends from it outside the lock, without
//! blocking, so that no thread holds the lock across a send (a sender the
//! kernel preempts for the worker it just woke would otherwise stall the
//! reader of the reply). What the socket does not take (large arguments, a
//! worker busy with a call) goes to the worker's writer thread, which blocks
//! until the worker reads between its calls.
//! The worker runs them one at a time, in order, and reports which it starts
//! (see `frame`), so the pool always knows which of its calls a worker may be
//! running: at most one.
//!
//! # Faults
//!
//! A worker that dies (abort, signal, exit) is noticed by its socket closing
//! (or, every [`WATCH`], by its exit status). The call it may have been running
//! fails with a worker-lost error (a memory-limit error, if it aborted while a
//! call with a `memory_limit` ran, see `memory`); the calls queued behind it
//! that it certainly had not started go back to the front of `waiting`, in
//! order, and on to another worker; the worker is reaped and replaced in the
//! background. A call that may have started is never sent again, so nothing
//! runs twice; one that certainly did not is never failed for its neighbour's
//! death.
//!
//! [`cancel`](ProcessPool::cancel) (a kill, a timeout, a stop) takes a call
//! that is still waiting out of `waiting`; one sent to a worker that has not
//! started it gets a `CANCEL` frame, and the worker skips it; one the worker
//! may be running (or starts before the `CANCEL` reaches it) has its worker
//! killed (SIGKILL) and replaced, and the calls behind it go to another
//! worker as above. The reader thread does that kill, once it has read all
//! the worker has sent so far: a call that has just ended may have its reply,
//! and the next call's `STARTED`, on the way, and killing the worker then
//! would take that next call with it.
//!
//! # Stopping
//!
//! [`shutdown`](ProcessPool::shutdown) closes the pool, fails what waits,
//! ends every worker (idle ones by closing their socket, busy ones by
//! SIGKILL) and then waits until no worker is being started or reaped and
//! every reader thread has settled its calls and exited. So when it returns,
//! no worker process the pool ever started is alive and no call of it is
//! pending.

use std::cell::Cell;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::Shutdown;
use std::num::NonZeroU64;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use super::entry::{self, ENV};
use super::frame::{self, FrameBuf, FrameReader, PANIC, READY, ReadError, VALUE};
use crate::error::{KillReason, Reason};
use crate::stats::ProcessStats;

/// How often a thread blocked on a call ([`ProcessPool::call`]) checks for
/// cancellation, and a stopping pool for its last workers.
const POLL: Duration = Duration::from_millis(5);

/// How often a reader thread with calls in flight checks that its worker is
/// still alive (its socket closes when it dies, unless a process it started
/// inherited it).
const WATCH: Duration = Duration::from_millis(100);

/// A worker takes calls behind the one it runs only while its last call ran
/// for less than this. Behind a long call, a call would wait for it even if
/// another worker freed up first.
const SHORT: Duration = Duration::from_millis(1);

/// How long a new worker may take to report ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a stopping pool lets idle workers exit by themselves.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// Called with a panic's message, the worker's pid and the call's op and
/// token id (when its sender gave them) when a call panics in a worker
/// process, in place of the worker printing it.
pub(crate) type OnPanic = Box<dyn Fn(&str, u32, Option<CallId>) + Send + Sync>;

/// Which call a job is: its op and token id, for panic reports.
pub(crate) type CallId = (&'static str, u64);

/// Told how a call ended, exactly once, on whichever thread learns it (a
/// reader thread, a canceller, a stopping pool): the reply of a value, or why
/// there is none.
pub(crate) type Done = Box<dyn FnOnce(Result<Reply, Reason>) + Send>;

/// A `VALUE` frame's body: the call's id and run time, then its encoded
/// value.
#[derive(Debug)]
pub(crate) struct Reply(Vec<u8>);

impl Reply {
    /// The encoded value.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0[12..]
    }
}

/// One call for the pool: a finished `CALL` frame (the pool sets its id), the
/// memory limit it carries, and who is told how it ended.
pub(crate) struct ProcessJob {
    frame: Vec<u8>,
    memory_limit: Option<NonZeroU64>,
    call: Option<CallId>,
    done: Done,
}

impl ProcessJob {
    /// The job of call `call` (op and token id, if it has them), whose
    /// `frame` carries `memory_limit`.
    pub(crate) fn new(
        frame: Vec<u8>,
        memory_limit: Option<NonZeroU64>,
        call: Option<CallId>,
        done: Done,
    ) -> Self {
        ProcessJob {
            frame,
            memory_limit,
            call,
            done,
        }
    }
}

thread_local! {
    /// The pool whose reader thread this is (its address), if any: a call
    /// settled here may stop its coordinator, which must not wait for this
    /// thread to exit.
    static READER_OF: Cell<usize> = const { Cell::new(0) };
}

/// The worker processes of one coordinator.
pub(crate) struct ProcessPool {
    size: usize,
    /// Calls in flight to one worker at most, once the pool is full.
    depth: usize,
    /// Set: workers keep their panics quiet, and they are reported here.
    on_panic: Option<OnPanic>,
    /// Asks the coordinator for more calls once room frees up.
    pump: OnceLock<Box<dyn Fn() + Send + Sync>>,
    state: Mutex<PoolState>,
    /// Signalled when a start, a reap or a reader thread ends.
    settled: Condvar,
    next_id: AtomicU64,
    spawned: AtomicU64,
    lost: AtomicU64,
    died_idle: AtomicU64,
    killed: AtomicU64,
    resent: AtomicU64,
}

#[derive(Default)]
struct PoolState {
    /// Every worker with a reader, in start order.
    workers: Vec<Worker>,
    /// Every live worker process, by pid.
    children: HashMap<u32, Child>,
    /// Calls that wait for room, oldest first (and calls to send again,
    /// whose worker died before it started them, at the front).
    waiting: VecDeque<Flight>,
    /// Workers being started (they count against the size).
    starting: usize,
    /// Workers taken out of `children` and being reaped by their reader;
    /// `shutdown` waits for them.
    reaping: usize,
    /// Reader and writer threads alive (two per worker).
    readers: usize,
    closed: bool,
}

/// A started worker process: its socket's writing side, and its calls.
struct Worker {
    pid: u32,
    socket: Arc<UnixStream>,
    /// Wakes its writer thread, to send what a non-blocking send left.
    wake: Arc<Condvar>,
    /// Calls sent to it and not answered, in the order sent.
    flights: VecDeque<Flight>,
    /// Frames to send, in order, each from the offset given (a frame the
    /// socket took part of). Only the thread that owns the outbox
    /// (`sending`) sends, outside the pool's lock, so frames go out whole
    /// and in order, and no thread holds the lock across a send.
    outbox: VecDeque<(Arc<Vec<u8>>, usize)>,
    /// A thread owns the outbox and sends from it.
    sending: bool,
    /// The owner is its writer thread: the socket was full, and it blocks
    /// until the worker reads.
    handed: bool,
    /// Killed by the pool (for a cancelled call), not dead on its own.
    killed: bool,
    /// A send failed: it takes nothing more, and its reader will find it
    /// dead.
    broken: bool,
    /// It sent a frame of this unknown kind and was killed.
    garbled: Option<u8>,
    /// Its last call ran for [`SHORT`] or longer (or it has run none yet).
    slow: bool,
    /// Wakes its reader thread, to kill it for a cancelled call it runs.
    kick: UnixStream,
    /// Set when a call it may be running was cancelled: its reader looks
    /// (under the lock) only then.
    doomed: Arc<AtomicBool>,
}

/// One call in the pool.
struct Flight {
    id: u64,
    frame: Arc<Vec<u8>>,
    memory_limit: Option<NonZeroU64>,
    call: Option<CallId>,
    done: Done,
    /// Its worker may be running it (or has).
    started: bool,
    /// Cancelled while in flight: its outcome is a kill, whatever comes.
    cancelled: bool,
}

impl Flight {
    fn end(self, result: Result<Reply, Reason>) {
        (self.done)(result);
    }
}

impl std::fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessPool")
            .field("size", &self.size)
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

impl ProcessPool {
    pub(crate) fn new(size: usize, depth: usize, on_panic: Option<OnPanic>) -> ProcessPool {
        ProcessPool {
            size,
            depth: depth.max(1),
            on_panic,
            pump: OnceLock::new(),
            state: Mutex::new(PoolState::default()),
            settled: Condvar::new(),
            next_id: AtomicU64::new(1),
            spawned: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            died_idle: AtomicU64::new(0),
            killed: AtomicU64::new(0),
            resent: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets what the pool calls, from a reader thread, once it has room for
    /// more calls (the coordinator's pump). Set once.
    pub(crate) fn set_pump(&self, pump: Box<dyn Fn() + Send + Sync>) {
        let _ = self.pump.set(pump);
    }

    /// Starts workers until the pool is full. On an error, the ones it
    /// started are ended again.
    pub(crate) fn prestart(self: &Arc<Self>) -> io::Result<()> {
        let missing = {
            let mut state = self.lock();
            let missing = self.size - state.children.len() - state.starting;
            state.starting += missing;
            missing
        };
        let mut started = Vec::with_capacity(missing);
        let mut failed = None;
        for _ in 0..missing {
            match self.spawn() {
                Ok(worker) => started.push(worker),
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        if let Some(err) = failed {
            let mut state = self.lock();
            state.starting -= missing;
            drop(state);
            for (_, child, _) in started {
                end(child, EXIT_GRACE);
            }
            self.settled.notify_all();
            return Err(err);
        }
        let adopted = started.len();
        for worker in started {
            // An error here is a closed pool: nothing to report.
            let _ = self.adopt(Ok(worker));
        }
        debug_assert_eq!(adopted, missing);
        Ok(())
    }

    /// Whether a call submitted now would be sent at once (or to a worker
    /// that is about to start), rather than wait in the pool: no call waits
    /// and a worker has room, or the pool may start one.
    pub(crate) fn has_room(&self) -> bool {
        let state = self.lock();
        !state.closed
            && state.waiting.is_empty()
            && (self.pick(&state).is_some() || self.can_grow(&state))
    }

    /// Takes `job`: sends it to a worker with room, or has it wait for one
    /// (starting a worker if the pool has room for one). Never blocks. Returns
    /// the call's id, for [`cancel`](Self::cancel).
    pub(crate) fn submit(self: &Arc<Self>, job: ProcessJob) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let flight = Flight {
            id,
            frame: Arc::new(job.frame),
            memory_limit: job.memory_limit,
            call: job.call,
            done: job.done,
            started: false,
            cancelled: false,
        };
        let mut state = self.lock();
        if state.closed {
            drop(state);
            flight.end(Err(Reason::Shutdown));
            return id;
        }
        let (grow, out) = match self.pick(&state) {
            Some(at) if state.waiting.is_empty() => {
                let worker = &mut state.workers[at];
                send(worker, flight);
                (false, claim(worker))
            }
            _ => {
                state.waiting.push_back(flight);
                (self.reserve_start(&mut state), None)
            }
        };
        drop(state);
        if let Some(out) = out {
            self.transmit(out);
        }
        if grow {
            self.start_in_background();
        }
        id
    }

    /// Cancels call `id` (killed, timed out or shut down): one still waiting
    /// ends at once; one sent and not started is skipped by its worker; one
    /// its worker may be running ends its worker. Its [`Done`] is told
    /// `Killed` (a late reply is dropped). Does nothing for a call that ended.
    pub(crate) fn cancel(&self, id: u64) {
        let mut state = self.lock();
        if let Some(at) = state.waiting.iter().position(|f| f.id == id) {
            let flight = state.waiting.remove(at).expect("found");
            drop(state);
            flight.end(Err(Reason::Killed(KillReason::Token)));
            return;
        }
        let mut out = None;
        for worker in &mut state.workers {
            let Some(flight) = worker.flights.iter_mut().find(|f| f.id == id) else {
                continue;
            };
            if flight.cancelled {
                return;
            }
            flight.cancelled = true;
            if flight.started {
                // Its reader kills the worker once it has read what the
                // worker sent (see `read`).
                worker.doomed.store(true, Ordering::SeqCst);
                let _ = rustix::io::write(&worker.kick, &[1]);
            } else if !worker.broken {
                let mut cancel = Vec::with_capacity(13);
                FrameBuf::tagged(&mut cancel, frame::CANCEL, id, &[]);
                worker.outbox.push_back((Arc::new(cancel), 0));
                out = claim(worker);
            }
            break;
        }
        drop(state);
        if let Some(out) = out {
            self.transmit(out);
        }
    }

    /// Sends one finished `CALL` frame to a worker and returns the reply body,
    /// blocking the calling thread until it comes. `memory_limit` is the one
    /// the frame carries, which a worker that aborts is taken to have
    /// exceeded. `cancelled` is checked every [`POLL`]: once it says so, the
    /// call is cancelled (see [`cancel`](Self::cancel)).
    ///
    /// For calls whose body runs on a thread (sticky and lead-group process
    /// calls, a worker host's jobs); calls in a coordinator's process queues
    /// are [`submit`](Self::submit)ted.
    pub(crate) fn call(
        self: &Arc<Self>,
        request: Vec<u8>,
        memory_limit: Option<NonZeroU64>,
        call: Option<CallId>,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Reply, Reason> {
        type Slot = (Mutex<Option<Result<Reply, Reason>>>, Condvar);
        let slot: Arc<Slot> = Arc::default();
        let told = slot.clone();
        let done: Done = Box::new(move |result| {
            *told.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            told.1.notify_one();
        });
        let id = self.submit(ProcessJob::new(request, memory_limit, call, done));
        let mut result = slot.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut cancel_sent = false;
        loop {
            if let Some(result) = result.take() {
                return result;
            }
            if !cancel_sent && cancelled() {
                cancel_sent = true;
                drop(result);
                self.cancel(id);
                result = slot.0.lock().unwrap_or_else(|p| p.into_inner());
                continue;
            }
            result = slot
                .1
                .wait_timeout(result, POLL)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// The worker a call goes to now: the least busy one with room. An idle
    /// worker always has room. A busy one takes more, up to `depth`, only
    /// once the pool has all its workers (a new worker is better than a
    /// queue behind a call), and only while its calls are short: its last
    /// call ran for less than [`SHORT`]. Behind long calls, calls wait in
    /// the queues instead, and go to whichever worker frees up first.
    fn pick(&self, state: &PoolState) -> Option<usize> {
        let full = state.workers.len() >= self.size;
        let mut best: Option<(usize, usize)> = None;
        for (at, w) in state.workers.iter().enumerate() {
            let load = w.flights.len();
            if w.broken || w.killed || w.garbled.is_some() || best.is_some_and(|(_, b)| b <= load) {
                continue;
            }
            let room = load == 0 || (full && load < self.depth && !w.slow);
            if room {
                best = Some((at, load));
            }
        }
        best.map(|(at, _)| at)
    }

    fn can_grow(&self, state: &PoolState) -> bool {
        !state.closed && state.children.len() + state.starting < self.size
    }

    /// Reserves a start if calls wait that no worker being started will take
    /// and the pool has room for another; the caller then starts it.
    fn reserve_start(&self, state: &mut PoolState) -> bool {
        if state.waiting.len() > state.starting && self.can_grow(state) {
            state.starting += 1;
            true
        } else {
            false
        }
    }

    /// Starts one worker, reserved in `starting`, on a short-lived thread.
    fn start_in_background(self: &Arc<Self>) {
        let pool = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name("tokengate-process-start".into())
            .spawn(move || {
                let started = pool.spawn();
                let _ = pool.adopt(started);
            });
        if let Err(err) = spawned {
            self.start_failed(io::Error::other(format!(
                "could not start a thread to start a worker process: {err}"
            )));
        }
    }

    /// Takes a worker started for a slot reserved in `starting` into the
    /// pool, with a reader thread, and sends it what waits; or ends it if the
    /// pool closed meanwhile. Either way the slot is settled.
    fn adopt(
        self: &Arc<Self>,
        started: io::Result<(UnixStream, Child, FrameReader)>,
    ) -> Result<(), Reason> {
        let (socket, child, reader) = match started {
            Ok(started) => started,
            Err(err) => {
                self.start_failed(err);
                return Err(Reason::Shutdown);
            }
        };
        let pid = child.id();
        let parts = (|| {
            let (kick, kicked) = UnixStream::pair()?;
            kick.set_nonblocking(true)?;
            kicked.set_nonblocking(true)?;
            io::Result::Ok((socket.try_clone()?, kick, kicked))
        })();
        let socket = Arc::new(socket);
        let (read, kick, kicked) = match parts {
            Ok(parts) => parts,
            Err(err) => {
                end(child, Duration::ZERO);
                self.start_failed(err);
                return Err(Reason::Shutdown);
            }
        };
        let mut state = self.lock();
        if state.closed {
            // Ended before the slot is settled: a stopping pool waits for
            // the slot, so no worker it started outlives `shutdown`.
            drop(state);
            drop(socket);
            end(child, Duration::ZERO);
            self.lock().starting -= 1;
            self.settled.notify_all();
            return Err(Reason::Shutdown);
        }
        state.starting -= 1;
        state.readers += 2;
        state.children.insert(pid, child);
        let wake = Arc::new(Condvar::new());
        let doomed = Arc::new(AtomicBool::new(false));
        state.workers.push(Worker {
            pid,
            socket: socket.clone(),
            wake: wake.clone(),
            flights: VecDeque::new(),
            outbox: VecDeque::new(),
            sending: false,
            handed: false,
            killed: false,
            broken: false,
            garbled: None,
            slow: true,
            kick,
            doomed: doomed.clone(),
        });
        let pool = Arc::clone(self);
        let reading = std::thread::Builder::new()
            .name("tokengate-process-reader".into())
            .spawn({
                let doomed = doomed.clone();
                move || pool.read(pid, read, &kicked, &doomed, reader)
            });
        let pool = Arc::clone(self);
        let writing = reading.is_ok().then(|| {
            std::thread::Builder::new()
                .name("tokengate-process-writer".into())
                .spawn(move || pool.write_out(pid, socket, &wake))
        });
        if let Some(Err(_)) = writing {
            // The reader finds it dead, and buries it.
            state.readers -= 1;
            let _ = state
                .workers
                .last()
                .expect("pushed")
                .socket
                .shutdown(Shutdown::Both);
            if let Some(child) = state.children.get_mut(&pid) {
                let _ = child.kill();
            }
            drop(state);
            self.settled.notify_all();
            return Err(Reason::Shutdown);
        }
        if reading.is_err() {
            // Without a reader nobody would hear from it: it goes.
            state.readers -= 2;
            let at = state.workers.len() - 1;
            state.workers.remove(at);
            let child = state.children.remove(&pid);
            drop(state);
            if let Some(child) = child {
                end(child, Duration::ZERO);
            }
            self.settled.notify_all();
            return Err(Reason::Shutdown);
        }
        let out = self.serve_waiting(&mut state);
        drop(state);
        for out in out {
            self.transmit(out);
        }
        self.settled.notify_all();
        self.pump();
        Ok(())
    }

    /// A reserved start failed: the oldest waiting call (the one that asked
    /// for the worker) fails with the error, and the slot is settled.
    fn start_failed(self: &Arc<Self>, err: io::Error) {
        let mut state = self.lock();
        state.starting -= 1;
        let closed = state.closed;
        let failed = state.waiting.pop_front();
        let again = !closed && self.reserve_start(&mut state);
        drop(state);
        self.settled.notify_all();
        if let Some(flight) = failed {
            flight.end(Err(if closed {
                Reason::Shutdown
            } else {
                Reason::Process(format!("could not start a worker process: {err}"))
            }));
        }
        if again {
            self.start_in_background();
        }
    }

    /// Hands waiting calls to workers, oldest first, while workers have
    /// room; what is to be sent now, by the caller, once it lets go of the
    /// lock ([`transmit`](Self::transmit)).
    #[must_use]
    fn serve_waiting(&self, state: &mut PoolState) -> Vec<Outgoing> {
        while !state.waiting.is_empty() {
            let Some(at) = self.pick(state) else {
                break;
            };
            let flight = state.waiting.pop_front().expect("not empty");
            send(&mut state.workers[at], flight);
        }
        state.workers.iter_mut().filter_map(claim).collect()
    }

    /// Sends what `out` holds, without blocking and outside the lock, and
    /// whatever was queued for its worker meanwhile, until its outbox is
    /// empty; what the socket does not take goes to the worker's writer
    /// thread.
    fn transmit(&self, mut out: Outgoing) {
        loop {
            let mut failed = None;
            'frames: for (at, (frame, offset)) in out.batch.iter_mut().enumerate() {
                while *offset < frame.len() {
                    let flags = rustix::net::SendFlags::DONTWAIT;
                    match rustix::net::send(&*out.socket, &frame[*offset..], flags) {
                        Ok(n) => *offset += n,
                        Err(rustix::io::Errno::INTR) => {}
                        Err(rustix::io::Errno::AGAIN) => {
                            failed = Some((at, false));
                            break 'frames;
                        }
                        Err(_) => {
                            failed = Some((at, true));
                            break 'frames;
                        }
                    }
                }
            }
            let mut state = self.lock();
            let Some(worker) = state.workers.iter_mut().find(|w| w.pid == out.pid) else {
                return;
            };
            match failed {
                None if worker.outbox.is_empty() || worker.broken => {
                    worker.sending = false;
                    return;
                }
                None => out.batch = worker.outbox.drain(..).collect(),
                Some((at, dead)) => {
                    for entry in out.batch.drain(at..).rev() {
                        worker.outbox.push_front(entry);
                    }
                    if dead {
                        undelivered(worker);
                        worker.sending = false;
                    } else {
                        worker.handed = true;
                        worker.wake.notify_one();
                    }
                    return;
                }
            }
        }
    }

    /// Asks the coordinator for more calls, if none wait here.
    fn pump(&self) {
        if let Some(pump) = self.pump.get() {
            pump();
        }
    }

    /// A worker's reader thread: reads its frames and settles its calls
    /// until it dies (or the pool stops), then buries it.
    ///
    /// It alone kills its worker for a cancelled call the worker may be
    /// running, and only once it has read everything the worker sent: a
    /// call that has just ended may have its reply (and the next call's
    /// `STARTED`) on the way, and killing the worker then would take the
    /// next call with it.
    fn read(
        self: Arc<Self>,
        pid: u32,
        mut socket: UnixStream,
        kicked: &UnixStream,
        doomed: &AtomicBool,
        mut reader: FrameReader,
    ) {
        READER_OF.set(Arc::as_ptr(&self) as usize);
        loop {
            if !reader.buffered() {
                if doomed.load(Ordering::SeqCst) {
                    self.kill_if_cancelled(pid, &socket, doomed);
                }
                match self.wait_readable(pid, &socket, kicked) {
                    Readable::Yes => {}
                    Readable::NotYet => continue,
                    Readable::Dead => break,
                }
            }
            match reader.next(&mut socket, || !self.exited(pid)) {
                Ok((kind, body)) => {
                    if !self.on_frame(pid, kind, body) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        self.bury(pid);
    }

    /// Kills worker `pid` if the call it may be running was cancelled and it
    /// has sent nothing more (which could be that call's reply).
    fn kill_if_cancelled(&self, pid: u32, socket: &UnixStream, doomed: &AtomicBool) {
        let mut state = self.lock();
        let state = &mut *state;
        let Some(worker) = state.workers.iter_mut().find(|w| w.pid == pid) else {
            return;
        };
        if worker.killed {
            return;
        }
        if !worker.flights.iter().any(|f| f.started && f.cancelled) {
            // It answered the call after all.
            doomed.store(false, Ordering::SeqCst);
            return;
        }
        let mut byte = [0u8; 1];
        let flags = rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT;
        if matches!(
            rustix::net::recv(socket, &mut byte, flags),
            Err(rustix::io::Errno::AGAIN)
        ) {
            kill(worker, &mut state.children);
        }
    }

    /// Waits until worker `pid`'s socket is readable (or closed), for at
    /// most [`WATCH`]; a kick ends the wait early.
    fn wait_readable(&self, pid: u32, socket: &UnixStream, kicked: &UnixStream) -> Readable {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let mut fds = [
            PollFd::new(socket, PollFlags::IN),
            PollFd::new(kicked, PollFlags::IN),
        ];
        let watch = Timespec {
            tv_sec: 0,
            tv_nsec: WATCH.as_nanos() as _,
        };
        match poll(&mut fds, Some(&watch)) {
            Ok(0) => {
                // A worker whose socket a process it started inherited does
                // not close it by dying.
                let busy = self
                    .lock()
                    .workers
                    .iter()
                    .any(|w| w.pid == pid && !w.flights.is_empty());
                return if busy && self.exited(pid) {
                    Readable::Dead
                } else {
                    Readable::NotYet
                };
            }
            Ok(_) => {}
            Err(_) => return Readable::NotYet,
        }
        if !fds[1].revents().is_empty() {
            let mut sink = [0u8; 64];
            while matches!(rustix::io::read(kicked, &mut sink), Ok(n) if n > 0) {}
        }
        if fds[0].revents().is_empty() {
            Readable::NotYet
        } else {
            Readable::Yes
        }
    }

    /// A worker's writer thread: sends what non-blocking sends left, in
    /// order, blocking as long as the worker takes to read it (it reads
    /// between calls), until the worker is buried.
    fn write_out(self: Arc<Self>, pid: u32, socket: Arc<UnixStream>, wake: &Condvar) {
        use std::io::Write as _;
        let mut state = self.lock();
        while let Some(worker) = state.workers.iter_mut().find(|w| w.pid == pid) {
            if worker.broken {
                break;
            }
            if !worker.handed {
                state = wake.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            if worker.outbox.is_empty() {
                worker.handed = false;
                worker.sending = false;
                continue;
            }
            let mut batch: Vec<_> = worker.outbox.drain(..).collect();
            drop(state);
            let mut failed = None;
            for (at, (frame, offset)) in batch.iter_mut().enumerate() {
                if (&*socket).write_all(&frame[*offset..]).is_err() {
                    failed = Some(at);
                    break;
                }
                *offset = frame.len();
            }
            state = self.lock();
            if let Some(at) = failed
                && let Some(worker) = state.workers.iter_mut().find(|w| w.pid == pid)
            {
                for entry in batch.drain(at..).rev() {
                    worker.outbox.push_front(entry);
                }
                undelivered(worker);
            }
        }
        drop(state);
        self.reader_exited();
    }

    /// Handles one frame from worker `pid`; false if the worker must go (it
    /// sent what it should not).
    fn on_frame(&self, pid: u32, kind: u8, body: Vec<u8>) -> bool {
        let Some((id, rest)) = frame::split_id(&body).filter(|_| kind != READY) else {
            return self.garble(pid, kind);
        };
        // A reply says how long its call ran.
        let (ran, rest) = match kind {
            VALUE | PANIC | frame::ERROR => match frame::split_ran(rest) {
                Some((ran, rest)) => (Some(ran), rest),
                None => return self.garble(pid, kind),
            },
            _ => (None, rest),
        };
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(worker) = state.workers.iter_mut().find(|w| w.pid == pid) else {
            return true;
        };
        let at = worker.flights.iter().position(|f| f.id == id);
        match kind {
            frame::STARTED => {
                // Cancelled, and the worker started it before it read the
                // cancel: its reader kills the worker once it has read what
                // the worker sent.
                if let Some(flight) = at.map(|at| &mut worker.flights[at]) {
                    flight.started = true;
                    if flight.cancelled {
                        worker.doomed.store(true, Ordering::SeqCst);
                    }
                }
                true
            }
            frame::SKIPPED | VALUE | PANIC | frame::ERROR => {
                let Some(flight) = at.and_then(|at| worker.flights.remove(at)) else {
                    return true;
                };
                if let Some(ran) = ran {
                    worker.slow = ran >= SHORT;
                }
                let result = match kind {
                    _ if flight.cancelled => Err(Reason::Killed(KillReason::Token)),
                    VALUE => Ok(Reply(body)),
                    PANIC => {
                        let message = String::from_utf8_lossy(rest).into_owned();
                        if let Some(on_panic) = &self.on_panic {
                            on_panic(&message, pid, flight.call);
                        }
                        Err(Reason::panic(message))
                    }
                    frame::ERROR => {
                        Err(Reason::Process(String::from_utf8_lossy(rest).into_owned()))
                    }
                    // Skipped, yet not cancelled: only a bug could do that.
                    _ => Err(Reason::Process(format!(
                        "worker process {pid} skipped a call nobody cancelled; this is a bug \
                         in tokengate, please report it"
                    ))),
                };
                let out = self.serve_waiting(state);
                let more = state.waiting.is_empty();
                drop(guard);
                for out in out {
                    self.transmit(out);
                }
                if more {
                    self.pump();
                }
                flight.end(result);
                true
            }
            _ => self.garble(pid, kind),
        }
    }

    /// Worker `pid` sent a frame of an unknown `kind`: it is killed, and the
    /// call it ran fails with an error that says so.
    fn garble(&self, pid: u32, kind: u8) -> bool {
        let mut state = self.lock();
        let state = &mut *state;
        if let Some(worker) = state.workers.iter_mut().find(|w| w.pid == pid) {
            worker.garbled = Some(kind);
            kill(worker, &mut state.children);
        }
        false
    }

    /// Worker `pid` died, or was killed, or the pool stopped: reaps it,
    /// settles its calls (the one it may have run fails; the others go to
    /// another worker), and starts a replacement.
    fn bury(self: Arc<Self>, pid: u32) {
        let (worker, child, closed) = {
            let mut state = self.lock();
            let at = state.workers.iter().position(|w| w.pid == pid);
            let worker = at.map(|at| state.workers.remove(at));
            let child = state.children.remove(&pid);
            state.reaping += usize::from(child.is_some());
            (worker, child, state.closed)
        };
        let Some(mut worker) = worker else {
            self.reader_exited();
            return;
        };
        let _ = worker.socket.shutdown(Shutdown::Both);
        // Its writer finds it gone and exits.
        worker.wake.notify_all();
        let exit = match child {
            Some(child) => {
                // Unless killed, it closed its socket: it has exited or is
                // about to, so it gets a grace period first.
                let grace = if worker.killed || worker.garbled.is_some() {
                    Duration::ZERO
                } else {
                    EXIT_GRACE
                };
                let exit = end(child, grace);
                self.lock().reaping -= 1;
                exit
            }
            None => Exit {
                status: "stopped with its coordinator".to_owned(),
                aborted: false,
            },
        };
        let mut ended = Vec::new();
        let mut resend = Vec::new();
        let mut ran = false;
        for flight in worker.flights.drain(..) {
            if flight.cancelled {
                ended.push((flight, Err(Reason::Killed(KillReason::Token))));
            } else if closed {
                // Ended by the stop: its call was resolved already, unless
                // a thread blocks on it.
                ended.push((flight, Err(Reason::Shutdown)));
            } else if flight.started {
                ran = true;
                let reason = lost(pid, &exit, flight.memory_limit, worker.garbled);
                ended.push((flight, Err(reason)));
            } else {
                resend.push(flight);
            }
        }
        let mut state = self.lock();
        if state.closed {
            ended.extend(resend.drain(..).map(|f| (f, Err(Reason::Shutdown))));
        } else if !closed {
            self.resent
                .fetch_add(resend.len() as u64, Ordering::Relaxed);
            for flight in resend.into_iter().rev() {
                state.waiting.push_front(flight);
            }
            if worker.killed {
                self.killed.fetch_add(1, Ordering::Relaxed);
            } else if ran {
                self.lost.fetch_add(1, Ordering::Relaxed);
            } else {
                self.died_idle.fetch_add(1, Ordering::Relaxed);
                died_idle(pid);
            }
        }
        // A replacement, whether or not calls wait: the pool stays warm.
        let replace = self.can_grow(&state) && {
            state.starting += 1;
            true
        };
        let out = self.serve_waiting(&mut state);
        let more = state.waiting.is_empty();
        drop(state);
        for out in out {
            self.transmit(out);
        }
        self.settled.notify_all();
        if replace {
            self.start_in_background();
        }
        for (flight, result) in ended {
            flight.end(result);
        }
        if more {
            self.pump();
        }
        self.reader_exited();
    }

    fn reader_exited(&self) {
        self.lock().readers -= 1;
        self.settled.notify_all();
    }

    /// Starts one worker process and waits until it reports ready: its
    /// socket, its process, and the reader that read its `READY`.
    fn spawn(&self) -> io::Result<(UnixStream, Child, FrameReader)> {
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
        let (mut ours, theirs) = UnixStream::pair()?;
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
        let mut reader = FrameReader::new();
        let ready = ours.set_read_timeout(Some(POLL)).and_then(|()| {
            let deadline = Instant::now() + READY_TIMEOUT;
            // A pool that closes meanwhile does not wait for the new worker.
            let keep_waiting = || Instant::now() < deadline && !self.lock().closed;
            match reader.next(&mut ours, keep_waiting) {
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
                Ok((ours, child, reader))
            }
            Err(err) => {
                end(child, Duration::ZERO);
                Err(err)
            }
        }
    }

    /// Stops the pool: waiting calls fail; idle workers get their socket
    /// closed and exit; busy ones (whose calls the coordinator has already
    /// resolved) are killed. Every worker is reaped, and every reader thread
    /// has settled its calls and exited, before this returns, including
    /// workers being started meanwhile. Called from a reader thread (a call
    /// it settled stopped the coordinator), it does not wait for that thread.
    pub(crate) fn shutdown(&self) {
        let (waiting, children, idle) = {
            let mut state = self.lock();
            state.closed = true;
            let mut idle = Vec::new();
            for worker in &state.workers {
                if worker.flights.is_empty() {
                    idle.push(worker.pid);
                    // Its end of the socket reads the end: it exits.
                    let _ = worker.socket.shutdown(Shutdown::Write);
                }
            }
            (
                std::mem::take(&mut state.waiting),
                std::mem::take(&mut state.children),
                idle,
            )
        };
        self.settled.notify_all();
        for flight in waiting {
            flight.end(Err(Reason::Shutdown));
        }
        for (pid, child) in children {
            let grace = if idle.contains(&pid) {
                EXIT_GRACE
            } else {
                Duration::ZERO
            };
            end(child, grace);
        }
        let own = usize::from(READER_OF.get() == std::ptr::from_ref(self) as usize);
        let mut state = self.lock();
        while state.starting > 0 || state.reaping > 0 || state.readers > own {
            state = self
                .settled
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

    /// Calls the pool holds: waiting for room, or in flight to a worker.
    pub(crate) fn busy(&self) -> usize {
        let state = self.lock();
        state.waiting.len() + state.workers.iter().map(|w| w.flights.len()).sum::<usize>()
    }

    pub(crate) fn stats(&self) -> ProcessStats {
        let state = self.lock();
        ProcessStats {
            size: self.size,
            pipeline: self.depth,
            alive: state.children.len(),
            idle: state
                .workers
                .iter()
                .filter(|w| w.flights.is_empty())
                .count(),
            in_flight: state.waiting.len()
                + state.workers.iter().map(|w| w.flights.len()).sum::<usize>(),
            waiting: 0,
            spawned: self.spawned.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            died_idle: self.died_idle.load(Ordering::Relaxed),
            killed: self.killed.load(Ordering::Relaxed),
            resent: self.resent.load(Ordering::Relaxed),
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

/// What a reader thread found its worker's socket to be.
enum Readable {
    Yes,
    /// Not yet: a kick, or a [`WATCH`] tick with the worker alive.
    NotYet,
    /// Its worker exited, yet the socket is open (a process it started
    /// holds it).
    Dead,
}

/// Queues `flight` for `worker` and counts it in flight there. A worker with
/// nothing in flight starts it as soon as it reads it, so it counts as
/// started at once and the worker reports no `STARTED` for it.
fn send(worker: &mut Worker, mut flight: Flight) {
    let flags = if worker.flights.is_empty() {
        frame::IMPLICIT_START
    } else {
        0
    };
    let buf: &mut Vec<u8> = Arc::make_mut(&mut flight.frame);
    frame::address(buf, flight.id, flags);
    flight.started = flags != 0 && !worker.broken;
    if !worker.broken {
        worker.outbox.push_back((flight.frame.clone(), 0));
    }
    worker.flights.push_back(flight);
}

/// Frames to send to one worker, by the thread that took them.
struct Outgoing {
    pid: u32,
    socket: Arc<UnixStream>,
    batch: Vec<(Arc<Vec<u8>>, usize)>,
}

/// Makes the calling thread the owner of `worker`'s outbox, with what it
/// holds, if it holds something and no thread owns it.
fn claim(worker: &mut Worker) -> Option<Outgoing> {
    if worker.sending || worker.broken || worker.outbox.is_empty() {
        return None;
    }
    worker.sending = true;
    Some(Outgoing {
        pid: worker.pid,
        socket: worker.socket.clone(),
        batch: worker.outbox.drain(..).collect(),
    })
}

/// `worker`'s socket refused a send: it is dead (its reader will find out).
/// The calls whose frames had not begun to go out never reached it, so none
/// of them counts as started: they go to another worker once it is buried.
fn undelivered(worker: &mut Worker) {
    worker.broken = true;
    for (frame, offset) in worker.outbox.drain(..) {
        if offset > 0 {
            continue;
        }
        if let Some(flight) = worker
            .flights
            .iter_mut()
            .find(|f| Arc::ptr_eq(&f.frame, &frame))
        {
            flight.started = false;
        }
    }
}

/// Kills `worker`'s process (SIGKILL) for a cancelled call (or a garbled
/// frame, already noted); its reader thread reaps it.
fn kill(worker: &mut Worker, children: &mut HashMap<u32, Child>) {
    worker.killed |= worker.garbled.is_none();
    if let Some(child) = children.get_mut(&worker.pid) {
        let _ = child.kill();
    }
}

/// Why a call that worker `pid` may have been running ended with it.
fn lost(pid: u32, exit: &Exit, memory_limit: Option<NonZeroU64>, garbled: Option<u8>) -> Reason {
    let status = exit.status.clone();
    if let Some(kind) = garbled {
        return Reason::Process(format!(
            "worker process {pid} sent an unknown frame kind {kind} and was replaced ({status})"
        ));
    }
    match memory_limit {
        // An allocation the limit refused aborts the worker.
        Some(limit) if exit.aborted => Reason::MemoryLimit { limit, pid, status },
        _ => Reason::WorkerLost { pid, status },
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
