//! The bytes an object's hash is taken over: the compact JSON of the object without `status` and
//! the volatile `metadata` fields, written straight from the parsed object.
//!
//! Fingerprints are kept between runs, so these bytes must stay exactly those of the first
//! version, which removed the keys from a copy with `Map::remove` and wrote the copy with
//! `serde_json::to_vec`. With `preserve_order`, `Map::remove` moves the map's last key into the
//! removed key's place; [`without`] replays that on a list of references instead of copying the
//! whole object (the copy cost more than the parse for a 10,000-pod bundle).

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// Top-level keys left out of the hash (what changes on its own).
const VOLATILE: &[&str] = &["status"];
/// `metadata` keys left out of the hash, in the order the first version removed them.
const VOLATILE_META: &[&str] = &["resourceVersion", "managedFields", "generation"];

/// Writes the stable bytes of `object` into `out`.
pub(super) fn write(object: &Value, out: &mut Vec<u8>) {
    // Writing into a Vec fails only for a non-string map key, which a `Value` cannot have.
    let _ = serde_json::to_writer(out, &Stable(object));
}

/// The entries of `map` in order after `Map::remove` of each of `keys` in turn.
fn without<'a>(map: &'a Map<String, Value>, keys: &[&str]) -> Vec<(&'a String, &'a Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    for key in keys {
        if let Some(i) = entries.iter().position(|(k, _)| k.as_str() == *key) {
            entries.swap_remove(i);
        }
    }
    entries
}

struct Stable<'a>(&'a Value);

impl Serialize for Stable<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Value::Object(map) = self.0 else {
            return self.0.serialize(serializer);
        };
        let entries = without(map, VOLATILE);
        let mut out = serializer.serialize_map(Some(entries.len()))?;
        for (key, value) in entries {
            match value {
                Value::Object(meta) if key == "metadata" => {
                    out.serialize_entry(key, &Entries(without(meta, VOLATILE_META)))?;
                }
                _ => out.serialize_entry(key, value)?,
            }
        }
        out.end()
    }
}

struct Entries<'a>(Vec<(&'a String, &'a Value)>);

impl Serialize for Entries<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            out.serialize_entry(key, value)?;
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The first version: a copy, `Map::remove`, `to_vec`.
    fn by_copy(object: &Value) -> Vec<u8> {
        let mut stable = object.clone();
        if let Some(map) = stable.as_object_mut() {
            map.remove("status");
            if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
                for volatile in VOLATILE_META {
                    meta.remove(*volatile);
                }
            }
        }
        serde_json::to_vec(&stable).expect("to_vec")
    }

    #[test]
    fn the_bytes_are_those_of_a_copy_with_the_keys_removed() {
        let objects = [
            // status in the middle and volatile fields first, middle and last: the last keys move.
            json!({"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Running"},
                   "metadata": {"resourceVersion": "1", "name": "p", "generation": 3,
                                "namespace": "ns", "labels": {"a": "b"}, "managedFields": []},
                   "spec": {"containers": [{"name": "c"}]}, "zz": 1}),
            json!({"kind": "Node", "metadata": {"name": "n"}, "status": {}}),
            json!({"metadata": {"name": "only", "generation": 1}}),
            json!({"kind": "ConfigMap", "metadata": "not an object", "status": 1}),
            json!({"kind": "X", "metadata": {"name": "x"}, "data": {"k": "v\n\"q\""}}),
            json!("not an object"),
        ];
        for object in &objects {
            let mut out = Vec::new();
            write(object, &mut out);
            assert_eq!(
                String::from_utf8(out).expect("utf8"),
                String::from_utf8(by_copy(object)).expect("utf8"),
                "{object}"
            );
        }
    }
}
