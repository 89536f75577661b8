//! `kind: SupportBundleScheduleSet`: many similar jobs from one definition. `spec.template` is a
//! job spec and `spec.matrix` maps keys to lists of values; the set renders one job per
//! combination, named `<set>-<value>[-<value>...]` (keys in the order written, the first key
//! varying slowest), each then checked, scheduled, jittered and recorded like a job of its own.
//!
//! Values reach the template only where a string says `${matrix.KEY}`, and only after the YAML
//! is parsed: a value is text inside one string, never new YAML structure. Why `${...}` and not
//! Go's `{{ ... }}`: job files are often written by Helm and Ansible, whose own templates would
//! eat `{{ }}`.

use super::defaults;
use super::validate::name_problem;
use crate::diagnostic::{Diagnostic, SourceText};
use crate::yaml::{Loc, Node, Value};
use std::path::Path;

/// The set's `kind`.
pub const KIND: &str = "SupportBundleScheduleSet";
/// The label every generated job carries, naming its set.
pub const SET_LABEL: &str = "troubleshoot.sh/schedule-set";
/// At most this many jobs from one set (a typo in a matrix must not schedule thousands).
pub const MAX_JOBS: usize = 1000;

/// Whether `node` is a set document.
pub fn is_set(node: &Node) -> bool {
    node.get("kind").and_then(Node::as_str) == Some(KIND)
}

/// The set document as the JSON Schema describes it (the loader reads sets from the YAML tree,
/// to keep locations and substitute values, so this type is for the schema only).
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "SupportBundleScheduleSet")]
#[allow(dead_code)]
pub struct SetDocument {
    /// Always `troubleshoot.sh/v1beta3`.
    api_version: String,
    /// Always `SupportBundleScheduleSet`.
    kind: String,
    /// The set's name (each job is `<name>-<value>[-<value>...]`) and labels every job gets.
    metadata: super::model::Metadata,
    /// The matrix and the job spec each combination gets.
    spec: SetSpec,
}

/// `spec` of a set.
#[derive(schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
struct SetSpec {
    /// Keys (letters, digits, `_`) with lists of values; one job per combination, at most 1,000.
    matrix: std::collections::BTreeMap<String, Vec<String>>,
    /// A job spec; `${matrix.KEY}` in its strings becomes the combination's value (`$${` is a
    /// literal `${`).
    template: super::model::JobSpec,
}

/// What a set renders.
#[derive(Debug, Default)]
pub struct Expansion {
    /// One job document per combination; none when the set has an error.
    pub jobs: Vec<Node>,
    /// When the set has an error but a template: the template rendered once (first value of
    /// each key) only to be checked, so its own mistakes show in the same pass. Never a job.
    pub probe: Option<Node>,
}

/// The job documents `set` renders (findings in `out`).
pub fn expand(
    path: &Path,
    text: &SourceText<'_>,
    set: &Node,
    out: &mut Vec<Diagnostic>,
) -> Expansion {
    let mut found = Findings {
        path,
        text,
        list: Vec::new(),
    };
    let api_ok = check_api_version(set, &mut found);
    let name = read_set_name(set, &mut found);
    let spec = set.get("spec");
    let (template, matrix) = read_spec(set, spec, &mut found);
    let template = check_template(set, spec, template, &mut found);
    let axes = matrix
        .map(|m| read_matrix(m, &mut |l, m, h| found.error(l, m, h)))
        .unwrap_or_default();
    if matrix.is_none() && spec.is_some_and(|s| s.as_map().is_some()) {
        found.error(
            spec.map_or(set.loc, |s| s.loc),
            "missing `spec.matrix` (keys with lists of values)".into(),
            None,
        );
    }
    if let Some(t) = template {
        check_references(t, &axes, &mut |l, m, h| found.error(l, m, h));
    }
    let combinations: usize = axes.iter().map(|a| a.values.len()).product();
    if !axes.is_empty() && combinations > MAX_JOBS {
        let at = matrix.map_or(set.loc, |m| m.loc);
        found.error(
            at,
            format!("the matrix makes {combinations} jobs; a set makes at most {MAX_JOBS}"),
            None,
        );
    }
    let Some(template) = template else {
        out.append(&mut found.list);
        return Expansion::default();
    };
    let Some(name) = name else {
        out.append(&mut found.list);
        return Expansion {
            jobs: Vec::new(),
            probe: Some(probe(set, "set", template, &axes)),
        };
    };
    let rendered = api_ok && !axes.is_empty() && found.list.is_empty();
    let jobs = if rendered {
        render_jobs(set, &name, template, &axes, &mut found)
    } else {
        Vec::new()
    };
    let failed = !found.list.is_empty();
    out.append(&mut found.list);
    if !rendered || failed {
        Expansion {
            jobs: Vec::new(),
            probe: Some(probe(set, &name, template, &axes)),
        }
    } else {
        Expansion { jobs, probe: None }
    }
}

