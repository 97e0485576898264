//! Parsing the attribute's arguments: `op = "…", weight = "…", timeout = "…",
//! storage_speed = "…", sticky_anchor = "…", external_calls = ["…", …],
//! hash_policy = "…", digest_policy = "…", process_pool = true, limit = "…",
//! queue_timeout = "…", retries = 3, retry_backoff = "…", retry_on = ["…", …],
//! memory_limit = "…", remote = true | "pool", crate = "…"`.
//!
//! Parsing has three layers. The *syntax* is a comma-separated list of
//! `key = value` pairs ([`Entry`]); a syntax error stops the list there. Each
//! entry is then checked on its own against the [`Key`] table: an unknown key, a
//! repeated key or a bad value is one error on that entry's token, and the other
//! entries still count. Last, the keys are checked *together*
//! (`GuardArgs::check_combinations`): two keys that exclude each other, or a key
//! that has no effect without another. Every error is recorded, and a key that
//! was refused is left at its default, so the fn is still expanded.
//!
//! # Adding a key
//!
//! 1. a variant in [`Key`], with its row in [`Key::ALL`], [`Key::name`] and
//!    [`Key::example`];
//! 2. a field in [`GuardArgs`] and its arm in `GuardArgs::set` (which converts
//!    the value: see [`expect_str`] for the common case, [`choice()`] for a
//!    value out of a fixed set of names, [`expect_bool`] for a switch,
//!    [`duration`] and [`memory_limit`] for a duration or a size, and
//!    [`str_list`] for a list) and in `GuardArgs::clear`;
//! 3. if it excludes or needs other keys, a row in [`EXCLUSIVE`] or a check in
//!    `GuardArgs::check_combinations`;
//! 4. its effect in `expand.rs`: for most keys, a `Site` setter.
//!
//! The `#[key]` markers on the fn's arguments are not attribute keys: they are
//! taken out of the signature with the fn (see `item`), and checked against
//! these keys in `validate`, as is `retry_on = ["err"]`, which needs a fn
//! that returns `Result`.

mod choice;

use proc_macro2::TokenStream;
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream, Parser as _};
use syn::{Expr, Ident, Lit, LitBool, LitStr, Path, Token};

pub(crate) use self::choice::{Choice, DigestPolicy, HashPolicy, RetryCause, StorageSpeed, Weight};
use crate::errors::Errors;
use crate::runtime_path::RuntimePath;
use crate::size;
use crate::timeout::{self, DurationKey, QUEUE_TIMEOUT, RETRY_BACKOFF, TIMEOUT};

/// How the attribute is named in messages.
pub(crate) const ATTRIBUTE: &str = "`#[task_token_guard]`";

/// The keys the attribute accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// `op = "name"`: the operation name.
    Op,
    /// `weight = "light" | "medium" | "heavy"`.
    Weight,
    /// `timeout = "250ms"`.
    Timeout,
    /// `storage_speed = "SLOW" | "MODERATE" | "FAST" | "INSANE"`: an IO call.
    StorageSpeed,
    /// `sticky_anchor = "name"`: a member of a sticky domain.
    StickyAnchor,
    /// `external_calls = ["op", …]`: a lead, whose children follow it.
    ExternalCalls,
    /// `hash_policy = "none" | "fast" | "standard" | "full"`.
    HashPolicy,
    /// `digest_policy = "full" | "short" | "fast" | "minimal"`.
    DigestPolicy,
    /// `process_pool = true | false`: the call runs in a worker process.
    ProcessPool,
    /// `limit = "name"`: a named limit admits the call.
    Limit,
    /// `queue_timeout = "100ms"`: a call not started by then expires unrun.
    QueueTimeout,
    /// `retries = 3`: attempts after the first.
    Retries,
    /// `retry_backoff = "10ms"`: the first retry's backoff.
    RetryBackoff,
    /// `retry_on = ["panic", …]`: the failures that are retried.
    RetryOn,
    /// `memory_limit = "256MiB"`: what a process-pool call may allocate.
    MemoryLimit,
    /// `remote = true | false | "pool"`: the call runs on a worker host.
    Remote,
    /// `crate = "path"`: the path the expansion names tokengate by.
    Crate,
}

impl Key {
    /// Every key, in the order messages list them.
    const ALL: [Key; 17] = [
        Key::Op,
        Key::Weight,
        Key::Timeout,
        Key::StorageSpeed,
        Key::StickyAnchor,
        Key::ExternalCalls,
        Key::HashPolicy,
        Key::DigestPolicy,
        Key::ProcessPool,
        Key::Limit,
        Key::QueueTimeout,
        Key::Retries,
        Key::RetryBackoff,
        Key::RetryOn,
        Key::MemoryLimit,
        Key::Remote,
        Key::Crate,
    ];

