//! A deserializer around postcard's that gives every `Deserialize` impl an
//! error type that keeps its message (see `message.rs`).
//!
//! [`De`] forwards each call to the deserializer it wraps, unchanged. What
//! postcard hands back to the impl (a visitor's calls, the accesses to a
//! sequence, map or enum, the seeds of nested values) is wrapped on the way
//! through, so that nested values meet a [`De`] too.

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, Visitor};

use super::message::{Error, Stash};

/// Deserializes a `T` from the start of `bytes` as postcard does, but with
/// errors that keep their message.
pub(crate) fn deserialize<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error<postcard::Error>> {
    let stash = Stash::default();
    let mut postcard = postcard::Deserializer::from_bytes(bytes);
    T::deserialize(De::new(&mut postcard, &stash))
}

/// `inner`, with errors that keep their message.
struct De<'s, D> {
    inner: D,
    stash: &'s Stash,
}

impl<'s, D> De<'s, D> {
    fn new(inner: D, stash: &'s Stash) -> Self {
        De { inner, stash }
    }
}

/// An impl's visitor, handed to the wrapped deserializer.
struct Visit<'s, V> {
    visitor: V,
    stash: &'s Stash,
}

/// An impl's seed for a nested value, handed to the wrapped deserializer.
struct Seed<'s, T> {
    seed: T,
    stash: &'s Stash,
}

/// The wrapped deserializer's access to a sequence, map, enum or variant,
/// handed to the impl.
struct Access<'s, A> {
    inner: A,
    stash: &'s Stash,
}

/// Deserializer methods that take a visitor after their other arguments.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<V: Visitor<'de>>(
            self,
            $($arg: $ty,)*
            visitor: V,
        ) -> Result<V::Value, Self::Error> {
            let stash = self.stash;
            self.inner
                .$method($($arg,)* Visit { visitor, stash })
                .map_err(|err| stash.claim(err))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for De<'_, D> {
    type Error = Error<D::Error>;

    forward! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

impl<'de, T: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'_, T> {
    type Value = T::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T::Value, D::Error> {
        let stash = self.stash;
        self.seed
            .deserialize(De::new(deserializer, stash))
            .map_err(|err| stash.park(err, de::Error::custom))
    }
}

/// Visitor methods that take one plain value.
macro_rules! visit {
    ($($method:ident($ty:ty);)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            let stash = self.stash;
            self.visitor.$method(v).map_err(|err| stash.park(err, E::custom))
        }
    )*};
}

/// Visitor methods that take a nested deserializer or an access, wrapped as
/// `$wrap`.
macro_rules! visit_nested {
    ($($method:ident<$param:ident: $bound:ident> => $wrap:ident;)*) => {$(
        fn $method<$param: de::$bound<'de>>(
            self,
            inner: $param,
        ) -> Result<V::Value, $param::Error> {
            let stash = self.stash;
            self.visitor
                .$method($wrap { inner, stash })
                .map_err(|err| stash.park(err, de::Error::custom))
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Visit<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.visitor.expecting(f)
    }

    visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        let stash = self.stash;
        self.visitor
            .visit_none()
            .map_err(|err| stash.park(err, E::custom))
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        let stash = self.stash;
        self.visitor
            .visit_unit()
            .map_err(|err| stash.park(err, E::custom))
    }

    visit_nested! {
        visit_some<D: Deserializer> => De;
        visit_newtype_struct<D: Deserializer> => De;
        visit_seq<A: SeqAccess> => Access;
        visit_map<A: MapAccess> => Access;
        visit_enum<A: EnumAccess> => Access;
    }
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Access<'_, A> {
    type Error = Error<A::Error>;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        let stash = self.stash;
        self.inner
            .next_element_seed(Seed { seed, stash })
            .map_err(|err| stash.claim(err))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Access<'_, A> {
    type Error = Error<A::Error>;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let stash = self.stash;
        self.inner
            .next_key_seed(Seed { seed, stash })
            .map_err(|err| stash.claim(err))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        let stash = self.stash;
        self.inner
            .next_value_seed(Seed { seed, stash })
            .map_err(|err| stash.claim(err))
    }

    fn next_entry_seed<K, T>(
        &mut self,
        key: K,
        value: T,
    ) -> Result<Option<(K::Value, T::Value)>, Self::Error>
    where
        K: DeserializeSeed<'de>,
        T: DeserializeSeed<'de>,
    {
        let stash = self.stash;
        self.inner
            .next_entry_seed(Seed { seed: key, stash }, Seed { seed: value, stash })
            .map_err(|err| stash.claim(err))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'s, 'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for Access<'s, A> {
    type Error = Error<A::Error>;
    type Variant = Access<'s, A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), Self::Error> {
        let stash = self.stash;
        match self.inner.variant_seed(Seed { seed, stash }) {
            Ok((value, inner)) => Ok((value, Access { inner, stash })),
            Err(err) => Err(stash.claim(err)),
        }
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for Access<'_, A> {
    type Error = Error<A::Error>;

    fn unit_variant(self) -> Result<(), Self::Error> {
        let stash = self.stash;
        self.inner.unit_variant().map_err(|err| stash.claim(err))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        let stash = self.stash;
        self.inner
            .newtype_variant_seed(Seed { seed, stash })
            .map_err(|err| stash.claim(err))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let stash = self.stash;
        self.inner
            .tuple_variant(len, Visit { visitor, stash })
            .map_err(|err| stash.claim(err))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let stash = self.stash;
        self.inner
            .struct_variant(fields, Visit { visitor, stash })
            .map_err(|err| stash.claim(err))
    }
}