/// `apiVersion` is ours.
fn check_api_version(set: &Node, found: &mut Findings<'_, '_>) -> bool {
    match set.get("apiVersion").and_then(Node::as_str) {
        Some(defaults::API_VERSION) => true,
        _ => {
            let at = set.get("apiVersion").map_or(set.loc, |n| n.loc);
            found.error(
                at,
                format!("a {KIND} needs `apiVersion: {}`", defaults::API_VERSION),
                None,
            );
            false
        }
    }
}

/// `metadata.name`, when it is a valid name.
fn read_set_name(set: &Node, found: &mut Findings<'_, '_>) -> Option<String> {
    match set.get("metadata").and_then(|m| m.get("name")) {
        Some(n) => match n.as_str() {
            Some(s) => match name_problem(s) {
                None => Some(s.to_string()),
                Some(p) => {
                    found.error(n.loc, format!("invalid set name `{s}`: {p}"), None);
                    None
                }
            },
            None => {
                found.error(n.loc, "`metadata.name` must be a string".into(), None);
                None
            }
        },
        None => {
            found.error(set.loc, format!("a {KIND} needs `metadata.name`"), None);
            None
        }
    }
}

/// `spec.template` and `spec.matrix` as written (unknown `spec` fields are errors).
fn read_spec<'n>(
    set: &Node,
    spec: Option<&'n Node>,
    found: &mut Findings<'_, '_>,
) -> (Option<&'n Node>, Option<&'n Node>) {
    match spec.map(|s| (s, s.as_map())) {
        Some((s, Some(entries))) => {
            for (k, _) in entries {
                let key = k.as_str().unwrap_or("");
                if !matches!(key, "template" | "matrix") {
                    let hint = crate::yaml::suggest(key, &["template", "matrix"])
                        .map(|s| format!("did you mean `{s}`?"));
                    found.error(
                        k.loc,
                        format!(
                            "unknown field `spec.{key}` of a {KIND} (it has `template` and `matrix`)"
                        ),
                        hint,
                    );
                }
            }
            (s.get("template"), s.get("matrix"))
        }
        Some((s, None)) => {
            found.error(
                s.loc,
                format!(
                    "`spec` must be a mapping with `template` and `matrix`, found {}",
                    s.kind_name()
                ),
                None,
            );
            (None, None)
        }
        None => {
            found.error(
                set.loc,
                format!("a {KIND} needs `spec.template` and `spec.matrix`"),
                None,
            );
            (None, None)
        }
    }
}

/// The template when it is a mapping.
fn check_template<'n>(
    set: &Node,
    spec: Option<&Node>,
    template: Option<&'n Node>,
    found: &mut Findings<'_, '_>,
) -> Option<&'n Node> {
    match template {
        Some(t) if t.as_map().is_some() => Some(t),
        Some(t) => {
            found.error(
                t.loc,
                format!(
                    "`spec.template` must be a job spec (a mapping), found {}",
                    t.kind_name()
                ),
                None,
            );
            None
        }
        None if spec.is_some_and(|s| s.as_map().is_some()) => {
            found.error(
                spec.map_or(set.loc, |s| s.loc),
                "missing `spec.template` (the job spec each job gets)".into(),
                None,
            );
            None
        }
        None => None,
    }
}

/// The template rendered once with the first value of each key, only to be checked when the set
/// has an error, so its own mistakes show in the same pass. Never a job.
fn probe(set: &Node, name: &str, template: &Node, axes: &[Axis]) -> Node {
    let values: Vec<(&str, &str)> = (axes.iter())
        .map(|a| {
            (
                a.key.as_str(),
                a.values.first().map_or("x", |v| v.text.as_str()),
            )
        })
        .collect();
    job_document(
        set,
        name,
        &format!("{name}-probe"),
        &substitute(template, &values),
    )
}

