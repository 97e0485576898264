//! A canonical binary encoding of any `serde::Serialize` value: the bytes that
//! stable fingerprints digest.
//!
//! The format is fixed and documented so that a key computed today, in another
//! process or on another machine, is the same:
//!
//! | value                         | bytes                                               |
//! |-------------------------------|-----------------------------------------------------|
//! | `bool`                        | `0` or `1`                                          |
//! | integers, `char`              | fixed width, little endian (`char` as `u32`)        |
//! | `f32`, `f64`                  | IEEE bits, little endian                            |
//! | `str`, bytes                  | `u64` length, then the bytes                        |
//! | `None` / `Some(v)`            | `0` / `1` then `v`                                  |
//! | unit, unit struct             | nothing                                             |
//! | enum variant                  | `u32` variant index, then its content               |
//! | sequence, map                 | `u64` count, then the elements                      |
//! | tuple, struct                 | the fields in order                                 |
//!
//! **Maps are sorted** by their encoded keys, so a `HashMap` encodes the same
//! whatever its iteration order. Serde hands sets over as plain sequences, so a
//! `HashSet`'s order cannot be fixed here: use `BTreeSet` in keys that must be
//! stable across runs.

use std::fmt;

use serde::ser::{self, Serialize};

/// Encodes `value` canonically.
pub(crate) fn encode<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
    value.serialize(&mut Encoder { out })
}

/// A value that serde could not encode (a `Serialize` impl reported an error).
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the value could not be encoded for a fingerprint ({}); fix its `Serialize` impl \
             or use `hash_policy = \"fast\"` or `\"none\"`",
            self.0
        )
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        Error(msg.to_string())
    }
}

struct Encoder<'a> {
    out: &'a mut Vec<u8>,
}

impl Encoder<'_> {
    fn len(&mut self, n: usize) {
        self.out.extend_from_slice(&(n as u64).to_le_bytes());
    }

    /// An enum variant's index, ahead of its content.
    fn variant(&mut self, index: u32) {
        self.out.extend_from_slice(&index.to_le_bytes());
    }
}

macro_rules! le_bytes {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(fn $method(self, v: $ty) -> Result<(), Error> {
            self.out.extend_from_slice(&v.to_le_bytes());
            Ok(())
        })*
    };
}

impl<'a, 'b> ser::Serializer for &'a mut Encoder<'b> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Counted<'a, 'b>;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = SortedMap<'a, 'b>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    le_bytes!(
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_i128: i128, serialize_u8: u8, serialize_u16: u16, serialize_u32: u32,
        serialize_u64: u64, serialize_u128: u128, serialize_f32: f32, serialize_f64: f64,
    );

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.push(u8::from(v));
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_u32(v as u32)
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.serialize_bytes(v.as_bytes())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.len(v.len());
        self.out.extend_from_slice(v);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.out.push(0);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.out.push(1);
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
    ) -> Result<(), Error> {
        self.serialize_u32(index)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.variant(index);
        value.serialize(self)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Counted<'a, 'b>, Error> {
        // A count placeholder, patched by `Counted::end`.
        let at = self.out.len();
        self.len(0);
        Ok(Counted {
            enc: self,
            at,
            count: 0,
        })
    }

    fn serialize_tuple(self, _: usize) -> Result<Self, Error> {
        Ok(self)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, Error> {
        Ok(self)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Error> {
        self.variant(index);
        Ok(self)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<SortedMap<'a, 'b>, Error> {
        Ok(SortedMap {
            enc: self,
            entries: Vec::new(),
            key: Vec::new(),
        })
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, Error> {
        Ok(self)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        index: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self, Error> {
        self.variant(index);
        Ok(self)
    }

    fn is_human_readable(&self) -> bool {
        false
    }
}

/// A sequence whose element count is written once known.
pub(crate) struct Counted<'a, 'b> {
    enc: &'a mut Encoder<'b>,
    at: usize,
    count: u64,
}

impl ser::SerializeSeq for Counted<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.count += 1;
        value.serialize(&mut *self.enc)
    }

    fn end(self) -> Result<(), Error> {
        self.enc.out[self.at..self.at + 8].copy_from_slice(&self.count.to_le_bytes());
        Ok(())
    }
}

macro_rules! in_order {
    ($($trait:ident :: $method:ident),* $(,)?) => {
        $(impl ser::$trait for &mut Encoder<'_> {
            type Ok = ();
            type Error = Error;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                value.serialize(&mut **self)
            }

            fn end(self) -> Result<(), Error> {
                Ok(())
            }
        })*
    };
}

in_order!(
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

macro_rules! fields_in_order {
    ($($trait:ident),* $(,)?) => {
        $(impl ser::$trait for &mut Encoder<'_> {
            type Ok = ();
            type Error = Error;

            fn serialize_field<T: Serialize + ?Sized>(&mut self, _: &'static str, value: &T) -> Result<(), Error> {
                value.serialize(&mut **self)
            }

            fn end(self) -> Result<(), Error> {
                Ok(())
            }
        })*
    };
}

fields_in_order!(SerializeStruct, SerializeStructVariant);

/// A map whose entries are sorted by encoded key before being written.
pub(crate) struct SortedMap<'a, 'b> {
    enc: &'a mut Encoder<'b>,
    entries: Vec<(Vec<u8>, Vec<u8>)>,
    key: Vec<u8>,
}

impl ser::SerializeMap for SortedMap<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key.clear();
        encode(key, &mut self.key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let mut bytes = Vec::new();
        encode(value, &mut bytes)?;
        self.entries.push((std::mem::take(&mut self.key), bytes));
        Ok(())
    }

    fn end(mut self) -> Result<(), Error> {
        self.entries.sort_unstable();
        self.enc.len(self.entries.len());
        for (k, v) in &self.entries {
            self.enc.out.extend_from_slice(k);
            self.enc.out.extend_from_slice(v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::encode;
    use std::collections::{BTreeMap, HashMap};

    fn bytes<T: serde::Serialize>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        encode(v, &mut out).unwrap();
        out
    }

    #[test]
    fn primitives_have_fixed_layouts() {
        assert_eq!(bytes(&true), [1]);
        assert_eq!(bytes(&0x0102u16), [2, 1]);
        assert_eq!(bytes(&-1i32), [0xff; 4]);
        assert_eq!(bytes(&"ab"), [2, 0, 0, 0, 0, 0, 0, 0, b'a', b'b']);
        assert_eq!(bytes(&Some(7u8)), [1, 7]);
        assert_eq!(bytes(&None::<u8>), [0]);
        assert_eq!(bytes(&(1u8, 2u8)), [1, 2]);
        assert_eq!(bytes(&vec![9u8, 8]), [2, 0, 0, 0, 0, 0, 0, 0, 9, 8]);
    }

    #[test]
    fn maps_encode_in_key_order_whatever_their_iteration_order() {
        let pairs = (0..200u32).map(|i| (format!("k{i}"), i));
        let hashed: HashMap<String, u32> = pairs.clone().collect();
        let ordered: BTreeMap<String, u32> = pairs.collect();
        assert_eq!(bytes(&hashed), bytes(&ordered));
    }

    #[test]
    fn different_values_encode_differently() {
        assert_ne!(bytes(&("a", "bc")), bytes(&("ab", "c")));
        assert_ne!(
            bytes(&vec![vec![1u8], vec![]]),
            bytes(&vec![vec![], vec![1u8]])
        );
        assert_ne!(bytes(&Ok::<u8, u8>(1)), bytes(&Err::<u8, u8>(1)));
    }
}
