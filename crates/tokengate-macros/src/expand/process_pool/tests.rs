#![cfg(test)]

use proc_macro2::TokenStream;
use quote::quote;
use syn::Type;

use super::is_byte_vec;
use crate::expand::guard;

/// `#[task_token_guard(args)] item`, expanded, as a string.
fn expand(args: TokenStream, item: TokenStream) -> String {
    guard(args, item).to_string()
}

#[test]
fn the_documented_example() {
    let expected = quote! {
        pub fn heavy(n: u64, data: Vec<u8>) -> ::tokengate::TaskToken<u64> {
            enum __Tokengate {}
            #[allow(clippy::too_many_arguments)]
            impl __Tokengate {
                fn encode_args<
                    A0: ?::core::marker::Sized + ::tokengate::__private::Serialize,
                    A1: ?::core::marker::Sized + ::tokengate::__private::Serialize
                >(
                    a0: &A0,
                    a1: &A1,
                    out: &mut ::std::vec::Vec<::core::primitive::u8>,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    ::tokengate::__private::encode(&(a0, a1,), out)
                }
                fn decode_args<
                    A0: ::tokengate::__private::DeserializeOwned,
                    A1: ::tokengate::__private::DeserializeOwned
                >(
                    input: &[::core::primitive::u8],
                ) -> ::core::result::Result<(A0, A1,), ::std::string::String> {
                    ::tokengate::__private::decode(input)
                }
            }
            ::tokengate::__private::assert_arg::<u64>();
            ::tokengate::__private::assert_arg::<Vec<u8> >();
            ::tokengate::__private::assert_cross_process::<u64>();
            ::tokengate::__private::assert_cross_process::<Vec<u8> >();
            ::tokengate::__private::assert_cross_process::<u64>();
            ::tokengate::__private::assert_return::<u64>();
            let __tg_site: &'static ::tokengate::__private::Site = {
                static __TOKENGATE_SITE: ::tokengate::__private::Site =
                    ::tokengate::__private::Site::new("heavy")
                        .weight(::tokengate::Weight::Heavy)
                        .process_pool();
                &__TOKENGATE_SITE
            };
            let __tg_process_fn: &'static ::tokengate::__private::ProcessFn = {
                fn __tokengate_body(n: u64, data: Vec<u8>) -> u64 {
                    n + data.len() as u64
                }
                {
                    #[::tokengate::__private::linkme::distributed_slice(::tokengate::__private::PROCESS_FNS)]
                    #[linkme(crate = ::tokengate::__private::linkme)]
                    static __TOKENGATE_PROCESS_FN: ::tokengate::__private::ProcessFn =
                        ::tokengate::__private::ProcessFn::new(
                            "heavy",
                            ::core::concat!(::core::module_path!(), "::", "heavy"),
                            |__tg_input: &[::core::primitive::u8],
                             __tg_output: &mut ::std::vec::Vec<::core::primitive::u8>|
                             -> ::core::result::Result<(), ::std::string::String> {
                                ::tokengate::__private::assert_cross_process::<u64>();
                                ::tokengate::__private::assert_cross_process::<Vec<u8> >();
                                ::tokengate::__private::assert_cross_process::<u64>();
                                let (__tg_arg0, __tg_arg1,) = __Tokengate::decode_args::<
                                    u64,
                                    ::tokengate::__private::ByteBuf
                                >(__tg_input)?;
                                let __tg_value = __tokengate_body(
                                    __tg_arg0,
                                    ::tokengate::__private::ByteBuf::into_vec(__tg_arg1)
                                );
                                ::tokengate::__private::encode::<u64>(&__tg_value, __tg_output)
                            },
                        );
                    &__TOKENGATE_PROCESS_FN
                }
            };
            ::tokengate::__private::submit_process::<u64, _>(
                __tg_site,
                ::core::option::Option::None,
                __tg_process_fn,
                move |__tg_out: &mut ::std::vec::Vec<::core::primitive::u8>| {
                    __Tokengate::encode_args::<u64, ::tokengate::__private::Bytes>(
                        &n,
                        ::tokengate::__private::Bytes::new(&data),
                        __tg_out
                    )
                },
                |__tg_bytes: &[::core::primitive::u8]|
                    ::tokengate::__private::decode::<u64>(__tg_bytes),
            )
        }
    };
    assert_eq!(
        expand(
            quote!(weight = "heavy", process_pool = true),
            quote! {
                pub fn heavy(n: u64, data: Vec<u8>) -> u64 { n + data.len() as u64 }
            },
        ),
        expected.to_string()
    );
}

