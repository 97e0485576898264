//! The decorated fn, parsed only as far as the rewrite needs: the body stays
//! tokens, since it is moved into a closure as it is.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, FnArg, Signature, Visibility, braced, token};

/// A fn item with its body kept as tokens.
pub(crate) struct GuardedFn {
    /// Outer attributes and doc comments, kept on the rewritten fn.
    pub(crate) attrs: Vec<Attribute>,
    /// `pub`, `pub(crate)`, … or nothing.
    pub(crate) vis: Visibility,
    /// Everything from `const`/`async`/`fn` to the end of the where clause,
    /// without the `#[key]` markers.
    pub(crate) sig: Signature,
    /// The `#[key]` markers taken out of `sig`, in the order written.
    pub(crate) key_markers: Vec<KeyMarker>,
    /// `#![…]` at the top of the body; they apply to the fn, so they stay at the
    /// top of the rewritten fn's body rather than moving into the closure.
    pub(crate) inner_attrs: Vec<Attribute>,
    /// The braces of the body, whose span the closure's block reuses.
    pub(crate) brace: token::Brace,
    /// The statements of the body, after the inner attributes.
    pub(crate) body: TokenStream,
}

/// A `#[key]` marker, written on a parameter to make it part of the call's
/// key: `fn settle(#[key] account: u64, amount: i64)`.
///
/// Every attribute named `key` on a parameter is one, whatever follows the
/// name (`#[key(x)]`, `#[key = 1]`), so that a malformed marker is reported by
/// `validate` rather than left in the signature, where rustc would not know
/// the attribute.
pub(crate) struct KeyMarker {
    /// The position of the parameter it marks, `self` included.
    pub(crate) index: usize,
    /// Whether that parameter is `self`.
    pub(crate) on_receiver: bool,
    /// The marker as written, for the span of its errors.
    pub(crate) attr: Attribute,
}

impl GuardedFn {
    /// The positions of the parameters marked `#[key]`, in order, each once;
    /// `self` never counts. Empty when no argument is marked.
    pub(crate) fn key_arguments(&self) -> Vec<usize> {
        let mut marked: Vec<usize> = self
            .key_markers
            .iter()
            .filter(|marker| !marker.on_receiver)
            .map(|marker| marker.index)
            .collect();
        marked.dedup();
        marked
    }
}

impl Parse for GuardedFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let mut sig = input.parse()?;
        let key_markers = take_key_markers(&mut sig);
        let content;
        let brace = braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let body = content.parse()?;
        Ok(GuardedFn {
            attrs,
            vis,
            sig,
            key_markers,
            inner_attrs,
            brace,
            body,
        })
    }
}

/// Removes every `#[key]` marker from the parameters of `sig`, keeping their
/// other attributes, and returns the markers in the order written.
fn take_key_markers(sig: &mut Signature) -> Vec<KeyMarker> {
    let mut markers = Vec::new();
    for (index, input) in sig.inputs.iter_mut().enumerate() {
        let (attrs, on_receiver) = match input {
            FnArg::Receiver(receiver) => (&mut receiver.attrs, true),
            FnArg::Typed(arg) => (&mut arg.attrs, false),
        };
        let (keys, others): (Vec<Attribute>, _) = std::mem::take(attrs)
            .into_iter()
            .partition(|attr| attr.path().is_ident("key"));
        *attrs = others;
        markers.extend(keys.into_iter().map(|attr| KeyMarker {
            index,
            on_receiver,
            attr,
        }));
    }
    markers
}
