//! One analyzer result, and `analysis.json` written byte for byte as troubleshoot writes it
//! (TROUBLESHOOT-FORMAT.md §4.2).

use super::outcome::{Outcome, Severity};
use serde::Serialize;
use serde_json::{Map, Value};
use std::io;

/// A Kubernetes object reference (`involvedObject`), fields in Go's order, empty ones left out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// Kind.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Namespace.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// UID.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// API version.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// Resource version.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// Field path.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub field_path: String,
}

impl ObjectRef {
    /// The reference to a Kubernetes object given as JSON.
    pub fn of(object: &Value) -> ObjectRef {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
        let meta = object.get("metadata");
        ObjectRef {
            kind: text(object.get("kind")),
            namespace: text(meta.and_then(|m| m.get("namespace"))),
            name: text(meta.and_then(|m| m.get("name"))),
            uid: text(meta.and_then(|m| m.get("uid"))),
            api_version: text(object.get("apiVersion")),
            resource_version: text(meta.and_then(|m| m.get("resourceVersion"))),
            field_path: String::new(),
        }
    }
}

/// What one analyzer concluded (an analyzer may give several, e.g. one per pod).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnalyzeResult {
    /// pass, warn or fail; `None` when no outcome matched and the analyzer still reports.
    pub severity: Option<Severity>,
    /// Title (the `checkName`, else the analyzer's default).
    pub title: String,
    /// Message, templates rendered.
    pub message: String,
    /// The outcome's link (not written to analysis.json, as upstream).
    pub uri: String,
    /// Icon key for UIs.
    pub icon_key: String,
    /// Icon URI for UIs.
    pub icon_uri: String,
    /// The object the result is about.
    pub involved_object: Option<ObjectRef>,
    /// `strict: true` on the analyzer.
    pub strict: bool,
}

impl AnalyzeResult {
    /// A result titled `title` with the analyzer's icon.
    pub fn new(title: impl Into<String>, icon: Icon) -> AnalyzeResult {
        AnalyzeResult {
            title: title.into(),
            icon_key: icon.0.to_string(),
            icon_uri: icon.1.to_string(),
            ..AnalyzeResult::default()
        }
    }

    /// This result with `outcome`'s severity, message and uri.
    pub fn with(mut self, outcome: &Outcome) -> AnalyzeResult {
        self.severity = outcome.severity;
        self.message = outcome.message.clone();
        self.uri = outcome.uri.clone();
        self
    }

    /// Whether it passed.
    pub fn is_pass(&self) -> bool {
        self.severity == Some(Severity::Pass)
    }
    /// Whether it warned.
    pub fn is_warn(&self) -> bool {
        self.severity == Some(Severity::Warn)
    }
    /// Whether it failed.
    pub fn is_fail(&self) -> bool {
        self.severity == Some(Severity::Fail)
    }

    /// troubleshoot's result name: the title lower-cased, every run of characters outside
    /// `[a-zA-Z0-9]` made one `.`.
    pub fn slug(&self) -> String {
        let mut out = String::with_capacity(self.title.len());
        let mut gap = false;
        for c in self.title.to_lowercase().chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c);
                gap = false;
            } else if !gap {
                out.push('.');
                gap = true;
            }
        }
        out
    }

    fn to_json(&self) -> Value {
        let name = self.slug();
        let severity = match self.severity {
            Some(Severity::Fail) => "error",
            Some(Severity::Warn) => "warn",
            Some(Severity::Pass) => "debug",
            None => "",
        };
        let labels = |position: bool| {
            let mut m = Map::new();
            if position {
                m.insert("desiredPosition".into(), "1".into());
            }
            m.insert("iconKey".into(), self.icon_key.clone().into());
            m.insert("iconUri".into(), self.icon_uri.clone().into());
            Value::Object(m)
        };
        // Go leaves an empty name out (`omitempty`): a result with an empty title has none.
        let mut insight = Map::new();
        if !name.is_empty() {
            insight.insert("name".into(), name.clone().into());
        }
        insight.insert("labels".into(), labels(false));
        insight.insert("primary".into(), self.title.clone().into());
        insight.insert("detail".into(), self.message.clone().into());
        if !severity.is_empty() {
            insight.insert("severity".into(), severity.into());
        }
        let mut m = Map::new();
        if !name.is_empty() {
            m.insert("name".into(), name.into());
        }
        m.insert("labels".into(), labels(true));
        m.insert("insight".into(), Value::Object(insight));
        m.insert("severity".into(), severity.into());
        m.insert("analyzerSpec".into(), "".into());
        if self.is_fail() && !self.message.is_empty() {
            m.insert("error".into(), self.message.clone().into());
        }
        if let Some(obj) = &self.involved_object {
            m.insert(
                "involvedObject".into(),
                serde_json::to_value(obj).unwrap_or(Value::Null),
            );
        }
        Value::Object(m)
    }
}

