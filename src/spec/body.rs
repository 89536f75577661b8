//! The `spec` mapping of a document: which keys each kind understands, and reading them.

use super::TroubleshootSpec;
use super::context::{Ctx, join};
use super::document::DocKind;
use super::entries::parse_section;
use super::kinds::Section;
use super::redactor::parse_redactors;
use crate::yaml::{Node, Value, suggest};

/// What a known `spec` key holds, so one table drives both reading and suggestions.
#[derive(Clone, Copy)]
enum SpecKey {
    List(Section),
    AfterCollection,
    RunInPod,
    Uri,
    Redactors,
}

/// The `spec` keys this kind understands, and what each one is.
fn spec_keys(kind: DocKind) -> &'static [(&'static str, SpecKey)] {
    use SpecKey::*;
    match kind {
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
        // Applied to a job's bundles and read by `analyze`; preflights only by `analyze`.
        DocKind::Analyzer => &[
            ("analyzers", List(Section::Analyzers)),
            ("hostAnalyzers", List(Section::HostAnalyzers)),
        ],
        DocKind::Preflight => &[("analyzers", List(Section::Analyzers))],
        DocKind::HostPreflight => &[("analyzers", List(Section::HostAnalyzers))],
    }
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
    let known = spec_keys(kind);
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
    let names: Vec<&str> = spec_keys(kind).iter().map(|(k, _)| *k).collect();
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

/// `uri` asks troubleshoot to replace the spec with a fetched one; the agent does so only for
/// jobs that opt in (`collect.followSpecURI`, see `pipeline/spec_uri.rs`).
fn uri(ctx: &mut Ctx, value: &Node, field: &str, spec: &mut TroubleshootSpec) {
    match &value.value {
        Value::Str(s) => {
            spec.uri = Some(s.clone());
            let d = ctx
                .warning(
                    value.loc,
                    field,
                    "`spec.uri` is fetched only by jobs with `collect.followSpecURI: true`; otherwise the spec is used as written (like `--no-uri`)",
                )
                .with_hint("with `followSpecURI: true` each run fetches it and falls back to this spec when the fetch fails");
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
