//! One YAML document of a spec file: its header (`apiVersion`, `kind`), then its `spec`.

use super::TroubleshootSpec;
use super::body::parse_spec_body;
use super::companion::{COMPANION_KINDS, companion, template_warning};
use super::context::Ctx;
use crate::yaml::{Node, suggest};

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
    /// Standalone analyzers (`analyzers`, `hostAnalyzers`), applied to the job's bundles.
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
}

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
        companion(ctx, doc, kind, spec);
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
    // `Analyzer` documents add their analyzers to a job's bundles too (troubleshoot's issue-17
    // contract for scheduled bundles); preflights only to `analyze`.
    if !ctx.analyzers && matches!(kind, DocKind::Preflight | DocKind::HostPreflight) {
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
            .with_hint(
                "put collectors and analyzers to run in a `SupportBundle` or `Analyzer` document",
            );
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
