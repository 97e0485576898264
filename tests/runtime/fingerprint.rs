//! The public fingerprint API (`tokengate::fingerprint`): digest formats
//! against known vectors, the documented canonical encoding, and stable keys
//! that are equal for equal values, whatever a map's iteration order, and in
//! another process.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Command;

use serde::Serialize;
use tokengate::fingerprint::{
    self, DigestPolicy, Fingerprint, HashPolicy, canonical_bytes, fast_key, stable_key,
};

/// SHA-256 (FIPS 180-2 test vectors).
const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const SHA256_EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// BLAKE2s with an 8-byte output, as Python's `hashlib.blake2s(data, digest_size=8)`.
const BLAKE2S8_EMPTY: &str = "ef2a8b78dd80da9c";
const BLAKE2S8_ABC: &str = "972e9d2cd6de6402";

#[test]
fn digests_match_known_vectors() {
    assert_eq!(DigestPolicy::Full.hex(b"abc"), SHA256_ABC);
    assert_eq!(DigestPolicy::Full.hex(b""), SHA256_EMPTY);
    assert_eq!(DigestPolicy::Fast.hex(b""), BLAKE2S8_EMPTY);
    assert_eq!(DigestPolicy::Fast.hex(b"abc"), BLAKE2S8_ABC);
    // Short and Minimal are SHA-256 cut to 8 and 4 bytes.
    assert_eq!(DigestPolicy::Short.hex(b"abc"), &SHA256_ABC[..16]);
    assert_eq!(DigestPolicy::Short.hex(b""), &SHA256_EMPTY[..16]);
    assert_eq!(DigestPolicy::Minimal.hex(b"abc"), &SHA256_ABC[..8]);
    assert_eq!(DigestPolicy::Minimal.hex(b""), &SHA256_EMPTY[..8]);
    // `hex` is `digest(..).to_hex()`, which is also its `Display`.
    for policy in DigestPolicy::ALL {
        let key = policy.digest(b"abc");
        assert_eq!(key.to_hex(), policy.hex(b"abc"), "{policy}");
        assert_eq!(key.to_string(), key.to_hex(), "{policy}");
        assert_eq!(format!("{key:?}"), format!("Fingerprint({key})"));
    }
}

#[test]
fn output_lengths_follow_the_digest_policy() {
    for (policy, hex_len) in [
        (DigestPolicy::Full, 64),
        (DigestPolicy::Short, 16),
        (DigestPolicy::Fast, 16),
        (DigestPolicy::Minimal, 8),
    ] {
        for input in [&b""[..], b"abc", &[7u8; 1000]] {
            let key = policy.digest(input);
            let hex = key.to_hex();
            assert_eq!(hex.len(), hex_len, "{policy} of {} bytes", input.len());
            assert_eq!(key.as_bytes().len(), hex_len / 2, "{policy}");
            assert!(
                hex.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "not lowercase hex: {hex}"
            );
        }
    }
    // The default digest is the full SHA-256; the default hash policy, standard.
    assert_eq!(DigestPolicy::default(), DigestPolicy::Full);
    assert_eq!(HashPolicy::default(), HashPolicy::Standard);
}

#[test]
fn policies_parse_in_any_case_and_display_as_the_attribute_spells_them() {
    for policy in DigestPolicy::ALL {
        let name = policy.to_string();
        assert_eq!(name, policy.as_str());
        assert_eq!(name.parse::<DigestPolicy>(), Ok(policy));
        assert_eq!(name.to_uppercase().parse::<DigestPolicy>(), Ok(policy));
    }
    for policy in HashPolicy::ALL {
        let name = policy.to_string();
        assert_eq!(name, policy.as_str());
        assert_eq!(name.parse::<HashPolicy>(), Ok(policy));
        assert_eq!(name.to_uppercase().parse::<HashPolicy>(), Ok(policy));
    }
    let names: Vec<&str> = DigestPolicy::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(names, ["full", "short", "fast", "minimal"]);
    let names: Vec<&str> = HashPolicy::ALL.iter().map(|p| p.as_str()).collect();
    assert_eq!(names, ["none", "fast", "standard", "full"]);

    let err = "sha1".parse::<DigestPolicy>().unwrap_err().to_string();
    assert_eq!(
        err,
        "unknown digest policy `sha1`; expected one of `full`, `short`, `fast`, `minimal`"
    );
    let err = "md5".parse::<HashPolicy>().unwrap_err().to_string();
    assert_eq!(
        err,
        "unknown hash policy `md5`; expected one of `none`, `fast`, `standard`, `full`"
    );
}

#[derive(Serialize)]
enum Kind {
    Unit,
    Newtype(u8),
    Tuple(u8, u16),
    Struct { x: i16 },
}

#[derive(Serialize)]
struct Unit;

#[derive(Serialize)]
struct Meters(u32);

