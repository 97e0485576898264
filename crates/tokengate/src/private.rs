//! What `#[task_token_guard]` expands to. Not a public API: names here may change
//! in any release.

use std::hash::Hash;
use std::num::NonZeroU64;
use std::time::Duration;

#[cfg(feature = "process")]
pub use process::*;
/// Named by the expansion of sticky fns, so the user's crate needs no direct
/// dependency on serde to be checked against it.
pub use serde::Serialize;

use crate::fingerprint::{self, DigestPolicy, HashPolicy, KeyId};
use crate::{StorageSpeed, TaskToken, Weight};

/// The static facts of one guarded fn, built at compile time by the attribute.
///
/// Each attribute key is one `const` setter, so a new key is one small addition
/// on both sides.
#[derive(Debug)]
pub struct Site {
    pub(crate) op: &'static str,
    pub(crate) weight: Weight,
    /// Whether `weight` was given, rather than left at its default: a storage
    /// call with an explicit weight is a combined storage and CPU call.
    pub(crate) weight_explicit: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) storage: Option<StorageSpeed>,
    pub(crate) sticky_anchor: Option<&'static str>,
    pub(crate) external_calls: Option<&'static [&'static str]>,
    /// `None` when not given: a sticky call then keys under
    /// [`HashPolicy::Standard`], and a lead seeds from its token id.
    pub(crate) hash_policy: Option<HashPolicy>,
    pub(crate) digest_policy: DigestPolicy,
    pub(crate) process_pool: bool,
    pub(crate) limit: Option<&'static str>,
    /// `retries`: attempts after the first; 0 when not given.
    pub(crate) retries: u32,
    /// `retry_backoff`, or [`DEFAULT_RETRY_BACKOFF`].
    pub(crate) retry_backoff: Duration,
    /// `retry_on`, as `RETRY_*` bits, or [`RETRY_DEFAULT`].
    pub(crate) retry_on: u8,
    /// `queue_timeout`: how long a call may wait to start.
    pub(crate) queue_timeout: Option<Duration>,
    /// `memory_limit`, in bytes; only on a `process_pool` site.
    pub(crate) memory_limit: Option<NonZeroU64>,
    /// `remote = true | "pool"`: the pool of worker hosts its calls go to.
    pub(crate) remote: Option<&'static str>,
}

/// `retry_on = ["panic"]`: a call whose body panicked is retried.
pub const RETRY_PANIC: u8 = 1 << 0;
/// `retry_on = ["worker_lost"]`: a `process_pool` call whose worker process
/// died is retried (not one that exceeded its `memory_limit`, which would
/// only exceed it again).
pub const RETRY_WORKER_LOST: u8 = 1 << 1;
/// `retry_on = ["timeout"]`: the fn's `timeout` bounds each attempt, and an
/// attempt that runs past it is retried.
pub const RETRY_TIMEOUT: u8 = 1 << 2;
/// `retry_on = ["err"]`: a call whose fn returned an `Err` is retried; the
/// expansion of such a fn passes [`submit_retrying`] or
/// [`submit_process_retry_err`] a predicate that says what an `Err` is.
pub const RETRY_ERR: u8 = 1 << 3;
/// What `retries` retries when `retry_on` is not given: panics and lost
/// worker processes, the failures that a second attempt may not meet.
pub const RETRY_DEFAULT: u8 = RETRY_PANIC | RETRY_WORKER_LOST;

/// The backoff before the first retry when `retry_backoff` is not given.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_millis(10);

impl Site {
    /// A site for `op` with the defaults: medium weight (not given explicitly),
    /// no timeout, no tags.
    pub const fn new(op: &'static str) -> Site {
        Site {
            op,
            weight: Weight::Medium,
            weight_explicit: false,
            timeout: None,
            storage: None,
            sticky_anchor: None,
            external_calls: None,
            hash_policy: None,
            digest_policy: DigestPolicy::Full,
            process_pool: false,
            limit: None,
            retries: 0,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            retry_on: RETRY_DEFAULT,
            queue_timeout: None,
            memory_limit: None,
            remote: None,
        }
    }

    /// `weight = "..."`, which also records that the weight was given.
    pub const fn weight(mut self, weight: Weight) -> Site {
        self.weight = weight;
        self.weight_explicit = true;
        self
    }

