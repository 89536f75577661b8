//! Table tests of the last eight in-cluster analyzers (clusterContainerStatuses,
//! clusterResource, sysctl, nodeMetrics, velero, cephStatus, longhorn, weaveReport) on small
//! hand-made files: outcomes, defaults, missing and malformed files, troubleshoot's quirks.

use super::super::tests::{run, summary};
use super::super::{Analysis, Severity};

type Row = (Option<Severity>, String, String);

fn row(severity: Severity, title: &str, message: &str) -> Row {
    (Some(severity), title.into(), message.into())
}

/// The analysis was dropped with one error whose message contains `needle`.
fn dropped(a: &Analysis, needle: &str) {
    assert!(a.results.is_empty(), "{:?}", a.results);
    assert_eq!(a.errors.len(), 1, "{:?}", a.errors);
    assert!(a.errors[0].message.contains(needle), "{:?}", a.errors);
}

const PODS: &str = r#"{"items": [
  {"metadata": {"name": "a", "namespace": "default", "uid": "1"}, "status": {"containerStatuses": [
    {"name": "c1", "restartCount": 0, "state": {"running": {}}},
    {"name": "c2", "restartCount": 2, "ready": true, "state": {"running": {}},
     "lastState": {"terminated": {"reason": "OOMKilled", "message": "oom"}}}]}},
  {"metadata": {"name": "b", "namespace": "default", "uid": "2"}, "status": {"containerStatuses": [
    {"name": "c", "restartCount": 1, "state": {"terminated": {"reason": "Error", "message": "exit 1"}}}]}},
  {"metadata": {"name": "b-again", "namespace": "default", "uid": "2"}, "status": {"containerStatuses": [
    {"name": "c", "restartCount": 1, "state": {"terminated": {"reason": "Error"}}}]}},
  {"metadata": {"name": "none", "namespace": "default", "uid": "3"}, "status": {}}]}"#;

#[test]
fn container_statuses_collect_every_when_and_share_one_message() {
    let files = [("cluster-resources/pods/default.json", PODS)];
    let yaml = "- clusterContainerStatuses:\n    restartCount: 1\n    outcomes:\n      - fail: {when: \"== oomkilled\", message: \"{{ .PodName }}/{{ .ContainerName }}: {{ .Message }} ({{ .RestartCount }}, {{ .Ready }})\"}\n      - warn: {when: \"!= OOMKilled\", message: \"{{ .PodName }} not OOM\"}\n      - pass: {message: fine}\n";
    let a = run(&files, yaml);
    // Pod `a` is judged by c2 (the first with a restart); `b-again` has `b`'s UID.
    assert_eq!(
        summary(&a),
        [
            row(
                Severity::Fail,
                "Cluster Container Status",
                "a/c2: oom (2, true)"
            ),
            row(Severity::Warn, "Cluster Container Status", "b not OOM"),
        ]
    );
    // restartCount 0: pod `a` is judged by c1 (running, no reason): not OOMKilled either.
    let a = run(&files, &yaml.replace("restartCount: 1", "restartCount: 0"));
    assert_eq!(summary(&a).len(), 2);
    assert!(a.results.iter().all(|r| r.message == "a not OOM"), "{a:?}");
    // Nothing matched: the else stands; no else: no result.
    let a = run(
        &files,
        &yaml
            .replace("oomkilled", "Evicted")
            .replace("!= OOMKilled", "== Evicted"),
    );
    assert_eq!(
        summary(&a),
        [row(Severity::Pass, "Cluster Container Status", "fine")]
    );
    let a = run(
        &files,
        "- clusterContainerStatuses:\n    outcomes:\n      - fail: {when: \"== Evicted\", message: x}\n",
    );
    assert!(a.results.is_empty() && a.errors.is_empty());
    // A field the data has not: the fixed text; `namespaces` filters by file.
    let a = run(
        &files,
        "- clusterContainerStatuses:\n    checkName: T\n    namespaces: [default]\n    outcomes:\n      - fail: {when: \"== Error\", message: \"{{ .Status }}\"}\n",
    );
    assert_eq!(
        summary(&a),
        [row(
            Severity::Fail,
            "T",
            "Container matched. Container: c, Namespace: default, Pod: b"
        )]
    );
    let a = run(
        &files,
        "- clusterContainerStatuses:\n    namespaces: [other]\n    outcomes:\n      - fail: {when: \"== Error\", message: x}\n",
    );
    assert!(a.results.is_empty());
    dropped(
        &run(
            &files,
            "- clusterContainerStatuses:\n    outcomes:\n      - fail: {when: \"~ Error\", message: x}\n",
        ),
        "unexpected operator",
    );
    dropped(
        &run(
            &[("cluster-resources/pods/default.json", "{")],
            "- clusterContainerStatuses:\n    outcomes:\n      - fail: {when: \"== Error\"}\n",
        ),
        "cluster-resources/pods/default.json",
    );
}

