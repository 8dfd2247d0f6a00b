//! The unknown-key check, driven by the settings types themselves.
//!
//! Typed values are read through [`Checked`], a deserializer that wraps the
//! config crate's own and compares the keys of every table with the field
//! list serde hands the struct the table becomes. A settings struct is
//! checked the moment it is a field of another, at any depth, with no list of
//! sections to keep up to date. Keys of maps (`[channels.NAME]`,
//! `[sigmamind.accounts.NAME]`) are names, not fields, and are not checked.

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

/// A key no settings struct takes: its full path, and the keys its table takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct UnknownKey {
    pub path: String,
    pub leaf: String,
    pub known: &'static [&'static str],
}

/// Where [`Checked`] records what it finds while deserialization goes on.
pub(super) type Found = RefCell<Vec<UnknownKey>>;

/// Deserializes `T` from `de`, recording in `found` every key under `path`
/// that the struct it belongs to does not take (the struct ignores it).
pub(super) fn deserialize_checked<'de, T, D>(
    de: D,
    path: &str,
    found: &Found,
) -> Result<T, D::Error>
where
    T: serde::Deserialize<'de>,
    D: Deserializer<'de>,
{
    T::deserialize(Checked::new(de, path, found))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A deserializer that reads through `de` and records unknown keys under `path`.
pub(super) struct Checked<'f, D> {
    de: D,
    path: String,
    found: &'f Found,
}

impl<'f, D> Checked<'f, D> {
    pub(super) fn new(de: D, path: &str, found: &'f Found) -> Self {
        Self {
            de,
            path: path.to_string(),
            found,
        }
    }

    fn wrap<V>(self, visitor: V, fields: Option<&'static [&'static str]>) -> (D, Wrap<'f, V>) {
        let wrap = Wrap {
            visitor,
            path: self.path,
            found: self.found,
            fields,
        };
        (self.de, wrap)
    }
}

macro_rules! forward_deserialize {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                let (de, visitor) = self.wrap(visitor, None);
                de.$method(visitor)
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Checked<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_ignored_any(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.wrap(visitor, None);
        de.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.wrap(visitor, None);
        de.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.wrap(visitor, None);
        de.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.wrap(visitor, None);
        de.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.wrap(visitor, Some(fields));
        de.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let (de, visitor) = self.wrap(visitor, None);
        de.deserialize_enum(name, variants, visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// The visitor of the type being read, with where it is and, for a struct,
/// the keys it takes.
struct Wrap<'f, V> {
    visitor: V,
    path: String,
    found: &'f Found,
    fields: Option<&'static [&'static str]>,
}

impl<'f, V> Wrap<'f, V> {
    fn checked<D>(&self, de: D) -> Checked<'f, D> {
        Checked {
            de,
            path: self.path.clone(),
            found: self.found,
        }
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty))*) => {
        $(
            fn $method<E: de::Error>(self, value: $ty) -> Result<Self::Value, E> {
                self.visitor.$method(value)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(formatter)
    }

    forward_visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64)
        visit_i128(i128) visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64)
        visit_u128(u128) visit_f32(f32) visit_f64(f64) visit_char(char)
        visit_str(&str) visit_borrowed_str(&'de str) visit_string(String)
        visit_bytes(&[u8]) visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        let de = self.checked(de);
        self.visitor.visit_some(de)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        let de = self.checked(de);
        self.visitor.visit_newtype_struct(de)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_seq(CheckedSeq {
            seq,
            path: self.path,
            found: self.found,
            index: 0,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_map(CheckedMap {
            map,
            path: self.path,
            found: self.found,
            fields: self.fields,
            key: String::new(),
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.visitor.visit_enum(CheckedEnum {
            data,
            path: self.path,
            found: self.found,
        })
    }
}

/// A seed that reads its value through [`Checked`] at `path`.
struct CheckedSeed<'f, S> {
    seed: S,
    path: String,
    found: &'f Found,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for CheckedSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Checked {
            de,
            path: self.path,
            found: self.found,
        })
    }
}

