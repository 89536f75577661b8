//! The outcome model shared by every analyzer: `outcomes: [{fail|warn|pass: {when, message,
//! uri}}]`, walked in order; the first whose `when` matches wins and an empty `when` is the else
//! (TROUBLESHOOT-FORMAT.md §4.1). Each analyzer parses its own `when` grammar.

use super::AnalyzerError;
use serde_json::Value;

/// An outcome's severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// `pass`.
    Pass,
    /// `warn`.
    Warn,
    /// `fail`.
    Fail,
}

impl Severity {
    /// The key in the spec.
    pub fn key(self) -> &'static str {
        match self {
            Severity::Pass => "pass",
            Severity::Warn => "warn",
            Severity::Fail => "fail",
        }
    }
}

/// One outcome of an analyzer spec.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// `None` for an item with none of fail/warn/pass.
    pub severity: Option<Severity>,
    /// The condition, as written (empty: always).
    pub when: String,
    /// The message (often a Go template).
    pub message: String,
    /// A link for people.
    pub uri: String,
}

impl Outcome {
    /// Whether this outcome has no condition (the else).
    pub fn is_else(&self) -> bool {
        self.when.is_empty()
    }
}

/// A scalar as text: specs write `when: true` or `when: 3` unquoted as often as quoted.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The `outcomes` list of an analyzer body. An item that is not a mapping, or whose fields are
/// not text, is an error naming its index.
pub fn parse(body: &Value) -> Result<Vec<Outcome>, AnalyzerError> {
    let Some(items) = body.get("outcomes") else {
        return Ok(Vec::new());
    };
    let Some(items) = items.as_array() else {
        return Err(AnalyzerError::spec("`outcomes` must be a list"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut out = Outcome::default();
            for severity in [Severity::Fail, Severity::Warn, Severity::Pass] {
                let Some(fields) = item.get(severity.key()).filter(|v| !v.is_null()) else {
                    continue;
                };
                out.severity = Some(severity);
                for (name, slot) in [
                    ("when", &mut out.when),
                    ("message", &mut out.message),
                    ("uri", &mut out.uri),
                ] {
                    match fields.get(name).filter(|v| !v.is_null()) {
                        None => {}
                        Some(v) => {
                            *slot = scalar_text(v).ok_or_else(|| {
                                AnalyzerError::spec(format!(
                                    "outcomes[{i}].{}.{name} must be text",
                                    severity.key()
                                ))
                            })?;
                        }
                    }
                }
                break;
            }
            Ok(out)
        })
        .collect()
}

/// The first outcome that matches by `matches` (an empty `when` always does); an outcome with
/// no severity is an error ("empty outcome").
pub fn first_match(
    outcomes: &[Outcome],
    mut matches: impl FnMut(&str) -> Result<bool, AnalyzerError>,
) -> Result<Option<&Outcome>, AnalyzerError> {
    for outcome in outcomes {
        if outcome.severity.is_none() {
            return Err(AnalyzerError::spec("empty outcome"));
        }
        if outcome.is_else() || matches(outcome.when.trim())? {
            return Ok(Some(outcome));
        }
    }
    Ok(None)
}

/// A Go `strconv.ParseBool` value (`1`, `t`, `TRUE`, `false`, ...).
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A comparison operator of the `<op> <value>` grammars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=`, `==`, `===`.
    Eq,
    /// `!=`, `!==`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl Op {
    /// Parses an operator token.
    pub fn parse(token: &str) -> Option<Op> {
        Some(match token {
            "=" | "==" | "===" => Op::Eq,
            "!=" | "!==" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        })
    }

    /// `actual <op> expected`.
    pub fn holds<T: PartialOrd>(self, actual: T, expected: T) -> bool {
        match self {
            Op::Eq => actual == expected,
            Op::Ne => actual != expected,
            Op::Lt => actual < expected,
            Op::Le => actual <= expected,
            Op::Gt => actual > expected,
            Op::Ge => actual >= expected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outcomes_parse_in_order_with_unquoted_scalars() {
        let body = json!({"outcomes": [
            {"fail": {"when": "< 1.16.0", "message": "old", "uri": "u"}},
            {"warn": {"when": true, "message": "w"}},
            {"pass": {"message": "ok"}},
            {}
        ]});
        let out = parse(&body).expect("parse");
        assert_eq!(out[0].severity, Some(Severity::Fail));
        assert_eq!(out[0].uri, "u");
        assert_eq!(out[1].when, "true");
        assert!(out[2].is_else());
        assert_eq!(out[3].severity, None);
        let err = first_match(&out[3..], |_| Ok(false)).expect_err("empty outcome");
        assert_eq!(err.to_string(), "empty outcome");
        let hit = first_match(&out, |w| Ok(w == "true")).expect("match");
        assert_eq!(hit.map(|o| o.message.as_str()), Some("w"));
        assert!(parse(&json!({"outcomes": [{"fail": {"message": [1]}}]})).is_err());
    }

    #[test]
    fn operators_and_bools_follow_go() {
        assert_eq!(Op::parse("==="), Some(Op::Eq));
        assert!(Op::parse("<=").expect("op").holds(1, 1));
        assert!(!Op::parse(">").expect("op").holds(1, 1));
        assert_eq!(Op::parse("=>"), None);
        assert_eq!(parse_bool("T"), Some(true));
        assert_eq!(parse_bool("yes"), None);
    }
}