    /// The key as written in the attribute.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Key::Op => "op",
            Key::Weight => "weight",
            Key::Timeout => "timeout",
            Key::StorageSpeed => "storage_speed",
            Key::StickyAnchor => "sticky_anchor",
            Key::ExternalCalls => "external_calls",
            Key::HashPolicy => "hash_policy",
            Key::DigestPolicy => "digest_policy",
            Key::ProcessPool => "process_pool",
            Key::Limit => "limit",
            Key::QueueTimeout => "queue_timeout",
            Key::Retries => "retries",
            Key::RetryBackoff => "retry_backoff",
            Key::RetryOn => "retry_on",
            Key::MemoryLimit => "memory_limit",
            Key::Remote => "remote",
            Key::Crate => "crate",
        }
    }

    /// A valid value (one string of it, for `external_calls` and `retry_on`;
    /// the bool or number as written, for `process_pool` and `retries`), shown
    /// in messages that suggest one.
    const fn example(self) -> &'static str {
        match self {
            Key::Op => "prime_check",
            Key::Weight => "heavy",
            Key::Timeout => "250ms",
            Key::StorageSpeed => "FAST",
            Key::StickyAnchor => "user_session",
            Key::ExternalCalls => "child_op",
            Key::HashPolicy => "fast",
            Key::DigestPolicy => "short",
            Key::ProcessPool => "true",
            Key::Limit => "github_api",
            Key::QueueTimeout => "100ms",
            Key::Retries => "3",
            Key::RetryBackoff => "10ms",
            Key::RetryOn => "worker_lost",
            Key::MemoryLimit => "256MiB",
            Key::Remote => "true",
            Key::Crate => "my_reexport::tokengate",
        }
    }

    /// Looks `ident` up in the table; the error lists every valid key.
    fn from_ident(ident: &Ident) -> syn::Result<Key> {
        let name = ident.unraw();
        Key::ALL
            .into_iter()
            .find(|key| name == key.name())
            .ok_or_else(|| {
                let expected = backticked(Key::ALL.into_iter().map(Key::name));
                syn::Error::new(
                    ident.span(),
                    format!("unknown key `{name}` in {ATTRIBUTE}; expected one of {expected}"),
                )
            })
    }
}

/// Pairs of keys that cannot be given together, and why. The key written later
/// is refused.
const EXCLUSIVE: [(Key, Key, &str); 5] = [
    (
        Key::StickyAnchor,
        Key::ExternalCalls,
        "a fn is either a sticky domain member (`sticky_anchor`) or a lead \
         (`external_calls`), not both; a lead's children follow the lead's worker \
         group, while a sticky call follows its own domain's worker",
    ),
    (
        Key::StorageSpeed,
        Key::StickyAnchor,
        "a `storage_speed` call is IO and runs on an IO thread, outside the core \
         groups that sticky domains route to",
    ),
    (
        Key::StorageSpeed,
        Key::ExternalCalls,
        "a `storage_speed` call is IO and runs on an IO thread, outside the core \
         groups that leads and their children route to",
    ),
    (
        Key::StorageSpeed,
        Key::ProcessPool,
        "a `storage_speed` call is IO and runs on an IO thread, while a `process_pool` \
         call runs in a worker process; pick one",
    ),
    (
        Key::StorageSpeed,
        Key::Remote,
        "a `storage_speed` call waits for a turn of this host's storage tier, which a \
         `remote` call, run on another host, would not hold; limit remote calls with \
         `limit = \"...\"`, or run the IO call here",
    ),
];

