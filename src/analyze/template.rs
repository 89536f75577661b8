//! The part of Go's `text/template` that analyzer messages use: field paths (`{{ .Name }}`,
//! `{{ .Status.Reason }}`), `{{ . }}`, `{{ index .Labels "app" }}`, trim markers (`{{-`, `-}}`)
//! and comments. Anything else (`if`, `range`, sprig functions) is an error that names the
//! template, never a silently wrong message. No maintained Rust crate renders Go templates
//! faithfully; this subset is what the specs under ../shared/compat use.
//!
//! Data is JSON. A Go struct field is named in Go style (`.Status`), found here as the JSON key
//! itself or with its first letter lower-cased (`status`); Kubernetes objects also expose their
//! `metadata` fields at the top (`.Name`, `.Namespace`), as Go's embedded `ObjectMeta` does.

use serde_json::Value;

/// What a missing field prints: Go structs print their zero value (an empty string for the
/// `omitempty` strings a JSON object leaves out); Go maps print `<no value>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// Struct semantics: nothing.
    Empty,
    /// Map semantics: `<no value>`.
    NoValue,
}

/// A template that cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {template:?}: {message}")]
pub struct TemplateError {
    /// The template text.
    pub template: String,
    /// What is wrong.
    pub message: ActionError,
}

/// What is wrong with one action of a template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// `{{` without `}}`.
    #[error("unclosed action (no `}}}}`)")]
    Unclosed,
    /// `{{ }}`.
    #[error("empty action")]
    Empty,
    /// `index .X k` with an unquoted key.
    #[error("index takes quoted keys, got {0}")]
    UnquotedKey(String),
    /// A function or keyword this subset does not have.
    #[error("`{0}` is not supported here (supported: field paths such as .Name, `.`, index)")]
    Unsupported(String),
    /// `"...` without its closing quote.
    #[error("unterminated string")]
    UnterminatedString,
    /// `|` or `(`.
    #[error("pipelines and parentheses are not supported")]
    Pipeline,
    /// A word where a field path belongs.
    #[error("`{0}` is not a field path")]
    NotAFieldPath(String),
}

/// Renders `template` over `data`.
pub fn render(template: &str, data: &Value, missing: Missing) -> Result<String, TemplateError> {
    if !template.contains("{{") {
        return Ok(template.to_string());
    }
    let err = |message: ActionError| TemplateError {
        template: template.to_string(),
        message,
    };
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        let mut action = &rest[start + 2..];
        if let Some(trimmed) = action.strip_prefix("- ") {
            text = text.trim_end();
            action = trimmed;
        }
        let end = action
            .find("}}")
            .ok_or_else(|| err(ActionError::Unclosed))?;
        out.push_str(text);
        let mut inner = &action[..end];
        rest = &action[end + 2..];
        if let Some(trimmed) = inner.strip_suffix(" -") {
            inner = trimmed;
            rest = rest.trim_start();
        }
        let inner = inner.trim();
        if inner.starts_with("/*") && inner.ends_with("*/") {
            continue;
        }
        let value = eval(inner, data, missing).map_err(err)?;
        out.push_str(&value);
    }
    out.push_str(rest);
    Ok(out)
}

/// Evaluates one action's pipeline (a field path, `.`, or `index X "k"...`).
fn eval(action: &str, data: &Value, missing: Missing) -> Result<String, ActionError> {
    let words = split_words(action)?;
    match words.as_slice() {
        [] => Err(ActionError::Empty),
        [path] if path.starts_with('.') => Ok(show(lookup(data, path)?, missing)),
        [func, target, keys @ ..] if func == "index" && !keys.is_empty() => {
            let mut value = lookup(data, target)?;
            for key in keys {
                let key = key
                    .strip_prefix('"')
                    .and_then(|k| k.strip_suffix('"'))
                    .ok_or_else(|| ActionError::UnquotedKey(key.clone()))?;
                value = value.and_then(|v| v.get(key));
            }
            // `index` on a map returns the zero value for a missing key.
            Ok(value.map_or(String::new(), |v| show(Some(v), missing)))
        }
        [first, ..] => Err(ActionError::Unsupported(first.clone())),
    }
}

