//! The decorated fn, parsed only as far as the rewrite needs: the body stays
//! tokens, since it is moved into a closure as it is.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Signature, Visibility, braced, token};

/// A fn item with its body kept as tokens.
pub(crate) struct GuardedFn {
    /// Outer attributes and doc comments, kept on the rewritten fn.
    pub(crate) attrs: Vec<Attribute>,
    /// `pub`, `pub(crate)`, … or nothing.
    pub(crate) vis: Visibility,
    /// Everything from `const`/`async`/`fn` to the end of the where clause.
    pub(crate) sig: Signature,
    /// `#![…]` at the top of the body; they apply to the fn, so they stay at the
    /// top of the rewritten fn's body rather than moving into the closure.
    pub(crate) inner_attrs: Vec<Attribute>,
    /// The braces of the body, whose span the closure's block reuses.
    pub(crate) brace: token::Brace,
    /// The statements of the body, after the inner attributes.
    pub(crate) body: TokenStream,
}

impl Parse for GuardedFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let content;
        let brace = braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let body = content.parse()?;
        Ok(GuardedFn {
            attrs,
            vis,
            sig,
            inner_attrs,
            brace,
            body,
        })
    }
}