/// The attribute's arguments. `None` means the key was not given, or was given
/// with a value that was refused; either way the default applies.
#[derive(Default)]
pub(crate) struct GuardArgs {
    /// `op = "…"`; the expansion falls back to the fn's name.
    pub(crate) op: Option<LitStr>,
    /// `weight = "…"`; the runtime falls back to medium.
    pub(crate) weight: Option<Weight>,
    /// `timeout = "…"`, in nanoseconds; the runtime falls back to none.
    pub(crate) timeout_nanos: Option<u64>,
    /// `storage_speed = "…"`; the runtime falls back to a CPU call.
    pub(crate) storage_speed: Option<StorageSpeed>,
    /// `sticky_anchor = "…"`; without it the fn is not sticky.
    pub(crate) sticky_anchor: Option<LitStr>,
    /// `external_calls = […]`, never empty; without it the fn is not a lead.
    pub(crate) external_calls: Option<Vec<LitStr>>,
    /// `hash_policy = "…"`; only given with `sticky_anchor` or
    /// `external_calls`. See [`GuardArgs::key_policy`] for the default.
    pub(crate) hash_policy: Option<HashPolicy>,
    /// `digest_policy = "…"`; only given with `sticky_anchor` or
    /// `external_calls`. The runtime falls back to full.
    pub(crate) digest_policy: Option<DigestPolicy>,
    /// `process_pool = true`: the call runs in a worker process. `false` when
    /// the key was not given, was `false`, or was refused.
    pub(crate) process_pool: bool,
    /// `limit = "…"`, a name checked by [`limit_name`]; without it no named
    /// limit admits the call.
    pub(crate) limit: Option<LitStr>,
    /// `queue_timeout = "…"`, in nanoseconds; without it a call waits for
    /// its turn however long it takes.
    pub(crate) queue_timeout_nanos: Option<u64>,
    /// `retries = …`, at most [`MAX_RETRIES`]; the runtime falls back to 0.
    pub(crate) retries: Option<u32>,
    /// `retry_backoff = "…"`, in nanoseconds; only given with `retries`. The
    /// runtime falls back to 10ms.
    pub(crate) retry_backoff_nanos: Option<u64>,
    /// `retry_on = […]`: distinct causes, never empty, each with its literal
    /// (an `"err"` is checked against the return type in `validate`); only
    /// given with `retries`. The runtime falls back to panic and worker_lost.
    pub(crate) retry_on: Option<Vec<(RetryCause, LitStr)>>,
    /// `memory_limit = "…"`, in bytes, never 0; only given with
    /// `process_pool = true`.
    pub(crate) memory_limit: Option<u64>,
    /// `remote = true` (the pool `"default"`, spanned on the `true`) or
    /// `remote = "pool"`, a name checked by [`pool_name`]; `None` when the
    /// key was not given, was `false`, or was refused.
    pub(crate) remote: Option<LitStr>,
    /// `crate = "…"`, as written; the expansion falls back to `::tokengate`
    /// (see `RuntimePath`).
    pub(crate) crate_path: Option<Path>,
    /// Keys written with the value that switches them off (`process_pool =
    /// false`): they are as good as absent, so they exclude no other key.
    switched_off: Vec<Key>,
    /// The keys met so far, valid value or not, with their first token, in the
    /// order written: to refuse a second occurrence, and to check combinations.
    seen: Vec<(Key, Ident)>,
}

