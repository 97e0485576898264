//! The expansion of a `process_pool = true` fn, whose body runs in a worker
//! process: the call is data on both sides (the module doc of `expand.rs`
//! shows the whole output).
//!
//! The body becomes a fn of its own, `__tokengate_body`, with the user's
//! signature and patterns, so that a worker process can run it from a plain fn
//! pointer. `__TOKENGATE_PROCESS_FN` adds that pointer's wrapper, which decodes
//! the arguments, calls the body and encodes its value, to `PROCESS_FNS` under
//! the op name, where a worker process looks calls up. Both are declared in a
//! block whose value, the `&'static ProcessFn`, the guarded fn keeps in a
//! mixed-site local, `__tg_process_fn` (see "Names" in `expand.rs`). The
//! guarded fn itself only encodes its arguments, by name, and submits.
//!
//! A `Vec<u8>` argument or return value travels as `serde_bytes` (`Bytes` out,
//! `ByteBuf` in): one length-prefixed block instead of one serde call per byte.
//! Only the type as written counts: `Vec<u8>` or a path ending in it, not an
//! alias, which travels as a sequence like any other type.
//!
//! # Errors on the type
//!
//! A type without serde is reported by `assert_cross_process`, on the type
//! (once for each of `Serialize` and `Deserialize` that it lacks). Each other
//! place that needs serde of that type names the type in a
//! turbofish: rustc then puts that error on the type too, sees that the
//! check's error covers it, and drops it. That is why the arguments cross
//! through two small generic fns with one parameter per argument,
//! `__Tokengate::encode_args::<A0, A1>` and `__Tokengate::decode_args::<A0, A1>`,
//! rather than as one tuple, whose error rustc would put on the attribute. The
//! worker-side wrapper is a body of its own (a static's initializer), so it
//! repeats the checks; rustc prints the identical errors once.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens as _, format_ident, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::spanned::Spanned as _;
use syn::{FnArg, GenericArgument, Ident, LitStr, Pat, PathArguments, Signature, Type};

use super::{braced, plain_binding, tuple};
use crate::item::GuardedFn;
use crate::runtime_path::RuntimePath;

/// What a `remote` fn adds to its registration: how a worker host runs it.
pub(super) struct Remote {
    /// The fn's weight (`Weight::Medium` when not given), as a path.
    pub(super) weight: TokenStream,
    /// `process_pool = true` as well: the host runs it in its process pool.
    pub(super) isolated: bool,
    /// Its `memory_limit` there, in bytes; 0 for none.
    pub(super) memory_limit: u64,
    /// Its `external_calls`: the host runs it as a lead of these ops.
    pub(super) lead: Option<Vec<LitStr>>,
}

/// What a process-pool fn adds to the guarded fn's body.
pub(super) struct ProcessCall {
    /// One `assert_cross_process` per argument type and for the return type,
    /// each spanned on its type.
    pub(super) checks: TokenStream,
    /// `fn encode_args` and `fn decode_args`, helpers for `__Tokengate`'s
    /// impl (see `expand::helpers`).
    pub(super) helpers: TokenStream,
    /// `let __tg_process_fn = { fn __tokengate_body …; { static
    /// __TOKENGATE_PROCESS_FN …; &__TOKENGATE_PROCESS_FN } };`: the body, and
    /// the registered fn that runs it.
    pub(super) entry: TokenStream,
    /// `submit_process(…)`, the fn's value.
    pub(super) submit: TokenStream,
}

