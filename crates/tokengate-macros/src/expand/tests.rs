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
                let __tg_site: &'static ::tokengate::__private::Site = {
                    static __TOKENGATE_SITE: ::tokengate::__private::Site =
                        ::tokengate::__private::Site::new("prime_check")
                            .weight(::tokengate::Weight::Heavy)
                            .timeout_nanos(250000000u64);
                    &__TOKENGATE_SITE
                };
                ::tokengate::__private::submit::<bool, _>(
                    __tg_site,
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
                let __tg_site: &'static ::tokengate::__private::Site = {
                    static __TOKENGATE_SITE: ::tokengate::__private::Site =
                        ::tokengate::__private::Site::new("type");
                    &__TOKENGATE_SITE
                };
                ::tokengate::__private::submit::<(), _>(
                    __tg_site,
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
                let __tg_site: &'static ::tokengate::__private::Site = {
                    static __TOKENGATE_SITE: ::tokengate::__private::Site =
                        ::tokengate::__private::Site::new("it");
                    &__TOKENGATE_SITE
                };
                ::tokengate::__private::submit(
                    __tg_site,
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

#[test]
fn a_sticky_fn_keys_on_its_borrowed_arguments() {
    // The default hash policy, standard: a stable key, before the move.
    assert_expands(
        quote!(sticky_anchor = "account"),
        quote! {
            pub fn deposit(account: String, amount: u64) -> u64 { amount }
        },
        quote! {
            pub fn deposit(account: String, amount: u64) -> ::tokengate::TaskToken<u64> {
                enum __Tokengate {}
                #[allow(clippy::too_many_arguments)]
                impl __Tokengate {
                    fn stable_key<
                        A0: ?::core::marker::Sized + ::tokengate::__private::Serialize,
                        A1: ?::core::marker::Sized + ::tokengate::__private::Serialize
                    >(
                        site: &'static ::tokengate::__private::Site,
                        a0: &A0,
                        a1: &A1
                    ) -> ::tokengate::__private::RouteKey {
                        ::tokengate::__private::stable_key(site, &(a0, a1,))
                    }
                }
                ::tokengate::__private::assert_arg::<String>();
                ::tokengate::__private::assert_arg::<u64>();
                ::tokengate::__private::assert_stable_key::<String>();
                ::tokengate::__private::assert_stable_key::<u64>();
                ::tokengate::__private::assert_return::<u64>();
                let __tg_site: &'static ::tokengate::__private::Site = {
                    static __TOKENGATE_SITE: ::tokengate::__private::Site =
                        ::tokengate::__private::Site::new("deposit")
                            .sticky_anchor("account");
                    &__TOKENGATE_SITE
                };
                ::tokengate::__private::submit_keyed::<u64, _>(
                    __tg_site,
                    __Tokengate::stable_key(__tg_site, &account, &amount),
                    move || -> u64 { amount },
                )
            }
        },
    );
}

#[test]
fn fast_keys_go_through_a_helper_and_patterns_get_hidden_names() {
    assert_expands(
        quote!(sticky_anchor = "grid", hash_policy = "fast"),
        quote! {
            fn at(mut self, (row, col): (usize, usize), _: u8, n: u8) -> u8 { n }
        },
        quote! {
            fn at(mut self, __tg_arg1: (usize, usize), __tg_arg2: u8, n: u8)
                -> ::tokengate::TaskToken<u8>
            {
                enum __Tokengate {}
                #[allow(clippy::too_many_arguments)]
                impl __Tokengate {
                    fn fast_key<
                        A0: ?::core::marker::Sized + ::core::hash::Hash,
                        A1: ?::core::marker::Sized + ::core::hash::Hash,
                        A2: ?::core::marker::Sized + ::core::hash::Hash,
                        A3: ?::core::marker::Sized + ::core::hash::Hash
                    >(a0: &A0, a1: &A1, a2: &A2, a3: &A3) -> ::tokengate::__private::RouteKey {
                        ::tokengate::__private::fast_key(&(a0, a1, a2, a3,))
                    }
                }
                ::tokengate::__private::assert_arg::<Self>();
                ::tokengate::__private::assert_arg::<(usize, usize)>();
                ::tokengate::__private::assert_arg::<u8>();
                ::tokengate::__private::assert_arg::<u8>();
                ::tokengate::__private::assert_hash_key::<Self>();
                ::tokengate::__private::assert_hash_key::<(usize, usize)>();
                ::tokengate::__private::assert_hash_key::<u8>();
                ::tokengate::__private::assert_hash_key::<u8>();
                ::tokengate::__private::assert_return::<u8>();
                let __tg_site: &'static ::tokengate::__private::Site = {
                    static __TOKENGATE_SITE: ::tokengate::__private::Site =
                        ::tokengate::__private::Site::new("at")
                            .sticky_anchor("grid")
                            .hash_policy(::tokengate::fingerprint::HashPolicy::Fast);
                    &__TOKENGATE_SITE
                };
                ::tokengate::__private::submit_keyed::<u8, _>(
                    __tg_site,
                    __Tokengate::fast_key(&self, &__tg_arg1, &__tg_arg2, &n),
                    // `_` binds nothing, so it is not destructured.
                    move || -> u8 {
                        let (row, col) = __tg_arg1;
                        n
                    },
                )
            }
        },
    );
}

