//! The path the expansion names the runtime by: `::tokengate`, or the path
//! given with `crate = "…"` by code that reaches tokengate through a
//! re-export, such as a framework whose users do not depend on tokengate
//! themselves.
//!
//! Every runtime item the expansion names starts with this path
//! (`#runtime::TaskToken`, `#runtime::__private::submit`, …), including the
//! `linkme` registration of a process-pool fn, whose own crate path is
//! `#runtime::__private::linkme`.
//!
//! # Spans
//!
//! The default, `::tokengate`, is written by the expansion, so it takes the
//! span of the code it starts (see [`RuntimePath::at`]), as every token the
//! expansion writes there does. A given path keeps the span of its string
//! literal: it was written there, and a path that does not resolve is then
//! reported there, once, rather than at every place the expansion names the
//! runtime.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote_spanned};
use syn::{Path, PathSegment, Token};

/// The runtime's path; see the module doc.
pub(crate) struct RuntimePath {
    /// `None` for `::tokengate`; else the given path, made absolute (see
    /// [`RuntimePath::new`]).
    given: Option<Path>,
}

impl RuntimePath {
    /// `::tokengate`, or `given`. A given path whose first name could be a
    /// crate's is taken from the extern prelude, as `::tokengate` is:
    /// `my_reexport::tokengate` becomes `::my_reexport::tokengate`, which a
    /// local module named `my_reexport` cannot hide. A path that starts with
    /// `::`, `crate`, `self` or `super` says where it starts, and is kept as
    /// written.
    pub(crate) fn new(given: Option<&Path>) -> RuntimePath {
        let given = given.map(|path| {
            let mut path = path.clone();
            if path.leading_colon.is_none() && !starts_at_a_module(&path) {
                let span = path
                    .segments
                    .first()
                    .map_or_else(Span::call_site, |segment| segment.ident.span());
                path.leading_colon = Some(Token![::](span));
            }
            path
        });
        RuntimePath { given }
    }

    /// The path, to be followed by `::item`, in code spanned at `span`: the
    /// default is spanned there too, a given path keeps its literal's span
    /// (see the module doc).
    pub(crate) fn at(&self, span: Span) -> TokenStream {
        match &self.given {
            None => quote_spanned!(span=> ::tokengate),
            Some(path) => path.to_token_stream(),
        }
    }
}

/// The path, at the call site: for code that the expansion does not span on
/// the user's tokens.
impl ToTokens for RuntimePath {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(self.at(Span::call_site()));
    }
}

/// Whether `path` starts with `crate`, `self` or `super`, which name a module
/// of the current crate, and cannot follow a leading `::`.
fn starts_at_a_module(path: &Path) -> bool {
    path.segments
        .first()
        .is_some_and(|PathSegment { ident, .. }| {
            ident == "crate" || ident == "self" || ident == "super"
        })
}

#[cfg(test)]
mod tests;