    /// `timeout = "..."`, already parsed to nanoseconds by the attribute.
    pub const fn timeout_nanos(mut self, nanos: u64) -> Site {
        self.timeout = Some(Duration::from_nanos(nanos));
        self
    }

    /// `storage_speed = "..."`.
    pub const fn storage_speed(mut self, speed: StorageSpeed) -> Site {
        self.storage = Some(speed);
        self
    }

    /// `sticky_anchor = "..."`.
    pub const fn sticky_anchor(mut self, anchor: &'static str) -> Site {
        self.sticky_anchor = Some(anchor);
        self
    }

    /// `external_calls = ["...", ...]`.
    pub const fn external_calls(mut self, calls: &'static [&'static str]) -> Site {
        self.external_calls = Some(calls);
        self
    }

    /// `hash_policy = "..."`.
    pub const fn hash_policy(mut self, policy: HashPolicy) -> Site {
        self.hash_policy = Some(policy);
        self
    }

    /// `digest_policy = "..."`.
    pub const fn digest_policy(mut self, policy: DigestPolicy) -> Site {
        self.digest_policy = policy;
        self
    }

    /// `process_pool = true`.
    pub const fn process_pool(mut self) -> Site {
        self.process_pool = true;
        self
    }

    /// `limit = "..."`: the named limit the call is admitted under, on top of
    /// its other gates.
    pub const fn limit(mut self, name: &'static str) -> Site {
        self.limit = Some(name);
        self
    }

    /// `retries = n`: attempts after the first, at most 100 (the attribute
    /// checks).
    pub const fn retries(mut self, n: u32) -> Site {
        self.retries = n;
        self
    }

    /// `retry_backoff = "..."`, already parsed to nanoseconds by the attribute.
    pub const fn retry_backoff_nanos(mut self, nanos: u64) -> Site {
        self.retry_backoff = Duration::from_nanos(nanos);
        self
    }

    /// `retry_on = [...]`: the causes, as `RETRY_*` bits or-ed together.
    pub const fn retry_on(mut self, mask: u8) -> Site {
        self.retry_on = mask;
        self
    }

    /// `queue_timeout = "..."`, already parsed to nanoseconds by the attribute.
    pub const fn queue_timeout_nanos(mut self, nanos: u64) -> Site {
        self.queue_timeout = Some(Duration::from_nanos(nanos));
        self
    }

    /// `memory_limit = "..."`, already parsed to bytes (never 0) by the
    /// attribute, on a `process_pool` fn.
    pub const fn memory_limit(mut self, bytes: u64) -> Site {
        self.memory_limit = NonZeroU64::new(bytes);
        self
    }

    /// `remote = true` (pool `"default"`) or `remote = "pool"`: the calls go
    /// to worker hosts of `pool` through the coordinator's remote backend.
    pub const fn remote(mut self, pool: &'static str) -> Site {
        self.remote = Some(pool);
        self
    }
}

/// Says whether a value of a guarded fn is an error: the predicate the
/// expansion passes to [`submit_retrying`] and [`submit_process_retry_err`]
/// for a fn whose `retry_on` lists `"err"`, which returns a `Result`. It is
/// `|value: &R| Result::is_err(value)`, a plain fn, so the runtime can keep it
/// with the call and ask it about each attempt's value: `true` means that
/// value is an `Err`, to be retried while retries remain (the last attempt's
/// value, `Err` or not, resolves the token).
pub type IsErr<T> = fn(&T) -> bool;

/// The fingerprint of a call's key arguments (all of them, or those marked
/// `#[key]`), computed by the attribute's expansion from borrowed arguments
/// before they move into the call: a sticky call's domain key, or the seed
/// material of a lead under a `hash_policy` other than `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RouteKey(pub(crate) KeyId);

/// `hash_policy = "fast"`: the arguments' `Hash` with a fixed-seed hasher.
pub fn fast_key<A: Hash + ?Sized>(args: &A) -> RouteKey {
    RouteKey(KeyId::Fast(fingerprint::fast_key(args)))
}

/// `hash_policy = "standard" | "full"`: a stable digest (per the site's digest
/// policy) of the canonical encoding of the arguments (and, for `full`, the op).
///
/// # Panics
///
/// Panics if an argument's `Serialize` impl reports an error.
pub fn stable_key<A: Serialize + ?Sized>(site: &'static Site, args: &A) -> RouteKey {
    let key = match site.hash_policy {
        Some(HashPolicy::Full) => fingerprint::stable_key(&(site.op, args), site.digest_policy),
        _ => fingerprint::stable_key(args, site.digest_policy),
    };
    match key {
        Ok(key) => RouteKey(KeyId::Stable(key)),
        Err(err) => panic!("guarded call `{}`: {err}", site.op),
    }
}

