//! Reads model types straight from the located tree ([`crate::source::Node`]): the file is
//! parsed once, by [`crate::source::parse`], and the same tree is checked against the schema
//! ([`crate::structure`]) and then deserialized here — there is no second parse of the text and,
//! for environments, no YAML written out of a merged tree to be read again.
//!
//! Plain (unquoted) scalars resolve as the structural check reads them, so a value the check
//! accepts is a value this reader accepts: `~`, `null`, `Null`, `NULL` and the empty scalar are
//! null; `true`/`false` (also `True`, `TRUE` …) are booleans; whole numbers (decimal, `0x`, `0o`,
//! `_` separators) and finite decimals are numbers; everything else — and every quoted or block
//! scalar — is a string. A string field takes a plain scalar's text as written (`port: 8080`
//! into a string is `"8080"`), as YAML readers do when the target type asks for a string.
//!
//! An error names the node it is about, so it is located without mapping lines back.

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use crate::source::{Node, NodeKind, Pos, is_bool, is_null, parse_int};

/// Why a tree does not deserialize, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NodeError {
    /// The node the problem is about (`None` until a node claims it).
    pub pos: Option<Pos>,
    /// What is wrong (serde's wording).
    pub message: String,
}

impl NodeError {
    /// The error as a model problem at its node.
    pub(crate) fn into_problem(self) -> crate::diagnostics::Problem {
        let mut p = crate::diagnostics::Problem::new(crate::source::Path::root(), self.message);
        p.pos = self.pos;
        p
    }
}

impl std::fmt::Display for NodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for NodeError {}

impl de::Error for NodeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Self {
            pos: None,
            message: msg.to_string(),
        }
    }
}

/// Deserializes `T` from `node`.
pub(crate) fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, NodeError> {
    T::deserialize(NodeDe(node))
}

/// A located tree node as a serde deserializer.
#[derive(Clone, Copy)]
struct NodeDe<'a>(&'a Node);

impl NodeDe<'_> {
    /// Gives an error without a position this node's position.
    fn locate(self, mut e: NodeError) -> NodeError {
        e.pos.get_or_insert(self.0.pos);
        e
    }

    fn scalar(&self) -> Option<(&str, bool)> {
        match &self.0.kind {
            NodeKind::Scalar { value, quoted } => Some((value, *quoted)),
            _ => None,
        }
    }

    fn unexpected(&self) -> de::Unexpected<'_> {
        match &self.0.kind {
            NodeKind::Scalar { .. } if is_null(self.0) => de::Unexpected::Unit,
            NodeKind::Scalar { value, .. } => de::Unexpected::Str(value),
            NodeKind::Seq(_) => de::Unexpected::Seq,
            NodeKind::Map(_) => de::Unexpected::Map,
        }
    }

    /// "invalid type: …, expected …" at this node.
    fn invalid_any<V: de::Expected>(&self, expected: &V) -> NodeError {
        let mut e: NodeError = de::Error::invalid_type(self.unexpected(), expected);
        e.pos = Some(self.0.pos);
        e
    }

    fn integer(&self) -> Option<i128> {
        match self.scalar() {
            Some((v, false)) => parse_int(v),
            _ => None,
        }
    }
}

