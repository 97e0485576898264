#![cfg(test)]

use proc_macro2::TokenStream;
use quote::quote;

use super::guard;

/// Asserts that `#[task_token_guard(args)] item` expands to `expected`.
fn assert_expands(args: TokenStream, item: TokenStream, expected: TokenStream) {
    assert_eq!(guard(args, item).to_string(), expected.to_string());
}

#[test]
fn the_documented_example() {
    assert_expands(
        quote!(op = "prime_check", weight = "heavy", timeout = "250ms"),
        quote! {
            /// Docs.
            #[inline]
            pub fn prime_operation(n: u64) -> bool { n > 1 }
        },
        quote! {
            /// Docs.
            #[inline]
            pub fn prime_operation(n: u64) -> ::tokengate::TaskToken<bool> {
                ::tokengate::__private::assert_arg::<u64>();
                ::tokengate::__private::assert_return::<bool>();
                static __TOKENGATE_SITE: ::tokengate::__private::Site =
                    ::tokengate::__private::Site::new("prime_check")
                        .weight(::tokengate::Weight::Heavy)
                        .timeout_nanos(250000000u64);
                ::tokengate::__private::submit::<bool, _>(
                    &__TOKENGATE_SITE,
                    move || -> bool { n > 1 },
                )
            }
        },
    );
}

#[test]
fn defaults_name_the_op_after_the_fn_and_set_nothing_else() {
    assert_expands(
        quote!(),
        quote! {
            fn r#type<T: Send + 'static>(self, (a, b): (T, u8)) where T: Clone {
                #![allow(unused)]
                drop((a, b));
            }
        },
        quote! {
            fn r#type<T: Send + 'static>(self, (a, b): (T, u8)) -> ::tokengate::TaskToken<()>
            where
                T: Clone
            {
                #![allow(unused)]
                ::tokengate::__private::assert_arg::<Self>();
                ::tokengate::__private::assert_arg::<(T, u8)>();
                ::tokengate::__private::assert_return::<()>();
                static __TOKENGATE_SITE: ::tokengate::__private::Site =
                    ::tokengate::__private::Site::new("type");
                ::tokengate::__private::submit::<(), _>(
                    &__TOKENGATE_SITE,
                    move || -> () {
                        drop((a, b));
                    },
                )
            }
        },
    );
}

#[test]
fn impl_trait_gets_no_check_and_no_closure_return_type() {
    assert_expands(
        quote!(op = "it"),
        quote! {
            fn it(f: impl FnOnce() -> u8 + Send + 'static) -> impl Iterator<Item = u8> {
                ::core::iter::once(f())
            }
        },
        quote! {
            fn it(f: impl FnOnce() -> u8 + Send + 'static)
                -> ::tokengate::TaskToken<impl Iterator<Item = u8> >
            {
                static __TOKENGATE_SITE: ::tokengate::__private::Site =
                    ::tokengate::__private::Site::new("it");
                ::tokengate::__private::submit(
                    &__TOKENGATE_SITE,
                    move || {
                        ::core::iter::once(f())
                    },
                )
            }
        },
    );
}

#[test]
fn a_refused_signature_becomes_a_stand_in_plus_the_error() {
    let out = guard(
        quote!(weight = "huge"),
        quote! {
            pub async fn fetch(&self, url: String) -> u8 { 0 }
        },
    )
    .to_string();
    let stand_in = quote! {
        #[allow(unused_variables, unused_mut)]
        pub fn fetch(&self, url: String) -> ::tokengate::TaskToken<u8> {
            ::tokengate::__private::rejected()
        }
    }
    .to_string();
    assert!(out.starts_with(&stand_in), "{out}");
    // The argument error and both signature errors follow.
    assert_eq!(out.matches("compile_error").count(), 3, "{out}");
    assert!(out.contains("unknown weight"), "{out}");
    assert!(out.contains("`async fn`"), "{out}");
    assert!(out.contains("cannot borrow `self`"), "{out}");
}

#[test]
fn a_bad_key_still_expands_with_the_defaults() {
    let out = guard(
        quote!(foo = "x"),
        quote!(
            fn f() {}
        ),
    )
    .to_string();
    assert!(out.contains(":: submit :: < () , _ >"), "{out}");
    assert!(out.contains("Site :: new (\"f\")"), "{out}");
    assert!(out.contains("unknown key `foo`"), "{out}");
}

#[test]
fn an_item_that_is_not_a_fn_is_given_back_with_the_error() {
    let out = guard(
        quote!(),
        quote!(
            struct S;
        ),
    )
    .to_string();
    assert!(out.starts_with("struct S ;"), "{out}");
    assert!(
        out.contains("`#[task_token_guard]` can only be used on a fn with a body"),
        "{out}"
    );
}
