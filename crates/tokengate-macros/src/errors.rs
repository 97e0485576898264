//! Collecting several `syn::Error`s so one build reports every mistake it can.

use proc_macro2::TokenStream;

/// Errors found so far; empty until the first [`push`](Self::push).
#[derive(Debug, Default)]
pub(crate) struct Errors {
    /// All errors combined into one, in the order they were found.
    combined: Option<syn::Error>,
}

impl Errors {
    /// Records `error` after the ones already found.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Records the error of `result`, if any, and returns its value.
    pub(crate) fn ok<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    /// The errors combined, or `Ok` when there are none.
    pub(crate) fn finish(self) -> syn::Result<()> {
        self.combined.map_or(Ok(()), Err)
    }

    /// One `compile_error!` per recorded error; nothing when there are none.
    pub(crate) fn to_compile_error(&self) -> TokenStream {
        self.combined
            .as_ref()
            .map(syn::Error::to_compile_error)
            .unwrap_or_default()
    }
}
