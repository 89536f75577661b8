//! JSON that an agent keeps for every job as long as it runs: the job's definition (what `plan`
//! diffs, `applied.json` stores and the spec hash is taken of) and its inline troubleshoot spec.
//!
//! Both are held as compact JSON text rather than as a `serde_json::Value`: the text is about a
//! seventh of the tree's size (≈430 bytes against ≈3 KB for a small job's definition; a
//! one-collector inline spec is ≈25 bytes against ≈1.1 KB of maps). A definition also goes into
//! `applied.json` as it is, so writing that file after a reload copies text instead of
//! serializing 10,000 trees. The tree is parsed on demand, for the few jobs a plan reports as
//! changed.

use crate::digest::sha256_hex;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A JSON value held as compact text (see the module docs).
#[derive(Clone, Debug)]
pub struct CompactJson(Box<RawValue>);

/// A job's definition: its metadata and spec with the zone resolved, plus the content hash of
/// every spec file it references.
pub type Definition = CompactJson;

impl CompactJson {
    /// `value` in compact form.
    pub fn from_value(value: &Value) -> Self {
        // A `Value` always serializes (to compact, valid JSON).
        CompactJson(serde_json::value::to_raw_value(value).unwrap_or_else(|_| null()))
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The value as a tree (parsed on each call).
    pub fn value(&self) -> Value {
        // The text came from a `Value` (see `from_value` and the reader), so it parses.
        serde_json::from_str(self.as_str()).unwrap_or(Value::Null)
    }

    /// Hex sha256 of the compact text (of a definition: the job's spec hash).
    pub fn hash(&self) -> SpecHash {
        SpecHash::from(sha256_hex(self.as_str().as_bytes()))
    }
}

/// A job's spec hash: hex sha256 of its definition, as `applied.json` and the run records hold
/// it. Cloning shares the text: the loaded job and the applied state each keep one for every
/// job the agent runs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpecHash(std::sync::Arc<str>);

impl SpecHash {
    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Reads as the hex text where a `&str` is wanted.
impl std::ops::Deref for SpecHash {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SpecHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for SpecHash {
    fn from(text: String) -> Self {
        SpecHash(text.into())
    }
}

impl From<&str> for SpecHash {
    fn from(text: &str) -> Self {
        SpecHash(text.into())
    }
}

impl PartialEq<str> for SpecHash {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl Serialize for SpecHash {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for SpecHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(SpecHash::from)
    }
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".into()).expect("\"null\" is valid JSON")
}

impl PartialEq for CompactJson {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for CompactJson {}

impl Serialize for CompactJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CompactJson {
    /// Reads any value (from YAML too) and keeps its compact form, so that a definition written
    /// with other whitespace (an older `applied.json`, pretty-printed) hashes as it did when it
    /// was applied.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|value| CompactJson::from_value(&value))
    }
}

impl JsonSchema for CompactJson {
    fn schema_name() -> Cow<'static, str> {
        Value::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        Value::schema_id()
    }

    fn inline_schema() -> bool {
        Value::inline_schema()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        Value::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_compact_text_in_field_order() {
        let value = json!({"spec": {"schedule": "0 * * * *", "timeZone": "UTC"}, "labels": {}});
        let def = Definition::from_value(&value);
        assert_eq!(
            def.as_str(),
            r#"{"spec":{"schedule":"0 * * * *","timeZone":"UTC"},"labels":{}}"#
        );
        assert_eq!(def.value(), value);
        assert_eq!(
            def.value().pointer("/spec/schedule"),
            Some(&json!("0 * * * *"))
        );
        assert_eq!(def.value().pointer("/spec/missing"), None);
    }

    #[test]
    fn hash_is_of_the_compact_text() {
        let value = json!({
            "labels": {"team": "sre"},
            "spec": {"schedule": "0 2 * * *", "jitter": "10m", "list": [1, 2.5, null, "ü\"\n"]},
            "specFiles": {},
        });
        let def = Definition::from_value(&value);
        assert_eq!(
            def.hash().as_str(),
            sha256_hex(value.to_string().as_bytes())
        );
    }

    #[test]
    fn pretty_input_reads_back_compact_and_serializes_verbatim() {
        let pretty = "{\n  \"b\": 1,\n  \"a\": { \"c\": [true, null] }\n}";
        let def: Definition = serde_json::from_str(pretty).unwrap();
        assert_eq!(def.as_str(), r#"{"b":1,"a":{"c":[true,null]}}"#);
        // Inside a pretty-printed file the definition stays one compact line.
        let out =
            serde_json::to_string_pretty(&std::collections::BTreeMap::from([("d", &def)])).unwrap();
        assert_eq!(out, "{\n  \"d\": {\"b\":1,\"a\":{\"c\":[true,null]}}\n}");
    }

    #[test]
    fn read_from_yaml_it_serializes_as_the_tree_would() {
        // An inline spec is read from a job file and later embedded in the job's definition and
        // in the CLI's spec file: both must be what the tree gives, key order and numbers kept.
        let text = "zeta: 1\nalpha:\n  - memory: {}\n  - run: {command: sh, args: [\"-c\", \"echo ü\"]}\nratio: 2.5\nbig: 12345678901234\nnone: null\n";
        let node = crate::yaml::parse_documents(text).unwrap().remove(0);
        let compact: CompactJson = crate::yaml::from_node(&node).unwrap();
        let tree: Value = crate::yaml::from_node(&node).unwrap();
        assert_eq!(compact.as_str(), tree.to_string());
        assert_eq!(serde_json::to_value(&compact).unwrap(), tree);
        let embedded = serde_json::json!({"spec": {"supportBundle": compact}});
        assert_eq!(
            embedded.to_string(),
            serde_json::json!({"spec": {"supportBundle": tree}}).to_string()
        );
        assert!(
            embedded
                .to_string()
                .starts_with(r#"{"spec":{"supportBundle":{"zeta":1,"alpha":"#)
        );
    }
}