/// One job document per combination of the matrix (invalid generated names are findings).
fn render_jobs(
    set: &Node,
    name: &str,
    template: &Node,
    axes: &[Axis],
    found: &mut Findings<'_, '_>,
) -> Vec<Node> {
    let mut jobs = Vec::new();
    for combo in product(axes) {
        let job_name = std::iter::once(name)
            .chain(combo.iter().map(|(_, v)| v.text.as_str()))
            .collect::<Vec<_>>()
            .join("-");
        if let Some(problem) = name_problem(&job_name) {
            let at = combo.last().map_or(set.loc, |(_, v)| v.loc);
            found.error(at, format!("the job name `{job_name}` this value makes is invalid: {problem}"), Some("matrix values become part of job names: lowercase letters, digits and `-`, at most 63 characters in all".into()));
            continue;
        }
        let values: Vec<(&str, &str)> = combo
            .iter()
            .map(|(k, v)| (k.as_str(), v.text.as_str()))
            .collect();
        jobs.push(job_document(
            set,
            name,
            &job_name,
            &substitute(template, &values),
        ));
    }
    jobs
}

/// The set's errors, located in its file.
struct Findings<'a, 'b> {
    path: &'a Path,
    text: &'a SourceText<'b>,
    list: Vec<Diagnostic>,
}

impl Findings<'_, '_> {
    fn error(&mut self, loc: Loc, message: String, hint: Option<String>) {
        let mut d = Diagnostic::error(self.path, loc, message).with_source(self.text);
        if let Some(h) = hint {
            d = d.with_hint(h);
        }
        self.list.push(d);
    }
}

/// One matrix key and its values.
#[derive(Debug)]
struct Axis {
    key: String,
    values: Vec<AxisValue>,
}

#[derive(Debug)]
struct AxisValue {
    text: String,
    loc: Loc,
}

fn read_matrix(m: &Node, error: &mut impl FnMut(Loc, String, Option<String>)) -> Vec<Axis> {
    let Some(entries) = m.as_map() else {
        error(
            m.loc,
            format!(
                "`spec.matrix` must map keys to lists of values, found {}",
                m.kind_name()
            ),
            None,
        );
        return Vec::new();
    };
    if entries.is_empty() {
        error(
            m.loc,
            "`spec.matrix` is empty: give at least one key with a list of values".into(),
            None,
        );
    }
    let mut axes = Vec::new();
    for (k, v) in entries {
        let key = k.as_str().unwrap_or("").to_string();
        let key_ok = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !key_ok {
            error(
                k.loc,
                format!(
                    "matrix key `{key}` must start with a letter and hold only letters, digits and `_` (templates name it `${{matrix.{key}}}`)"
                ),
                None,
            );
            continue;
        }
        let Value::Seq(items) = &v.value else {
            error(
                v.loc,
                format!(
                    "`matrix.{key}` must be a list of values, found {}",
                    v.kind_name()
                ),
                None,
            );
            continue;
        };
        if items.is_empty() {
            error(
                v.loc,
                format!("`matrix.{key}` is an empty list: the set would make no job"),
                None,
            );
        }
        let mut values: Vec<AxisValue> = Vec::new();
        for item in items {
            if !matches!(
                item.value,
                Value::Str(_) | Value::Int(_) | Value::UInt(_) | Value::Bool(_)
            ) {
                error(
                    item.loc,
                    format!(
                        "`matrix.{key}` values must be strings or numbers, found {}",
                        item.kind_name()
                    ),
                    None,
                );
                continue;
            }
            let text = item.scalar_text();
            if values.iter().any(|seen| seen.text == text) {
                error(
                    item.loc,
                    format!("`{text}` is listed twice in `matrix.{key}`"),
                    None,
                );
                continue;
            }
            values.push(AxisValue {
                text,
                loc: item.loc,
            });
        }
        axes.push(Axis { key, values });
    }
    axes
}