/// An analyzer's icon: (key, URI).
#[derive(Clone, Copy, Debug)]
pub struct Icon(pub &'static str, pub &'static str);

/// Writes like Go's encoder: `\b` and `\f` as `\u0008` and `\u000c`.
struct GoFormatter<'a>(serde_json::ser::PrettyFormatter<'a>);

impl serde_json::ser::Formatter for GoFormatter<'_> {
    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> io::Result<()> {
        use serde_json::ser::CharEscape;
        match escape {
            CharEscape::Backspace => writer.write_all(b"\\u0008"),
            CharEscape::FormFeed => writer.write_all(b"\\u000c"),
            other => serde_json::ser::CompactFormatter.write_char_escape(writer, other),
        }
    }
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// `value` as Go's `json.MarshalIndent(value, "", indent)` writes it: `<`, `>`, `&`, U+2028 and
/// U+2029 escaped, no trailing newline.
pub fn go_json(value: &Value, indent: &str) -> String {
    let mut out = Vec::new();
    let formatter = GoFormatter(serde_json::ser::PrettyFormatter::with_indent(
        indent.as_bytes(),
    ));
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    // Serializing a Value into memory cannot fail.
    let _ = value.serialize(&mut ser);
    let text = String::from_utf8(out).unwrap_or_default();
    // These characters only occur inside strings in JSON text, so replacing them is escaping.
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => escaped.push_str("\\u003c"),
            '>' => escaped.push_str("\\u003e"),
            '&' => escaped.push_str("\\u0026"),
            '\u{2028}' => escaped.push_str("\\u2028"),
            '\u{2029}' => escaped.push_str("\\u2029"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// The `analysis.json` text of `results`.
pub fn analysis_json(results: &[AnalyzeResult]) -> String {
    go_json(
        &Value::Array(results.iter().map(AnalyzeResult::to_json).collect()),
        "    ",
    )
}

/// The result elements as JSON values (the CLI's `-o json` prints these).
pub fn analysis_values(results: &[AnalyzeResult]) -> Vec<Value> {
    results.iter().map(AnalyzeResult::to_json).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_collapse_runs_of_other_characters() {
        let r = AnalyzeResult::new("Said hi!", Icon("", ""));
        assert_eq!(r.slug(), "said.hi.");
        let r = AnalyzeResult::new("Pod default/nginx-7 status", Icon("", ""));
        assert_eq!(r.slug(), "pod.default.nginx.7.status");
    }

    #[test]
    fn analysis_json_escapes_like_go_and_has_no_trailing_newline() {
        let mut r = AnalyzeResult::new("A & B", Icon("k", "https://x/y.svg?w=1&h=2"));
        r.severity = Some(Severity::Fail);
        r.message = "a <b>\u{8}".into();
        let text = analysis_json(&[r]);
        assert!(
            text.contains("\"iconUri\": \"https://x/y.svg?w=1\\u0026h=2\""),
            "{text}"
        );
        assert!(
            text.contains("\"error\": \"a \\u003cb\\u003e\\u0008\""),
            "{text}"
        );
        assert!(
            text.starts_with("[\n    {\n        \"name\": \"a.b\""),
            "{text}"
        );
        assert!(text.ends_with("}\n]"), "{text}");
        assert_eq!(analysis_json(&[]), "[]");
    }

    #[test]
    fn a_result_without_severity_has_an_empty_severity_and_no_insight_severity() {
        let r = AnalyzeResult::new("", Icon("", ""));
        let v = r.to_json();
        assert!(v.get("name").is_none() && v["insight"].get("name").is_none());
        assert_eq!(v["severity"], "");
        assert!(v["insight"].get("severity").is_none());
        assert!(v.get("error").is_none());
    }
}
