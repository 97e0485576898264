//! Writing the rewritten fn.
//!
//! ```text
//! // Input:
//! #[task_token_guard(op = "prime_check", weight = "heavy", timeout = "250ms")]
//! pub fn prime_operation(n: u64) -> bool { body }
//!
//! // Output:
//! pub fn prime_operation(n: u64) -> ::tokengate::TaskToken<bool> {
//!     ::tokengate::__private::assert_arg::<u64>();    // one per argument, on its type
//!     ::tokengate::__private::assert_return::<bool>(); // on the return type
//!     static __TOKENGATE_SITE: ::tokengate::__private::Site =
//!         ::tokengate::__private::Site::new("prime_check")
//!             .weight(::tokengate::Weight::Heavy)     // only for keys that were given
//!             .timeout_nanos(250000000u64);
//!     ::tokengate::__private::submit::<bool, _>(&__TOKENGATE_SITE, move || -> bool { body })
//! }
//! ```
//!
//! The checks are statements in the fn body, not `const _` items, so that the
//! fn's generics and `Self` are in scope. They are spanned on the type they check,
//! so that a type that is not `Send + 'static` is reported there. The return type
//! is named again in `submit::<bool, _>` for the same reason (see
//! `submitting_fn`).
//!
//! When the signature itself is refused (see `validate.rs`), the output is the
//! same signature, less `async`/`const`/`extern`, with the token return type and
//! a body that never runs (`unreachable!()` instead where the return type
//! borrows, which `rejected` cannot produce), followed by the errors:
//!
//! ```text
//! #[allow(unused_variables, unused_mut)]
//! pub fn prime_operation(n: u64) -> ::tokengate::TaskToken<bool> {
//!     ::tokengate::__private::rejected()
//! }
//! ::core::compile_error! { "..." }
//! ```

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{ToTokens as _, format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::visit::Visit;
use syn::{FnArg, ReturnType, Signature, Type, TypeImplTrait, token};

use crate::args::{self, ATTRIBUTE, GuardArgs};
use crate::errors::Errors;
use crate::item::GuardedFn;
use crate::validate;

/// Expands `#[task_token_guard(args)] item`.
pub(crate) fn guard(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = GuardArgs::parse(args, &mut errors);

    let func = match syn::parse2::<GuardedFn>(item.clone()) {
        Ok(func) => func,
        Err(error) => {
            // Not a fn with a body (rustc has already parsed the item, so syn's
            // own message, such as "expected `fn`", adds nothing): give the item
            // back untouched, with the error where syn stopped.
            errors.push(syn::Error::new(
                error.span(),
                format!("{ATTRIBUTE} can only be used on a fn with a body"),
            ));
            let errors = errors.to_compile_error();
            return quote!(#item #errors);
        }
    };

    let rewritten = match validate::signature(&func.sig) {
        Ok(()) => submitting_fn(&func, &args),
        Err(error) => {
            errors.push(error);
            rejected_fn(&func)
        }
    };
    let errors = errors.to_compile_error();
    quote!(#rewritten #errors)
}

/// The fn that submits its body to a worker and returns the token.
fn submitting_fn(func: &GuardedFn, args: &GuardArgs) -> TokenStream {
    let GuardedFn {
        attrs,
        vis,
        sig,
        inner_attrs,
        brace,
        body,
    } = func;

    let return_type = return_type(&sig.output);
    let arg_checks = sig.inputs.iter().filter_map(arg_check);
    // An `impl Trait` return type cannot be named in a turbofish or on a closure:
    // it gets no check, and the closure's return type is inferred from the body.
    // Otherwise, naming it in `submit::<R, _>` too puts `submit`'s own
    // `R: Send + 'static` bound on the same tokens as `assert_return`, so rustc
    // reports only the clearer error of the two rather than a second one on the
    // attribute.
    let (return_check, submit_generics, closure_output) = if contains_impl_trait(&return_type) {
        (None, None, None)
    } else {
        (
            Some(quote_spanned! {return_type.span()=>
                ::tokengate::__private::assert_return::<#return_type>();
            }),
            Some(quote!(::<#return_type, _>)),
            Some(quote!(-> #return_type)),
        )
    };
    let site = site(args, sig);
    let closure_body = braced(brace, body.clone());
    let sig = token_signature(sig, &return_type);

    let fn_body = braced(
        brace,
        quote! {
            #(#inner_attrs)*
            #(#arg_checks)*
            #return_check
            static __TOKENGATE_SITE: ::tokengate::__private::Site = #site;
            ::tokengate::__private::submit #submit_generics (
                &__TOKENGATE_SITE,
                move || #closure_output #closure_body,
            )
        },
    );
    quote! {
        #(#attrs)*
        #vis #sig #fn_body
    }
}

/// The fn emitted in place of one whose signature was refused: same name and
/// parameters, token return type, a body that never runs. Callers keep
/// type-checking while the error is reported.
fn rejected_fn(func: &GuardedFn) -> TokenStream {
    let GuardedFn {
        attrs,
        vis,
        sig,
        brace,
        ..
    } = func;
    let mut sig = sig.clone();
    // Drop what would be an error, or a warning, on the stand-in itself.
    sig.asyncness = None;
    sig.constness = None;
    sig.abi = None;
    sig.variadic = None;
    let return_type = return_type(&sig.output);
    let sig = token_signature(&sig, &return_type);
    let stand_in = if validate::borrows(&return_type) {
        // `rejected` needs a `'static` value type; a borrowing one would add a
        // lifetime error to the one already reported. The body never runs: the
        // crate does not build.
        quote!(::core::unreachable!("rejected by #[task_token_guard]"))
    } else {
        quote!(::tokengate::__private::rejected())
    };
    let fn_body = braced(brace, stand_in);
    quote! {
        #(#attrs)*
        #[allow(unused_variables, unused_mut)]
        #vis #sig #fn_body
    }
}

/// `{ tokens }` with the span of the user's body braces.
///
/// The rewritten fn's braces must come from the user's code: rustc takes the
/// item's span from its first to its last token, and lints such as `dead_code`
/// stay silent on an item whose span ends inside a macro expansion.
fn braced(brace: &token::Brace, tokens: TokenStream) -> Group {
    let mut group = Group::new(Delimiter::Brace, tokens);
    group.set_span(brace.span.join());
    group
}

/// The fn's return type; `()` when it has none.
fn return_type(output: &ReturnType) -> Type {
    match output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default => syn::parse_quote!(()),
    }
}

/// `sig` with the return type `::tokengate::TaskToken<R>`, spanned on `R`.
fn token_signature(sig: &Signature, return_type: &Type) -> Signature {
    let mut sig = sig.clone();
    let span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    let token = quote_spanned!(span=> ::tokengate::TaskToken<#return_type>);
    sig.output = ReturnType::Type(syn::Token![->](span), Box::new(Type::Verbatim(token)));
    sig
}

/// The check that one argument can move to a worker, spanned on its type.
fn arg_check(arg: &FnArg) -> Option<TokenStream> {
    let (ty, span) = match arg {
        FnArg::Receiver(receiver) if receiver.colon_token.is_some() => {
            (receiver.ty.to_token_stream(), receiver.ty.span())
        }
        // `self` and `mut self`: syn's implied `Self` type has no span of its own.
        FnArg::Receiver(receiver) => (quote!(Self), receiver.self_token.span),
        FnArg::Typed(arg) if contains_impl_trait(&arg.ty) => return None,
        FnArg::Typed(arg) => (arg.ty.to_token_stream(), arg.ty.span()),
    };
    Some(quote_spanned! {span=>
        ::tokengate::__private::assert_arg::<#ty>();
    })
}

/// The `Site` of the fn: `Site::new(op)`, then one setter per key that was given.
fn site(args: &GuardArgs, sig: &Signature) -> TokenStream {
    let op = args
        .op
        .clone()
        .unwrap_or_else(|| args::default_op(&sig.ident));
    let mut site = quote!(::tokengate::__private::Site::new(#op));
    if let Some(weight) = args.weight {
        let variant = format_ident!("{}", weight.variant(), span = Span::call_site());
        site.extend(quote!(.weight(::tokengate::Weight::#variant)));
    }
    if let Some(nanos) = args.timeout_nanos {
        site.extend(quote!(.timeout_nanos(#nanos)));
    }
    site
}

/// Whether `ty` mentions `impl Trait`, which cannot be named in a turbofish or on
/// a closure.
fn contains_impl_trait(ty: &Type) -> bool {
    /// Sets its flag on the first `impl Trait`.
    struct Finder(bool);

    impl<'ast> Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, _: &'ast TypeImplTrait) {
            self.0 = true;
        }
    }

    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}

#[cfg(test)]
mod tests;
