//! Checks that the decorated fn can run on a worker thread at all.
//!
//! A guarded call moves its arguments into a `'static` closure that runs on
//! another thread, and hands its value back from there. So the fn must be a
//! plain sync Rust fn, and nothing it takes or returns may borrow. Whether the
//! types are `Send` is left to the compiler (the `assert_arg`/`assert_return`
//! calls of the expansion), whose error then points at the type.
//!
//! A `process_pool = true` fn runs in a worker process instead, and a `remote`
//! fn on a worker host, which asks more of it; see `process_pool`. The `#[key]` markers on its arguments are
//! checked against the attribute's keys; see `key_markers`. So is its return
//! type, which must be a `Result` under `retry_on = ["err"]`; see
//! `retry_err`.
//!
//! Every mistake in the signature is reported, each on its own token.

use proc_macro2::TokenStream;
use quote::ToTokens as _;
use syn::visit::{self, Visit};
use syn::{
    BoundLifetimes, FnArg, GenericParam, Lifetime, Pat, PatIdent, Receiver, ReturnType, Signature,
    Type, TypeBareFn, TypeNever, TypeReference,
};

use crate::args::{ATTRIBUTE, GuardArgs};
use crate::errors::Errors;
use crate::item::KeyMarker;

pub(crate) use process_pool::Crossing;

