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

    #[test]
    fn every_troubleshoot_collector_type_is_builtin_and_warns_nothing() {
        let file = crate::spec::parse_spec_text(
            std::path::Path::new("spec.yaml"),
            &format!(
                "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: t\nspec:\n{}",
                "  hostCollectors:\n    - dns: {}\n    - subnetAvailable: {}\n    - dns: {}\n    - cpu: {}\n    - http: {exclude: true}\n  collectors:\n    - run: {}\n    - mssql: {}\n    - sonobuoy: {}\n",
            ),
        );
        // Issue 20: no troubleshoot v0.133 collector type is "not available" any more.
        for kind in [
            "copyFromHost",
            "runDaemonSet",
            "ceph",
            "longhorn",
            "goldpinger",
            "nodeMetrics",
            "registryImages",
            "helm",
            "sysctl",
            "certificates",
            "dns",
            "etcd",
            "sonobuoy",
            "customMetrics",
            "supportBundleMetadata",
            "collectd",
            "postgres",
            "mysql",
            "mssql",
            "redis",
            "clickhouse",
            "run",
            "runPod",
        ] {
            assert!(builtin_supports(Section::Collectors, kind), "{kind}");
        }
        for kind in [
            "kubernetes",
            "subnetAvailable",
            "certificatesCollection",
            "dns",
            "networkNamespaceConnectivity",
            "registryImages",
            "run",
            "cpu",
        ] {
            assert!(builtin_supports(Section::HostCollectors, kind), "{kind}");
        }
        assert!(!builtin_supports(Section::Collectors, "noSuchCollector"));
        let warnings = unsupported_warnings(&file.spec);
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}