#[test]
fn patterns_bind_in_the_body_and_the_guarded_fn_gets_plain_names() {
    let out = expand(
        quote!(process_pool = true),
        quote! {
            fn f(mut n: u8, (a, b): (u8, u8), _: u8) -> u8 {
                #![allow(unused_mut)]
                a + b
            }
        },
    );
    // The guarded fn: plain names, no `mut`, no destructuring.
    let outer = quote! {
        fn f(n: u8, __tg_arg1: (u8, u8), __tg_arg2: u8) -> ::tokengate::TaskToken<u8>
    };
    assert!(
        out.starts_with(&format!("{outer} {{ # ! [allow (unused_mut)]")),
        "{out}"
    );
    // The body: the original patterns and inner attributes.
    let body = quote! {
        fn __tokengate_body(mut n: u8, (a, b): (u8, u8), _: u8) -> u8 {
            #![allow(unused_mut)]
            a + b
        }
    };
    assert!(out.contains(&body.to_string()), "{out}");
    assert!(
        out.contains("(& n , & __tg_arg1 , & __tg_arg2 , __tg_out)"),
        "{out}"
    );
    assert!(!out.contains("let (a , b)"), "{out}");
}

#[test]
fn no_return_type_is_unit() {
    let out = expand(
        quote!(process_pool = true),
        quote! {
            fn log(line: String) { println!("{line}"); }
        },
    );
    assert!(out.contains("-> :: tokengate :: TaskToken < () >"), "{out}");
    assert!(
        out.contains("fn __tokengate_body (line : String) {"),
        "{out}"
    );
    assert!(out.contains("submit_process :: < () , _ >"), "{out}");
    assert!(out.contains("decode :: < () > (__tg_bytes)"), "{out}");
    assert!(out.contains("encode :: < () > (& __tg_value"), "{out}");
}

#[test]
fn byte_vectors_cross_as_one_block_both_ways() {
    let out = expand(
        quote!(process_pool = true),
        quote! {
            fn f(data: std::vec::Vec<u8>, words: Vec<u16>) -> ::std::vec::Vec<u8> { data }
        },
    );
    let encode_value = quote! {
        ::tokengate::__private::encode(::tokengate::__private::Bytes::new(&__tg_value), __tg_output)
    };
    assert!(out.contains(&encode_value.to_string()), "{out}");
    let decode_value = quote! {
        ::tokengate::__private::decode::<::tokengate::__private::ByteBuf>(__tg_bytes)
            .map(::tokengate::__private::ByteBuf::into_vec)
    };
    assert!(out.contains(&decode_value.to_string()), "{out}");
    let decode_args = quote! {
        __Tokengate::decode_args::<::tokengate::__private::ByteBuf, Vec<u16> >(__tg_input)
    };
    assert!(out.contains(&decode_args.to_string()), "{out}");
    // The checks still name the type as written.
    assert!(
        out.contains("assert_cross_process :: < std :: vec :: Vec < u8 > >"),
        "{out}"
    );
}

