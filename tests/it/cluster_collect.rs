//! Cluster collection end to end: the agent (`trigger` in the foreground, the real binary) pointed
//! through a kubeconfig at the test API server replaying the baseline k3s cluster writes the
//! baseline's `cluster-resources/` paths with the same items; RBAC denials, a server that is down,
//! slow, failing or answering garbage give a completed run with the errors recorded where
//! troubleshoot puts them.

use crate::support;
use crate::support::kube_api;

use kube_api::{Cluster, Fault, GenSpec, KubeApiServer, kubeconfig_for};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::triggered::{Triggered, files_under};
use support::{agent, compat_dir};

/// Paths of the baseline bundle that our clusterResources does not write, and why.
const BASELINE_ONLY: &[(&str, &str)] = &[
    (
        "cluster-resources/pods/logs/default/run-example/collector.log",
        "written by the baseline spec's `run` collector, not by clusterResources",
    ),
    (
        "cluster-resources/pods/logs/default/run-pod-example/example.log",
        "written by the baseline spec's `runPod` collector, not by clusterResources",
    ),
];

/// Paths we write that the baseline (troubleshoot v0.12x) does not have, and why.
const OURS_ONLY: &[(&str, &str)] = &[
    (
        "cluster-resources/certificatesigningrequests.json",
        "collected by troubleshoot since after the baseline's version (TROUBLESHOOT-FORMAT.md §1.4)",
    ),
    (
        "cluster-resources/ingress-classes.json",
        "collected by troubleshoot since after the baseline's version",
    ),
    (
        "cluster-resources/mutating-webhook-configurations.json",
        "collected by troubleshoot since after the baseline's version",
    ),
    (
        "cluster-resources/validating-webhook-configurations.json",
        "collected by troubleshoot since after the baseline's version",
    ),
];

/// A finished foreground run: its record and the extracted bundle.
type Run = Triggered;

/// Runs one job (`collect:` body given as YAML lines) through `trigger` with a clean HOME.
fn run_job(collect: &str, kubeconfig: Option<&str>, env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs");
    let mut job = String::from(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: kube\nspec:\n  schedule: \"0 2 * * *\"\n  redact: {enabled: false}\n  collect:\n",
    );
    if let Some(kc) = kubeconfig {
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, kc).expect("kubeconfig");
        job.push_str(&format!("    kubeconfig: {}\n", path.display()));
    }
    for line in collect.lines() {
        job.push_str(&format!("    {line}\n"));
    }
    std::fs::write(jobs.join("kube.yaml"), &job).expect("job");
    Triggered::run(dir, env, Duration::from_secs(600))
}

/// The baseline bundle, extracted once per test.
fn baseline() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = std::fs::File::open(compat_dir().join("bundles/baseline-v0.12x.tar.gz"))
        .expect("baseline bundle");
    tar::Archive::new(flate2::read::GzDecoder::new(file))
        .unpack(dir.path())
        .expect("unpack baseline");
    let root = dir.path().join("supportbundle");
    (dir, root)
}

const RESOURCES_SPEC: &str =
    "supportBundle:\n  collectors:\n    - clusterInfo: {}\n    - clusterResources: {}";

