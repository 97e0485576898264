//! Process-pool calls at the coordinator: queueing them per weight until a
//! worker process has room, handing them to the pool without a thread, and
//! settling their tokens when the reply comes back.
//!
//! ```text
//! caller thread                              pool (reader thread per worker process)
//! ─────────────                              ──────────────────────────────────────
//! f(x): args encoded into a CALL frame
//! route_new ─ queue clear, room ─▶ hand_over ─▶ submit ─▶ worker process
//!     │           Waiting→Admitted→Executing,            │
//!     │           body taken unrun                       ▼ reply (by id)
//!     └─ no room ─▶ process queue of its weight     done: settle_process
//!                   (Waiting, a slot; or its line,  (value, panic, failure,
//!                   or rejected)                     retry, or dropped after a kill)
//!                        ▲                                │
//!  pump_process ◀────────┴──── room freed ◀───────────────┘
//!  (weights in turn, while the pool has room)
//! ```
//!
//! A process call is admitted and counted like any call: its op's guard, its
//! limit's gate, then its path is `Path::Process` (unless its tags route it
//! to a thread: a sticky domain, a storage tier or a lead's group, where its
//! body sends it from that thread and blocks). It is handed to the pool from
//! whichever thread routes it, as long as its weight's process queue is clear
//! and the pool has room; otherwise it waits in that queue (holding a slot,
//! or in its line when the queue is full, or rejected, per the full-lane
//! policy), holding no thread. The pump takes calls out as room frees, from
//! the reader thread that got a reply (or the admission thread, after a
//! pause): one call from each weight's queue in turn, so that no weight's
//! backlog holds the others back, each queue in call order. A paused
//! coordinator or op holds calls back as in any lane; a drain, kill or
//! timeout resolves a waiting call where it waits.
//!
//! Once handed over, a call is `Executing`: the pool sends it to a worker
//! process (pipelined behind others there, see `process::pool`) and its reply
//! settles the token from the reader thread. A kill or timeout resolves the
//! token at once (the token layer) and cancels the call in the pool
//! ([`Shared::kill_process`], from `observe`): a call its worker has not
//! started is skipped, one it may be running has its worker killed. The
//! pool's answer reaches the token as a late outcome and is dropped, so the
//! call's body counts as returned.

use std::any::Any;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::call::Call;
use super::route::{Route, route_of};
use super::shared::Shared;
use crate::error::Reason;
use crate::process::{ProcessJob, Reply};
use crate::scheduler::held_back;
use crate::token::{Again, Body, Header, JobRef, Settled};
use crate::{TaskToken, TokenState, Weight};

/// Decodes a call's value, as the call's own type, boxed.
type Decode = Box<dyn Fn(&[u8]) -> Result<Box<dyn Any + Send>, String> + Send + Sync>;

/// The process part of a `process_pool` call: its `CALL` frame, and how to
/// read its value.
pub(crate) struct ProcessCall {
    memory_limit: Option<NonZeroU64>,
    /// The frame, or the error that encoding the arguments met in the caller
    /// (the call then fails when it would be sent). Taken by a call's only
    /// attempt; copied for each attempt of a call that may be retried.
    frame: Mutex<Option<Result<Vec<u8>, String>>>,
    decode: Decode,
    /// The attempt in the pool now, and its id there (to cancel it).
    sent: Mutex<Option<(u32, u64)>>,
}