const DEPLOYMENTS: &str = r#"{"items": [{"metadata": {"name": "web"},
  "spec": {"replicas": 2, "paused": true, "template": {"spec": {"containers": [{"image": "redis:7.2"}]}}},
  "status": {"readyReplicas": 1}}]}"#;

#[test]
fn cluster_resource_compares_values_regexes_and_numbers() {
    let files = [
        ("cluster-resources/deployments/prod.json", DEPLOYMENTS),
        ("cluster-resources/pvcs/default.json", r#"{"items": null}"#),
        (
            "cluster-resources/pvs.json",
            r#"{"items": [{"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "500m"}}}]}"#,
        ),
    ];
    let base = "- clusterResource:\n    checkName: R\n    kind: Deployment\n    namespace: prod\n    name: web\n";
    let check = |rest: &str| summary(&run(&files, &format!("{base}{rest}")));
    assert_eq!(
        check(
            "    yamlPath: spec.paused\n    expectedValue: \"true\"\n    outcomes:\n      - warn: {when: \"true\", message: paused}\n      - pass: {message: running}\n"
        ),
        [row(Severity::Warn, "R", "paused")]
    );
    assert_eq!(
        check(
            "    yamlPath: spec.template.spec.containers.[0].image\n    regex: '^redis:6'\n    outcomes:\n      - fail: {message: not 6}\n      - pass: {message: six}\n"
        ),
        [row(Severity::Fail, "R", "not 6")]
    );
    assert_eq!(
        check(
            "    yamlPath: status.readyReplicas\n    outcomes:\n      - fail: {when: \"< 1\", message: none}\n      - warn: {when: \"< 2\", message: some}\n      - pass: {message: all}\n"
        ),
        [row(Severity::Warn, "R", "some")]
    );
    // No outcome matched: "Invalid analyzer"; a path through a scalar or past a list: invalid.
    assert_eq!(
        check(
            "    yamlPath: spec.replicas\n    outcomes:\n      - fail: {when: \"> 5\", message: many}\n"
        ),
        [row(Severity::Fail, "R", "Invalid analyzer")]
    );
    for path in ["spec.replicas.x", "spec.template.spec.containers.[4]"] {
        assert_eq!(
            check(&format!("    yamlPath: {path}\n")),
            [row(Severity::Fail, "R", "YAML path provided is invalid")],
            "{path}"
        );
    }
    // A missing file, an empty list (troubleshoot crashes on `items: null`), a cluster file.
    let a = run(
        &files,
        "- clusterResource:\n    kind: pvc\n    name: data\n    yamlPath: spec\n",
    );
    assert_eq!(
        summary(&a),
        [row(
            Severity::Fail,
            "",
            "pvc data in namespace  does not exist"
        )]
    );
    let a = run(&files, &base.replace("prod", "staging"));
    assert_eq!(
        summary(&a)[0].2,
        "Deployment web in namespace staging does not exist"
    );
    let a = run(
        &files,
        "- clusterResource:\n    checkName: PV\n    kind: PersistentVolume\n    clusterScoped: true\n    name: pv1\n    yamlPath: spec.capacity.storage\n    outcomes:\n      - pass: {when: \"== 1\", message: one after rounding up}\n",
    );
    assert_eq!(
        summary(&a),
        [row(Severity::Pass, "PV", "one after rounding up")]
    );
    dropped(
        &run(
            &files,
            &format!(
                "{base}    yamlPath: spec.replicas\n    outcomes:\n      - pass: {{when: \"!= 2\", message: x}}\n"
            ),
        ),
        "unknown comparator",
    );
    dropped(
        &run(
            &files,
            &format!("{base}    yamlPath: spec.replicas\n    regex: \"(\"\n"),
        ),
        "failed to compile regex",
    );
}

#[test]
fn sysctl_names_the_nodes_and_needs_numbers_on_every_node() {
    let files = [
        (
            "sysctl/n1",
            "/proc/sys/net/ipv4/ip_forward = 1\n/proc/sys/fs/file-max = 100\n",
        ),
        (
            "sysctl/n2",
            "/proc/sys/net/ipv4/ip_forward = 1\n/proc/sys/fs/file-max = 9000\n",
        ),
    ];
    let yaml = "- sysctl:\n    outcomes:\n      - fail: {when: \"net.ipv4.ip_forward = 0\", message: off}\n      - warn: {when: \"fs.file-max < 1000\", message: low}\n      - pass: {message: ok, uri: \"https://x\"}\n";
    assert_eq!(
        summary(&run(&files, yaml)),
        [row(Severity::Warn, "Sysctl", "Node n1: low")]
    );
    let a = run(&files, &yaml.replace("< 1000", "> 10"));
    assert_eq!(
        summary(&a),
        [row(Severity::Warn, "Sysctl", "Nodes n1, n2: low")]
    );
    let a = run(
        &files,
        &yaml.replace("fs.file-max < 1000", "fs.file-max > 100000"),
    );
    assert_eq!(summary(&a), [row(Severity::Pass, "Sysctl", "ok")]);
    // No collected files: no result and no error.
    let a = run(&[], yaml);
    assert!(a.results.is_empty() && a.errors.is_empty());
    dropped(
        &run(
            &files,
            &yaml.replace("fs.file-max < 1000", "kernel.nope < 1"),
        ),
        "has no integer",
    );
    dropped(
        &run(
            &files,
            &yaml.replace("fs.file-max < 1000", "fs.file-max ~ 1"),
        ),
        "failed to parse when",
    );
    dropped(
        &run(&files, "- sysctl:\n    outcomes:\n      - {}\n"),
        "empty outcome",
    );
}

const SUMMARY: &str = r#"{"pods": [{"podRef": {"name": "p", "namespace": "app"}, "volume": [
  {"usedBytes": 75, "capacityBytes": 100, "pvcRef": {"name": "data", "namespace": "app"}},
  {"usedBytes": 10, "capacityBytes": 100, "pvcRef": {"name": "logs", "namespace": "app"}},
  {"usedBytes": 99, "pvcRef": {"name": "no-capacity", "namespace": "app"}}]}]}"#;

