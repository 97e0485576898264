//! Token-managed concurrency: turn plain sync fns into calls that return a
//! token at once, run in parallel on a coordinator, and resolve safely and
//! observably, without writing locks, pools or channels.
//!
//! # Hello, tokens
//!
//! Put [`task_token_guard`] on a sync fn. Calling it now returns a
//! [`TaskToken`] at once; the body runs on a worker thread of the running
//! [`OperationsCoordinator`].
//!
//! ```
//! use tokengate::{task_token_guard, OperationsCoordinator};
//!
//! #[task_token_guard(op = "prime_check", weight = "medium")]
//! fn is_prime(n: u64) -> bool {
//!     n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
//! }
//!
//! let coordinator = OperationsCoordinator::start();
//! let tokens: Vec<_> = (0..1_000).map(is_prime).collect(); // returns at once
//! let primes = tokens.into_iter().map(|t| t.wait().unwrap()).filter(|&p| p).count();
//! assert_eq!(primes, 168);
//! coordinator.stop();
//! ```
//!
//! # From async code
//!
//! A token is a `Future<Output = Result<T, TaskError>>`: await it, or join many.
//! tokengate needs no async runtime of its own; any executor can await tokens.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use tokengate::{task_token_guard, OperationsCoordinator};
//!
//! #[task_token_guard(op = "square", weight = "light")]
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! let coordinator = OperationsCoordinator::start();
//! let results = futures::future::join_all((0..100).map(square)).await;
//! assert_eq!(results[9].as_ref().unwrap(), &81);
//! coordinator.stop();
//! # }
//! ```
//!
//! # What can go wrong, and how you hear about it
//!
//! Every token resolves exactly once, to `Ok(value)` or to a [`TaskError`]:
//! a panic (the worker lives on), a kill, a timeout, a rejection by a full lane,
//! a stopped coordinator, or no coordinator at all. Nothing hangs.
//!
//! A stack overflow or an `abort()` is not a panic, and ends the whole
//! process when it happens on a thread, as it would on any thread: raise
//! [`CoordinatorBuilder::stack_size`] for deeply recursive fns, or run code
//! that may crash with `process_pool = true` (see below), where only its
//! worker process ends.
//!
//! ```
//! use std::time::Duration;
//! use tokengate::{task_token_guard, OperationsCoordinator};
//!
//! #[task_token_guard(op = "slow", timeout = "20ms")]
//! fn slow() -> u8 {
//!     while !tokengate::is_cancelled() {
//!         std::thread::sleep(Duration::from_millis(1));
//!     }
//!     0
//! }
//!
//! assert!(slow().wait().unwrap_err().is_no_coordinator()); // none started yet
//!
//! let coordinator = OperationsCoordinator::start();
//! let err = slow().wait().unwrap_err();
//! assert!(err.is_timeout());
//! println!("{err}"); // guarded call `slow` timed out after 20ms; raise its `timeout`, ...
//! coordinator.stop();
//! ```
//!
//! # Calls that belong together
//!
//! Dropping a token *detaches* its call: it runs on, its result unread. To
//! tie calls to their caller instead, put them in a [`TokenGroup`] (the first
//! failure kills the rest; a group dropped unjoined kills what it holds),
//! wrap one in [`kill_on_drop`](TaskToken::kill_on_drop), or keep a
//! [`kill_handle`](TaskToken::kill_handle). Over many items,
//! [`map_unordered`] hands results back as they finish, with at most
//! [`in_flight`](MapUnordered::in_flight) calls made at a time.
//!
//! ```
//! use tokengate::{task_token_guard, OperationsCoordinator, TokenGroup};
//!
//! #[task_token_guard(op = "word_count", weight = "light")]
//! fn word_count(text: String) -> usize {
//!     text.split_whitespace().count()
//! }
//!
//! let coordinator = OperationsCoordinator::start();
//! let texts = ["a b", "c d e", "f"].map(String::from);
//! let group: TokenGroup<usize> = texts.clone().into_iter().map(word_count).collect();
//! assert_eq!(group.wait().unwrap(), [2, 3, 1]); // all or nothing, in add order
//!
//! let mut total = 0;
//! for (_index, count) in tokengate::map_unordered(word_count, texts).in_flight(2) {
//!     total += count.unwrap(); // as each call finishes
//! }
//! assert_eq!(total, 6);
//! coordinator.stop();
//! ```
//!
//! # Nesting
//!
//! A guarded fn may call guarded fns and wait on their tokens, or take tokens
//! as arguments. A worker that waits on a still-queued token runs it itself, so
//! this never deadlocks, even on a coordinator with a single worker.
//!
//! ```
//! use tokengate::{task_token_guard, OperationsCoordinator};
//!
//! #[task_token_guard(op = "fib")]
//! fn fib(n: u32) -> u64 {
//!     if n < 2 {
//!         return n as u64;
//!     }
//!     let (a, b) = (fib(n - 1), fib(n - 2));
//!     a.wait().unwrap() + b.wait().unwrap()
//! }
//!
//! let one_worker = OperationsCoordinator::builder()
//!     .core_groups(1)
//!     .workers_per_core(1)
//!     .start()
//!     .unwrap();
//! assert_eq!(one_worker.run(|| fib(15)).wait().unwrap(), 610);
//! one_worker.stop();
//! ```
//!
//! # Routing contracts
//!
//! Tags on the attribute declare what a function needs, and the coordinator
//! keeps the promise:
//!
//! * `storage_speed = "SLOW" | "MODERATE" | "FAST" | "INSANE"`: an IO call; all
//!   calls of a tier share one cap (10 / 25 / 50 / 70 at once by default), run on
//!   IO threads, and never hold a CPU worker while they wait.
//! * `sticky_anchor = "name"`: calls with the same anchor and equal arguments form
//!   a *domain*: they run on one worker, one at a time, in submission order,
//!   while other domains run in parallel.
//! * `external_calls = ["child_op", ...]`: a *lead*; calls of the listed ops made
//!   while it runs (however deep) run in the lead's worker group, and the lead's
//!   domain is released when the lead and all of them have finished.
//! * `hash_policy` / `digest_policy`: how a sticky key is made from the
//!   arguments, and how keys and lead seeds are digested; see [`fingerprint`].
//!
//! ```
//! use std::sync::Mutex;
//! use tokengate::{task_token_guard, OperationsCoordinator, TokenId};
//!
//! static RAN: Mutex<Vec<TokenId>> = Mutex::new(Vec::new());
//!
//! #[task_token_guard(op = "settle", sticky_anchor = "account")]
//! fn settle(account: u64) {
//!     // Calls for one account run one at a time, in the order they were made.
//!     RAN.lock().unwrap().extend(tokengate::current_token_id());
//! }
//!
//! let coordinator = OperationsCoordinator::start();
//! let tokens: Vec<_> = (0..20).map(|_| settle(7)).collect();
//! let made: Vec<TokenId> = tokens.iter().map(|t| t.id()).collect();
//! for t in tokens {
//!     t.wait().unwrap();
//! }
//! assert_eq!(*RAN.lock().unwrap(), made);
//! assert_eq!(coordinator.stats().sticky_domains, 0); // the pin is released
//! coordinator.stop();
//! ```
//!
//! # Isolation: worker processes
//!
//! `process_pool = true` runs each call in a warm worker process instead of on
//! a thread. Threads already run Rust in parallel; a process adds a wall: a
//! call that aborts, leaks or loops forever cannot take the application with
//! it, and [`kill`](TaskToken::kill) or a `timeout` really stops it, by killing
//! the process; `memory_limit = "256MiB"` bounds what a call may allocate
//! there. Arguments and the return value cross as serde values; nothing
//! needs to be added to `main` (see [`process`]; Unix only).
//!
//! ```
//! use tokengate::{task_token_guard, OperationsCoordinator};
//!
//! #[task_token_guard(op = "checksum", weight = "heavy", process_pool = true)]
//! fn checksum(data: Vec<u8>) -> (u32, u64) {
//!     let sum = data.iter().map(|&b| u64::from(b)).sum();
//!     (std::process::id(), sum)
//! }
//!
//! #[task_token_guard(op = "crash", process_pool = true)]
//! fn crash() -> u8 {
//!     std::process::abort()
//! }
//!
//! let coordinator = OperationsCoordinator::start();
//! let (pid, sum) = checksum(vec![1; 1 << 20]).wait().unwrap();
//! assert_ne!(pid, std::process::id()); // it ran in another process
//! assert_eq!(sum, 1 << 20);
//! assert!(crash().wait().unwrap_err().is_worker_lost()); // and we live on
//! assert_eq!(checksum(vec![2; 3]).wait().unwrap().1, 6); // on a replacement
//! coordinator.stop();
//! ```
//!
//! # More than one machine
//!
//! `remote = true` sends a fn's calls to worker hosts through a broker and
//! resolves their tokens here; a remote call holds no worker thread while it
//! runs elsewhere. Without a broker configured, such calls run in the local
//! process pool, with the same encoding and errors (see [`remote`]):
//!
//! ```
//! use tokengate::{task_token_guard, OperationsCoordinator};
//!
//! #[task_token_guard(op = "resize_remote", weight = "heavy", remote = true)]
//! fn resize(pixels: Vec<u8>, factor: usize) -> Vec<u8> {
//!     pixels.into_iter().step_by(factor).collect()
//! }
//!
//! let coordinator = OperationsCoordinator::start();
//! assert_eq!(resize(vec![1, 2, 3, 4], 2).wait().unwrap(), [1, 3]);
//! coordinator.stop();
//! ```
//!
//! # The tour
//!
//! * [`task_token_guard`]: the attribute; keys `op`, `weight`, `timeout`,
//!   `storage_speed`, `sticky_anchor`, `external_calls`, `hash_policy`,
//!   `digest_policy`, `process_pool`, `limit`, `queue_timeout`, `retries`,
//!   `retry_backoff`, `retry_on`, `memory_limit`, `remote`, `crate` (for
//!   re-exports of tokengate).
//! * [`TaskToken`]: await it, [`wait`](TaskToken::wait) on it,
//!   [`kill`](TaskToken::kill) it, read its [`state`](TaskToken::state) and timings.
//! * [`OperationsCoordinator`]: start, stop, bind ([`enter`](Handle::enter)),
//!   admin (kill, pause, resume, drain, globally or per operation) and
//!   [`stats`](Handle::stats); a cloneable [`Handle`] does the same from
//!   anywhere.
//! * [`CoordinatorBuilder`]: core groups, workers per core, lane and mailbox
//!   capacities, [`FullLanePolicy`], stop timeout, worker processes.
//! * [`map`] / [`a_map`]: one fn over many items, results in order;
//!   [`map_unordered`] / [`a_map_unordered`]: as they finish, bounded, with
//!   fail fast and progress ([`Handle::bulk_maps`] shows them).
//! * [`TokenGroup`]: calls that succeed or fail together, joined in add or
//!   completion order; [`KillOnDrop`] and [`KillHandle`]: cancellation of
//!   lone calls.
//! * [`spawn`] / [`Task`]: guarded calls of closures, without the attribute.
//! * [`is_cancelled`] / [`checkpoint`]: cooperative cancellation inside a call;
//!   [`current_worker`] / [`current_token_id`]: where and which call runs.
//! * [`fingerprint`]: compute routing keys yourself, to predict routing.
//! * [`process`]: how `process_pool` calls reach worker processes, and what
//!   happens when one fails.
//! * [`telemetry`]: a `tokengate.call` span per call that continues the
//!   caller's span tree on the worker (feature `tracing`, on by default),
//!   metrics for the `metrics` facade (feature `metrics`), and
//!   [`prometheus_text`](Handle::prometheus_text) for a `/metrics` endpoint.
//! * [`remote`]: `remote = true` calls on worker hosts, through a broker
//!   ([`CoordinatorBuilder::remote`]; `tokengate-remote` provides NATS
//!   JetStream), and the contract a broker client implements.
//!
//! # How calls are scheduled
//!
//! Calls wait in one bounded lane per [`Weight`], and run on worker threads
//! grouped per core. Each weight is served first by its home core groups
//! (heavy by group 1, medium by groups 2 and up, light by 3 and up), and any
//! weight uses every core when the others are idle. Within a group a call goes
//! to the least-loaded worker's mailbox, and idle workers take queued calls
//! from busy ones. The full design note is in the `scheduler` module source
//! (`src/scheduler/README.md`); the token state machine is described in
//! `src/token/mod.rs`.

