//! `labelSelector` and `fieldSelector` query parameters, as the API server parses them.

use std::collections::BTreeMap;

/// One requirement of a selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` or `key==value`.
    Equals(String, String),
    /// `key!=value` (also true when the key is absent).
    NotEquals(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)`.
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
}

impl Requirement {
    fn matches(&self, values: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Equals(k, v) => values.get(k) == Some(v),
            Requirement::NotEquals(k, v) => values.get(k) != Some(v),
            Requirement::In(k, vs) => values.get(k).is_some_and(|x| vs.contains(x)),
            Requirement::NotIn(k, vs) => !values.get(k).is_some_and(|x| vs.contains(x)),
            Requirement::Exists(k) => values.contains_key(k),
            Requirement::DoesNotExist(k) => !values.contains_key(k),
        }
    }

    fn key(&self) -> &str {
        match self {
            Requirement::Equals(k, _)
            | Requirement::NotEquals(k, _)
            | Requirement::In(k, _)
            | Requirement::NotIn(k, _)
            | Requirement::Exists(k)
            | Requirement::DoesNotExist(k) => k,
        }
    }
}

/// A parsed selector: all requirements must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector(pub Vec<Requirement>);

impl Selector {
    /// True when every requirement holds for `values`.
    pub fn matches(&self, values: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| r.matches(values))
    }

    /// True when there is no requirement.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keys the selector looks at.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(Requirement::key)
    }
}

/// Splits on commas outside parentheses.
fn split_terms(s: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&s[start..]);
    terms
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

fn set_values(rest: &str, term: &str) -> Result<Vec<String>, String> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| {
            format!("unable to parse requirement: `{term}`: expected a (value,...) set")
        })?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

/// Parses a label selector (equality- and set-based).
pub fn parse_label_selector(s: &str) -> Result<Selector, String> {
    let mut reqs = Vec::new();
    for term in split_terms(s) {
        if let Some(key) = term.strip_prefix('!') {
            reqs.push(Requirement::DoesNotExist(key.trim().to_string()));
        } else if let Some((k, v)) = term.split_once("!=") {
            reqs.push(Requirement::NotEquals(k.trim().into(), v.trim().into()));
        } else if let Some((k, v)) = term.split_once("==") {
            reqs.push(Requirement::Equals(k.trim().into(), v.trim().into()));
        } else if let Some((k, v)) = term.split_once('=') {
            reqs.push(Requirement::Equals(k.trim().into(), v.trim().into()));
        } else if let Some((k, rest)) = term.split_once(" notin ") {
            reqs.push(Requirement::NotIn(k.trim().into(), set_values(rest, term)?));
        } else if let Some((k, rest)) = term.split_once(" in ") {
            reqs.push(Requirement::In(k.trim().into(), set_values(rest, term)?));
        } else if term.contains(' ') || term.contains('(') {
            return Err(format!("unable to parse requirement: `{term}`"));
        } else {
            reqs.push(Requirement::Exists(term.to_string()));
        }
    }
    Ok(Selector(reqs))
}

/// Parses a field selector (`=`, `==`, `!=` only, as the API server accepts).
pub fn parse_field_selector(s: &str) -> Result<Selector, String> {
    let mut reqs = Vec::new();
    for term in split_terms(s) {
        if let Some((k, v)) = term.split_once("!=") {
            reqs.push(Requirement::NotEquals(k.trim().into(), v.trim().into()));
        } else if let Some((k, v)) = term.split_once("==") {
            reqs.push(Requirement::Equals(k.trim().into(), v.trim().into()));
        } else if let Some((k, v)) = term.split_once('=') {
            reqs.push(Requirement::Equals(k.trim().into(), v.trim().into()));
        } else {
            return Err(format!(
                "invalid selector: '{s}'; can't understand '{term}'"
            ));
        }
    }
    Ok(Selector(reqs))
}
