//! Documents and values that are not plain troubleshoot specs: Kubernetes companions and templates.

use super::TroubleshootSpec;
use super::context::Ctx;
use crate::diagnostic::SourceLines;
use crate::yaml::{Loc, Node, Value};

/// Kubernetes objects that v1beta3 examples ship beside a spec (for `valueFrom` references).
pub(super) const COMPANION_KINDS: &[&str] = &["Secret", "ConfigMap"];

/// Data keys under which troubleshoot's loader finds specs wrapped in a Secret or ConfigMap, in
/// the order it reads them.
pub const WRAPPED_SPEC_KEYS: &[&str] = &[
    "support-bundle-spec",
    "redactor-spec",
    "preflight.yaml",
    "preflight-spec",
];

/// A Secret or ConfigMap beside a spec: the specs it wraps are read as troubleshoot's loader
/// reads them (`data` of a ConfigMap, `data` (base64) and `stringData` of a Secret); one that
/// wraps none is ignored with a warning.
pub(super) fn companion(ctx: &mut Ctx, doc: &Node, kind: &str, spec: &mut TroubleshootSpec) {
    let name = doc
        .get("metadata")
        .and_then(|m| m.get("name"))
        .map(Node::scalar_text)
        .unwrap_or_default();
    let fields: &[(&str, bool)] = if kind == "Secret" {
        &[("data", true), ("stringData", false)]
    } else {
        &[("data", false)]
    };
    let mut found = false;
    for (field, base64) in fields {
        let Some(data) = doc.get(field) else {
            continue;
        };
        for key in WRAPPED_SPEC_KEYS {
            if let (Some(key_node), Some(value)) = (data.key_node(key), data.get(key)) {
                found = true;
                let at = format!("{field}.{key}");
                read_wrapped(ctx, kind, &name, &at, key_node, value, *base64, spec);
            }
        }
    }
    if found {
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

/// Parses one wrapped spec and merges it, with its locations mapped back into this file.
#[allow(clippy::too_many_arguments)]
fn read_wrapped(
    ctx: &mut Ctx,
    kind: &str,
    name: &str,
    at: &str,
    key: &Node,
    value: &Node,
    base64: bool,
    spec: &mut TroubleshootSpec,
) {
    let text = match wrapped_text(value, base64) {
        Ok(text) => text,
        Err(problem) => {
            let d = ctx
                .error(value.loc, at, format!("{kind} `{name}`: `{at}` {problem}"))
                .with_hint(if base64 {
                    "a Secret's `data` values are base64; put plain YAML under `stringData`"
                } else {
                    "write the spec YAML as a block string (`key: |`)"
                });
            ctx.push(d);
            return;
        }
    };
    let inner = super::parse_text(ctx.file, &text, ctx.analyzers);
    let shift = block_shift(ctx, key, base64);
    for mut d in inner.diagnostics {
        match shift {
            Some((lines, columns)) if d.line > 0 => {
                d.line += lines;
                d.column += columns;
                d.snippet = None;
                d = d.with_source(ctx.text);
            }
            _ => {
                d.message = format!(
                    "in the spec wrapped in `{at}` (its line {}): {}",
                    d.line, d.message
                );
                d.line = key.loc.line;
                d.column = key.loc.column;
                d.snippet = None;
                d = d.with_source(ctx.text);
            }
        }
        ctx.push(d);
    }
    let mut wrapped = inner.spec;
    let relocate = |loc: &mut Loc| match shift {
        Some((lines, columns)) => {
            loc.line += lines;
            loc.column += columns;
        }
        None => *loc = key.loc,
    };
    for section in super::Section::ALL {
        for entry in wrapped.section_mut(section) {
            relocate(&mut entry.loc);
        }
    }
    for rule in &mut wrapped.redactors {
        relocate(&mut rule.loc);
    }
    for dropped in &mut wrapped.dropped {
        relocate(&mut dropped.loc);
    }
    spec.merge(wrapped);
}

fn wrapped_text(value: &Node, base64: bool) -> Result<String, &'static str> {
    let Value::Str(raw) = &value.value else {
        return Err("is not a string");
    };
    if !base64 {
        return Ok(raw.clone());
    }
    use base64::Engine as _;
    let compact: String = raw.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|_| "is not base64")?;
    String::from_utf8(bytes).map_err(|_| "does not decode to UTF-8 text")
}

/// For a block string (`key: |`), how far its text is from the start of the file: its line 1
/// is the line after the key, indented. `None` for other strings (quoted, base64), whose
/// findings are placed at the key.
fn block_shift(ctx: &Ctx, key: &Node, base64: bool) -> Option<(u32, u32)> {
    if base64 {
        return None;
    }
    let line = ctx.text.source_line(key.loc.line)?;
    let after_key = line.get(key.loc.column.saturating_sub(1) as usize..)?;
    let indicator = after_key.split_once(':')?.1.trim_start();
    // Only literal (`|`) text maps back line for line; folded (`>`) text joins lines.
    if !indicator.starts_with('|') {
        return None;
    }
    let next = ctx.text.source_line(key.loc.line + 1)?;
    let indent = next.len() - next.trim_start_matches(' ').len();
    Some((key.loc.line, indent as u32))
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
                "a job renders v1beta3 spec files with its `collect.values`/`collect.set`; text still holding `{{` after that is kept as written",
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