#[test]
fn canonical_encoding_follows_the_documented_layout() {
    let len = |n: u64| n.to_le_bytes().to_vec();
    let cat = |parts: &[&[u8]]| parts.concat();
    let bytes = |v: &dyn erased::Encode| v.encode();

    assert_eq!(bytes(&false), [0]);
    assert_eq!(bytes(&true), [1]);
    assert_eq!(bytes(&0x0102_0304u32), [4, 3, 2, 1]);
    assert_eq!(bytes(&-2i16), [0xfe, 0xff]);
    assert_eq!(bytes(&1u128), cat(&[&[1], &[0; 15]]));
    assert_eq!(bytes(&'A'), [0x41, 0, 0, 0]);
    assert_eq!(bytes(&1.5f64), 1.5f64.to_bits().to_le_bytes());
    assert_eq!(bytes(&"héllo"), cat(&[&len(6), "héllo".as_bytes()]));
    assert_eq!(bytes(&String::new()), len(0));
    assert_eq!(bytes(&None::<u8>), [0]);
    assert_eq!(bytes(&Some(9u8)), [1, 9]);
    assert_eq!(bytes(&()), [0u8; 0]);
    assert_eq!(bytes(&Unit), [0u8; 0]);
    assert_eq!(bytes(&Meters(5)), [5, 0, 0, 0]);
    assert_eq!(bytes(&Kind::Unit), [0, 0, 0, 0]);
    assert_eq!(bytes(&Kind::Newtype(7)), [1, 0, 0, 0, 7]);
    assert_eq!(bytes(&Kind::Tuple(7, 1)), [2, 0, 0, 0, 7, 1, 0]);
    assert_eq!(bytes(&Kind::Struct { x: -1 }), [3, 0, 0, 0, 0xff, 0xff]);
    assert_eq!(bytes(&(1u8, 2u16)), [1, 2, 0]);
    assert_eq!(bytes(&vec![3u8, 4]), cat(&[&len(2), &[3, 4]]));
    assert_eq!(bytes(&[5u8, 6]), [5, 6], "arrays are tuples: no count");
    // Maps: a count, then the entries sorted by encoded key.
    let map: HashMap<u8, bool> = [(2, true), (1, false)].into_iter().collect();
    assert_eq!(bytes(&map), cat(&[&len(2), &[1, 0], &[2, 1]]));
}

