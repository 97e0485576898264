//! Fingerprints: how routing keys are computed, so users can predict routing.
//!
//! A sticky call's domain, and a lead's seed, are keys computed from the call
//! per its [`HashPolicy`] and digested per its [`DigestPolicy`]. The functions
//! here compute the same keys outside a call. For a sticky fn
//! `f(a: A, b: B)` with `sticky_anchor = "x"`, two calls share a domain when
//! their anchors are equal and:
//!
//! * `standard`: `stable_key(&(a, b), digest)` are equal (one argument: `stable_key(&a, digest)`);
//! * `full`: `stable_key(&(op, (a, b)), digest)` are equal (`op` is the fn's op name);
//! * `fast`: `fast_key(&(a, b))` are equal (one argument: `fast_key(&(a,))`);
//! * `none`: always (the anchor alone).
//!
//! The arguments are all of them, `self` first, in order, or, when some are
//! marked `#[key]`, the marked ones alone, in order. `Hash` is
//! implemented for tuples of at most 12 elements, so past 12 arguments the
//! tuple groups them, in order, into tuples of 12, the last one shorter: for
//! `f(a0, …, a19)`, `fast_key(&((a0, …, a11), (a12, …, a19)))` (past 144, the
//! groups are grouped the same way). A tuple hashes, and encodes canonically,
//! as its elements in order with nothing around them, so the grouping changes
//! no key:
//!
//! ```
//! use tokengate::fingerprint::{self, DigestPolicy};
//!
//! let flat = fingerprint::stable_key(&(1u8, "two", 3u64), DigestPolicy::Full).unwrap();
//! let grouped = fingerprint::stable_key(&((1u8, "two"), (3u64,)), DigestPolicy::Full).unwrap();
//! assert_eq!(flat, grouped);
//! assert_eq!(
//!     fingerprint::fast_key(&(1u8, "two", 3u64)),
//!     fingerprint::fast_key(&((1u8, "two"), (3u64,))),
//! );
//! ```
//!
//! A lead's seed is `digest` of `"{token id}:{external_calls:?}"` under
//! `hash_policy = "none"` (its default), so each lead call is a domain of its
//! own. Under another policy it is made from the lead's key, computed as
//! above: `digest` of `"fast {key:016x}:{external_calls:?}"` for `fast`,
//! `"stable {key}:{external_calls:?}"` (the key's hex) for `standard` and
//! `full`, or `"anchor:{external_calls:?}"` for a lead without arguments.
//!
//! ```
//! use tokengate::fingerprint::{self, DigestPolicy};
//!
//! // Equal values give equal keys, in any process, on any run.
//! let a = fingerprint::stable_key(&("user", 42u64), DigestPolicy::Short).unwrap();
//! let b = fingerprint::stable_key(&("user", 42u64), DigestPolicy::Short).unwrap();
//! assert_eq!(a, b);
//! assert_eq!(a.to_hex().len(), 16);
//! ```

mod canonical;
mod policy;

pub use canonical::Error;
pub use policy::{DigestPolicy, Fingerprint, HashPolicy};

use std::hash::{Hash, Hasher};

use serde::Serialize;

/// The fingerprint part of a sticky domain's key, as the attribute computes it
/// per `hash_policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum KeyId {
    /// `hash_policy = "none"`: the anchor alone.
    Anchor,
    /// `hash_policy = "fast"`: the arguments' `Hash`.
    Fast(u64),
    /// `hash_policy = "standard" | "full"`: a stable digest.
    Stable(Fingerprint),
}

/// The canonical encoding of `value` (the bytes stable keys digest).
///
/// # Errors
///
/// Fails only if `value`'s `Serialize` impl reports an error.
pub fn canonical_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    canonical::encode(value, &mut out)?;
    Ok(out)
}

/// The stable key of `value`: `digest` of its canonical encoding.
///
/// # Errors
///
/// Fails only if `value`'s `Serialize` impl reports an error.
pub fn stable_key<T: Serialize + ?Sized>(
    value: &T,
    digest: DigestPolicy,
) -> Result<Fingerprint, Error> {
    Ok(digest.digest(&canonical_bytes(value)?))
}

/// The in-process key of `value` under [`HashPolicy::Fast`]: its `Hash` fed to a
/// fixed-seed hasher. Stable within one build of a program; not across builds.
pub fn fast_key<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = FixedHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

/// FNV-1a: deterministic, seedless, and fast for short keys.
#[derive(Debug)]
pub(crate) struct FixedHasher(u64);

impl Default for FixedHasher {
    fn default() -> Self {
        FixedHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for FixedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known-answer vectors: FIPS 180-2 for SHA-256; BLAKE2s with an 8-byte
    /// output as computed by the reference implementation (Python's
    /// `hashlib.blake2s(data, digest_size=8)`).
    #[test]
    fn digests_match_reference_vectors() {
        let sha_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let sha_empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(DigestPolicy::Full.hex(b"abc"), sha_abc);
        assert_eq!(DigestPolicy::Full.hex(b""), sha_empty);
        assert_eq!(DigestPolicy::Short.hex(b"abc"), &sha_abc[..16]);
        assert_eq!(DigestPolicy::Minimal.hex(b"abc"), &sha_abc[..8]);
        assert_eq!(DigestPolicy::Fast.hex(b""), BLAKE2S8_EMPTY);
        assert_eq!(DigestPolicy::Fast.hex(b"abc"), BLAKE2S8_ABC);
    }

    const BLAKE2S8_EMPTY: &str = "ef2a8b78dd80da9c";
    const BLAKE2S8_ABC: &str = "972e9d2cd6de6402";

    #[test]
    fn output_lengths_follow_the_policy() {
        for (policy, hex) in [
            (DigestPolicy::Full, 64),
            (DigestPolicy::Short, 16),
            (DigestPolicy::Fast, 16),
            (DigestPolicy::Minimal, 8),
        ] {
            let key = policy.digest(b"tokengate");
            assert_eq!(key.to_hex().len(), hex, "{policy}");
            assert_eq!(key.as_bytes().len(), hex / 2, "{policy}");
        }
    }

    #[test]
    fn policies_parse_case_insensitively() {
        assert_eq!("FAST".parse::<DigestPolicy>(), Ok(DigestPolicy::Fast));
        assert_eq!("Standard".parse::<HashPolicy>(), Ok(HashPolicy::Standard));
        let err = "sha1".parse::<DigestPolicy>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown digest policy `sha1`; expected one of `full`, `short`, `fast`, `minimal`"
        );
    }

    #[test]
    fn fast_keys_are_deterministic_and_distinguish_values() {
        assert_eq!(fast_key(&(1u32, "a")), fast_key(&(1u32, "a")));
        assert_ne!(fast_key(&(1u32, "a")), fast_key(&(2u32, "a")));
    }
}
