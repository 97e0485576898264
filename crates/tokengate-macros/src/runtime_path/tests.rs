#![cfg(test)]

use quote::{ToTokens as _, quote};

use super::RuntimePath;

/// The path `RuntimePath` makes of `given`, as text.
fn named(given: Option<&str>) -> String {
    let given = given.map(|text| syn::parse_str::<syn::Path>(text).unwrap());
    RuntimePath::new(given.as_ref())
        .to_token_stream()
        .to_string()
}

#[test]
fn the_default_is_tokengate_from_the_extern_prelude() {
    assert_eq!(named(None), quote!(::tokengate).to_string());
}

#[test]
fn a_path_that_starts_with_a_name_is_taken_from_the_extern_prelude() {
    assert_eq!(
        named(Some("my_reexport::tokengate")),
        quote!(::my_reexport::tokengate).to_string()
    );
    assert_eq!(named(Some("renamed")), quote!(::renamed).to_string());
}

#[test]
fn a_path_that_says_where_it_starts_is_kept() {
    for text in [
        "::tg",
        "crate::reexport::tg",
        "self::tg",
        "super::super::tg",
    ] {
        let as_written = syn::parse_str::<syn::Path>(text).unwrap();
        assert_eq!(named(Some(text)), as_written.to_token_stream().to_string());
    }
}
