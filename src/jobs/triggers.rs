//! `spec.triggers`: events other than the schedule that start a run. Today: Alertmanager
//! alerts, selected by Prometheus label matchers (`name="v"`, `!=`, `=~`, `!~`).

use crate::units::HumanDuration;
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// One entry of `spec.triggers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobTrigger {
    /// Start a run when Alertmanager posts a firing alert whose labels match.
    pub alertmanager: AlertmanagerTrigger,
}

/// `spec.triggers[].alertmanager`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertmanagerTrigger {
    /// Prometheus matchers (`alertname=~"KubePod.*"`, `namespace="prod"`); an alert must match all.
    pub matchers: Vec<String>,
    /// At most one alert-started run of the job per this long.
    #[serde(default = "cooldown")]
    pub cooldown: HumanDuration,
}

fn cooldown() -> HumanDuration {
    HumanDuration(Duration::from_secs(30 * 60))
}

impl AlertmanagerTrigger {
    /// The parsed matchers (`validate` has rejected a job whose matchers do not parse).
    pub fn parsed(&self) -> Result<Vec<Matcher>, MatcherError> {
        self.matchers.iter().map(|m| Matcher::parse(m)).collect()
    }
}

/// How a matcher compares a label's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~` (anchored regex)
    Regex,
    /// `!~` (anchored regex)
    NotRegex,
}

impl MatchOp {
    fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One parsed matcher.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Comparison.
    pub op: MatchOp,
    /// Value (unquoted).
    pub value: String,
    /// `^(?:value)$` for the regex operators.
    regex: Option<Regex>,
}

/// Why a matcher did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid matcher `{text}`: {problem}")]
pub struct MatcherError {
    /// The matcher as written.
    pub text: String,
    /// What is wrong with it.
    pub problem: String,
}

impl Matcher {
    /// Parses `name OP value`, the value double-quoted (with `\"`, `\\`, `\n` escapes) or bare.
    pub fn parse(text: &str) -> Result<Matcher, MatcherError> {
        let fail = |problem: String| MatcherError {
            text: text.to_string(),
            problem,
        };
        let s = text.trim();
        let name_end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        let name = &s[..name_end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(fail(
                "a matcher starts with a label name (letters, digits, `_`; not a digit first), e.g. `namespace=\"prod\"`".into(),
            ));
        }
        let rest = s[name_end..].trim_start();
        let op = [
            ("=~", MatchOp::Regex),
            ("!~", MatchOp::NotRegex),
            ("!=", MatchOp::NotEqual),
            ("=", MatchOp::Equal),
        ]
        .into_iter()
        .find(|(tok, _)| rest.starts_with(tok));
        let Some((tok, op)) = op else {
            return Err(fail(format!(
                "expected `=`, `!=`, `=~` or `!~` after the label name `{name}`"
            )));
        };
        let raw = rest[tok.len()..].trim();
        let value = unquote(raw).map_err(fail)?;
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(
                Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| fail(format!("invalid regular expression: {e}")))?,
            ),
            _ => None,
        };
        Ok(Matcher {
            name: name.to_string(),
            op,
            value,
            regex,
        })
    }

    /// Whether `labels` satisfy this matcher (a missing label counts as the empty value, as in
    /// Prometheus).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let v = labels.get(&self.name).map(String::as_str).unwrap_or("");
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => v == self.value,
            (MatchOp::NotEqual, _) => v != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            // `parse` always compiles a regex for the regex operators.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

/// Whether every matcher matches.
pub fn all_match(matchers: &[Matcher], labels: &BTreeMap<String, String>) -> bool {
    matchers.iter().all(|m| m.matches(labels))
}

fn unquote(raw: &str) -> Result<String, String> {
    let Some(inner) = raw.strip_prefix('"') else {
        if raw.contains(['"', ',', '{', '}']) {
            return Err("an unquoted value cannot hold `\"`, `,`, `{` or `}`; quote it".into());
        }
        return Ok(raw.to_string());
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                return if chars.as_str().trim().is_empty() {
                    Ok(out)
                } else {
                    Err(format!(
                        "unexpected `{}` after the closing quote",
                        chars.as_str().trim()
                    ))
                };
            }
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some(e @ ('"' | '\\')) => out.push(e),
                Some(e) => {
                    return Err(format!(
                        "unknown escape `\\{e}` (use `\\\"`, `\\\\` or `\\n`)"
                    ));
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("the value's closing `\"` is missing".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_the_four_operators() {
        let cases = [
            (r#"namespace="prod""#, MatchOp::Equal, "prod"),
            (r#"namespace != "dev""#, MatchOp::NotEqual, "dev"),
            (r#"alertname=~"KubePod.*""#, MatchOp::Regex, "KubePod.*"),
            (r#"severity!~"info|none""#, MatchOp::NotRegex, "info|none"),
            ("team=sre", MatchOp::Equal, "sre"),
            (r#"msg="a \"b\" \\ c""#, MatchOp::Equal, r#"a "b" \ c"#),
        ];
        for (text, op, value) in cases {
            let m = Matcher::parse(text).unwrap();
            assert_eq!((m.op, m.value.as_str()), (op, value), "{text}");
        }
    }

    #[test]
    fn regexes_are_anchored_and_missing_labels_are_empty() {
        let m = Matcher::parse(r#"alertname=~"KubePod.*""#).unwrap();
        assert!(m.matches(&labels(&[("alertname", "KubePodCrashLooping")])));
        assert!(!m.matches(&labels(&[("alertname", "XKubePod")])));
        let m = Matcher::parse(r#"alertname=~"Kube""#).unwrap();
        assert!(!m.matches(&labels(&[("alertname", "KubePod")])));
        let m = Matcher::parse(r#"namespace!="prod""#).unwrap();
        assert!(m.matches(&labels(&[])));
        let m = Matcher::parse(r#"namespace=~".*""#).unwrap();
        assert!(m.matches(&labels(&[])));
        let m = Matcher::parse(r#"namespace!~"prod|dev""#).unwrap();
        assert!(!m.matches(&labels(&[("namespace", "dev")])));
        assert!(m.matches(&labels(&[("namespace", "staging")])));
    }

    #[test]
    fn all_must_match() {
        let ms = [r#"alertname=~"KubePod.*""#, r#"namespace="prod""#]
            .map(|t| Matcher::parse(t).unwrap());
        assert!(all_match(
            &ms,
            &labels(&[("alertname", "KubePodNotReady"), ("namespace", "prod")])
        ));
        assert!(!all_match(
            &ms,
            &labels(&[("alertname", "KubePodNotReady"), ("namespace", "dev")])
        ));
    }

    #[test]
    fn bad_matchers_say_what_is_wrong() {
        let cases = [
            ("", "label name"),
            ("=\"x\"", "label name"),
            ("1abc=\"x\"", "label name"),
            ("namespace", "expected `=`"),
            ("namespace<\"x\"", "expected `=`"),
            (r#"namespace="prod"#, "closing"),
            (r#"namespace="prod" x"#, "after the closing quote"),
            (r#"alertname=~"(""#, "invalid regular expression"),
            (r#"a="\q""#, "unknown escape"),
            ("a=b,c", "quote it"),
        ];
        for (text, want) in cases {
            let e = Matcher::parse(text).unwrap_err();
            assert!(e.to_string().contains(want), "{text}: {e}");
        }
    }
}