/// Every `${matrix.KEY}` of the template names a key of the matrix; `$${` is a literal `${`.
fn check_references(
    node: &Node,
    axes: &[Axis],
    error: &mut impl FnMut(Loc, String, Option<String>),
) {
    match &node.value {
        Value::Str(s) => {
            for reference in references(s) {
                match reference {
                    Ok(key) if axes.iter().any(|a| a.key == key) => {}
                    Ok(key) => {
                        let keys: Vec<&str> = axes.iter().map(|a| a.key.as_str()).collect();
                        let hint = crate::yaml::suggest(key, &keys)
                            .map(|s| format!("did you mean `${{matrix.{s}}}`?"));
                        error(
                            node.loc,
                            format!(
                                "`${{matrix.{key}}}` names no key of `spec.matrix` (it has: {})",
                                keys.join(", ")
                            ),
                            hint,
                        );
                    }
                    Err(bad) => error(
                        node.loc,
                        format!(
                            "`{bad}` is not a matrix reference: write `${{matrix.KEY}}` (and `$${{` for a literal `${{`)"
                        ),
                        None,
                    ),
                }
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| check_references(i, axes, error)),
        Value::Map(entries) => entries
            .iter()
            .for_each(|(_, v)| check_references(v, axes, error)),
        _ => {}
    }
}

/// The `${...}` references of `s`: `Ok(key)` for `${matrix.KEY}`, `Err(text)` for anything else.
fn references(s: &str) -> Vec<Result<&str, &str>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if rest[..i].ends_with('$') {
            rest = &rest[i + 2..];
            continue;
        }
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            out.push(Err(&rest[i..]));
            break;
        };
        let inner = &after[..end];
        out.push(
            inner
                .strip_prefix("matrix.")
                .filter(|k| !k.is_empty())
                .ok_or(&rest[i..i + 3 + end]),
        );
        rest = &after[end + 1..];
    }
    out
}

/// Every combination of the axes' values, first axis slowest.
fn product(axes: &[Axis]) -> Vec<Vec<(&String, &AxisValue)>> {
    let mut out: Vec<Vec<(&String, &AxisValue)>> = vec![Vec::new()];
    for axis in axes {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                axis.values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push((&axis.key, v));
                    next
                })
            })
            .collect();
    }
    out
}

/// The template with each `${matrix.KEY}` replaced by its value (locations kept, so findings in
/// a generated job point at the template's lines).
fn substitute(node: &Node, values: &[(&str, &str)]) -> Node {
    let value = match &node.value {
        Value::Str(s) if s.contains("${") => Value::Str(replace(s, values)),
        Value::Seq(items) => Value::Seq(items.iter().map(|i| substitute(i, values)).collect()),
        Value::Map(entries) => Value::Map(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), substitute(v, values)))
                .collect(),
        ),
        other => other.clone(),
    };
    Node {
        loc: node.loc,
        value,
    }
}

fn replace(s: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if rest[..i].ends_with('$') {
            // `$${`: a literal `${`.
            out.push_str(&rest[..i - 1]);
            out.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}').unwrap_or(after.len());
        let key = after[..end].strip_prefix("matrix.").unwrap_or("");
        match values.iter().find(|(k, _)| *k == key) {
            Some((_, v)) => out.push_str(v),
            None => out.push_str(&rest[i..(i + 3 + end).min(rest.len())]),
        }
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// A `SupportBundleSchedule` document for one combination, at the set's location.
fn job_document(set: &Node, set_name: &str, job_name: &str, spec: &Node) -> Node {
    let at = |value: Value| Node {
        loc: set.loc,
        value,
    };
    let text = |s: &str| at(Value::Str(s.to_string()));
    let meta = set.get("metadata");
    let mut labels: Vec<(Node, Node)> = meta
        .and_then(|m| m.get("labels"))
        .and_then(Node::as_map)
        .map(<[_]>::to_vec)
        .unwrap_or_default();
    labels.retain(|(k, _)| k.as_str() != Some(SET_LABEL));
    labels.push((text(SET_LABEL), text(set_name)));
    let mut metadata = vec![
        (text("name"), text(job_name)),
        (text("labels"), at(Value::Map(labels))),
    ];
    if let Some(a) = meta.and_then(|m| m.get("annotations")) {
        metadata.push((text("annotations"), a.clone()));
    }
    at(Value::Map(vec![
        (text("apiVersion"), text(defaults::API_VERSION)),
        (text("kind"), text(defaults::KIND)),
        (text("metadata"), at(Value::Map(metadata))),
        (text("spec"), spec.clone()),
    ]))
}

#[cfg(test)]
#[path = "set_tests.rs"]
mod tests;