macro_rules! integers {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
                match self.integer() {
                    Some(n) => match <$ty>::try_from(n) {
                        Ok(v) => visitor.$visit(v).map_err(|e| self.locate(e)),
                        Err(_) => Err(NodeError {
                            pos: Some(self.0.pos),
                            message: format!("{n} is out of range for {}", stringify!($ty)),
                        }),
                    },
                    None => self.deserialize_any(visitor),
                }
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for NodeDe<'de> {
    type Error = NodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        let r = match &self.0.kind {
            NodeKind::Scalar { value, quoted: true } => visitor.visit_str(value),
            NodeKind::Scalar { value, quoted: false } => {
                if is_null(self.0) {
                    visitor.visit_unit()
                } else if is_bool(value) {
                    visitor.visit_bool(value.eq_ignore_ascii_case("true"))
                } else if let Some(n) = parse_int(value) {
                    if let Ok(u) = u64::try_from(n) {
                        visitor.visit_u64(u)
                    } else if let Ok(i) = i64::try_from(n) {
                        visitor.visit_i64(i)
                    } else {
                        visitor.visit_i128(n)
                    }
                } else if let Some(f) = value.parse::<f64>().ok().filter(|f| f.is_finite()) {
                    visitor.visit_f64(f)
                } else {
                    visitor.visit_str(value)
                }
            }
            NodeKind::Seq(items) => visitor.visit_seq(Seq { items: items.iter() }),
            NodeKind::Map(items) => visitor.visit_map(Map {
                items: items.iter(),
                value: None,
            }),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        match self.scalar() {
            Some((v, false)) if is_bool(v) => visitor
                .visit_bool(v.eq_ignore_ascii_case("true"))
                .map_err(|e| self.locate(e)),
            _ => self.deserialize_any(visitor),
        }
    }

    integers! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        match self.scalar() {
            Some((v, false)) if !is_null(self.0) => match v.parse::<f64>().ok().filter(|f| f.is_finite()) {
                Some(f) => visitor.visit_f64(f).map_err(|e| self.locate(e)),
                None => self.deserialize_any(visitor),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        match self.scalar() {
            // A string is wanted: a plain scalar's text as written, except null.
            Some((v, quoted)) if quoted || !is_null(self.0) => {
                visitor.visit_str(v).map_err(|e| self.locate(e))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        if is_null(self.0) {
            visitor.visit_none().map_err(|e| self.locate(e))
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        if is_null(self.0) {
            visitor.visit_unit().map_err(|e| self.locate(e))
        } else {
            Err(self.invalid_any(&visitor))
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, NodeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        let r = match &self.0.kind {
            NodeKind::Scalar { value, .. } => {
                visitor.visit_enum(de::value::StrDeserializer::<NodeError>::new(value).into_deserializer())
            }
            NodeKind::Map(items) if items.len() == 1 => visitor.visit_enum(Variant(&items[0])),
            _ => Err(self.invalid_any(&visitor)),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, NodeError> {
        visitor.visit_unit()
    }
}

struct Seq<'a> {
    items: std::slice::Iter<'a, Node>,
}

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = NodeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, NodeError> {
        match self.items.next() {
            Some(n) => seed.deserialize(NodeDe(n)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map<'a> {
    items: std::slice::Iter<'a, (Node, Node)>,
    value: Option<&'a Node>,
}

impl<'de> MapAccess<'de> for Map<'de> {
    type Error = NodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, NodeError> {
        match self.items.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(NodeDe(k)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, NodeError> {
        match self.value.take() {
            Some(v) => seed.deserialize(NodeDe(v)),
            None => Err(de::Error::custom("a mapping value was read before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// An externally tagged enum value: `{Variant: content}`.
struct Variant<'a>(&'a (Node, Node));

impl<'de> de::EnumAccess<'de> for Variant<'de> {
    type Error = NodeError;
    type Variant = NodeDe<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, NodeDe<'de>), NodeError> {
        let (k, v) = self.0;
        let tag = seed.deserialize(NodeDe(k))?;
        Ok((tag, NodeDe(v)))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDe<'de> {
    type Error = NodeError;

    fn unit_variant(self) -> Result<(), NodeError> {
        if is_null(self.0) {
            Ok(())
        } else {
            Err(self.invalid_any(&"a unit variant"))
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, NodeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, NodeError> {
        de::Deserializer::deserialize_any(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, NodeError> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::parse;
    use serde::Deserialize;

    fn tree(src: &str) -> Node {
        parse(src).expect("parses").expect("a document")
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct T {
        name: String,
        #[serde(default)]
        port: Option<u16>,
        #[serde(default)]
        on: bool,
        #[serde(default)]
        ratio: f64,
        #[serde(default)]
        list: Vec<String>,
        #[serde(default)]
        kind: Option<K>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum K {
        Ingress,
        Dns { zone: String },
    }

    #[test]
    fn reads_what_the_structural_check_reads() {
        let t: T = from_node(&tree(
            "name: 8080\nport: 0x10\non: True\nratio: 0.5\nlist: [a, 'b', 3]\nkind: ingress\n",
        ))
        .expect("reads");
        assert_eq!(
            t,
            T {
                name: "8080".into(),
                port: Some(16),
                on: true,
                ratio: 0.5,
                list: vec!["a".into(), "b".into(), "3".into()],
                kind: Some(K::Ingress),
            }
        );
        let t: T = from_node(&tree("name: x\nport: ~\nkind: {dns: {zone: z}}\n")).expect("reads");
        assert_eq!(t.port, None);
        assert_eq!(t.kind, Some(K::Dns { zone: "z".into() }));
    }

    #[test]
    fn errors_name_the_node() {
        let e = from_node::<T>(&tree("name: x\nport: 70000\n")).expect_err("out of range");
        assert_eq!(e.message, "70000 is out of range for u16");
        assert_eq!(e.pos.map(|p| (p.line, p.column)), Some((2, 7)));
        let e = from_node::<T>(&tree("name: x\nbogus: 1\n")).expect_err("unknown field");
        assert!(e.message.starts_with("unknown field `bogus`"), "{}", e.message);
        assert_eq!(e.pos.map(|p| (p.line, p.column)), Some((2, 1)));
        let e = from_node::<T>(&tree("port: 1\n")).expect_err("missing field");
        assert_eq!(e.message, "missing field `name`");
        assert_eq!(e.pos.map(|p| (p.line, p.column)), Some((1, 1)));
        let e = from_node::<T>(&tree("name: [a]\n")).expect_err("a list for a string");
        assert_eq!(e.message, "invalid type: sequence, expected a string");
        assert_eq!(e.pos.map(|p| (p.line, p.column)), Some((1, 7)));
    }
}
