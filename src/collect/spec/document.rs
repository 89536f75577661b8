//! One YAML document of a spec file: its header (`apiVersion`, `kind`) and what its `spec` holds.

use super::TroubleshootSpec;
use super::context::{Ctx, join};
use super::entries::parse_section;
use super::kinds::Section;
use super::redactor::parse_redactors;
use crate::yaml::{Node, Value, suggest};

/// The accepted troubleshoot API versions.
pub const API_VERSIONS: &[&str] = &[
    "troubleshoot.sh/v1beta2",
    "troubleshoot.replicated.com/v1beta1",
    "troubleshoot.sh/v1beta3",
];

/// The document kinds a spec file may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocKind {
    /// Collectors, analyzers and after-collection steps.
    SupportBundle,
    /// In-cluster collectors only.
    Collector,
    /// Host collectors only (its `spec.collectors` are host collectors).
    HostCollector,
    /// Redactors.
    Redactor,
    /// A preflight; accepted but not used by bundle collection.
    Preflight,
    /// A host preflight; accepted but not used by bundle collection.
    HostPreflight,
    /// Standalone analyzers; accepted but not used by bundle collection.
    Analyzer,
}

impl DocKind {
    /// Every kind, in the order messages list them.
    pub const ALL: [DocKind; 7] = [
        DocKind::SupportBundle,
        DocKind::Collector,
        DocKind::HostCollector,
        DocKind::Redactor,
        DocKind::Preflight,
        DocKind::HostPreflight,
        DocKind::Analyzer,
    ];

    /// The `kind:` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::SupportBundle => "SupportBundle",
            DocKind::Collector => "Collector",
            DocKind::HostCollector => "HostCollector",
            DocKind::Redactor => "Redactor",
            DocKind::Preflight => "Preflight",
            DocKind::HostPreflight => "HostPreflight",
            DocKind::Analyzer => "Analyzer",
        }
    }

    /// The kind spelled `s` (exactly, as Kubernetes matches kinds).
    pub fn from_name(s: &str) -> Option<DocKind> {
        DocKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The `spec` keys this kind understands, and what each one is.
    fn spec_keys(self) -> &'static [(&'static str, SpecKey)] {
        use SpecKey::*;
        match self {
            DocKind::SupportBundle => &[
                ("collectors", List(Section::Collectors)),
                ("hostCollectors", List(Section::HostCollectors)),
                ("analyzers", List(Section::Analyzers)),
                ("hostAnalyzers", List(Section::HostAnalyzers)),
                ("afterCollection", AfterCollection),
                ("runHostCollectorsInPod", RunInPod),
                ("uri", Uri),
            ],
            DocKind::Collector => &[
                ("collectors", List(Section::Collectors)),
                ("afterCollection", AfterCollection),
            ],
            DocKind::HostCollector => &[("collectors", List(Section::HostCollectors))],
            DocKind::Redactor => &[("redactors", Redactors)],
            DocKind::Preflight | DocKind::HostPreflight | DocKind::Analyzer => &[],
        }
    }
}

#[derive(Clone, Copy)]
enum SpecKey {
    List(Section),
    AfterCollection,
    RunInPod,
    Uri,
    Redactors,
}

/// Kubernetes objects that v1beta3 examples ship beside a spec (for `valueFrom` references).
const COMPANION_KINDS: &[&str] = &["Secret", "ConfigMap"];

/// Data keys under which troubleshoot looks for a spec wrapped in a Secret or ConfigMap.
const WRAPPED_SPEC_KEYS: &[&str] = &[
    "support-bundle-spec",
    "redactor-spec",
    "preflight-spec",
    "preflight.yaml",
];

