//! troubleshoot v1beta3 templated specs: a spec file whose `apiVersion` is
//! `troubleshoot.sh/v1beta3` is rendered as a Go template with the job's values before it is
//! parsed, as troubleshoot's `RenderWithHelmTemplate` does (Helm's engine, `.Values`,
//! `.Release`, `.Chart`; the values seeded first by `SeedDefaultBooleans` and
//! `SeedParentMapsForValueRefs`). Older specs are never rendered.
//!
//! The rendered text may hold secrets from the values: it lives in memory (parsed here, hashed
//! for the job's definition; [`RenderedText`] never prints it) and is never logged. It is written
//! in one place only: the run's staging directory (root-only), for `engine: support-bundle`, whose
//! CLI reads specs from files; the staging directory goes when the CLI ends.

use super::load::{self, LoadError};
use crate::diagnostic::Diagnostic;
use crate::gotmpl::{self, Value};
use crate::trust::{Policy, Problem, Walk};
use crate::yaml::{self, Loc};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// The values a job's v1beta3 specs are rendered with: its values files merged in order, then
/// its `set` entries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Values {
    map: BTreeMap<String, Value>,
    /// Whether the job gave any (values files or `set`).
    pub given: bool,
}

/// A spec's text rendered with a job's values. It may hold secrets from the values, so its
/// `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedText(std::sync::Arc<str>);

impl RenderedText {
    /// The rendered spec.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for RenderedText {
    fn from(text: String) -> Self {
        RenderedText(text.into())
    }
}

impl std::fmt::Debug for RenderedText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RenderedText({} bytes)", self.0.len())
    }
}

/// Why a `set` entry cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    /// An empty key or an empty part (`a..b`).
    #[error("empty key part in `{0}`")]
    EmptyPart(String),
    /// `a[x]` with an index that is not a number, or too large.
    #[error("bad list index in `{0}` (a number below 65536 in brackets, e.g. `hosts[0]`)")]
    BadIndex(String),
}

impl Values {
    /// Merges a values file's mapping over the values so far (troubleshoot's `MergeMaps`: maps
    /// merge key by key, anything else replaces).
    pub fn merge_file(&mut self, file: BTreeMap<String, Value>) {
        self.given = true;
        merge_maps(&mut self.map, file);
    }

    /// Applies `key: value` as Helm's `--set key=value` does for a dotted key: a leading
    /// `Values.` is dropped, `\.` is a dot inside a key, `name[i]` indexes a list; maps are
    /// created (or replace what is not a map) on the way.
    pub fn set(&mut self, key: &str, value: Value) -> Result<(), SetError> {
        self.given = true;
        let trimmed = key.strip_prefix("Values.").unwrap_or(key);
        let parts = split_key(trimmed);
        if parts.iter().any(String::is_empty) {
            return Err(SetError::EmptyPart(key.to_string()));
        }
        let mut steps = Vec::new();
        for part in &parts {
            match part.find('[') {
                Some(open) if part.ends_with(']') => {
                    steps.push(Step::Key(part[..open].to_string()));
                    for idx in part[open + 1..part.len() - 1].split("][") {
                        let i: usize = idx
                            .parse()
                            .ok()
                            .filter(|i| *i < 65536)
                            .ok_or_else(|| SetError::BadIndex(key.to_string()))?;
                        steps.push(Step::Index(i));
                    }
                }
                _ => steps.push(Step::Key(part.clone())),
            }
        }
        let mut root = Value::Map(std::mem::take(&mut self.map));
        put(&mut root, &steps, value);
        if let Value::Map(m) = root {
            self.map = m;
        }
        Ok(())
    }

    /// Hex sha256 of the values (for a job's definition: values may be secret).
    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(gotmpl::Value::Map(self.map.clone()).to_json().to_string()).into()
    }

    /// The template data: `.Values` (seeded for `template`) and Helm's built-in objects.
    fn data(&self, template: &str) -> Value {
        let mut values = self.map.clone();
        seed_default_booleans(template, &mut values);
        seed_parent_maps(template, &mut values);
        let obj = |pairs: &[(&str, Value)]| {
            Value::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            )
        };
        let s = |t: &str| Value::Str(t.to_string());
        obj(&[
            ("Values", Value::Map(values)),
            (
                "Release",
                obj(&[
                    ("Name", s("preflight")),
                    ("Namespace", s("default")),
                    ("IsInstall", Value::Bool(true)),
                    ("IsUpgrade", Value::Bool(false)),
                    ("Revision", Value::Int(1)),
                    ("Service", s("Helm")),
                ]),
            ),
            (
                "Chart",
                obj(&[
                    ("Name", s("preflight-templating")),
                    ("APIVersion", s("v2")),
                    ("Type", s("application")),
                ]),
            ),
            (
                "Template",
                obj(&[
                    ("Name", s("preflight-templating/templates/preflight.yaml")),
                    ("BasePath", s("preflight-templating/templates")),
                ]),
            ),
        ])
    }
}

enum Step {
    Key(String),
    Index(usize),
}