impl GuardArgs {
    /// Parses the attribute's arguments, recording every mistake in `errors`.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> GuardArgs {
        let mut entries = Vec::new();
        // On a syntax error, keep the entries before it.
        let parser = |input: ParseStream<'_>| -> syn::Result<()> {
            while !input.is_empty() {
                entries.push(input.parse::<Entry>()?);
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
            }
            Ok(())
        };
        errors.ok(parser.parse2(tokens));

        let mut args = GuardArgs::default();
        for entry in entries {
            errors.ok(args.set(entry));
        }
        args.check_combinations(errors);
        args
    }

    /// How a call's key is made from its arguments: `None` when the fn is
    /// neither sticky nor a lead, else the `hash_policy` given, by default
    /// standard for a sticky fn (its domain key) and none for a lead (whose
    /// seed then comes from its token id instead).
    pub(crate) fn key_policy(&self) -> Option<HashPolicy> {
        if self.sticky_anchor.is_some() {
            return Some(self.hash_policy.unwrap_or(HashPolicy::Standard));
        }
        self.external_calls
            .as_ref()
            .map(|_| self.hash_policy.unwrap_or(HashPolicy::None))
    }

    /// Whether `key` was written, whatever its value, and even if it was
    /// refused: checks that depend on it then stay silent rather than repeat
    /// its error.
    pub(crate) fn was_written(&self, key: Key) -> bool {
        self.written(key).is_some()
    }

    /// Whether calls are retried: `retries` of one or more.
    pub(crate) fn retried(&self) -> bool {
        self.retries.is_some_and(|n| n > 0)
    }

    /// The `"err"` of `retry_on`, if it lists it: the fn's value is then
    /// checked for an `Err`, so it must be a `Result`.
    pub(crate) fn retry_err(&self) -> Option<&LitStr> {
        self.retry_on
            .iter()
            .flatten()
            .find(|(cause, _)| *cause == RetryCause::Err)
            .map(|(_, lit)| lit)
    }

    /// Forgets the `"err"` of `retry_on`, which `validate` refused: the other
    /// causes still apply.
    pub(crate) fn drop_retry_err(&mut self) {
        if let Some(causes) = &mut self.retry_on {
            causes.retain(|(cause, _)| *cause != RetryCause::Err);
        }
    }

    /// The path the expansion names tokengate by: `crate = "…"`, else
    /// `::tokengate`.
    pub(crate) fn runtime(&self) -> RuntimePath {
        RuntimePath::new(self.crate_path.as_ref())
    }

    /// Applies one `key = value` entry.
    fn set(&mut self, Entry { key: ident, value }: Entry) -> syn::Result<()> {
        let key = Key::from_ident(&ident)?;
        self.set_once(key, &ident)?;
        match key {
            Key::Op => {
                let lit = expect_str(key, &value)?;
                self.op = Some(non_empty(lit, || {
                    format!(
                        "`op` must not be empty; name the operation, such as `op = \"{}\"`, \
                         or leave `op` out to use the fn's name",
                        key.example()
                    )
                })?);
            }
            Key::Weight => self.weight = Some(choice(key, &value)?),
            Key::Timeout => self.timeout_nanos = Some(duration(key, TIMEOUT, &value)?),
            Key::StorageSpeed => self.storage_speed = Some(choice(key, &value)?),
            Key::StickyAnchor => {
                let lit = expect_str(key, &value)?;
                self.sticky_anchor = Some(non_empty(lit, || {
                    format!(
                        "`sticky_anchor` must not be empty; name the sticky domain, such as \
                         `sticky_anchor = \"{}\"`",
                        key.example()
                    )
                })?);
            }
            Key::ExternalCalls => self.external_calls = Some(external_calls(&value)?),
            Key::HashPolicy => self.hash_policy = Some(choice(key, &value)?),
            Key::DigestPolicy => {
                let policy = choice(key, &value)?;
                if policy == DigestPolicy::Fast && !cfg!(feature = "blake2") {
                    return Err(missing_feature(
                        &value,
                        "`digest_policy = \"fast\"`",
                        "blake2",
                    ));
                }
                self.digest_policy = Some(policy);
            }
            Key::ProcessPool => {
                self.process_pool = expect_bool(key, &value)?;
                if !self.process_pool {
                    self.switched_off.push(key);
                } else if !cfg!(feature = "process") {
                    self.process_pool = false;
                    return Err(missing_feature(&value, "`process_pool = true`", "process"));
                }
            }
            Key::Limit => self.limit = Some(limit_name(&value)?),
            Key::QueueTimeout => {
                self.queue_timeout_nanos = Some(duration(key, QUEUE_TIMEOUT, &value)?);
            }
            Key::Retries => self.retries = Some(retries(&value)?),
            Key::RetryBackoff => {
                self.retry_backoff_nanos = Some(duration(key, RETRY_BACKOFF, &value)?);
            }
            Key::RetryOn => self.retry_on = Some(retry_on(&value)?),
            Key::MemoryLimit => self.memory_limit = Some(memory_limit(&value)?),
            Key::Remote => {
                let Some(pool) = remote(&value)? else {
                    self.switched_off.push(key);
                    return Ok(());
                };
                if !cfg!(feature = "process") {
                    return Err(missing_feature(&value, "`remote`", "process"));
                }
                self.remote = Some(pool);
            }
            Key::Crate => self.crate_path = Some(crate_path(&value)?),
        }
        Ok(())
    }

    /// Forgets the value of `key`, which was refused in combination.
    fn clear(&mut self, key: Key) {
        match key {
            Key::Op => self.op = None,
            Key::Weight => self.weight = None,
            Key::Timeout => self.timeout_nanos = None,
            Key::StorageSpeed => self.storage_speed = None,
            Key::StickyAnchor => self.sticky_anchor = None,
            Key::ExternalCalls => self.external_calls = None,
            Key::HashPolicy => self.hash_policy = None,
            Key::DigestPolicy => self.digest_policy = None,
            Key::ProcessPool => self.process_pool = false,
            Key::Limit => self.limit = None,
            Key::QueueTimeout => self.queue_timeout_nanos = None,
            Key::Retries => self.retries = None,
            Key::RetryBackoff => self.retry_backoff_nanos = None,
            Key::RetryOn => self.retry_on = None,
            Key::MemoryLimit => self.memory_limit = None,
            Key::Remote => self.remote = None,
            Key::Crate => self.crate_path = None,
        }
    }

    /// Marks `key` as given; the *second* occurrence is the error, on its key.
    fn set_once(&mut self, key: Key, ident: &Ident) -> syn::Result<()> {
        if self.written(key).is_some() {
            return Err(syn::Error::new(
                ident.span(),
                format!("duplicate key `{}` in {ATTRIBUTE}", key.name()),
            ));
        }
        self.seen.push((key, ident.clone()));
        Ok(())
    }

    /// Where `key` was first written: its position among the keys written, and
    /// its token. `None` if it was not written at all.
    fn written(&self, key: Key) -> Option<(usize, &Ident)> {
        self.seen
            .iter()
            .enumerate()
            .find(|(_, (seen, _))| *seen == key)
            .map(|(index, (_, ident))| (index, ident))
    }

    /// Where `key` was first written, as [`written`](Self::written), unless it
    /// was switched off (`process_pool = false`).
    fn in_effect(&self, key: Key) -> Option<(usize, &Ident)> {
        self.written(key)
            .filter(|_| !self.switched_off.contains(&key))
    }

    /// Checks the keys written, whatever their values (but for a switch written
    /// off), against each other: a pair out of [`EXCLUSIVE`] is one error on the
    /// later key, and a key that would have no effect is an error on that key. A
    /// refused key is cleared, so the expansion sees a consistent set.
    fn check_combinations(&mut self, errors: &mut Errors) {
        // Each refused key with its position and error, reported in the order
        // the keys were written.
        let mut refused: Vec<(Key, usize, syn::Error)> = Vec::new();
        for (a, b, why) in EXCLUSIVE {
            let (Some(first), Some(second)) = (self.in_effect(a), self.in_effect(b)) else {
                continue;
            };
            let (earlier, (later, (position, ident))) = if first.0 < second.0 {
                (a, (b, second))
            } else {
                (b, (a, first))
            };
            // One error per key is enough.
            if refused.iter().any(|(key, ..)| *key == later) {
                continue;
            }
            let message = format!(
                "`{}` cannot be combined with `{}`: {why}",
                later.name(),
                earlier.name()
            );
            refused.push((later, position, syn::Error::new(ident.span(), message)));
        }

        let sticky = self.written(Key::StickyAnchor).is_some();
        let lead = self.written(Key::ExternalCalls).is_some();
        let retried = self.written(Key::Retries).is_some();
        // Written `true`, even if refused for another reason: that error is
        // enough.
        let process = self.in_effect(Key::ProcessPool).is_some();
        let remote = self.in_effect(Key::Remote).is_some();
        let memory_limit_needs = if remote {
            "`memory_limit` on a `remote` fn needs `process_pool = true` too: the limit holds \
             the worker process that runs the call on its worker host, and without \
             `process_pool` the call runs on a thread there, which cannot be bounded this way; \
             add `process_pool = true` or remove `memory_limit`"
        } else {
            "`memory_limit` needs `process_pool = true`: the limit holds the worker process \
             that runs the call, and a thread call shares its process with the whole \
             program, so it cannot be bounded this way; add `process_pool = true` or \
             remove `memory_limit`"
        };
        let without_effect = [
            (
                Key::HashPolicy,
                !sticky && !lead,
                "`hash_policy` has no effect here: it chooses how a sticky call's domain key, \
                 or a lead's seed, is made from its arguments; remove it or add \
                 `sticky_anchor` or `external_calls`",
            ),
            (
                Key::DigestPolicy,
                !sticky && !lead,
                "`digest_policy` has no effect here: only `sticky_anchor` keys and \
                 `external_calls` seeds are digested; remove it or add one of those keys",
            ),
            (
                Key::RetryBackoff,
                !retried,
                "`retry_backoff` has no effect without `retries`: it spaces the retries of a \
                 failed call; add `retries = 3`, say, or remove it",
            ),
            (
                Key::RetryOn,
                !retried,
                "`retry_on` has no effect without `retries`: it chooses the failures that are \
                 retried; add `retries = 3`, say, or remove it",
            ),
            (Key::MemoryLimit, !process, memory_limit_needs),
            (
                Key::HashPolicy,
                remote && lead,
                "`hash_policy` cannot key a `remote` lead: leads with equal keys share one \
                 domain, whose children run in one worker group, but remote leads run on \
                 whichever worker host takes them, each a domain of its own there; remove \
                 `hash_policy`, or make the lead local and its heavy children `remote`",
            ),
            (
                Key::DigestPolicy,
                remote && lead,
                "`digest_policy` has no effect on a `remote` lead: its domain lives on its \
                 worker host, seeded by its own call there, with nothing to digest; remove it",
            ),
        ];
        for (key, no_effect, message) in without_effect {
            if let (Some((position, ident)), true) = (self.written(key), no_effect) {
                refused.push((key, position, syn::Error::new(ident.span(), message)));
            }
        }

        refused.sort_by_key(|(_, position, _)| *position);
        for (key, _, error) in refused {
            errors.push(error);
            self.clear(key);
        }
    }
}