#[test]
fn baseline_cluster_gives_the_baseline_paths_and_items() {
    let server = KubeApiServer::start(Cluster::baseline());
    let run = run_job(RESOURCES_SPEC, Some(&server.kubeconfig("default")), &[]);
    assert_eq!(
        run.collector("kind", "clusterResources")["status"],
        "succeeded",
        "{:#}",
        run.record
    );
    assert_eq!(run.collector("kind", "clusterInfo")["status"], "succeeded");

    let (_keep, base) = baseline();
    let base_paths: BTreeSet<String> = files_under(&base)
        .into_iter()
        .filter(|p| p.starts_with("cluster-resources/") || p.starts_with("cluster-info/"))
        .collect();
    let ours: BTreeSet<String> = run
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("cluster-resources/") || p.starts_with("cluster-info/"))
        .collect();
    let expected: BTreeSet<String> = base_paths
        .iter()
        .filter(|p| !BASELINE_ONLY.iter().any(|(b, _)| b == p))
        .cloned()
        .chain(OURS_ONLY.iter().map(|(p, _)| p.to_string()))
        .collect();
    let missing: Vec<&String> = expected.difference(&ours).collect();
    let extra: Vec<&String> = ours.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing: {missing:#?}\nextra: {extra:#?}"
    );

    // Every JSON file parses to what the baseline has (discovery order aside).
    for rel in base_paths.iter().filter(|p| p.ends_with(".json")) {
        if BASELINE_ONLY.iter().any(|(b, _)| b == rel) {
            continue;
        }
        let theirs: Value =
            serde_json::from_str(&std::fs::read_to_string(base.join(rel)).expect("read"))
                .expect("baseline JSON");
        let ours = run.json(rel);
        if rel == "cluster-resources/resources.json" {
            let set = |v: &Value| -> BTreeSet<String> {
                v.as_array()
                    .expect("array")
                    .iter()
                    .map(|x| x.to_string())
                    .collect()
            };
            assert_eq!(set(&ours), set(&theirs), "{rel}");
        } else {
            assert_eq!(ours, theirs, "{rel}");
        }
    }
    // Custom resources also have their `.yaml` beside the JSON (a link to it, as v0.133 does).
    let link = run
        .bundle
        .join("cluster-resources/custom-resources/addons.k3s.cattle.io/kube-system.yaml");
    assert_eq!(
        std::fs::read_link(&link).expect("yaml is a symlink"),
        PathBuf::from("kube-system.json")
    );
    // Byte-level: Go's MarshalIndent layout, no trailing newline, `items: null` when empty.
    let pods = std::fs::read_to_string(run.bundle.join("cluster-resources/pods/kube-public.json"))
        .expect("pods");
    let base_pods = std::fs::read_to_string(base.join("cluster-resources/pods/kube-public.json"))
        .expect("base");
    assert_eq!(pods, base_pods);
    assert!(!run.exists("skipped-collectors.json"));
    assert!(!run.exists("cluster-resources/pods-errors.json"));
}

#[test]
fn forbidden_resources_are_recorded_and_the_rest_collected() {
    let server = KubeApiServer::start(Cluster::baseline());
    server
        .deny("apps", "deployments", None)
        .deny("", "secrets", None)
        .deny("", "pods", Some("kube-node-lease"));
    let spec = "supportBundle:\n  collectors:\n    - clusterResources: {}\n    - secret: {name: db, namespace: default, key: password}\n    - configMap: {name: coredns, namespace: kube-system, key: Corefile, includeValue: true}";
    let run = run_job(spec, Some(&server.kubeconfig("default")), &[]);

    // The identity may not read secrets: the collector is skipped as troubleshoot does.
    let skipped = run.json("skipped-collectors.json");
    let entry = skipped
        .as_array()
        .and_then(|a| a.iter().find(|e| e["collector"] == "secret"))
        .unwrap_or_else(|| panic!("{skipped:#}"));
    assert_eq!(entry["reason"], "insufficient RBAC permissions");
    assert!(
        entry["errors"][0]
            .as_str()
            .unwrap_or("")
            .contains("secrets"),
        "{entry}"
    );
    assert_eq!(run.collector("kind", "secret")["status"], "skipped");

    // Deployments are refused in every namespace: one error per namespace, no files.
    let errors = run.json("cluster-resources/deployments-errors.json");
    let obj = errors.as_object().expect("object keyed by namespace");
    assert!(
        obj.contains_key("default") && obj.contains_key("kube-system"),
        "{errors:#}"
    );
    assert!(
        obj["default"].as_str().unwrap_or("").contains("forbidden"),
        "{errors:#}"
    );
    assert!(!run.exists("cluster-resources/deployments/default.json"));
    // A namespace whose pods may not be read is left out (troubleshoot's RBAC selection).
    assert!(!run.exists("cluster-resources/services/kube-node-lease.json"));
    // Everything else is there.
    assert!(run.exists("cluster-resources/services/default.json"));
    assert!(run.exists("cluster-resources/replicasets/kube-system.json"));
    assert_eq!(
        run.collector("kind", "clusterResources")["status"],
        "succeeded"
    );
    // configMap with includeValue gets the value.
    let cm = run.json("configmaps/kube-system/coredns/Corefile.json");
    assert_eq!(cm["configMapExists"], true);
    assert!(
        cm["value"].as_str().unwrap_or("").contains("kubernetes"),
        "{cm:#}"
    );
}