/// Submits one call of a guarded fn to the coordinator the calling thread is
/// bound to, and returns its token at once.
pub fn submit<T, F>(site: &'static Site, f: F) -> TaskToken<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    crate::coordinator::submit(crate::coordinator::Call::from_site(site, None), f)
}

/// [`submit`] for a sticky call, or a keyed lead, whose arguments were
/// fingerprinted.
pub fn submit_keyed<T, F>(site: &'static Site, key: RouteKey, f: F) -> TaskToken<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    crate::coordinator::submit(crate::coordinator::Call::from_site(site, Some(key.0)), f)
}

/// Submits one call of a thread fn with `retries`: `args` (its arguments, as
/// a tuple) is copied by `clone` for each attempt and `body` runs on the copy,
/// so a failed attempt can run again; `is_err` (for `retry_on = ["err"]`)
/// tells an `Err` value from an `Ok` one (see [`IsErr`]). `key` is the sticky
/// domain key, or a keyed lead's, if any.
pub fn submit_retrying<T, A, G>(
    site: &'static Site,
    key: Option<RouteKey>,
    is_err: Option<IsErr<T>>,
    args: A,
    clone: fn(&A) -> A,
    body: G,
) -> TaskToken<T>
where
    T: Send + 'static,
    A: Send + 'static,
    G: Fn(A) -> T + Send + Sync + 'static,
{
    let call = crate::coordinator::Call::from_site(site, key.map(|key| key.0));
    // The copy is made under a lock, so the arguments need not be `Sync`.
    let args = std::sync::Mutex::new(args);
    let body = std::sync::Arc::new(body);
    let make = move || {
        let args = clone(&args.lock().unwrap_or_else(|p| p.into_inner()));
        let body = body.clone();
        move || body(args)
    };
    crate::coordinator::submit_retrying(call, make, is_err)
}

/// Implemented for every argument type of a thread fn with `retries`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be copied for a retry",
    label = "this argument type does not implement `Clone`",
    note = "a thread fn with `retries` runs its body again on a copy of its arguments: \
            derive or implement `Clone` for this type (or wrap it in an `Arc`), or drop \
            `retries`"
)]
pub trait RetryArg {}

impl<T: Clone> RetryArg for T {}

/// Compile-time check for an argument of a thread fn with `retries`, spanned
/// on its type.
pub const fn assert_retry_arg<T: RetryArg + ?Sized>() {}

/// Implemented for every type a guarded call can move to a worker thread.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be moved to a tokengate worker thread",
    label = "this argument type is not `Send + 'static`",
    note = "a guarded call runs on a worker thread, so its arguments move there: \
            use owned, thread-safe types (for example `Arc<T>` instead of `Rc<T>`)"
)]
pub trait MoveToWorker {}

impl<T: Send + 'static> MoveToWorker for T {}

/// Implemented for every type a worker thread can hand back to the caller.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned from a tokengate worker thread",
    label = "this return type is not `Send + 'static`",
    note = "a guarded call returns its value from a worker thread: \
            use owned, thread-safe types (for example `Arc<T>` instead of `Rc<T>`)"
)]
pub trait ReturnFromWorker {}

impl<T: Send + 'static> ReturnFromWorker for T {}

/// Implemented for every argument type `hash_policy = "fast"` can fingerprint.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be fingerprinted with `hash_policy = \"fast\"`",
    label = "this argument type does not implement `Hash`",
    note = "a sticky call's arguments (or a keyed lead's) form its domain key: derive or \
            implement `Hash` for this type, mark only the arguments the key needs with \
            `#[key]`, or state `hash_policy = \"none\"`"
)]
pub trait HashKey {}

impl<T: Hash + ?Sized> HashKey for T {}

/// Implemented for every argument type `hash_policy = "standard" | "full"` can
/// fingerprint.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be fingerprinted with a stable `hash_policy`",
    label = "this argument type does not implement `serde::Serialize`",
    note = "a sticky call's arguments (or a keyed lead's) form a stable domain key from their \
            serde encoding: derive or implement `serde::Serialize` for this type, mark only \
            the arguments the key needs with `#[key]`, use `hash_policy = \"fast\"` (needs \
            `Hash`; in-process only), or state `hash_policy = \"none\"`"
)]
pub trait StableKey {}