/// One `key = value` pair, not yet checked.
struct Entry {
    /// The key; any identifier, so that `type = …` is an unknown key rather than
    /// a syntax error.
    key: Ident,
    /// The value; any expression, so that `weight = heavy` gets a precise error.
    value: Expr,
}

impl Parse for Entry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = input.call(Ident::parse_any)?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "expected `=` after `{}`; {ATTRIBUTE} takes `key = \"value\"` pairs",
                    key.unraw()
                ),
            ));
        }
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(Entry { key, value })
    }
}

/// The string literal of `key = "…"`, or an error on the value suggesting the
/// quoted form.
fn expect_str(key: Key, value: &Expr) -> syn::Result<LitStr> {
    let value = ungroup(value);
    if let Some(lit) = str_lit(value) {
        return Ok(lit.clone());
    }
    // Suggest quoting what was written, when that is a word or a literal such as
    // `heavy` or `250ms`; otherwise show the key's example.
    let suggestion = written_word(value).unwrap_or_else(|| key.example().to_owned());
    Err(syn::Error::new_spanned(
        value,
        format!(
            "expected a string literal for `{name}`, such as `{name} = \"{suggestion}\"`",
            name = key.name()
        ),
    ))
}

/// The bool literal of `key = true | false`, or an error on the value saying
/// so. A quoted `"true"` is refused too, with a hint to drop the quotes.
fn expect_bool(key: Key, value: &Expr) -> syn::Result<bool> {
    let value = ungroup(value);
    if let Expr::Lit(expr) = value {
        if let Lit::Bool(LitBool { value, .. }) = expr.lit {
            return Ok(value);
        }
    }
    let name = key.name();
    let message = match str_lit(value).map(LitStr::value).as_deref() {
        Some(text @ ("true" | "false")) => {
            format!("`{name}` takes `true` or `false` without quotes: `{name} = {text}`")
        }
        _ => format!(
            "`{name}` takes `true` or `false`, such as `{name} = {example}`",
            example = key.example()
        ),
    };
    Err(syn::Error::new_spanned(value, message))
}

