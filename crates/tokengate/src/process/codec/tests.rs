use std::cell::Cell;
use std::collections::BTreeMap;

use postcard::ser_flavors::ExtendFlavor;
use serde::de::{self, Deserializer};
use serde::ser::{self, SerializeSeq as _, Serializer};
use serde::{Deserialize, Serialize};

use super::*;

/// An address whose `Serialize` and `Deserialize` both refuse one without an
/// `@`; it travels as a plain string.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Email(String);

fn refusal(text: &str) -> String {
    format!("`{text}` is not a valid email")
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !self.0.contains('@') {
            return Err(ser::Error::custom(refusal(&self.0)));
        }
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if !text.contains('@') {
            return Err(de::Error::custom(refusal(&text)));
        }
        Ok(Email(text))
    }
}

fn email(text: &str) -> Email {
    Email(text.to_owned())
}

/// Shapes to nest a `T` in: with `T = String` they encode what a `T = Email`
/// decodes, so an address can be refused on either side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Account<T> {
    id: u32,
    contact: T,
    spare: Option<T>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Route<T> {
    Nowhere,
    To(T),
    Pair(u8, T),
    Named { id: u8, to: T },
}

fn bytes_of<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::new();
    encode(value, &mut out).unwrap();
    out
}

#[test]
fn byte_payloads_are_one_block() {
    let data = vec![7u8; 1000];
    let plain = bytes_of(&data);
    let bytes = bytes_of(serde_bytes::Bytes::new(&data));
    // Both are a varint length and the bytes; the wrapper takes one
    // `serialize_bytes` call instead of a thousand `serialize_u8`.
    assert_eq!(plain, bytes);
    assert_eq!(bytes.len(), 2 + 1000);
    let back: serde_bytes::ByteBuf = decode(&bytes).unwrap();
    assert_eq!(back.into_vec(), data);
}

#[test]
fn values_round_trip() {
    let mut out = vec![0xAA];
    encode(&(1u64, "two", Some(3.5f64)), &mut out).unwrap();
    assert_eq!(out[0], 0xAA, "the encoding is appended");
    let back: (u64, String, Option<f64>) = decode(&out[1..]).unwrap();
    assert_eq!(back, (1, "two".to_owned(), Some(3.5)));
}

/// The adapters that recover a message must take the path postcard takes, or
/// the second run could fail elsewhere, or not at all.
#[test]
fn the_adapters_leave_postcards_encoding_as_it_is() {
    let account = Account {
        id: 7,
        contact: email("a@b"),
        spare: Some(email("c@d")),
    };
    let routes = vec![
        Route::Nowhere,
        Route::To(email("e@f")),
        Route::Pair(3, email("g@h")),
        Route::Named {
            id: 4,
            to: email("i@j"),
        },
    ];
    let book = BTreeMap::from([(email("k@l"), email("m@n")), (email("o@p"), email("q@r"))]);
    let mixed = (1u64, -2i128, 'ω', 3.5f64, "four", [5u8; 3], (), Some(()));
    let bytes = serde_bytes::Bytes::new(&[6, 7, 8]);
    let value = (&account, &routes, &book, &mixed, bytes);

    let expected = postcard::to_stdvec(&value).unwrap();
    let adapted = super::ser::serialize(&value, ExtendFlavor::new(Vec::new())).unwrap();
    assert_eq!(adapted, expected);
    assert_eq!(
        super::ser::serialize(&value, Size::default()).unwrap(),
        expected.len()
    );

    type Mixed = (u64, i128, char, f64, String, [u8; 3], (), Option<()>);
    type Value = (
        Account<Email>,
        Vec<Route<Email>>,
        BTreeMap<Email, Email>,
        Mixed,
        serde_bytes::ByteBuf,
    );
    let back: Value = super::de::deserialize(&expected).unwrap();
    assert_eq!((&back.0, &back.1, &back.2), (&account, &routes, &book));
    let four = "four".to_owned();
    assert_eq!(back.3, (1, -2, 'ω', 3.5, four, [5; 3], (), Some(())));
    assert_eq!(back.4.into_vec(), [6, 7, 8]);
}

#[test]
fn a_serialize_error_keeps_its_message() {
    let err = encode(&email("nobody"), &mut Vec::new()).unwrap_err();
    assert_eq!(err, "could not encode: `nobody` is not a valid email");
}

#[test]
fn a_deserialize_error_keeps_its_message() {
    let err = decode::<Email>(&bytes_of("nobody")).unwrap_err();
    assert_eq!(err, "could not decode: `nobody` is not a valid email");
}

#[test]
fn nested_serialize_errors_keep_their_message() {
    let bad = || email("nobody");
    let good = || email("a@b");
    let errors = [
        encode(&vec![good(), bad()], &mut Vec::new()),
        encode(&(1u8, bad()), &mut Vec::new()),
        encode(&Some(bad()), &mut Vec::new()),
        encode(
            &Account {
                id: 1,
                contact: good(),
                spare: Some(bad()),
            },
            &mut Vec::new(),
        ),
        encode(&Route::To(bad()), &mut Vec::new()),
        encode(&Route::Pair(1, bad()), &mut Vec::new()),
        encode(&Route::Named { id: 1, to: bad() }, &mut Vec::new()),
        encode(&BTreeMap::from([(bad(), good())]), &mut Vec::new()),
        encode(&BTreeMap::from([(good(), bad())]), &mut Vec::new()),
        encode(&vec![vec![Some(Route::To(bad()))]], &mut Vec::new()),
    ];
    for (case, err) in errors.into_iter().enumerate() {
        let err = err.unwrap_err();
        assert_eq!(
            err, "could not encode: `nobody` is not a valid email",
            "case {case}"
        );
    }
}

