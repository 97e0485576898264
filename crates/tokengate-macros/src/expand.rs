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
//!     let __tg_site: &'static ::tokengate::__private::Site = {
//!         static __TOKENGATE_SITE: ::tokengate::__private::Site =
//!             ::tokengate::__private::Site::new("prime_check")
//!                 .weight(::tokengate::Weight::Heavy) // only for keys that were given
//!                 .timeout_nanos(250000000u64);
//!         &__TOKENGATE_SITE
//!     };
//!     ::tokengate::__private::submit::<bool, _>(__tg_site, move || -> bool { body })
//! }
//! ```
//!
//! The other keys are `Site` setters too: `.storage_speed(::tokengate::StorageSpeed::Fast)`,
//! `.sticky_anchor("user")`, `.external_calls(&["child_op"])`,
//! `.hash_policy(::tokengate::fingerprint::HashPolicy::Fast)`,
//! `.digest_policy(::tokengate::fingerprint::DigestPolicy::Short)`,
//! `.process_pool()`, `.limit("github_api")`, `.queue_timeout_nanos(100000000u64)`,
//! `.retries(3u32)`, `.retry_backoff_nanos(10000000u64)`,
//! `.retry_on(::tokengate::__private::RETRY_PANIC | ::tokengate::__private::RETRY_ERR)`
//! (one bit per cause), `.memory_limit(268435456u64)` and `.remote("gpu")`, except
//! `crate = "…"`: it replaces `::tokengate`, here and in every output below,
//! with the path given (see `runtime_path`).
//!
//! A thread fn with `retries` runs its body once per attempt, each time on a
//! copy of its arguments: they move into a tuple, a helper `clone_args` with
//! one `Clone` parameter per argument copies it, and a closure binds the copy
//! with the fn's own patterns. It submits through `submit_retrying`, which
//! takes `Option<RouteKey>` (the key of a sticky fn, as below, or `None`) and,
//! for `retry_on = ["err"]` (the fn returns a `Result`, see `validate`), a
//! predicate spanned on the return type that tells an `Err` value:
//!
//! ```text
//! ::tokengate::__private::submit_retrying::<Result<u8, String>, _, _>(
//!     __tg_site,
//!     ::core::option::Option::None,
//!     ::core::option::Option::Some(
//!         |__tg_value: &Result<u8, String>| ::core::result::Result::is_err(__tg_value)
//!     ),
//!     (n,),
//!     __Tokengate::clone_args::<u8>,
//!     |(n,)| -> Result<u8, String> { body },
//! )
//! ```
//!
//! A process-pool fn needs no copy (its arguments are encoded once and the
//! bytes sent per attempt); one with `retry_on = ["err"]` submits through
//! `submit_process_retry_err`, with the same predicate after the key.
//!
//! # Names
//!
//! The user's code in the rewritten fn (the body, and the arguments it names)
//! must neither see the expansion's names nor lose its own to them. Locals
//! (`__tg_site`, `__tg_process_fn`, `__tg_out`, `__tg_arg1`, …) have
//! mixed-site hygiene: the user's code cannot name them, and an argument of
//! the same name is another variable. Items get no such hygiene, and an item
//! in a block hides an argument of its name in the whole block, so the fn's
//! own body declares no value items: the statics are declared in blocks of
//! their own, whose value a mixed-site local keeps, and the helpers are
//! associated fns of an uninhabited `enum __Tokengate`, whose name lives among
//! types (see `site_ref` and `helpers`).
//!
//! # Sticky keys
//!
//! A sticky fn (`sticky_anchor`) with arguments, under a hash policy other than
//! `"none"`, also computes its domain key from the borrowed arguments, before the
//! closure takes them (see `domain_key`); so does a lead (`external_calls`)
//! under `"fast"`, `"standard"` or `"full"`, whose key seeds its domain:
//!
//! ```text
//! // Input:
//! #[task_token_guard(sticky_anchor = "user", hash_policy = "fast")]
//! fn touch(user: u64, (a, b): (u8, u8)) -> u8 { body }
//!
//! // Output:
//! fn touch(user: u64, __tg_arg1: (u8, u8)) -> ::tokengate::TaskToken<u8> {
//!     enum __Tokengate {}
//!     #[allow(clippy::too_many_arguments)]
//!     impl __Tokengate {
//!         fn fast_key<A0: ?Sized + Hash, A1: ?Sized + Hash>(a0: &A0, a1: &A1)
//!             -> ::tokengate::__private::RouteKey
//!         {
//!             ::tokengate::__private::fast_key(&(a0, a1,))
//!         }
//!     }
//!     ::tokengate::__private::assert_arg::<u64>();
//!     ::tokengate::__private::assert_arg::<(u8, u8)>();
//!     ::tokengate::__private::assert_hash_key::<u64>();       // one per argument, on its type
//!     ::tokengate::__private::assert_hash_key::<(u8, u8)>();
//!     ::tokengate::__private::assert_return::<u8>();
//!     let __tg_site: &'static ::tokengate::__private::Site = {
//!         static __TOKENGATE_SITE: ::tokengate::__private::Site =
//!             ::tokengate::__private::Site::new("touch")
//!                 .sticky_anchor("user")
//!                 .hash_policy(::tokengate::fingerprint::HashPolicy::Fast);
//!         &__TOKENGATE_SITE
//!     };
//!     ::tokengate::__private::submit_keyed::<u8, _>(
//!         __tg_site,
//!         __Tokengate::fast_key(&user, &__tg_arg1),
//!         move || -> u8 { let (a, b) = __tg_arg1; body },
//!     )
//! }
//! ```
//!
//! Under `"standard"` and `"full"`, the checks are `assert_stable_key` and the
//! helper is `fn stable_key(site: &'static Site, a0: &A0, a1: &A1)`, which
//! calls `::tokengate::__private::stable_key(site, &(a0, a1,))`, its
//! parameters bound by `::tokengate::__private::Serialize`; the key is
//! `__Tokengate::stable_key(__tg_site, &user, &__tg_arg1)`. An argument bound
//! by a pattern other than a plain name gets a hidden name (`__tg_arg1`,
//! mixed-site hygiene) for the key to borrow, and the closure destructures it
//! with the original pattern. When some arguments are marked `#[key]`, the
//! markers are taken out of the signature (see `item`), and the helper, the
//! checks, the borrows and the hidden names are those of the marked arguments
//! alone; the others are left as written. Past 12 arguments, the helper's
//! tuple groups them by 12, `&((a0, …, a11,), (a12, …,),)`, as do the process
//! pool's encoding and decoding below (see `tuple`).
//!
//! # Process-pool fns
//!
//! A `process_pool = true` fn runs its body in a worker process, so the call
//! crosses as bytes both ways (see `process_pool`):
//!
//! ```text
//! // Input:
//! #[task_token_guard(weight = "heavy", process_pool = true)]
//! fn heavy(n: u64, (a, b): (u8, u8), data: Vec<u8>) -> u64 { body }
//!
//! // Output:
//! fn heavy(n: u64, __tg_arg1: (u8, u8), data: Vec<u8>) -> ::tokengate::TaskToken<u64> {
//!     enum __Tokengate {}
//!     #[allow(clippy::too_many_arguments)]
//!     impl __Tokengate {
//!         fn encode_args<A0: ?Sized + Serialize, A1: ?Sized + Serialize, A2: ?Sized + Serialize>(
//!             a0: &A0, a1: &A1, a2: &A2, out: &mut Vec<u8>,
//!         ) -> Result<(), String> {
//!             ::tokengate::__private::encode(&(a0, a1, a2,), out)
//!         }
//!         fn decode_args<A0: DeserializeOwned, A1: DeserializeOwned, A2: DeserializeOwned>(
//!             input: &[u8],
//!         ) -> Result<(A0, A1, A2,), String> {
//!             ::tokengate::__private::decode(input)
//!         }
//!     }
//!     ::tokengate::__private::assert_arg::<u64>();            // as above, then
//!     ::tokengate::__private::assert_arg::<(u8, u8)>();
//!     ::tokengate::__private::assert_arg::<Vec<u8>>();
//!     ::tokengate::__private::assert_cross_process::<u64>();  // one per argument, on its type,
//!     ::tokengate::__private::assert_cross_process::<(u8, u8)>();
//!     ::tokengate::__private::assert_cross_process::<Vec<u8>>();
//!     ::tokengate::__private::assert_cross_process::<u64>();  // and for the return type
//!     ::tokengate::__private::assert_return::<u64>();
//!     let __tg_site: &'static ::tokengate::__private::Site = {
//!         static __TOKENGATE_SITE: ::tokengate::__private::Site =
//!             ::tokengate::__private::Site::new("heavy")
//!                 .weight(::tokengate::Weight::Heavy)
//!                 .process_pool();
//!         &__TOKENGATE_SITE
//!     };
//!     let __tg_process_fn: &'static ::tokengate::__private::ProcessFn = {
//!         // The user's fn, patterns and inner attributes included.
//!         fn __tokengate_body(n: u64, (a, b): (u8, u8), data: Vec<u8>) -> u64 { body }
//!         {
//!             #[::tokengate::__private::linkme::distributed_slice(::tokengate::__private::PROCESS_FNS)]
//!             #[linkme(crate = ::tokengate::__private::linkme)]
//!             static __TOKENGATE_PROCESS_FN: ::tokengate::__private::ProcessFn =
//!                 ::tokengate::__private::ProcessFn::new(
//!                     "heavy",
//!                     ::core::concat!(::core::module_path!(), "::", "heavy"),
//!                     |__tg_input: &[u8], __tg_output: &mut Vec<u8>| -> Result<(), String> {
//!                         // the `assert_cross_process` checks again, for this body
//!                         let (__tg_arg0, __tg_arg1, __tg_arg2,) =
//!                             __Tokengate::decode_args::<u64, (u8, u8), ByteBuf>(__tg_input)?;
//!                         let __tg_value =
//!                             __tokengate_body(__tg_arg0, __tg_arg1, ByteBuf::into_vec(__tg_arg2));
//!                         ::tokengate::__private::encode::<u64>(&__tg_value, __tg_output)
//!                     },
//!                 );
//!             &__TOKENGATE_PROCESS_FN
//!         }
//!     };
//!     ::tokengate::__private::submit_process::<u64, _>(
//!         __tg_site,
//!         ::core::option::Option::None,     // `Some(key)` for a sticky fn, as above
//!         __tg_process_fn,
//!         move |__tg_out: &mut Vec<u8>| {
//!             __Tokengate::encode_args::<u64, (u8, u8), Bytes>(
//!                 &n, &__tg_arg1, Bytes::new(&data), __tg_out,
//!             )
//!         },
//!         |__tg_bytes: &[u8]| ::tokengate::__private::decode::<u64>(__tg_bytes),
//!     )
//! }
//! ```
//!
//! (`Serialize`, `DeserializeOwned`, `Bytes` and `ByteBuf` are the re-exports
//! in `::tokengate::__private`; `Vec`, `Result`, `String` and `u8` are written
//! as absolute paths.) A `Vec<u8>`, as written, crosses as `Bytes` out and
//! `ByteBuf` in; a `Vec<u8>` return value is encoded as `Bytes::new(&value)`
//! and decoded as `decode::<ByteBuf>(bytes).map(ByteBuf::into_vec)`. Every
//! argument bound by a pattern gets a hidden name, as for a sticky key, but the
//! pattern binds in `__tokengate_body`, so nothing is destructured here; `mut`
//! stays there too. The helpers take one type parameter per argument so that
//! an argument type without serde is reported once, on the type. A sticky
//! process-pool fn's key helper joins `encode_args` and `decode_args` in the
//! one `impl __Tokengate`.
//!
//! A `remote` fn expands the same way, with three differences: its checks are
//! `assert_remote_value` (whose message names worker hosts and `remote`); its
//! registration says how a worker host runs it,
//! `ProcessFn::new(…).remote(::tokengate::Weight::Heavy, false, 0u64)` (its
//! weight, whether `process_pool = true` isolates it there, and its
//! `memory_limit` in bytes, 0 for none), followed, for a remote lead, by
//! `.lead(&["child_op"])` (its `external_calls`: the host runs it as a lead
//! of those ops); and it submits through
//! `submit_remote` (`submit_remote_retry_err` under `retry_on = ["err"]`),
//! with the same arguments as `submit_process`. Its site has `.remote("pool")`
//! (`"default"` for `remote = true`).
//!
//! # Checks and errors
//!
//! The checks are statements in the fn body, not `const _` items, so that the
//! fn's generics and `Self` are in scope. They are spanned on the type they check,
//! so that a type that is not `Send + 'static` (or that the key cannot
//! fingerprint) is reported there. The return type is named again in
//! `submit::<bool, _>` for the same reason (see `submitting_fn`), and the key's
//! borrows are spanned on the argument types (see `domain_key`).
//!
//! When the signature itself is refused (see `validate.rs`), the output is the
//! same signature, less `async`/`const`/`extern`, with the token return type
//! and a body that never runs (`unreachable!()` instead where the return type
//! borrows, which `rejected` cannot produce), followed by the errors. Nothing
//! in that body can give an `impl Trait` a hidden type, so each `impl Trait` in
//! the token's value type becomes `()`; a refused `!` becomes `Infallible`
//! (see `stand_in_type`):
//!
//! ```text
//! #[allow(unused_variables, unused_mut)]
//! pub fn prime_operation(n: u64) -> ::tokengate::TaskToken<bool> {
//!     ::tokengate::__private::rejected()
//! }
//! ::core::compile_error! { "..." }
//! ```

