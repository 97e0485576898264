//! Remote calls for tokengate: jobs to worker processes on other hosts, and
//! their results back, through a NATS JetStream broker.
//!
//! This crate is the broker layer of `remote = true` calls, on both sides:
//!
//! - **Caller**: a [`Caller`] is a coordinator's
//!   [`RemoteBackend`](tokengate::remote::RemoteBackend), connected when the
//!   coordinator starts with [`Remote::nats`]. Each remote call (each attempt
//!   of a retried one) becomes a job whose id is `<caller id>.<token
//!   id>.<attempt>`, and the job's outcome settles the call's token.
//! - **Worker host**: [`Worker::nats`] serves the jobs of the executable's
//!   `remote` fns, found by op name in the registry the process pool uses,
//!   as calls of a tokengate coordinator on the host (a thread each, or the
//!   host's process pool for a `remote` fn with `process_pool = true`).
//!
//! ```no_run
//! use tokengate::{OperationsCoordinator, task_token_guard};
//! use tokengate_remote::{Remote, Worker};
//!
//! #[task_token_guard(op = "thumbnail", weight = "heavy", remote = true, timeout = "30s")]
//! fn thumbnail(image: Vec<u8>, width: u32) -> Vec<u8> {
//!     image.into_iter().take(width as usize).collect()
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let url = "nats://10.0.0.5:4222";
//! if std::env::args().any(|arg| arg == "--worker") {
//!     // A worker host: the same binary, serving until the process ends.
//!     match tokengate_remote::serve(Worker::nats(url).slots(8))? {}
//! }
//! let coordinator = OperationsCoordinator::builder()
//!     .remote(Remote::nats(url).max_in_flight(1_000))
//!     .start()?;
//! let small = thumbnail(vec![0; 1 << 20], 256).wait()?; // runs on a worker host
//! assert_eq!(small.len(), 256);
//! coordinator.stop();
//! # Ok(())
//! # }
//! ```
//!
//! Below that, nothing here knows tokens, coordinators or the attribute: a
//! [`Job`] is an op name, encoded arguments and a few routing fields, and its
//! [`Outcome`] is handed to a callback; [`WorkerConfig::new`] serves jobs with
//! any [`Executor`]. The rest of these docs describe that layer.
//!
//! # Architecture
//!
//! ```text
//!  caller process                     nats-server (JetStream)                 worker hosts
//!  ──────────────                     ───────────────────────                 ────────────
//!  core ─ try_reserve ─▶ window
//!     └─ submit(job, on_done)         TG_JOBS (work queue, file)
//!          │ ledger: id → on_done     ┌───────────────────────────┐             Worker
//!          ▼                          │ tg.jobs.<pool>.light.>  ──┼───────────▶ one consumer per
//!     I/O thread ── publish ────────▶ │ tg.jobs.<pool>.medium.> ──┼───────────▶ weight served (and
//!     (tokio)       Nats-Msg-Id = id  │ tg.jobs.<pool>.heavy.>  ──┼───────────▶ sticky partition);
//!          ▲                          │ tg.jobs.<pool>.sticky.pN ─┼───────────▶ pulls for free slots
//!          │                          └───────────────────────────┘              ▼
//!          │                          TG_RESULTS (limits, file)         executor(op, args,
//!          │ ordered consumer         ┌───────────────────────────┐     cancel) on a slot
//!          └──── tg.res.<caller> ◀────│ tg.res.<caller id>        │◀─ result, THEN ack
//!                                     └───────────────────────────┘
//!     kill(id) ── tg.ctl.<pool>.kill (core NATS) ───────────────────────▶ cancel flag
//!     workers() ◀─ tg.hb.<pool>.<worker id> (core NATS) ◀───────────────── heartbeat
//! ```
//!
//! - **Caller** ([`Caller`]): one NATS connection on a tokio runtime of its
//!   own thread; every method returns at once. A job takes room in the
//!   in-flight window ([`Caller::try_reserve`], [`Caller::when_capacity`]),
//!   is published with its id as `Nats-Msg-Id` (a publish retried after a
//!   lost confirmation is stored once), and its callback runs exactly once,
//!   with the first [`Outcome`] for its id; later ones are dropped and
//!   counted ([`CallerStats::duplicates_dropped`]).
//! - **Worker** ([`Worker`], [`serve`]): one durable pull consumer per weight
//!   it serves, with non-overlapping filters (servers before 2.10 allow one
//!   filter per consumer), so hosts can serve different weights of a pool.
//!   It takes only as many jobs as it has free slots (a pull request waiting
//!   for a job reserves a slot; consumers with a backlog or a recent job go
//!   first, and with fewer slots than consumers idle ones take short turns),
//!   runs each job's executor call on a thread of its own, sends in-progress
//!   acks while it runs, and publishes the result before it acks the job.
//! - **Sticky keys** map to partitions (`key mod P`, or the FNV-1a hash of a
//!   byte key), each a consumer with one job in flight across all workers:
//!   a partition's jobs run one at a time, in submission order, on any
//!   worker that serves partitions ([`WorkerConfig::sticky`]).
//! - **Workers are listed** from their heartbeats ([`Caller::workers`],
//!   [`WorkerInfo`]): each worker publishes one every
//!   [`WorkerConfig::heartbeat_interval`], when a caller asks (each caller
//!   does when it connects), and when it stops; a caller forgets a worker it
//!   has not heard from for three intervals.
//! - **One [`Topology`]** (namespace, partitions, `ack_wait`,
//!   `max_deliver`, the streams' windows) is given to every caller and worker
//!   of a deployment: the first to connect records it in the jobs stream's
//!   description, and one whose topology differs fails to start
//!   ([`Error::is_mismatch`]).
//! - **Results** are stored in `TG_RESULTS` and read by each caller with an
//!   ordered consumer on its own subject, so that results published while
//!   the caller is disconnected (a broker restart) are read after it
//!   reconnects. Read results are purged every second; unread ones age out.
//!
//! # Failures
//!
//! | failure | what happens | outcome for the caller |
//! |---|---|---|
//! | the fn returns an error or panics | the worker publishes it and acks the job | [`Outcome::Error`] / [`Outcome::Panic`]; not retried |
//! | a worker dies mid-job (`kill -9`) | its in-progress acks stop; the broker delivers the job again after `ack_wait` | one value, from the retry ([`CallerStats::redelivered`]) |
//! | a worker dies after publishing a result, before acking | the job runs again elsewhere | the first result; the second is dropped ([`CallerStats::duplicates_dropped`]); fns with side effects must tolerate a second run |
//! | a job crashes every worker it reaches (poison) | on its last allowed delivery a worker terms it (removing it from the stream) instead of running it | [`Outcome::WorkerLost`] ([`CallerStats::poison`]) |
//! | the deadline passes while queued | the worker that gets it terms it unrun | [`Outcome::TimedOut`] |
//! | the job runs past its deadline | its cancel flag is set; the worker acks it | [`Outcome::TimedOut`]; the slot frees when the fn returns |
//! | [`Caller::kill`] | resolved at once; the job is deleted from the queue; workers set its cancel flag | [`Outcome::Cancelled`]; a late result is dropped |
//! | the same job id submitted twice | the broker drops the second copy (duplicate window) | the second submission gets [`Outcome::Error`] |
//! | the broker is down at submit | each publish attempt times out; retried with the same id | [`Outcome::Unavailable`] after the last attempt |
//! | the broker restarts | stored jobs and consumers survive (file storage); clients reconnect; results wait in `TG_RESULTS` | the jobs complete; a running job whose ack was lost may run twice (second result dropped) |
//! | the window is full | [`Caller::try_reserve`] returns `None` | the core waits ([`Caller::when_capacity`]) or refuses |
//! | arguments over the server's `max_payload` (1 MiB by default) | refused at publish | [`Outcome::Error`] that says so |
//! | the caller closes | pending jobs resolve; its unread results are purged | [`Outcome::Unavailable`] |
//!
//! Execution is at least once; outcomes are exactly once. A kill is best
//! effort (a worker that misses the message finishes the job), but its
//! outcome is final.
//!
//! # Wire format
//!
//! Version 1, in the `Tg-Format` header of every job and result; a worker
//! answers a job of another version with an [`Outcome::Error`] that says so.
//! Bodies are postcard (as in the process pool), byte blocks travel as one
//! block.
//!
//! ```text
//! job     subject  tg.jobs.<pool>.<weight>.<op>     or  tg.jobs.<pool>.sticky.p<N>.<op>
//!         headers  Nats-Msg-Id <job id>, Tg-Format 1, Tg-Reply tg.res.<caller id>
//!         body     { op: str, budget: Option<Duration>, args: bytes }
//! result  subject  tg.res.<caller id>
//!         headers  Tg-Format 1
//!         body     { job: str, delivered: u64, outcome: Value(bytes) | Panic(str)
//!                    | Error(str) | TimedOut(str) | WorkerLost(str) }
//! kill    subject  tg.ctl.<pool>.kill                 body  the job id (core NATS, not stored)
//! beat    subject  tg.hb.<pool>.<worker id>           (core NATS, not stored)
//!         headers  Tg-Format 1
//!         body     { worker, host, pid, pool, weights, sticky, slots, busy, done,
//!                    started, up, interval, leaving }
//! ask     subject  tg.ctl.heartbeat                   (core NATS; every worker beats now)
//! ```
//!
//! The op token of a job subject has characters a subject cannot hold
//! replaced by `_`; the exact op travels in the body. `tg` is the default
//! namespace ([`Topology::namespace`]); another one, `orders` say, gives
//! streams `ORDERS_JOBS` and `ORDERS_RESULTS` and subjects `orders.…`.
//! Streams: `TG_JOBS`
//! (`tg.jobs.>`, work queue, file storage, duplicate window 2 min) and
//! `TG_RESULTS` (`tg.res.>`, limits, file storage, max age 10 min). Durable
//! consumers: `tg_<pool>_<weight>` and `tg_<pool>_sticky_p<N>`.
//!
//! A job's deadline travels as the budget it had left at submission; a
//! worker subtracts the time the job spent queued, measured from the
//! broker's timestamp by the worker's clock, so worker hosts and the broker
//! should agree on the time (NTP) to well within the budgets used.
//!
//! # Broker
//!
//! `nats-server` 2.9 or newer with JetStream (`nats-server -js`); Debian
//! bookworm's 2.9.10 is what the tests run against. The client is
//! `async-nats` without its default features, which target newer servers.

#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

mod broker;
mod caller;
mod error;
mod job;
mod names;
mod topology;
mod wire;
mod worker;

pub use caller::{Caller, CallerConfig, CallerStats, ConnectionState, Permit, Remote, WorkerInfo};
pub use error::Error;
pub use job::{DEFAULT_POOL, Job, OnDone, Outcome, StickyKey};
pub use topology::Topology;
pub use worker::{
    CancelFlag, Executor, Failure, ResultHook, Worker, WorkerConfig, WorkerStats, serve,
};
