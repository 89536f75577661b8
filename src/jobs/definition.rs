//! A job's definition: what `plan` diffs, `applied.json` stores and the spec hash is taken of.
//!
//! It is held as compact JSON text rather than as a `serde_json::Value`: an agent keeps one per
//! job for as long as it runs, and the text is about a seventh of the tree's size (≈430 bytes
//! against ≈3 KB for a small job). It also goes into `applied.json` as it is, so writing that
//! file after a reload copies text instead of serializing 10,000 trees. The tree is parsed on
//! demand, for the few jobs a plan reports as changed.

use crate::digest::sha256_hex;
use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// A job's definition as compact JSON text (see the module docs).
#[derive(Clone, Debug)]
pub struct Definition(Box<RawValue>);

impl Definition {
    /// The definition of `value`, in compact form.
    pub fn from_value(value: &Value) -> Self {
        // A `Value` always serializes (to compact, valid JSON).
        Definition(serde_json::value::to_raw_value(value).unwrap_or_else(|_| null()))
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The definition as a tree (parsed on each call).
    pub fn value(&self) -> Value {
        // The text came from a `Value` (see `from_value` and the reader), so it parses.
        serde_json::from_str(self.as_str()).unwrap_or(Value::Null)
    }

    /// Hex sha256 of the compact text: the job's spec hash.
    pub fn hash(&self) -> String {
        sha256_hex(self.as_str().as_bytes())
    }
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".into()).expect("\"null\" is valid JSON")
}

impl PartialEq for Definition {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Definition {}

impl Serialize for Definition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Definition {
    /// Reads any JSON value and keeps its compact form, so that a definition written with other
    /// whitespace (an older `applied.json`, pretty-printed) hashes as it did when it was applied.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Value::deserialize(d).map(|value| Definition::from_value(&value))
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
        assert_eq!(def.hash(), sha256_hex(value.to_string().as_bytes()));
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
}