struct CheckedSeq<'f, A> {
    seq: A,
    path: String,
    found: &'f Found,
    index: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for CheckedSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let path = format!("{}[{}]", self.path, self.index);
        self.index += 1;
        self.seq.next_element_seed(CheckedSeed {
            seed,
            path,
            found: self.found,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.seq.size_hint()
    }
}

struct CheckedMap<'f, A> {
    map: A,
    path: String,
    found: &'f Found,
    fields: Option<&'static [&'static str]>,
    /// The key whose value comes next.
    key: String,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for CheckedMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        // Settings tables have string keys; reading the key as a string first
        // lets it be compared before the struct's own field visitor sees it.
        let Some(key) = self.map.next_key::<String>()? else {
            return Ok(None);
        };
        if let Some(fields) = self.fields {
            if !fields.contains(&key.as_str()) {
                self.found.borrow_mut().push(UnknownKey {
                    path: join(&self.path, &key),
                    leaf: key.clone(),
                    known: fields,
                });
            }
        }
        self.key.clone_from(&key);
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(CheckedSeed {
            seed,
            path: join(&self.path, &self.key),
            found: self.found,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

struct CheckedEnum<'f, A> {
    data: A,
    path: String,
    found: &'f Found,
}

impl<'de, 'f, A: EnumAccess<'de>> EnumAccess<'de> for CheckedEnum<'f, A> {
    type Error = A::Error;
    type Variant = CheckedVariant<'f, A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let (value, variant) = self.data.variant_seed(seed)?;
        let variant = CheckedVariant {
            variant,
            path: self.path,
            found: self.found,
        };
        Ok((value, variant))
    }
}

struct CheckedVariant<'f, A> {
    variant: A,
    path: String,
    found: &'f Found,
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for CheckedVariant<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.variant.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.variant.newtype_variant_seed(CheckedSeed {
            seed,
            path: self.path,
            found: self.found,
        })
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let visitor = Wrap {
            visitor,
            path: self.path,
            found: self.found,
            fields: None,
        };
        self.variant.tuple_variant(len, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let visitor = Wrap {
            visitor,
            path: self.path,
            found: self.found,
            fields: Some(fields),
        };
        self.variant.struct_variant(fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    // Read only by the check under test.
    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    struct Outer {
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(default)]
        list: Vec<Inner>,
        #[serde(default)]
        named: std::collections::BTreeMap<String, Inner>,
    }

    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    struct Inner {
        #[serde(default)]
        start: String,
    }

    fn unknown_paths(json: &str) -> Vec<(String, Vec<&'static str>)> {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        let found = Found::default();
        let _: Outer = deserialize_checked(value, "top", &found).unwrap();
        found
            .into_inner()
            .into_iter()
            .map(|unknown| (unknown.path, unknown.known.to_vec()))
            .collect()
    }

    #[test]
    fn finds_unknown_keys_at_every_depth_with_the_keys_their_table_takes() {
        type Expected<'a> = &'a [(&'a str, &'a [&'a str])];
        let cases: &[(&str, Expected)] = &[
            (r#"{"inner": {"start": "a"}}"#, &[]),
            (
                r#"{"inerr": {}}"#,
                &[("top.inerr", &["inner", "list", "named"])],
            ),
            (
                r#"{"inner": {"strat": "a"}}"#,
                &[("top.inner.strat", &["start"])],
            ),
            (
                r#"{"list": [{"start": "a"}, {"stat": "b"}]}"#,
                &[("top.list[1].stat", &["start"])],
            ),
            // A map's keys are names; the struct inside is still checked.
            (
                r#"{"named": {"anything": {"strt": "a"}}}"#,
                &[("top.named.anything.strt", &["start"])],
            ),
        ];
        for (json, expected) in cases {
            let expected: Vec<(String, Vec<&str>)> = expected
                .iter()
                .map(|(path, known)| (path.to_string(), known.to_vec()))
                .collect();
            assert_eq!(unknown_paths(json), expected, "{json}");
        }
    }
}