impl ProcessCall {
    fn new<T: Send + 'static>(
        memory_limit: Option<NonZeroU64>,
        frame: Result<Vec<u8>, String>,
        decode: fn(&[u8]) -> Result<T, String>,
    ) -> ProcessCall {
        ProcessCall {
            memory_limit,
            frame: Mutex::new(Some(frame)),
            decode: Box::new(move |bytes| {
                decode(bytes).map(|value| Box::new(value) as Box<dyn Any + Send>)
            }),
            sent: Mutex::new(None),
        }
    }

    /// The frame for the next attempt: the bytes themselves if no attempt
    /// may follow (`keep` false), else a copy.
    fn frame(&self, keep: bool) -> Result<Vec<u8>, String> {
        let mut frame = self.frame.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = if keep { frame.clone() } else { frame.take() };
        taken.unwrap_or_else(|| {
            Err(
                "the arguments of this process call were sent already; this is a bug in \
                 tokengate, please report it"
                    .to_owned(),
            )
        })
    }

    fn lock_sent(&self) -> std::sync::MutexGuard<'_, Option<(u32, u64)>> {
        self.sent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for ProcessCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessCall")
            .field("memory_limit", &self.memory_limit)
            .finish_non_exhaustive()
    }
}

/// Submits a `process_pool` call to `shared` with its `frame` made (or
/// failed) already. Its body is what a thread runs if its tags route it to
/// one: it sends the same frame from there and blocks. A call that may be
/// retried (`call.retry`) has a body per attempt, and `is_err` tells values
/// that are failures (`retry_on = "err"`).
pub(super) fn submit<T: Send + 'static>(
    shared: &Arc<Shared>,
    call: Call,
    memory_limit: Option<NonZeroU64>,
    frame: Result<Vec<u8>, String>,
    decode: fn(&[u8]) -> Result<T, String>,
    is_err: Option<fn(&T) -> bool>,
) -> TaskToken<T> {
    let process = Arc::new(ProcessCall::new(memory_limit, frame, decode));
    let pool = shared.process.clone();
    let keep = call.retry.is_some();
    let on_thread = {
        let process = process.clone();
        move || {
            let (process, pool) = (process.clone(), pool.clone());
            move || match process.frame(keep) {
                Ok(frame) => crate::process::dispatch_frame(&pool, frame, memory_limit, decode),
                Err(message) => crate::error::Failure::raise(Reason::Process(message)),
            }
        }
    };
    if keep {
        let body = Body::Again(Again {
            make: Box::new(on_thread),
            is_err,
        });
        shared.submit_process(call, body, process)
    } else {
        shared.submit_process(call, Body::Once(on_thread()), process)
    }
}

impl Shared {
    /// Whether process calls may leave their queues now.
    fn process_open(&self) -> bool {
        self.is_running() && !self.scheduler.is_paused()
    }

    /// Hands a `Waiting` process call to the pool now, from this thread, if
    /// admission is open, its weight's process queue is clear (so it stays
    /// FIFO) and the pool has room. `Some(true)`: handed over; `Some(false)`:
    /// it finished meanwhile; `None`: it must wait in its process queue.
    pub(crate) fn place_process(&self, job: &JobRef) -> Option<bool> {
        let route = route_of(&**job).expect("admitted tokens have a route");
        let queue = &self.scheduler.process_lanes[job.header().weight.index()];
        if !self.process_open()
            || route.op.is_paused()
            || !queue.is_clear()
            || !self.process.has_room()
        {
            return None;
        }
        Some(self.hand_over_process(job.clone()))
    }

    /// Hands waiting process calls to the pool while it has room and
    /// admission is open, one from each weight's queue in turn (a reader
    /// thread's work once a reply frees room; the routing thread's and the
    /// admission thread's too).
    pub(crate) fn pump_process(&self) {
        static TURN: AtomicUsize = AtomicUsize::new(0);
        let lanes = &self.scheduler.process_lanes;
        while self.process_open() && lanes.iter().any(|lane| !lane.is_empty()) {
            if !self.process.has_room() {
                return;
            }
            let first = TURN.fetch_add(1, Ordering::Relaxed);
            // Stale entries are skipped; a queue found empty passes its turn.
            let job = (0..Weight::ALL.len())
                .map(|i| &lanes[(first + i) % Weight::ALL.len()])
                .find_map(|lane| lane.pop());
            let Some(job) = job else {
                return;
            };
            // Paused op: the op keeps it (with its slot) until it resumes.
            if held_back(&job) {
                continue;
            }
            self.hand_over_process(job);
        }
    }