fn put(target: &mut Value, steps: &[Step], value: Value) {
    let Some((step, rest)) = steps.split_first() else {
        *target = value;
        return;
    };
    let slot = match step {
        Step::Key(k) => {
            if !matches!(target, Value::Map(_)) {
                *target = Value::Map(BTreeMap::new());
            }
            let Value::Map(m) = target else { return };
            m.entry(k.clone()).or_insert(Value::Nil)
        }
        Step::Index(i) => {
            if !matches!(target, Value::List(_)) {
                *target = Value::List(Vec::new());
            }
            let Value::List(l) = target else { return };
            if l.len() <= *i {
                l.resize(*i + 1, Value::Nil);
            }
            &mut l[*i]
        }
    };
    put(slot, rest, value);
}

/// Splits a `--set` key on dots that are not escaped (`a\.b` is one key `a.b`).
fn split_key(key: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = key.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(n), Some(p)) = (chars.next(), parts.last_mut()) {
                    p.push(n);
                }
            }
            '.' => parts.push(String::new()),
            c => {
                if let Some(p) = parts.last_mut() {
                    p.push(c);
                }
            }
        }
    }
    parts
}

fn merge_maps(base: &mut BTreeMap<String, Value>, overlay: BTreeMap<String, Value>) {
    for (k, v) in overlay {
        match (base.get_mut(&k), v) {
            (Some(Value::Map(b)), Value::Map(o)) => merge_maps(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// `.Values.<path>` references in the template text: the identifier parts of each.
fn value_refs(template: &str) -> impl Iterator<Item = Vec<&str>> {
    template.match_indices(".Values.").map(move |(i, m)| {
        let rest = &template[i + m.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        rest[..end].split('.').collect()
    })
}

/// troubleshoot's `SeedDefaultBooleans`: every `.Values.<path>.enabled` / `.create` that is
/// missing becomes `false` (parents created, non-maps replaced).
fn seed_default_booleans(template: &str, values: &mut BTreeMap<String, Value>) {
    for parts in value_refs(template) {
        // The regex is lazy: the first `.enabled`/`.create` part after at least one part ends it.
        let Some(leaf) = (1..parts.len()).find(|&i| matches!(parts[i], "enabled" | "create"))
        else {
            continue;
        };
        if parts[..leaf].iter().any(|p| p.is_empty()) {
            continue;
        }
        let mut cur = &mut *values;
        for p in &parts[..leaf] {
            let slot = cur.entry((*p).to_string()).or_insert(Value::Nil);
            if !matches!(slot, Value::Map(_)) {
                *slot = Value::Map(BTreeMap::new());
            }
            let Value::Map(m) = slot else { return };
            cur = m;
        }
        cur.entry(parts[leaf].to_string())
            .or_insert(Value::Bool(false));
    }
}

/// troubleshoot's `SeedParentMapsForValueRefs`: for every `.Values.a.b.c`, the maps `a` and
/// `a.b` exist (a non-map there is replaced); leaves are never set.
fn seed_parent_maps(template: &str, values: &mut BTreeMap<String, Value>) {
    for parts in value_refs(template) {
        let segs: Vec<&str> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        if segs.len() < 2 {
            continue;
        }
        let mut cur = &mut *values;
        for p in &segs[..segs.len() - 1] {
            let slot = cur.entry((*p).to_string()).or_insert(Value::Nil);
            if !matches!(slot, Value::Map(_)) {
                *slot = Value::Map(BTreeMap::new());
            }
            let Value::Map(m) = slot else { return };
            cur = m;
        }
    }
}

/// troubleshoot's `detectAPIVersion`: the first `apiVersion:` line before any `kind:` or
/// `metadata:` line decides.
pub fn is_v1beta3(text: &str) -> bool {
    for line in text.lines() {
        let l = line.trim();
        if let Some(v) = l.strip_prefix("apiVersion:") {
            let v = v.trim();
            return v.ends_with("/v1beta3") || v == "v1beta3";
        }
        if l.starts_with("kind:") || l.starts_with("metadata:") {
            break;
        }
    }
    false
}

/// Renders a v1beta3 spec's text with `values`; a template error is a diagnostic at its
/// line and column in the spec file.
pub(super) fn render(path: &Path, text: &str, values: &Values) -> Result<String, Box<Diagnostic>> {
    gotmpl::render(text, &values.data(text)).map_err(|e| {
        Box::new(
            Diagnostic::error(
                path,
                Loc::new(e.pos.line, e.pos.column),
                format!("cannot render the v1beta3 template: {}", e.kind),
            )
            .with_hint(e.hint()),
        )
    })
}

/// A values file's mapping, read with the trust checks of a spec file.
pub struct ValuesFile {
    /// The mapping (numbers are floats, as troubleshoot reads values through JSON).
    pub map: BTreeMap<String, Value>,
    /// SHA-256 of the raw bytes.
    pub sha256: [u8; 32],
    /// Ownership or permission problems let through by the policy (to report as warnings).
    pub allowed: Vec<Problem>,
}

/// Why a values file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ValuesError {
    /// It cannot be read or is not trusted.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Not YAML, or not a mapping: where, and what.
    #[error("{message}")]
    Invalid {
        /// Where in the values file.
        loc: Loc,
        /// What is wrong.
        message: String,
    },
}

/// Reads and parses a values file (`collect.values`).
pub fn read_values_file(
    path: &Path,
    policy: &Policy,
    walk: &mut Walk,
) -> Result<ValuesFile, ValuesError> {
    let (text, allowed) = load::read(path, policy, walk).map_err(|(_, e)| ValuesError::Load(e))?;
    let sha256: [u8; 32] = Sha256::digest(text.as_bytes()).into();
    let docs = yaml::parse_documents(&text).map_err(|e| ValuesError::Invalid {
        loc: e.loc.unwrap_or_default(),
        message: format!("not valid YAML: {}", e.message),
    })?;
    let map = match docs.first() {
        None => BTreeMap::new(),
        Some(doc) => match Value::from_json(&doc.to_json(), true) {
            Value::Map(m) => m,
            Value::Nil => BTreeMap::new(),
            other => {
                return Err(ValuesError::Invalid {
                    loc: doc.loc,
                    message: format!(
                        "a values file holds a mapping (`key: value`), not {}",
                        other.type_name()
                    ),
                });
            }
        },
    };
    Ok(ValuesFile {
        map,
        sha256,
        allowed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value {
        let doc = &yaml::parse_documents(text).expect("yaml")[0];
        Value::from_json(&doc.to_json(), true)
    }

    #[test]
    fn set_follows_helm_dotted_keys_and_beats_files() {
        let mut values = Values::default();
        let Value::Map(file) = v("db: {host: a, port: 5432}\nlist: [1]") else {
            panic!("map")
        };
        values.merge_file(file);
        values.set("db.host", Value::Str("b".into())).expect("set");
        values
            .set("Values.tls.enabled", Value::Bool(true))
            .expect("set");
        values.set("a\\.b", Value::Int(1)).expect("set");
        values.set("hosts[1]", Value::Str("h".into())).expect("set");
        values.set("list.x", Value::Int(2)).expect("set");
        assert_eq!(
            Value::Map(values.map.clone()),
            v("{a.b: 1, db: {host: b, port: 5432}, tls: {enabled: true}, hosts: [null, h], list: {x: 2}}")
                .pipe_ints()
        );
        assert_eq!(
            values.set("a..b", Value::Nil),
            Err(SetError::EmptyPart("a..b".into()))
        );
        assert_eq!(
            values.set("a[x]", Value::Nil),
            Err(SetError::BadIndex("a[x]".into()))
        );
    }

    trait PipeInts {
        fn pipe_ints(self) -> Value;
    }
    impl PipeInts for Value {
        /// The expectation's numbers as `set` gives them (integers), the file's as floats.
        fn pipe_ints(self) -> Value {
            match self {
                Value::Float(f) if f == 5432.0 => Value::Float(f),
                Value::Float(f) => Value::Int(f as i64),
                Value::Map(m) => {
                    Value::Map(m.into_iter().map(|(k, v)| (k, v.pipe_ints())).collect())
                }
                Value::List(l) => Value::List(l.into_iter().map(PipeInts::pipe_ints).collect()),
                other => other,
            }
        }
    }

    #[test]
    fn seeding_is_troubleshoots() {
        let mut values = BTreeMap::new();
        values.insert("minio".to_string(), Value::Str("x".into()));
        let t = "{{ if .Values.minio.enabled }}{{ .Values.db.tls.ca }}{{ end }}{{ .Values.top }}";
        seed_default_booleans(t, &mut values);
        seed_parent_maps(t, &mut values);
        assert_eq!(
            Value::Map(values),
            v("{minio: {enabled: false}, db: {tls: {}}}")
        );
        assert!(is_v1beta3(
            "# c\napiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundle\n"
        ));
        assert!(!is_v1beta3(
            "kind: SupportBundle\napiVersion: troubleshoot.sh/v1beta3\n"
        ));
        assert!(!is_v1beta3("apiVersion: troubleshoot.sh/v1beta2\n"));
    }

    #[test]
    fn a_v1beta3_spec_renders_with_no_values_after_seeding() {
        let t = "spec:\n  {{- if .Values.logs.enabled }}\n  x: {{ .Values.logs.ns }}\n  {{- end }}\n  y: {{ .Release.Name }}\n";
        let out = render(Path::new("s.yaml"), t, &Values::default()).expect("render");
        assert_eq!(out, "spec:\n  y: preflight\n");
        let err = render(
            Path::new("s.yaml"),
            "a: {{ toPrettyJson . }}",
            &Values::default(),
        )
        .expect_err("unsupported");
        assert_eq!((err.line, err.column), (1, 7));
        assert!(
            err.message.contains("\"toPrettyJson\" is not supported"),
            "{}",
            err.message
        );
    }
}
