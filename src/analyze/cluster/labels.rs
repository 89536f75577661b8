//! Kubernetes label selectors: `matchLabels` + `matchExpressions` objects, and the string form
//! (`app=web,tier!=db,env in (a,b),!legacy`) analyzers take as `selector: [..]`.

use super::super::AnalyzerError;
use serde_json::Value;

fn label<'a>(labels: &'a Value, key: &str) -> Option<&'a str> {
    labels.get(key).and_then(Value::as_str)
}

/// Whether `labels` match a selector object; `match_labels_key` names its equality map
/// (`matchLabels`, or `matchLabel` in nodeResources filters).
pub(crate) fn selector_matches(
    selector: &Value,
    labels: &Value,
    match_labels_key: &str,
) -> Result<bool, AnalyzerError> {
    if let Some(map) = selector.get(match_labels_key).and_then(Value::as_object) {
        for (k, v) in map {
            if label(labels, k) != v.as_str() {
                return Ok(false);
            }
        }
    }
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for e in expressions {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let have = label(labels, key);
        let ok = match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => have.is_some_and(|h| values.contains(&h)),
            "NotIn" => !have.is_some_and(|h| values.contains(&h)),
            "Exists" => have.is_some(),
            "DoesNotExist" => have.is_none(),
            other => {
                return Err(AnalyzerError::spec(format!(
                    "matchExpressions operator {other:?} is not In, NotIn, Exists or DoesNotExist"
                )));
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether `labels` match the string selector `terms` (joined with `,`, as kubectl's `-l`).
pub(crate) fn string_selector_matches(
    terms: &[String],
    labels: &Value,
) -> Result<bool, AnalyzerError> {
    let joined = terms.join(",");
    for term in split_terms(&joined) {
        let term = term.trim();
        if term.is_empty() {
            continue;
        }
        let ok = if let Some((key, rest)) = term.split_once(" notin ") {
            let set = set_values(rest, term)?;
            !label(labels, key.trim()).is_some_and(|h| set.contains(&h))
        } else if let Some((key, rest)) = term.split_once(" in ") {
            let set = set_values(rest, term)?;
            label(labels, key.trim()).is_some_and(|h| set.contains(&h))
        } else if let Some((key, value)) = term.split_once("!=") {
            label(labels, key.trim()) != Some(value.trim())
        } else if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
            label(labels, key.trim()) == Some(value.trim())
        } else if let Some(key) = term.strip_prefix('!') {
            label(labels, key.trim()).is_none()
        } else {
            label(labels, term).is_some()
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Splits on commas outside `( )`.
fn split_terms(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn set_values<'a>(rest: &'a str, term: &str) -> Result<Vec<&'a str>, AnalyzerError> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| {
            AnalyzerError::spec(format!("selector {term:?}: expected `key in (a,b)`"))
        })?;
    Ok(inner.split(',').map(str::trim).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selectors_match_like_kubernetes() {
        let labels = json!({"app": "web", "tier": "front"});
        let yes = |s: &[&str]| {
            string_selector_matches(
                &s.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
                &labels,
            )
            .expect("selector")
        };
        assert!(yes(&["app=web"]));
        assert!(yes(&["app==web", "tier"]));
        assert!(!yes(&["app!=web"]));
        assert!(yes(&["tier in (front,back)"]));
        assert!(!yes(&["tier notin (front)"]));
        assert!(yes(&["!legacy"]));
        assert!(yes(&[]));
        let sel = json!({"matchLabels": {"app": "web"},
                         "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]},
                                              {"key": "old", "operator": "DoesNotExist"}]});
        assert!(selector_matches(&sel, &labels, "matchLabels").expect("sel"));
        let sel = json!({"matchExpressions": [{"key": "tier", "operator": "Gt"}]});
        assert!(selector_matches(&sel, &labels, "matchLabels").is_err());
    }
}
