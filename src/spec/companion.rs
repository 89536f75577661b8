//! Documents and values that are not plain troubleshoot specs: Kubernetes companions and templates.

use super::context::Ctx;
use crate::yaml::{Node, Value};

/// Kubernetes objects that v1beta3 examples ship beside a spec (for `valueFrom` references).
pub(super) const COMPANION_KINDS: &[&str] = &["Secret", "ConfigMap"];

/// Data keys under which troubleshoot looks for a spec wrapped in a Secret or ConfigMap.
const WRAPPED_SPEC_KEYS: &[&str] = &[
    "support-bundle-spec",
    "redactor-spec",
    "preflight-spec",
    "preflight.yaml",
];

/// A Secret or ConfigMap beside a spec: ignored, unless it wraps a spec we would then miss.
pub(super) fn companion(ctx: &mut Ctx, doc: &Node, kind: &str) {
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
pub(super) fn template_warning(ctx: &mut Ctx, body: &Node) {
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
