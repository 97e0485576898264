//! A serializer around postcard's that gives every `Serialize` impl an error
//! type that keeps its message (see `message.rs`).
//!
//! [`Ser`] forwards each call to the serializer it wraps, unchanged, so the
//! bytes are postcard's; what it adds is a wrapper around every value it hands
//! on ([`Wrap`]), so that nested values meet a [`Ser`] too.

use postcard::ser_flavors::Flavor;
use serde::ser::{self, Serialize, Serializer};

use super::message::{Error, Stash};

/// Serializes `value` into `flavor` as postcard does, but with errors that
/// keep their message.
pub(crate) fn serialize<T, F>(value: &T, flavor: F) -> Result<F::Output, Error<postcard::Error>>
where
    T: Serialize + ?Sized,
    F: Flavor,
{
    let stash = Stash::default();
    let value = Wrap {
        value,
        stash: &stash,
    };
    postcard::serialize_with_flavor(&value, flavor).map_err(|err| stash.claim(err))
}

/// `inner`, with errors that keep their message.
struct Ser<'s, S> {
    inner: S,
    stash: &'s Stash,
}

impl<'s, S> Ser<'s, S> {
    fn new(inner: S, stash: &'s Stash) -> Self {
        Ser { inner, stash }
    }
}

/// A value handed to a serializer: it serializes `value` through a [`Ser`]
/// around whatever serializer it is given.
struct Wrap<'a, 's, T: ?Sized> {
    value: &'a T,
    stash: &'s Stash,
}

impl<T: Serialize + ?Sized> Serialize for Wrap<'_, '_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value
            .serialize(Ser::new(serializer, self.stash))
            .map_err(|err| self.stash.park(err, ser::Error::custom))
    }
}

/// A wrapped serializer's state for a sequence, tuple, map or struct.
struct Compound<'s, C> {
    inner: C,
    stash: &'s Stash,
}

/// Serializer methods that pass their arguments on as they are.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method(self, $($arg: $ty),*) -> Result<S::Ok, Self::Error> {
            let stash = self.stash;
            self.inner.$method($($arg),*).map_err(|err| stash.claim(err))
        }
    )*};
}

/// Serializer methods that pass one value on, wrapped.
macro_rules! forward_value {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        fn $method<T: Serialize + ?Sized>(
            self,
            $($arg: $ty,)*
            value: &T,
        ) -> Result<S::Ok, Self::Error> {
            let stash = self.stash;
            self.inner
                .$method($($arg,)* &Wrap { value, stash })
                .map_err(|err| stash.claim(err))
        }
    )*};
}

/// Serializer methods that start a compound value.
macro_rules! forward_compound {
    ($($method:ident($($arg:ident: $ty:ty),*) -> $assoc:ident;)*) => {$(
        fn $method(self, $($arg: $ty),*) -> Result<Self::$assoc, Self::Error> {
            let stash = self.stash;
            match self.inner.$method($($arg),*) {
                Ok(inner) => Ok(Compound { inner, stash }),
                Err(err) => Err(stash.claim(err)),
            }
        }
    )*};
}

impl<'s, S: Serializer> Serializer for Ser<'s, S> {
    type Ok = S::Ok;
    type Error = Error<S::Error>;
    type SerializeSeq = Compound<'s, S::SerializeSeq>;
    type SerializeTuple = Compound<'s, S::SerializeTuple>;
    type SerializeTupleStruct = Compound<'s, S::SerializeTupleStruct>;
    type SerializeTupleVariant = Compound<'s, S::SerializeTupleVariant>;
    type SerializeMap = Compound<'s, S::SerializeMap>;
    type SerializeStruct = Compound<'s, S::SerializeStruct>;
    type SerializeStructVariant = Compound<'s, S::SerializeStructVariant>;

