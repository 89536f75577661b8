//! Every real spec shipped in the compatibility corpus must parse without errors.

use std::path::{Path, PathBuf};
use troubleshoot_agent::collect::capabilities::unsupported_warnings;
use troubleshoot_agent::spec::{Section, SpecFile, load_spec_file};

fn specs_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/compat/specs");
    assert!(
        dir.is_dir(),
        "compat spec corpus missing at {} (expected /work/shared/compat/specs beside the crate)",
        dir.display()
    );
    dir
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read spec dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn load(rel: &str) -> SpecFile {
    let file = load_spec_file(&specs_dir().join(rel));
    let errors: Vec<String> = file
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    assert!(errors.is_empty(), "{rel}:\n{}", errors.join("\n"));
    file
}

fn count(file: &SpecFile, section: Section, kind: &str) -> usize {
    file.spec
        .section(section)
        .iter()
        .filter(|e| e.kind == kind)
        .count()
}

#[test]
fn every_shipped_spec_parses_without_errors() {
    let mut files = Vec::new();
    yaml_files(&specs_dir(), &mut files);
    assert!(files.len() >= 40, "only {} spec files found", files.len());
    let mut failures = Vec::new();
    let (mut warnings, mut unsupported) = (0, Vec::new());
    for path in &files {
        let file = load_spec_file(path);
        for d in &file.diagnostics {
            if d.is_error() {
                failures.push(d.to_string());
            } else {
                warnings += 1;
            }
        }
        for w in unsupported_warnings(&file.spec) {
            unsupported.push(format!("{}: {}", path.display(), w.message));
        }
    }
    println!(
        "checked {} spec files: {warnings} parse warnings",
        files.len()
    );
    // Issue 20: every collector and analyzer type the corpus uses runs in the builtin engine.
    assert!(
        unsupported.is_empty(),
        "types the builtin engine does not run:\n{}",
        unsupported.join("\n")
    );
    assert!(
        failures.is_empty(),
        "errors in shipped specs:\n{}",
        failures.join("\n")
    );
}

#[test]
fn host_default_counts_match_the_corpus_readme() {
    let file = load("troubleshoot-specs/host/default.yaml");
    assert_eq!(count(&file, Section::HostCollectors, "run"), 88);
    // The README's "16 http, 16 diskUsage" counts both lists: the file has 8 collectors and 8
    // analyzers of each (checked by hand against the file).
    assert_eq!(count(&file, Section::HostCollectors, "http"), 8);
    assert_eq!(count(&file, Section::HostCollectors, "diskUsage"), 8);
    assert_eq!(count(&file, Section::HostAnalyzers, "http"), 8);
    assert_eq!(count(&file, Section::HostAnalyzers, "diskUsage"), 8);
    assert_eq!(file.spec.host_collectors.len(), 121);
    assert_eq!(file.spec.host_analyzers.len(), 22);
    // `systemPackages` under `analyzers` is a host analyzer in the wrong list: warned, not kept.
    assert_eq!(file.spec.analyzers.len(), 8);
    assert!(file.diagnostics.iter().any(|d| {
        !d.is_error()
            && d.message
                .starts_with("`systemPackages` is a host analyzer type")
    }));

    // Every host collector type of this file is builtin, so none is warned about.
    let warnings = unsupported_warnings(&file.spec);
    assert!(
        !warnings
            .iter()
            .any(|d| d.message.starts_with("hostCollectors:")),
        "{warnings:?}"
    );

    // all-collectors.yaml uses every host type; all are builtin now.
    let all = load("examples/collect/host/all-collectors.yaml");
    let warnings = unsupported_warnings(&all.spec);
    assert!(
        !warnings
            .iter()
            .any(|d| d.message.starts_with("hostCollectors:")),
        "{warnings:?}"
    );
}

#[test]
fn redactor_and_standalone_kinds_are_read() {
    let redact = load("examples/redact/e2e.yaml");
    assert_eq!(redact.spec.redactors.len(), 1);
    assert_eq!(redact.spec.redactors[0].name, "redact-static-text");
    assert_eq!(redact.spec.redactors[0].removals.values, ["static"]);

    let host = load("examples/collect/host/cpu.yaml");
    assert_eq!(count(&host, Section::HostCollectors, "cpu"), 1);
    assert!(host.spec.collectors.is_empty());

    let v1beta3 = load("examples/support-bundle/v1beta3/multiple-databases.yaml");
    assert_eq!(v1beta3.spec.collectors.len(), 5);
}

/// Unknown fields in the corpus warn with a location and the nearest field troubleshoot knows.
/// The shipped specs write `operationSizeBytes`, which troubleshoot v0.133 ignores (its field
/// is `operationSize`): found by the field table, and kept here as the recorded fact.
#[test]
fn corpus_unknown_fields_are_located_warnings_with_a_suggestion() {
    let mut files = Vec::new();
    yaml_files(&specs_dir(), &mut files);
    let mut unknown = 0;
    for path in &files {
        for d in load_spec_file(path).diagnostics {
            if d.message.starts_with("unknown field `") && d.message.contains("` in `") {
                unknown += 1;
                assert!(!d.is_error(), "{d}");
                assert!(d.line > 0 && d.column > 0, "{d}");
                assert!(d.hint.is_some(), "{d}");
            }
        }
    }
    assert!(unknown > 0, "the corpus has known unknown fields");
    let all = load("examples/collect/host/all-collectors.yaml");
    let d = all
        .diagnostics
        .iter()
        .find(|d| d.message.contains("`operationSizeBytes`"))
        .expect("the operationSizeBytes warning");
    assert_eq!(
        d.message,
        "unknown field `operationSizeBytes` in `filesystemPerformance` is ignored (as troubleshoot ignores it)"
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `operationSize`?"));
    assert_eq!(d.line, 47);
}
