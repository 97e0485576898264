//! The wire encoding of process-pool arguments and results: serde, through
//! postcard's compact binary format (varint integers, length-prefixed
//! sequences, no field names).
//!
//! `Vec<u8>` arguments and results are wrapped by the attribute in
//! `serde_bytes`, so they travel as one length-prefixed block, copied once,
//! instead of one serde call per byte.
//!
//! # Errors keep their message
//!
//! A `Serialize` or `Deserialize` impl reports a failure with
//! `Error::custom("email is not valid")`, and that message is what its user
//! needs to see. postcard's error type drops it, leaving "Serde Serialization
//! Error". So after such an error, and only then, [`encode`] and [`decode`]
//! run the impl once more, through adapters around postcard's serializer and
//! deserializer (`codec/ser.rs`, `codec/de.rs`) whose error type keeps the
//! message (`codec/message.rs`). The adapters forward every call unchanged and
//! wrap what they pass on (nested values, visitors, accesses, seeds), so the
//! second run takes the first one's path and fails at the same place, at any
//! depth, this time with its message. It writes nothing: encoding runs into
//! postcard's measuring flavor, and decoding reads the same bytes again.
//!
//! Running every call through the adapters would need no second run, but
//! they cost time on every call, since each value they pass on is wrapped and
//! each result converted: measured with callgrind, encoding a `u64` took 174
//! instructions through them against 134 without, and decoding a five-field
//! struct (a `String`, a `Vec<u32>`, an `Option`) 1232 against 899; in wall
//! time 30 ns against 9 and 66 against 43. Run only after a failure, they
//! cost nothing: a call that succeeds runs postcard alone, as before
//! (measured the same way: 137 and 910 instructions, and the same wall time
//! within the noise for those two, for encoding the struct, and for a 1 MiB
//! `serde_bytes` block each way). The price is paid by an impl that fails,
//! which runs twice: one with side effects has them twice, and one that does
//! not fail again leaves a message that says so instead of its own.
//!
//! # Which step failed, and where
//!
//! [`encode`] and [`decode`] are called from the code `#[task_token_guard]`
//! generates, which types their error as a `String` so the expansion names no
//! type of ours. The text starts with the step ([`ENCODE`] or [`DECODE`]),
//! and [`locate`] adds what was being encoded and where, once the side is
//! known: the caller encodes the arguments and decodes the value, a worker
//! process decodes the arguments and encodes the value.

mod de;
mod message;
mod ser;

use postcard::ser_flavors::Size;
use serde::Serialize;
use serde::de::DeserializeOwned;

use message::Error;

/// How an encoding error's text starts.
const ENCODE: &str = "could not encode";

/// How a decoding error's text starts.
const DECODE: &str = "could not decode";

/// Appends the encoding of `value` to `out`.
pub fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    let buf = std::mem::take(out);
    match postcard::to_extend(value, buf) {
        Ok(buf) => {
            *out = buf;
            Ok(())
        }
        Err(err) => Err(encode_failed(value, err)),
    }
}

/// Decodes one value from `bytes`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|err| decode_failed::<T>(bytes, err))
}

/// Why encoding `value` failed with `err`.
#[cold]
fn encode_failed<T: Serialize + ?Sized>(value: &T, err: postcard::Error) -> String {
    let cause = match err {
        postcard::Error::SerdeSerCustom => match ser::serialize(value, Size::default()) {
            Err(Error::Custom(msg)) => msg,
            _ => "a `Serialize` impl reported an error, but not when it was run a second \
                  time to read the error's message"
                .to_owned(),
        },
        postcard::Error::SerializeSeqLengthUnknown => {
            "a sequence or map did not state its length up front, which postcard needs; \
             serialize it with a known length (serde derives do, `#[serde(flatten)]` does not)"
                .to_owned()
        }
        err => format!("postcard failed: {err}"),
    };
    format!("{ENCODE}: {cause}")
}

/// Why decoding a `T` from `bytes` failed with `err`.
#[cold]
fn decode_failed<T: DeserializeOwned>(bytes: &[u8], err: postcard::Error) -> String {
    let cause = match err {
        postcard::Error::SerdeDeCustom => match de::deserialize::<T>(bytes) {
            Err(Error::Custom(msg)) => msg,
            _ => "a `Deserialize` impl reported an error, but not when it was run a second \
                  time to read the error's message"
                .to_owned(),
        },
        postcard::Error::WontImplement => {
            "the type needs a self-describing format, which postcard is not; a process-pool \
             value cannot use `#[serde(untagged)]`, `#[serde(tag = \"...\")]`, \
             `#[serde(flatten)]` or other serde features that inspect the data"
                .to_owned()
        }
        err => mismatch(&err.to_string()),
    };
    format!("{DECODE}: {cause}")
}

/// The bytes do not fit the type they are decoded as.
fn mismatch(detail: &str) -> String {
    format!(
        "the bytes do not match the type ({detail}); the caller and the worker process must \
         run the same build of the executable, and the type's `Serialize` and `Deserialize` \
         impls must agree"
    )
}

/// Where a codec step ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// The process that made the call (which may itself be a worker process
    /// running a call inline).
    Caller,
    /// The worker process with this pid, serving the call.
    Worker(u32),
    /// The worker host with this pid, serving a remote call on a thread.
    Host(u32),
}

/// The message for an error of [`encode`] or [`decode`] that happened on
/// `side`: what was being encoded or decoded, and where.
pub(crate) fn locate(err: &str, side: Side) -> String {
    let (step, what, cause) = if let Some(cause) = err.strip_prefix(ENCODE) {
        let what = match side {
            Side::Caller => "its arguments",
            Side::Worker(_) | Side::Host(_) => "its value",
        };
        (ENCODE, what, cause)
    } else if let Some(cause) = err.strip_prefix(DECODE) {
        let what = match side {
            Side::Caller => "its value",
            Side::Worker(_) | Side::Host(_) => "its arguments",
        };
        (DECODE, what, cause)
    } else {
        return err.to_owned();
    };
    match side {
        Side::Caller => format!("{step} {what} in the caller{cause}"),
        Side::Worker(pid) => format!("{step} {what} in worker process {pid}{cause}"),
        Side::Host(pid) => format!("{step} {what} on the worker host (process {pid}){cause}"),
    }
}

#[cfg(test)]
mod tests;