/// Checks document number `index` (0-based) and merges what it defines into `spec`.
pub(super) fn parse_document(ctx: &mut Ctx, doc: &Node, index: usize, spec: &mut TroubleshootSpec) {
    let ordinal = index + 1;
    if doc.as_map().is_none() {
        let d = ctx
            .error(
                doc.loc,
                "",
                format!(
                    "document {ordinal} is {}, not a troubleshoot spec",
                    doc.kind_name()
                ),
            )
            .with_hint(
                "a spec document is a mapping with `apiVersion`, `kind`, `metadata` and `spec`",
            );
        ctx.push(d);
        return;
    }
    let kind_node = doc.get("kind");
    let kind_name = kind_node.and_then(Node::as_str);
    let api_node = doc.get("apiVersion");
    let api = api_node.and_then(Node::as_str);
    if api == Some("v1")
        && let Some(kind) = kind_name.filter(|k| COMPANION_KINDS.contains(k))
    {
        companion(ctx, doc, kind);
        return;
    }
    let Some(kind) = header(ctx, doc, ordinal) else {
        return;
    };
    for (key, _) in doc.as_map().unwrap_or_default() {
        let name = key.scalar_text();
        if !["apiVersion", "kind", "metadata", "spec", "status"].contains(&name.as_str()) {
            let d = ctx
                .warning(
                    key.loc,
                    &name,
                    format!("unknown top-level field `{name}` is ignored"),
                )
                .with_hint("fields such as `collectors` belong under `spec:`");
            ctx.push(d);
        }
    }
    if matches!(
        kind,
        DocKind::Preflight | DocKind::HostPreflight | DocKind::Analyzer
    ) {
        let at = kind_node.map_or(doc.loc, |n| n.loc);
        let d = ctx
            .warning(
                at,
                "kind",
                format!(
                    "`{}` documents are not used by support-bundle collection; this one is ignored",
                    kind.as_str()
                ),
            )
            .with_hint("put collectors and analyzers to run in a `SupportBundle` document");
        ctx.push(d);
        return;
    }
    let Some(body) = doc.get("spec") else {
        let d = ctx.warning(
            doc.loc,
            "spec",
            format!("this `{}` has no `spec`, so it adds nothing", kind.as_str()),
        );
        ctx.push(d);
        return;
    };
    parse_spec_body(ctx, kind, body, "spec", spec);
    if api == Some("troubleshoot.sh/v1beta3") {
        template_warning(ctx, body);
    }
}

/// Checks `apiVersion` and `kind`; the kind when both are acceptable.
fn header(ctx: &mut Ctx, doc: &Node, ordinal: usize) -> Option<DocKind> {
    let mut ok = true;
    match doc.get("apiVersion") {
        None => {
            let d = ctx
                .error(
                    doc.loc,
                    "apiVersion",
                    format!("document {ordinal} has no `apiVersion`"),
                )
                .with_hint("add `apiVersion: troubleshoot.sh/v1beta2`");
            ctx.push(d);
            ok = false;
        }
        Some(node) if !node.as_str().is_some_and(|a| API_VERSIONS.contains(&a)) => {
            let given = node.scalar_text();
            let hint = match suggest(&given, API_VERSIONS) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("use one of {}", API_VERSIONS.join(", ")),
            };
            let d = ctx
                .error(
                    node.loc,
                    "apiVersion",
                    format!("unsupported apiVersion `{given}`"),
                )
                .with_hint(hint);
            ctx.push(d);
            ok = false;
        }
        Some(_) => {}
    }
    let names: Vec<&str> = DocKind::ALL.iter().map(|k| k.as_str()).collect();
    let kind = match doc.get("kind") {
        None => {
            let d = ctx
                .error(doc.loc, "kind", format!("document {ordinal} has no `kind`"))
                .with_hint("add `kind: SupportBundle`");
            ctx.push(d);
            None
        }
        Some(node) => {
            let kind = node.as_str().and_then(DocKind::from_name);
            if kind.is_none() {
                let given = node.scalar_text();
                let hint = match suggest(&given, &names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("use one of {}", names.join(", ")),
                };
                let d = ctx
                    .error(node.loc, "kind", format!("unsupported kind `{given}`"))
                    .with_hint(hint);
                ctx.push(d);
            }
            kind
        }
    };
    kind.filter(|_| ok)
}

/// Reads the `spec` mapping of a document of `kind` into `spec`.
pub(super) fn parse_spec_body(
    ctx: &mut Ctx,
    kind: DocKind,
    body: &Node,
    path: &str,
    spec: &mut TroubleshootSpec,
) {
    let Some(entries) = body.as_map() else {
        if !matches!(body.value, Value::Null) {
            let d = ctx.error(
                body.loc,
                path,
                format!("`spec` must be a mapping, found {}", body.kind_name()),
            );
            ctx.push(d);
        }
        return;
    };
    let known = kind.spec_keys();
    for (key, value) in entries {
        let name = key.scalar_text();
        let field = join(path, &name);
        let Some((_, what)) = known.iter().find(|(k, _)| *k == name) else {
            unknown_spec_key(ctx, kind, key, &name, &field);
            continue;
        };
        match *what {
            SpecKey::List(section) => {
                let found = parse_section(ctx, section, value, &field);
                spec.section_mut(section).extend(found);
            }
            SpecKey::AfterCollection => after_collection(ctx, value, &field, spec),
            SpecKey::RunInPod => match crate::yaml::from_node::<bool>(value) {
                Ok(b) => spec.run_host_collectors_in_pod |= b,
                Err(err) => {
                    let d = ctx.de_error(&err, value.loc, &field);
                    ctx.push(d);
                }
            },
            SpecKey::Uri => uri(ctx, value, &field, spec),
            SpecKey::Redactors => {
                let rules = parse_redactors(ctx, value, &field);
                spec.redactors.extend(rules);
            }
        }
    }
}

