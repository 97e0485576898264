#![cfg(test)]

use proc_macro2::TokenStream;
use quote::quote;

use super::{DigestPolicy, GuardArgs, HashPolicy, RetryCause, StorageSpeed, Weight};
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
    assert_eq!(args.storage_speed, None);
    assert!(args.sticky_anchor.is_none());
    assert!(args.external_calls.is_none());
    assert_eq!(args.hash_policy, None);
    assert_eq!(args.digest_policy, None);
    assert!(!args.process_pool);
    assert!(args.limit.is_none());
    assert_eq!(args.queue_timeout_nanos, None);
    assert_eq!(args.retries, None);
    assert_eq!(args.retry_backoff_nanos, None);
    assert!(args.retry_on.is_none());
    assert_eq!(args.memory_limit, None);
    assert!(args.remote.is_none());
    assert!(args.crate_path.is_none());
    assert_eq!(args.key_policy(), None);
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
        [
            "unknown key `foo` in `#[task_token_guard]`; expected one of `op`, `weight`, \
             `timeout`, `storage_speed`, `sticky_anchor`, `external_calls`, `hash_policy`, \
             `digest_policy`, `process_pool`, `limit`, `queue_timeout`, `retries`, \
             `retry_backoff`, `retry_on`, `memory_limit`, `remote`, `crate`"
        ]
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

/// The values of `external_calls`, as strings.
fn calls(args: &GuardArgs) -> Option<Vec<String>> {
    args.external_calls
        .as_ref()
        .map(|calls| calls.iter().map(syn::LitStr::value).collect())
}

#[test]
fn every_new_key() {
    let args = parse_ok(quote!(
        sticky_anchor = "user",
        hash_policy = "fast",
        digest_policy = "short"
    ));
    assert_eq!(args.sticky_anchor.as_ref().unwrap().value(), "user");
    assert_eq!(args.hash_policy, Some(HashPolicy::Fast));
    assert_eq!(args.digest_policy, Some(DigestPolicy::Short));
    assert_eq!(args.key_policy(), Some(HashPolicy::Fast));

    let args = parse_ok(quote!(
        external_calls = ["child_op", "other_op"],
        digest_policy = "minimal"
    ));
    assert_eq!(calls(&args).unwrap(), ["child_op", "other_op"]);
    assert_eq!(args.digest_policy, Some(DigestPolicy::Minimal));
    // A lead without a `hash_policy` seeds from its token id, not a key.
    assert_eq!(args.key_policy(), Some(HashPolicy::None));

    let args = parse_ok(quote!(storage_speed = "SLOW", weight = "light"));
    assert_eq!(args.storage_speed, Some(StorageSpeed::Slow));
    assert_eq!(args.weight, Some(Weight::Light));
}

#[test]
fn a_sticky_fn_hashes_with_standard_by_default() {
    let args = parse_ok(quote!(sticky_anchor = "user"));
    assert_eq!(args.hash_policy, None);
    assert_eq!(args.key_policy(), Some(HashPolicy::Standard));
}