/// The process-pool parts of the guarded fn `func`, registered under `op`.
///
/// `outer` is the guarded fn's signature once [`plain_names`] has run, whose
/// arguments the caller's side encodes by name; `key` is the sticky domain
/// key, computed from those names, if the fn has one; `is_err` is the
/// predicate of `retry_on = ["err"]`, if the fn has it (see
/// `expand::is_err`). A `remote` fn (`remote` given) is registered and
/// submitted as such; its calls travel the same way. Every runtime item is
/// named from `runtime`.
#[allow(clippy::too_many_arguments)]
pub(super) fn process_call(
    func: &GuardedFn,
    outer: &Signature,
    op: &LitStr,
    return_type: &Type,
    key: Option<TokenStream>,
    is_err: Option<TokenStream>,
    remote: Option<Remote>,
    runtime: &RuntimePath,
) -> ProcessCall {
    let args: Vec<Arg> = outer.inputs.iter().filter_map(Arg::new).collect();
    let value = Wire::of(return_type);

    let check = if remote.is_some() {
        "assert_remote_value"
    } else {
        "assert_cross_process"
    };
    let mut checks: Vec<TokenStream> = args
        .iter()
        .map(|arg| cross_process_check(&arg.ty, check, runtime))
        .collect();
    checks.push(cross_process_check(return_type, check, runtime));
    let checks = quote!(#(#checks)*);

    let helpers = [
        encode_args_fn(args.len(), runtime),
        decode_args_fn(args.len(), runtime),
    ];
    let registration = remote.as_ref().map(|remote| {
        let Remote {
            weight,
            isolated,
            memory_limit,
            lead,
        } = remote;
        let lead = lead.as_ref().map(|calls| quote!(.lead(&[#(#calls),*])));
        quote!(.remote(#weight, #isolated, #memory_limit) #lead)
    });
    let entry = entry(func, op, &args, &value, &checks, registration, runtime);

    let key = super::option(key);
    let (submit_fn, is_err) = match (is_err, remote.is_some()) {
        (Some(is_err), false) => (quote!(submit_process_retry_err), Some(quote!(#is_err,))),
        (None, false) => (quote!(submit_process), None),
        (Some(is_err), true) => (quote!(submit_remote_retry_err), Some(quote!(#is_err,))),
        (None, true) => (quote!(submit_remote), None),
    };
    let out = Ident::new("__tg_out", Span::mixed_site());
    let bytes = Ident::new("__tg_bytes", Span::mixed_site());
    let wire_types = args.iter().map(|arg| arg.wire.encode_as(runtime));
    let borrowed = args.iter().map(|arg| arg.wire.borrow(&arg.name, runtime));
    let decode_value = value.decode(&bytes, runtime);
    let site = super::site_ref();
    let process_fn = process_fn_ref();
    let submit = quote! {
        #runtime::__private::#submit_fn::<#return_type, _>(
            #site,
            #key,
            #is_err
            #process_fn,
            move |#out: &mut ::std::vec::Vec<::core::primitive::u8>| {
                __Tokengate::encode_args::<#(#wire_types),*>(#(#borrowed,)* #out)
            },
            |#bytes: &[::core::primitive::u8]| #decode_value,
        )
    };

    ProcessCall {
        checks,
        helpers: quote!(#(#helpers)*),
        entry,
        submit,
    }
}

/// The local that holds the fn's `&'static ProcessFn`: `__tg_process_fn`,
/// mixed-site, as `expand::site_ref` is, and for the same reasons.
fn process_fn_ref() -> Ident {
    Ident::new("__tg_process_fn", Span::mixed_site())
}

/// Gives every argument of the guarded fn a plain name, without `mut`, for the
/// encoding closure to capture: a name pattern keeps its name, any other
/// pattern (`(a, b)`, `_`) becomes a hidden `__tg_argN`. The patterns
/// themselves stay in the body fn's signature, where they bind as written.
pub(super) fn plain_names(sig: &mut Signature) {
    for (index, input) in sig.inputs.iter_mut().enumerate() {
        if let FnArg::Typed(arg) = input {
            plain_binding(index, arg);
            if let Pat::Ident(binding) = &mut *arg.pat {
                // The guarded fn only lends the value to the encoder.
                binding.mutability = None;
            }
        }
    }
}

/// `fn __tokengate_body`: the user's fn under a fixed name, returning its own
/// value. Its inner attributes (`#![allow(…)]`) come along, since its code is
/// theirs; they stay on the guarded fn too, which is the fn they were written
/// on.
fn body_fn(func: &GuardedFn) -> TokenStream {
    let GuardedFn {
        sig,
        inner_attrs,
        brace,
        body,
        ..
    } = func;
    let mut sig = sig.clone();
    sig.ident = Ident::new("__tokengate_body", Span::call_site());
    let block = braced(brace, quote!(#(#inner_attrs)* #body));
    quote!(#sig #block)
}

/// `fn encode_args`: encodes `count` borrowed arguments as one tuple (grouped
/// past 12, see `tuple`), each a parameter of its own (see the module doc).
fn encode_args_fn(count: usize, runtime: &RuntimePath) -> TokenStream {
    let (params, names) = helper_params(count);
    let args = tuple(&names);
    quote! {
        fn encode_args<
            #(#params: ?::core::marker::Sized + #runtime::__private::Serialize),*
        >(
            #(#names: &#params,)*
            out: &mut ::std::vec::Vec<::core::primitive::u8>,
        ) -> ::core::result::Result<(), ::std::string::String> {
            #runtime::__private::encode(&#args, out)
        }
    }
}

/// `fn decode_args`: decodes `count` arguments from one tuple, grouped as the
/// encoder groups them, each a parameter of its own (see the module doc).
fn decode_args_fn(count: usize, runtime: &RuntimePath) -> TokenStream {
    let (params, _) = helper_params(count);
    let args = tuple(&params);
    quote! {
        fn decode_args<
            #(#params: #runtime::__private::DeserializeOwned),*
        >(
            input: &[::core::primitive::u8],
        ) -> ::core::result::Result<#args, ::std::string::String> {
            #runtime::__private::decode(input)
        }
    }
}

/// The type parameters `A0, A1, …` and value parameters `a0, a1, …` of a
/// helper that takes `count` arguments.
fn helper_params(count: usize) -> (Vec<Ident>, Vec<Ident>) {
    (0..count)
        .map(|i| (format_ident!("A{}", i), format_ident!("a{}", i)))
        .unzip()
}

/// `let __tg_process_fn = { … };`: the body fn, and in a block of its own,
/// `static __TOKENGATE_PROCESS_FN`, in `PROCESS_FNS`: the fn a worker runs for
/// `op`, which decodes the arguments, runs the body and encodes its value.
///
/// The static is out of the body fn's scope, where an argument of its name
/// could not bind (a pattern cannot shadow a `static`); the body fn is out of
/// the guarded fn's own scope, where it would hide an argument of its name.
fn entry(
    func: &GuardedFn,
    op: &LitStr,
    args: &[Arg],
    value: &Wire,
    checks: &TokenStream,
    registration: Option<TokenStream>,
    runtime: &RuntimePath,
) -> TokenStream {
    let name = LitStr::new(&func.sig.ident.unraw().to_string(), func.sig.ident.span());
    let input = Ident::new("__tg_input", Span::mixed_site());
    let output = Ident::new("__tg_output", Span::mixed_site());
    let result = Ident::new("__tg_value", Span::mixed_site());
    let hidden: Vec<Ident> = (0..args.len())
        .map(|i| format_ident!("__tg_arg{}", i, span = Span::mixed_site()))
        .collect();
    let decoded = tuple(&hidden);
    let wire_types = args.iter().map(|arg| arg.wire.decode_as(runtime));
    let body_args = args
        .iter()
        .zip(&hidden)
        .map(|(arg, name)| arg.wire.unwrap(name, runtime));
    let encode_value = value.encode(&result, &output, runtime);
    let body_fn = body_fn(func);
    let process_fn = process_fn_ref();
    quote! {
        let #process_fn: &'static #runtime::__private::ProcessFn = {
            #body_fn
            {
                #[#runtime::__private::linkme::distributed_slice(#runtime::__private::PROCESS_FNS)]
                #[linkme(crate = #runtime::__private::linkme)]
                static __TOKENGATE_PROCESS_FN: #runtime::__private::ProcessFn =
                    #runtime::__private::ProcessFn::new(
                        #op,
                        ::core::concat!(::core::module_path!(), "::", #name),
                        |#input: &[::core::primitive::u8],
                         #output: &mut ::std::vec::Vec<::core::primitive::u8>|
                         -> ::core::result::Result<(), ::std::string::String> {
                            #checks
                            let #decoded =
                                __Tokengate::decode_args::<#(#wire_types),*>(#input)?;
                            let #result = __tokengate_body(#(#body_args),*);
                            #encode_value
                        },
                    )#registration;
                &__TOKENGATE_PROCESS_FN
            }
        };
    }
}

/// One argument of a process-pool fn.
struct Arg {
    /// Its plain name in the guarded fn (see [`plain_names`]).
    name: Ident,
    /// Its type as written.
    ty: Type,
    /// How it travels.
    wire: Wire,
}

impl Arg {
    /// The argument `input`; `None` for a receiver, which a process-pool fn
    /// cannot have (`validate` refuses it).
    fn new(input: &FnArg) -> Option<Arg> {
        let FnArg::Typed(arg) = input else {
            return None;
        };
        // `plain_names` has run, so the pattern is a name.
        let Pat::Ident(binding) = &*arg.pat else {
            return None;
        };
        Some(Arg {
            name: binding.ident.clone(),
            ty: (*arg.ty).clone(),
            wire: Wire::of(&arg.ty),
        })
    }
}

/// How one value crosses between processes.
enum Wire {
    /// As itself, through serde: its type, as written.
    Serde(Box<Type>),
    /// A `Vec<u8>`, as one block of bytes.
    Bytes,
}

impl Wire {
    /// How a value of type `ty` travels.
    fn of(ty: &Type) -> Wire {
        if is_byte_vec(ty) {
            Wire::Bytes
        } else {
            Wire::Serde(Box::new(ty.clone()))
        }
    }

    /// The type the caller encodes: the type itself, or `Bytes`.
    fn encode_as(&self, runtime: &RuntimePath) -> TokenStream {
        match self {
            Wire::Serde(ty) => ty.to_token_stream(),
            Wire::Bytes => quote!(#runtime::__private::Bytes),
        }
    }

    /// The type the worker decodes: the type itself, or `ByteBuf`.
    fn decode_as(&self, runtime: &RuntimePath) -> TokenStream {
        match self {
            Wire::Serde(ty) => ty.to_token_stream(),
            Wire::Bytes => quote!(#runtime::__private::ByteBuf),
        }
    }

    /// The value `name` borrowed as [`encode_as`](Self::encode_as).
    fn borrow(&self, name: &Ident, runtime: &RuntimePath) -> TokenStream {
        match self {
            Wire::Serde(_) => quote!(&#name),
            Wire::Bytes => quote!(#runtime::__private::Bytes::new(&#name)),
        }
    }

    /// The decoded value `name` as the body takes it.
    fn unwrap(&self, name: &Ident, runtime: &RuntimePath) -> TokenStream {
        match self {
            Wire::Serde(_) => name.to_token_stream(),
            Wire::Bytes => quote!(#runtime::__private::ByteBuf::into_vec(#name)),
        }
    }

    /// Encoding the body's value `value` onto `output`, as the worker returns.
    fn encode(&self, value: &Ident, output: &Ident, runtime: &RuntimePath) -> TokenStream {
        match self {
            Wire::Serde(ty) => quote!(#runtime::__private::encode::<#ty>(&#value, #output)),
            Wire::Bytes => quote! {
                #runtime::__private::encode(#runtime::__private::Bytes::new(&#value), #output)
            },
        }
    }

    /// Decoding the value from `bytes`, as the caller receives it.
    fn decode(&self, bytes: &Ident, runtime: &RuntimePath) -> TokenStream {
        match self {
            Wire::Serde(ty) => quote!(#runtime::__private::decode::<#ty>(#bytes)),
            Wire::Bytes => quote! {
                #runtime::__private::decode::<#runtime::__private::ByteBuf>(#bytes)
                    .map(#runtime::__private::ByteBuf::into_vec)
            },
        }
    }
}

/// `check::<T>()` (`assert_cross_process`, or `assert_remote_value` for a
/// `remote` fn), spanned on `ty`.
fn cross_process_check(ty: &Type, check: &str, runtime: &RuntimePath) -> TokenStream {
    let span = ty.span();
    let runtime = runtime.at(span);
    let check = Ident::new(check, span);
    quote_spanned! {span=>
        #runtime::__private::#check::<#ty>();
    }
}

/// Whether `ty` is written `Vec<u8>`: a path ending in `Vec` whose one generic
/// argument is `u8`.
fn is_byte_vec(ty: &Type) -> bool {
    let Type::Path(path) = ungroup(ty) else {
        return false;
    };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    if path.qself.is_some() || last.ident != "Vec" {
        return false;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    match args.args.first() {
        Some(GenericArgument::Type(elem)) if args.args.len() == 1 => matches!(
            ungroup(elem),
            Type::Path(elem) if elem.qself.is_none() && elem.path.is_ident("u8")
        ),
        _ => false,
    }
}

/// `ty` without the invisible groups that `macro_rules!` fragments arrive in.
fn ungroup(mut ty: &Type) -> &Type {
    while let Type::Group(group) = ty {
        ty = &group.elem;
    }
    ty
}

#[cfg(test)]
mod tests;
