//! yamlPath redaction: parse the document, mask the values at a path, re-serialize.
//!
//! Paths are segments: `*` is every element or key, an integer indexes an array, anything else is a map
//! key. Deviation from troubleshoot, on purpose: a file that parses as JSON is re-serialized as JSON
//! (pretty-printed, key order kept), not as YAML, so analyzers reading `*.json` still can. Other files are
//! parsed as YAML (first document only) and re-serialized as YAML. Unparseable files, and files where no
//! path matched, pass through byte-identical.

use super::MASK;
use super::tokenize::Tokenizer;
use serde_json::Value;

/// Masks every value at `path` (with tokens instead of the mask when `tok` (tokenizer, redactor
/// name) is given); returns how many were masked.
///
/// Scalars (string, number, boolean) are tokenized from their text. A `null`, a map or an array at
/// the path has no single value to tokenize and keeps the plain mask.
pub fn mask_path_with(value: &mut Value, path: &[String], tok: Option<(&Tokenizer, &str)>) -> u64 {
    let Some((seg, rest)) = path.split_first() else {
        let text = match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        let masked = match (tok, text) {
            (Some((t, name)), Some(text)) if !text.is_empty() => t.token(text.as_bytes(), name),
            _ => MASK.to_string(),
        };
        *value = Value::String(masked);
        return 1;
    };
    match value {
        Value::Array(items) => {
            if seg == "*" {
                items.iter_mut().map(|v| mask_path_with(v, rest, tok)).sum()
            } else if let Some(v) = seg.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                mask_path_with(v, rest, tok)
            } else {
                0
            }
        }
        Value::Object(map) => {
            if seg == "*" {
                map.values_mut().map(|v| mask_path_with(v, rest, tok)).sum()
            } else if let Some(v) = map.get_mut(seg.as_str()) {
                mask_path_with(v, rest, tok)
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// A parsed document and how to write it back.
enum Doc {
    Json(Value),
    Yaml(Value),
}

/// Applies every (path, redactor name) pair in order, tokenizing when `tok` is given; `None`
/// when nothing matched or the file does not parse. The counts are per path, in the order given.
pub fn redact_document_with(
    input: &[u8],
    paths: &[(&[String], &str)],
    tok: Option<&Tokenizer>,
) -> Option<(Vec<u8>, Vec<u64>)> {
    let mut doc = parse(input)?;
    let value = match &mut doc {
        Doc::Json(v) | Doc::Yaml(v) => v,
    };
    let counts: Vec<u64> = paths
        .iter()
        .map(|(p, name)| mask_path_with(value, p, tok.map(|t| (t, *name))))
        .collect();
    if counts.iter().all(|&n| n == 0) {
        return None;
    }
    let out = match &doc {
        Doc::Json(v) => {
            let mut out = serde_json::to_vec_pretty(v).ok()?;
            if input.ends_with(b"\n") {
                out.push(b'\n');
            }
            out
        }
        Doc::Yaml(v) => serde_saphyr::to_string(v).ok()?.into_bytes(),
    };
    Some((out, counts))
}

/// JSON first (exact), then YAML's first document.
fn parse(input: &[u8]) -> Option<Doc> {
    if let Ok(v) = serde_json::from_slice::<Value>(input) {
        return Some(Doc::Json(v));
    }
    let text = std::str::from_utf8(input).ok()?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).ok()?;
    docs.into_iter().next().map(Doc::Yaml)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn segs(p: &str) -> Vec<String> {
        p.split('.').map(str::to_string).collect()
    }

    fn mask_path(value: &mut Value, path: &[String]) -> u64 {
        mask_path_with(value, path, None)
    }

    fn redact_document(input: &[u8], paths: &[&[String]]) -> Option<(Vec<u8>, Vec<u64>)> {
        let named: Vec<(&[String], &str)> = paths.iter().map(|p| (*p, "")).collect();
        redact_document_with(input, &named, None)
    }

    #[test]
    fn star_index_and_keys() {
        let mut v =
            json!({"a": [{"b": 1, "c": 2}, {"b": 3}], "x": {"k1": {"s": 1}, "k2": {"s": 2}}});
        assert_eq!(mask_path(&mut v, &segs("a.*.b")), 2);
        assert_eq!(mask_path(&mut v, &segs("a.0.c")), 1);
        assert_eq!(mask_path(&mut v, &segs("x.*.s")), 2);
        assert_eq!(mask_path(&mut v, &segs("a.5.b")), 0);
        assert_eq!(mask_path(&mut v, &segs("nope.b")), 0);
        assert_eq!(
            v,
            json!({"a": [{"b": MASK, "c": MASK}, {"b": MASK}], "x": {"k1": {"s": MASK}, "k2": {"s": MASK}}})
        );
    }

    #[test]
    fn yaml_is_reserialized_as_yaml() {
        let input = b"abc:\n  xyz:\n    - a\n    - b\n  keep: 1\n";
        let (out, counts) = redact_document(input, &[&segs("abc.xyz.*")]).expect("matched");
        assert_eq!(counts, vec![2]);
        let back: Value =
            serde_saphyr::from_str(std::str::from_utf8(&out).expect("utf8")).expect("yaml");
        assert_eq!(back, json!({"abc": {"xyz": [MASK, MASK], "keep": 1}}));
    }

    #[test]
    fn json_stays_json_and_unmatched_passes_through() {
        let input = b"{\"a\": {\"b\": \"secret\"}, \"c\": 1}\n";
        let (out, _) = redact_document(input, &[&segs("a.b")]).expect("matched");
        let back: Value = serde_json::from_slice(&out).expect("still JSON");
        assert_eq!(back, json!({"a": {"b": MASK}, "c": 1}));
        assert!(out.ends_with(b"}\n"));
        assert!(redact_document(input, &[&segs("a.zzz")]).is_none());
        assert!(redact_document(b"{not: [valid", &[&segs("a")]).is_none());
    }

    #[test]
    fn only_first_yaml_document() {
        let input = b"a: 1\n---\na: 2\n";
        let (out, _) = redact_document(input, &[&segs("a")]).expect("matched");
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.contains(MASK));
        assert!(!text.contains('2'));
    }
}