#[test]
fn full_is_a_stable_key_too() {
    let out = guard(
        quote!(sticky_anchor = "a", hash_policy = "full"),
        quote!(
            fn f(x: u8) {}
        ),
    )
    .to_string();
    assert!(
        out.contains("__Tokengate :: stable_key (__tg_site , & x)"),
        "{out}"
    );
    assert!(out.contains("assert_stable_key :: < u8 >"), "{out}");
    assert!(
        out.contains(". hash_policy (:: tokengate :: fingerprint :: HashPolicy :: Full)"),
        "{out}"
    );
}

#[test]
fn no_key_without_a_hash_policy_or_arguments() {
    for (args, item) in [
        (
            quote!(sticky_anchor = "log", hash_policy = "none"),
            quote!(
                fn f((a, b): (f64, f64)) {}
            ),
        ),
        (
            quote!(sticky_anchor = "singleton"),
            quote!(
                fn f() {}
            ),
        ),
    ] {
        let out = guard(args, item).to_string();
        assert!(
            out.contains(":: submit :: < () , _ > (__tg_site , move ||"),
            "{out}"
        );
        assert!(!out.contains("_key"), "{out}");
        assert!(!out.contains("__Tokengate"), "{out}");
        assert!(!out.contains("__tg_arg"), "{out}");
        assert!(out.contains(". sticky_anchor ("), "{out}");
    }
}

