//! The keys whose value is one of a fixed set of names: `weight`,
//! `storage_speed`, `hash_policy` and `digest_policy`, and the elements of
//! `retry_on`.
//!
//! Each set of the keys is one `choices!` table, which writes the enum
//! (mirroring the runtime's), the names as written in the attribute and the
//! path, within the runtime, that the expansion names. The causes of
//! `retry_on` are bits of a mask in the runtime, not an enum, so
//! [`RetryCause`] is written out by hand. Parsing ignores ASCII case and
//! refuses anything else with one error on the literal that lists every valid
//! name.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::LitStr;

use super::backticked;
use crate::runtime_path::RuntimePath;

/// One set of names; see `choices!`.
pub(crate) trait Choice: Copy + Sized + 'static {
    /// What the value is, as messages call it: "weight", "storage speed", ….
    const KIND: &'static str;
    /// Every value, in the order messages list them.
    const ALL: &'static [Self];

    /// The value as written in the attribute.
    fn name(self) -> &'static str;

    /// The runtime value, as a path from `runtime`: `::tokengate::Weight::Heavy`.
    fn path(self, runtime: &RuntimePath) -> TokenStream;

    /// Parses a value, ignoring ASCII case; the error is on the literal.
    fn from_lit(lit: &LitStr) -> syn::Result<Self> {
        let value = lit.value();
        Self::ALL
            .iter()
            .copied()
            .find(|choice| choice.name().eq_ignore_ascii_case(&value))
            .ok_or_else(|| {
                let expected = backticked(Self::ALL.iter().map(|choice| choice.name()));
                syn::Error::new(
                    lit.span(),
                    format!(
                        "unknown {kind} `{value}`; expected one of {expected}",
                        kind = Self::KIND
                    ),
                )
            })
    }
}

/// Writes an enum that mirrors the runtime enum named after `=>` (a path from
/// the runtime's root), and its [`Choice`] impl.
///
/// ```text
/// choices! {
///     /// Doc.
///     enum Weight: "weight" => Weight {
///         /// `"light"`.
///         Light = "light",
///         …
///     }
/// }
/// ```
macro_rules! choices {
    ($(
        $(#[$meta:meta])*
        enum $name:ident: $kind:literal => $($within:ident)::+ {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )+
        }
    )+) => {$(
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl Choice for $name {
            const KIND: &'static str = $kind;
            const ALL: &'static [Self] = &[$($name::$variant),+];

            fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            fn path(self, runtime: &RuntimePath) -> TokenStream {
                let variant = match self {
                    $($name::$variant => stringify!($variant),)+
                };
                let variant = format_ident!("{}", variant, span = Span::call_site());
                quote!(#runtime $(::$within)+::#variant)
            }
        }
    )+};
}

choices! {
    /// `weight = "…"`; mirrors `::tokengate::Weight`. The runtime's default is
    /// medium.
    enum Weight: "weight" => Weight {
        /// `"light"`.
        Light = "light",
        /// `"medium"`.
        Medium = "medium",
        /// `"heavy"`.
        Heavy = "heavy",
    }

    /// `storage_speed = "…"`; mirrors `::tokengate::StorageSpeed`. Spelled in
    /// uppercase, as the runtime spells the tiers.
    enum StorageSpeed: "storage speed" => StorageSpeed {
        /// `"SLOW"`.
        Slow = "SLOW",
        /// `"MODERATE"`.
        Moderate = "MODERATE",
        /// `"FAST"`.
        Fast = "FAST",
        /// `"INSANE"`.
        Insane = "INSANE",
    }

    /// `hash_policy = "…"`; mirrors `::tokengate::fingerprint::HashPolicy`. The
    /// runtime's default is standard.
    enum HashPolicy: "hash policy" => fingerprint::HashPolicy {
        /// `"none"`: the anchor alone.
        None = "none",
        /// `"fast"`: the arguments' `Hash`.
        Fast = "fast",
        /// `"standard"`: a stable digest of the arguments.
        Standard = "standard",
        /// `"full"`: a stable digest of the op and the arguments.
        Full = "full",
    }

    /// `digest_policy = "…"`; mirrors `::tokengate::fingerprint::DigestPolicy`.
    /// The runtime's default is full.
    enum DigestPolicy: "digest policy" => fingerprint::DigestPolicy {
        /// `"full"`: SHA-256.
        Full = "full",
        /// `"short"`: SHA-256, first 8 bytes.
        Short = "short",
        /// `"fast"`: BLAKE2s, 8 bytes.
        Fast = "fast",
        /// `"minimal"`: SHA-256, first 4 bytes.
        Minimal = "minimal",
    }
}

/// One element of `retry_on = ["…", …]`: a kind of failure that is retried.
/// Each is a bit of the runtime's mask, `__private::RETRY_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetryCause {
    /// `"panic"`: the body panicked.
    Panic,
    /// `"worker_lost"`: the worker process running the call died.
    WorkerLost,
    /// `"timeout"`: the call timed out.
    Timeout,
    /// `"err"`: the body returned an `Err` (a fn returning `Result` only).
    Err,
}

impl Choice for RetryCause {
    const KIND: &'static str = "retry cause";
    const ALL: &'static [Self] = &[
        RetryCause::Panic,
        RetryCause::WorkerLost,
        RetryCause::Timeout,
        RetryCause::Err,
    ];

    fn name(self) -> &'static str {
        match self {
            RetryCause::Panic => "panic",
            RetryCause::WorkerLost => "worker_lost",
            RetryCause::Timeout => "timeout",
            RetryCause::Err => "err",
        }
    }

    fn path(self, runtime: &RuntimePath) -> TokenStream {
        let bit = match self {
            RetryCause::Panic => "RETRY_PANIC",
            RetryCause::WorkerLost => "RETRY_WORKER_LOST",
            RetryCause::Timeout => "RETRY_TIMEOUT",
            RetryCause::Err => "RETRY_ERR",
        };
        let bit = format_ident!("{}", bit, span = Span::call_site());
        quote!(#runtime::__private::#bit)
    }
}
