//! What the builtin engine of this build can run, and warnings for what it cannot.

use super::TroubleshootSpec;
use super::kinds::Section;
use crate::diagnostic::Diagnostic;

/// Whether the builtin engine of this build runs a collector/analyzer type.
///
/// Host collectors: the single table is `collect::host::SUPPORTED` (type and default title), so
/// what validation promises and what the engine runs cannot drift apart.
pub fn builtin_supports(section: Section, kind: &str) -> bool {
    match section {
        Section::HostCollectors => crate::collect::host::SUPPORTED
            .iter()
            .any(|(k, _)| *k == kind),
        Section::Collectors => crate::collect::cluster::SUPPORTED.contains(&kind),
        Section::Analyzers | Section::HostAnalyzers => false,
    }
}

/// One warning per (file, section, type) the builtin engine will not run, at its first entry.
///
/// Excluded entries are left out: no engine runs them, so they are not "skipped" by this build.
pub fn unsupported_warnings(spec: &TroubleshootSpec) -> Vec<Diagnostic> {
    // (section, file, kind) -> (count, first entry); a Vec keeps first-seen order.
    let mut groups: Vec<(Section, &super::Entry, usize)> = Vec::new();
    for section in Section::ALL {
        for entry in spec.section(section) {
            if entry.exclude || builtin_supports(section, &entry.kind) {
                continue;
            }
            match groups.iter_mut().find(|(s, first, _)| {
                *s == section && first.kind == entry.kind && first.file == entry.file
            }) {
                Some(group) => group.2 += 1,
                None => groups.push((section, entry, 1)),
            }
        }
    }
    groups
        .into_iter()
        .map(|(section, first, count)| {
            let noun = if count == 1 { "entry" } else { "entries" };
            Diagnostic::warning(
                &first.file,
                first.loc,
                format!(
                    "{section}: `{}` ({count} {noun}) is not run by the builtin engine in this build; it will be recorded as skipped",
                    first.kind
                ),
            )
            .with_hint("use `collect.engine: support-bundle` to run it with the troubleshoot CLI")
        })
        .collect()
}