#[test]
fn failing_slow_and_garbage_answers_complete_the_run_with_errors() {
    let server = KubeApiServer::start(Cluster::baseline());
    server
        .fail(
            "/apis/apps/v1/daemonsets",
            Fault::Delay(Duration::from_secs(40)),
        )
        .fail(
            "/apis/apps/v1/namespaces/*/daemonsets",
            Fault::Delay(Duration::from_secs(40)),
        )
        .fail("/api/v1/services", Fault::Status(500))
        .fail("/api/v1/namespaces/*/services", Fault::Status(500))
        .fail("/apis/batch/v1/jobs", Fault::Garbage)
        .fail("/apis/batch/v1/namespaces/*/jobs", Fault::Garbage)
        .fail("/api/v1/nodes", Fault::Truncated);
    let run = run_job(
        RESOURCES_SPEC,
        Some(&server.kubeconfig("default")),
        &[("TROUBLESHOOT_AGENT_KUBE_REQUEST_TIMEOUT", "5s")],
    );
    let errors = |rel: &str| run.json(rel).to_string();
    let slow = errors("cluster-resources/daemonsets-errors.json");
    assert!(slow.contains("no answer within 5s"), "{slow}");
    assert!(errors("cluster-resources/services-errors.json").contains("default"));
    assert!(errors("cluster-resources/jobs-errors.json").contains("not valid JSON"));
    assert!(run.exists("cluster-resources/nodes-errors.json"));
    // The rest is collected.
    assert!(run.exists("cluster-resources/pods/kube-system.json"));
    assert!(run.exists("cluster-resources/deployments/kube-system.json"));
    assert!(run.exists("cluster-info/cluster_version.json"));
}

#[test]
fn server_down_and_no_configuration_fail_each_collector_clearly() {
    // Nothing listens on the port: every collector fails, the run still archives a bundle.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let kc = kubeconfig_for(&format!("http://127.0.0.1:{port}"), "default");
    let run = run_job(RESOURCES_SPEC, Some(&kc), &[]);
    let info = run.json("cluster-info/errors.json").to_string();
    assert!(info.to_lowercase().contains("connect"), "{info}");
    assert_eq!(run.collector("kind", "clusterInfo")["status"], "failed");
    assert!(run.exists("cluster-resources/namespaces-errors.json"));

    // No kubeconfig anywhere (clean HOME, no KUBECONFIG, not in a pod).
    let run = run_job(RESOURCES_SPEC, None, &[]);
    for kind in ["clusterInfo", "clusterResources"] {
        let c = run.collector("kind", kind);
        assert_eq!(c["status"], "failed", "{c}");
        assert!(
            c["error"]
                .as_str()
                .unwrap_or("")
                .contains("no Kubernetes configuration found"),
            "{c}"
        );
    }
    assert!(run.exists("collector-errors/cluster-resources-error.json"));
}

#[test]
fn logs_collector_writes_real_files_and_relative_links() {
    let server = KubeApiServer::start(Cluster::baseline());
    let spec = "supportBundle:\n  collectors:\n    - logs: {name: dns-logs, namespace: kube-system, selector: [k8s-app=kube-dns], limits: {maxLines: 5}}\n    - data: {name: static-data.txt, collectorName: static-data, data: \"This is static data\"}";
    let run = run_job(spec, Some(&server.kubeconfig("default")), &[]);
    assert_eq!(
        run.collector("kind", "logs")["status"],
        "succeeded",
        "{:#}",
        run.record
    );
    let logs: Vec<String> = run
        .paths()
        .into_iter()
        .filter(|p| p.starts_with("dns-logs/"))
        .collect();
    assert!(!logs.is_empty(), "{:?}", run.paths());
    for link in &logs {
        let path = run.bundle.join(link);
        let target = std::fs::read_link(&path).expect("a symlink");
        assert!(
            target.is_relative() && target.starts_with("../.."),
            "{target:?}"
        );
        let text = std::fs::read_to_string(&path).expect("link resolves inside the bundle");
        assert!(text.lines().count() <= 5, "maxLines: {text}");
        assert!(!text.is_empty());
    }
    assert_eq!(
        std::fs::read_to_string(run.bundle.join("static-data.txt/static-data")).expect("data"),
        "This is static data"
    );
}

#[test]
fn auto_discovery_collects_the_foundation_for_the_selected_namespace() {
    let server = KubeApiServer::start(Cluster::baseline());
    let run = run_job(
        "autoDiscovery: true\nnamespaces: [kube-system]",
        Some(&server.kubeconfig("default")),
        &[],
    );
    for kind in ["clusterInfo", "clusterResources", "logs"] {
        assert_eq!(
            run.collector("kind", kind)["status"],
            "succeeded",
            "{kind}: {:#}",
            run.record
        );
    }
    // One namespace selected: namespaces.json is that Namespace object (troubleshoot's --namespace).
    assert_eq!(
        run.json("cluster-resources/namespaces.json")["kind"],
        "Namespace"
    );
    assert!(run.exists("cluster-resources/pods/kube-system.json"));
    assert!(!run.exists("cluster-resources/pods/default.json"));
}

