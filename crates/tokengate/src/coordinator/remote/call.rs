//! [`RemoteCall`]: what a `remote` call's route keeps to send it (again)
//! and to read its value when it comes back.

use std::any::Any;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use crate::fingerprint::KeyId;

/// Decodes a call's value, as the call's own type, boxed.
type Decode = Box<dyn Fn(&[u8]) -> Result<Box<dyn Any + Send>, String> + Send + Sync>;

/// The remote part of a call's route.
pub(crate) struct RemoteCall {
    /// The pool of worker hosts it goes to.
    pub(crate) pool: &'static str,
    /// The sticky domain, folded for the backend (see [`fold_key`]).
    pub(crate) sticky: Option<u64>,
    /// The encoded arguments, or the error that encoding them in the caller
    /// met (the call then fails when it would be sent, as a process-pool
    /// call does). Taken by a call's only attempt; copied for each attempt
    /// of a call that may be retried.
    args: Mutex<Option<Result<Vec<u8>, String>>>,
    decode: Decode,
}

impl RemoteCall {
    /// The remote part of a call to `pool` with `encoded` arguments, whose
    /// value `decode` reads (its error is the failure's message).
    #[cfg_attr(not(feature = "process"), allow(dead_code))]
    pub(crate) fn new<T: Send + 'static>(
        pool: &'static str,
        encoded: Result<Vec<u8>, String>,
        decode: impl Fn(&[u8]) -> Result<T, String> + Send + Sync + 'static,
    ) -> RemoteCall {
        RemoteCall {
            pool,
            sticky: None,
            args: Mutex::new(Some(encoded)),
            decode: Box::new(move |bytes| {
                decode(bytes).map(|value| Box::new(value) as Box<dyn Any + Send>)
            }),
        }
    }

    /// The arguments for the next attempt: the bytes themselves if no
    /// attempt may follow (`keep` false), else a copy.
    pub(crate) fn args(&self, keep: bool) -> Result<Vec<u8>, String> {
        let mut args = self.args.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = if keep { args.clone() } else { args.take() };
        taken.unwrap_or_else(|| {
            Err(
                "the arguments of this remote call were sent already; this is a bug in \
                 tokengate, please report it"
                    .to_owned(),
            )
        })
    }

    /// The value in `bytes`, as the call's type.
    pub(crate) fn decode(&self, bytes: &[u8]) -> Result<Box<dyn Any + Send>, String> {
        (self.decode)(bytes)
    }
}

impl fmt::Debug for RemoteCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteCall")
            .field("pool", &self.pool)
            .field("sticky", &self.sticky)
            .finish_non_exhaustive()
    }
}

/// A sticky domain (its anchor and key) folded into 64 bits for the backend,
/// the same in every process of one build: FNV-1a over the anchor, a
/// separator, and the key's bytes.
pub(crate) fn fold_key(anchor: &str, key: &KeyId) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    eat(anchor.as_bytes());
    eat(&[0xff]);
    match key {
        KeyId::Anchor => eat(b"anchor"),
        KeyId::Fast(key) => {
            eat(b"fast");
            eat(&key.to_le_bytes());
        }
        KeyId::Stable(print) => {
            eat(b"stable");
            eat(print.as_bytes());
        }
    }
    hash
}
