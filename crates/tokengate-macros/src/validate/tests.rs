#![cfg(test)]

use syn::Signature;

use super::{Crossing, signature};

/// Every message for the signature `sig`, in order.
fn messages(sig: &str) -> Vec<String> {
    messages_crossing(sig, None)
}

/// Every message for the signature `sig` of a fn that is a `process_pool` fn
/// if `process_pool`, in order.
fn messages_as(sig: &str, process_pool: bool) -> Vec<String> {
    messages_crossing(sig, process_pool.then_some(Crossing::ProcessPool))
}

/// Every message for the signature `sig` of a fn whose calls cross as
/// `crossing` says, in order.
fn messages_crossing(sig: &str, crossing: Option<Crossing>) -> Vec<String> {
    let sig: Signature = syn::parse_str(sig).unwrap();
    match signature(&sig, crossing, false) {
        Ok(()) => Vec::new(),
        Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
    }
}

/// Asserts that `sig` is accepted.
fn accepted(sig: &str) {
    assert_eq!(messages(sig), Vec::<String>::new(), "{sig}");
}

/// Asserts that `sig` is refused with one message that starts with `start`.
fn refused(sig: &str, start: &str) {
    let messages = messages(sig);
    assert_eq!(messages.len(), 1, "{sig}: {messages:?}");
    assert!(messages[0].starts_with(start), "{sig}: {messages:?}");
}

#[test]
fn owned_signatures_are_accepted() {
    accepted("fn f()");
    accepted("fn f(a: u8, (b, c): (String, Vec<u8>), mut d: u32, _: u8) -> u64");
    accepted("fn f<T: Clone + Send + 'static>(x: T) -> T where T: Default");
    accepted("fn f(self) -> Self");
    accepted("fn f(mut self)");
    accepted("fn f(self: Box<Self>)");
    accepted("fn f(s: &'static str) -> &'static [u8]");
    accepted("fn f(x: std::borrow::Cow<'static, str>)");
}

#[test]
fn late_bound_lifetimes_are_not_borrows() {
    accepted("fn f(g: fn(&str) -> &str)");
    accepted("fn f(g: Box<dyn Fn(&str) -> usize + Send>)");
    accepted("fn f(g: Box<dyn for<'a> Fn(&'a str) -> &'a str + Send>)");
    accepted("fn f(g: for<'a> fn(&'a u8, &'_ u8))");
    accepted("fn f(g: impl for<'a> Fn(&'a str) + Send + 'static)");
}

#[test]
fn fn_qualifiers_are_refused() {
    refused(
        "async fn f()",
        "`#[task_token_guard]` cannot be used on an `async fn`; decorate a sync fn",
    );
    refused(
        "const fn f()",
        "`#[task_token_guard]` cannot be used on a `const fn`",
    );
    refused(
        "unsafe fn f()",
        "`#[task_token_guard]` cannot be used on an `unsafe fn`",
    );
    refused(
        "extern \"C\" fn f()",
        "`#[task_token_guard]` cannot be used on an `extern` fn",
    );
}

#[test]
fn borrowed_receivers_are_refused() {
    for sig in [
        "fn f(&self)",
        "fn f(&mut self)",
        "fn f(&'a self)",
        "fn f(self: &Self)",
        "fn f(self: &mut Self)",
        "fn f(self: std::pin::Pin<&mut Self>)",
    ] {
        refused(
            sig,
            "a `#[task_token_guard]` call moves to a worker thread, so it cannot borrow `self`",
        );
    }
}

#[test]
fn borrowed_arguments_are_refused_with_an_owned_suggestion() {
    let head = "a `#[task_token_guard]` call moves its arguments to a worker thread, so they cannot borrow";
    assert_eq!(
        messages("fn f(x: &str)"),
        [format!("{head}; take an owned type such as `String`")]
    );
    assert_eq!(
        messages("fn f(x: &mut [u8])"),
        [format!("{head}; take an owned type such as `Vec<T>`")]
    );
    assert_eq!(
        messages("fn f(x: &mut Vec<u8>)"),
        [format!(
            "{head}; take an owned type, or share it with `Arc<T>`"
        )]
    );
    assert_eq!(
        messages("fn f<'a>(x: Cow<'a, str>)"),
        [format!(
            "{head} for `'a`; take an owned type, or one that borrows only for `'static`"
        )]
    );
    refused("fn f(x: Foo<'_>)", head);
    refused("fn f(x: Box<dyn Trait + 'a>)", head);
    refused("fn f(x: impl Iterator<Item = &'a u8>)", head);
    refused("fn f(x: Option<&'static &'a u8>)", head);
    refused("fn f(x: Vec<fn(&'a str)>)", head);
}

