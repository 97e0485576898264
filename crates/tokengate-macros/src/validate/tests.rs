#![cfg(test)]

use syn::Signature;

use super::signature;

/// Every message for the signature `sig`, in order.
fn messages(sig: &str) -> Vec<String> {
    let sig: Signature = syn::parse_str(sig).unwrap();
    match signature(&sig) {
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
