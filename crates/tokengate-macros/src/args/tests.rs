#![cfg(test)]

use proc_macro2::TokenStream;
use quote::quote;

use super::{GuardArgs, Weight};
use crate::errors::Errors;

/// Parses `tokens` and returns the arguments and every error message, in order.
fn parse(tokens: TokenStream) -> (GuardArgs, Vec<String>) {
    let mut errors = Errors::default();
    let args = GuardArgs::parse(tokens, &mut errors);
    let messages = match errors.finish() {
        Ok(()) => Vec::new(),
        Err(error) => error.into_iter().map(|e| e.to_string()).collect(),
    };
    (args, messages)
}

/// Parses `tokens`, which must be valid.
fn parse_ok(tokens: TokenStream) -> GuardArgs {
    let (args, messages) = parse(tokens);
    assert_eq!(messages, Vec::<String>::new());
    args
}

#[test]
fn no_arguments_means_defaults() {
    let args = parse_ok(quote!());
    assert!(args.op.is_none());
    assert_eq!(args.weight, None);
    assert_eq!(args.timeout_nanos, None);
}

#[test]
fn every_key() {
    let args = parse_ok(quote!(
        op = "prime_check",
        weight = "heavy",
        timeout = "250ms"
    ));
    assert_eq!(args.op.unwrap().value(), "prime_check");
    assert_eq!(args.weight, Some(Weight::Heavy));
    assert_eq!(args.timeout_nanos, Some(250_000_000));
}

#[test]
fn any_order_and_a_trailing_comma() {
    let args = parse_ok(quote!(timeout = "1.5s", op = "x",));
    assert_eq!(args.op.unwrap().value(), "x");
    assert_eq!(args.timeout_nanos, Some(1_500_000_000));
}

#[test]
fn weight_ignores_case() {
    for (text, weight) in [
        ("light", Weight::Light),
        ("Medium", Weight::Medium),
        ("HEAVY", Weight::Heavy),
    ] {
        assert_eq!(parse_ok(quote!(weight = #text)).weight, Some(weight));
    }
}

#[test]
fn unknown_key_lists_the_valid_keys() {
    let (_, messages) = parse(quote!(foo = "x"));
    assert_eq!(
        messages,
        ["unknown key `foo` in `#[task_token_guard]`; expected one of `op`, `weight`, `timeout`"]
    );
    // A keyword is an unknown key too, not a syntax error.
    let (_, messages) = parse(quote!(type = "x"));
    assert!(
        messages[0].starts_with("unknown key `type`"),
        "{messages:?}"
    );
}

#[test]
fn duplicate_key_is_refused_and_the_first_value_kept() {
    let (args, messages) = parse(quote!(weight = "light", weight = "heavy"));
    assert_eq!(
        messages,
        ["duplicate key `weight` in `#[task_token_guard]`"]
    );
    assert_eq!(args.weight, Some(Weight::Light));
    // The second occurrence is a duplicate even when the first had a bad value.
    let (_, messages) = parse(quote!(weight = "huge", weight = "heavy"));
    assert_eq!(
        messages,
        [
            "unknown weight `huge`; expected one of `light`, `medium`, `heavy`",
            "duplicate key `weight` in `#[task_token_guard]`",
        ]
    );
}

#[test]
fn unknown_weight() {
    let (args, messages) = parse(quote!(weight = "huge"));
    assert_eq!(
        messages,
        ["unknown weight `huge`; expected one of `light`, `medium`, `heavy`"]
    );
    assert_eq!(args.weight, None);
}

#[test]
fn bad_timeout_is_reported_with_the_parser_message() {
    let (args, messages) = parse(quote!(timeout = "abc"));
    assert_eq!(
        messages,
        ["unparseable timeout `abc`; write a number and a unit, such as `250ms`, `2s` or `1m`"]
    );
    assert_eq!(args.timeout_nanos, None);
}

#[test]
fn a_value_that_is_not_a_string_suggests_quoting_it() {
    let (_, messages) = parse(quote!(weight = heavy));
    assert_eq!(
        messages,
        ["expected a string literal for `weight`, such as `weight = \"heavy\"`"]
    );
    let (_, messages) = parse(quote!(timeout = 250ms));
    assert_eq!(
        messages,
        ["expected a string literal for `timeout`, such as `timeout = \"250ms\"`"]
    );
    let (_, messages) = parse(quote!(op = some::path()));
    assert_eq!(
        messages,
        ["expected a string literal for `op`, such as `op = \"prime_check\"`"]
    );
}

#[test]
fn empty_op_is_refused() {
    for op in ["", "  "] {
        let (args, messages) = parse(quote!(op = #op));
        assert_eq!(messages.len(), 1);
        assert!(
            messages[0].starts_with("`op` must not be empty"),
            "{messages:?}"
        );
        assert!(args.op.is_none());
    }
}

#[test]
fn every_mistake_is_reported_and_valid_keys_still_count() {
    let (args, messages) = parse(quote!(
        foo = 1,
        weight = "huge",
        op = "ok",
        timeout = "soon",
        op = "again"
    ));
    assert_eq!(messages.len(), 4, "{messages:?}");
    assert_eq!(args.op.unwrap().value(), "ok");
}

#[test]
fn a_syntax_error_keeps_the_entries_before_it() {
    let (args, messages) = parse(quote!(op = "kept", weight "heavy"));
    assert_eq!(
        messages,
        ["expected `=` after `weight`; `#[task_token_guard]` takes `key = \"value\"` pairs"]
    );
    assert_eq!(args.op.unwrap().value(), "kept");

    let (_, messages) = parse(quote!(op = "a" weight = "heavy"));
    assert_eq!(messages, ["expected `,`"]);
}
