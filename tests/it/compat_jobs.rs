//! Every troubleshoot spec in the compat corpus, referenced from a job file, validates with zero
//! errors (types the builtin engine does not run yet are warnings).

use crate::support;

use std::path::{Path, PathBuf};
use support::{JobFile, agent, compat_dir, stdout};

fn spec_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read compat dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            spec_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

#[test]
fn every_compat_spec_validates_as_a_job_reference() {
    let mut specs = Vec::new();
    spec_files(&compat_dir().join("specs"), &mut specs);
    specs.sort();
    assert!(
        specs.len() >= 40,
        "expected the whole corpus, found {} files",
        specs.len()
    );

    let jobs = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    for (i, spec) in specs.iter().enumerate() {
        let reference = spec.to_str().expect("utf-8 path");
        JobFile::new(&format!("compat-{i}"))
            .spec_file(reference)
            .write(jobs.path());
    }

    let output = agent(state.path())
        .args(["--output", "json", "validate"])
        .arg(jobs.path())
        .output()
        .expect("runs");
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("json report");
    let errors = report["errors"].as_array().expect("errors array");
    assert!(
        errors.is_empty(),
        "compat specs produced errors:\n{}",
        serde_json::to_string_pretty(errors).unwrap_or_default()
    );
    assert_eq!(report["valid"], true);
    assert_eq!(report["jobs"].as_array().map(Vec::len), Some(specs.len()));
    assert_eq!(output.status.code(), Some(0));
    let warnings = report["warnings"].as_array().expect("warnings array");
    // Every host collector type is builtin now: none is warned about as not run.
    assert!(
        !warnings.iter().any(|w| w["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("hostCollectors: ")
                && m.contains("not run by the builtin engine"))),
        "{warnings:?}"
    );
}