#[test]
fn borrowed_return_types_are_refused() {
    refused(
        "fn f(self) -> &str",
        "a `#[task_token_guard]` call returns its value from a worker thread, so the return type cannot borrow; return an owned type such as `String`",
    );
}

#[test]
fn never_is_refused_with_a_type_that_has_values() {
    let never = "a `#[task_token_guard]` fn cannot return `!`: the `TaskToken` it returns \
                 resolves to the fn's value, so the fn must have one; for a fn that never \
                 returns, return";
    for sig in ["fn f() -> !", "fn f(x: u8) -> (!)"] {
        refused(sig, never);
        assert!(
            messages(sig)[0].ends_with(
                "return `()` or `std::convert::Infallible` instead and keep the body as it is"
            ),
            "{sig}"
        );
    }
    // `Infallible` has no serde impls: a process-pool fn is told `()` alone.
    process_refused("fn f() -> !", &[never]);
    assert!(
        messages_as("fn f() -> !", true)[0]
            .ends_with("return `()` instead and keep the body as it is")
    );
    // `!` inside a type is rustc's to refuse, as without the attribute.
    accepted("fn f() -> Result<u8, fn() -> !>");
}

#[test]
fn ref_bindings_are_refused() {
    refused(
        "fn f(ref x: u8)",
        "a `#[task_token_guard]` call moves its arguments to a worker thread, so a pattern cannot bind them by reference",
    );
    refused(
        "fn f((a, ref mut b): (u8, u8))",
        "a `#[task_token_guard]` call moves its arguments",
    );
}

#[test]
fn every_mistake_is_reported() {
    assert_eq!(
        messages("async unsafe fn f(&self, x: &str, y: &[u8]) -> &u8").len(),
        6
    );
}

/// Asserts that `sig` is accepted as a `process_pool` fn.
fn process_accepted(sig: &str) {
    assert_eq!(messages_as(sig, true), Vec::<String>::new(), "{sig}");
}

/// Asserts that `sig` is refused as a `process_pool` fn with one message per
/// entry of `starts`, in order, each starting with it.
fn process_refused(sig: &str, starts: &[&str]) {
    let messages = messages_as(sig, true);
    assert_eq!(messages.len(), starts.len(), "{sig}: {messages:?}");
    for (message, start) in messages.iter().zip(starts) {
        assert!(message.starts_with(start), "{sig}: {messages:?}");
    }
}

#[test]
fn process_pool_signatures_are_accepted() {
    process_accepted("fn f()");
    process_accepted("fn f(a: u8, (b, c): (String, Vec<u8>), mut d: u32, _: u8) -> u64");
    process_accepted("fn f<'a>(x: u8) -> Vec<u8> where 'a: 'a");
    process_accepted("fn f(x: self::Item) -> super::Item");
}

#[test]
fn process_pool_refuses_any_self() {
    let no_self = "a `process_pool = true` fn is found by op name in a worker process, so it \
                   must be a free fn or an associated fn without `self`";
    for sig in [
        "fn f(self)",
        "fn f(mut self, x: u8)",
        "fn f(self: Box<Self>)",
    ] {
        process_refused(sig, &[no_self]);
    }
    // Borrowed: the one message, not also the suggestion to take it by value.
    process_refused("fn f(&self)", &[no_self]);
    process_refused("fn f(&mut self) -> u8", &[no_self]);
}

#[test]
fn process_pool_refuses_type_and_const_parameters() {
    let generic = "a `process_pool = true` fn cannot have type parameters: a worker process \
                   finds the fn by op name, which must name one concrete fn";
    process_refused("fn f<T: Send + 'static>(x: T) -> u8", &[generic]);
    process_refused(
        "fn f<'a, T, const N: usize>(x: [u8; N])",
        &[
            generic,
            "a `process_pool = true` fn cannot have const parameters",
        ],
    );
}