/// Object-safe access to `canonical_bytes` for the table above.
mod erased {
    pub(super) trait Encode {
        fn encode(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Encode for T {
        fn encode(&self) -> Vec<u8> {
            super::canonical_bytes(self).expect("encodes")
        }
    }
}

#[test]
fn stable_keys_have_known_values() {
    // ("user", 42u64) encodes as u64 4, "user", u64 42: keys computed with
    // Python's hashlib over those bytes. A change here changes every stable
    // routing key users may have stored.
    let value = ("user", 42u64);
    let full = stable_key(&value, DigestPolicy::Full).unwrap();
    assert_eq!(
        full.to_hex(),
        "c4bc10594e2bdb436bcdf2717fb646a0523093b0e78049857a1fda3fa8a8779e"
    );
    assert_eq!(
        stable_key(&value, DigestPolicy::Short).unwrap().to_hex(),
        "c4bc10594e2bdb43"
    );
    assert_eq!(
        stable_key(&value, DigestPolicy::Minimal).unwrap().to_hex(),
        "c4bc1059"
    );
    assert_eq!(
        stable_key(&value, DigestPolicy::Fast).unwrap().to_hex(),
        "97eaf241ee89c2f2"
    );
    // The key is the digest of the canonical encoding.
    for policy in DigestPolicy::ALL {
        assert_eq!(
            stable_key(&value, policy).unwrap(),
            policy.digest(&canonical_bytes(&value).unwrap())
        );
    }
}

#[test]
fn stable_keys_are_equal_for_equal_values_whatever_the_map_type_or_order() {
    let pairs: Vec<(String, u32)> = (0..300).map(|i| (format!("key-{i}"), i * 7)).collect();
    let forward: HashMap<String, u32> = pairs.iter().cloned().collect();
    let backward: HashMap<String, u32> = pairs.iter().rev().cloned().collect();
    let ordered: BTreeMap<String, u32> = pairs.iter().cloned().collect();
    for policy in DigestPolicy::ALL {
        let a = stable_key(&forward, policy).unwrap();
        assert_eq!(a, stable_key(&backward, policy).unwrap(), "{policy}");
        assert_eq!(a, stable_key(&ordered, policy).unwrap(), "{policy}");
        // Nested in other values too.
        assert_eq!(
            stable_key(&("tenant", Some(&forward)), policy).unwrap(),
            stable_key(&("tenant", Some(&ordered)), policy).unwrap(),
        );
        // Equal values built separately.
        assert_eq!(
            stable_key(&sample(), policy).unwrap(),
            stable_key(&sample(), policy).unwrap()
        );
    }
    // Different values, different keys (no collision among a few thousand).
    let keys: BTreeSet<Fingerprint> = (0..5_000u64)
        .map(|i| stable_key(&("k", i), DigestPolicy::Short).unwrap())
        .collect();
    assert_eq!(keys.len(), 5_000);
    assert_ne!(
        stable_key(&("a", "bc"), DigestPolicy::Full).unwrap(),
        stable_key(&("ab", "c"), DigestPolicy::Full).unwrap()
    );
    let mut changed = ordered.clone();
    changed.insert("key-0".to_owned(), 1);
    assert_ne!(
        stable_key(&ordered, DigestPolicy::Full).unwrap(),
        stable_key(&changed, DigestPolicy::Full).unwrap()
    );
}

#[test]
fn fast_keys_are_deterministic_in_process_and_tell_values_apart() {
    assert_eq!(fast_key(&(1u32, "a")), fast_key(&(1u32, "a")));
    assert_eq!(
        fast_key(&("a".to_owned(), vec![1u8, 2])),
        fast_key(&("a", [1u8, 2].as_slice()))
    );
    assert_ne!(fast_key(&(1u32, "a")), fast_key(&(2u32, "a")));
    let keys: BTreeSet<u64> = (0..5_000u64).map(|i| fast_key(&i)).collect();
    assert_eq!(keys.len(), 5_000);
}

#[derive(Serialize)]
struct Order {
    id: u32,
    customer: String,
    lines: Vec<(String, u16)>,
    attributes: HashMap<String, String>,
    kind: Kind,
    discount: Option<f64>,
    big: i128,
}

/// A value with every kind of field, a `HashMap` among them (whose iteration
/// order differs between processes: `RandomState` is seeded per process).
fn sample() -> Order {
    Order {
        id: 7,
        customer: "acme, inc.".to_owned(),
        lines: vec![("widget".to_owned(), 3), ("gadget".to_owned(), 12)],
        attributes: (0..64)
            .map(|i| (format!("attr{i}"), format!("value {i}")))
            .collect(),
        kind: Kind::Struct { x: -300 },
        discount: Some(0.125),
        big: -(1i128 << 100),
    }
}

/// Every stable key of [`sample`] and of a few other values, one per line.
fn key_lines() -> Vec<String> {
    let mut lines = Vec::new();
    for policy in DigestPolicy::ALL {
        let key = |v: &dyn erased_key::Key| v.key(policy);
        lines.push(format!("{policy} sample {}", key(&sample())));
        lines.push(format!("{policy} tuple {}", key(&("user", 42u64))));
        let map: HashMap<u32, Vec<String>> = (0..50)
            .map(|i| (i, vec![i.to_string(); (i % 3) as usize]))
            .collect();
        lines.push(format!("{policy} map {}", key(&map)));
    }
    lines
}

mod erased_key {
    use tokengate::fingerprint::{DigestPolicy, stable_key};

    pub(super) trait Key {
        fn key(&self, policy: DigestPolicy) -> String;
    }
    impl<T: serde::Serialize> Key for T {
        fn key(&self, policy: DigestPolicy) -> String {
            stable_key(self, policy).expect("encodes").to_hex()
        }
    }
}

const CHILD_ENV: &str = "TOKENGATE_TEST_FINGERPRINT_CHILD";
const CHILD_TEST: &str = "fingerprint::child_process_prints_stable_keys";
const LINE_PREFIX: &str = "tokengate-key: ";

/// Not a test on its own: [`stable_keys_are_equal_in_another_process`] runs
/// this test binary again with only this test, and compares what it prints.
#[test]
#[ignore = "helper: run by stable_keys_are_equal_in_another_process in a child process"]
fn child_process_prints_stable_keys() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    for line in key_lines() {
        println!("{LINE_PREFIX}{line}");
    }
}

#[test]
fn stable_keys_are_equal_in_another_process() {
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(exe)
        .args([
            CHILD_TEST,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let theirs: Vec<String> = stdout
        .lines()
        // The harness may print the test's name on the same line, first.
        .filter_map(|l| l.split_once(LINE_PREFIX).map(|(_, key)| key))
        .map(str::to_owned)
        .collect();
    let ours = key_lines();
    assert_eq!(ours.len(), 12);
    assert_eq!(
        theirs, ours,
        "stable keys differ between processes; child output:\n{stdout}"
    );
}

#[test]
fn encoding_errors_are_reported_not_hidden() {
    struct Refuses;
    impl Serialize for Refuses {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(serde::ser::Error::custom("refused on purpose"))
        }
    }
    let err = stable_key(&("ok", Refuses), DigestPolicy::Full).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("refused on purpose"), "{text}");
    assert!(canonical_bytes(&vec![Refuses]).is_err());
    // The error type is public, for `?` in user code.
    let err: fingerprint::Error = err;
    assert!(std::error::Error::source(&err).is_none());
}
