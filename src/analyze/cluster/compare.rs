//! `yamlCompare` and `jsonCompare`: a collected file (or the node at `path`, dotted with `[n]`
//! indexes, or for JSON a kubectl `jsonPath`) compared with `value`; `when: "true"/"false"` is
//! compared with "equal" (defaults: fail and warn false, pass true), first match wins, and
//! messages are templates over the whole document.

use super::super::outcome::{self, Severity};
use super::super::template::{self, Missing};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use super::text;
use serde_json::Value;

const ICON: Icon = Icon(
    "kubernetes_text_analyze",
    "https://troubleshoot.sh/images/analyzer-icons/text-analyze.svg",
);

/// The node at a dotted `path` (`spec.containers.[0].image`).
fn at_path(mut node: Value, path: &str) -> Result<Value, AnalyzerError> {
    for key in path.split('.') {
        node = if let Some(index) = key.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
            let i: usize = index.parse().map_err(|_| {
                AnalyzerError::spec(format!("path {path:?}: {key} is not an index"))
            })?;
            match node {
                Value::Array(mut items) if i < items.len() => items.swap_remove(i),
                Value::Array(_) => {
                    return Err(AnalyzerError::spec(format!(
                        "path {path:?}: index {i} is out of range"
                    )));
                }
                _ => {
                    return Err(AnalyzerError::spec(format!(
                        "path {path:?}: {key} indexes a non-list"
                    )));
                }
            }
        } else {
            match node {
                Value::Object(mut map) => map.remove(key).unwrap_or(Value::Null),
                other => {
                    return Err(AnalyzerError::spec(format!(
                        "path {path:?}: `{key}` looked up in a {}",
                        kind_name(&other)
                    )));
                }
            }
        };
    }
    Ok(node)
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

/// kubectl JSONPath, the subset specs use: `{.a.b}`, `{.items[0].x}`, `{.items[*].name}`;
/// missing keys give no value. The matches as a list, or the one match itself.
fn json_path(doc: &Value, expr: &str) -> Result<Value, AnalyzerError> {
    let bad = |why: &str| AnalyzerError::spec(format!("jsonPath {expr:?}: {why}"));
    let inner = expr
        .trim()
        .strip_prefix('{')
        .and_then(|e| e.strip_suffix('}'))
        .unwrap_or(expr.trim());
    let inner = inner.strip_prefix('$').unwrap_or(inner);
    let mut current: Vec<&Value> = vec![doc];
    let mut rest = inner;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let (name, after) = r.split_at(end);
            if name.is_empty() {
                return Err(bad("recursive descent (`..`) is not supported"));
            }
            current = current.into_iter().filter_map(|v| v.get(name)).collect();
            rest = after;
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| bad("unclosed `[`"))?;
            let index = &r[..end];
            current = if index == "*" {
                current
                    .into_iter()
                    .flat_map(|v| match v {
                        Value::Array(items) => items.iter().collect::<Vec<_>>(),
                        Value::Object(map) => map.values().collect(),
                        _ => Vec::new(),
                    })
                    .collect()
            } else {
                let i: i64 = index
                    .parse()
                    .map_err(|_| bad("only `[n]` and `[*]` subscripts are supported"))?;
                current
                    .into_iter()
                    .filter_map(|v| {
                        let items = v.as_array()?;
                        let len = i64::try_from(items.len()).ok()?;
                        let at = if i < 0 { len + i } else { i };
                        usize::try_from(at).ok().and_then(|at| items.get(at))
                    })
                    .collect()
            };
            rest = &r[end + 1..];
        } else {
            return Err(bad("expected `.field` or `[index]`"));
        }
    }
    let mut found: Vec<Value> = current.into_iter().cloned().collect();
    Ok(if found.len() == 1 {
        found.remove(0)
    } else {
        Value::Array(found)
    })
}

