//! Table tests of the analyzers over small staged bundles.

use super::*;
use crate::spec::parse_spec_text;
use std::path::Path;

/// A staged bundle with `files` (path, content) and a `version.yaml`.
pub(crate) fn bundle(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("version.yaml"), "kind: SupportBundle\n").expect("write");
    for (path, text) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, text).expect("write");
    }
    dir
}

/// The spec of an `analyzers:` YAML list.
pub(crate) fn spec(analyzers_yaml: &str) -> TroubleshootSpec {
    let text = format!(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {{name: t}}\nspec:\n  analyzers:\n{}",
        analyzers_yaml
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    );
    let file = parse_spec_text(Path::new("t.yaml"), &text);
    assert!(!file.has_errors(), "{:?}", file.diagnostics);
    file.spec
}

pub(crate) fn run(files: &[(&str, &str)], analyzers_yaml: &str) -> Analysis {
    let dir = bundle(files);
    analyze(&DirView::new(dir.path()), &spec(analyzers_yaml), Utc::now())
}

/// [`run`] with one more analyzer, of a type this build does not know (every type `validate`
/// accepts is implemented; a newer troubleshoot's type reaches the engine from a bundle's spec).
fn run_with_unknown(files: &[(&str, &str)], analyzers_yaml: &str) -> Analysis {
    let dir = bundle(files);
    let mut spec = spec(analyzers_yaml);
    let mut extra = spec.analyzers[0].clone();
    extra.kind = "newerAnalyzer".into();
    extra.body = serde_json::json!({});
    spec.analyzers.push(extra);
    analyze(&DirView::new(dir.path()), &spec, Utc::now())
}

/// `(severity, title, message)` of each result.
pub(crate) fn summary(a: &Analysis) -> Vec<(Option<Severity>, String, String)> {
    a.results
        .iter()
        .map(|r| (r.severity, r.title.clone(), r.message.clone()))
        .collect()
}

const VERSION_124: &str = r#"{"info": {"major": "1"}, "string": "v1.24.4+k3s1"}"#;

const VERSION_OUTCOMES: &str = r#"
    outcomes:
      - fail: {when: "< 1.16.0", message: too old}
      - warn: {when: "< 1.25.0", message: old}
      - pass: {message: good}
"#;

#[test]
fn cluster_version_first_match_wins_and_else_passes() {
    let files = [("cluster-info/cluster_version.json", VERSION_124)];
    let a = run(&files, &format!("- clusterVersion:{VERSION_OUTCOMES}"));
    assert_eq!(
        summary(&a),
        [(
            Some(Severity::Warn),
            "Required Kubernetes Version".to_string(),
            "old".to_string()
        )]
    );
    let newer = [(
        "cluster-info/cluster_version.json",
        r#"{"string": "v1.31.0"}"#,
    )];
    let a = run(
        &newer,
        &format!("- clusterVersion:\n    checkName: K8s{VERSION_OUTCOMES}"),
    );
    assert_eq!(summary(&a)[0].0, Some(Severity::Pass));
    assert_eq!(summary(&a)[0].1, "K8s");
    // EKS pre-release versions compare as their release.
    let eks = [(
        "cluster-info/cluster_version.json",
        r#"{"string": "v1.15.11-eks-af3caf"}"#,
    )];
    let a = run(&eks, &format!("- clusterVersion:{VERSION_OUTCOMES}"));
    assert_eq!(summary(&a)[0].0, Some(Severity::Fail));
}

#[test]
fn cluster_version_without_a_match_gives_an_empty_result() {
    let files = [("cluster-info/cluster_version.json", VERSION_124)];
    let a = run(
        &files,
        "- clusterVersion:\n    outcomes:\n      - fail: {when: \"< 1.0.0\", message: x}\n",
    );
    assert_eq!(a.results, [AnalyzeResult::default()]);
    assert_eq!(
        analysis_json(&a.results),
        "[\n    {\n        \"labels\": {\n            \"desiredPosition\": \"1\",\n            \"iconKey\": \"\",\n            \"iconUri\": \"\"\n        },\n        \"insight\": {\n            \"labels\": {\n                \"iconKey\": \"\",\n                \"iconUri\": \"\"\n            },\n            \"primary\": \"\",\n            \"detail\": \"\"\n        },\n        \"severity\": \"\",\n        \"analyzerSpec\": \"\"\n    }\n]"
    );
}