/// troubleshoot ignores unknown fields, so they only warn; a likely typo gets a suggestion.
fn unknown_spec_key(ctx: &mut Ctx, kind: DocKind, key: &Node, name: &str, field: &str) {
    let names: Vec<&str> = kind.spec_keys().iter().map(|(k, _)| *k).collect();
    let hint = match suggest(name, &names) {
        Some(s) => format!("did you mean `{s}`?"),
        None if names.is_empty() => "nothing under this spec is used".to_string(),
        None => format!("`{}` specs use {}", kind.as_str(), names.join(", ")),
    };
    let d = ctx
        .warning(
            key.loc,
            field,
            format!(
                "unknown field `{name}` in a `{}` spec is ignored",
                kind.as_str()
            ),
        )
        .with_hint(hint);
    ctx.push(d);
}

fn after_collection(ctx: &mut Ctx, value: &Node, field: &str, spec: &mut TroubleshootSpec) {
    match &value.value {
        Value::Seq(items) => spec
            .after_collection
            .extend(items.iter().map(Node::to_json)),
        Value::Null => {}
        _ => {
            let d = ctx.error(
                value.loc,
                field,
                format!(
                    "`afterCollection` must be a list, found {}",
                    value.kind_name()
                ),
            );
            ctx.push(d);
        }
    }
}

/// `uri` asks troubleshoot to replace the spec with a fetched one; this build never fetches.
fn uri(ctx: &mut Ctx, value: &Node, field: &str, spec: &mut TroubleshootSpec) {
    match &value.value {
        Value::Str(s) => {
            spec.uri = Some(s.clone());
            let d = ctx
                .warning(
                    value.loc,
                    field,
                    "`spec.uri` is not fetched; the spec is used as written (like `--no-uri`)",
                )
                .with_hint("to use the newer spec, download it and point the job at the file");
            ctx.push(d);
        }
        Value::Null => {}
        _ => {
            let d = ctx.error(
                value.loc,
                field,
                format!("`uri` must be a string, found {}", value.kind_name()),
            );
            ctx.push(d);
        }
    }
}

/// A Secret or ConfigMap beside a spec: ignored, unless it wraps a spec we would then miss.
fn companion(ctx: &mut Ctx, doc: &Node, kind: &str) {
    let name = doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .map(Node::scalar_text)
        .unwrap_or_default();
    let wrapped = ["data", "stringData"]
        .iter()
        .filter_map(|field| doc.get(field))
        .find_map(|data| WRAPPED_SPEC_KEYS.iter().find_map(|key| data.key_node(key)));
    if let Some(key) = wrapped {
        let d = ctx
            .error(
                key.loc,
                "",
                format!("{kind} `{name}` wraps a troubleshoot spec under `{}`; wrapped specs are not read from files", key.scalar_text()),
            )
            .with_hint("put the spec YAML in its own file and reference that file");
        ctx.push(d);
        return;
    }
    let d = ctx
        .warning(
            doc.get("kind").map_or(doc.loc, |n| n.loc),
            "kind",
            format!("Kubernetes {kind} `{name}` is not a troubleshoot spec; it is ignored"),
        )
        .with_hint(format!(
            "if a collector references this {kind} with `valueFrom`, apply it to the cluster"
        ));
    ctx.push(d);
}

/// v1beta3 values may be Helm-style templates; this build uses them verbatim, which is worth saying.
/// Only collectors are scanned: analyzer messages legitimately hold Go templates such as `{{ .Name }}`.
fn template_warning(ctx: &mut Ctx, body: &Node) {
    let collectors = ["collectors", "hostCollectors"]
        .into_iter()
        .filter_map(|k| body.get(k));
    if let Some(at) = collectors.into_iter().find_map(find_template) {
        let d = ctx
            .warning(
                at.loc,
                "",
                "this v1beta3 spec contains `{{ ... }}` templates; they are used as literal text",
            )
            .with_hint(
                "render the spec with its values first and point the job at the rendered file",
            );
        ctx.push(d);
    }
}

fn find_template(node: &Node) -> Option<&Node> {
    match &node.value {
        Value::Str(s) if s.contains("{{") => Some(node),
        Value::Seq(items) => items.iter().find_map(find_template),
        Value::Map(entries) => entries.iter().find_map(|(_, v)| find_template(v)),
        _ => None,
    }
}