use proc_macro2::{Delimiter, Group, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::visit::Visit;
use syn::visit_mut::{self, VisitMut};
use syn::{
    FnArg, Ident, LitStr, Pat, PatIdent, PatType, ReturnType, Signature, Type, TypeImplTrait, token,
};

use self::process_pool::ProcessCall;
use crate::args::{self, ATTRIBUTE, Choice as _, GuardArgs, HashPolicy};
use crate::errors::Errors;
use crate::item::GuardedFn;
use crate::runtime_path::RuntimePath;
use crate::validate::{self, Crossing};

/// Expands `#[task_token_guard(args)] item`.
pub(crate) fn guard(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let mut args = GuardArgs::parse(args, &mut errors);

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

    if errors.ok(validate::retry_err(&func.sig, &args)).is_none() {
        args.drop_retry_err();
    }
    let rewritten = match validate::signature(&func.sig, crossing(&args), args.retried()) {
        Ok(()) => submitting_fn(&func, &args),
        Err(error) => {
            errors.push(error);
            rejected_fn(&func, &args.runtime())
        }
    };
    errors.ok(validate::key_markers(&func.key_markers, &args));
    let errors = errors.to_compile_error();
    quote!(#rewritten #errors)
}

/// Where the fn's calls go when they leave this process, if they do.
fn crossing(args: &GuardArgs) -> Option<Crossing> {
    if args.remote.is_some() {
        Some(Crossing::Remote)
    } else if args.process_pool {
        Some(Crossing::ProcessPool)
    } else {
        None
    }
}

/// The fn that submits its body to a worker and returns the token.
fn submitting_fn(func: &GuardedFn, args: &GuardArgs) -> TokenStream {
    let GuardedFn {
        attrs,
        vis,
        sig,
        key_markers: _,
        inner_attrs,
        brace,
        body,
    } = func;

    let runtime = args.runtime();
    let return_type = return_type(&sig.output);
    let arg_checks = sig.inputs.iter().filter_map(|arg| arg_check(arg, &runtime));
    // An `impl Trait` return type cannot be named in a turbofish or on a closure:
    // it gets no check, and the closure's return type is inferred from the body.
    // Otherwise, naming it in `submit::<R, _>` too puts `submit`'s own
    // `R: Send + 'static` bound on the same tokens as `assert_return`, so rustc
    // reports only the clearer error of the two rather than a second one on the
    // attribute.
    let (return_check, submit_generics, closure_output) = if contains_impl_trait(&return_type) {
        (None, None, None)
    } else {
        let span = return_type.span();
        let runtime = runtime.at(span);
        (
            Some(quote_spanned! {span=>
                #runtime::__private::assert_return::<#return_type>();
            }),
            Some(quote!(::<#return_type, _>)),
            Some(quote!(-> #return_type)),
        )
    };
    let op = op(args, sig);
    let site = site(args, &op, &runtime);

    // A process-pool fn encodes its arguments by name, and a sticky fn's key
    // borrows them by name: either may rename some.
    let mut sig = sig.clone();
    // A retried thread fn moves its arguments into a tuple it copies per
    // attempt: by name, as a process-pool fn encodes them.
    let crossing = crossing(args);
    let retried = args.retried() && crossing.is_none();
    if crossing.is_some() || retried {
        process_pool::plain_names(&mut sig);
    }
    let key = args
        .key_policy()
        .and_then(|policy| domain_key(policy, &func.key_arguments(), &mut sig, &runtime));
    let is_err = args.retry_err().map(|_| is_err(&return_type));
    // A thread fn without retries never needs its `Err` test.
    let submit_fn = match &key {
        Some(_) => quote!(submit_keyed),
        None => quote!(submit),
    };
    let DomainKey {
        helpers: key_helpers,
        checks: key_checks,
        expr: key_expr,
        unpack,
    } = key.unwrap_or_default();

    let site_ref = site_ref();
    let (process_checks, process_helpers, process_entry, submit) = if let Some(crossing) = crossing
    {
        let remote = (crossing == Crossing::Remote).then(|| process_pool::Remote {
            weight: args.weight.map_or_else(
                || quote!(#runtime::Weight::Medium),
                |weight| weight.path(&runtime),
            ),
            isolated: args.process_pool,
            memory_limit: args.memory_limit.filter(|_| args.process_pool).unwrap_or(0),
            lead: args.external_calls.clone(),
        });
        let ProcessCall {
            checks,
            helpers,
            entry,
            submit,
        } = process_pool::process_call(
            func,
            &sig,
            &op,
            &return_type,
            key_expr,
            is_err,
            remote,
            &runtime,
        );
        (Some(checks), Some(helpers), Some(entry), submit)
    } else if retried {
        let generics = submit_generics
            .as_ref()
            .map(|_| quote!(::<#return_type, _, _>));
        retried_call(
            func,
            &sig,
            key_expr,
            is_err,
            generics,
            &closure_output,
            &runtime,
        )
    } else {
        let key_arg = key_expr.map(|key| quote!(#key,));
        let closure_body = braced(brace, quote!(#(#unpack)* #body));
        let submit = quote! {
            #runtime::__private::#submit_fn #submit_generics (
                #site_ref,
                #key_arg
                move || #closure_output #closure_body,
            )
        };
        (None, None, None, submit)
    };
    let helpers = helpers(quote!(#key_helpers #process_helpers));
    let sig = token_signature(&sig, &return_type, &runtime);

    let fn_body = braced(
        brace,
        quote! {
            #(#inner_attrs)*
            #helpers
            #(#arg_checks)*
            // Before the key's checks: a type without serde then gets the
            // process pool's error, which says all it needs, rather than both.
            #process_checks
            #(#key_checks)*
            #return_check
            let #site_ref: &'static #runtime::__private::Site = {
                static __TOKENGATE_SITE: #runtime::__private::Site = #site;
                &__TOKENGATE_SITE
            };
            #process_entry
            #submit
        },
    );
    quote! {
        #(#attrs)*
        #vis #sig #fn_body
    }
}

/// The submission of a thread fn with `retries`: its arguments (by their
/// plain names in `outer`) move into a tuple the runtime copies for each
/// attempt, and a closure that binds them with the fn's own patterns runs the
/// body, as many times as there are attempts. Returns the checks that each
/// argument is `Clone` (spanned on its type) with the `submit_retrying` call.
fn retried_call(
    func: &GuardedFn,
    outer: &Signature,
    key: Option<TokenStream>,
    is_err: Option<TokenStream>,
    generics: Option<TokenStream>,
    closure_output: &Option<TokenStream>,
    runtime: &RuntimePath,
) -> (
    Option<TokenStream>,
    Option<TokenStream>,
    Option<TokenStream>,
    TokenStream,
) {
    let names: Vec<&Ident> = outer
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(arg) => match &*arg.pat {
                Pat::Ident(binding) => Some(&binding.ident),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect();
    let patterns: Vec<&Pat> = func
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(arg) => Some(&*arg.pat),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let checks = func.sig.inputs.iter().filter_map(|input| {
        let (ty, span) = arg_type(input)?;
        let runtime = runtime.at(span);
        Some(quote_spanned! {span=> #runtime::__private::assert_retry_arg::<#ty>(); })
    });
    // The copy goes through a generic fn with one `Clone` parameter per
    // argument, named in a turbofish: an argument type that is not `Clone` is
    // then reported on the type, once (see `expand::process_pool` on errors).
    let types: Vec<TokenStream> = func
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(arg) if contains_impl_trait(&arg.ty) => Some(quote!(_)),
            FnArg::Typed(arg) => Some(arg.ty.to_token_stream()),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let (params, refs) = clone_params(types.len());
    let helper = if params.is_empty() {
        // No arguments: nothing to copy (and no `-> ()` for lints to flag).
        quote! { fn clone_args(_args: &()) {} }
    } else {
        let pattern = tuple(&refs);
        let copies: Vec<TokenStream> = refs
            .iter()
            .map(|name| quote!(::core::clone::Clone::clone(#name)))
            .collect();
        let shape = tuple(&params);
        let copy = tuple(&copies);
        quote! {
            fn clone_args<#(#params: ::core::clone::Clone),*>(args: &#shape) -> #shape {
                let #pattern = args;
                #copy
            }
        }
    };
    let clone = quote!(__Tokengate::clone_args::<#(#types),*>);
    let key = option(key);
    let is_err = match is_err {
        Some(is_err) => quote!(::core::option::Option::Some(#is_err)),
        None => quote!(::core::option::Option::None),
    };
    let site = site_ref();
    let args = tuple(&names);
    let params_tuple = tuple(&patterns);
    let body = braced(&func.brace, func.body.clone());
    let submit = quote! {
        #runtime::__private::submit_retrying #generics (
            #site,
            #key,
            #is_err,
            #args,
            #clone,
            |#params_tuple| #closure_output #body,
        )
    };
    (Some(quote!(#(#checks)*)), Some(helper), None, submit)
}

/// `A0, A1, …` and `a0, a1, …`: a retried fn's argument types and the
/// references its `clone_args` helper binds.
fn clone_params(count: usize) -> (Vec<Ident>, Vec<Ident>) {
    (0..count)
        .map(|i| (format_ident!("A{}", i), format_ident!("a{}", i)))
        .unzip()
}

/// `Some(key)` or `None`, as `submit_retry_err` and `submit_process` take a
/// key.
fn option(key: Option<TokenStream>) -> TokenStream {
    match key {
        Some(key) => quote!(::core::option::Option::Some(#key)),
        None => quote!(::core::option::Option::None),
    }
}

/// The predicate that tells the runtime whether a value of the fn is an
/// `Err`, for `retry_on = ["err"]`: `|v: &R| Result::is_err(v)` for the
/// return type `R`, which `validate` found written as a `Result`. It is
/// spanned on the return type, so that a type named `Result` that is not
/// `std::result::Result` is reported there. An `R` with `impl Trait` in it
/// cannot be named: the parameter's type is then inferred.
fn is_err(return_type: &Type) -> TokenStream {
    let span = return_type.span();
    // Hygienic, but where the return type is: the argument rustc would refuse.
    let value = Ident::new("__tg_value", Span::mixed_site().located_at(span));
    let param = if contains_impl_trait(return_type) {
        quote!(#value)
    } else {
        quote_spanned!(span=> #value: &#return_type)
    };
    quote_spanned! {span=>
        |#param| ::core::result::Result::is_err(#value)
    }
}

/// The local that holds the fn's `&'static Site`: `__tg_site`, with
/// mixed-site hygiene, so that the body cannot see it nor an argument of that
/// name hide it.
///
/// The `static` itself is declared in a block of its own, where only the
/// expansion's code can see it: a `static` in the fn's body would be in scope
/// in the whole body, where an argument of its name could not bind (a pattern
/// cannot shadow a `static`), and the body would see it.
fn site_ref() -> Ident {
    Ident::new("__tg_site", Span::mixed_site())
}

/// `enum __Tokengate {}` and an `impl` of it with `fns`, the helpers that
/// take the arguments one parameter each (see `domain_key`); nothing if there
/// are none.
///
/// A fn declared in the rewritten fn's body would be in scope in the whole
/// body, including the closure with the user's code and the key's borrows of
/// the arguments, and an item in a block hides an argument of the same name
/// (mixed-site hygiene changes that for local variables, not for items). An
/// associated fn has no name in scope of its own, and the uninhabited type's
/// name lives among types, where no argument can be hidden by it.
fn helpers(fns: TokenStream) -> TokenStream {
    if fns.is_empty() {
        return fns;
    }
    // A helper takes one parameter per argument plus one of its own, so a fn
    // with 7 arguments, itself within clippy's limit, would trip it here.
    quote! {
        enum __Tokengate {}
        #[allow(clippy::too_many_arguments)]
        impl __Tokengate {
            #fns
        }
    }
}

/// The fn emitted in place of one whose signature was refused: same name and
/// parameters, token return type (of [`stand_in_type`]), a body that never
/// runs. Callers keep type-checking while the error is reported.
fn rejected_fn(func: &GuardedFn, runtime: &RuntimePath) -> TokenStream {
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
    let return_type = stand_in_type(return_type(&sig.output));
    let sig = token_signature(&sig, &return_type, runtime);
    let stand_in = if validate::borrows(&return_type) {
        // `rejected` needs a `'static` value type; a borrowing one would add a
        // lifetime error to the one already reported. The body never runs: the
        // crate does not build.
        quote!(::core::unreachable!("rejected by #[task_token_guard]"))
    } else {
        quote!(#runtime::__private::rejected())
    };
    let fn_body = braced(brace, stand_in);
    quote! {
        #(#attrs)*
        #[allow(unused_variables, unused_mut)]
        #vis #sig #fn_body
    }
}

/// The value type of a stand-in fn whose return type is `ty`: `ty` itself,
/// but that `!`, refused and unstable in a `TaskToken<!>`, becomes
/// `Infallible`, which has no values either, and that each `impl Trait`
/// becomes `()`. A body that never runs gives an `impl Trait` no hidden type,
/// and rustc would report "type annotations needed" on it after the error
/// that refused the fn.
fn stand_in_type(mut ty: Type) -> Type {
    /// Replaces every `impl Trait` with `()`.
    struct Unit;

    impl VisitMut for Unit {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(impl_trait) = ty {
                *ty = syn::parse_quote_spanned!(impl_trait.span()=> ());
            } else {
                visit_mut::visit_type_mut(self, ty);
            }
        }
    }

    if let Some(never) = validate::never_type(&ty) {
        return syn::parse_quote_spanned!(never.span()=> ::core::convert::Infallible);
    }
    Unit.visit_type_mut(&mut ty);
    ty
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
fn token_signature(sig: &Signature, return_type: &Type, runtime: &RuntimePath) -> Signature {
    let mut sig = sig.clone();
    let span = match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    };
    let runtime = runtime.at(span);
    let token = quote_spanned!(span=> #runtime::TaskToken<#return_type>);
    sig.output = ReturnType::Type(syn::Token![->](span), Box::new(Type::Verbatim(token)));
    sig
}

/// The check that one argument can move to a worker, spanned on its type.
fn arg_check(arg: &FnArg, runtime: &RuntimePath) -> Option<TokenStream> {
    let (ty, span) = arg_type(arg)?;
    let runtime = runtime.at(span);
    Some(quote_spanned! {span=>
        #runtime::__private::assert_arg::<#ty>();
    })
}

/// The type of an argument, to name in a check, and the span to report it at;
/// `None` when it contains `impl Trait`, which cannot be named.
fn arg_type(arg: &FnArg) -> Option<(TokenStream, Span)> {
    match arg {
        FnArg::Receiver(receiver) if receiver.colon_token.is_some() => {
            Some((receiver.ty.to_token_stream(), receiver.ty.span()))
        }
        // `self` and `mut self`: syn's implied `Self` type has no span of its own.
        FnArg::Receiver(receiver) => Some((quote!(Self), receiver.self_token.span)),
        FnArg::Typed(arg) if contains_impl_trait(&arg.ty) => None,
        FnArg::Typed(arg) => Some((arg.ty.to_token_stream(), arg.ty.span())),
    }
}

/// The op name: `op = "…"`, else the fn's name.
fn op(args: &GuardArgs, sig: &Signature) -> LitStr {
    args.op
        .clone()
        .unwrap_or_else(|| args::default_op(&sig.ident))
}

/// The `Site` of the fn: `Site::new(op)`, then one setter per key that was given.
fn site(args: &GuardArgs, op: &LitStr, runtime: &RuntimePath) -> TokenStream {
    let mut site = quote!(#runtime::__private::Site::new(#op));
    if let Some(weight) = args.weight {
        let weight = weight.path(runtime);
        site.extend(quote!(.weight(#weight)));
    }
    if let Some(nanos) = args.timeout_nanos {
        site.extend(quote!(.timeout_nanos(#nanos)));
    }
    if let Some(speed) = args.storage_speed {
        let speed = speed.path(runtime);
        site.extend(quote!(.storage_speed(#speed)));
    }
    if let Some(anchor) = &args.sticky_anchor {
        site.extend(quote!(.sticky_anchor(#anchor)));
    }
    if let Some(calls) = &args.external_calls {
        site.extend(quote!(.external_calls(&[#(#calls),*])));
    }
    if let Some(policy) = args.hash_policy {
        let policy = policy.path(runtime);
        site.extend(quote!(.hash_policy(#policy)));
    }
    if let Some(policy) = args.digest_policy {
        let policy = policy.path(runtime);
        site.extend(quote!(.digest_policy(#policy)));
    }
    if args.process_pool {
        site.extend(quote!(.process_pool()));
    }
    if let Some(name) = &args.limit {
        site.extend(quote!(.limit(#name)));
    }
    if let Some(nanos) = args.queue_timeout_nanos {
        site.extend(quote!(.queue_timeout_nanos(#nanos)));
    }
    if let Some(retries) = args.retries {
        site.extend(quote!(.retries(#retries)));
    }
    if let Some(nanos) = args.retry_backoff_nanos {
        site.extend(quote!(.retry_backoff_nanos(#nanos)));
    }
    // Empty only when its one cause, `"err"`, was refused: the default applies.
    if let Some(causes) = args.retry_on.as_ref().filter(|causes| !causes.is_empty()) {
        let bits = causes.iter().map(|(cause, _)| cause.path(runtime));
        site.extend(quote!(.retry_on(#(#bits)|*)));
    }
    if let Some(bytes) = args.memory_limit.filter(|_| args.process_pool) {
        site.extend(quote!(.memory_limit(#bytes)));
    }
    if let Some(pool) = &args.remote {
        site.extend(quote!(.remote(#pool)));
    }
    site
}

/// How a call's key (a sticky call's domain key, or a keyed lead's seed) is
/// computed from its borrowed arguments, before they move into the closure.
/// The default is no key at all.
#[derive(Default)]
struct DomainKey {
    /// The helper the key is computed by, an associated fn of `__Tokengate`
    /// (see [`helpers`]): `fn fast_key` or `fn stable_key`.
    helpers: TokenStream,
    /// One `assert_hash_key`/`assert_stable_key` per key argument, on its type.
    checks: Vec<TokenStream>,
    /// The `RouteKey`: `__Tokengate::fast_key(&a, &b)` or
    /// `__Tokengate::stable_key(__tg_site, &a, &b)`.
    expr: Option<TokenStream>,
    /// `let <pattern> = __tg_argN;`, at the top of the closure, for each
    /// argument whose pattern was replaced by a plain binding.
    unpack: Vec<TokenStream>,
}

/// The key of a sticky fn, or a lead, under `policy`, or `None` when it has no
/// key beyond its anchor (or a lead's call list): `hash_policy = "none"`, or
/// no arguments.
///
/// The key arguments are those at the positions in `marked` (the arguments
/// marked `#[key]`), or every argument when `marked` is empty; only they are
/// checked against the policy. The key borrows each of them by name, so a key
/// argument bound by any other pattern (`(a, b): (u32, u32)`, `_: u8`) is
/// bound to a generated name in `sig` instead, and the closure destructures
/// that binding with the original pattern. The name has mixed-site hygiene, so
/// the body cannot see it.
///
/// Each borrow `&a` is spanned on the argument's type, like its check. An
/// argument that cannot be fingerprinted then fails the key computation's own
/// bound at the same place, for the same reason, and rustc reports the check's
/// clearer error alone. For that, the failing bound must be traced to one
/// argument: rustc does so for separate call arguments, not for the elements of
/// the `&(..)` that `fast_key` and `stable_key` take. Hence a helper (an
/// associated fn of `__Tokengate`, see [`helpers`]) that takes each argument
/// separately, with its own bound (`Hash`, or `Serialize` as re-exported by
/// `__private`, since the user's crate need not depend on serde), and passes
/// the tuple on.
fn domain_key(
    policy: HashPolicy,
    marked: &[usize],
    sig: &mut Signature,
    runtime: &RuntimePath,
) -> Option<DomainKey> {
    let assert = match policy {
        HashPolicy::None => return None,
        HashPolicy::Fast => quote!(assert_hash_key),
        HashPolicy::Standard | HashPolicy::Full => quote!(assert_stable_key),
    };
    if sig.inputs.is_empty() {
        return None;
    }

    let mut refs = Vec::new();
    let mut checks = Vec::new();
    let mut unpack = Vec::new();
    for (index, input) in sig.inputs.iter_mut().enumerate() {
        if !marked.is_empty() && !marked.contains(&index) {
            continue;
        }
        if let Some((ty, span)) = arg_type(input) {
            let runtime = runtime.at(span);
            checks.push(quote_spanned! {span=>
                #runtime::__private::#assert::<#ty>();
            });
        }
        let (first, last) = type_bounds(input);
        let binding = match input {
            FnArg::Receiver(receiver) => Ident::new("self", receiver.self_token.span),
            FnArg::Typed(arg) => {
                let (name, pat) = plain_binding(index, arg);
                // `_` binds nothing: the value stays in the caller's frame, as
                // it does without a key.
                if let Some(pat) = pat.filter(|pat| !matches!(pat, Pat::Wild(_))) {
                    unpack.push(quote!(let #pat = #name;));
                }
                name
            }
        };
        // `&name`, spanned from the type's first token to its last (keeping the
        // name's hygiene), which is the span rustc gives the type in the check.
        let mut binding = binding;
        binding.set_span(binding.span().located_at(last));
        refs.push((quote_spanned!(first=> &#binding), (first, last)));
    }

    // The key goes through a small generic fn whose parameters carry the
    // policy's bound: then an argument type that lacks it is reported once, on
    // the type (by the check above), not a second time on the attribute, which
    // is where rustc would put an unmet bound inside `&(&a, &b, ..)`.
    let params: Vec<_> = (0..refs.len()).map(|i| format_ident!("A{}", i)).collect();
    let names: Vec<_> = (0..refs.len()).map(|i| format_ident!("a{}", i)).collect();
    let arg_refs: Vec<_> = refs.iter().map(|(tokens, _)| tokens).collect();
    let args = tuple(&names);
    let (helpers, expr) = if policy == HashPolicy::Fast {
        let helpers = quote! {
            fn fast_key<
                #(#params: ?::core::marker::Sized + ::core::hash::Hash),*
            >(#(#names: &#params),*) -> #runtime::__private::RouteKey {
                #runtime::__private::fast_key(&#args)
            }
        };
        (helpers, quote!(__Tokengate::fast_key(#(#arg_refs),*)))
    } else {
        let helpers = quote! {
            fn stable_key<
                #(#params: ?::core::marker::Sized + #runtime::__private::Serialize),*
            >(
                site: &'static #runtime::__private::Site,
                #(#names: &#params),*
            ) -> #runtime::__private::RouteKey {
                #runtime::__private::stable_key(site, &#args)
            }
        };
        let site = site_ref();
        (
            helpers,
            quote!(__Tokengate::stable_key(#site, #(#arg_refs),*)),
        )
    };
    Some(DomainKey {
        helpers,
        checks,
        expr: Some(expr),
        unpack,
    })
}

/// The most elements the expansion puts in one tuple: the standard library
/// implements `Hash` for tuples of up to 12 elements (serde its traits for up
/// to 16).
const TUPLE_MAX: usize = 12;

/// `(e0, e1, …,)`: the tuple of `elems`, as a key or the process pool's
/// encoding takes a fn's arguments. More elements than [`TUPLE_MAX`] are
/// grouped, in order, into tuples of that many (the last one shorter), and
/// those groups into a tuple again, nested as deep as it takes:
/// `((e0, …, e11,), (e12, …,),)`. A tuple hashes as its elements in order,
/// and the canonical encoding of stable keys writes it so too, so the grouping
/// changes no key: it only keeps each tuple within the traits' reach. (The
/// process pool decodes with the same grouping it encodes with.)
fn tuple<T: ToTokens>(elems: &[T]) -> TokenStream {
    if elems.len() <= TUPLE_MAX {
        return quote!((#(#elems,)*));
    }
    let groups: Vec<TokenStream> = elems.chunks(TUPLE_MAX).map(tuple).collect();
    tuple(&groups)
}

/// The name generated code can refer to argument `arg`, at `index`, by: its
/// own name when its pattern is a plain name (`n`, `mut n`), else a hidden
/// `__tg_argN` (mixed-site hygiene, so the body cannot see it) that replaces
/// the pattern in `arg`. The replaced pattern is returned with the name.
fn plain_binding(index: usize, arg: &mut PatType) -> (Ident, Option<Pat>) {
    if let Pat::Ident(PatIdent {
        by_ref: None,
        subpat: None,
        ident,
        ..
    }) = &*arg.pat
    {
        return (ident.clone(), None);
    }
    let name = format_ident!("__tg_arg{}", index, span = Span::mixed_site());
    let plain = Pat::Ident(PatIdent {
        attrs: Vec::new(),
        by_ref: None,
        mutability: None,
        ident: name.clone(),
        subpat: None,
    });
    let pat = std::mem::replace(&mut *arg.pat, plain);
    (name, Some(pat))
}

/// The spans of the first and last tokens of an argument's type (of `self`
/// when the type is implied). A node written from one to the other gets the
/// type's whole span, as the type itself does.
fn type_bounds(arg: &FnArg) -> (Span, Span) {
    let tokens = match arg {
        FnArg::Receiver(receiver) if receiver.colon_token.is_some() => {
            receiver.ty.to_token_stream()
        }
        FnArg::Receiver(receiver) => receiver.self_token.to_token_stream(),
        FnArg::Typed(arg) => arg.ty.to_token_stream(),
    };
    let mut spans = tokens.into_iter().map(|token| token.span());
    let first = spans.next().unwrap_or_else(Span::call_site);
    (first, spans.last().unwrap_or(first))
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

mod process_pool;

#[cfg(test)]
mod tests;