/// Checks `sig`, as a fn whose call crosses to another process if
/// `crossing` says so (`process_pool = true` or `remote`); `Err` holds every
/// mistake found, combined.
pub(crate) fn signature(
    sig: &Signature,
    crossing: Option<Crossing>,
    retried: bool,
) -> syn::Result<()> {
    let process_pool = crossing.is_some();
    let mut errors = Errors::default();
    let mut refuse = |tokens: &dyn quote::ToTokens, message: String| {
        errors.push(syn::Error::new_spanned(tokens.to_token_stream(), message));
    };

    if let Some(token) = &sig.constness {
        refuse(
            token,
            format!(
                "{ATTRIBUTE} cannot be used on a `const fn`; a guarded call runs on a \
                 worker thread, which cannot happen at compile time"
            ),
        );
    }
    if let Some(token) = &sig.asyncness {
        refuse(
            token,
            format!(
                "{ATTRIBUTE} cannot be used on an `async fn`; decorate a sync fn and \
                 `.await` the `TaskToken` it returns"
            ),
        );
    }
    if let Some(token) = &sig.unsafety {
        refuse(
            token,
            format!(
                "{ATTRIBUTE} cannot be used on an `unsafe fn`; the body would run on a \
                 worker thread, outside the caller's `unsafe` block, so wrap the unsafe \
                 code in a safe fn and decorate that"
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        refuse(
            abi,
            format!(
                "{ATTRIBUTE} cannot be used on an `extern` fn; a guarded fn returns a \
                 Rust `TaskToken`, so it must use the Rust ABI"
            ),
        );
    }
    if let Some(variadic) = &sig.variadic {
        refuse(
            &variadic.dots,
            format!("{ATTRIBUTE} cannot be used on a variadic fn"),
        );
    }

    for input in &sig.inputs {
        match input {
            // A process-pool fn takes no `self` at all, borrowed or not; the
            // suggestion to take it by value would mislead.
            FnArg::Receiver(_) if process_pool => {}
            FnArg::Receiver(receiver) if retried => refuse(
                receiver,
                format!(
                    "a {ATTRIBUTE} fn with `retries` runs its body again on a copy of its \
                     arguments, which `self` cannot be; use a free fn that takes the value"
                ),
            ),
            FnArg::Receiver(receiver) => {
                if receiver_borrows(receiver) {
                    refuse(
                        receiver,
                        format!(
                            "a {ATTRIBUTE} call moves to a worker thread, so it cannot \
                             borrow `self`; take `self` by value or use a free fn"
                        ),
                    );
                }
            }
            FnArg::Typed(arg) => {
                if let Some(by_ref) = first_ref_binding(&arg.pat) {
                    refuse(
                        &by_ref,
                        format!(
                            "a {ATTRIBUTE} call moves its arguments to a worker thread, \
                             so a pattern cannot bind them by reference; bind by value \
                             (remove `ref`)"
                        ),
                    );
                }
                if let Some(borrow) = first_borrow(&arg.ty) {
                    refuse(&borrow.tokens, borrow.argument_message());
                }
            }
        }
    }

    if let ReturnType::Type(_, ty) = &sig.output {
        if let Some(never) = never_type(ty) {
            // `Infallible` has no serde impls, so a process-pool fn gets `()` alone.
            let instead = if process_pool {
                "`()`"
            } else {
                "`()` or `std::convert::Infallible`"
            };
            refuse(
                never,
                format!(
                    "a {ATTRIBUTE} fn cannot return `!`: the `TaskToken` it returns resolves \
                     to the fn's value, so the fn must have one; for a fn that never returns, \
                     return {instead} instead and keep the body as it is"
                ),
            );
        }
        if let Some(borrow) = first_borrow(ty) {
            refuse(&borrow.tokens, borrow.return_message());
        }
    }

    if let Some(crossing) = crossing {
        process_pool::check(sig, crossing, &mut errors);
    }
    errors.finish()
}

/// Checks the `#[key]` markers taken out of the fn's signature against the
/// attribute's keys; `Err` holds every mistake found, each on its marker.
pub(crate) fn key_markers(markers: &[KeyMarker], args: &GuardArgs) -> syn::Result<()> {
    let mut errors = Errors::default();
    key_markers::check(markers, args, &mut errors);
    errors.finish()
}

/// Checks that a fn whose `retry_on` lists `"err"` returns a `Result`; the
/// error is on the `"err"`.
pub(crate) fn retry_err(sig: &Signature, args: &GuardArgs) -> syn::Result<()> {
    retry_err::check(sig, args).map_or(Ok(()), Err)
}

/// Whether `ty` borrows for a lifetime other than `'static`.
pub(crate) fn borrows(ty: &Type) -> bool {
    first_borrow(ty).is_some()
}

/// The `!` that `ty` is, if it is the never type, which a token cannot hold
/// (it is unstable anywhere but directly after a fn's `->`).
pub(crate) fn never_type(ty: &Type) -> Option<&TypeNever> {
    match ty {
        Type::Never(never) => Some(never),
        Type::Group(group) => never_type(&group.elem),
        Type::Paren(paren) => never_type(&paren.elem),
        _ => None,
    }
}

/// Whether the receiver is `&self`, `&mut self`, `self: &Self`,
/// `self: Pin<&mut Self>`, … rather than an owned `self`.
fn receiver_borrows(receiver: &Receiver) -> bool {
    receiver.reference.is_some() || borrows(&receiver.ty)
}

/// The `ref` (or `ref mut`) of the first by-reference binding in `pat`.
fn first_ref_binding(pat: &Pat) -> Option<TokenStream> {
    /// Finds the first `ref` binding.
    struct RefBinding(Option<TokenStream>);

    impl<'ast> Visit<'ast> for RefBinding {
        fn visit_pat_ident(&mut self, ident: &'ast PatIdent) {
            if self.0.is_some() {
                return;
            }
            if let Some(by_ref) = &ident.by_ref {
                let mut tokens = by_ref.to_token_stream();
                ident.mutability.to_tokens(&mut tokens);
                self.0 = Some(tokens);
                return;
            }
            visit::visit_pat_ident(self, ident);
        }
    }

    let mut finder = RefBinding(None);
    finder.visit_pat(pat);
    finder.0
}

/// Where a type borrows.
struct Borrow {
    /// The tokens to point at: `&`, `&'a`, `&mut`, or the lifetime.
    tokens: TokenStream,
    /// What is borrowed, to suggest the owned type.
    kind: BorrowKind,
}

/// The shape of a borrow, for the suggestion in its message.
enum BorrowKind {
    /// `&str` or `&mut str`.
    Str,
    /// `&[T]`.
    Slice,
    /// Any other reference.
    OtherReference,
    /// A lifetime other than `'static` in a path, trait object, …
    Lifetime(String),
}

impl Borrow {
    /// The message for a borrowing argument type.
    fn argument_message(&self) -> String {
        let head = format!(
            "a {ATTRIBUTE} call moves its arguments to a worker thread, so they cannot borrow"
        );
        match &self.kind {
            BorrowKind::Str => format!("{head}; take an owned type such as `String`"),
            BorrowKind::Slice => format!("{head}; take an owned type such as `Vec<T>`"),
            BorrowKind::OtherReference => {
                format!("{head}; take an owned type, or share it with `Arc<T>`")
            }
            BorrowKind::Lifetime(lifetime) => format!(
                "{head} for `{lifetime}`; take an owned type, or one that borrows only \
                 for `'static`"
            ),
        }
    }

    /// The message for a borrowing return type.
    fn return_message(&self) -> String {
        let head = format!(
            "a {ATTRIBUTE} call returns its value from a worker thread, so the return \
             type cannot borrow"
        );
        match &self.kind {
            BorrowKind::Str => format!("{head}; return an owned type such as `String`"),
            BorrowKind::Slice => format!("{head}; return an owned type such as `Vec<T>`"),
            BorrowKind::OtherReference => {
                format!("{head}; return an owned type, or share it with `Arc<T>`")
            }
            BorrowKind::Lifetime(lifetime) => format!(
                "{head} for `{lifetime}`; return an owned type, or one that borrows only \
                 for `'static`"
            ),
        }
    }
}

/// The first borrow in `ty` that is not `'static`.
///
/// Lifetimes bound inside the type do not count: a fn pointer `fn(&str)`, a
/// closure bound `dyn Fn(&str)` or a `for<'a>` bound is itself `'static`.
fn first_borrow(ty: &Type) -> Option<Borrow> {
    let mut finder = BorrowFinder::default();
    finder.visit_type(ty);
    finder.found
}

/// Walks a type looking for a borrow; see [`first_borrow`].
#[derive(Default)]
struct BorrowFinder {
    /// The first borrow found; the walk stops adding once it is set.
    found: Option<Borrow>,
    /// Lifetimes bound by enclosing `for<'a>`s.
    bound: Vec<Lifetime>,
    /// How many fn signatures (`fn(..)`, `Fn(..)`) enclose the current type;
    /// elided lifetimes there are late-bound, not borrows.
    in_fn_signature: usize,
}

impl BorrowFinder {
    /// Whether `lifetime` does not make a type borrow.
    fn is_owned(&self, lifetime: Option<&Lifetime>) -> bool {
        match lifetime {
            None => self.in_fn_signature > 0,
            Some(lifetime) if lifetime.ident == "static" => true,
            Some(lifetime) if lifetime.ident == "_" => self.in_fn_signature > 0,
            Some(lifetime) => self.bound.contains(lifetime),
        }
    }

    /// Walks `walk` with the lifetimes of `bound` in scope.
    fn with_bound(&mut self, bound: Option<&BoundLifetimes>, walk: impl FnOnce(&mut Self)) {
        let depth = self.bound.len();
        let lifetimes = bound.into_iter().flat_map(|b| &b.lifetimes);
        for param in lifetimes {
            if let GenericParam::Lifetime(param) = param {
                self.bound.push(param.lifetime.clone());
            }
        }
        walk(self);
        self.bound.truncate(depth);
    }
}

impl<'ast> Visit<'ast> for BorrowFinder {
    fn visit_type_reference(&mut self, reference: &'ast TypeReference) {
        if self.found.is_some() {
            return;
        }
        if !self.is_owned(reference.lifetime.as_ref()) {
            let mut tokens = reference.and_token.to_token_stream();
            reference.lifetime.to_tokens(&mut tokens);
            reference.mutability.to_tokens(&mut tokens);
            let kind = match &*reference.elem {
                Type::Path(path) if path.qself.is_none() && path.path.is_ident("str") => {
                    BorrowKind::Str
                }
                Type::Slice(_) => BorrowKind::Slice,
                _ => BorrowKind::OtherReference,
            };
            self.found = Some(Borrow { tokens, kind });
            return;
        }
        self.visit_type(&reference.elem);
    }

    fn visit_lifetime(&mut self, lifetime: &'ast Lifetime) {
        if self.found.is_none() && !self.is_owned(Some(lifetime)) {
            self.found = Some(Borrow {
                tokens: lifetime.to_token_stream(),
                kind: BorrowKind::Lifetime(lifetime.to_string()),
            });
        }
    }

    fn visit_type_bare_fn(&mut self, bare_fn: &'ast TypeBareFn) {
        self.with_bound(bare_fn.lifetimes.as_ref(), |this| {
            this.in_fn_signature += 1;
            visit::visit_type_bare_fn(this, bare_fn);
            this.in_fn_signature -= 1;
        });
    }

    fn visit_parenthesized_generic_arguments(
        &mut self,
        args: &'ast syn::ParenthesizedGenericArguments,
    ) {
        self.in_fn_signature += 1;
        visit::visit_parenthesized_generic_arguments(self, args);
        self.in_fn_signature -= 1;
    }

    fn visit_trait_bound(&mut self, bound: &'ast syn::TraitBound) {
        self.with_bound(bound.lifetimes.as_ref(), |this| {
            visit::visit_trait_bound(this, bound);
        });
    }
}

mod key_markers;
mod process_pool;
mod retry_err;

#[cfg(test)]
mod tests;