#[test]
fn a_sticky_process_fn_submits_its_key() {
    let out = expand(
        quote!(sticky_anchor = "user", process_pool = true),
        quote! {
            fn f(user: String, (a, b): (u8, u8)) -> u8 { a + b }
        },
    );
    let key = quote! {
        ::core::option::Option::Some(__Tokengate::stable_key(__tg_site, &user, &__tg_arg1)),
    };
    assert!(out.contains(&key.to_string()), "{out}");
    assert!(
        out.contains(". sticky_anchor (\"user\") . process_pool () ;"),
        "{out}"
    );
    // The process pool's checks come before the key's.
    let cross = out.find("assert_cross_process").unwrap();
    let stable = out.find("assert_stable_key").unwrap();
    assert!(cross < stable, "{out}");
    // The key's helper and the encoding's share one helper type.
    assert_eq!(out.matches("enum __Tokengate").count(), 1, "{out}");
    for helper in ["fn stable_key", "fn encode_args", "fn decode_args"] {
        assert!(out.contains(helper), "{out}");
    }
}

#[test]
fn no_arguments_and_a_raw_name() {
    let out = expand(
        quote!(process_pool = true),
        quote! {
            fn r#type() -> u8 { 1 }
        },
    );
    assert!(out.contains("Site :: new (\"type\")"), "{out}");
    assert!(
        out.contains("ProcessFn :: new (\"type\" , :: core :: concat ! (:: core :: module_path ! () , \"::\" , \"type\")"),
        "{out}"
    );
    assert!(
        out.contains("let () = __Tokengate :: decode_args :: < > (__tg_input) ?"),
        "{out}"
    );
    assert!(
        out.contains("__Tokengate :: encode_args :: < > (__tg_out)"),
        "{out}"
    );
}

#[test]
fn a_refused_process_signature_becomes_a_stand_in() {
    let out = expand(
        quote!(process_pool = true),
        quote! {
            fn f<T>(self, x: T) -> u8 { 0 }
        },
    );
    assert!(
        out.contains(":: tokengate :: __private :: rejected ()"),
        "{out}"
    );
    assert!(!out.contains("PROCESS_FNS"), "{out}");
    assert_eq!(out.matches("compile_error").count(), 2, "{out}");
}

#[test]
fn process_pool_false_is_a_thread_call() {
    let out = expand(
        quote!(process_pool = false),
        quote! {
            fn f(self) -> u8 { 0 }
        },
    );
    assert!(out.contains(":: submit :: < u8 , _ >"), "{out}");
    assert!(!out.contains("process"), "{out}");
}

#[test]
fn byte_vectors_are_recognised_as_written() {
    let byte_vec = |ty: &str| is_byte_vec(&syn::parse_str::<Type>(ty).unwrap());
    for ty in ["Vec<u8>", "std::vec::Vec<u8>", "::alloc::vec::Vec<u8>"] {
        assert!(byte_vec(ty), "{ty}");
    }
    for ty in [
        "Vec<u16>",
        "Vec<Vec<u8>>",
        "Vec<u8, Global>",
        "Bytes",
        "[u8; 4]",
        "Box<[u8]>",
        "Vec<std::primitive::u8>",
        "<X as Tr>::Vec<u8>",
    ] {
        assert!(!byte_vec(ty), "{ty}");
    }
}