#[test]
fn in_cluster_errors_are_dropped_and_listed() {
    // Missing file, malformed file, bad `when`: no result, one error each.
    let a = run(&[], &format!("- clusterVersion:{VERSION_OUTCOMES}"));
    assert!(a.results.is_empty());
    assert_eq!(a.errors.len(), 1);
    assert!(
        a.errors[0]
            .message
            .contains("cluster-info/cluster_version.json: file not found"),
        "{:?}",
        a.errors
    );
    let bad = [("cluster-info/cluster_version.json", "{not json")];
    let a = run(&bad, &format!("- clusterVersion:{VERSION_OUTCOMES}"));
    assert!(a.results.is_empty());
    assert!(
        a.errors[0]
            .message
            .starts_with("cluster-info/cluster_version.json: ")
    );
    let files = [("cluster-info/cluster_version.json", VERSION_124)];
    let a = run(
        &files,
        "- clusterVersion:\n    outcomes:\n      - fail: {when: \"~> 1.2\", message: x}\n",
    );
    assert!(a.results.is_empty());
    assert!(
        a.errors[0].message.contains("when \"~> 1.2\""),
        "{:?}",
        a.errors
    );
    assert_eq!(a.record()["error"], 1);
}

#[test]
fn exclude_strict_and_unsupported_kinds() {
    let files = [("cluster-info/cluster_version.json", VERSION_124)];
    let a = run_with_unknown(
        &files,
        &format!(
            "- clusterVersion:\n    exclude: \"true\"{VERSION_OUTCOMES}- clusterVersion:\n    strict: true{VERSION_OUTCOMES}"
        ),
    );
    assert_eq!(a.excluded, 1);
    assert_eq!(a.results.len(), 1);
    assert!(a.results[0].strict);
    assert_eq!(a.unsupported, ["analyzers.newerAnalyzer"]);
    // summary.txt's Analyzers section: one line per analyzer, `X` for what did not run.
    let marks: Vec<(&str, char)> = a
        .timings
        .iter()
        .map(|t| (t.name.as_str(), t.status.marker()))
        .collect();
    assert_eq!(
        marks,
        [
            ("clusterVersion", 'X'),
            ("Required Kubernetes Version", 'S'),
            ("newerAnalyzer", 'X')
        ]
    );
    // `validate` refuses `exclude: maybe`; a spec that reaches the engine anyway (a bundle's
    // own spec) drops the analyzer with an error.
    let mut bad = spec(&format!("- clusterVersion:{VERSION_OUTCOMES}"));
    bad.analyzers[0].body["exclude"] = "maybe".into();
    let dir = bundle(&files);
    let a = analyze(&DirView::new(dir.path()), &bad, Utc::now());
    assert!(a.results.is_empty());
    assert!(
        a.errors[0].message.contains("exclude: maybe"),
        "{:?}",
        a.errors
    );
    assert_eq!(a.timings[0].status.marker(), 'F');
}

const CRDS: &str = r#"{"kind": "CustomResourceDefinitionList", "items": [{"metadata": {"name": "backups.velero.io"}}]}"#;

#[test]
fn presence_analyzers_take_the_last_pass_or_fail_message() {
    let files = [("cluster-resources/custom-resource-definitions.json", CRDS)];
    let yaml = "- customResourceDefinition:\n    customResourceDefinitionName: NAME\n    outcomes:\n      - fail: {message: f1}\n      - fail: {message: f2}\n      - pass: {message: p1}\n      - pass: {message: p2}\n";
    let a = run(&files, &yaml.replace("NAME", "backups.velero.io"));
    assert_eq!(
        summary(&a),
        [(
            Some(Severity::Pass),
            "Custom resource definition backups.velero.io".to_string(),
            "p2".to_string()
        )]
    );
    let a = run(&files, &yaml.replace("NAME", "rook"));
    assert_eq!(summary(&a)[0].0, Some(Severity::Fail));
    assert_eq!(summary(&a)[0].2, "f2");
    // Only a warn outcome: a missing CRD warns.
    let a = run(
        &files,
        "- customResourceDefinition:\n    customResourceDefinitionName: rook\n    outcomes:\n      - warn: {message: w}\n",
    );
    assert_eq!(summary(&a)[0].0, Some(Severity::Warn));
}

#[test]
fn storage_class_finds_by_name_or_the_default_annotation() {
    let classes = r#"{"items": [{"metadata": {"name": "local-path", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}}]}"#;
    let files = [("cluster-resources/storage-classes.json", classes)];
    let a = run(&files, "- storageClass: {}\n");
    assert_eq!(
        summary(&a),
        [(
            Some(Severity::Pass),
            "Default Storage Class".to_string(),
            "Default Storage Class found".to_string()
        )]
    );
    let a = run(
        &files,
        "- storageClass:\n    storageClassName: fast\n    outcomes:\n      - fail: {message: no fast}\n      - pass: {message: ok}\n",
    );
    assert_eq!(
        summary(&a),
        [(
            Some(Severity::Fail),
            "Storage class fast".to_string(),
            "no fast".to_string()
        )]
    );
    let none = [(
        "cluster-resources/storage-classes.json",
        r#"{"items": null}"#,
    )];
    let a = run(&none, "- storageClass: {}\n");
    assert_eq!(summary(&a)[0].2, "No Default Storage Class found");
}

