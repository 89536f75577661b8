//! Table tests of the in-cluster analyzers on troubleshoot's own cluster-resources fixtures
//! (`../shared/compat/cluster-resources`) and on small hand-made files.

use super::super::tests::{run, summary};
use super::super::{AnalyzeResult, Severity};
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

/// troubleshoot's own cases (pkg/analyze/cluster_pod_statuses_test.go, inputs and expected
/// messages): the derived reason, and the message from the pod or its Warning events.
#[test]
fn cluster_pod_statuses_derive_reasons_and_messages_like_troubleshoot() {
    let cases = [
        (
            "message-pending-node-affinity",
            "A Pod, kotsadm-b6cb54c8f-zgzrn, is unhealthy with a status of: Pending. Message is: 0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
        ),
        (
            "message-container-creating-failed-mount",
            "A Pod, troubleshoot-copyfromhost-4m79m-psdjm, is unhealthy with a status of: ContainerCreating. Message is: MountVolume.SetUp failed for volume \"host\" : hostPath type check failed: /var/lib/collectd is not a directory. Unable to attach or mount volumes: unmounted volumes=[host], unattached volumes=[host kube-api-access-xddvj]: timed out waiting for the condition",
        ),
        (
            "message-pod-crashloop-backoff",
            "A Pod, init-demo, is unhealthy with a status of: CrashLoopBackOff. Message is: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"wge\": executable file not found in $PATH: unknown",
        ),
        (
            "message-pod-init-crashloop-backoff",
            "A Pod, init-demo2, is unhealthy with a status of: Init:RunContainerError. Message is: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"wge\": executable file not found in $PATH: unknown",
        ),
    ];
    for (ns, want) in cases {
        let pods = fixture(&format!("pods/{ns}.json"));
        let events_path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/compat/cluster-resources/events")
            .join(format!("{ns}.json"));
        let events = std::fs::read_to_string(events_path).unwrap_or_default();
        let pods_file = format!("cluster-resources/pods/{ns}.json");
        let events_file = format!("cluster-resources/events/{ns}.json");
        let mut files = vec![(pods_file.as_str(), pods.as_str())];
        if !events.is_empty() {
            files.push((events_file.as_str(), events.as_str()));
        }
        let yaml = format!(
            "- clusterPodStatuses:\n    checkName: c\n    namespaces: [{ns}]\n    outcomes:\n      - warn:\n          when: \"!= Healthy\"\n          message: \"A Pod, {{{{ .Name }}}}, is unhealthy with a status of: {{{{ .Status.Reason }}}}. Message is: {{{{ .Status.Message }}}}\"\n      - pass: {{message: ok}}\n"
        );
        let a = run(&files, &yaml);
        assert!(a.errors.is_empty(), "{ns}: {:?}", a.errors);
        assert_eq!(
            summary(&a),
            [(Some(Severity::Warn), "c".into(), want.into())],
            "{ns}"
        );
        let obj = a.results[0]
            .involved_object
            .as_ref()
            .expect("involvedObject");
        assert_eq!((obj.kind.as_str(), obj.namespace.as_str()), ("Pod", ns));
    }
}

#[test]
fn cluster_pod_statuses_default_title_and_message_one_result_per_pod() {
    let pods = fixture("pods/default-unhealthy.json");
    let files = [("cluster-resources/pods/default.json", pods.as_str())];
    let a = run(
        &files,
        "- clusterPodStatuses:\n    outcomes:\n      - fail: {when: \"!= Healthy\"}\n      - pass: {message: fine}\n",
    );
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    assert!(!a.results.is_empty());
    for r in &a.results {
        let obj = r.involved_object.as_ref().expect("involvedObject");
        assert_eq!(
            r.title,
            format!("Pod {}/{} status", obj.namespace, obj.name)
        );
        if r.is_fail() {
            assert!(
                r.message
                    .starts_with(&format!("Pod {}/{} status is ", obj.namespace, obj.name)),
                "{r:?}"
            );
            assert!(r.message.contains(". Message is: "), "{r:?}");
        } else {
            assert_eq!(r.message, "fine");
        }
    }
    assert!(a.results.iter().any(AnalyzeResult::is_fail));
}