#[test]
fn node_metrics_judge_pvc_usage_with_filters() {
    let files = [("node-metrics/n1.json", SUMMARY)];
    let yaml = "- nodeMetrics:\n    outcomes:\n      - fail: {when: \"pvcUsedPercentage >= 90\", message: full}\n      - warn: {when: \"pvcUsedPercentage >= 50.5\", message: \"filling {{ .PVC.ConcatenatedNames }}\"}\n      - pass: {message: ok}\n";
    assert_eq!(
        summary(&run(&files, yaml)),
        [row(Severity::Warn, "Node Metrics", "filling app/data")]
    );
    let filtered = yaml.replace(
        "- nodeMetrics:\n",
        "- nodeMetrics:\n    filters: {pvc: {nameRegex: \"^l\"}}\n",
    );
    assert_eq!(
        summary(&run(&files, &filtered)),
        [row(Severity::Pass, "Node Metrics", "ok")]
    );
    let other_ns = yaml.replace(
        "- nodeMetrics:\n",
        "- nodeMetrics:\n    filters: {pvc: {namespace: other}}\n",
    );
    assert_eq!(summary(&run(&files, &other_ns))[0].2, "ok");
    // No files: outcomes with a `when` hold for no PVC.
    assert_eq!(summary(&run(&[], yaml))[0].0, Some(Severity::Pass));
    dropped(
        &run(&[("node-metrics/n1.json", "[1]")], yaml),
        "not a kubelet summary",
    );
    dropped(
        &run(
            &files,
            &yaml.replace("pvcUsedPercentage >= 90", "pvcUsedPercentage >= x"),
        ),
        "not a number",
    );
    dropped(&run(&files, &filtered.replace("^l", "(")), "PVC name regex");
}

const VELERO_DEPLOYMENT: &str = r#"{"items": [{"spec": {"template": {"spec": {"containers": [{"name": "velero", "image": "velero/velero:TAG"}]}}}}]}"#;