/// The value of `key = "…"` out of the fixed set of names `C`.
fn choice<C: Choice>(key: Key, value: &Expr) -> syn::Result<C> {
    C::from_lit(&expect_str(key, value)?)
}

/// `external_calls = ["op", …]`: a non-empty list of distinct, non-empty string
/// literals. Every bad element is reported; any mistake refuses the whole key.
fn external_calls(value: &Expr) -> syn::Result<Vec<LitStr>> {
    let key = Key::ExternalCalls;
    let empty = || {
        format!(
            "`external_calls` must not be empty; list the ops this fn calls, such as \
             `external_calls = [\"{}\"]`, or leave `external_calls` out",
            key.example()
        )
    };
    str_list(key, value, empty, |lit, calls: &[LitStr]| {
        let name = lit.value();
        if name.trim().is_empty() {
            return Err(syn::Error::new(
                lit.span(),
                format!(
                    "an op in `external_calls` must not be empty; name an op this fn calls, \
                     such as `\"{}\"`",
                    key.example()
                ),
            ));
        }
        if calls.iter().any(|call| call.value() == name) {
            return Err(syn::Error::new(
                lit.span(),
                format!("duplicate op `{name}` in `external_calls`"),
            ));
        }
        Ok(lit.clone())
    })
}

/// `key = ["…", …]`: a non-empty list of string literals, each turned into a
/// `T` by `element`, given the elements accepted before it. The error for an
/// empty list is `empty()`, on the brackets. Every bad element is reported;
/// any mistake refuses the whole key.
fn str_list<T>(
    key: Key,
    value: &Expr,
    empty: impl FnOnce() -> String,
    mut element: impl FnMut(&LitStr, &[T]) -> syn::Result<T>,
) -> syn::Result<Vec<T>> {
    let name = key.name();
    let value = ungroup(value);
    let Expr::Array(array) = value else {
        // Suggest a list around what was written, when that is a string or a word.
        let inner = str_lit(value)
            .map(LitStr::value)
            .or_else(|| written_word(value))
            .unwrap_or_else(|| key.example().to_owned());
        return Err(syn::Error::new_spanned(
            value,
            format!(
                "expected a list of string literals in brackets for `{name}`, such as \
                 `{name} = [{inner:?}]`"
            ),
        ));
    };
    if array.elems.is_empty() {
        return Err(syn::Error::new(array.bracket_token.span.join(), empty()));
    }

    let mut errors = Errors::default();
    let mut accepted: Vec<T> = Vec::new();
    for elem in &array.elems {
        let elem = ungroup(elem);
        let Some(lit) = str_lit(elem) else {
            let suggestion = written_word(elem).unwrap_or_else(|| key.example().to_owned());
            errors.push(syn::Error::new_spanned(
                elem,
                format!("expected a string literal in `{name}`, such as `\"{suggestion}\"`"),
            ));
            continue;
        };
        if let Some(item) = errors.ok(element(lit, &accepted)) {
            accepted.push(item);
        }
    }
    errors.finish().map(|()| accepted)
}