#[test]
fn ingress_reads_its_namespace_file() {
    let files = [(
        "cluster-resources/ingress/web.json",
        r#"{"items": [{"metadata": {"name": "front"}}]}"#,
    )];
    let yaml = "- ingress:\n    namespace: web\n    ingressName: NAME\n    outcomes:\n      - fail: {message: missing}\n      - pass: {message: here}\n";
    let a = run(&files, &yaml.replace("NAME", "front"));
    assert_eq!(
        summary(&a)[0],
        (Some(Severity::Pass), "Ingress front".into(), "here".into())
    );
    let a = run(&files, &yaml.replace("NAME", "back"));
    assert_eq!(summary(&a)[0].0, Some(Severity::Fail));
    let a = run(&files, &yaml.replace("web", "other"));
    assert!(a.results.is_empty() && a.errors.len() == 1);
}

#[test]
fn container_runtime_compares_the_url_scheme() {
    let nodes = r#"{"items": [{"status": {"nodeInfo": {"containerRuntimeVersion": "containerd://1.6.6-k3s1"}}}]}"#;
    let files = [("cluster-resources/nodes.json", nodes)];
    let yaml = "- containerRuntime:\n    outcomes:\n      - fail: {when: \"== RUNTIME\", message: unsupported}\n      - pass: {message: fine}\n";
    let a = run(&files, &yaml.replace("RUNTIME", "docker"));
    assert_eq!(
        summary(&a)[0],
        (
            Some(Severity::Pass),
            "Container Runtime".into(),
            "fine".into()
        )
    );
    let a = run(&files, &yaml.replace("RUNTIME", "containerd"));
    assert_eq!(summary(&a)[0].0, Some(Severity::Fail));
    let a = run(&files, &yaml.replace("== RUNTIME", "docker"));
    assert!(a.results.is_empty());
    assert!(a.errors[0].message.contains("expected `== <runtime>`"));
}

#[test]
fn the_run_record_lists_fail_and_warn_titles_with_messages() {
    let files = [("cluster-info/cluster_version.json", VERSION_124)];
    let a = run_with_unknown(
        &files,
        &format!(
            "- clusterVersion:{VERSION_OUTCOMES}- clusterVersion:\n    checkName: Strict{VERSION_OUTCOMES}"
        ),
    );
    let record = a.record();
    assert_eq!(record["warn"], 2);
    assert_eq!(record["pass"], 0);
    assert_eq!(record["warnings"][1]["title"], "Strict");
    assert_eq!(record["warnings"][1]["message"], "old");
    assert_eq!(record["unsupported"][0], "analyzers.newerAnalyzer");
}

/// The legacy bundle, re-analyzed with the analyzers of the spec that made it, gives its
/// `analysis.json` byte for byte. Analyzer types covered: clusterVersion,
/// customResourceDefinition, containerRuntime, storageClass, nodeResources (count, sum, min),
/// ingress, deploymentStatus (absent object), textAnalyze (regex).
#[test]
fn the_legacy_bundle_reproduces_its_analysis_json() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bundle = root.join("../shared/compat/bundles/legacy-v0.50.tar.gz");
    let view = TarView::open(&bundle).expect("open the legacy bundle");
    let spec_path = root.join("tests/data/analyze/legacy-v0.50-spec.yaml");
    let text = std::fs::read_to_string(&spec_path).expect("spec");
    let file = parse_spec_text(&spec_path, &text);
    let a = analyze(&view, &file.spec, Utc::now());
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    assert!(a.unsupported.is_empty(), "{:?}", a.unsupported);
    let expected =
        String::from_utf8(view.read("analysis.json").expect("analysis.json")).expect("utf8");
    assert_eq!(a.to_json(), expected);
}

/// `supports` (what `validate` promises) and the dispatchers (what the phase runs) name the same
/// analyzer types, for every key troubleshoot defines.
#[test]
fn supported_types_are_exactly_the_dispatched_ones() {
    let dir = bundle(&[]);
    let view = DirView::new(dir.path());
    let ctx = Ctx::new(&view, Utc::now());
    let meta = Meta::of(&serde_json::json!({})).expect("meta");
    let body = serde_json::json!({});
    for (host, keys) in [
        (false, crate::spec::ANALYZER_KEYS),
        (true, crate::spec::HOST_ANALYZER_KEYS),
    ] {
        for kind in keys {
            let dispatched = if host {
                host::run(&ctx, kind, &body, &meta).is_some()
            } else {
                cluster::run(&ctx, kind, &body, &meta).is_some()
            };
            assert_eq!(supports(host, kind), dispatched, "host={host} {kind}");
        }
    }
    assert!(!supports(false, "noSuchAnalyzer") && !supports(true, "noSuchAnalyzer"));
}