    /// Moves a `Waiting` process call to `Executing` and hands it to the
    /// pool. Returns false if it had finished already.
    fn hand_over_process(&self, job: JobRef) -> bool {
        if !job.transition(TokenState::Waiting, TokenState::Admitted) {
            return false;
        }
        // A kill between these steps resolved the call; nothing is sent.
        if !job.transition(TokenState::Admitted, TokenState::Executing) || !job.take_body() {
            return true;
        }
        let route = route_of(&*job).expect("admitted tokens have a route");
        let process = route
            .process
            .as_ref()
            .expect("process calls have a process part");
        let frame = match process.frame(route.retry.is_some()) {
            Ok(frame) => frame,
            Err(message) => {
                job.settle_elsewhere(&job, Settled::Failed(Reason::Process(message)));
                return true;
            }
        };
        let header = job.header();
        let attempt = header.retried();
        let done = job.clone();
        let id = self.process.submit(ProcessJob::new(
            frame,
            process.memory_limit,
            Some((header.op, header.id)),
            Box::new(move |result| settle_process(&done, result)),
        ));
        *process.lock_sent() = Some((attempt, id));
        // Killed or timed out while it was being sent: that kill found
        // nothing in the pool to cancel.
        if header.state().is_terminal() || header.attempt_cancelled() {
            self.process.cancel(id);
        }
        true
    }

    /// Cancels the attempt of process call `header` in the pool: it was
    /// killed or timed out (or its attempt ran past its own deadline).
    pub(crate) fn kill_process(&self, route: &Route, header: &Header) {
        let Some(process) = &route.process else {
            return;
        };
        let sent = *process.lock_sent();
        if let Some((attempt, id)) = sent
            && attempt == header.retried()
        {
            self.process.cancel(id);
        }
    }

    /// Waits until the pool holds no call, or `deadline` passes (at stop:
    /// running calls get the stop timeout, as bodies on threads do).
    pub(crate) fn wait_process(&self, deadline: Option<std::time::Instant>) {
        while self.process.busy() > 0 && deadline.is_none_or(|d| std::time::Instant::now() < d) {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
}

/// A process call's outcome came back: settles its token (see
/// [`Job::settle_elsewhere`](crate::token::Job::settle_elsewhere)), inside
/// the call's spans, as its body would have run.
fn settle_process(job: &JobRef, result: Result<Reply, Reason>) {
    let Some(route) = route_of(&**job) else {
        return;
    };
    #[cfg(feature = "tracing")]
    let _scope = if job.header().traced {
        route.trace.body_spans().map(crate::token::BodyScope::enter)
    } else {
        None
    };
    crate::process::report_lost(&result);
    let process = route
        .process
        .as_ref()
        .expect("process calls have a process part");
    let settled = match result {
        Ok(reply) => match (process.decode)(reply.bytes()) {
            Ok(value) => Settled::Value(value),
            Err(err) => Settled::Failed(Reason::Process(crate::process::codec::locate(
                &err,
                crate::process::codec::Side::Caller,
            ))),
        },
        Err(reason) => Settled::Failed(reason),
    };
    job.settle_elsewhere(job, settled);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_taken_once_or_copied_for_retries() {
        let call = ProcessCall::new(None, Ok(vec![1, 2]), |_| Ok(0_u8));
        assert_eq!(call.frame(true), Ok(vec![1, 2]));
        assert_eq!(call.frame(false), Ok(vec![1, 2]));
        assert!(call.frame(false).unwrap_err().contains("sent already"));
        let failed = ProcessCall::new(None, Err("no".to_owned()), |_| Ok(0_u8));
        assert_eq!(failed.frame(false), Err("no".to_owned()));
    }

    #[test]
    fn a_value_is_decoded_as_the_calls_type() {
        let call = ProcessCall::new(None, Ok(Vec::new()), |bytes| Ok(bytes.len() as u32));
        let value = (call.decode)(&[1, 2, 3]).unwrap();
        assert_eq!(value.downcast_ref::<u32>(), Some(&3));
    }
}