#[test]
fn job_status_by_name_and_default_checks() {
    let test = fixture("jobs/test.json");
    let contour = fixture("jobs/projectcontour.json");
    let files = [
        ("cluster-resources/jobs/test.json", test.as_str()),
        (
            "cluster-resources/jobs/projectcontour.json",
            contour.as_str(),
        ),
    ];
    let a = run(&files, "- jobStatus: {}\n");
    assert_eq!(
        summary(&a),
        [
            fail(
                "projectcontour/contour-certgen-v1.19.1 Job Status",
                "The job projectcontour/contour-certgen-v1.19.1 is not complete"
            ),
            fail(
                "test/post-install-job Job Status",
                "The job test/post-install-job is not complete"
            ),
        ]
    );
    // Only `namespace`: that namespace once (troubleshoot lists it twice).
    let a = run(&files, "- jobStatus:\n    namespace: test\n");
    assert_eq!(a.results.len(), 1);
    let by_name = "- jobStatus:\n    namespace: test\n    name: NAME\n    outcomes:\n      - fail: {when: \"failed > 0\", message: failed}\n      - pass: {when: \"succeeded = 1\", message: done}\n";
    let a = run(&files, &by_name.replace("NAME", "pre-install-job"));
    assert_eq!(
        summary(&a),
        [(
            Some(Severity::Pass),
            "pre-install-job Status".into(),
            "done".into()
        )]
    );
    let a = run(&files, &by_name.replace("NAME", "post-install-job"));
    assert_eq!(summary(&a)[0].0, Some(Severity::Fail));
    let a = run(&files, &by_name.replace("NAME", "nope"));
    assert_eq!(
        summary(&a),
        [fail("nope Job Status", "The job \"nope\" was not found")]
    );
    let a = run(
        &files,
        &by_name
            .replace("NAME", "pre-install-job")
            .replace("failed > 0", "active > 0"),
    );
    assert!(a.results.is_empty() && a.errors[0].message.contains("unknown field"));
}

#[test]
fn distribution_matches_detected_providers_and_warns_when_nothing_matches() {
    let nodes =
        r#"{"items": [{"metadata": {"labels": {"node.kubernetes.io/instance-type": "k3s"}}}]}"#;
    let files = [("cluster-resources/nodes.json", nodes)];
    let yaml = "- distribution:\n    outcomes:\n      - fail: {when: \"== docker-desktop\", message: no desktop}\n      - pass: {when: \"WHEN\", message: supported}\n";
    let a = run(&files, &yaml.replace("WHEN", "k3s"));
    assert_eq!(
        summary(&a),
        [(
            Some(Severity::Pass),
            "Kubernetes Distribution".into(),
            "supported".into()
        )]
    );
    let a = run(&files, &yaml.replace("WHEN", "!= k3s"));
    assert_eq!(
        summary(&a)[0],
        (
            Some(Severity::Warn),
            "Kubernetes Distribution".into(),
            "None of the conditionals were met".into()
        )
    );
    let a = run(&files, &yaml.replace("WHEN", "== nomad"));
    assert_eq!(summary(&a)[0].2, "- Unknown distribution: nomad ");
}

#[test]
fn secret_config_map_ingress_class_and_pull_secret_presence() {
    let files = [
        (
            "secrets/app/db/password.json",
            r#"{"namespace": "app", "name": "db", "key": "password", "secretExists": true, "keyExists": true}"#,
        ),
        (
            "configmaps/app/settings.json",
            r#"{"namespace": "app", "name": "settings", "key": "", "configMapExists": false, "keyExists": false, "data": null}"#,
        ),
        (
            "cluster-resources/ingress-classes.json",
            r#"{"items": [{"metadata": {"name": "nginx", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}}}]}"#,
        ),
        (
            "cluster-resources/image-pull-secrets/app/regcred.json",
            r#"{"quay.io": "robot"}"#,
        ),
    ];
    let yaml = "- secret:\n    namespace: app\n    secretName: db\n    key: password\n    outcomes:\n      - fail: {message: no password}\n      - pass: {message: has password}\n- configMap:\n    namespace: app\n    configMapName: settings\n    outcomes:\n      - fail: {message: no settings}\n      - pass: {message: settings}\n- ingressClass: {}\n- imagePullSecret:\n    registryName: quay.io\n- imagePullSecret:\n    checkName: Docker Hub\n    registryName: docker.io\n";
    let a = run(&files, yaml);
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    assert_eq!(
        summary(&a),
        [
            (
                Some(Severity::Pass),
                "Secret db".into(),
                "has password".into()
            ),
            fail("ConfigMap settings", "no settings"),
            (
                Some(Severity::Pass),
                "Default Ingress Class".into(),
                "Default Ingress Class found".into()
            ),
            (
                Some(Severity::Pass),
                "Image Pull Secrets".into(),
                "Credentials to pull from: quay.io found".into()
            ),
            fail(
                "Docker Hub",
                "Credentials to pull from: docker.io not found"
            ),
        ]
    );
    // The secret's file is missing: the analyzer is dropped with an error.
    let a = run(
        &files,
        "- secret:\n    namespace: app\n    secretName: other\n",
    );
    assert!(a.results.is_empty() && a.errors.len() == 1);
}

