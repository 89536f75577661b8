//! troubleshoot v0.133.0's own `analyze` output on bundles planted by hand
//! (`tests/data/analyze/cluster2/`, see its PROVENANCE.md): ours gives the same elements in the
//! same order.

use super::super::{DirView, analysis_values, analyze};
use crate::spec::parse_spec_text;
use chrono::Utc;
use std::path::Path;

fn check(case: &str) {
    check_as(case, false);
}

/// `unordered`: compare the elements as a set (troubleshoot's order is random for the case).
fn check_as(case: &str, unordered: bool) {
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
    let mut ours = analysis_values(&a.results);
    let mut expected = expected.as_array().expect("an array").clone();
    if unordered {
        let key = |v: &serde_json::Value| v.to_string();
        ours.sort_by_key(key);
        expected.sort_by_key(key);
    }
    assert_eq!(ours, expected, "{case}");
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

#[test]
fn goldpinger_agrees_with_troubleshoot() {
    check_as("goldpinger", true);
}

#[test]
fn certificates_agree_with_troubleshoot() {
    check("certificates");
}

#[test]
fn container_statuses_agree_with_troubleshoot() {
    check("containers");
}

#[test]
fn cluster_resource_agrees_with_troubleshoot() {
    check("resource");
}

#[test]
fn sysctl_agrees_with_troubleshoot() {
    check("sysctl");
}

#[test]
fn node_metrics_agree_with_troubleshoot() {
    check("nodemetrics");
}

#[test]
fn ceph_status_agrees_with_troubleshoot() {
    check("ceph");
}

#[test]
fn weave_report_agrees_with_troubleshoot() {
    check("weave");
}

#[test]
fn velero_agrees_with_troubleshoot() {
    check("velero");
}

/// troubleshoot reads the Longhorn objects in Go map order (random); ours in path order.
#[test]
fn longhorn_agrees_with_troubleshoot() {
    check_as("longhorn", true);
}

/// clusterResource's `regex` runs over the value as yaml.v2 writes it: quoting, numbers, blocks.
#[test]
fn cluster_resource_writes_values_as_troubleshoot_does() {
    check("resource-yaml");
}