    forward! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_i128(v: i128);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_u128(v: u128);
        serialize_f32(v: f32);
        serialize_f64(v: f64);
        serialize_char(v: char);
        serialize_str(v: &str);
        serialize_bytes(v: &[u8]);
        serialize_none();
        serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    forward_value! {
        serialize_some();
        serialize_newtype_struct(name: &'static str);
        serialize_newtype_variant(name: &'static str, index: u32, variant: &'static str);
    }

    forward_compound! {
        serialize_seq(len: Option<usize>) -> SerializeSeq;
        serialize_tuple(len: usize) -> SerializeTuple;
        serialize_tuple_struct(name: &'static str, len: usize) -> SerializeTupleStruct;
        serialize_tuple_variant(
            name: &'static str,
            index: u32,
            variant: &'static str,
            len: usize
        ) -> SerializeTupleVariant;
        serialize_map(len: Option<usize>) -> SerializeMap;
        serialize_struct(name: &'static str, len: usize) -> SerializeStruct;
        serialize_struct_variant(
            name: &'static str,
            index: u32,
            variant: &'static str,
            len: usize
        ) -> SerializeStructVariant;
    }

    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<S::Ok, Self::Error> {
        let stash = self.stash;
        self.inner
            .collect_str(value)
            .map_err(|err| stash.claim(err))
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

/// The compound serializer traits whose elements are one value each (all but
/// the map's), with the arguments that precede the value.
macro_rules! compound {
    ($($trait:ident::$method:ident($($arg:ident: $ty:ty),*);)*) => {$(
        impl<C: ser::$trait> ser::$trait for Compound<'_, C> {
            type Ok = C::Ok;
            type Error = Error<C::Error>;

            fn $method<T: Serialize + ?Sized>(
                &mut self,
                $($arg: $ty,)*
                value: &T,
            ) -> Result<(), Self::Error> {
                let stash = self.stash;
                self.inner
                    .$method($($arg,)* &Wrap { value, stash })
                    .map_err(|err| stash.claim(err))
            }

            fn end(self) -> Result<C::Ok, Self::Error> {
                let stash = self.stash;
                self.inner.end().map_err(|err| stash.claim(err))
            }
        }
    )*};
}

compound! {
    SerializeSeq::serialize_element();
    SerializeTuple::serialize_element();
    SerializeTupleStruct::serialize_field();
    SerializeTupleVariant::serialize_field();
}

/// The struct traits, which can also skip a field.
macro_rules! compound_struct {
    ($($trait:ident),*) => {$(
        impl<C: ser::$trait> ser::$trait for Compound<'_, C> {
            type Ok = C::Ok;
            type Error = Error<C::Error>;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Self::Error> {
                let stash = self.stash;
                self.inner
                    .serialize_field(key, &Wrap { value, stash })
                    .map_err(|err| stash.claim(err))
            }

            fn skip_field(&mut self, key: &'static str) -> Result<(), Self::Error> {
                let stash = self.stash;
                self.inner.skip_field(key).map_err(|err| stash.claim(err))
            }

            fn end(self) -> Result<C::Ok, Self::Error> {
                let stash = self.stash;
                self.inner.end().map_err(|err| stash.claim(err))
            }
        }
    )*};
}

compound_struct!(SerializeStruct, SerializeStructVariant);

impl<C: ser::SerializeMap> ser::SerializeMap for Compound<'_, C> {
    type Ok = C::Ok;
    type Error = Error<C::Error>;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Self::Error> {
        let stash = self.stash;
        self.inner
            .serialize_key(&Wrap { value: key, stash })
            .map_err(|err| stash.claim(err))
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        let stash = self.stash;
        self.inner
            .serialize_value(&Wrap { value, stash })
            .map_err(|err| stash.claim(err))
    }

    fn serialize_entry<K, V>(&mut self, key: &K, value: &V) -> Result<(), Self::Error>
    where
        K: Serialize + ?Sized,
        V: Serialize + ?Sized,
    {
        let stash = self.stash;
        self.inner
            .serialize_entry(&Wrap { value: key, stash }, &Wrap { value, stash })
            .map_err(|err| stash.claim(err))
    }

    fn end(self) -> Result<C::Ok, Self::Error> {
        let stash = self.stash;
        self.inner.end().map_err(|err| stash.claim(err))
    }
}