#[test]
fn event_matches_reason_kind_and_regex_and_renders_the_event() {
    let events = r#"{"kind": "EventList", "items": [
        {"metadata": {"name": "e1"}, "reason": "BackOff", "type": "Warning",
         "involvedObject": {"kind": "Pod", "name": "web-1"}, "message": "Back-off restarting failed container"}]}"#;
    let files = [("cluster-resources/events/default.json", events)];
    let yaml = "- event:\n    checkName: Restarts\n    reason: backoff\n    kind: Pod\n    regex: 'restarting'\n    outcomes:\n      - fail: {when: \"true\", message: \"{{ .InvolvedObject.Name }}: {{ .Message }}\"}\n      - pass: {when: \"false\", message: calm}\n";
    let a = run(&files, yaml);
    assert_eq!(
        summary(&a),
        [fail(
            "Restarts",
            "web-1: Back-off restarting failed container"
        )]
    );
    let a = run(&files, &yaml.replace("kind: Pod", "kind: Node"));
    assert_eq!(
        summary(&a)[0],
        (Some(Severity::Pass), "Restarts".into(), "calm".into())
    );
    // A template that does not render falls back to a fixed text.
    let a = run(
        &files,
        &yaml.replace("{{ .InvolvedObject.Name }}", "{{ if .X }}"),
    );
    assert_eq!(
        summary(&a)[0].2,
        "Event matched. Reason: BackOff Name: web-1 Message: Back-off restarting failed container"
    );
    // `when` is required; `reason` too.
    let a = run(
        &files,
        &yaml
            .replace("when: \"false\", ", "")
            .replace("kind: Pod", "kind: Node"),
    );
    assert!(a.results.is_empty(), "{:?}", a.results);
    assert!(
        a.errors[0].message.contains("it is required here"),
        "{:?}",
        a.errors
    );
    let a = run(
        &files,
        "- event:\n    reason: x\n    outcomes:\n      - pass: {message: m}\n",
    );
    assert!(
        a.results.is_empty() && a.errors[0].message.contains("required"),
        "{:?}",
        a.errors
    );
}

#[test]
fn yaml_and_json_compare_with_paths_defaults_and_templates() {
    let files = [
        (
            "cfg/app.yaml",
            "replicas: 3\nimage:\n  tag: v2\nports: [80, 443]\n",
        ),
        (
            "cfg/app.json",
            r#"{"items": [{"name": "b"}, {"name": "a"}], "mode": "ha"}"#,
        ),
    ];
    let yaml = "- yamlCompare:\n    collectorName: cfg\n    fileName: app.yaml\n    path: image.tag\n    value: VALUE\n    outcomes:\n      - fail: {message: \"tag is {{ .image.tag }}, {{ .nope }}\"}\n      - pass: {message: right tag}\n";
    let a = run(&files, &yaml.replace("VALUE", "v2"));
    assert_eq!(
        summary(&a),
        [(Some(Severity::Pass), "cfg".into(), "right tag".into())]
    );
    let a = run(&files, &yaml.replace("VALUE", "v3"));
    assert_eq!(summary(&a), [fail("cfg", "tag is v2, <no value>")]);
    // jsonPath over a list, compared without regard to order.
    let json = "- jsonCompare:\n    checkName: Names\n    collectorName: cfg\n    fileName: app.json\n    jsonPath: \"{.items[*].name}\"\n    value: '[\"a\", \"b\"]'\n    outcomes:\n      - fail: {when: \"false\", message: \"mode {{ .mode }}\"}\n      - pass: {when: \"true\", message: same}\n";
    let a = run(&files, json);
    assert_eq!(
        summary(&a),
        [(Some(Severity::Pass), "Names".into(), "same".into())]
    );
    let a = run(&files, &json.replace("\"a\", ", ""));
    assert_eq!(summary(&a), [fail("Names", "mode ha")]);
    // A malformed file is an error; a bad `value` a spec problem.
    let a = run(
        &files,
        &yaml
            .replace("app.yaml", "app.json")
            .replace("yamlCompare", "jsonCompare")
            .replace("image.tag", "mode")
            .replace("VALUE", "\"{\""),
    );
    assert!(
        a.results.is_empty() && a.errors[0].spec_problem,
        "{:?}",
        a.errors
    );
}