#[test]
fn velero_checks_its_objects_and_needs_a_versioned_deployment() {
    let deployment = VELERO_DEPLOYMENT.replace("TAG", "v1.13.0");
    let files = [
        (
            "cluster-resources/deployments/velero.json",
            deployment.as_str(),
        ),
        (
            "cluster-resources/custom-resources/backupstoragelocations.velero.io/velero.json",
            r#"[{"metadata": {"name": "default"}, "status": {"phase": "Unavailable"}}]"#,
        ),
        (
            "cluster-resources/custom-resources/schedules.velero.io/velero.json",
            r#"[{"metadata": {"name": "daily"}, "status": {"phase": "FailedValidation"}}]"#,
        ),
        (
            "velero/logs/node-agent-1/agent.log",
            "open /host: permission denied\n",
        ),
    ];
    let a = run(&files, "- velero: {}\n");
    assert_eq!(
        summary(&a),
        [
            row(
                Severity::Fail,
                "At least 1 Backup Repository configured",
                "No backup repositories configured"
            ),
            row(
                Severity::Warn,
                "Velero logs for pod [velero/logs/node-agent-1/agent.log]",
                "Found 'permission denied' in node-agent* pod log file(s)"
            ),
            row(
                Severity::Pass,
                "Velero Logs analysis for kind [node-agent*]",
                "Found 1 log files"
            ),
            row(
                Severity::Warn,
                "Backup Storage Location default",
                "Backup Storage Location [default] is in phase Unavailable"
            ),
            row(
                Severity::Warn,
                "At least 1 Backup Storage Location configured",
                "Found 1 configured backup storage locations, but none are available"
            ),
            row(
                Severity::Fail,
                "Schedule daily",
                "Schedule daily phase is FailedValidation"
            ),
            row(
                Severity::Warn,
                "Velero Status",
                "Velero setup is not entirely healthy"
            ),
        ]
    );
    dropped(&run(&files[1..], "- velero: {}\n"), "velero.json");
    for (tag, why) in [
        ("1.13.0", "Invalid velero semver"),
        ("", "Invalid velero semver"),
    ] {
        let d = VELERO_DEPLOYMENT.replace("TAG", tag);
        dropped(
            &run(
                &[("cluster-resources/deployments/velero.json", &d)],
                "- velero: {}\n",
            ),
            why,
        );
    }
    let untagged = VELERO_DEPLOYMENT.replace(":TAG", "");
    dropped(
        &run(
            &[("cluster-resources/deployments/velero.json", &untagged)],
            "- velero: {}\n",
        ),
        "has no tag",
    );
    let malformed = [
        files[0],
        (
            "cluster-resources/custom-resources/backups.velero.io/velero.json",
            "{}",
        ),
    ];
    dropped(&run(&malformed, "- velero: {}\n"), "not a list of backups");
}

const CEPH: &str = r#"{"health": {"status": "HEALTH_ERR", "checks": {"B": {"summary": {"message": "b"}}, "A": {"summary": {"message": "a"}}}},
  "osdmap": {"osdmap": {"num_osds": 2, "num_up_osds": 1, "full": true, "nearfull": true}},
  "pgmap": {"bytes_used": 1, "bytes_total": 3}}"#;

