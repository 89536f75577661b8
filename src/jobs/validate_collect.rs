//! `validate`'s checks of what a job collects: its spec files, inline spec, redactors and
//! analyzer files, loaded as the run loads them (trust checks, located errors, hashes).

use super::*;
use crate::jobs::model::Collect;

pub(super) fn check_collect(
    c: &mut Checker<'_>,
    doc: &JobDocument,
    base: &Path,
) -> (TroubleshootSpec, Vec<SpecSource>) {
    let collect = &doc.spec.collect;
    let mut merged = TroubleshootSpec::default();
    let mut sources = Vec::new();
    check_sources(c, collect);
    c.values = super::values::check_values(c, doc, base, &mut sources);
    for (i, reference) in collect.specs.iter().enumerate() {
        let index = i.to_string();
        if let Some(spec) = load_reference(
            c,
            &["spec", "collect", "specs", &index],
            base,
            reference,
            SpecRole::Collect,
            &mut sources,
        ) {
            merged.merge(spec);
        }
    }
    if collect.support_bundle.is_some() {
        let node = c.node.locate(&["spec", "collect", "supportBundle"]);
        let (spec, diagnostics) = spec::parse_inline_bundle(c.file, node, c.text);
        c.out.extend(diagnostics);
        merged.merge(spec);
    }
    for (i, reference) in doc.spec.redact.redactors.iter().enumerate() {
        let index = i.to_string();
        if let Some(spec) = load_reference(
            c,
            &["spec", "redact", "redactors", &index],
            base,
            reference,
            SpecRole::Redact,
            &mut sources,
        ) {
            if spec.redactors.is_empty() {
                c.warning(
                    &["spec", "redact", "redactors", &index],
                    format!("`{reference}` defines no redactors"),
                    Some("redactor files hold `kind: Redactor` documents".into()),
                );
            }
            merged.merge(spec);
        }
    }
    if !doc.spec.redact.enabled && !doc.spec.redact.redactors.is_empty() {
        c.warning(
            &["spec", "redact", "enabled"],
            "redaction is disabled, so the redactors listed are not applied",
            None,
        );
    }
    if !doc.spec.redact.enabled && !doc.spec.upload.is_empty() {
        c.warning(&["spec", "redact", "enabled"], "redaction is disabled and bundles are uploaded: secrets in the collected data leave this host", None);
    }
    check_analyze_specs(c, doc, base, &mut merged, &mut sources);
    merged.dedup();
    merged.shrink_to_fit();
    check_redactor_rules(c, &merged);
    // The troubleshoot CLI runs every type itself; only the builtin engine has gaps to report.
    if collect.engine == crate::jobs::model::Engine::Builtin {
        c.out
            .extend(crate::collect::capabilities::unsupported_warnings(&merged));
    }
    // Only the troubleshoot CLI reads a rendered spec's text (from a file each run writes); the
    // builtin engine runs the parsed spec. The text may hold secrets from the values and the
    // agent keeps every job, so a job keeps none it will not use.
    let cli = collect.engine == crate::jobs::model::Engine::SupportBundle;
    for source in sources
        .iter_mut()
        .filter(|s| !cli || s.role != SpecRole::Collect)
    {
        source.rendered = None;
    }
    (merged, sources)
}

/// `analyze.specs`: each file is loaded as `collect.specs` are (trust checks, located errors,
/// its hash in the job's definition) and only its analyzers and host analyzers are kept.
fn check_analyze_specs(
    c: &mut Checker<'_>,
    doc: &JobDocument,
    base: &Path,
    merged: &mut TroubleshootSpec,
    sources: &mut Vec<SpecSource>,
) {
    let analyze = &doc.spec.analyze;
    for (i, reference) in analyze.specs.iter().enumerate() {
        let index = i.to_string();
        let at = ["spec", "analyze", "specs", &index];
        let Some(spec) = load_reference(c, &at, base, reference, SpecRole::Analyze, sources) else {
            continue;
        };
        if spec.analyzers.is_empty() && spec.host_analyzers.is_empty() {
            c.warning(
                &at,
                format!("`{reference}` defines no analyzers"),
                Some("analyzer files hold `analyzers`/`hostAnalyzers` in a `kind: Analyzer` or `SupportBundle` document".into()),
            );
        }
        let ignored = spec.collectors.len() + spec.host_collectors.len() + spec.redactors.len();
        if ignored > 0 {
            c.warning(
                &at,
                format!("`{reference}`: {ignored} collector(s) or redactor(s) are ignored; only its analyzers are applied"),
                Some("list collectors in `collect.specs` and redactors in `redact.redactors`".into()),
            );
        }
        merged.merge(TroubleshootSpec {
            analyzers: spec.analyzers,
            host_analyzers: spec.host_analyzers,
            ..TroubleshootSpec::default()
        });
    }
    if analyze.specs.is_empty() {
        return;
    }
    if !analyze.enabled {
        c.warning(
            &["spec", "analyze", "enabled"],
            "analysis is disabled, so the analyzers of `analyze.specs` are not applied",
            None,
        );
    } else if doc.spec.collect.engine == crate::jobs::model::Engine::SupportBundle {
        c.warning(
            &["spec", "analyze", "specs"],
            "with `collect.engine: support-bundle` the troubleshoot CLI analyzes the bundle with the analyzers of `collect.specs`; `analyze.specs` is not applied",
            Some("move these analyzers into a `collect.specs` file, or use the builtin engine".into()),
        );
    }
}