#[test]
fn nested_deserialize_errors_keep_their_message() {
    let bad = || "nobody".to_owned();
    let good = || "a@b".to_owned();
    let errors = [
        decode::<Vec<Email>>(&bytes_of(&vec![good(), bad()])).unwrap_err(),
        decode::<(u8, Email)>(&bytes_of(&(1u8, bad()))).unwrap_err(),
        decode::<Option<Email>>(&bytes_of(&Some(bad()))).unwrap_err(),
        decode::<Account<Email>>(&bytes_of(&Account {
            id: 1,
            contact: good(),
            spare: Some(bad()),
        }))
        .unwrap_err(),
        decode::<Route<Email>>(&bytes_of(&Route::To(bad()))).unwrap_err(),
        decode::<Route<Email>>(&bytes_of(&Route::Pair(1, bad()))).unwrap_err(),
        decode::<Route<Email>>(&bytes_of(&Route::Named { id: 1, to: bad() })).unwrap_err(),
        decode::<BTreeMap<Email, Email>>(&bytes_of(&BTreeMap::from([(bad(), good())])))
            .unwrap_err(),
        decode::<BTreeMap<Email, Email>>(&bytes_of(&BTreeMap::from([(good(), bad())])))
            .unwrap_err(),
        decode::<Vec<Vec<Option<Route<Email>>>>>(&bytes_of(&vec![vec![Some(Route::To(bad()))]]))
            .unwrap_err(),
    ];
    for (case, err) in errors.into_iter().enumerate() {
        assert_eq!(
            err, "could not decode: `nobody` is not a valid email",
            "case {case}"
        );
    }
}

#[test]
fn garbage_and_truncated_bytes_are_reported_as_a_mismatch() {
    let account = bytes_of(&Account {
        id: 1,
        contact: "a@b".to_owned(),
        spare: None::<String>,
    });
    let errors = [
        decode::<(u64, String)>(&[0xFF]).unwrap_err(),
        decode::<bool>(&[2]).unwrap_err(),
        decode::<Account<Email>>(&account[..account.len() - 1]).unwrap_err(),
    ];
    for (case, err) in errors.into_iter().enumerate() {
        assert!(
            err.starts_with("could not decode: the bytes do not match the type ("),
            "case {case}: {err}"
        );
        assert!(
            err.contains("same build of the executable"),
            "case {case}: {err}"
        );
    }
}

#[test]
fn format_limits_say_what_to_change() {
    /// A sequence that does not say its length up front.
    struct Unsized;

    impl Serialize for Unsized {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_seq(None)?.end()
        }
    }

    let err = encode(&(1u8, Unsized), &mut Vec::new()).unwrap_err();
    assert!(
        err.starts_with("could not encode: a sequence or map"),
        "{err}"
    );
    assert!(err.contains("known length"), "{err}");

    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    enum Loose {
        #[allow(dead_code)]
        Number(u64),
    }

    let err = decode::<Loose>(&bytes_of(&1u64)).unwrap_err();
    assert!(err.contains("self-describing format"), "{err}");
    assert!(err.contains("`#[serde(untagged)]`"), "{err}");
}

/// Fails the first time it is serialized or deserialized, then never again.
#[derive(Debug, Default)]
struct Flaky(Cell<bool>);

impl Serialize for Flaky {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !self.0.replace(true) {
            return Err(ser::Error::custom("only once"));
        }
        serializer.serialize_unit()
    }
}

thread_local! {
    static FLAKY_DECODED: Cell<bool> = const { Cell::new(false) };
}

impl<'de> Deserialize<'de> for Flaky {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <()>::deserialize(deserializer)?;
        if !FLAKY_DECODED.replace(true) {
            return Err(de::Error::custom("only once"));
        }
        Ok(Flaky::default())
    }
}

#[test]
fn an_error_that_does_not_recur_is_reported_as_such() {
    let err = encode(&Flaky::default(), &mut Vec::new()).unwrap_err();
    assert!(
        err.starts_with("could not encode: a `Serialize` impl reported"),
        "{err}"
    );
    assert!(
        err.contains("but not when it was run a second time"),
        "{err}"
    );
    let err = decode::<Flaky>(&[]).unwrap_err();
    assert!(
        err.starts_with("could not decode: a `Deserialize` impl reported"),
        "{err}"
    );
    assert!(
        err.contains("but not when it was run a second time"),
        "{err}"
    );
}

#[test]
fn errors_name_the_step_and_the_side() {
    let encoding = encode(&email("nobody"), &mut Vec::new()).unwrap_err();
    let decoding = decode::<Email>(&bytes_of("nobody")).unwrap_err();
    let cases = [
        (
            &encoding,
            Side::Caller,
            "could not encode its arguments in the caller",
        ),
        (
            &decoding,
            Side::Worker(42),
            "could not decode its arguments in worker process 42",
        ),
        (
            &encoding,
            Side::Worker(42),
            "could not encode its value in worker process 42",
        ),
        (
            &decoding,
            Side::Caller,
            "could not decode its value in the caller",
        ),
    ];
    for (err, side, step) in cases {
        let expected = format!("{step}: `nobody` is not a valid email");
        assert_eq!(locate(err, side), expected);
    }
    let other = "a malformed call frame reached the worker process";
    assert_eq!(locate(other, Side::Worker(42)), other);
}
