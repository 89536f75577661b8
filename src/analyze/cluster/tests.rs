//! Table tests of the in-cluster analyzers on troubleshoot's own cluster-resources fixtures
//! (`../shared/compat/cluster-resources`) and on small hand-made files.

use super::super::Severity;
use super::super::tests::{run, summary};
use std::path::Path;

fn fixture(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/compat/cluster-resources")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fail(title: &str, message: &str) -> (Option<Severity>, String, String) {
    (Some(Severity::Fail), title.into(), message.into())
}

#[test]
fn deployment_status_by_name_by_namespace_and_absent() {
    let deployments = fixture("deployments/default.json");
    let files = [(
        "cluster-resources/deployments/default.json",
        deployments.as_str(),
    )];
    let outcomes = "    outcomes:\n      - fail: {when: \"< 1\", message: none}\n      - warn: {when: \"= 1\", message: one}\n      - pass: {message: many}\n";
    let yaml = |name: &str, ns: &str| {
        format!(
            "- deploymentStatus:\n    checkName: ignored\n    name: {name}\n    namespace: {ns}\n{outcomes}"
        )
    };
    // `checkName` does not title these results.
    let a = run(&files, &yaml("kotsadm-api", "default"));
    assert_eq!(
        summary(&a),
        [(
            Some(Severity::Warn),
            "kotsadm-api Status".into(),
            "one".into()
        )]
    );
    let a = run(&files, &yaml("nope", "default"));
    assert_eq!(
        summary(&a),
        [fail("nope Status", "The deployment \"nope\" was not found")]
    );
    // No file for the namespace: no result and no error.
    let a = run(&files, &yaml("kotsadm-api", "elsewhere"));
    assert!(a.results.is_empty() && a.errors.is_empty(), "{a:?}");
    let absent = "- deploymentStatus:\n    name: nope\n    namespace: default\n    outcomes:\n      - pass: {when: absent, message: gone}\n      - fail: {message: present}\n";
    assert_eq!(summary(&run(&files, absent))[0].2, "gone");
    let absent = absent.replace("nope", "kotsadm-api");
    assert_eq!(summary(&run(&files, &absent))[0].2, "present");
    // Without a name: every deployment not fully available fails.
    let a = run(&files, "- deploymentStatus:\n    namespace: default\n");
    assert_eq!(
        summary(&a),
        [fail(
            "default/kotsadm-web Deployment Status",
            "The deployment default/kotsadm-web has 1/2 replicas"
        )]
    );
    let a = run(
        &files,
        "- deploymentStatus:\n    name: kotsadm-api\n    namespace: default\n    outcomes:\n      - fail: {when: \"~ 1\", message: x}\n",
    );
    assert!(a.results.is_empty());
    assert!(
        a.errors[0].message.contains("unknown comparator"),
        "{:?}",
        a.errors
    );
}

#[test]
fn statefulset_and_replicaset_defaults() {
    let sts = fixture("statefulsets/default.json");
    let rs = fixture("replicasets/default.json");
    let files = [
        ("cluster-resources/statefulsets/default.json", sts.as_str()),
        ("cluster-resources/replicasets/default.json", rs.as_str()),
    ];
    let a = run(&files, "- statefulsetStatus: {}\n- replicasetStatus: {}\n");
    // Every result of a default check is a fail naming a namespace/name.
    assert!(!a.results.is_empty());
    for r in &a.results {
        assert_eq!(r.severity, Some(Severity::Fail), "{r:?}");
        assert!(r.title.starts_with("default/"), "{r:?}");
    }
    let a = run(
        &files,
        "- replicasetStatus:\n    name: nope\n    namespace: default\n",
    );
    assert_eq!(
        summary(&a),
        [fail(
            "nope ReplicaSet Status",
            "The replicaset \"nope\" was not found"
        )]
    );
}

#[test]
fn node_resources_functions_filters_and_templates() {
    let nodes = fixture("nodes.json");
    let files = [("cluster-resources/nodes.json", nodes.as_str())];
    let check = |when: &str, filters: &str| {
        let yaml = format!(
            "- nodeResources:\n    {filters}\n    outcomes:\n      - fail: {{when: \"{when}\", message: \"{{{{ .NodeCount }}}} nodes\"}}\n      - pass: {{message: ok}}\n"
        );
        let a = run(&files, &yaml);
        assert!(a.errors.is_empty(), "{when}: {:?}", a.errors);
        (a.results[0].severity, a.results[0].message.clone())
    };
    assert_eq!(
        check("count() < 8", "filters: {}"),
        (Some(Severity::Fail), "7 nodes".into())
    );
    assert_eq!(check("< 7", "filters: {}").0, Some(Severity::Pass));
    assert_eq!(
        check("sum(cpuCapacity) == 24", "filters: {}").0,
        Some(Severity::Fail)
    );
    assert_eq!(
        check("min(memoryCapacity) < 2Gi", "filters: {}").0,
        Some(Severity::Fail)
    );
    assert_eq!(
        check("max(memoryCapacity) > 31Gi", "filters: {}").0,
        Some(Severity::Fail)
    );
    assert_eq!(
        check("countDistinct(kubernetes.io/hostname) == 7", "filters: {}").0,
        Some(Severity::Fail)
    );
    assert_eq!(
        check("nodeCondition(Ready) == True", "filters: {}").0,
        Some(Severity::Fail)
    );
    assert_eq!(
        check("nodeCondition(Ready) == False", "filters: {}").0,
        Some(Severity::Pass)
    );
    // Filters: nodes with at least 8 CPUs; a GPU resource.
    assert_eq!(
        check("count() == 2", "filters: {cpuCapacity: \"8\"}"),
        (Some(Severity::Fail), "2 nodes".into())
    );
    assert_eq!(
        check(
            "count() == 1",
            "filters: {resourceName: nvidia.com/gpu, resourceAllocatable: \"1\"}"
        )
        .0,
        Some(Severity::Fail),
    );
    assert_eq!(
        check(
            "sum(resourceCapacity) == 1",
            "filters: {resourceName: nvidia.com/gpu}"
        )
        .0,
        Some(Severity::Fail)
    );
    assert_eq!(
        check(
            "count() == 1",
            "filters: {selector: {matchLabel: {kubernetes.io/hostname: smallnode-3i74t}}}"
        )
        .0,
        Some(Severity::Fail)
    );
}

