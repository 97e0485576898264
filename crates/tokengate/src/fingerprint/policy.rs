//! The two policies: what a key is made of, and how it is digested.

use std::fmt;

#[cfg(feature = "blake2")]
use blake2::Blake2sVar;
#[cfg(feature = "blake2")]
use blake2::digest::{Update, VariableOutput};
use sha2::{Digest, Sha256};

/// What a routing key (sticky domains, lead seeds) is made of.
///
/// | policy     | key                                                        | scope               |
/// |------------|------------------------------------------------------------|---------------------|
/// | `None`     | the anchor (or op) alone: every call shares one domain     | any                 |
/// | `Fast`     | the arguments' [`Hash`] with a fixed-seed hasher            | this process only   |
/// | `Standard` | a stable digest of the anchor and the arguments' canonical encoding | across processes and runs |
/// | `Full`     | as `Standard`, with the op name in the key too (each op its own domains) | across processes and runs |
///
/// The canonical encoding is serde's data model in a fixed binary layout (see
/// [`canonical_bytes`](super::canonical_bytes)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashPolicy {
    /// The anchor or op alone.
    None,
    /// The arguments' `Hash`; in-process routing only.
    Fast,
    /// A stable digest of the arguments (the default).
    #[default]
    Standard,
    /// A stable digest of the op and the arguments.
    Full,
}

/// How key material is digested.
///
/// | policy    | digest                          | hex chars |
/// |-----------|---------------------------------|-----------|
/// | `Full`    | SHA-256 (the default)           | 64        |
/// | `Short`   | SHA-256, first 8 bytes          | 16        |
/// | `Fast`    | BLAKE2s with an 8-byte output (the `blake2` feature) | 16 |
/// | `Minimal` | SHA-256, first 4 bytes          | 8         |
///
/// Shorter digests collide sooner; a collision only merges two domains (they
/// then run one at a time on one worker), it never mixes results.
///
/// ```
/// use tokengate::fingerprint::DigestPolicy;
///
/// let hex = DigestPolicy::Full.hex(b"abc");
/// assert_eq!(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
/// assert_eq!(DigestPolicy::Minimal.hex(b"abc"), "ba7816bf");
/// # #[cfg(feature = "blake2")]
/// assert_eq!(DigestPolicy::Fast.hex(b"abc").len(), 16);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DigestPolicy {
    /// SHA-256, 64 hex chars.
    #[default]
    Full,
    /// SHA-256 truncated to 16 hex chars.
    Short,
    /// BLAKE2s with an 8-byte output, 16 hex chars (with the `blake2` feature,
    /// on by default).
    #[cfg(feature = "blake2")]
    #[cfg_attr(docsrs, doc(cfg(feature = "blake2")))]
    Fast,
    /// SHA-256 truncated to 8 hex chars.
    Minimal,
}

/// A digest of key material, as produced by a [`DigestPolicy`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint {
    bytes: [u8; 32],
    len: u8,
}

impl Fingerprint {
    fn new(full: &[u8]) -> Self {
        let mut bytes = [0; 32];
        bytes[..full.len()].copy_from_slice(full);
        Fingerprint {
            bytes,
            len: full.len() as u8,
        }
    }

    /// The digest bytes (32, 8 or 4 of them, per policy).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// The digest as lowercase hex.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.as_bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl DigestPolicy {
    /// Every digest policy.
    #[cfg(feature = "blake2")]
    pub const ALL: [DigestPolicy; 4] = [
        DigestPolicy::Full,
        DigestPolicy::Short,
        DigestPolicy::Fast,
        DigestPolicy::Minimal,
    ];

    /// Every digest policy (`fast` needs the `blake2` feature).
    #[cfg(not(feature = "blake2"))]
    pub const ALL: [DigestPolicy; 3] = [
        DigestPolicy::Full,
        DigestPolicy::Short,
        DigestPolicy::Minimal,
    ];

    /// The policy's name as the attribute spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            DigestPolicy::Full => "full",
            DigestPolicy::Short => "short",
            #[cfg(feature = "blake2")]
            DigestPolicy::Fast => "fast",
            DigestPolicy::Minimal => "minimal",
        }
    }

    /// The digest of `bytes` under this policy.
    pub fn digest(self, bytes: &[u8]) -> Fingerprint {
        match self {
            #[cfg(feature = "blake2")]
            DigestPolicy::Fast => {
                let mut hasher = Blake2sVar::new(8).expect("8 is a valid BLAKE2s output size");
                hasher.update(bytes);
                let mut out = [0u8; 8];
                hasher
                    .finalize_variable(&mut out)
                    .expect("output buffer has the requested size");
                Fingerprint::new(&out)
            }
            policy => {
                let full = Sha256::digest(bytes);
                let keep = match policy {
                    DigestPolicy::Short => 8,
                    DigestPolicy::Minimal => 4,
                    _ => 32,
                };
                Fingerprint::new(&full[..keep])
            }
        }
    }

    /// The lowercase hex digest of `bytes` under this policy.
    pub fn hex(self, bytes: &[u8]) -> String {
        self.digest(bytes).to_hex()
    }
}

impl HashPolicy {
    /// Every hash policy.
    pub const ALL: [HashPolicy; 4] = [
        HashPolicy::None,
        HashPolicy::Fast,
        HashPolicy::Standard,
        HashPolicy::Full,
    ];

    /// The policy's name as the attribute spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            HashPolicy::None => "none",
            HashPolicy::Fast => "fast",
            HashPolicy::Standard => "standard",
            HashPolicy::Full => "full",
        }
    }
}

crate::name::names!(HashPolicy, "hash policy");
crate::name::names!(DigestPolicy, "digest policy");
