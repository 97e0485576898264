//! The `#[task_token_guard]` attribute for [tokengate].
//!
//! This crate is an implementation detail of tokengate: use the attribute through
//! its re-export, `tokengate::task_token_guard`, where its documentation is
//! shown. The examples in that documentation are this crate's doctests: they
//! run against tokengate, a dev-dependency, as a user's code would. The
//! expansion names `::tokengate::…` paths, so the crate that uses the attribute
//! must depend on `tokengate` itself, unless `crate = "…"` names another path
//! to it (see `runtime_path`).
//!
//! # How it is built
//!
//! The attribute is parsed, checked and expanded in three steps, one module each:
//!
//! * `args` parses `op = "…", weight = "…", …` into `GuardArgs`, through a
//!   table of keys, so a new key is one small addition, then checks the keys
//!   against each other (keys that exclude each other, keys without effect);
//! * `validate` checks the signature of the decorated fn (no `async`, no borrowed
//!   `self` or arguments, …), and its `#[key]` markers against the keys (the
//!   markers are taken out of the signature as the fn is parsed, in `item`);
//! * `expand` writes the rewritten fn (its comment shows input and output).
//!
//! Errors are `syn::Error`s on the offending token, accumulated where that is
//! cheap. On any error the fn is still emitted with its token return type, so the
//! rest of the user's crate keeps type-checking while the error is reported.
//!
//! [tokengate]: https://docs.rs/tokengate

#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]
#![doc(test(attr(deny(warnings))))]

mod args;
mod errors;
mod expand;
mod item;
mod runtime_path;
mod size;
mod timeout;
mod validate;

use proc_macro::TokenStream;