impl<T: Serialize + ?Sized> StableKey for T {}

/// Compile-time check that an argument type can move to a worker; the attribute
/// emits one call per argument, spanned on the argument's type.
pub const fn assert_arg<T: MoveToWorker>() {}

/// Compile-time check for the return type, spanned on it.
pub const fn assert_return<T: ReturnFromWorker>() {}

/// Compile-time check for `hash_policy = "fast"`, spanned on each argument type.
pub const fn assert_hash_key<T: HashKey + ?Sized>() {}

/// Compile-time check for stable hash policies, spanned on each argument type.
pub const fn assert_stable_key<T: StableKey + ?Sized>() {}

/// The body the attribute emits for a fn it had to reject, so that the rest of
/// the crate still type-checks while the compile error is reported. Never runs:
/// a crate with that error does not build.
pub fn rejected<T: Send + 'static>() -> TaskToken<T> {
    static REJECTED: Site = Site::new("<rejected by #[task_token_guard]>");
    submit(&REJECTED, || -> T {
        panic!("this fn was rejected by #[task_token_guard] at compile time")
    })
}

/// What the expansion of `process_pool` fns names, with the `process` feature.
#[cfg(feature = "process")]
mod process {
    /// Named by the expansion of `process_pool` fns, so the user's crate needs
    /// no direct dependency on serde.
    pub use serde::de::DeserializeOwned;
    /// `Vec<u8>` arguments and results of `process_pool` fns travel as one block.
    pub use serde_bytes::{ByteBuf, Bytes};

    /// The wire encoding of `process_pool` arguments and values.
    pub use crate::process::codec::{decode, encode};
    /// The registry `process_pool` fns add themselves to, and its crate, named by
    /// the expansion so the user's crate needs no direct dependency on linkme.
    pub use crate::process::registry::{PROCESS_FNS, ProcessFn};
    #[doc(hidden)]
    pub use linkme;

    use super::{IsErr, RETRY_ERR, RouteKey, Serialize, Site};
    use crate::TaskToken;

    /// Submits one call of a `process_pool` fn: its body sends the arguments,
    /// encoded by `encode_args`, to the worker process that runs `entry`, and
    /// decodes the reply with `decode`. `key` is the sticky domain key, if any.
    pub fn submit_process<T, E>(
        site: &'static Site,
        key: Option<RouteKey>,
        entry: &'static ProcessFn,
        encode_args: E,
        decode: fn(&[u8]) -> Result<T, String>,
    ) -> TaskToken<T>
    where
        T: Send + 'static,
        E: FnOnce(&mut Vec<u8>) -> Result<(), String> + Send + 'static,
    {
        submit(site, key, None, entry, encode_args, decode)
    }

    /// [`submit_process`] for a fn whose `retry_on` lists `"err"`: `is_err`
    /// tells an `Err` value from an `Ok` one, once the value is decoded in the
    /// caller (see [`IsErr`]).
    pub fn submit_process_retry_err<T, E>(
        site: &'static Site,
        key: Option<RouteKey>,
        is_err: IsErr<T>,
        entry: &'static ProcessFn,
        encode_args: E,
        decode: fn(&[u8]) -> Result<T, String>,
    ) -> TaskToken<T>
    where
        T: Send + 'static,
        E: FnOnce(&mut Vec<u8>) -> Result<(), String> + Send + 'static,
    {
        debug_assert!(site.retry_on & RETRY_ERR != 0);
        submit(site, key, Some(is_err), entry, encode_args, decode)
    }

    /// A process-pool call, retried if its fn has `retries` (its arguments
    /// are then encoded once, now, and the bytes sent again per attempt).
    fn submit<T, E>(
        site: &'static Site,
        key: Option<RouteKey>,
        is_err: Option<IsErr<T>>,
        entry: &'static ProcessFn,
        encode_args: E,
        decode: fn(&[u8]) -> Result<T, String>,
    ) -> TaskToken<T>
    where
        T: Send + 'static,
        E: FnOnce(&mut Vec<u8>) -> Result<(), String> + Send + 'static,
    {
        debug_assert!(site.process_pool && site.op == entry.op);
        let call = crate::coordinator::Call::from_site(site, key.map(|key| key.0));
        if site.retries == 0 {
            return crate::coordinator::submit_process(
                call,
                entry,
                site.memory_limit,
                encode_args,
                decode,
            );
        }
        let mut bytes = Vec::new();
        let encoded = encode_args(&mut bytes).map(|()| bytes);
        crate::coordinator::submit_process_retrying(
            call,
            entry,
            site.memory_limit,
            encoded,
            decode,
            is_err,
        )
    }