/// Equality as jsonCompare decides it: lists compare without regard to order.
fn equal_unordered(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            let key = |v: &Value| serde_json::to_string(v).unwrap_or_default();
            let mut x: Vec<String> = x.iter().map(key).collect();
            let mut y: Vec<String> = y.iter().map(key).collect();
            x.sort();
            y.sort();
            x == y
        }
        _ => a == b,
    }
}

/// A file or `value` that is not the document the analyzer compares.
#[derive(Debug, thiserror::Error)]
enum NotParsed {
    #[error("{0} is not JSON: {1}")]
    Json(&'static str, serde_json::Error),
    #[error("{0} is not UTF-8: {1}")]
    Utf8(&'static str, std::str::Utf8Error),
    #[error("{0} is not YAML: {1}")]
    Yaml(&'static str, Box<serde_saphyr::Error>),
}

pub(in crate::analyze) fn compare(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
    json: bool,
) -> Result<AnalyzeResult, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let collector = text(body, "collectorName");
    let file = super::text::clean_join(&[&collector, &text(body, "fileName")]);
    let bytes = ctx.read(&file)?;
    let parse = |bytes: &[u8], what: &'static str| -> Result<Value, NotParsed> {
        if json {
            serde_json::from_slice(bytes).map_err(|e| NotParsed::Json(what, e))
        } else {
            let text = std::str::from_utf8(bytes).map_err(|e| NotParsed::Utf8(what, e))?;
            serde_saphyr::from_str(text).map_err(|e| NotParsed::Yaml(what, Box::new(e)))
        }
    };
    let document = parse(&bytes, "the file").map_err(|e| AnalyzerError::data(&file, e))?;
    let path = text(body, "path");
    let json_path_expr = text(body, "jsonPath");
    let actual = if !path.is_empty() {
        at_path(document.clone(), &path)?
    } else if json && !json_path_expr.is_empty() {
        json_path(&document, &json_path_expr)?
    } else {
        document.clone()
    };
    let expected = parse(text(body, "value").as_bytes(), "`value`")
        .map_err(|e| AnalyzerError::spec(e.to_string()))?;
    let equal = if json {
        equal_unordered(&actual, &expected)
    } else {
        actual == expected
    };
    let default_title = if collector.is_empty() && json {
        "Json Compare".to_string()
    } else {
        collector
    };
    let r = AnalyzeResult::new(meta.title(default_title), ICON);
    for o in &outcomes {
        let Some(severity) = o.severity else { continue };
        let want = if o.when.is_empty() {
            severity == Severity::Pass
        } else {
            outcome::parse_bool(&o.when).ok_or_else(|| {
                AnalyzerError::spec(format!("when {:?}: expected \"true\" or \"false\"", o.when))
            })?
        };
        // Every outcome's message is rendered as it is visited, as troubleshoot does.
        let message = template::render(&o.message, &document, Missing::NoValue)?;
        if want == equal {
            let mut r = r.with(o);
            r.message = message;
            return Ok(r);
        }
    }
    let mut r = r;
    r.severity = Some(Severity::Fail);
    r.message = "Invalid analyzer".into();
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_json_paths_find_nodes() {
        let doc =
            json!({"items": [{"name": "a", "v": 1}, {"name": "b", "v": 2}], "spec": {"x": true}});
        assert_eq!(
            at_path(doc.clone(), "items.[1].name").expect("path"),
            json!("b")
        );
        assert_eq!(
            at_path(doc.clone(), "spec.missing").expect("missing"),
            Value::Null
        );
        assert!(at_path(doc.clone(), "spec.x.y").is_err());
        assert!(at_path(doc.clone(), "items.[5]").is_err());
        assert_eq!(
            json_path(&doc, "{.items[*].name}").expect("jp"),
            json!(["a", "b"])
        );
        assert_eq!(json_path(&doc, "{.items[0].v}").expect("jp"), json!(1));
        assert_eq!(json_path(&doc, "{.nope}").expect("jp"), json!([]));
        assert!(json_path(&doc, "{..name}").is_err());
        assert!(equal_unordered(&json!(["b", "a"]), &json!(["a", "b"])));
    }
}