/// Loads one referenced spec file; problems with the file as a whole are reported at the reference.
fn load_reference(
    c: &mut Checker<'_>,
    at: &[&str],
    base: &Path,
    reference: &str,
    role: SpecRole,
    sources: &mut Vec<SpecSource>,
) -> Option<TroubleshootSpec> {
    if reference.trim().is_empty() {
        c.error(at, "empty spec path", None);
        return None;
    }
    if reference.contains("://")
        || reference.starts_with("secret/")
        || reference.starts_with("configmap/")
    {
        c.error(
            at,
            format!(
                "`{reference}` is not a local file; only spec files on this host are supported"
            ),
            Some("download the spec next to the job file and reference it by path".into()),
        );
        return None;
    }
    let path: PathBuf = base.join(reference);
    let loaded = c.cache.specs.load_with_values(&path, &c.policy, &c.values);
    if c.values.given && !loaded.v1beta3 && role != SpecRole::Redact {
        values::not_v1beta3(c, at, reference);
    }
    let mut whole_file_errors = 0;
    let mut located_errors = 0;
    for d in &loaded.diagnostics {
        if d.line == 0 && d.is_error() {
            // A missing or unreadable file is the job's problem: point at the reference.
            let hint = d.hint.clone();
            c.error(
                at,
                format!("spec `{reference}` ({}): {}", path.display(), d.message),
                hint,
            );
            whole_file_errors += 1;
        } else {
            if d.is_error() {
                located_errors += 1;
            }
            c.out.push(d.clone());
        }
    }
    // Errors inside the spec file point there; one more at the reference tells the reader of the
    // job file why the job fails. A whole-file error is already reported at the reference.
    if located_errors > 0 {
        c.error(
            at,
            format!(
                "spec `{reference}` has {located_errors} error{}; this job cannot run until they are fixed",
                if located_errors == 1 { "" } else { "s" }
            ),
            None,
        );
    }
    if whole_file_errors + located_errors > 0 {
        return None;
    }
    sources.push(SpecSource {
        path,
        sha256: hex(&loaded.sha256),
        role,
        rendered_sha256: loaded.rendered_sha256.as_ref().map(|h| hex(h)),
        rendered: loaded.rendered.clone(),
    });
    Some(loaded.spec.clone())
}

/// What the job collects from, and what the engine cannot do with it.
fn check_sources(c: &mut Checker<'_>, collect: &Collect) {
    if collect.cluster_specs.is_some()
        && collect.engine == crate::jobs::model::Engine::SupportBundle
    {
        c.error(
            &["spec", "collect", "clusterSpecs"],
            "`clusterSpecs` is not supported with `engine: support-bundle` yet",
            Some("use `engine: builtin`, or pass the specs to the job as files".into()),
        );
    }
    if collect.follow_spec_uri && collect.engine == crate::jobs::model::Engine::SupportBundle {
        // The CLI would run a fetched spec's host collectors as root; the builtin engine drops them.
        c.error(
            &["spec", "collect", "followSpecURI"],
            "`followSpecURI: true` is not supported with `engine: support-bundle`: the CLI would run the host collectors of a spec fetched from a URL as root",
            Some("use `engine: builtin`, or remove `followSpecURI` (the CLI then runs with `--no-uri`)".into()),
        );
    }
    if collect.specs.is_empty()
        && collect.support_bundle.is_none()
        && !collect.auto_discovery
        && collect.cluster_specs.is_none()
    {
        c.error(
            &["spec", "collect"],
            "nothing to collect",
            Some("set `collect.specs` (troubleshoot spec files), an inline `collect.supportBundle`, `collect.clusterSpecs`, or `collect.autoDiscovery: true`".into()),
        );
    }
}

/// A redactor that cannot compile would stop every run before archiving: refused here.
fn check_redactor_rules(c: &mut Checker<'_>, merged: &TroubleshootSpec) {
    for rule in &merged.redactors {
        for problem in crate::redact::check_rule(rule) {
            // For the source line only; read as the spec was (never blocking on a FIFO).
            let text = crate::trust::read(
                &rule.file,
                spec::MAX_SPEC_BYTES,
                &c.policy.lenient(),
                &mut crate::trust::Walk::default(),
            )
            .ok()
            .and_then(|r| String::from_utf8(r.bytes).ok())
            .unwrap_or_default();
            c.out.push(
                Diagnostic::error(
                    &rule.file,
                    rule.loc,
                    format!("redactor `{}`: {problem}", rule.name),
                )
                .with_hint(
                    "fix the pattern; Go (RE2) syntax is accepted, with ASCII \\w \\d \\s \\b",
                )
                .with_source(&text),
            );
        }
    }
}