#[test]
fn node_resources_missing_file_warns_unless_ignored_and_bad_when_is_an_error() {
    let yaml = "- nodeResources:\n    checkName: Nodes\n    outcomes:\n      - fail: {when: \"count() < 1\", message: x}\n";
    let a = run(&[], yaml);
    assert_eq!(
        summary(&a),
        [(
            Some(Severity::Warn),
            "Nodes".into(),
            "No node resources were collected, unable to analyze node resources".into()
        )]
    );
    let a = run(
        &[],
        &yaml.replace("checkName: Nodes", "ignoreIfNoFiles: true"),
    );
    assert!(a.results.is_empty() && a.errors.is_empty());
    let nodes = fixture("nodes.json");
    let files = [("cluster-resources/nodes.json", nodes.as_str())];
    for bad in [
        "avg(cpuCapacity) < 1",
        "count() < 1Gi",
        "min(resourceCapacity) < 1",
        "count() != 1",
    ] {
        let a = run(&files, &yaml.replace("count() < 1", bad));
        assert!(a.results.is_empty(), "{bad}");
        assert!(a.errors[0].message.contains(bad), "{bad}: {:?}", a.errors);
    }
}

#[test]
fn text_analyze_regex_gives_one_result_per_file_and_the_last_match_stands() {
    let files = [
        ("logs/a.log", "all good\n"),
        ("logs/b.log", "ERROR: disk full\n"),
        ("logs/sub/c.log", "ERROR nested, not matched by the glob\n"),
    ];
    let yaml = "- textAnalyze:\n    checkName: Errors\n    collectorName: logs\n    fileName: \"*.log\"\n    regex: ERROR\n    outcomes:\n      - pass: {when: \"false\", message: clean}\n      - fail: {when: \"true\", message: errors}\n      - warn: {when: \"true\", message: later warn}\n";
    let a = run(&files, yaml);
    assert_eq!(
        summary(&a),
        [
            (Some(Severity::Pass), "Errors".into(), "clean".into()),
            // fail and warn both matched: the fail stands, with the last message.
            (Some(Severity::Fail), "Errors".into(), "later warn".into()),
        ]
    );
    // Defaults: fail when not matched, pass when matched.
    let a = run(
        &files,
        "- textAnalyze:\n    collectorName: logs\n    fileName: a.log\n    regex: good\n    outcomes:\n      - fail: {message: bad}\n      - pass: {message: fine}\n",
    );
    assert_eq!(
        summary(&a),
        [(Some(Severity::Pass), "logs".into(), "fine".into())]
    );
    let a = run(
        &files,
        "- textAnalyze:\n    collectorName: none\n    fileName: x\n    regex: y\n",
    );
    assert_eq!(
        summary(&a),
        [(
            Some(Severity::Warn),
            "none".into(),
            "No matching files".into()
        )]
    );
    let a = run(
        &files,
        "- textAnalyze:\n    collectorName: none\n    fileName: x\n    regex: y\n    ignoreIfNoFiles: true\n",
    );
    assert!(a.results.is_empty());
    let a = run(
        &files,
        "- textAnalyze:\n    collectorName: logs\n    fileName: a.log\n",
    );
    assert_eq!(
        summary(&a),
        [(
            Some(Severity::Fail),
            "logs".into(),
            "Invalid analyzer".into()
        )]
    );
    let a = run(
        &files,
        "- textAnalyze:\n    collectorName: logs\n    fileName: a.log\n    regex: \"(\"\n",
    );
    assert!(a.results.is_empty() && a.errors[0].message.contains("failed to compile regex"));
    let a = run(
        &files,
        "- textAnalyze:\n    collectorName: logs\n    fileName: \"*.log\"\n    excludeFiles: [b.log]\n    regex: ERROR\n    outcomes:\n      - fail: {when: \"true\", message: bad}\n      - pass: {when: \"false\", message: ok}\n",
    );
    assert_eq!(summary(&a).len(), 1);
}

#[test]
fn text_analyze_regex_groups_compare_numbers_and_render_messages() {
    let files = [("ping/out.txt", "transmitted 10, received 7, latency 40ms\n")];
    let yaml = "- textAnalyze:\n    checkName: Ping\n    collectorName: ping\n    fileName: out.txt\n    regexGroups: 'received (?P<Received>\\d+), latency (?P<Latency>\\w+)'\n    outcomes:\n      - fail: {when: \"Received < 5\", message: lost}\n      - warn: {when: \"Received < 10\", message: \"only {{ .Received }} ({{ .Latency }}, {{ .Nope }})\"}\n      - pass: {message: ok}\n";
    let a = run(&files, yaml);
    assert_eq!(
        summary(&a),
        [(
            Some(Severity::Warn),
            "Ping".into(),
            "only 7 (40ms, <no value>)".into()
        )]
    );
    let a = run(&files, &yaml.replace("Received < 5", "Latency == 40ms"));
    assert_eq!(summary(&a)[0].2, "lost");
    let a = run(&files, &yaml.replace("Received < 5", "Latency > fast"));
    assert!(a.results.is_empty());
    assert!(a.errors[0].message.contains("compared with `==` only"));
}
