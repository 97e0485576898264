//! What a `process_pool = true` or `remote` fn may look like, beyond what
//! every guarded fn needs.
//!
//! A worker process (or a worker host, for a `remote` fn) finds the fn by its
//! op name in a registry of plain fn pointers, one per op, built at link time;
//! the expansion moves the body into a fn nested in the guarded one, and
//! decodes the arguments there. Hence the fn is a free fn or an associated fn
//! without `self` (nothing to call a method on in another process), has no
//! type or const parameters (one op names one concrete fn), names every
//! argument and return type (no `impl Trait`: the decoder needs the type), and
//! does not name `Self` in its signature (a nested fn cannot see the outer
//! `Self`).

use syn::visit::Visit;
use syn::{FnArg, GenericParam, Ident, ReturnType, Signature, Type, TypeImplTrait};

use crate::errors::Errors;

/// Where a fn's calls go when they leave the calling process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Crossing {
    /// `process_pool = true`: a worker process of the caller's host.
    ProcessPool,
    /// `remote` (with or without `process_pool`): a worker host.
    Remote,
}

impl Crossing {
    /// How messages name the fn.
    fn fn_name(self) -> &'static str {
        match self {
            Crossing::ProcessPool => "a `process_pool = true` fn",
            Crossing::Remote => "a `remote` fn",
        }
    }

    /// How messages name what runs the call.
    fn worker(self) -> &'static str {
        match self {
            Crossing::ProcessPool => "a worker process",
            Crossing::Remote => "a worker host",
        }
    }

    /// The key to drop to run the call on a thread of this process.
    fn key(self) -> &'static str {
        match self {
            Crossing::ProcessPool => "process_pool",
            Crossing::Remote => "remote",
        }
    }
}

/// Records each way `sig` cannot be a fn whose calls cross as `crossing`
/// says in `errors`, each on its own token.
pub(super) fn check(sig: &Signature, crossing: Crossing, errors: &mut Errors) {
    let (fn_name, worker, key) = (crossing.fn_name(), crossing.worker(), crossing.key());
    let mut selves = SelfFinder::default();
    for param in &sig.generics.params {
        let what = match param {
            GenericParam::Type(_) => "type",
            GenericParam::Const(_) => "const",
            // Lifetimes cannot reach an argument (arguments do not borrow), so
            // they change nothing about the fn the worker runs.
            GenericParam::Lifetime(_) => continue,
        };
        errors.push(syn::Error::new_spanned(
            param,
            format!(
                "{fn_name} cannot have {what} parameters: {worker} finds the fn by op name, \
                 which must name one concrete fn; use concrete types, or drop `{key}`"
            ),
        ));
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        selves.visit_where_clause(where_clause);
    }

    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                receiver,
                format!(
                    "{fn_name} is found by op name in {worker}, so it must be a free fn or an \
                     associated fn without `self`; pass what the call needs as arguments"
                ),
            )),
            FnArg::Typed(arg) => {
                if let Some(impl_trait) = first_impl_trait(&arg.ty) {
                    errors.push(syn::Error::new_spanned(
                        impl_trait,
                        format!(
                            "{fn_name} cannot take `impl Trait`: {worker} decodes the \
                             argument, which needs its concrete type; name the type"
                        ),
                    ));
                }
                selves.visit_type(&arg.ty);
            }
        }
    }

    if let ReturnType::Type(_, ty) = &sig.output {
        if let Some(impl_trait) = first_impl_trait(ty) {
            errors.push(syn::Error::new_spanned(
                impl_trait,
                format!(
                    "{fn_name} cannot return `impl Trait`: the caller decodes the value, \
                     which needs its concrete type; name the type"
                ),
            ));
        }
        selves.visit_type(ty);
    }
    selves.report(fn_name, errors);
}

/// The first `impl Trait` in `ty`.
fn first_impl_trait(ty: &Type) -> Option<&TypeImplTrait> {
    /// Keeps the first `impl Trait` met.
    struct Finder<'ast>(Option<&'ast TypeImplTrait>);

    impl<'ast> Visit<'ast> for Finder<'ast> {
        fn visit_type_impl_trait(&mut self, impl_trait: &'ast TypeImplTrait) {
            self.0.get_or_insert(impl_trait);
        }
    }

    let mut finder = Finder(None);
    finder.visit_type(ty);
    finder.0
}

/// Every `Self` in the nodes it walks: the body runs as a fn nested in the
/// guarded one, where the impl's `Self` is not in scope.
#[derive(Default)]
struct SelfFinder<'ast>(Vec<&'ast Ident>);

impl<'ast> Visit<'ast> for SelfFinder<'ast> {
    fn visit_ident(&mut self, ident: &'ast Ident) {
        if ident == "Self" {
            self.0.push(ident);
        }
    }
}

impl SelfFinder<'_> {
    /// One error per `Self` found; `fn_name` names the fn.
    fn report(self, fn_name: &str, errors: &mut Errors) {
        for ident in self.0 {
            errors.push(syn::Error::new(
                ident.span(),
                format!(
                    "{fn_name} runs its body as a fn of its own, where `Self` is not in scope; \
                     write the type's name"
                ),
            ));
        }
    }
}
