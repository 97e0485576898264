//! Parsing the attribute's arguments: `op = "…", weight = "…", timeout = "…"`.
//!
//! Parsing has two layers. The *syntax* is a comma-separated list of
//! `key = value` pairs ([`Entry`]); a syntax error stops the list there. Each
//! entry is then checked on its own against the [`Key`] table: an unknown key, a
//! repeated key or a bad value is one error on that entry's token, and the other
//! entries still count. Every error is recorded, and a key that was refused is
//! left at its default, so the fn is still expanded.
//!
//! # Adding a key
//!
//! 1. a variant in [`Key`], with its row in [`Key::ALL`], [`Key::name`] and
//!    [`Key::example`];
//! 2. a field in [`GuardArgs`] and its arm in `GuardArgs::set`, which converts
//!    the value (see [`expect_str`] for the common case);
//! 3. its `Site` setter in `expand.rs`.

use proc_macro2::TokenStream;
use syn::ext::IdentExt as _;
use syn::parse::{Parse, ParseStream, Parser as _};
use syn::{Expr, Ident, Lit, LitStr, Token};

use crate::errors::Errors;
use crate::timeout;

/// How the attribute is named in messages.
pub(crate) const ATTRIBUTE: &str = "`#[task_token_guard]`";

/// The keys the attribute accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// `op = "name"`: the operation name.
    Op,
    /// `weight = "light" | "medium" | "heavy"`.
    Weight,
    /// `timeout = "250ms"`.
    Timeout,
}

impl Key {
    /// Every key, in the order messages list them.
    const ALL: [Key; 3] = [Key::Op, Key::Weight, Key::Timeout];

    /// The key as written in the attribute.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Key::Op => "op",
            Key::Weight => "weight",
            Key::Timeout => "timeout",
        }
    }

    /// A valid value, shown in messages that suggest one.
    const fn example(self) -> &'static str {
        match self {
            Key::Op => "prime_check",
            Key::Weight => "heavy",
            Key::Timeout => "250ms",
        }
    }

    /// Looks `ident` up in the table; the error lists every valid key.
    fn from_ident(ident: &Ident) -> syn::Result<Key> {
        let name = ident.unraw();
        Key::ALL
            .into_iter()
            .find(|key| name == key.name())
            .ok_or_else(|| {
                let expected = backticked(Key::ALL.into_iter().map(Key::name));
                syn::Error::new(
                    ident.span(),
                    format!("unknown key `{name}` in {ATTRIBUTE}; expected one of {expected}"),
                )
            })
    }
}

/// The weight class of a guarded fn; mirrors `::tokengate::Weight`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Weight {
    /// `"light"`.
    Light,
    /// `"medium"`, the default.
    Medium,
    /// `"heavy"`.
    Heavy,
}

impl Weight {
    /// Every weight, in the order messages list them.
    const ALL: [Weight; 3] = [Weight::Light, Weight::Medium, Weight::Heavy];

    /// The weight as written in the attribute.
    const fn name(self) -> &'static str {
        match self {
            Weight::Light => "light",
            Weight::Medium => "medium",
            Weight::Heavy => "heavy",
        }
    }

    /// The name of the matching `::tokengate::Weight` variant.
    pub(crate) const fn variant(self) -> &'static str {
        match self {
            Weight::Light => "Light",
            Weight::Medium => "Medium",
            Weight::Heavy => "Heavy",
        }
    }

    /// Parses a weight, ignoring ASCII case; the error is on the literal.
    fn from_lit(lit: &LitStr) -> syn::Result<Weight> {
        let value = lit.value();
        Weight::ALL
            .into_iter()
            .find(|weight| weight.name().eq_ignore_ascii_case(&value))
            .ok_or_else(|| {
                let expected = backticked(Weight::ALL.into_iter().map(Weight::name));
                syn::Error::new(
                    lit.span(),
                    format!("unknown weight `{value}`; expected one of {expected}"),
                )
            })
    }
}

/// The attribute's arguments. `None` means the key was not given, or was given
/// with a value that was refused; either way the default applies.
#[derive(Default)]
pub(crate) struct GuardArgs {
    /// `op = "…"`; the expansion falls back to the fn's name.
    pub(crate) op: Option<LitStr>,
    /// `weight = "…"`; the runtime falls back to medium.
    pub(crate) weight: Option<Weight>,
    /// `timeout = "…"`, in nanoseconds; the runtime falls back to none.
    pub(crate) timeout_nanos: Option<u64>,
    /// The keys met so far, valid value or not, to refuse a second occurrence.
    seen: Vec<Key>,
}