fn split_words(action: &str) -> Result<Vec<String>, ActionError> {
    let mut words = Vec::new();
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            let mut word = String::from('"');
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some(ch) => word.push(ch),
                    None => return Err(ActionError::UnterminatedString),
                }
            }
            word.push('"');
            words.push(word);
        } else if c == '|' || c == '(' {
            return Err(ActionError::Pipeline);
        } else {
            let mut word = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                word.push(ch);
                chars.next();
            }
            words.push(word);
        }
    }
    Ok(words)
}

/// Follows a `.A.B` path; `Ok(None)` when a field is missing.
fn lookup<'a>(data: &'a Value, path: &str) -> Result<Option<&'a Value>, ActionError> {
    if path == "." {
        return Ok(Some(data));
    }
    let Some(fields) = path.strip_prefix('.') else {
        return Err(ActionError::NotAFieldPath(path.to_string()));
    };
    let mut value = data;
    for (i, field) in fields.split('.').enumerate() {
        if field.is_empty() || !field.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return Err(ActionError::NotAFieldPath(path.to_string()));
        }
        let found = field_of(value, field).or_else(|| {
            // Go's embedded ObjectMeta: `.Name` of a Kubernetes object.
            (i == 0)
                .then(|| value.get("metadata"))
                .flatten()
                .and_then(|m| field_of(m, field))
        });
        match found {
            Some(v) => value = v,
            None => return Ok(None),
        }
    }
    Ok(Some(value))
}

fn field_of<'a>(value: &'a Value, field: &str) -> Option<&'a Value> {
    let obj = value.as_object()?;
    if let Some(v) = obj.get(field) {
        return Some(v);
    }
    let mut chars = field.chars();
    let first = chars.next()?;
    let lowered: String = first.to_lowercase().chain(chars).collect();
    obj.get(&lowered)
}

/// How Go prints a value with `{{ }}`.
fn show(value: Option<&Value>, missing: Missing) -> String {
    match value {
        None | Some(Value::Null) => match missing {
            Missing::Empty => String::new(),
            Missing::NoValue => "<no value>".to_string(),
        },
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(items)) => format!(
            "[{}]",
            items
                .iter()
                .map(|v| show(Some(v), missing))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        Some(Value::Object(map)) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            format!(
                "map[{}]",
                keys.iter()
                    .map(|k| format!("{k}:{}", show(map.get(*k), missing)))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_paths_follow_go_names_and_embedded_metadata() {
        let pod = json!({"metadata": {"name": "web", "namespace": "prod", "labels": {"app": "x"}},
                         "status": {"phase": "Pending"}});
        let t = "Pod {{ .Namespace }}/{{ .Name }} is {{ .Status.Phase }}{{ .Status.Reason }}.";
        assert_eq!(
            render(t, &pod, Missing::Empty).expect("render"),
            "Pod prod/web is Pending."
        );
        assert_eq!(
            render(
                "{{ index .Labels \"app\" }}/{{ index .Labels \"no\" }}",
                &pod,
                Missing::Empty
            )
            .expect("index"),
            "x/"
        );
        let map = json!({"NodeCount": 3});
        assert_eq!(
            render(
                "{{ .NodeCount }} nodes, {{ .Missing }}",
                &map,
                Missing::NoValue
            )
            .expect("render"),
            "3 nodes, <no value>"
        );
        assert_eq!(
            render("a  {{- /* c */ -}}  b", &map, Missing::Empty).expect("trim"),
            "ab"
        );
    }

    #[test]
    fn unsupported_actions_name_the_template() {
        let err = render("{{ if .X }}y{{ end }}", &json!({}), Missing::Empty).expect_err("if");
        assert_eq!(err.template, "{{ if .X }}y{{ end }}");
        assert_eq!(err.message, ActionError::Unsupported("if".into()));
        assert!(err.to_string().contains("`if` is not supported"), "{err}");
        let unclosed = render("{{ .X", &json!({}), Missing::Empty).expect_err("unclosed");
        assert_eq!(
            unclosed.to_string(),
            "template \"{{ .X\": unclosed action (no `}}`)"
        );
        assert!(render("{{ .X | lower }}", &json!({}), Missing::Empty).is_err());
    }
}
