//! troubleshoot v0.133.0's own `analyze` output on bundles planted by hand
//! (`tests/data/analyze/cluster2/`, see its PROVENANCE.md): ours gives the same elements in the
//! same order.

use super::super::{DirView, analysis_values, analyze};
use crate::spec::parse_spec_text;
use chrono::Utc;
use std::path::Path;

fn check(case: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/analyze/cluster2")
        .join(case);
    let spec_path = dir.join("spec.yaml");
    let text = std::fs::read_to_string(&spec_path).expect("spec.yaml");
    let file = parse_spec_text(&spec_path, &text);
    assert!(!file.has_errors(), "{:?}", file.diagnostics);
    let a = analyze(&DirView::new(&dir.join("bundle")), &file.spec, Utc::now());
    assert!(a.unsupported.is_empty(), "{:?}", a.unsupported);
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected.json")).expect("expected.json"),
    )
    .expect("expected.json is JSON");
    assert_eq!(
        serde_json::Value::Array(analysis_values(&a.results)),
        expected,
        "{case}"
    );
}

#[test]
fn databases_agree_with_troubleshoot() {
    check("databases");
}

#[test]
fn http_agrees_with_troubleshoot() {
    check("http");
}

#[test]
fn registry_images_agree_with_troubleshoot() {
    check("registry");
}