impl GuardArgs {
    /// Parses the attribute's arguments, recording every mistake in `errors`.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> GuardArgs {
        let mut entries = Vec::new();
        // On a syntax error, keep the entries before it.
        let parser = |input: ParseStream<'_>| -> syn::Result<()> {
            while !input.is_empty() {
                entries.push(input.parse::<Entry>()?);
                if input.is_empty() {
                    break;
                }
                input.parse::<Token![,]>()?;
            }
            Ok(())
        };
        errors.ok(parser.parse2(tokens));

        let mut args = GuardArgs::default();
        for entry in entries {
            errors.ok(args.set(entry));
        }
        args
    }

    /// Applies one `key = value` entry.
    fn set(&mut self, Entry { key: ident, value }: Entry) -> syn::Result<()> {
        let key = Key::from_ident(&ident)?;
        self.set_once(key, &ident)?;
        match key {
            Key::Op => self.op = Some(non_empty_op(expect_str(key, &value)?)?),
            Key::Weight => self.weight = Some(Weight::from_lit(&expect_str(key, &value)?)?),
            Key::Timeout => {
                let lit = expect_str(key, &value)?;
                let nanos = timeout::parse_nanos(&lit.value())
                    .map_err(|e| syn::Error::new(lit.span(), e))?;
                self.timeout_nanos = Some(nanos);
            }
        }
        Ok(())
    }

    /// Marks `key` as given; the *second* occurrence is the error, on its key.
    fn set_once(&mut self, key: Key, ident: &Ident) -> syn::Result<()> {
        if self.seen.contains(&key) {
            return Err(syn::Error::new(
                ident.span(),
                format!("duplicate key `{}` in {ATTRIBUTE}", key.name()),
            ));
        }
        self.seen.push(key);
        Ok(())
    }
}

/// One `key = value` pair, not yet checked.
struct Entry {
    /// The key; any identifier, so that `type = …` is an unknown key rather than
    /// a syntax error.
    key: Ident,
    /// The value; any expression, so that `weight = heavy` gets a precise error.
    value: Expr,
}

impl Parse for Entry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key = input.call(Ident::parse_any)?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "expected `=` after `{}`; {ATTRIBUTE} takes `key = \"value\"` pairs",
                    key.unraw()
                ),
            ));
        }
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(Entry { key, value })
    }
}

/// The string literal of `key = "…"`, or an error on the value suggesting the
/// quoted form.
fn expect_str(key: Key, value: &Expr) -> syn::Result<LitStr> {
    let mut value = value;
    // A value passed through a `macro_rules!` fragment arrives in an invisible group.
    while let Expr::Group(group) = value {
        value = &group.expr;
    }
    // Suggest quoting what was written, when that is a word or a literal such as
    // `heavy` or `250ms`; otherwise show the key's example.
    let written = match value {
        Expr::Lit(expr) => match &expr.lit {
            Lit::Str(lit) => return Ok(lit.clone()),
            Lit::Int(lit) => Some(lit.to_string()),
            Lit::Float(lit) => Some(lit.to_string()),
            _ => None,
        },
        Expr::Path(expr) if expr.qself.is_none() => {
            expr.path.get_ident().map(|ident| ident.unraw().to_string())
        }
        _ => None,
    };
    let suggestion = written.unwrap_or_else(|| key.example().to_owned());
    Err(syn::Error::new_spanned(
        value,
        format!(
            "expected a string literal for `{name}`, such as `{name} = \"{suggestion}\"`",
            name = key.name()
        ),
    ))
}

/// `op` as given, unless it is empty.
fn non_empty_op(lit: LitStr) -> syn::Result<LitStr> {
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!(
                "`op` must not be empty; name the operation, such as `op = \"{}\"`, \
                 or leave `op` out to use the fn's name",
                Key::Op.example()
            ),
        ));
    }
    Ok(lit)
}

/// The default `op`: the fn's name, without any `r#`.
pub(crate) fn default_op(fn_name: &Ident) -> LitStr {
    LitStr::new(&fn_name.unraw().to_string(), fn_name.span())
}

/// `` `a`, `b`, `c` ``, as messages list valid choices.
fn backticked(names: impl Iterator<Item = &'static str>) -> String {
    names
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