/// Runs a sync fn on a tokengate worker: a call returns a
/// [`TaskToken`](https://docs.rs/tokengate/latest/tokengate/struct.TaskToken.html)
/// at once, and the body runs later on a worker thread of the coordinator.
///
/// ```
/// use tokengate::{OperationsCoordinator, task_token_guard};
///
/// #[task_token_guard(op = "prime_check", weight = "heavy", timeout = "10s")]
/// pub fn is_prime(n: u64) -> bool {
///     n >= 2 && (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0)
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// // Returns at once; `.wait()` blocks, `.await` suspends.
/// let token: tokengate::TaskToken<bool> = is_prime(97);
/// assert!(token.wait()?);
/// coordinator.stop();
/// # Ok::<(), tokengate::TaskError>(())
/// ```
///
/// # Keys
///
/// Every key is optional and may appear at most once. Values are string
/// literals, except for `external_calls` and `retry_on` (lists of them),
/// `process_pool` (a bool), `remote` (a bool or a string) and `retries` (a
/// number); names out of a fixed set (weights, tiers, policies, retry causes)
/// are read in any case. Besides the keys, a `#[key]` marker on an argument
/// chooses what a sticky key is made of (see [below](#sticky-keys)).
///
/// | key              | value                                                  | default        | effect |
/// |------------------|--------------------------------------------------------|----------------|--------|
/// | `op`             | the operation name, a non-empty string                 | the fn's name  | names the call on its token, in stats and in errors |
/// | `weight`         | `"light"`, `"medium"` or `"heavy"`                     | `"medium"`     | the lane the call waits in, and the core groups that serve it first |
/// | `timeout`        | a number and a unit: `"500ns"`, `"100us"` (or `"100µs"`), `"250ms"`, `"1.5s"`, `"2m"`, `"1h"` | none | the token fails with a timeout error once that long has passed |
/// | `storage_speed`  | `"SLOW"`, `"MODERATE"`, `"FAST"` or `"INSANE"`         | none: a CPU call | an IO call: it runs on an IO thread, never on a CPU core group, capped by its tier (10, 25, 50 or 70 at once by default) |
/// | `sticky_anchor`  | the domain's name, a non-empty string                  | none           | a sticky call: calls with the same anchor and the same key (see `hash_policy`) form a domain, which follows one worker |
/// | `external_calls` | a non-empty list of distinct, non-empty op names: `["fetch", "parse"]` | none | a lead: its children, the guarded calls of those ops that it makes, follow the lead's worker group; on a `remote` fn, they run on the lead's worker host (see [remote leads](#remote-leads)) |
/// | `hash_policy`    | `"none"`, `"fast"`, `"standard"` or `"full"`           | `"standard"` for a sticky fn, `"none"` for a lead | how a sticky call's key, or a lead's seed, is made from its arguments (see [sticky keys](#sticky-keys) and [keyed leads](#keyed-leads)) |
/// | `digest_policy`  | `"full"` (SHA-256), `"short"` (SHA-256, 8 bytes), `"fast"` (BLAKE2s, 8 bytes) or `"minimal"` (SHA-256, 4 bytes) | `"full"` | how a stable sticky key, or a lead's seed, is digested |
/// | `process_pool`   | `true` or `false`, unquoted                            | `false`        | `true` runs the call in a warm worker process instead of on a thread, so that a crash, a leak or a runaway loop takes only that process; the arguments and the return value must be serde types (see [`tokengate::process`](https://docs.rs/tokengate/latest/tokengate/process/index.html)) |
/// | `limit`          | a name of ASCII letters, digits, `_`, `-` and `.`: `"github_api"` | none | a named limit: every call of every fn that names it shares one cap, which the coordinator sets by that name; a call waits for its turn under the limit on top of its other gates |
/// | `queue_timeout`  | a duration, as for `timeout`: `"100ms"`                 | none           | load shedding: a call that has not started this long after it was made resolves expired, without running (see [guards](#guards-retries-shedding-memory-limits)) |
/// | `retries`        | a number from 0 to 100, unquoted: `3`                   | `0`            | attempts after the first, made when the call fails with one of the `retry_on` causes; the token resolves once, with the last attempt's outcome |
/// | `retry_backoff`  | a duration, as for `timeout`: `"10ms"`; needs `retries` | `"10ms"`       | the wait before the first retry, doubled for each next one (with jitter, capped at 30 s) |
/// | `retry_on`       | a non-empty list of distinct causes out of `"panic"`, `"worker_lost"`, `"timeout"` and `"err"`; needs `retries` | `["panic", "worker_lost"]` | the failures that are retried; `"err"`, on a fn that returns `Result`, retries an `Err` value too |
/// | `memory_limit`   | a whole number and a unit out of `B`, `KiB`, `MiB`, `GiB` (powers of 1024), `KB`, `MB`, `GB` (powers of 1000): `"256MiB"`; needs `process_pool = true` | none | the memory the call may allocate in its worker process; past it, the call fails with an error that names the limit, and the worker is replaced |
/// | `remote`         | `true`, `false` (unquoted), or the name of a pool of worker hosts, 1 to 64 ASCII letters, digits, `_` and `-`: `"gpu"` | `false` | `true` (the pool `"default"`) or a pool name sends the call to worker hosts through the coordinator's remote backend, where it runs as a call of the host's coordinator; its token resolves here. The arguments and the return value must be serde types, as for `process_pool`; with `process_pool = true` too, the host runs it in its own process pool. Without a backend, it runs in the local process pool (see [remote fns](#remote-fns) and [`tokengate::remote`](https://docs.rs/tokengate/latest/tokengate/remote/index.html)) |
/// | `crate`          | a path to tokengate, such as `"my_reexport::tokengate"` | `"::tokengate"` | the path the expansion names tokengate by, for code that reaches it through a re-export (see [below](#through-a-re-export)) |
///
/// A timeout (a `queue_timeout`, a `retry_backoff`) must be greater than
/// zero, a whole number of nanoseconds, and at most `u64::MAX` nanoseconds
/// (about 584 years). A memory limit must be greater than zero, at most
/// `u64::MAX` bytes, and a whole number of its unit (`"1536MiB"`, not
/// `"1.5GiB"`); units are case-sensitive.
///
/// ## Keys that go together
///
/// * `sticky_anchor` and `external_calls` exclude each other: a fn is either a
///   sticky domain member or a lead, not both, since a lead's children follow the
///   lead's worker group while a sticky call follows its own domain's worker.
/// * `storage_speed` excludes both: an IO call runs on an IO thread, outside the
///   core groups that domains and leads route to.
/// * `storage_speed` and `process_pool = true` exclude each other: an IO call
///   runs on an IO thread, a process-pool call in a worker process. A
///   process-pool fn may be sticky (`sticky_anchor`) or a lead
///   (`external_calls`): both are routed in the calling process, as on
///   threads.
/// * `hash_policy` and `digest_policy` need `sticky_anchor` or
///   `external_calls`; elsewhere they would have no effect.
/// * `weight` goes with `storage_speed`: the weight is then given explicitly,
///   which makes the IO call a combined one, bounded by its tier and by the
///   CPU workers of its weight. Without `weight`, a `storage_speed` call is
///   IO alone.
/// * `limit` goes with every other key: it is one more gate that admits the
///   call, whatever else routes it.
/// * `retry_backoff` and `retry_on` need `retries`; elsewhere they would have
///   no effect. `"err"` in `retry_on` needs a fn whose return type is written
///   as a path whose last segment is `Result`: `Result<T, E>`,
///   `std::io::Result<T>`, `anyhow::Result<T>`. An alias of another name
///   cannot be seen through by the attribute; write `Result` in the signature.
/// * `memory_limit` needs `process_pool = true`: a limit holds the worker
///   process that runs the call, while a thread call shares its process with
///   the whole program, which no per-call limit can bound. On a `remote` fn
///   too: with `process_pool = true`, its worker host holds the limit.
/// * `remote` excludes `storage_speed` (an IO call takes a turn of this host's
///   storage tier, which a call run on another host would not hold; a `limit`
///   bounds remote calls instead). It goes with `process_pool` (isolation on
///   the host), `sticky_anchor` (the key becomes a broker partition: one call
///   of a key at a time, in order, across hosts), `external_calls` (a remote
///   lead: it and its children run on one worker host, see
///   [remote leads](#remote-leads)), `limit`, `timeout`, `queue_timeout` and
///   `retries` (each attempt is sent again, as its own job).
/// * A `remote` lead (`remote` with `external_calls`) takes neither
///   `hash_policy` nor `digest_policy`: leads with equal keys share one
///   domain, but remote leads run on whichever worker host takes them, each a
///   domain of its own there, seeded by its own call.
/// * `queue_timeout` and `retries` go with every other key.
///
/// Of two keys that exclude each other, the one written later is the error.
///
/// ## Guards: retries, shedding, memory limits
///
/// `retries` makes a failing call try again, on the same token: the caller
/// sees one outcome, the last attempt's. Each retry waits its backoff
/// (`retry_backoff`, doubled for each next retry) and is admitted again like
/// a new call, holding no thread meanwhile; a kill or a stop ends the
/// retries, and the call's own `timeout` counts from the first attempt
/// (unless `retry_on` lists `"timeout"`: then the `timeout` bounds each
/// attempt, and an attempt that runs past it is cut off, its body sees
/// `is_cancelled()`, and the next one follows). `retry_on` chooses what is
/// worth retrying: by default panics and lost worker processes, the failures
/// that a second attempt may not meet.
///
/// Each attempt of a thread fn runs on a fresh copy of the arguments, so they
/// must be `Clone` (a compile error on the argument's type says so), and the
/// fn cannot take `self`. A `process_pool` fn's arguments are encoded once,
/// and the same bytes are sent for each attempt.
///
/// ```
/// use tokengate::task_token_guard;
///
/// #[derive(Debug)]
/// pub struct Busy;
///
/// // Up to 3 more attempts, 20ms, 40ms and 80ms apart (with jitter), when the
/// // body panics or returns an `Err`.
/// #[task_token_guard(op = "fetch", retries = 3, retry_backoff = "20ms", retry_on = ["panic", "err"])]
/// fn fetch(id: u64) -> Result<String, Busy> {
///     Ok(format!("record {id}"))
/// }
/// # let coordinator = tokengate::OperationsCoordinator::start();
/// # assert_eq!(fetch(7).wait().unwrap().unwrap(), "record 7");
/// # coordinator.stop();
/// ```
///
/// `queue_timeout` sheds load: a call that waited that long for a worker
/// (behind a full lane, a pause, a limit) is not worth running any more, so it
/// resolves expired, and never takes a worker.
///
/// `memory_limit` holds a `process_pool` call to the memory it may allocate
/// in its worker process, on top of what the worker held when the call
/// started (its arguments, decoded there, count). An allocation past the
/// limit fails and ends the worker; the call fails with an error for which
/// `is_memory_limit()` is true and whose text names the limit, and the next
/// call gets a fresh worker. Linux only: elsewhere the call fails with an
/// error that says so (see
/// [`tokengate::process`](https://docs.rs/tokengate/latest/tokengate/process/index.html#memory-limits)).
///
/// ```
/// use tokengate::{OperationsCoordinator, task_token_guard};
///
/// #[task_token_guard(op = "thumbnail", process_pool = true, memory_limit = "64MiB")]
/// fn thumbnail(bytes: usize) -> usize {
///     let pixels = std::hint::black_box(vec![1u8; bytes]);
///     pixels.iter().step_by(4096).map(|&p| usize::from(p)).sum()
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// assert_eq!(thumbnail(8 << 20).wait().unwrap(), 2048);
/// # if cfg!(target_os = "linux") {
/// let err = thumbnail(512 << 20).wait().unwrap_err(); // a runaway allocation
/// assert!(err.is_memory_limit());
/// assert!(err.to_string().contains("exceeded its memory limit of 64 MiB"));
/// assert_eq!(thumbnail(8 << 20).wait().unwrap(), 2048); // on a fresh worker
/// # }
/// coordinator.stop();
/// ```
///
/// ## Through a re-export
///
/// The expansion names the runtime by absolute paths, `::tokengate::TaskToken`
/// and the like, so by default the crate that uses the attribute depends on
/// tokengate itself. Code that reaches tokengate through another crate, one
/// that re-exports it, gives that path with `crate`: under
/// `crate = "my_reexport::tokengate"` the expansion names
/// `::my_reexport::tokengate::TaskToken`, and every other runtime item
/// likewise, the process-pool registration included. A path that starts with
/// a name is taken from the extern prelude, as `::tokengate` is, so that no
/// local module of that name can hide it; one that starts with `::`, `crate`,
/// `self` or `super` is used as written. A path that does not lead to
/// tokengate is reported once, on the string.
///
/// ```standalone_crate
/// # // Its own crate: `crate::…` must name this example's crate root, which a
/// # // merged doctest would wrap in a module.
/// mod my_reexport {
///     // What a crate that re-exports tokengate writes at its root.
///     pub use ::tokengate;
/// }
///
/// use my_reexport::tokengate::{OperationsCoordinator, task_token_guard};
///
/// #[task_token_guard(crate = "crate::my_reexport::tokengate", op = "double")]
/// fn double(n: u64) -> u64 {
///     n * 2
/// }
///
/// fn main() {
///     let coordinator = OperationsCoordinator::start();
///     assert_eq!(double(21).wait().unwrap(), 42);
///     coordinator.stop();
/// }
/// ```
///
/// ## Sticky keys
///
/// A sticky call's key is computed from its key arguments, borrowed, before
/// they move to the worker: all of them, `self` first, in order, as one tuple,
/// unless some are marked `#[key]` (below). Every key argument's type must
/// support the `hash_policy`, which is checked at compile time and reported on
/// the type:
///
/// | `hash_policy` | key                                                  | each key argument's type needs |
/// |---------------|------------------------------------------------------|---------------------------|
/// | `"none"`      | the anchor alone: every call shares one domain       | nothing                   |
/// | `"fast"`      | the arguments' `Hash`; the same within one build of a program | `Hash`           |
/// | `"standard"`  | a stable digest of the arguments' serde encoding; the same across processes and runs | `serde::Serialize` |
/// | `"full"`      | as `"standard"`, with the op name in the key too     | `serde::Serialize`        |
///
/// `Hash` is implemented for tuples of at most 12 elements, so past 12
/// arguments the tuple groups them, in order, into tuples of 12, the last one
/// shorter: `((a0, …, a11), (a12, …, a19))` for 20 arguments (past 144, the
/// groups are grouped the same way). A tuple hashes, and encodes canonically,
/// as its elements in order, so the grouping changes no key;
/// [`tokengate::fingerprint`](https://docs.rs/tokengate/latest/tokengate/fingerprint/index.html)
/// computes keys outside a call.
///
/// A sticky fn without arguments is keyed on its anchor alone. Since the key
/// uses every key argument, `unused_variables` does not fire for one that the
/// body ignores.
///
/// The key names its arguments, so in a sticky fn a key argument bound by a
/// pattern (`(a, b): (u32, u32)`, `Point { x, y }: Point`, `_: u8`) is bound to
/// a hidden name in the signature instead, and the body starts by destructuring
/// that name with the same pattern (`_` binds nothing and is not destructured).
/// Callers, and the body, see no difference.
///
/// ### Choosing the key arguments: `#[key]`
///
/// Marking arguments `#[key]` makes the key of those alone, in order: the
/// calls of one account then form one domain, which runs them one at a time in
/// submission order, whatever their other arguments. Only the marked arguments
/// need the policy's trait; the others need nothing more than any argument.
///
/// ```
/// use tokengate::{OperationsCoordinator, task_token_guard};
///
/// // Not `Hash`, and no key needs it to be.
/// pub struct Memo(pub String);
///
/// #[task_token_guard(sticky_anchor = "accounts", hash_policy = "fast")]
/// fn settle(#[key] account: u64, amount: i64, memo: Memo) -> i64 {
///     // Calls of one account never overlap, and run in the order made.
///     amount - memo.0.len() as i64
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// let tokens: Vec<_> = (0..6)
///     .map(|i| settle(i % 2, 100 * i as i64, Memo(String::new())))
///     .collect();
/// let settled: Vec<i64> = tokens.into_iter().map(|t| t.wait().unwrap()).collect();
/// assert_eq!(settled, [0, 100, 200, 300, 400, 500]);
/// coordinator.stop();
/// ```
///
/// The marker is taken out of the emitted fn. It is a compile error, on the
/// marker, on `self` (mark the arguments instead), with arguments of its own
/// (`#[key(x)]`), twice on one argument, and where the key is not made of
/// arguments: a fn without `sticky_anchor` (or a keyed lead, below), or one
/// under `hash_policy = "none"`.
///
/// ## Keyed leads
///
/// A lead's children follow it, in its domain, which is made from a seed. By
/// default (`hash_policy = "none"`) the seed comes from the lead's token id,
/// so each lead call is a domain of its own. Under `"fast"`, `"standard"` or
/// `"full"` the seed comes from the lead's key arguments instead, made as a
/// sticky key is (every argument, or those marked `#[key]`, with the same
/// trait needed of each), and from its `external_calls`: leads with equal key
/// arguments and the same list share one domain while any of them, or any of
/// their children, is live, so all their children run in one worker group.
/// Under `"standard"`, that includes leads of different ops; under `"full"` the
/// op is part of the key. `digest_policy` digests the seed either way; seeds
/// that collide (more likely under the short digests) merge their domains,
/// which only puts more children in one group.
///
/// ```
/// use tokengate::{OperationsCoordinator, TaskToken, task_token_guard};
///
/// #[task_token_guard(op = "child")]
/// fn child_op(n: i64) -> i64 {
///     n * 2
/// }
///
/// #[task_token_guard(
///     op = "lead",
///     weight = "medium",
///     hash_policy = "fast",
///     digest_policy = "fast",
///     external_calls = ["child"]
/// )]
/// fn lead_operation(n: i64) -> Vec<TaskToken<i64>> {
///     (0..4).map(|i| child_op(n + i)).collect()
/// }
///
/// let coordinator = OperationsCoordinator::start();
/// let children = lead_operation(1).wait()?;
/// let values: Vec<i64> = children.into_iter().map(|t| t.wait().unwrap()).collect();
/// assert_eq!(values, [2, 4, 6, 8]);
/// coordinator.stop();
/// # Ok::<(), tokengate::TaskError>(())
/// ```
///
/// # What the fn may look like
///
/// The call moves to a worker thread, so everything it takes and returns must be
/// `Send + 'static`:
///
/// * arguments are owned (`String`, not `&str`; no non-`'static` lifetimes);
///   any pattern works (`(a, b): (u32, u32)`, `mut x: u32`, `_: u8`), but not a
///   `ref` binding;
/// * a method takes `self` by value (`self`, `mut self`, `self: Box<Self>`),
///   never `&self` or `&mut self`;
/// * the fn is not `async`, `const`, `unsafe` or `extern`; an `async fn` is not
///   needed, since the token the fn returns is itself a future;
/// * the fn returns a value, which its token resolves to: not `!`. A fn that
///   never returns can return `()` (or `std::convert::Infallible`) with its
///   body as it is.
///
/// Visibility, attributes, doc comments, generics and where clauses are kept.
/// `return` and `?` in the body work as in the original fn.
///
/// ## Process-pool fns
///
/// A `process_pool = true` call goes further: its arguments are encoded with
/// serde, sent to a worker process, decoded there, and its value comes back the
/// same way. A worker process finds the fn by its op name, so on top of the
/// above:
///
/// * every argument type and the return type implement `serde::Serialize` and
///   `serde::Deserialize` (checked at compile time, reported on the type); a
///   `Vec<u8>`, written as such, travels as one block of bytes;
/// * the fn is a free fn or an associated fn without `self`;
/// * it has no type or const parameters, and no `impl Trait` argument or
///   return type: one op names one concrete fn, and each value a concrete type;
/// * the body runs as a fn of its own, nested in the rewritten one, so neither
///   the signature nor the body can name the impl's `Self` or its generics.
///
/// Two `process_pool` fns with one op name in one executable stop every
/// coordinator in it from starting: give each its own `op`.
///
/// ## Remote fns
///
/// A `remote` fn's calls cross the same way, to a worker host through a
/// broker, so the same holds of it (the messages say `remote`), and its op
/// name must name the same fn in the caller's build and the hosts'. Without a
/// remote backend on the coordinator, its calls run in the local process
/// pool, so it is checked, tested and run like a process-pool fn:
///
/// ```
/// use tokengate::{OperationsCoordinator, task_token_guard};
///
/// #[task_token_guard(op = "score", weight = "heavy", remote = "gpu", timeout = "30s")]
/// fn score(features: Vec<f32>) -> f32 {
///     features.iter().sum()
/// }
///
/// let coordinator = OperationsCoordinator::start(); // no backend: the local pool
/// assert_eq!(score(vec![0.5, 1.5]).wait().unwrap(), 2.0);
/// coordinator.stop();
/// ```
///
/// ## Remote leads
///
/// A `remote` fn with `external_calls` is a remote lead: one job, which its
/// worker host runs as a lead of the host's own coordinator. The guarded
/// calls of listed ops that its body makes (its children, and theirs) run on
/// that host, in the lead's domain and worker group, as `external_calls`
/// defines it there. A listed child that is a `remote` fn itself is not sent
/// through the broker again: it runs on the host as the host runs a job of
/// its own (on a thread, or in the host's process pool with
/// `process_pool = true`), through the same encoding, even where the host's
/// coordinator has a remote backend. A call of an op the lead does not list
/// is routed as it would be anywhere (a `remote` one goes to the broker, if
/// the host has one).
///
/// A kill or timeout of the lead resolves its token on the caller at once and
/// reaches the host as any remote call's kill does (best effort); the host
/// then kills the lead's children with it
/// ([`KillReason::Lead`](https://docs.rs/tokengate/latest/tokengate/enum.KillReason.html)),
/// and any child its still-running body makes after that. Without a backend,
/// a remote lead runs in the local process pool, and its children run with it
/// in that worker process:
///
/// ```
/// use tokengate::{OperationsCoordinator, task_token_guard};
///
/// #[task_token_guard(op = "tokenize")]
/// fn tokenize(text: String) -> usize {
///     text.split_whitespace().count()
/// }
///
/// #[task_token_guard(op = "embed", remote = true)]
/// fn embed(words: usize) -> (usize, u32) {
///     (words * 8, std::process::id())
/// }
///
/// #[task_token_guard(op = "index", remote = true, external_calls = ["tokenize", "embed"])]
/// fn index(text: String) -> (usize, u32, u32) {
///     let words = tokenize(text).wait().unwrap();
///     let (size, child) = embed(words).wait().unwrap();
///     (size, child, std::process::id())
/// }
///
/// let coordinator = OperationsCoordinator::start(); // no backend: the local pool
/// let (size, child, lead) = index("to be or not".to_owned()).wait().unwrap();
/// assert_eq!(size, 32);
/// assert_eq!(child, lead); // the remote child ran where its lead ran
/// assert_ne!(lead, std::process::id());
/// coordinator.stop();
/// ```
///
/// # Equivalent code
///
/// The attribute rewrites `is_prime`, from the first example, to the code
/// below (under `crate = "…"`, each `::tokengate` is that path instead):
///
/// ```
/// # mod guarded {
/// #     #[tokengate::task_token_guard(op = "prime_check", weight = "heavy", timeout = "10s")]
/// #     pub fn is_prime(n: u64) -> bool {
/// #         n >= 2 && (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0)
/// #     }
/// # }
/// pub fn is_prime(n: u64) -> ::tokengate::TaskToken<bool> {
///     // One check per argument, pointing at its type when it is not `Send + 'static`.
///     ::tokengate::__private::assert_arg::<u64>();
///     // The same for the return type.
///     ::tokengate::__private::assert_return::<bool>();
///     // The call site's static facts: one `const` setter per key that was given.
///     let __tg_site: &'static ::tokengate::__private::Site = {
///         static __TOKENGATE_SITE: ::tokengate::__private::Site =
///             ::tokengate::__private::Site::new("prime_check")
///                 .weight(::tokengate::Weight::Heavy)
///                 .timeout_nanos(10_000_000_000);
///         &__TOKENGATE_SITE
///     };
///     // The body becomes a closure that owns the arguments. Naming the return
///     // type again keeps a non-`Send` return type down to one error.
///     ::tokengate::__private::submit::<bool, _>(__tg_site, move || -> bool {
///         n >= 2 && (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0)
///     })
/// }
/// # // The rewritten fn and the guarded one make the same calls.
/// # let coordinator = tokengate::OperationsCoordinator::start();
/// # for n in [0, 1, 2, 91, 97] {
/// #     let (written, guarded) = (is_prime(n), guarded::is_prime(n));
/// #     assert_eq!(written.op(), guarded.op());
/// #     assert_eq!(written.weight(), guarded.weight());
/// #     assert_eq!(written.wait().unwrap(), guarded.wait().unwrap());
/// # }
/// # coordinator.stop();
/// ```
///
/// A fn with no return type returns `TaskToken<()>`. A by-value `self` is checked
/// with `assert_arg::<Self>()`. Types that contain `impl Trait` cannot be named,
/// so they get no check of their own (the bounds of `submit` catch them instead),
/// and an `impl Trait` return type is left off `submit` and the closure, whose
/// return type is then inferred from the body.
///
/// The names the expansion adds cannot clash with the fn's own: `__tg_site`
/// and the other locals are hygienic (the body cannot name them, and an
/// argument may have the same name), the statics are declared in blocks of
/// their own, and the helpers below are associated fns of a type declared in
/// the fn, `__Tokengate`.
///
/// A sticky fn (or a keyed lead) also checks each key argument's type, and
/// computes the key from borrowed arguments before the closure takes them. The key goes through
/// a helper that takes each argument separately, so that an argument type that
/// the key cannot use is reported once, on that type:
///
/// ```
/// use tokengate::task_token_guard;
///
/// #[task_token_guard(sticky_anchor = "account")]
/// fn deposit(account: String, (cents, memo): (u64, String)) -> u64 {
///     cents + memo.len() as u64
/// }
/// # let coordinator = tokengate::OperationsCoordinator::start();
/// # assert_eq!(deposit("alice".to_owned(), (5, "rent".to_owned())).wait().unwrap(), 9);
/// # coordinator.stop();
/// ```
///
/// becomes:
///
/// ```
/// # use tokengate::__private::Serialize;
/// # mod guarded {
/// #     #[tokengate::task_token_guard(sticky_anchor = "account")]
/// #     pub fn deposit(account: String, (cents, memo): (u64, String)) -> u64 {
/// #         cents + memo.len() as u64
/// #     }
/// # }
/// fn deposit(account: String, __tg_arg1: (u64, String)) -> ::tokengate::TaskToken<u64> {
///     enum __Tokengate {}
///     impl __Tokengate {
///         fn stable_key<A0: ?Sized + Serialize, A1: ?Sized + Serialize>(
///             site: &'static ::tokengate::__private::Site,
///             a0: &A0,
///             a1: &A1,
///         ) -> ::tokengate::__private::RouteKey {
///             ::tokengate::__private::stable_key(site, &(a0, a1))
///         }
///     }
///     ::tokengate::__private::assert_arg::<String>();
///     ::tokengate::__private::assert_arg::<(u64, String)>();
///     // `assert_hash_key` instead under `hash_policy = "fast"`.
///     ::tokengate::__private::assert_stable_key::<String>();
///     ::tokengate::__private::assert_stable_key::<(u64, String)>();
///     ::tokengate::__private::assert_return::<u64>();
///     let __tg_site: &'static ::tokengate::__private::Site = {
///         static __TOKENGATE_SITE: ::tokengate::__private::Site =
///             ::tokengate::__private::Site::new("deposit").sticky_anchor("account");
///         &__TOKENGATE_SITE
///     };
///     ::tokengate::__private::submit_keyed::<u64, _>(
///         __tg_site,
///         __Tokengate::stable_key(__tg_site, &account, &__tg_arg1),
///         move || -> u64 {
///             let (cents, memo) = __tg_arg1;
///             cents + memo.len() as u64
///         },
///     )
/// }
/// # // The rewritten fn and the guarded one make the same calls.
/// # let coordinator = tokengate::OperationsCoordinator::start();
/// # for (account, entry) in [("alice", (5, "rent")), ("bob", (0, ""))] {
/// #     let written = deposit(account.to_owned(), (entry.0, entry.1.to_owned()));
/// #     let guarded = guarded::deposit(account.to_owned(), (entry.0, entry.1.to_owned()));
/// #     assert_eq!(written.op(), guarded.op());
/// #     assert_eq!(written.wait().unwrap(), guarded.wait().unwrap());
/// # }
/// # coordinator.stop();
/// ```
///
/// (`Serialize` is `::tokengate::__private::Serialize`, so that the crate need
/// not depend on serde.) Under `hash_policy = "fast"`, the helper is
/// `fast_key(a0: &A0, a1: &A1)`, its parameters bound by `Hash`, which calls
/// `::tokengate::__private::fast_key(&(a0, a1))`. With `#[key]` markers, the
/// helper takes the marked arguments alone, and only their types are checked
/// and their patterns moved. With `hash_policy = "none"`, or no arguments, a
/// sticky fn has no key beyond its anchor: it checks nothing more, keeps its
/// patterns, and calls `submit`. A keyed lead computes its key the same way.
///
/// A `process_pool = true` fn keeps its body as a nested fn, registers a
/// wrapper for the worker processes, and submits its encoded arguments:
///
/// ```standalone_crate
/// # // Its own executable: the rewritten `total` below registers the same op,
/// # // and in one executable (merged doctests share one) that would stop every
/// # // coordinator from starting.
/// use tokengate::task_token_guard;
///
/// #[task_token_guard(process_pool = true)]
/// fn total(cents: Vec<u64>) -> u64 {
///     cents.iter().sum()
/// }
/// # let coordinator = tokengate::OperationsCoordinator::start();
/// # assert_eq!(total(vec![1, 2, 3]).wait().unwrap(), 6);
/// # coordinator.stop();
/// ```
///
/// becomes, with paths shortened:
///
/// ```
/// # use tokengate::__private::linkme::distributed_slice;
/// # use tokengate::__private::{
/// #     DeserializeOwned, PROCESS_FNS, ProcessFn, Serialize, Site, assert_arg,
/// #     assert_cross_process, assert_return, decode, encode, submit_process,
/// # };
/// fn total(cents: Vec<u64>) -> ::tokengate::TaskToken<u64> {
///     enum __Tokengate {}
///     impl __Tokengate {
///         // Encodes the borrowed arguments as one tuple; one type parameter each.
///         fn encode_args<A0: ?Sized + Serialize>(a0: &A0, out: &mut Vec<u8>)
///             -> Result<(), String>
///         {
///             encode(&(a0,), out)
///         }
///         // Decodes them in a worker process, the same way.
///         fn decode_args<A0: DeserializeOwned>(input: &[u8]) -> Result<(A0,), String> {
///             decode(input)
///         }
///     }
///     assert_arg::<Vec<u64>>();
///     assert_cross_process::<Vec<u64>>(); // each argument type, then the return type
///     assert_cross_process::<u64>();
///     assert_return::<u64>();
///     let __tg_site: &'static Site = {
///         static __TOKENGATE_SITE: Site = Site::new("total").process_pool();
///         &__TOKENGATE_SITE
///     };
///     let __tg_process_fn: &'static ProcessFn = {
///         fn __tokengate_body(cents: Vec<u64>) -> u64 {
///             cents.iter().sum()
///         }
///         {
///             // Registered under the op name, for the worker processes: decodes
///             // the arguments, calls `__tokengate_body`, encodes its value.
///             #[distributed_slice(PROCESS_FNS)]
///             #[linkme(crate = tokengate::__private::linkme)]
///             static __TOKENGATE_PROCESS_FN: ProcessFn = ProcessFn::new(
///                 "total",
///                 concat!(module_path!(), "::", "total"),
///                 |input: &[u8], output: &mut Vec<u8>| -> Result<(), String> {
///                     assert_cross_process::<Vec<u64>>(); // the checks again, for this body
///                     assert_cross_process::<u64>();
///                     let (a0,) = __Tokengate::decode_args::<Vec<u64>>(input)?;
///                     let value = __tokengate_body(a0);
///                     encode::<u64>(&value, output)
///                 },
///             );
///             &__TOKENGATE_PROCESS_FN
///         }
///     };
///     submit_process::<u64, _>(
///         __tg_site,
///         None, // `Some(key)` for a sticky fn, computed as above
///         __tg_process_fn,
///         move |out| __Tokengate::encode_args::<Vec<u64>>(&cents, out),
///         |bytes| decode::<u64>(bytes),
///     )
/// }
/// # let coordinator = tokengate::OperationsCoordinator::start();
/// # let (value, empty) = (total(vec![1, 2, 3]), total(Vec::new()));
/// # assert_eq!((value.wait().unwrap(), empty.wait().unwrap()), (6, 0));
/// # coordinator.stop();
/// ```
///
/// # Errors
///
/// Mistakes are compile errors on the offending token: an unknown or duplicate
/// key, an unknown weight, storage speed or policy, an unparseable timeout,
/// `queue_timeout` or `retry_backoff`, a `retries` that is not a number from 0
/// to 100, a bad `retry_on` list (not a list, empty, an unknown or repeated
/// cause, `"err"` on a fn that does not return `Result`), an unparseable or
/// zero `memory_limit`, or one without `process_pool = true`, a
/// `crate` that is not a path, a bad `external_calls` list (not a list, empty,
/// an empty or repeated op), a `limit` name that is empty or has other
/// characters, keys that exclude each other or would have no effect, a
/// misplaced or malformed `#[key]`, an `async fn`, a borrowed `self` or
/// argument, a `!` return type, an argument or return type that is not
/// `Send + 'static`, a key argument type that the key cannot fingerprint, and
/// for a `process_pool = true` fn a type
/// without serde, a `self`, type or const parameters, `impl Trait` or `Self` in
/// the signature (the same for a `remote` fn), a bad `remote` value (not a
/// bool or a pool name, a quoted `"true"`, a pool name with other characters),
/// `remote` with `storage_speed`, and a `remote` lead with `hash_policy` or
/// `digest_policy`. The fn is still
/// emitted with its token return type (with `()`
/// for each `impl Trait` in it, and `Infallible` for `!`), so that callers
/// type-check while the error is fixed.
#[proc_macro_attribute]
pub fn task_token_guard(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::guard(args.into(), item.into()).into()
}
