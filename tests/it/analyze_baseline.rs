//! troubleshoot's own baseline bundle (`compat/bundles/baseline-v0.12x.tar.gz`, a one-node k3s
//! v1.31 cluster) judged by every spec of the compatibility corpus that has in-cluster analyzers
//! (`specs/troubleshoot-specs/in-cluster/check-pod-limits.yaml` is a `Preflight`, which
//! `support-bundle analyze` refuses too). Every title, severity and message equals what
//! troubleshoot v0.133.0 gives on the same bundle and spec (recorded in
//! `tests/data/analyze/baseline/`, see PROVENANCE.md), and these were also checked by hand against
//! the bundle's files:
//! - default.yaml: "Check installed EKCO version for critical fixes" warns "No matching files"
//!   (a k3s bundle has no EKCO files); "Node status check" passes (one node, Ready); "Etcdserver
//!   Database Size Exceeded" gives no result, as its `fileName: "*"` reaches the bundle root's
//!   directories, whose read fails in troubleshoot, and an in-cluster analyzer's error drops it.
//! - sample-supportbundle.yaml: "Must have at least 3 nodes in the cluster" fails (one node);
//!   "api status" fails "The deployment \"api\" was not found" (the `default` namespace has no
//!   deployments); "Total CPU Cores in the cluster is 4 or greater" passes (the node has 4).
//! - e2e.yaml: "Kubernetes Distribution" passes as K3S; "Must be exactly 1 node in the cluster"
//!   passes.

use crate::support;

use std::path::Path;
use support::{agent, compat_dir, stderr, stdout};

/// (spec under compat/specs, recorded troubleshoot output, our exit code).
const CASES: &[(&str, &str, i32)] = &[
    (
        "troubleshoot-specs/in-cluster/default.yaml",
        "troubleshoot-specs_in-cluster_default.json",
        4,
    ),
    (
        "examples/support-bundle/sample-analyzers.yaml",
        "examples_support-bundle_sample-analyzers.json",
        3,
    ),
    (
        "examples/support-bundle/e2e.yaml",
        "examples_support-bundle_e2e.json",
        4,
    ),
    (
        "examples/support-bundle/sample-supportbundle.yaml",
        "examples_support-bundle_sample-supportbundle.json",
        3,
    ),
    (
        "examples/support-bundle/weave-analyzer.yaml",
        "examples_support-bundle_weave-analyzer.json",
        0,
    ),
];

/// (severity, title, message), sorted: troubleshoot's CLI output (`IsFail`/`IsWarn`, `Title`,
/// `Message`).
fn theirs(text: &str) -> Vec<(String, String, String)> {
    let v: serde_json::Value = serde_json::from_str(text).expect("troubleshoot's JSON");
    let mut out: Vec<_> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            let sev = if e["IsFail"] == true {
                "fail"
            } else if e["IsWarn"] == true {
                "warn"
            } else {
                "pass"
            };
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (sev.to_string(), s("Title"), s("Message"))
        })
        .collect();
    out.sort();
    out
}

/// The same from our `analyze -o json` (analysis.json elements).
fn ours(text: &str) -> Vec<(String, String, String)> {
    let v: serde_json::Value = serde_json::from_str(text).expect("our JSON");
    let mut out: Vec<_> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            let sev = match e["severity"].as_str() {
                Some("error") => "fail",
                Some("warn") => "warn",
                Some("debug") => "pass",
                other => panic!("unexpected severity {other:?} in {e}"),
            };
            let s = |k: &str| e["insight"][k].as_str().unwrap_or_default().to_string();
            (sev.to_string(), s("primary"), s("detail"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_baseline_bundle_judged_by_the_corpus_specs_matches_troubleshoot() {
    let bundle = compat_dir().join("bundles/baseline-v0.12x.tar.gz");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/analyze/baseline");
    let state = tempfile::tempdir().expect("tempdir");
    for (spec, recorded, code) in CASES {
        let out = agent(&state.path().join("s"))
            .arg("analyze")
            .arg(&bundle)
            .arg("--spec")
            .arg(compat_dir().join("specs").join(spec))
            .args(["-o", "json"])
            .output()
            .expect("analyze runs");
        assert_eq!(out.status.code(), Some(*code), "{spec}: {}", stderr(&out));
        let expected = std::fs::read_to_string(data.join(recorded)).expect("recorded output");
        assert_eq!(ours(&stdout(&out)), theirs(&expected), "{spec}");
    }
}
