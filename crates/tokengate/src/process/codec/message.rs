//! The error type the codec's adapters hand to `Serialize` and `Deserialize`
//! impls, which keeps their message, and the [`Stash`] that carries that
//! message across postcard, whose own error type cannot.
//!
//! An impl's error surfaces in our error type ([`Error::Custom`]). Where it
//! must travel through postcard's code (postcard is serializing the struct
//! whose field failed), the adapter returning to postcard parks the message in
//! the stash and returns a postcard error instead; the adapter that called into
//! postcard gets that error back and claims the message again. postcard never
//! swallows or replaces an error on its way up, so a parked message is always
//! claimed by the next adapter up, and a postcard error that arrives with the
//! stash empty is postcard's own (a format error).

use std::cell::Cell;
use std::fmt;

use serde::{de, ser};

/// A failed serde step, as the adapters report it.
#[derive(Debug)]
pub(crate) enum Error<E> {
    /// A message from a `Serialize` or `Deserialize` impl (its own, or one of
    /// serde's, such as "invalid length 2, expected 3"), verbatim.
    Custom(String),
    /// postcard's own error: the value or the bytes do not fit its format.
    Postcard(E),
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Custom(msg) => f.write_str(msg),
            Error::Postcard(err) => err.fmt(f),
        }
    }
}

impl<E: fmt::Display + fmt::Debug> std::error::Error for Error<E> {}

impl<E: fmt::Display + fmt::Debug> ser::Error for Error<E> {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Custom(msg.to_string())
    }
}

impl<E: fmt::Display + fmt::Debug> de::Error for Error<E> {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Custom(msg.to_string())
    }
}

/// The message of an [`Error::Custom`] while it crosses postcard.
#[derive(Default)]
pub(crate) struct Stash(Cell<Option<String>>);

/// What the postcard error standing in for a parked message says; postcard
/// drops it, and the stash has the real one.
const PARKED: &str = "(the message is in the codec's stash)";

impl Stash {
    /// `err` as the error of the serializer or deserializer it must pass
    /// through, made by `custom` (that error type's `custom`).
    pub(crate) fn park<E>(&self, err: Error<E>, custom: fn(&'static str) -> E) -> E {
        match err {
            Error::Custom(msg) => {
                self.0.set(Some(msg));
                custom(PARKED)
            }
            Error::Postcard(err) => err,
        }
    }

    /// An error that came back out of postcard: the parked message, if one
    /// went in, or postcard's own error.
    pub(crate) fn claim<E>(&self, err: E) -> Error<E> {
        match self.0.take() {
            Some(msg) => Error::Custom(msg),
            None => Error::Postcard(err),
        }
    }
}
