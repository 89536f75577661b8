//! The fields troubleshoot knows for each collector, analyzer and redactor type, and the
//! warnings for the ones it would silently ignore.
//!
//! troubleshoot decodes specs without rejecting unknown fields (and matches names exactly,
//! case included), so a typo such as `comtainerName` is dropped and the collector runs with
//! its default. The agent runs it the same way and says so, with the nearest known name.

#[rustfmt::skip]
mod table;

use super::context::{Ctx, join};
use super::kinds::Section;
use crate::yaml::{Node, Value, suggest};

/// One known field of a troubleshoot type.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    /// Its JSON/YAML name.
    pub name: &'static str,
    /// What its value holds.
    pub shape: Shape,
}

/// What a field's value holds, as far as field names are checked.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// A scalar, a list of scalars, a map with free keys, or a type from outside troubleshoot.
    Leaf,
    /// A troubleshoot struct (or a list of them) with these fields.
    Struct(&'static [Field]),
}

const fn f(name: &'static str, shape: Shape) -> Field {
    Field { name, shape }
}

fn types(section: Section) -> &'static [(&'static str, &'static [Field])] {
    match section {
        Section::Collectors => table::COLLECT_TYPES,
        Section::HostCollectors => table::HOST_COLLECT_TYPES,
        Section::Analyzers => table::ANALYZE_TYPES,
        Section::HostAnalyzers => table::HOST_ANALYZE_TYPES,
    }
}

/// The fields of type `kind` in `section`, when troubleshoot defines it.
pub fn fields_of(section: Section, kind: &str) -> Option<&'static [Field]> {
    types(section)
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, fields)| *fields)
}

/// The fields of one `Redactor` rule.
pub fn redactor_fields() -> &'static [Field] {
    table::REDACT
}

/// Where troubleshoot's collect/analyze code looks for `kind` when an item sets several types:
/// it runs the one it checks first (lower is earlier).
pub(super) fn dispatch_rank(section: Section, kind: &str) -> usize {
    types(section)
        .iter()
        .position(|(k, _)| *k == kind)
        .unwrap_or(usize::MAX)
}

/// Warns about each field of `node` (and below) that `fields` does not know; `owner` names the
/// type in messages and `path` is `node`'s field path.
pub(super) fn warn_unknown(
    ctx: &mut Ctx,
    owner: &str,
    fields: &'static [Field],
    node: &Node,
    path: &str,
) {
    match &node.value {
        Value::Map(entries) => {
            for (key, value) in entries {
                let name = key.scalar_text();
                let at = join(path, &name);
                match fields.iter().find(|f| f.name == name) {
                    Some(Field {
                        shape: Shape::Struct(inner),
                        ..
                    }) => warn_unknown(ctx, owner, inner, value, &at),
                    Some(_) => {}
                    None => unknown(ctx, owner, fields, key, &name, &at),
                }
            }
        }
        // A list of structs (`outcomes`, `removals.regex`): each item has the same fields.
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                warn_unknown(ctx, owner, fields, item, &format!("{path}[{i}]"));
            }
        }
        _ => {}
    }
}

fn unknown(ctx: &mut Ctx, owner: &str, fields: &[Field], key: &Node, name: &str, at: &str) {
    let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
    let hint = match suggest(name, &names) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("known fields here: {}", names.join(", ")),
    };
    let d = ctx
        .warning(
            key.loc,
            at,
            format!("unknown field `{name}` in `{owner}` is ignored (as troubleshoot ignores it)"),
        )
        .with_hint(hint);
    ctx.push(d);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recognised_type_has_its_fields() {
        for section in Section::ALL {
            for kind in section.keys() {
                assert!(fields_of(section, kind).is_some(), "{section}: {kind}");
            }
        }
        let names =
            |s, k| -> Vec<&str> { fields_of(s, k).unwrap().iter().map(|f| f.name).collect() };
        assert!(names(Section::Collectors, "exec").contains(&"containerName"));
        assert!(names(Section::Collectors, "logs").contains(&"containerNames"));
        assert!(names(Section::HostCollectors, "cpu").contains(&"collectorName"));
        assert!(names(Section::Analyzers, "textAnalyze").contains(&"outcomes"));
        assert!(redactor_fields().iter().any(|f| f.name == "removals"));
        // troubleshoot checks `memory` before `hostOS` (what a support-bundle run showed).
        assert!(
            dispatch_rank(Section::HostCollectors, "memory")
                < dispatch_rank(Section::HostCollectors, "hostOS")
        );
    }
}