/// A 1,000-pod cluster (200 deployments, 20 namespaces): every pod arrives and lists are read in
/// pages (the cluster-wide pod list is two pages of 500). The soak tier runs the 10,000
/// pods, where the agent's bounded memory shows.
#[test]
fn a_1000_pod_cluster_collects_every_pod_through_pages() {
    let name = "a_1000_pod_cluster_collects_every_pod_through_pages";
    if support::alone::rerun(module_path!(), name, &[]) {
        return;
    }
    collect_generated(&GenSpec {
        namespaces: 20,
        deployments: 200,
        pods: 1_000,
        ..GenSpec::default()
    });
}

/// The 10,000-pod cluster (2,000 deployments, 200 namespaces): every pod arrives, lists
/// are read in pages, and the agent's peak RSS stays bounded (a collector that held a whole list
/// would need the 82 MB of pod JSON several times over). The timing comparison with kubectl is in
/// `bench/kube_collect.sh`. Three minutes on a debug build: the soak tier.
#[test]
#[ignore = "soak tier: ./scripts/test --soak"]
fn a_10000_pod_cluster_collects_every_pod_through_pages_in_bounded_memory() {
    // Alone in a child process: the peak RSS read below is over every child this process waited
    // for, and other tests' children would count.
    let name = "a_10000_pod_cluster_collects_every_pod_through_pages_in_bounded_memory";
    if support::alone::rerun(module_path!(), name, &[]) {
        return;
    }
    collect_generated(&GenSpec {
        namespaces: 200,
        deployments: 2_000,
        pods: 10_000,
        ..GenSpec::default()
    });
}

/// Collects `clusterResources` from a generated cluster of `spec`'s size (in a process of its
/// own: see the callers) and checks every pod, the pages and the agent's peak RSS.
fn collect_generated(spec: &GenSpec) {
    let cluster = Cluster::generated(spec);
    let expected_pods = cluster.count("", "pods");
    let server = KubeApiServer::start(cluster);
    let run = run_job(
        "supportBundle:\n  collectors:\n    - clusterResources: {}",
        Some(&server.kubeconfig("default")),
        &[],
    );
    // The trigger process is the only child this test waits for.
    let peak_kib = children_peak_rss_kib();
    eprintln!("agent peak RSS: {peak_kib} KiB");
    assert_eq!(
        run.collector("kind", "clusterResources")["status"],
        "succeeded"
    );
    let mut pods = 0;
    let dir = run.bundle.join("cluster-resources/pods");
    for e in std::fs::read_dir(&dir).expect("pods dir") {
        let path = e.expect("entry").path();
        if path.extension().is_some_and(|x| x == "json") {
            let v: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
            pods += v["items"].as_array().map_or(0, Vec::len);
        }
    }
    assert_eq!(pods, expected_pods);
    // Lists were read in pages, never in one answer.
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.query.contains("continue=")),
        "no paginated request"
    );
    assert!(
        peak_kib < 250 * 1024,
        "the agent's peak RSS was {peak_kib} KiB for {expected_pods} pods"
    );
}

/// The largest peak RSS of the children this process has waited for, in KiB.
fn children_peak_rss_kib() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a whole rusage into the pointer it is given.
    let usage = unsafe {
        assert_eq!(
            libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()),
            0
        );
        usage.assume_init()
    };
    u64::try_from(usage.ru_maxrss).unwrap_or(0)
}

#[test]
fn validate_warns_when_a_job_needs_a_cluster_and_none_is_configured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let job = dir.path().join("kube.yaml");
    std::fs::write(
        &job,
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: kube\nspec:\n  schedule: \"0 2 * * *\"\n  collect:\n    autoDiscovery: true\n",
    )
    .expect("job");
    let validate = |kubeconfig: Option<&Path>| {
        let mut cmd = agent(&dir.path().join("state"));
        cmd.env("HOME", dir.path())
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST");
        if let Some(kc) = kubeconfig {
            cmd.env("TROUBLESHOOT_AGENT_KUBECONFIG", kc);
        }
        cmd.arg("validate").arg(&job).output().expect("validate")
    };
    let out = validate(None);
    let err = support::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "a warning, not an error: {err}");
    assert!(err.contains("warning: job `kube` collects from a cluster but this agent has no Kubernetes configuration"), "{err}");
    // With the `kubeconfig` setting the warning goes away.
    let kc = dir.path().join("kc");
    std::fs::write(&kc, kubeconfig_for("http://127.0.0.1:1", "default")).expect("kc");
    let err = support::stderr(&validate(Some(&kc)));
    assert!(!err.contains("no Kubernetes configuration"), "{err}");
}