#[test]
fn process_pool_refuses_impl_trait() {
    process_refused(
        "fn f(x: impl Into<u64> + Send + 'static, y: Vec<impl Sized>)",
        &[
            "a `process_pool = true` fn cannot take `impl Trait`: a worker process decodes the \
             argument, which needs its concrete type; name the type",
            "a `process_pool = true` fn cannot take `impl Trait`",
        ],
    );
    process_refused(
        "fn f() -> Option<impl Send>",
        &["a `process_pool = true` fn cannot return `impl Trait`: the caller decodes the value"],
    );
}

#[test]
fn process_pool_refuses_self_types() {
    let no_self_type = "a `process_pool = true` fn runs its body as a fn of its own, where \
                        `Self` is not in scope; write the type's name";
    process_refused("fn f(x: Vec<Self>) -> Self", &[no_self_type, no_self_type]);
    process_refused(
        "fn f(x: <Self as Tr>::Out) where Self: Sized",
        &[no_self_type, no_self_type],
    );
}

#[test]
fn process_pool_keeps_the_other_checks() {
    assert_eq!(
        messages_as("async fn f<T>(&self, x: &str) -> impl Send", true).len(),
        5
    );
}

#[test]
fn a_remote_fn_is_checked_as_a_process_pool_fn_in_its_own_words() {
    let remote = |sig| messages_crossing(sig, Some(Crossing::Remote));
    assert_eq!(
        remote("fn f(a: u8, data: Vec<u8>) -> u64"),
        Vec::<String>::new()
    );
    assert_eq!(
        remote("fn f(&self, x: u8)"),
        [
            "a `remote` fn is found by op name in a worker host, so it must be a free fn or an \
          associated fn without `self`; pass what the call needs as arguments"
        ]
    );
    assert_eq!(
        remote("fn f<T>(x: T)"),
        [
            "a `remote` fn cannot have type parameters: a worker host finds the fn by op name, \
          which must name one concrete fn; use concrete types, or drop `remote`"
        ]
    );
    assert_eq!(
        remote("fn f(x: impl Send) -> Self"),
        [
            "a `remote` fn cannot take `impl Trait`: a worker host decodes the argument, which \
             needs its concrete type; name the type",
            "a `remote` fn runs its body as a fn of its own, where `Self` is not in scope; \
             write the type's name",
        ]
    );
}

/// The message for `retry_on = ["err"]` on a fn with signature `sig`, if any.
fn retry_err_message(sig: &str) -> Option<String> {
    let mut errors = crate::errors::Errors::default();
    let args =
        crate::args::GuardArgs::parse(quote::quote!(retries = 1, retry_on = ["err"]), &mut errors);
    assert!(errors.finish().is_ok());
    let sig: Signature = syn::parse_str(sig).unwrap();
    super::retry_err(&sig, &args).err().map(|e| e.to_string())
}

#[test]
fn err_retries_need_a_result_as_written() {
    for sig in [
        "fn f() -> Result<u8, String>",
        "fn f() -> std::io::Result<u8>",
        "fn f() -> anyhow::Result<()>",
        "fn f() -> (Result<u8, String>)",
        "fn f() -> ::core::result::Result<u8, ()>",
    ] {
        assert_eq!(retry_err_message(sig), None, "{sig}");
    }
    let refused = |returns: &str| {
        format!(
            "`\"err\"` in `retry_on` needs a fn that returns `Result`, to retry its `Err` \
             values, but this fn returns {returns}; return a `Result<T, E>`, or remove `\"err\"`"
        )
    };
    assert_eq!(retry_err_message("fn f()"), Some(refused("nothing")));
    for sig in [
        "fn f() -> u8",
        "fn f() -> Option<Result<u8, ()>>",
        "fn f() -> impl Into<Result<u8, ()>>",
        "fn f() -> Outcome",
    ] {
        assert_eq!(
            retry_err_message(sig),
            Some(refused("a type not written as `Result<..>`")),
            "{sig}"
        );
    }
}
