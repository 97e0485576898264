//! The `#[task_token_guard]` attribute for [tokengate].
//!
//! This crate is an implementation detail of tokengate: use the attribute through
//! its re-export, `tokengate::task_token_guard`, which is where the documentation
//! and the runnable examples live. The expansion names `::tokengate::…` paths, so
//! the crate that uses the attribute must depend on `tokengate` itself.
//!
//! # How it is built
//!
//! The attribute is parsed, checked and expanded in three steps, one module each:
//!
//! * `args` parses `op = "…", weight = "…", timeout = "…"` into `GuardArgs`,
//!   through a table of keys, so a new key is one small addition;
//! * `validate` checks the signature of the decorated fn (no `async`, no borrowed
//!   `self` or arguments, …);
//! * `expand` writes the rewritten fn (its comment shows input and output).
//!
//! Errors are `syn::Error`s on the offending token, accumulated where that is
//! cheap. On any error the fn is still emitted with its token return type, so the
//! rest of the user's crate keeps type-checking while the error is reported.
//!
//! [tokengate]: https://docs.rs/tokengate

#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

mod args;
mod errors;
mod expand;
mod item;
mod timeout;
mod validate;

use proc_macro::TokenStream;

/// Runs a sync fn on a tokengate worker: a call returns a
/// [`TaskToken`](https://docs.rs/tokengate/latest/tokengate/struct.TaskToken.html)
/// at once, and the body runs later on a worker thread of the coordinator.
///
/// ```ignore
/// use tokengate::task_token_guard;
///
/// #[task_token_guard(op = "prime_check", weight = "heavy", timeout = "250ms")]
/// pub fn is_prime(n: u64) -> bool {
///     n >= 2 && (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0)
/// }
///
/// // Returns at once; `.wait()` blocks, `.await` suspends.
/// let token: tokengate::TaskToken<bool> = is_prime(97);
/// assert!(token.wait()?);
/// ```
///
/// # Keys
///
/// Every key is optional and may appear at most once.
///
/// | key       | value                                         | default                 |
/// |-----------|-----------------------------------------------|-------------------------|
/// | `op`      | the operation name, a non-empty string        | the fn's name           |
/// | `weight`  | `"light"`, `"medium"` or `"heavy"` (any case) | `"medium"`              |
/// | `timeout` | a number and a unit: `"500ns"`, `"100us"` (or `"100µs"`), `"250ms"`, `"1.5s"`, `"2m"`, `"1h"` | none |
///
/// A timeout must be greater than zero, a whole number of nanoseconds, and at
/// most `u64::MAX` nanoseconds (about 584 years).
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
///   needed, since the token the fn returns is itself a future.
///
/// Visibility, attributes, doc comments, generics and where clauses are kept.
/// `return` and `?` in the body work as in the original fn.
///
/// # Equivalent code
///
/// The attribute rewrites the fn above to:
///
/// ```ignore
/// pub fn is_prime(n: u64) -> ::tokengate::TaskToken<bool> {
///     // One check per argument, pointing at its type when it is not `Send + 'static`.
///     ::tokengate::__private::assert_arg::<u64>();
///     // The same for the return type.
///     ::tokengate::__private::assert_return::<bool>();
///     // The call site's static facts: one `const` setter per key that was given.
///     static __TOKENGATE_SITE: ::tokengate::__private::Site =
///         ::tokengate::__private::Site::new("prime_check")
///             .weight(::tokengate::Weight::Heavy)
///             .timeout_nanos(250_000_000);
///     // The body becomes a closure that owns the arguments. Naming the return
///     // type again keeps a non-`Send` return type down to one error.
///     ::tokengate::__private::submit::<bool, _>(&__TOKENGATE_SITE, move || -> bool {
///         n >= 2 && (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0)
///     })
/// }
/// ```
///
/// A fn with no return type returns `TaskToken<()>`. A by-value `self` is checked
/// with `assert_arg::<Self>()`. Types that contain `impl Trait` cannot be named,
/// so they get no check of their own (the bounds of `submit` catch them instead),
/// and an `impl Trait` return type is left off `submit` and the closure, whose
/// return type is then inferred from the body.
///
/// # Errors
///
/// Mistakes are compile errors on the offending token: an unknown or duplicate
/// key, an unknown weight, an unparseable timeout, an `async fn`, a borrowed
/// `self` or argument, an argument or return type that is not `Send + 'static`.
/// The fn is still emitted with its token return type, so that callers
/// type-check while the error is fixed.
#[proc_macro_attribute]
pub fn task_token_guard(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::guard(args.into(), item.into()).into()
}