#[test]
fn impl_trait_arguments_are_keyed_but_not_checked() {
    let out = guard(
        quote!(sticky_anchor = "a", hash_policy = "fast"),
        quote!(
            fn f(id: impl std::hash::Hash + Send + 'static, n: u8) {}
        ),
    )
    .to_string();
    assert!(
        out.contains("__Tokengate :: fast_key (& id , & n)"),
        "{out}"
    );
    assert_eq!(out.matches("assert_hash_key").count(), 1, "{out}");
}

#[test]
fn every_site_setter() {
    let out = guard(
        quote!(
            op = "io",
            weight = "light",
            timeout = "1s",
            storage_speed = "insane"
        ),
        quote!(
            fn f() {}
        ),
    )
    .to_string();
    let site = quote! {
        ::tokengate::__private::Site::new("io")
            .weight(::tokengate::Weight::Light)
            .timeout_nanos(1000000000u64)
            .storage_speed(::tokengate::StorageSpeed::Insane);
    }
    .to_string();
    assert!(out.contains(&site), "{out}");

    let out = guard(
        quote!(
            external_calls = ["child_op", "other_op"],
            digest_policy = "minimal"
        ),
        quote!(
            fn f(x: u8) {}
        ),
    )
    .to_string();
    let site = quote! {
        ::tokengate::__private::Site::new("f")
            .external_calls(&["child_op", "other_op"])
            .digest_policy(::tokengate::fingerprint::DigestPolicy::Minimal);
    }
    .to_string();
    assert!(out.contains(&site), "{out}");
    // A lead without a `hash_policy` is not keyed.
    assert!(out.contains(":: submit :: < () , _ >"), "{out}");

    // `limit`, and `weight` with `storage_speed`, each have their setter.
    let out = guard(
        quote!(
            limit = "github_api",
            storage_speed = "MODERATE",
            weight = "heavy",
            process_pool = false
        ),
        quote!(
            fn f() {}
        ),
    )
    .to_string();
    let site = quote! {
        ::tokengate::__private::Site::new("f")
            .weight(::tokengate::Weight::Heavy)
            .storage_speed(::tokengate::StorageSpeed::Moderate)
            .limit("github_api");
    }
    .to_string();
    assert!(out.contains(&site), "{out}");
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn only_the_arguments_marked_key_form_the_key() {
    assert_expands(
        quote!(sticky_anchor = "accounts", hash_policy = "fast"),
        quote! {
            fn settle(#[key] account: u64, (memo, note): (Memo, Note), #[key] #[allow(unused)] region: u8, amount: i64) -> i64 { amount }
        },
        quote! {
            fn settle(account: u64, (memo, note): (Memo, Note), #[allow(unused)] region: u8, amount: i64)
                -> ::tokengate::TaskToken<i64>
            {
                enum __Tokengate {}
                #[allow(clippy::too_many_arguments)]
                impl __Tokengate {
                    fn fast_key<
                        A0: ?::core::marker::Sized + ::core::hash::Hash,
                        A1: ?::core::marker::Sized + ::core::hash::Hash
                    >(a0: &A0, a1: &A1) -> ::tokengate::__private::RouteKey {
                        ::tokengate::__private::fast_key(&(a0, a1,))
                    }
                }
                ::tokengate::__private::assert_arg::<u64>();
                ::tokengate::__private::assert_arg::<(Memo, Note)>();
                ::tokengate::__private::assert_arg::<u8>();
                ::tokengate::__private::assert_arg::<i64>();
                // Only the marked arguments need `Hash`; the others keep their
                // patterns, since the key does not name them.
                ::tokengate::__private::assert_hash_key::<u64>();
                ::tokengate::__private::assert_hash_key::<u8>();
                ::tokengate::__private::assert_return::<i64>();
                let __tg_site: &'static ::tokengate::__private::Site = {
                    static __TOKENGATE_SITE: ::tokengate::__private::Site =
                        ::tokengate::__private::Site::new("settle")
                            .sticky_anchor("accounts")
                            .hash_policy(::tokengate::fingerprint::HashPolicy::Fast);
                    &__TOKENGATE_SITE
                };
                ::tokengate::__private::submit_keyed::<i64, _>(
                    __tg_site,
                    __Tokengate::fast_key(&account, &region),
                    move || -> i64 { amount },
                )
            }
        },
    );
}

#[test]
fn a_marked_argument_bound_by_a_pattern_gets_a_hidden_name() {
    let out = guard(
        quote!(sticky_anchor = "grid"),
        quote!(
            fn f(n: u8, #[key] (row, col): (u32, u32)) -> u8 {
                n
            }
        ),
    )
    .to_string();
    assert!(
        out.contains("fn f (n : u8 , __tg_arg1 : (u32 , u32))"),
        "{out}"
    );
    assert!(
        out.contains("__Tokengate :: stable_key (__tg_site , & __tg_arg1)"),
        "{out}"
    );
    assert!(out.contains("let (row , col) = __tg_arg1 ;"), "{out}");
    assert_eq!(out.matches("assert_stable_key").count(), 1, "{out}");
    assert!(!out.contains("# [key"), "{out}");
}

#[test]
fn a_process_pool_fn_keys_on_its_marked_arguments_and_its_body_keeps_no_marker() {
    let out = guard(
        quote!(
            sticky_anchor = "accounts",
            hash_policy = "fast",
            process_pool = true
        ),
        quote!(
            fn settle(#[key] account: u64, amount: f64) -> f64 {
                amount
            }
        ),
    )
    .to_string();
    assert!(
        out.contains("Some (__Tokengate :: fast_key (& account))"),
        "{out}"
    );
    assert!(
        out.contains("fn __tokengate_body (account : u64 , amount : f64) -> f64"),
        "{out}"
    );
    assert_eq!(out.matches("assert_hash_key").count(), 1, "{out}");
    assert!(!out.contains("# [key"), "{out}");
    assert!(!out.contains("compile_error"), "{out}");
}

#[test]
fn a_lead_with_a_hash_policy_is_keyed_on_its_arguments() {
    // The original's lead example, in Rust.
    let out = guard(
        quote!(
            op = "lead",
            weight = "medium",
            hash_policy = "fast",
            digest_policy = "fast",
            external_calls = ["child"]
        ),
        quote!(
            fn lead_operation(n: i64) -> Vec<TaskToken<i64>> {
                children(n)
            }
        ),
    )
    .to_string();
    assert!(
        out.contains(":: submit_keyed :: < Vec < TaskToken < i64 > > , _ >"),
        "{out}"
    );
    assert!(out.contains("__Tokengate :: fast_key (& n)"), "{out}");
    assert!(!out.contains("compile_error"), "{out}");

    // Marked arguments key a lead too.
    let out = guard(
        quote!(external_calls = ["child"], hash_policy = "standard"),
        quote!(
            fn f(#[key] tenant: String, batch: Vec<u8>) {}
        ),
    )
    .to_string();
    assert!(
        out.contains("__Tokengate :: stable_key (__tg_site , & tenant)"),
        "{out}"
    );
    assert!(!out.contains("compile_error"), "{out}");

    // Without a `hash_policy`, or with `none`, a lead seeds from its token id.
    for args in [
        quote!(external_calls = ["child"]),
        quote!(external_calls = ["child"], hash_policy = "none"),
    ] {
        let out = guard(
            args,
            quote!(
                fn f(x: u8) {}
            ),
        )
        .to_string();
        assert!(out.contains(":: submit :: < () , _ >"), "{out}");
        assert!(!out.contains("_key"), "{out}");
    }
}

/// The messages of the `compile_error!`s in `out`, in order.
fn compile_errors(out: &TokenStream) -> Vec<String> {
    let text = out.to_string();
    text.split(":: core :: compile_error ! {")
        .skip(1)
        .map(|rest| {
            let rest = rest.trim_start();
            let end = rest.find("\" }").expect("a string literal");
            rest[1..end].replace("\\\"", "\"")
        })
        .collect()
}

#[test]
fn misplaced_or_malformed_key_markers_are_refused_and_stripped() {
    const NOT_STICKY: &str = "`#[key]` marks an argument of a sticky call's key, but this fn \
                              is not sticky; add a `sticky_anchor`, such as \
                              `sticky_anchor = \"accounts\"`, or remove `#[key]`";
    const NONE: &str = "`#[key]` has no effect under `hash_policy = \"none\"`, where the \
                        key is the anchor alone; remove `#[key]`, or choose another \
                        `hash_policy`";
    const LEAD: &str = "`#[key]` has no effect on a lead without a `hash_policy`: its seed \
                        comes from its token id, not its arguments; add \
                        `hash_policy = \"fast\"`, `\"standard\"` or `\"full\"` to seed it \
                        from the marked arguments, or remove `#[key]`";
    const SELF: &str = "`#[key]` cannot mark `self`; mark the arguments the key is made of, \
                        or mark none to key on every argument, `self` included";
    const ARGS: &str = "`#[key]` takes no arguments; write `#[key]` on each argument the key \
                        is made of";
    const TWICE: &str = "duplicate `#[key]` on one argument; remove one";
    for (args, item, expected) in [
        (
            quote!(),
            quote!(
                fn f(#[key] a: u8) {}
            ),
            vec![NOT_STICKY],
        ),
        (
            quote!(op = "x"),
            quote!(
                fn f(#[key] a: u8, #[key] b: u8) {}
            ),
            vec![NOT_STICKY, NOT_STICKY],
        ),
        (
            quote!(sticky_anchor = "s", hash_policy = "none"),
            quote!(
                fn f(#[key] a: u8) {}
            ),
            vec![NONE],
        ),
        (
            quote!(external_calls = ["c"]),
            quote!(
                fn f(#[key] a: u8) {}
            ),
            vec![LEAD],
        ),
        (
            quote!(external_calls = ["c"], hash_policy = "none"),
            quote!(
                fn f(#[key] a: u8) {}
            ),
            vec![LEAD],
        ),
        (
            quote!(sticky_anchor = "s"),
            quote!(
                fn f(#[key] self, a: u8) {}
            ),
            vec![SELF],
        ),
        (
            quote!(sticky_anchor = "s"),
            quote!(
                fn f(#[key(a)] a: u8, #[key = 1] b: u8) {}
            ),
            vec![ARGS, ARGS],
        ),
        (
            quote!(sticky_anchor = "s"),
            quote!(
                fn f(
                    #[key]
                    #[key]
                    a: u8,
                ) {
                }
            ),
            vec![TWICE],
        ),
        // Keys refused for their value count as written: their own error is
        // enough.
        (
            quote!(sticky_anchor = ""),
            quote!(
                fn f(#[key] a: u8) {}
            ),
            vec![
                "`sticky_anchor` must not be empty; name the sticky domain, such as \
                  `sticky_anchor = \"user_session\"`",
            ],
        ),
        (
            quote!(external_calls = ["c"], hash_policy = "fastest"),
            quote!(
                fn f(#[key] a: u8) {}
            ),
            vec![
                "unknown hash policy `fastest`; expected one of `none`, `fast`, \
                  `standard`, `full`",
            ],
        ),
    ] {
        let out = guard(args, item);
        assert_eq!(compile_errors(&out), expected, "{out}");
        assert!(!out.to_string().contains("# [key"), "{out}");
    }
    // A refused signature is emitted without its markers too.
    let out = guard(
        quote!(sticky_anchor = "s"),
        quote!(
            async fn f(#[key] a: u8) {}
        ),
    );
    assert!(!out.to_string().contains("# [key"), "{out}");
    assert_eq!(compile_errors(&out).len(), 1, "{out}");
}

#[test]
fn a_key_refused_in_combination_is_left_out() {
    let out = guard(
        quote!(sticky_anchor = "a", external_calls = ["c"]),
        quote!(
            fn f(x: u8) {}
        ),
    )
    .to_string();
    assert!(out.contains(". sticky_anchor (\"a\") ;"), "{out}");
    assert!(!out.contains("external_calls (&"), "{out}");
    assert!(out.contains(":: submit_keyed"), "{out}");
    assert!(out.contains("compile_error"), "{out}");
}

#[test]
fn tuples_past_twelve_elements_are_grouped_by_twelve() {
    let elems = |count: usize| -> Vec<TokenStream> {
        (0..count)
            .map(|i| {
                let name = quote::format_ident!("a{}", i);
                quote!(#name)
            })
            .collect()
    };
    // Up to 12: one flat tuple, as keys have always been formed.
    assert_eq!(super::tuple(&elems(0)).to_string(), "()");
    assert_eq!(super::tuple(&elems(1)).to_string(), "(a0 ,)");
    assert_eq!(
        super::tuple(&elems(12)).to_string(),
        quote!((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11,)).to_string()
    );
    // Past 12: groups of 12, the last one shorter.
    assert_eq!(
        super::tuple(&elems(13)).to_string(),
        quote!(((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11,), (a12,),)).to_string()
    );
    // Past 12 groups: the groups are grouped too, so no tuple exceeds 12.
    let deep = super::tuple(&elems(12 * 12 + 1)).to_string();
    assert!(
        deep.starts_with("(((a0 , a1 ,") && deep.ends_with(", ((a144 ,) ,) ,)"),
        "{deep}"
    );
}

#[test]
fn keys_past_twelve_arguments_take_grouped_tuples() {
    let args = (0..14usize).map(|i| quote::format_ident!("a{}", i));
    let item = quote!(fn f(#(#args: u8),*) {});
    let out = guard(
        quote!(sticky_anchor = "a", hash_policy = "fast"),
        item.clone(),
    )
    .to_string();
    let fast = quote! {
        ::tokengate::__private::fast_key(
            &((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11,), (a12, a13,),)
        )
    };
    assert!(out.contains(&fast.to_string()), "{out}");
    // Each argument still a parameter of the helper, spanned on its type.
    assert!(out.contains("(& a0 , & a1 ,"), "{out}");
    assert!(out.contains("& a12 , & a13)"), "{out}");

    let out = guard(quote!(sticky_anchor = "a"), item).to_string();
    let stable = quote! {
        ::tokengate::__private::stable_key(
            site,
            &((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11,), (a12, a13,),)
        )
    };
    assert!(out.contains(&stable.to_string()), "{out}");
}

#[test]
fn a_stand_in_for_a_never_returning_fn_returns_infallible() {
    let out = guard(
        quote!(),
        quote! {
            fn serve(port: u16) -> ! { loop {} }
        },
    )
    .to_string();
    let stand_in = quote! {
        #[allow(unused_variables, unused_mut)]
        fn serve(port: u16) -> ::tokengate::TaskToken<::core::convert::Infallible> {
            ::tokengate::__private::rejected()
        }
    }
    .to_string();
    assert!(out.starts_with(&stand_in), "{out}");
    assert_eq!(out.matches("compile_error").count(), 1, "{out}");
    assert!(out.contains("cannot return `!`"), "{out}");
}

#[test]
fn a_stand_in_returns_unit_for_each_impl_trait() {
    let out = guard(
        quote!(process_pool = true),
        quote! {
            pub fn pair(n: u64) -> (impl Send, Option<impl Iterator<Item = impl Sized>>) {
                (n, None::<std::iter::Empty<u8>>)
            }
        },
    )
    .to_string();
    let stand_in = quote! {
        #[allow(unused_variables, unused_mut)]
        pub fn pair(n: u64) -> ::tokengate::TaskToken<((), Option<()>)> {
            ::tokengate::__private::rejected()
        }
    }
    .to_string();
    assert!(out.starts_with(&stand_in), "{out}");
    // One error, on the first `impl Trait`.
    assert_eq!(out.matches("compile_error").count(), 1, "{out}");
    assert!(out.contains("cannot return `impl Trait`"), "{out}");
}

#[test]
fn a_renamed_crate_names_the_runtime() {
    assert_expands(
        quote!(
            crate = "my_reexport::tokengate",
            op = "prime_check",
            weight = "heavy"
        ),
        quote! {
            pub fn prime_operation(n: u64) -> bool { n > 1 }
        },
        quote! {
            pub fn prime_operation(n: u64) -> ::my_reexport::tokengate::TaskToken<bool> {
                ::my_reexport::tokengate::__private::assert_arg::<u64>();
                ::my_reexport::tokengate::__private::assert_return::<bool>();
                let __tg_site: &'static ::my_reexport::tokengate::__private::Site = {
                    static __TOKENGATE_SITE: ::my_reexport::tokengate::__private::Site =
                        ::my_reexport::tokengate::__private::Site::new("prime_check")
                            .weight(::my_reexport::tokengate::Weight::Heavy);
                    &__TOKENGATE_SITE
                };
                ::my_reexport::tokengate::__private::submit::<bool, _>(
                    __tg_site,
                    move || -> bool { n > 1 },
                )
            }
        },
    );
}

#[test]
fn a_renamed_crate_replaces_every_runtime_path() {
    // Each kind of expansion: plain, every site setter, sticky under each
    // hash policy, process pool (`Vec<u8>` included), sticky process pool, and
    // a refused signature's stand-in.
    let cases = [
        (
            quote!(weight = "light", timeout = "1s", storage_speed = "FAST"),
            quote!(
                fn f(x: u8) -> u8 {
                    x
                }
            ),
        ),
        (
            quote!(external_calls = ["child"], digest_policy = "short"),
            quote!(
                fn f(x: u8) {}
            ),
        ),
        (
            quote!(sticky_anchor = "a"),
            quote!(
                fn f((a, b): (u8, u8)) {}
            ),
        ),
        (
            quote!(sticky_anchor = "a", hash_policy = "full"),
            quote!(
                fn f(x: u8) {}
            ),
        ),
        (
            quote!(sticky_anchor = "a", hash_policy = "fast"),
            quote!(
                fn f(x: u8) {}
            ),
        ),
        (
            quote!(sticky_anchor = "a", hash_policy = "none"),
            quote!(
                fn f(x: u8) {}
            ),
        ),
        (
            quote!(process_pool = true),
            quote!(
                fn f(n: u64, data: Vec<u8>) -> Vec<u8> {
                    data
                }
            ),
        ),
        (
            quote!(sticky_anchor = "a", process_pool = true),
            quote!(
                fn f(n: u64) -> u64 {
                    n
                }
            ),
        ),
        (
            quote!(),
            quote!(
                async fn f(n: u64) -> u64 {
                    n
                }
            ),
        ),
    ];
    for (args, item) in cases {
        let default = guard(args.clone(), item.clone()).to_string();
        assert!(default.contains(":: tokengate ::"), "{default}");

        // A path from the extern prelude gets a leading `::`, as the default has.
        let out = guard(
            quote!(crate = "my_reexport::tokengate", #args),
            item.clone(),
        )
        .to_string();
        assert_eq!(
            out,
            default.replace(":: tokengate ::", ":: my_reexport :: tokengate ::")
        );

        // A path that says where it starts is used as written.
        let out = guard(quote!(crate = "crate::reexport::tg", #args), item).to_string();
        assert_eq!(
            out,
            default.replace(":: tokengate ::", "crate :: reexport :: tg ::")
        );
        assert!(!out.contains("tokengate ::"), "{out}");
    }
}

#[test]
fn a_renamed_crate_names_the_process_pool_registration() {
    let out = guard(
        quote!(process_pool = true, crate = "renamed"),
        quote!(
            fn f(n: u64) -> u64 {
                n
            }
        ),
    )
    .to_string();
    let registration = quote! {
        #[::renamed::__private::linkme::distributed_slice(::renamed::__private::PROCESS_FNS)]
        #[linkme(crate = ::renamed::__private::linkme)]
        static __TOKENGATE_PROCESS_FN: ::renamed::__private::ProcessFn =
            ::renamed::__private::ProcessFn::new
    }
    .to_string();
    assert!(out.contains(&format!("{registration} (")), "{out}");
}

#[test]
fn a_malformed_crate_path_still_expands_with_the_default() {
    let out = guard(
        quote!(crate = "not a path"),
        quote!(
            fn f() {}
        ),
    )
    .to_string();
    assert!(
        out.starts_with("fn f () -> :: tokengate :: TaskToken < () >"),
        "{out}"
    );
    assert!(out.contains("`not a path` is not a path"), "{out}");
}

#[test]
fn guard_keys_have_their_setters() {
    let out = guard(
        quote!(
            queue_timeout = "100ms",
            retries = 3,
            retry_backoff = "25ms",
            retry_on = ["timeout", "panic"]
        ),
        quote!(
            fn f() {}
        ),
    )
    .to_string();
    let site = quote! {
        ::tokengate::__private::Site::new("f")
            .queue_timeout_nanos(100000000u64)
            .retries(3u32)
            .retry_backoff_nanos(25000000u64)
            .retry_on(::tokengate::__private::RETRY_TIMEOUT | ::tokengate::__private::RETRY_PANIC);
    }
    .to_string();
    assert!(out.contains(&site), "{out}");
    assert!(
        out.contains(":: submit_retrying :: < () , _ , _ >"),
        "{out}"
    );
    assert!(!out.contains("compile_error"), "{out}");

    // `retries` alone leaves the causes to the runtime's default.
    let out = guard(
        quote!(retries = 0),
        quote!(
            fn f() {}
        ),
    )
    .to_string();
    let site = quote!(::tokengate::__private::Site::new("f").retries(0u32);).to_string();
    assert!(out.contains(&site), "{out}");

    let out = guard(
        quote!(process_pool = true, memory_limit = "64MiB"),
        quote!(
            fn f() {}
        ),
    )
    .to_string();
    let site = quote! {
        ::tokengate::__private::Site::new("f").process_pool().memory_limit(67108864u64);
    }
    .to_string();
    assert!(out.contains(&site), "{out}");
}

#[test]
fn retrying_err_values_passes_a_predicate_on_the_return_type() {
    assert_expands(
        quote!(retries = 2, retry_on = ["err"]),
        quote! {
            fn f(n: u8) -> Result<u8, String> { Ok(n) }
        },
        quote! {
            fn f(n: u8) -> ::tokengate::TaskToken<Result<u8, String> > {
                enum __Tokengate {}
                #[allow(clippy::too_many_arguments)]
                impl __Tokengate {
                    fn clone_args<A0: ::core::clone::Clone>(args: &(A0,)) -> (A0,) {
                        let (a0,) = args;
                        (::core::clone::Clone::clone(a0),)
                    }
                }
                ::tokengate::__private::assert_arg::<u8>();
                ::tokengate::__private::assert_retry_arg::<u8>();
                ::tokengate::__private::assert_return::<Result<u8, String> >();
                let __tg_site: &'static ::tokengate::__private::Site = {
                    static __TOKENGATE_SITE: ::tokengate::__private::Site =
                        ::tokengate::__private::Site::new("f")
                            .retries(2u32)
                            .retry_on(::tokengate::__private::RETRY_ERR);
                    &__TOKENGATE_SITE
                };
                ::tokengate::__private::submit_retrying::<Result<u8, String>, _, _>(
                    __tg_site,
                    ::core::option::Option::None,
                    ::core::option::Option::Some(
                        |__tg_value: &Result<u8, String>| ::core::result::Result::is_err(__tg_value)
                    ),
                    (n,),
                    __Tokengate::clone_args::<u8>,
                    |(n,)| -> Result<u8, String> { Ok(n) },
                )
            }
        },
    );

    // A sticky fn passes its key as an option; a process-pool fn submits
    // through its own variant, the predicate after the key. Without retries,
    // the predicate is not needed.
    let out = guard(
        quote!(
            sticky_anchor = "s",
            hash_policy = "fast",
            retries = 1,
            retry_on = ["err"]
        ),
        quote!(
            fn f(n: u8) -> std::io::Result<u8> {
                Ok(n)
            }
        ),
    )
    .to_string();
    let call = quote! {
        ::tokengate::__private::submit_retrying::<std::io::Result<u8>, _, _>(
            __tg_site,
            ::core::option::Option::Some(__Tokengate::fast_key(&n)),
            ::core::option::Option::Some(
                |__tg_value: &std::io::Result<u8>| ::core::result::Result::is_err(__tg_value)
            ),
            (n,),
            __Tokengate::clone_args::<u8>,
            |(n,)| -> std::io::Result<u8> { Ok(n) },
        )
    }
    .to_string();
    assert!(out.contains(&call), "{out}");

    let out = guard(
        quote!(
            process_pool = true,
            retries = 1,
            retry_on = ["panic", "err"]
        ),
        quote!(
            fn f() -> Result<(), String> {
                Ok(())
            }
        ),
    )
    .to_string();
    let submit = quote!(::tokengate::__private::submit_process_retry_err::<Result<(), String>, _>);
    let args = quote! {
        __tg_site,
        ::core::option::Option::None,
        |__tg_value: &Result<(), String>| ::core::result::Result::is_err(__tg_value),
        __tg_process_fn,
    };
    assert!(out.contains(&format!("{submit} ({args}")), "{out}");
}

#[test]
fn err_on_a_fn_without_a_result_is_refused_and_left_out() {
    let out = guard(
        quote!(retries = 1, retry_on = ["err", "panic"]),
        quote!(
            fn f() -> u8 {
                1
            }
        ),
    );
    assert_eq!(
        compile_errors(&out),
        [
            "`\"err\"` in `retry_on` needs a fn that returns `Result`, to retry its `Err` \
          values, but this fn returns a type not written as `Result<..>`; return a \
          `Result<T, E>`, or remove `\"err\"`"
        ]
    );
    let out = out.to_string();
    assert!(
        out.contains(". retry_on (:: tokengate :: __private :: RETRY_PANIC)"),
        "{out}"
    );
    assert!(
        out.contains(":: submit_retrying :: < u8 , _ , _ >"),
        "{out}"
    );

    // With no other cause, `retry_on` is left to its default.
    let out = guard(
        quote!(retries = 1, retry_on = ["err"]),
        quote!(
            fn f() {}
        ),
    );
    assert_eq!(compile_errors(&out).len(), 1);
    assert!(compile_errors(&out)[0].contains("this fn returns nothing"));
    assert!(!out.to_string().contains(". retry_on ("), "{out}");
}