    /// Submits one call of a `remote` fn: its arguments, encoded now by
    /// `encode_args`, go to a worker host of the site's pool, which runs
    /// `entry`'s fn, and its value comes back through `decode`. Without a
    /// remote backend it runs as a `process_pool` call of `entry`. `key` is
    /// the sticky domain key, if any.
    pub fn submit_remote<T, E>(
        site: &'static Site,
        key: Option<RouteKey>,
        entry: &'static ProcessFn,
        encode_args: E,
        decode: fn(&[u8]) -> Result<T, String>,
    ) -> TaskToken<T>
    where
        T: Send + 'static,
        E: FnOnce(&mut Vec<u8>) -> Result<(), String>,
    {
        remote(site, key, None, entry, encode_args, decode)
    }

    /// [`submit_remote`] for a fn whose `retry_on` lists `"err"`: `is_err`
    /// tells an `Err` value from an `Ok` one, once the value is decoded in the
    /// caller (see [`IsErr`]).
    pub fn submit_remote_retry_err<T, E>(
        site: &'static Site,
        key: Option<RouteKey>,
        is_err: IsErr<T>,
        entry: &'static ProcessFn,
        encode_args: E,
        decode: fn(&[u8]) -> Result<T, String>,
    ) -> TaskToken<T>
    where
        T: Send + 'static,
        E: FnOnce(&mut Vec<u8>) -> Result<(), String>,
    {
        debug_assert!(site.retry_on & RETRY_ERR != 0);
        remote(site, key, Some(is_err), entry, encode_args, decode)
    }

    /// A remote call: its arguments are encoded once, here, on the caller's
    /// thread, and the bytes sent for each attempt.
    fn remote<T, E>(
        site: &'static Site,
        key: Option<RouteKey>,
        is_err: Option<IsErr<T>>,
        entry: &'static ProcessFn,
        encode_args: E,
        decode: fn(&[u8]) -> Result<T, String>,
    ) -> TaskToken<T>
    where
        T: Send + 'static,
        E: FnOnce(&mut Vec<u8>) -> Result<(), String>,
    {
        let pool = site.remote.unwrap_or(crate::remote::DEFAULT_POOL);
        debug_assert!(site.op == entry.op && entry.remote.is_some());
        let call = crate::coordinator::Call::from_site(site, key.map(|key| key.0));
        let mut bytes = Vec::new();
        let encoded = encode_args(&mut bytes).map(|()| bytes);
        crate::coordinator::submit_remote(
            call,
            pool,
            entry,
            site.memory_limit,
            encoded,
            decode,
            is_err,
        )
    }

    /// Implemented for every type a `process_pool` fn can take or return.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot cross into a tokengate worker process",
        label = "this type does not implement `serde::Serialize` and `serde::Deserialize`",
        note = "a `process_pool = true` call sends its arguments to a worker process and its \
                value back, encoded with serde: derive `Serialize` and `Deserialize` for this \
                type (owned: `String`, not `&str`), or drop `process_pool` to run it on a thread"
    )]
    pub trait CrossProcess {}

    impl<T: Serialize + DeserializeOwned> CrossProcess for T {}

    /// Compile-time check for an argument or the return type of a `process_pool`
    /// fn, spanned on it.
    pub const fn assert_cross_process<T: CrossProcess>() {}

    /// Implemented for every type a `remote` fn can take or return.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be sent to a tokengate worker host",
        label = "this type does not implement `serde::Serialize` and `serde::Deserialize`",
        note = "a `remote` call sends its arguments to a worker host and its value back, \
                encoded with serde: derive `Serialize` and `Deserialize` for this type (owned: \
                `String`, not `&str`), or drop `remote` to run it here"
    )]
    pub trait RemoteValue {}

    impl<T: Serialize + DeserializeOwned> RemoteValue for T {}

    /// Compile-time check for an argument or the return type of a `remote` fn,
    /// spanned on it.
    pub const fn assert_remote_value<T: RemoteValue>() {}
}