#[test]
fn byte_vectors_through_a_macro_fragment() {
    // `$ty:ty` arrives in an invisible group, as may its element type.
    let group = |elem: Type| {
        Type::Group(syn::TypeGroup {
            group_token: Default::default(),
            elem: Box::new(elem),
        })
    };
    let ty: Type = group(syn::parse_quote!(Vec<u8>));
    assert!(is_byte_vec(&ty));
    let u8_group = group(syn::parse_quote!(u8));
    let ty: Type = syn::parse_quote!(Vec<#u8_group>);
    assert!(is_byte_vec(&ty));
}

#[test]
fn arguments_past_twelve_cross_as_grouped_tuples() {
    let args = (0..13usize).map(|i| quote::format_ident!("a{}", i));
    let out = expand(quote!(process_pool = true), quote!(fn f(#(#args: u8),*) {}));
    let encode = quote! {
        ::tokengate::__private::encode(
            &((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11,), (a12,),),
            out
        )
    };
    assert!(out.contains(&encode.to_string()), "{out}");
    let decoded_type = quote! {
        ::core::result::Result<
            ((A0, A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11,), (A12,),),
            ::std::string::String
        >
    };
    assert!(out.contains(&decoded_type.to_string()), "{out}");
    let unpack = quote! {
        let (
            (
                __tg_arg0, __tg_arg1, __tg_arg2, __tg_arg3, __tg_arg4, __tg_arg5,
                __tg_arg6, __tg_arg7, __tg_arg8, __tg_arg9, __tg_arg10, __tg_arg11,
            ),
            (__tg_arg12,),
        ) = __Tokengate::decode_args
    };
    assert!(out.contains(&unpack.to_string()), "{out}");
    // The body still takes each argument on its own.
    assert!(
        out.contains("__tokengate_body (__tg_arg0 , __tg_arg1 ,"),
        "{out}"
    );
}

#[test]
fn a_remote_fn_is_registered_for_worker_hosts_and_submitted_as_remote() {
    let contains = |out: &str, tokens: TokenStream| {
        assert!(out.contains(&tokens.to_string()), "{tokens}\nin\n{out}");
    };
    let out = expand(
        quote!(op = "thumb", weight = "heavy", remote = "gpu"),
        quote!(
            fn thumb(image: Vec<u8>, width: u32) -> Vec<u8> {
                image
            }
        ),
    );
    contains(
        &out,
        quote!(.weight(::tokengate::Weight::Heavy).remote("gpu")),
    );
    contains(
        &out,
        quote!(::tokengate::__private::assert_remote_value::<u32>();),
    );
    assert!(!out.contains("assert_cross_process"), "{out}");
    // A worker host runs it on a thread, at its weight, without a limit.
    contains(
        &out,
        quote!(.remote(::tokengate::Weight::Heavy, false, 0u64);),
    );
    contains(
        &out,
        quote!(::tokengate::__private::submit_remote::<Vec<u8>, _>),
    );

    // With `process_pool`, the host isolates it, under its memory limit; the
    // site names both keys.
    let out = expand(
        quote!(remote = true, process_pool = true, memory_limit = "1KiB"),
        quote!(
            fn f(x: u8) -> u8 {
                x
            }
        ),
    );
    contains(
        &out,
        quote!(.process_pool().memory_limit(1024u64).remote("default")),
    );
    contains(
        &out,
        quote!(.remote(::tokengate::Weight::Medium, true, 1024u64);),
    );

    // `retry_on = ["err"]` submits through the remote variant.
    let out = expand(
        quote!(remote = true, retries = 2, retry_on = ["err"]),
        quote!(
            fn f(x: u8) -> Result<u8, String> {
                Ok(x)
            }
        ),
    );
    contains(
        &out,
        quote!(::tokengate::__private::submit_remote_retry_err),
    );

    // A remote lead: its host runs it as a lead of its `external_calls`, and
    // its site names them too.
    let out = expand(
        quote!(remote = true, external_calls = ["fetch", "parse"]),
        quote!(
            fn f(x: u8) -> u8 {
                x
            }
        ),
    );
    contains(
        &out,
        quote!(.remote(::tokengate::Weight::Medium, false, 0u64).lead(&["fetch", "parse"]);),
    );
    contains(&out, quote!(.external_calls(&["fetch", "parse"])));
    contains(&out, quote!(::tokengate::__private::submit_remote::<u8, _>));
}

#[test]
fn remote_false_is_a_thread_call() {
    let out = expand(
        quote!(remote = false),
        quote!(
            fn f(x: u8) -> u8 {
                x
            }
        ),
    );
    assert!(out.contains("__private :: submit ::"), "{out}");
    assert!(!out.contains("remote"), "{out}");
}