/// The characters a limit name may have besides ASCII letters and digits.
const LIMIT_PUNCTUATION: [char; 3] = ['_', '-', '.'];

/// `limit = "name"`: a non-empty name of ASCII letters, digits, `_`, `-` and
/// `.`, as a limit is named in code and in stats. The error is on the literal.
fn limit_name(value: &Expr) -> syn::Result<LitStr> {
    let key = Key::Limit;
    let lit = non_empty(expect_str(key, value)?, || {
        format!(
            "`limit` must not be empty; name the limit the calls share, such as \
             `limit = \"{}\"`",
            key.example()
        )
    })?;
    let name = lit.value();
    let bad = name
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !LIMIT_PUNCTUATION.contains(c));
    if let Some(bad) = bad {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "invalid character {bad:?} in limit name `{name}`; a limit name is made of \
                 ASCII letters, digits, `_`, `-` and `.`, such as `limit = \"{}\"`",
                key.example()
            ),
        ));
    }
    Ok(lit)
}

/// `key = "…"` for a duration key: whole nanoseconds, not 0 (see
/// `timeout`). The error is on the literal and names the key.
fn duration(key: Key, of: DurationKey, value: &Expr) -> syn::Result<u64> {
    let lit = expect_str(key, value)?;
    timeout::parse_nanos(&lit.value()).map_err(|e| syn::Error::new(lit.span(), e.message(of)))
}

/// The most retries one call may make: past this, a failure is not
/// transient, and the retries only hold a worker.
pub(crate) const MAX_RETRIES: u32 = 100;

/// `retries = 3`: an integer literal from 0 to [`MAX_RETRIES`]. The error is
/// on the value.
fn retries(value: &Expr) -> syn::Result<u32> {
    let key = Key::Retries;
    let value = ungroup(value);
    let lit = match value {
        Expr::Lit(expr) => match &expr.lit {
            Lit::Int(lit) => Some(lit),
            _ => None,
        },
        _ => None,
    };
    let Some(lit) = lit else {
        let message = match str_lit(value).map(|lit| lit.value().parse::<u32>()) {
            Some(Ok(n)) => format!("`retries` takes a number without quotes: `retries = {n}`"),
            _ => format!(
                "`retries` takes a whole number from 0 to {MAX_RETRIES}, such as \
                 `retries = {}`",
                key.example()
            ),
        };
        return Err(syn::Error::new_spanned(value, message));
    };
    match lit.base10_parse::<u32>() {
        Ok(n) if n <= MAX_RETRIES => Ok(n),
        _ => Err(syn::Error::new(
            lit.span(),
            format!(
                "`retries = {}` is too many; a call is retried at most {MAX_RETRIES} times: a \
                 failure that outlasts that many attempts is not a passing one",
                lit.base10_digits()
            ),
        )),
    }
}

/// `retry_on = ["panic", …]`: a non-empty list of distinct causes. Every bad
/// element is reported; any mistake refuses the whole key.
fn retry_on(value: &Expr) -> syn::Result<Vec<(RetryCause, LitStr)>> {
    let key = Key::RetryOn;
    let empty = || {
        format!(
            "`retry_on` must not be empty; list the failures to retry, such as \
             `retry_on = [\"{}\"]`, or leave `retry_on` out to retry panics and lost \
             workers",
            key.example()
        )
    };
    str_list(key, value, empty, |lit, causes: &[(RetryCause, LitStr)]| {
        let cause = RetryCause::from_lit(lit)?;
        if causes.iter().any(|(seen, _)| *seen == cause) {
            return Err(syn::Error::new(
                lit.span(),
                format!("duplicate cause `{}` in `retry_on`", cause.name()),
            ));
        }
        Ok((cause, lit.clone()))
    })
}

/// The longest pool name: a broker names subjects and consumers after it.
const MAX_POOL: usize = 64;