// The process pool's worker entry (`process/entry.rs`) is the one `unsafe`
// item, allowed there alone.
#![deny(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

mod cancel;
mod coordinator;
mod error;
pub mod fingerprint;
mod group;
mod map;
mod metrics;
mod name;
#[cfg(feature = "process")]
#[cfg_attr(docsrs, doc(cfg(feature = "process")))]
pub mod process;
pub mod remote;
mod scheduler;
mod spawn;
mod state;
pub mod stats;
mod storage;
mod sync;
pub mod telemetry;
mod token;
mod unwind;
mod weight;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use cancel::{WorkerInfo, checkpoint, current_token_id, current_worker, is_cancelled};
pub use coordinator::{
    AutoBlock, CoordinatorBuilder, EnterGuard, FullLanePolicy, Handle, OperationsCoordinator,
    Override, PanicReport, RetryOn,
};
pub use error::{BuildError, Cancelled, ErrorKind, KillReason, TaskError, TokenId};
pub use group::{GroupError, MemberError, TokenGroup};
pub use map::{AMapUnordered, MapUnordered, a_map, a_map_unordered, map, map_unordered};
pub use name::ParseNameError;
pub use spawn::{RetryingTask, Task, spawn};
pub use state::TokenState;
pub use storage::StorageSpeed;
pub use token::{KillHandle, KillOnDrop, TaskToken};
pub use tokengate_macros::task_token_guard;
pub use weight::Weight;
