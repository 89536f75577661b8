//! Field-level differences between two job definitions (JSON), as dotted paths.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// One field that differs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    /// Dotted path, with `[i]` for list items (`spec.collect.specs[0]`).
    pub path: String,
    /// The applied value (`None`: the field was not set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<Value>,
    /// The desired value (`None`: the field is removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<Value>,
}

/// Every leaf that differs between `old` and `new`, in path order.
pub fn diff(old: &Value, new: &Value) -> Vec<FieldChange> {
    let mut a = BTreeMap::new();
    let mut b = BTreeMap::new();
    flatten("", old, &mut a);
    flatten("", new, &mut b);
    let mut paths: Vec<&String> = a.keys().chain(b.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let (o, n) = (a.get(path), b.get(path));
            (o != n).then(|| FieldChange {
                path: path.clone(),
                old: o.map(|v| (*v).clone()),
                new: n.map(|v| (*v).clone()),
            })
        })
        .collect()
}

fn flatten<'a>(prefix: &str, value: &'a Value, out: &mut BTreeMap<String, &'a Value>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        _ => {
            out.insert(prefix.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_changed_added_and_removed_leaves() {
        let old =
            json!({"spec": {"schedule": "0 2 * * *", "retry": {"limit": 1}, "specs": ["a.yaml"]}});
        let new = json!({"spec": {"schedule": "0 3 * * *", "specs": ["a.yaml", "b.yaml"], "suspend": true}});
        let changes = diff(&old, &new);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.retry.limit",
                "spec.schedule",
                "spec.specs[1]",
                "spec.suspend"
            ]
        );
        assert_eq!(changes[0].old, Some(json!(1)));
        assert_eq!(changes[0].new, None);
        assert_eq!(changes[1].new, Some(json!("0 3 * * *")));
        assert_eq!(changes[2].old, None);
    }

    #[test]
    fn identical_definitions_have_no_changes() {
        let v = json!({"a": [1, {"b": null}], "c": {}});
        assert!(diff(&v, &v).is_empty());
    }
}