/// `remote = true | false | "pool"`: the pool of worker hosts (`true` is the
/// pool `"default"`, as a literal spanned on the `true`), or `None` for
/// `false`. A pool name is 1 to [`MAX_POOL`] ASCII letters, digits, `_` and
/// `-`, since brokers name subjects and consumers after it. The error is on
/// the value.
fn remote(value: &Expr) -> syn::Result<Option<LitStr>> {
    let key = Key::Remote;
    let value = ungroup(value);
    if let Expr::Lit(expr) = value
        && let Lit::Bool(LitBool { value: on, span }) = expr.lit
    {
        return Ok(on.then(|| LitStr::new("default", span)));
    }
    let Some(lit) = str_lit(value) else {
        return Err(syn::Error::new_spanned(
            value,
            format!(
                "`remote` takes `true`, `false` or the name of a pool of worker hosts, such as \
                 `remote = {}` or `remote = \"gpu\"`",
                key.example()
            ),
        ));
    };
    let name = lit.value();
    if name == "true" || name == "false" {
        return Err(syn::Error::new(
            lit.span(),
            format!("`remote` takes `true` or `false` without quotes: `remote = {name}`"),
        ));
    }
    let bad = name
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && *c != '_' && *c != '-');
    if name.is_empty() || name.len() > MAX_POOL || bad.is_some() {
        let why = match bad {
            Some(bad) => format!("invalid character {bad:?} in pool name `{name}`"),
            None if name.is_empty() => "the pool name must not be empty".to_owned(),
            None => format!("the pool name `{name}` is longer than {MAX_POOL} characters"),
        };
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "{why}; a pool name is 1 to {MAX_POOL} ASCII letters, digits, `_` and `-`, \
                 such as `remote = \"gpu\"`, or `remote = true` for the default pool"
            ),
        ));
    }
    Ok(Some(lit.clone()))
}

/// `memory_limit = "256MiB"`: a number of bytes (see `size`), not 0. The error
/// is on the literal.
fn memory_limit(value: &Expr) -> syn::Result<u64> {
    let lit = expect_str(Key::MemoryLimit, value)?;
    size::parse_bytes(&lit.value()).map_err(|e| syn::Error::new(lit.span(), e))
}

/// `crate = "path"`: the path tokengate is reached by, parsed from the string
/// (its tokens spanned on it), without generic arguments. The error is on the
/// literal.
fn crate_path(value: &Expr) -> syn::Result<Path> {
    let key = Key::Crate;
    let lit = expect_str(key, value)?;
    let text = lit.value();
    if text.trim().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`crate` must not be empty; name the path tokengate is reached by, such as \
                 `crate = \"{}\"`, or leave `crate` out to use `::tokengate`",
                key.example()
            ),
        ));
    }
    lit.parse_with(Path::parse_mod_style).map_err(|_| {
        // `a::b<T>` is a path, but not one to a crate or module.
        let what = if lit.parse::<Path>().is_ok() {
            "has generic arguments"
        } else {
            "is not a path"
        };
        syn::Error::new(
            lit.span(),
            format!(
                "`{text}` {what}; `crate` takes the path tokengate is reached by, such as \
                 `crate = \"{}\"`",
                key.example()
            ),
        )
    })
}

/// `value` without the invisible groups that `macro_rules!` fragments arrive in.
fn ungroup(mut value: &Expr) -> &Expr {
    while let Expr::Group(group) = value {
        value = &group.expr;
    }
    value
}

/// The string literal `value` is, if it is one.
fn str_lit(value: &Expr) -> Option<&LitStr> {
    match value {
        Expr::Lit(expr) => match &expr.lit {
            Lit::Str(lit) => Some(lit),
            _ => None,
        },
        _ => None,
    }
}

/// What was written, when it is a word or a number such as `heavy` or `250ms`,
/// to suggest quoting it.
fn written_word(value: &Expr) -> Option<String> {
    match value {
        Expr::Lit(expr) => match &expr.lit {
            Lit::Int(lit) => Some(lit.to_string()),
            Lit::Float(lit) => Some(lit.to_string()),
            _ => None,
        },
        Expr::Path(expr) if expr.qself.is_none() => {
            expr.path.get_ident().map(|ident| ident.unraw().to_string())
        }
        _ => None,
    }
}

/// `lit` as given, unless it is empty or blank; the error is `message()`, on it.
fn non_empty(lit: LitStr, message: impl FnOnce() -> String) -> syn::Result<LitStr> {
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new(lit.span(), message()));
    }
    Ok(lit)
}

/// The default `op`: the fn's name, without any `r#`.
pub(crate) fn default_op(fn_name: &Ident) -> LitStr {
    LitStr::new(&fn_name.unraw().to_string(), fn_name.span())
}

/// `` `a`, `b`, `c` ``, as messages list valid choices.
fn backticked(names: impl Iterator<Item = &'static str>) -> String {
    names
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;

/// The error for a key whose `value` needs a cargo feature of tokengate that
/// the build disabled.
fn missing_feature(value: &Expr, what: &str, feature: &str) -> syn::Error {
    syn::Error::new_spanned(
        value,
        format!(
            "{what} needs tokengate's `{feature}` feature, which this build disables; enable \
             it (it is on by default), for example with `features = [\"{feature}\"]` on the \
             `tokengate` dependency in Cargo.toml"
        ),
    )
}
