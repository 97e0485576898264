//! The wire encoding of process-pool arguments and results: serde, through
//! postcard's compact binary format (varint integers, length-prefixed
//! sequences, no field names).
//!
//! `Vec<u8>` arguments and results are wrapped by the attribute in
//! `serde_bytes`, so they travel as one length-prefixed block, copied once,
//! instead of one serde call per byte.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Appends the encoding of `value` to `out`.
pub fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), String> {
    let buf = std::mem::take(out);
    match postcard::to_extend(value, buf) {
        Ok(buf) => {
            *out = buf;
            Ok(())
        }
        Err(err) => Err(format!(
            "could not encode a value for a worker process ({err}); every value must \
             serialize with a known length (serde derives do)"
        )),
    }
}

/// Decodes one value from `bytes`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    postcard::from_bytes(bytes).map_err(|err| {
        format!(
            "could not decode a value from a worker process ({err}); the parent and the \
             worker must run the same executable"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_payloads_are_one_block() {
        let data = vec![7u8; 1000];
        let mut plain = Vec::new();
        encode(&data, &mut plain).unwrap();
        let mut bytes = Vec::new();
        encode(serde_bytes::Bytes::new(&data), &mut bytes).unwrap();
        // Both are a varint length and the bytes; the wrapper takes one
        // `serialize_bytes` call instead of a thousand `serialize_u8`.
        assert_eq!(bytes.len(), 2 + 1000);
        let back: serde_bytes::ByteBuf = decode(&bytes).unwrap();
        assert_eq!(back.into_vec(), data);
    }

    #[test]
    fn round_trips_and_reports_garbage() {
        let mut out = vec![0xAA];
        encode(&(1u64, "two", Some(3.5f64)), &mut out).unwrap();
        let back: (u64, String, Option<f64>) = decode(&out[1..]).unwrap();
        assert_eq!(back, (1, "two".to_owned(), Some(3.5)));
        let err = decode::<(u64, String)>(&[0xFF]).unwrap_err();
        assert!(err.starts_with("could not decode"), "{err}");
    }
}