#[test]
fn choices_ignore_case() {
    for (text, speed) in [
        ("slow", StorageSpeed::Slow),
        ("Moderate", StorageSpeed::Moderate),
        ("FAST", StorageSpeed::Fast),
        ("iNsAnE", StorageSpeed::Insane),
    ] {
        assert_eq!(
            parse_ok(quote!(storage_speed = #text)).storage_speed,
            Some(speed)
        );
    }
    for (text, policy) in [
        ("NONE", HashPolicy::None),
        ("fast", HashPolicy::Fast),
        ("Standard", HashPolicy::Standard),
        ("FULL", HashPolicy::Full),
    ] {
        let args = parse_ok(quote!(sticky_anchor = "a", hash_policy = #text));
        assert_eq!(args.hash_policy, Some(policy));
    }
    for (text, policy) in [
        ("FULL", DigestPolicy::Full),
        ("short", DigestPolicy::Short),
        ("Fast", DigestPolicy::Fast),
        ("minimal", DigestPolicy::Minimal),
    ] {
        let args = parse_ok(quote!(sticky_anchor = "a", digest_policy = #text));
        assert_eq!(args.digest_policy, Some(policy));
    }
}

#[test]
fn unknown_choices_list_the_valid_ones() {
    let (args, messages) = parse(quote!(storage_speed = "warp"));
    assert_eq!(
        messages,
        ["unknown storage speed `warp`; expected one of `SLOW`, `MODERATE`, `FAST`, `INSANE`"]
    );
    assert_eq!(args.storage_speed, None);

    let (args, messages) = parse(quote!(sticky_anchor = "a", hash_policy = "sha"));
    assert_eq!(
        messages,
        ["unknown hash policy `sha`; expected one of `none`, `fast`, `standard`, `full`"]
    );
    assert_eq!(args.hash_policy, None);

    let (_, messages) = parse(quote!(sticky_anchor = "a", digest_policy = "md5"));
    assert_eq!(
        messages,
        ["unknown digest policy `md5`; expected one of `full`, `short`, `fast`, `minimal`"]
    );

    let (_, messages) = parse(quote!(storage_speed = FAST));
    assert_eq!(
        messages,
        ["expected a string literal for `storage_speed`, such as `storage_speed = \"FAST\"`"]
    );
}

#[test]
fn empty_sticky_anchor_is_refused() {
    let (args, messages) = parse(quote!(sticky_anchor = " "));
    assert_eq!(
        messages,
        [
            "`sticky_anchor` must not be empty; name the sticky domain, such as \
             `sticky_anchor = \"user_session\"`"
        ]
    );
    assert!(args.sticky_anchor.is_none());
    assert_eq!(args.key_policy(), None);
}

#[test]
fn external_calls_must_be_a_list() {
    let (args, messages) = parse(quote!(external_calls = "child"));
    assert_eq!(
        messages,
        [
            "expected a list of string literals in brackets for `external_calls`, such as \
             `external_calls = [\"child\"]`"
        ]
    );
    assert!(args.external_calls.is_none());

    let (_, messages) = parse(quote!(external_calls = child));
    assert!(
        messages[0].ends_with("such as `external_calls = [\"child\"]`"),
        "{messages:?}"
    );
    let (_, messages) = parse(quote!(external_calls = f()));
    assert!(
        messages[0].ends_with("such as `external_calls = [\"child_op\"]`"),
        "{messages:?}"
    );
}

#[test]
fn external_calls_must_not_be_empty() {
    let (args, messages) = parse(quote!(external_calls = []));
    assert_eq!(
        messages,
        [
            "`external_calls` must not be empty; list the ops this fn calls, such as \
             `external_calls = [\"child_op\"]`, or leave `external_calls` out"
        ]
    );
    assert!(args.external_calls.is_none());
}

#[test]
fn every_bad_element_of_external_calls_is_reported() {
    let (args, messages) = parse(quote!(external_calls = ["a", "", b, "a", 1, "c", "c"]));
    assert_eq!(
        messages,
        [
            "an op in `external_calls` must not be empty; name an op this fn calls, such as \
             `\"child_op\"`",
            "expected a string literal in `external_calls`, such as `\"b\"`",
            "duplicate op `a` in `external_calls`",
            "expected a string literal in `external_calls`, such as `\"1\"`",
            "duplicate op `c` in `external_calls`",
        ]
    );
    // Any mistake refuses the whole list.
    assert!(args.external_calls.is_none());
}

#[test]
fn external_calls_through_a_macro_fragment() {
    // `$calls:expr` arrives in an invisible group.
    let list = syn::Expr::Group(syn::ExprGroup {
        attrs: Vec::new(),
        group_token: Default::default(),
        expr: Box::new(syn::parse_quote!(["x", "y"])),
    });
    let args = parse_ok(quote!(external_calls = #list));
    assert_eq!(calls(&args).unwrap(), ["x", "y"]);
}

const EITHER_OR: &str = "a fn is either a sticky domain member (`sticky_anchor`) or a lead \
                         (`external_calls`), not both; a lead's children follow the lead's \
                         worker group, while a sticky call follows its own domain's worker";

#[test]
fn sticky_and_lead_exclude_each_other_and_the_later_key_is_refused() {
    let (args, messages) = parse(quote!(sticky_anchor = "a", external_calls = ["c"]));
    assert_eq!(
        messages,
        [format!(
            "`external_calls` cannot be combined with `sticky_anchor`: {EITHER_OR}"
        )]
    );
    assert!(args.sticky_anchor.is_some());
    assert!(args.external_calls.is_none());

    let (args, messages) = parse(quote!(
        external_calls = ["c"],
        op = "x",
        sticky_anchor = "a"
    ));
    assert_eq!(
        messages,
        [format!(
            "`sticky_anchor` cannot be combined with `external_calls`: {EITHER_OR}"
        )]
    );
    assert!(args.sticky_anchor.is_none());
    assert!(args.external_calls.is_some());
}

#[test]
fn storage_speed_excludes_sticky_and_lead() {
    let (args, messages) = parse(quote!(storage_speed = "FAST", sticky_anchor = "a"));
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with(
            "`sticky_anchor` cannot be combined with `storage_speed`: a `storage_speed` call \
             is IO and runs on an IO thread, outside the core groups that sticky domains \
             route to"
        ),
        "{messages:?}"
    );
    assert!(args.sticky_anchor.is_none());
    assert_eq!(args.storage_speed, Some(StorageSpeed::Fast));

    let (args, messages) = parse(quote!(external_calls = ["c"], storage_speed = "FAST"));
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with("`storage_speed` cannot be combined with `external_calls`"),
        "{messages:?}"
    );
    assert!(args.external_calls.is_some());
    assert_eq!(args.storage_speed, None);
}

#[test]
fn three_exclusive_keys_give_one_error_per_refused_key() {
    let (args, messages) = parse(quote!(
        storage_speed = "FAST",
        sticky_anchor = "a",
        external_calls = ["c"]
    ));
    // In the order the refused keys were written.
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[0].starts_with("`sticky_anchor` cannot be combined with `storage_speed`"));
    assert!(messages[1].starts_with("`external_calls` cannot be combined with `sticky_anchor`"));
    assert!(args.sticky_anchor.is_none());
    assert!(args.external_calls.is_none());
    assert!(args.storage_speed.is_some());
}

#[test]
fn a_key_with_a_bad_value_still_counts_in_combinations() {
    let (_, messages) = parse(quote!(sticky_anchor = "", external_calls = ["c"]));
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[1].starts_with("`external_calls` cannot be combined"));
    // … and a key it makes useful is not reported as having no effect.
    let (_, messages) = parse(quote!(sticky_anchor = "", hash_policy = "fast"));
    assert_eq!(messages.len(), 1, "{messages:?}");
}

#[test]
fn digest_policy_needs_a_sticky_anchor_or_external_calls() {
    let (args, messages) = parse(quote!(op = "x", digest_policy = "short"));
    assert_eq!(
        messages,
        [
            "`digest_policy` has no effect here: only `sticky_anchor` keys and \
             `external_calls` seeds are digested; remove it or add one of those keys"
        ]
    );
    assert_eq!(args.digest_policy, None);
    parse_ok(quote!(digest_policy = "short", sticky_anchor = "a"));
    parse_ok(quote!(digest_policy = "short", external_calls = ["a"]));
}

#[test]
fn hash_policy_needs_a_sticky_anchor_or_external_calls() {
    let (args, messages) = parse(quote!(op = "x", hash_policy = "fast"));
    assert_eq!(
        messages,
        [
            "`hash_policy` has no effect here: it chooses how a sticky call's domain key, or a \
             lead's seed, is made from its arguments; remove it or add `sticky_anchor` or \
             `external_calls`"
        ]
    );
    assert_eq!(args.hash_policy, None);
    assert_eq!(args.key_policy(), None);
}

#[test]
fn a_lead_takes_every_hash_policy_and_seeds_from_its_token_id_by_default() {
    let args = parse_ok(quote!(external_calls = ["child"]));
    assert_eq!(args.key_policy(), Some(HashPolicy::None));
    for (text, policy) in [
        ("none", HashPolicy::None),
        ("fast", HashPolicy::Fast),
        ("standard", HashPolicy::Standard),
        ("full", HashPolicy::Full),
    ] {
        let args = parse_ok(quote!(external_calls = ["child"], hash_policy = #text));
        assert_eq!(args.key_policy(), Some(policy));
    }
    // As the original's lead example writes it.
    let args = parse_ok(quote!(
        op = "lead",
        weight = "medium",
        hash_policy = "fast",
        digest_policy = "fast",
        external_calls = ["child"]
    ));
    assert_eq!(args.key_policy(), Some(HashPolicy::Fast));
    assert_eq!(args.digest_policy, Some(DigestPolicy::Fast));
}

#[test]
fn limit_takes_a_name() {
    for name in ["github_api", "db.primary", "api-v2", "X9"] {
        let args = parse_ok(quote!(limit = #name));
        assert_eq!(args.limit.unwrap().value(), name);
    }
}

#[test]
fn limit_refuses_an_empty_name_or_other_characters() {
    let (args, messages) = parse(quote!(limit = " "));
    assert_eq!(
        messages,
        [
            "`limit` must not be empty; name the limit the calls share, such as \
             `limit = \"github_api\"`"
        ]
    );
    assert!(args.limit.is_none());
    let (args, messages) = parse(quote!(limit = "github api"));
    assert_eq!(
        messages,
        [
            "invalid character ' ' in limit name `github api`; a limit name is made of ASCII \
             letters, digits, `_`, `-` and `.`, such as `limit = \"github_api\"`"
        ]
    );
    assert!(args.limit.is_none());
    let (_, messages) = parse(quote!(limit = "gräf"));
    assert!(
        messages[0].starts_with("invalid character 'ä' in limit name `gräf`"),
        "{messages:?}"
    );
    let (_, messages) = parse(quote!(limit = github_api));
    assert_eq!(
        messages,
        ["expected a string literal for `limit`, such as `limit = \"github_api\"`"]
    );
}

#[test]
fn limit_goes_with_every_other_key() {
    for tokens in [
        quote!(limit = "a", process_pool = true),
        quote!(limit = "a", storage_speed = "FAST", weight = "heavy"),
        quote!(limit = "a", sticky_anchor = "s", hash_policy = "fast"),
        quote!(
            limit = "a",
            external_calls = ["child"],
            digest_policy = "short"
        ),
        quote!(process_pool = true, sticky_anchor = "s", limit = "a"),
    ] {
        assert_eq!(parse_ok(tokens).limit.unwrap().value(), "a");
    }
}

#[test]
fn process_pool_takes_a_bool() {
    assert!(parse_ok(quote!(process_pool = true)).process_pool);
    assert!(!parse_ok(quote!(process_pool = false)).process_pool);
    let args = parse_ok(quote!(op = "heavy", weight = "heavy", process_pool = true));
    assert!(args.process_pool);
    assert_eq!(args.weight, Some(Weight::Heavy));
}

#[test]
fn process_pool_refuses_anything_but_a_bool() {
    let expected = ["`process_pool` takes `true` or `false`, such as `process_pool = true`"];
    for value in [
        quote!(1),
        quote!("yes"),
        quote!(yes),
        quote!(!false),
        quote!([true]),
    ] {
        let (args, messages) = parse(quote!(process_pool = #value));
        assert_eq!(messages, expected, "{value}");
        assert!(!args.process_pool);
    }
    let (args, messages) = parse(quote!(process_pool = "true"));
    assert_eq!(
        messages,
        ["`process_pool` takes `true` or `false` without quotes: `process_pool = true`"]
    );
    assert!(!args.process_pool);
}

#[test]
fn process_pool_is_set_once() {
    let (args, messages) = parse(quote!(process_pool = true, process_pool = false));
    assert_eq!(
        messages,
        ["duplicate key `process_pool` in `#[task_token_guard]`"]
    );
    assert!(args.process_pool);
}

const POOL_OR_IO: &str = "a `storage_speed` call is IO and runs on an IO thread, while a \
                          `process_pool` call runs in a worker process; pick one";

#[test]
fn process_pool_excludes_storage_speed_and_the_later_key_is_refused() {
    let (args, messages) = parse(quote!(process_pool = true, storage_speed = "FAST"));
    assert_eq!(
        messages,
        [format!(
            "`storage_speed` cannot be combined with `process_pool`: {POOL_OR_IO}"
        )]
    );
    assert!(args.process_pool);
    assert_eq!(args.storage_speed, None);

    let (args, messages) = parse(quote!(storage_speed = "FAST", process_pool = true));
    assert_eq!(
        messages,
        [format!(
            "`process_pool` cannot be combined with `storage_speed`: {POOL_OR_IO}"
        )]
    );
    assert!(!args.process_pool);
    assert_eq!(args.storage_speed, Some(StorageSpeed::Fast));

    // A bad value still counts, as for the other keys.
    let (_, messages) = parse(quote!(storage_speed = "FAST", process_pool = 1));
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages[1].starts_with("`process_pool` cannot be combined"));
}

#[test]
fn process_pool_false_excludes_nothing() {
    let args = parse_ok(quote!(process_pool = false, storage_speed = "FAST"));
    assert!(!args.process_pool);
    assert_eq!(args.storage_speed, Some(StorageSpeed::Fast));
}

#[test]
fn process_pool_goes_with_sticky_and_lead() {
    let args = parse_ok(quote!(
        sticky_anchor = "user",
        hash_policy = "fast",
        process_pool = true
    ));
    assert!(args.process_pool);
    assert_eq!(args.key_policy(), Some(HashPolicy::Fast));

    let args = parse_ok(quote!(process_pool = true, external_calls = ["child_op"]));
    assert!(args.process_pool);
    assert_eq!(calls(&args).unwrap(), ["child_op"]);
}

/// The `crate = "…"` path, as text.
fn crate_path(args: &GuardArgs) -> Option<String> {
    args.crate_path
        .as_ref()
        .map(|path| quote!(#path).to_string())
}

#[test]
fn crate_takes_a_path_as_written() {
    for text in [
        "my_reexport::tokengate",
        "renamed",
        "::tg",
        "crate::reexport::tg",
        "super::tg",
    ] {
        let args = parse_ok(quote!(crate = #text, op = "x"));
        let path = syn::parse_str::<syn::Path>(text).unwrap();
        assert_eq!(crate_path(&args), Some(quote!(#path).to_string()));
        // The other keys still count.
        assert_eq!(args.op.unwrap().value(), "x");
    }
}

const CRATE_EXAMPLE: &str = "such as `crate = \"my_reexport::tokengate\"`";

#[test]
fn crate_refuses_anything_but_a_path() {
    for (text, what) in [
        ("not a path", "is not a path"),
        ("tokengate::", "is not a path"),
        ("a::b()", "is not a path"),
        ("1up", "is not a path"),
        ("a::b<T>", "has generic arguments"),
        ("a::<T>::b", "has generic arguments"),
    ] {
        let (args, messages) = parse(quote!(crate = #text));
        assert_eq!(
            messages,
            [format!(
                "`{text}` {what}; `crate` takes the path tokengate is reached by, \
                 {CRATE_EXAMPLE}"
            )]
        );
        assert!(args.crate_path.is_none());
    }
    for text in ["", "  "] {
        let (_, messages) = parse(quote!(crate = #text));
        assert_eq!(
            messages,
            [format!(
                "`crate` must not be empty; name the path tokengate is reached by, \
                 {CRATE_EXAMPLE}, or leave `crate` out to use `::tokengate`"
            )]
        );
    }
}

#[test]
fn crate_takes_a_string_literal() {
    let (args, messages) = parse(quote!(crate = reexport::tg));
    assert_eq!(
        messages,
        [format!(
            "expected a string literal for `crate`, {CRATE_EXAMPLE}"
        )]
    );
    assert!(args.crate_path.is_none());
    // A single word is suggested back, quoted.
    let (_, messages) = parse(quote!(crate = renamed));
    assert_eq!(
        messages,
        ["expected a string literal for `crate`, such as `crate = \"renamed\"`"]
    );
}

#[test]
fn crate_is_set_once() {
    let (args, messages) = parse(quote!(crate = "first", crate = "second"));
    assert_eq!(messages, ["duplicate key `crate` in `#[task_token_guard]`"]);
    assert_eq!(crate_path(&args).as_deref(), Some("first"));
}

#[test]
fn retries_takes_a_whole_number_up_to_100() {
    for (tokens, n) in [
        (quote!(retries = 0), 0),
        (quote!(retries = 3), 3),
        (quote!(retries = 100), 100),
        (quote!(retries = 7u32), 7),
    ] {
        assert_eq!(parse_ok(tokens).retries, Some(n));
    }
}

#[test]
fn retries_refuses_anything_else() {
    let too_many = |n: &str| {
        format!(
            "`retries = {n}` is too many; a call is retried at most 100 times: a failure that \
             outlasts that many attempts is not a passing one"
        )
    };
    let not_a_number = "`retries` takes a whole number from 0 to 100, such as `retries = 3`";
    for (tokens, message) in [
        (quote!(retries = 101), too_many("101")),
        (quote!(retries = 99999999999), too_many("99999999999")),
        (
            quote!(retries = "3"),
            "`retries` takes a number without quotes: `retries = 3`".to_owned(),
        ),
        (quote!(retries = "three"), not_a_number.to_owned()),
        (quote!(retries = 2.5), not_a_number.to_owned()),
        (quote!(retries = -1), not_a_number.to_owned()),
        (quote!(retries = many), not_a_number.to_owned()),
    ] {
        let (args, messages) = parse(tokens.clone());
        assert_eq!(messages, [message], "{tokens}");
        assert_eq!(args.retries, None);
    }
}

#[test]
fn retry_backoff_and_retry_on_go_with_retries() {
    let args = parse_ok(quote!(
        retries = 2,
        retry_backoff = "25ms",
        retry_on = ["panic", "Timeout", "WORKER_LOST"]
    ));
    assert_eq!(args.retries, Some(2));
    assert_eq!(args.retry_backoff_nanos, Some(25_000_000));
    let causes: Vec<RetryCause> = args.retry_on.iter().flatten().map(|(c, _)| *c).collect();
    assert_eq!(
        causes,
        [
            RetryCause::Panic,
            RetryCause::Timeout,
            RetryCause::WorkerLost
        ]
    );
    assert!(args.retry_err().is_none());
    // `retries = 0` counts as given.
    let args = parse_ok(quote!(retry_on = ["err"], retries = 0));
    assert_eq!(
        args.retry_err().map(|lit| lit.value()).as_deref(),
        Some("err")
    );
}

#[test]
fn retry_backoff_and_retry_on_without_retries_are_refused() {
    let (args, messages) = parse(quote!(retry_backoff = "10ms", retry_on = ["panic"]));
    assert_eq!(
        messages,
        [
            "`retry_backoff` has no effect without `retries`: it spaces the retries of a failed \
             call; add `retries = 3`, say, or remove it",
            "`retry_on` has no effect without `retries`: it chooses the failures that are \
             retried; add `retries = 3`, say, or remove it",
        ]
    );
    assert_eq!(args.retry_backoff_nanos, None);
    assert!(args.retry_on.is_none());
    // A refused `retries` still counts as written: its own error is enough.
    let (_, messages) = parse(quote!(retries = 1000, retry_backoff = "10ms"));
    assert_eq!(messages.len(), 1, "{messages:?}");
}

#[test]
fn retry_backoff_and_queue_timeout_are_durations_named_in_their_errors() {
    let args = parse_ok(quote!(queue_timeout = "100ms"));
    assert_eq!(args.queue_timeout_nanos, Some(100_000_000));
    for (tokens, message) in [
        (
            quote!(retries = 1, retry_backoff = "0ms"),
            "retry backoff `0ms` is zero; a retry backoff must be greater than zero, or leave \
             `retry_backoff` out for the default of 10ms",
        ),
        (
            quote!(queue_timeout = "soon"),
            "unparseable queue timeout `soon`; write a number and a unit, such as `250ms`, \
             `2s` or `1m`",
        ),
        (
            quote!(queue_timeout = 100),
            "expected a string literal for `queue_timeout`, such as `queue_timeout = \"100\"`",
        ),
    ] {
        let (args, messages) = parse(tokens.clone());
        assert_eq!(messages, [message], "{tokens}");
        assert_eq!(
            (args.retry_backoff_nanos, args.queue_timeout_nanos),
            (None, None)
        );
    }
}

#[test]
fn retry_on_refuses_unknown_repeated_and_missing_causes() {
    for (tokens, messages) in [
        (
            quote!(retries = 1, retry_on = ["panic", "oom", 3]),
            vec![
                "unknown retry cause `oom`; expected one of `panic`, `worker_lost`, `timeout`, \
                 `err`",
                "expected a string literal in `retry_on`, such as `\"3\"`",
            ],
        ),
        (
            quote!(retries = 1, retry_on = ["panic", "PANIC"]),
            vec!["duplicate cause `panic` in `retry_on`"],
        ),
        (
            quote!(retries = 1, retry_on = []),
            vec![
                "`retry_on` must not be empty; list the failures to retry, such as \
                 `retry_on = [\"worker_lost\"]`, or leave `retry_on` out to retry panics and \
                 lost workers",
            ],
        ),
        (
            quote!(retries = 1, retry_on = "panic"),
            vec![
                "expected a list of string literals in brackets for `retry_on`, such as \
                 `retry_on = [\"panic\"]`",
            ],
        ),
    ] {
        let (args, found) = parse(tokens.clone());
        assert_eq!(found, messages, "{tokens}");
        assert!(args.retry_on.is_none(), "{tokens}");
    }
}

#[test]
fn drop_retry_err_keeps_the_other_causes() {
    let mut args = parse_ok(quote!(retries = 1, retry_on = ["err", "panic"]));
    args.drop_retry_err();
    assert!(args.retry_err().is_none());
    let causes: Vec<RetryCause> = args.retry_on.iter().flatten().map(|(c, _)| *c).collect();
    assert_eq!(causes, [RetryCause::Panic]);
}

#[test]
fn memory_limit_takes_a_size_on_a_process_pool_fn() {
    let args = parse_ok(quote!(process_pool = true, memory_limit = "256MiB"));
    assert_eq!(args.memory_limit, Some(256 << 20));
    let args = parse_ok(quote!(memory_limit = "500MB", process_pool = true));
    assert_eq!(args.memory_limit, Some(500_000_000));
    let (args, messages) = parse(quote!(process_pool = true, memory_limit = "0GiB"));
    assert_eq!(
        messages,
        [
            "memory limit `0GiB` is zero; a memory limit must be greater than zero, or leave \
          `memory_limit` out for none"
        ]
    );
    assert_eq!(args.memory_limit, None);
}

#[test]
fn memory_limit_without_process_pool_is_refused() {
    let message = "`memory_limit` needs `process_pool = true`: the limit holds the worker \
                   process that runs the call, and a thread call shares its process with the \
                   whole program, so it cannot be bounded this way; add `process_pool = true` \
                   or remove `memory_limit`";
    for tokens in [
        quote!(memory_limit = "64MiB"),
        quote!(memory_limit = "64MiB", process_pool = false),
    ] {
        let (args, messages) = parse(tokens.clone());
        assert_eq!(messages, [message], "{tokens}");
        assert_eq!(args.memory_limit, None);
    }
    // `process_pool = true` refused for another reason: that error alone.
    let (_, messages) = parse(quote!(
        storage_speed = "FAST",
        process_pool = true,
        memory_limit = "64MiB"
    ));
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].starts_with("`process_pool` cannot be combined"));
}

#[test]
fn remote_takes_true_false_or_a_pool_name() {
    let pool = |tokens| parse_ok(tokens).remote.map(|lit| lit.value());
    assert_eq!(pool(quote!(remote = true)).as_deref(), Some("default"));
    assert_eq!(pool(quote!(remote = "gpu-2")).as_deref(), Some("gpu-2"));
    assert_eq!(pool(quote!(remote = false)), None);
    // Switched off, it excludes nothing.
    let args = parse_ok(quote!(remote = false, storage_speed = "FAST"));
    assert!(args.remote.is_none());
    let args = parse_ok(quote!(
        remote = true,
        process_pool = true,
        memory_limit = "64MiB"
    ));
    assert_eq!(args.memory_limit, Some(64 << 20));
    assert!(args.process_pool);
}

#[test]
fn remote_refuses_bad_values_on_the_value() {
    let name = "a pool name is 1 to 64 ASCII letters, digits, `_` and `-`, such as \
                `remote = \"gpu\"`, or `remote = true` for the default pool";
    for (tokens, expected) in [
        (
            quote!(remote = 1),
            "`remote` takes `true`, `false` or the name of a pool of worker hosts, such as \
             `remote = true` or `remote = \"gpu\"`"
                .to_owned(),
        ),
        (
            quote!(remote = "true"),
            "`remote` takes `true` or `false` without quotes: `remote = true`".to_owned(),
        ),
        (
            quote!(remote = "gpu pool"),
            format!("invalid character ' ' in pool name `gpu pool`; {name}"),
        ),
        (
            quote!(remote = ""),
            format!("the pool name must not be empty; {name}"),
        ),
    ] {
        let (args, messages) = parse(tokens);
        assert_eq!(messages, [expected]);
        assert!(args.remote.is_none());
    }
}

#[test]
fn remote_excludes_keys_that_cannot_work_across_hosts() {
    let (args, messages) = parse(quote!(remote = true, storage_speed = "FAST"));
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0].starts_with("`storage_speed` cannot be combined with `remote`: "),
        "{messages:?}"
    );
    assert!(args.remote.is_some());
    assert_eq!(args.storage_speed, None);

    // A remote lead runs on its worker host, its children with it; keying it
    // would share a domain across hosts, which cannot be.
    let (args, messages) = parse(quote!(external_calls = ["child"], remote = "gpu"));
    assert!(messages.is_empty(), "{messages:?}");
    assert!(args.remote.is_some() && args.external_calls.is_some());
    let (args, messages) = parse(quote!(
        remote = true,
        external_calls = ["child"],
        hash_policy = "fast",
        digest_policy = "short"
    ));
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with("`hash_policy` cannot key a `remote` lead: "),
        "{messages:?}"
    );
    assert!(
        messages[1].starts_with("`digest_policy` has no effect on a `remote` lead: "),
        "{messages:?}"
    );
    assert!(args.hash_policy.is_none() && args.digest_policy.is_none());
    assert!(args.remote.is_some() && args.external_calls.is_some());

    let (args, messages) = parse(quote!(remote = true, memory_limit = "64MiB"));
    assert_eq!(
        messages,
        [
            "`memory_limit` on a `remote` fn needs `process_pool = true` too: the limit holds \
          the worker process that runs the call on its worker host, and without \
          `process_pool` the call runs on a thread there, which cannot be bounded this way; \
          add `process_pool = true` or remove `memory_limit`"
        ]
    );
    assert_eq!(args.memory_limit, None);
}