#[test]
fn ceph_status_defaults_details_and_missing_file() {
    let files = [("ceph/status.json", CEPH)];
    assert_eq!(
        summary(&run(&files, "- cephStatus: {}\n")),
        [row(
            Severity::Fail,
            "Ceph Status",
            "Ceph status is HEALTH_ERR\n1/2 OSDs up\nOSD disk is full\nPG storage usage is 33.3%\nA: a\nB: b"
        )]
    );
    let a = run(
        &files,
        "- cephStatus:\n    checkName: C\n    outcomes:\n      - pass: {when: \">= HEALTH_WARN\", message: fine}\n      - warn: {when: \"== HEALTH_ERR\", message: \"\"}\n",
    );
    assert_eq!(
        summary(&a),
        [row(
            Severity::Warn,
            "C",
            "1/2 OSDs up\nOSD disk is full\nPG storage usage is 33.3%\nA: a\nB: b"
        )]
    );
    let a = run(
        &[("mine/ceph/status.json", CEPH)],
        "- cephStatus:\n    collectorName: mine\n    namespace: rook-ceph\n",
    );
    assert_eq!(summary(&a)[0].0, Some(Severity::Fail));
    // A missing file: no result, no error; a malformed one: dropped.
    let a = run(&[], "- cephStatus: {}\n");
    assert!(a.results.is_empty() && a.errors.is_empty());
    dropped(
        &run(
            &[("ceph/status.json", r#"{"health": "x"}"#)],
            "- cephStatus: {}\n",
        ),
        "not a ceph status",
    );
    dropped(
        &run(
            &files,
            "- cephStatus:\n    outcomes:\n      - pass: {when: \"~ HEALTH_OK\"}\n",
        ),
        "unknown operator",
    );
}

fn longhorn_replica(name: &str, desired: &str, current: &str) -> String {
    format!(
        "objectmeta:\n  name: {name}\n  annotations: {{token: ***HIDDEN***}}\nspec:\n  instancespec:\n    desirestate: {desired}\nstatus:\n  instancestatus:\n    currentstate: {current}\n"
    )
}

#[test]
fn longhorn_warns_per_problem_and_sums_up_health() {
    let r1 = longhorn_replica("r1", "running", "stopped");
    let e1 = longhorn_replica("e1", "running", "running");
    let files = [
        (
            "longhorn/lh/nodes/n1",
            "objectmeta: {name: n1}\nstatus: {conditions: {}}\n",
        ),
        ("longhorn/lh/replicas/r1", r1.as_str()),
        ("longhorn/lh/engines/e1", e1.as_str()),
        (
            "longhorn/lh/volumes/v1.yaml",
            "objectmeta: {name: v1}\nspec: {numberofreplicas: 1}\n",
        ),
        ("longhorn/lh/volumes/v1/replicachecksums/a", "x  /a/f.img\n"),
        ("longhorn/lh/volumes/v1/replicachecksums/b", "x  /b/f.img\n"),
    ];
    let a = run(&files, "- longhorn:\n    namespace: lh\n");
    assert_eq!(
        summary(&a),
        [
            row(
                Severity::Warn,
                "Longhorn Node Schedulable: n1",
                "Node schedulable status not found"
            ),
            row(
                Severity::Warn,
                "Longhorn Replica: r1",
                "Longhorn replica r1 current status \"stopped\", should be \"running\""
            ),
            row(
                Severity::Warn,
                "Longhorn volume with low replicas",
                "Longhorn volume v1 has less than two replicas, this could lead to issues with volume availability"
            ),
        ]
    );
    let healthy = [files[2]];
    let a = run(&healthy, "- longhorn:\n    namespace: lh\n");
    assert_eq!(
        summary(&a),
        [row(
            Severity::Pass,
            "Longhorn Health Status",
            "Longhorn is healthy"
        )]
    );
    // Nothing collected (the default namespace is longhorn-system): no result.
    assert!(run(&files, "- longhorn: {}\n").results.is_empty());
    dropped(
        &run(
            &[("longhorn/lh/nodes/n1", "a: [")],
            "- longhorn:\n    namespace: lh\n",
        ),
        "not YAML",
    );
    dropped(
        &run(
            &[(
                "longhorn/lh/volumes/v.yaml",
                "spec: {numberofreplicas: many}\n",
            )],
            "- longhorn:\n    namespace: lh\n",
        ),
        "numberofreplicas",
    );
}

#[test]
fn weave_report_warns_on_ip_pools_pending_allocations_and_connections() {
    let full = r#"{"Router": {"NickName": "a", "Connections": [{"State": "pending", "Info": "fastdp x(b)"}]},
                   "IPAM": {"RangeNumIPs": 20, "ActiveIPs": 17}}"#;
    let files = [("weave/a.json", full)];
    let yaml = "- weaveReport:\n    reportFileGlob: \"weave/*.json\"\n";
    assert_eq!(
        summary(&run(&files, yaml)),
        [
            row(
                Severity::Warn,
                "Available Pod IPs",
                "17 of 20 total available IPs have been assigned"
            ),
            row(
                Severity::Warn,
                "Weave Inter-Node Connections",
                "Connection from a to b is pending"
            ),
        ]
    );
    dropped(&run(&[("weave/a.json", "[]")], yaml), "not a weave report");
    dropped(
        &run(&[("weave/a.json", r#"{"IPAM": {"ActiveIPs": "x"}}"#)], yaml),
        "not a whole number",
    );
    dropped(
        &run(&files, "- weaveReport: {}\n"),
        "reportFileGlob is required",
    );
}
