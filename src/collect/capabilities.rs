//! What the builtin engine of this build can run, and warnings for what it cannot.

use crate::diagnostic::Diagnostic;
use crate::spec::{Entry, Section, TroubleshootSpec};

/// Whether the builtin engine of this build runs a collector/analyzer type.
///
/// Host collectors: the single table is `host::SUPPORTED` (type and default title), so
/// what validation promises and what the engine runs cannot drift apart.
pub fn builtin_supports(section: Section, kind: &str) -> bool {
    match section {
        Section::HostCollectors => super::host::SUPPORTED.iter().any(|(k, _)| *k == kind),
        Section::Collectors => super::cluster::SUPPORTED.contains(&kind),
        Section::Analyzers => crate::analyze::supports(false, kind),
        Section::HostAnalyzers => crate::analyze::supports(true, kind),
    }
}

/// One warning per (file, section, type) the builtin engine will not run, at its first entry.
///
/// Excluded entries are left out: no engine runs them, so they are not "skipped" by this build.
pub fn unsupported_warnings(spec: &TroubleshootSpec) -> Vec<Diagnostic> {
    // (section, file, kind) -> (count, first entry); a Vec keeps first-seen order.
    let mut groups: Vec<(Section, &Entry, usize)> = Vec::new();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Severity;

    #[test]
    fn unsupported_warnings_group_per_section_and_type() {
        let file = crate::spec::parse_spec_text(
            std::path::Path::new("spec.yaml"),
            &format!(
                "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: t\nspec:\n{}",
                "  hostCollectors:\n    - dns: {}\n    - subnetAvailable: {}\n    - dns: {}\n    - cpu: {}\n    - http: {exclude: true}\n  collectors:\n    - run: {}\n    - sonobuoy: {}\n",
            ),
        );
        // Every host collector type is builtin now (`dns`, `subnetAvailable` too); in-cluster
        // `sonobuoy` is not.
        assert!(builtin_supports(Section::HostCollectors, "run"));
        assert!(builtin_supports(Section::HostCollectors, "cpu"));
        assert!(builtin_supports(Section::HostCollectors, "dns"));
        assert!(builtin_supports(Section::HostCollectors, "subnetAvailable"));
        assert!(builtin_supports(Section::Collectors, "run"));
        assert!(builtin_supports(Section::Collectors, "runPod"));
        assert!(!builtin_supports(Section::Collectors, "sonobuoy"));
        let warnings = unsupported_warnings(&file.spec);
        let messages: Vec<_> = warnings.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "collectors: `sonobuoy` (1 entry) is not run by the builtin engine in this build; it will be recorded as skipped",
            ]
        );
        assert!(
            warnings
                .iter()
                .all(|d| d.severity == Severity::Warning && d.hint.is_some())
        );
    }
}
