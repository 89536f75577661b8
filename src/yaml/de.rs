//! Typed deserialization from a [`Node`] tree, with the location and path of every error.

use super::node::{Loc, Node, Value};
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, Error as _, IntoDeserializer, MapAccess,
    SeqAccess, VariantAccess, Visitor,
};
use std::fmt;

/// Why a node did not fit the type it was read into.
#[derive(Debug, Clone, PartialEq)]
pub struct DeError {
    /// What is wrong.
    pub message: String,
    /// Where, once known (the innermost node that failed).
    pub loc: Option<Loc>,
    /// The field path from the document root, e.g. `spec.retry.limit`.
    pub path: Vec<String>,
    /// A likely intended spelling for an unknown field or variant.
    pub suggestion: Option<String>,
}

impl DeError {
    fn at(mut self, loc: Loc) -> Self {
        if self.loc.is_none() && loc.is_known() {
            self.loc = Some(loc);
        }
        self
    }

    fn under(mut self, segment: String) -> Self {
        self.path.insert(0, segment);
        self
    }

    /// The path as `a.b[2].c`.
    pub fn path_string(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            if seg.starts_with('[') {
                out.push_str(seg);
            } else {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(seg);
            }
        }
        out
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            message: msg.to_string(),
            loc: None,
            path: Vec::new(),
            suggestion: None,
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let suggestion = suggest(field, expected);
        let mut err = DeError::custom(format!(
            "unknown field `{field}`; expected one of {}",
            list(expected)
        ));
        err.suggestion = suggestion;
        err
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let suggestion = suggest(variant, expected);
        let mut err = DeError::custom(format!(
            "unknown value `{variant}`; expected one of {}",
            list(expected)
        ));
        err.suggestion = suggestion;
        err
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::custom(format!("missing required field `{field}`"))
    }
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The closest of `candidates` to `word`, when it is close enough to be a likely typo.
pub fn suggest(word: &str, candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&word.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| (*c).to_string())
}

/// Reads a `T` out of `node`; errors carry the location and path of the offending node.
pub fn from_node<'a, T: de::Deserialize<'a>>(node: &'a Node) -> Result<T, DeError> {
    T::deserialize(node)
}

impl<'de> Deserializer<'de> for &'de Node {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match &self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::UInt(u) => visitor.visit_u64(*u),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Seq(items) => visitor.visit_seq(Seq {
                iter: items.iter().enumerate(),
            }),
            Value::Map(entries) => visitor.visit_map(Map {
                iter: entries.iter(),
                value: None,
            }),
        };
        result.map_err(|e| e.at(self.loc))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| e.at(self.loc))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // `port: 8080` into a string field is what people mean; lists and maps are not.
        match &self.value {
            Value::Str(s) => visitor.visit_borrowed_str(s),
            Value::Bool(_) | Value::Int(_) | Value::UInt(_) | Value::Float(_) => {
                visitor.visit_string(self.scalar_text())
            }
            _ => Err(DeError::custom(format!(
                "expected a string, found {}",
                self.kind_name()
            ))),
        }
        .map_err(|e| e.at(self.loc))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.value {
            // An empty `key:` means "none" for a list as much as for an optional field.
            Value::Null => visitor.visit_seq(Seq {
                iter: [].iter().enumerate(),
            }),
            _ => return self.deserialize_any(visitor),
        }
        .map_err(|e| e.at(self.loc))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.value {
            Value::Null => visitor.visit_map(Map {
                iter: [].iter(),
                value: None,
            }),
            _ => return self.deserialize_any(visitor),
        }
        .map_err(|e| e.at(self.loc))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match &self.value {
            Value::Str(_) => visitor.visit_enum(Enum {
                key: self,
                value: None,
            }),
            Value::Map(entries) if entries.len() == 1 => visitor.visit_enum(Enum {
                key: &entries[0].0,
                value: Some(&entries[0].1),
            }),
            Value::Map(entries) => Err(de::Error::custom(format!(
                "expected a mapping with exactly one key, found {} keys",
                entries.len()
            ))),
            _ => Err(de::Error::custom(format!(
                "expected a string or a one-key mapping, found {}",
                self.kind_name()
            ))),
        }
        .map_err(|e| e.at(self.loc))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.value {
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Str(s) => match s.to_ascii_lowercase().as_str() {
                "yes" | "on" | "y" => visitor.visit_bool(true),
                "no" | "off" | "n" => visitor.visit_bool(false),
                _ => Err(DeError::custom(format!(
                    "expected a boolean (true or false), found `{s}`"
                ))),
            },
            _ => Err(DeError::custom(format!(
                "expected a boolean (true or false), found {}",
                self.kind_name()
            ))),
        }
        .map_err(|e| e.at(self.loc))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char
        bytes byte_buf unit unit_struct tuple tuple_struct identifier
    }
}

struct Seq<'de, I: Iterator<Item = (usize, &'de Node)>> {
    iter: I,
}

impl<'de, I: Iterator<Item = (usize, &'de Node)>> SeqAccess<'de> for Seq<'de, I> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.iter.next() {
            Some((i, node)) => seed
                .deserialize(node)
                .map(Some)
                .map_err(|e| e.at(node.loc).under(format!("[{i}]"))),
            None => Ok(None),
        }
    }
}

struct Map<'de, I: Iterator<Item = &'de (Node, Node)>> {
    iter: I,
    value: Option<(&'de Node, &'de Node)>,
}

impl<'de, I: Iterator<Item = &'de (Node, Node)>> MapAccess<'de> for Map<'de, I> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some((k, v));
                seed.deserialize(k)
                    .map(Some)
                    .map_err(|e| e.at(k.loc).under(k.scalar_text()))
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some((k, v)) => seed
                .deserialize(v)
                .map_err(|e| e.at(v.loc).under(k.scalar_text())),
            None => Err(de::Error::custom("value requested before key")),
        }
    }
}

struct Enum<'de> {
    key: &'de Node,
    value: Option<&'de Node>,
}

impl<'de> EnumAccess<'de> for Enum<'de> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let key = self.key;
        let variant = seed
            .deserialize(key.scalar_text().into_deserializer())
            .map_err(|e: DeError| e.at(key.loc))?;
        Ok((variant, self))
    }
}

impl<'de> VariantAccess<'de> for Enum<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            None
            | Some(Node {
                value: Value::Null, ..
            }) => Ok(()),
            Some(v) => Err(DeError::custom(format!(
                "`{}` takes no value, found {}",
                self.key.scalar_text(),
                v.kind_name()
            ))
            .at(v.loc)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        let name = self.key.scalar_text();
        match self.value {
            Some(v) => seed.deserialize(v).map_err(|e| e.at(v.loc).under(name)),
            None => Err(DeError::custom(format!("`{name}` needs a value")).at(self.key.loc)),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        let name = self.key.scalar_text();
        match self.value {
            Some(v) => v
                .deserialize_seq(visitor)
                .map_err(|e| e.at(v.loc).under(name)),
            None => Err(DeError::custom(format!("`{name}` needs a list")).at(self.key.loc)),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let name = self.key.scalar_text();
        match self.value {
            Some(v) => v
                .deserialize_map(visitor)
                .map_err(|e| e.at(v.loc).under(name)),
            None => Err(DeError::custom(format!("`{name}` needs a mapping")).at(self.key.loc)),
        }
    }
}
