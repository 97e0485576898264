//! What a `process_pool = true` fn may look like, beyond what every guarded fn
//! needs.
//!
//! A worker process finds the fn by its op name in a registry of plain fn
//! pointers, one per op, built at link time; the expansion moves the body into
//! a fn nested in the guarded one, and decodes the arguments there. Hence the
//! fn is a free fn or an associated fn without `self` (nothing to call a method
//! on in another process), has no type or const parameters (one op names one
//! concrete fn), names every argument and return type (no `impl Trait`: the
//! decoder needs the type), and does not name `Self` in its signature (a
//! nested fn cannot see the outer `Self`).

use syn::visit::Visit;
use syn::{FnArg, GenericParam, Ident, ReturnType, Signature, Type, TypeImplTrait};

use crate::errors::Errors;

/// How messages name the fn.
const PROCESS_FN: &str = "a `process_pool = true` fn";

/// Records each way `sig` cannot be a process-pool fn in `errors`, each on its
/// own token.
pub(super) fn check(sig: &Signature, errors: &mut Errors) {
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
                "{PROCESS_FN} cannot have {what} parameters: a worker process finds the fn \
                 by op name, which must name one concrete fn; use concrete types, or drop \
                 `process_pool`"
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
                    "{PROCESS_FN} is found by op name in a worker process, so it must be a \
                     free fn or an associated fn without `self`; pass what the call needs as \
                     arguments"
                ),
            )),
            FnArg::Typed(arg) => {
                if let Some(impl_trait) = first_impl_trait(&arg.ty) {
                    errors.push(syn::Error::new_spanned(
                        impl_trait,
                        format!(
                            "{PROCESS_FN} cannot take `impl Trait`: a worker process decodes \
                             the argument, which needs its concrete type; name the type"
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
                    "{PROCESS_FN} cannot return `impl Trait`: the caller decodes the value, \
                     which needs its concrete type; name the type"
                ),
            ));
        }
        selves.visit_type(ty);
    }
    selves.report(errors);
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
    /// One error per `Self` found.
    fn report(self, errors: &mut Errors) {
        for ident in self.0 {
            errors.push(syn::Error::new(
                ident.span(),
                format!(
                    "{PROCESS_FN} runs its body as a fn of its own, where `Self` is not in \
                     scope; write the type's name"
                ),
            ));
        }
    }
}
