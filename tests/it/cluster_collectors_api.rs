//! Issue 20's in-cluster collectors through the API, end to end: the agent (`trigger`, the real
//! binary) against the test API server with release Secrets, node and service proxies, the custom
//! metrics API, Longhorn's CRDs and exec answers in rook's and sonobuoy's pods. For each: the files
//! and shapes troubleshoot writes, the analyzer over what was written, and RBAC refusals.

use crate::support::kube_api;
use crate::support::triggered::Triggered;

use base64::Engine;
use kube_api::{Cluster, ExecOutput, KubeApiServer};
use serde_json::{Value, json};
use std::io::Write;
use std::time::Duration;

const NODE: &str = "primary-node";

/// Runs one job with `collectors` and `analyzers` (YAML list items) against `server`.
fn run_job(server: &KubeApiServer, collectors: &str, analyzers: &str) -> Triggered {
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
         supportBundle:\n      collectors:\n",
        kubeconfig.display()
    );
    for line in collectors.lines() {
        job.push_str(&format!("        {line}\n"));
    }
    if !analyzers.is_empty() {
        job.push_str("      analyzers:\n");
        for line in analyzers.lines() {
            job.push_str(&format!("        {line}\n"));
        }
    }
    std::fs::write(jobs.join("kube.yaml"), &job).expect("job");
    Triggered::run(dir, &[], Duration::from_secs(120))
}

/// The analysis results whose title contains `title`.
fn analysis(run: &Triggered, title: &str) -> Vec<Value> {
    let all = run.json("analysis.json");
    all.as_array()
        .into_iter()
        .flatten()
        .filter(|r| r.to_string().contains(title))
        .cloned()
        .collect()
}

fn severity(result: &Value) -> String {
    let s = &result["insight"]["severity"];
    let s = if s.is_null() { &result["severity"] } else { s };
    s.as_str().unwrap_or("").to_string()
}

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A Helm release Secret as Helm 3 stores it.
fn helm_secret(ns: &str, name: &str, version: i64, status: &str) -> Value {
    let release = json!({
        "name": name, "namespace": ns, "version": version,
        "info": {"status": status, "last_deployed": format!("2024-05-0{version}T10:00:00Z"),
                 "notes": "NOTES"},
        "chart": {"metadata": {"name": "nginx", "version": format!("1.{version}.0"), "appVersion": "1.25"},
                  "values": {"replicas": 1}},
        "config": {"password": "hunter2"},
        "manifest": "apiVersion: v1\nkind: Secret\ndata: {token: dG9rZW4tdmFsdWU=}\n",
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(release.to_string().as_bytes()).expect("gzip");
    let helm_encoded = b64(&gz.finish().expect("gzip"));
    json!({
        "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
        "metadata": {"name": format!("sh.helm.release.v1.{name}.v{version}"), "namespace": ns,
                     "labels": {"owner": "helm", "name": name, "status": status, "version": version.to_string()}},
        "data": {"release": b64(helm_encoded.as_bytes())}
    })
}

fn running_pod(ns: &str, name: &str, container: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": container, "image": "busybox"}], "nodeName": NODE},
        "status": {"phase": "Running"}
    })
}

#[test]
fn helm_writes_release_history_per_namespace_without_secret_values() {
    let mut cluster = Cluster::baseline();
    cluster.add_namespace("apps");
    for (v, status) in [(1, "superseded"), (2, "deployed")] {
        cluster
            .insert_value(helm_secret("apps", "web", v, status), None)
            .expect("secret");
    }
    // A release whose latest revision is uninstalling: not listed, as `helm list`.
    cluster
        .insert_value(helm_secret("apps", "gone", 1, "uninstalling"), None)
        .expect("secret");
    let server = KubeApiServer::start(cluster);
    let run = run_job(
        &server,
        "- helm: {}\n- helm: {collectorName: one, releaseName: web, namespace: apps, collectValues: true}\n\
         - helm: {collectorName: missing, releaseName: nope, namespace: apps}",
        "",
    );
    let text = run.text("helm/apps.json");
    assert!(
        text.starts_with("[\n\t{\n\t\t\"releaseName\": \"web\""),
        "{text}"
    );
    let all = run.json("helm/apps.json");
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all:#}");
    assert_eq!(
        all[0],
        json!({"releaseName": "web", "chart": "nginx", "chartVersion": "1.2.0", "appVersion": "1.25",
               "namespace": "apps", "releaseHistory": [
                   {"revision": "1", "date": "2024-05-01 10:00:00 +0000 UTC", "status": "superseded"},
                   {"revision": "2", "date": "2024-05-02 10:00:00 +0000 UTC", "status": "deployed"}]})
    );
    for secret in ["hunter2", "dG9rZW4tdmFsdWU", "NOTES"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    // One release, with values asked for: the chart's defaults overlaid with the user's.
    let one = run.json("helm/apps/web.json");
    assert_eq!(
        one[0]["releaseHistory"][1]["values"],
        json!({"password": "hunter2", "replicas": 1})
    );
    assert_eq!(run.collector("title", "helm")["status"], "succeeded");
    // A release that does not exist is recorded where troubleshoot puts it (helm's titles carry no
    // name, so the two named collectors share `helm`'s error file).
    assert!(run.text("helm/errors.json").contains("release: not found"));
}

#[test]
fn node_metrics_custom_metrics_and_metadata_through_the_api() {
    let mut cluster = Cluster::baseline();
    cluster
        .insert_value(
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "replicated-support-metadata", "namespace": "default"},
                   "data": {"licenseID": b64(b"lic-1"), "appSlug": b64(b"app")}}),
            None,
        )
        .expect("secret");
    let server = KubeApiServer::start(cluster);
    let summary = json!({"node": {"nodeName": NODE}, "pods": [{
        "podRef": {"name": "db-0", "namespace": "default"},
        "volume": [{"name": "data", "pvcRef": {"name": "data-db-0", "namespace": "default"},
                    "usedBytes": 95, "capacityBytes": 100}]}]});
    server.serve(
        &format!("/api/v1/nodes/{NODE}/proxy/stats/summary"),
        200,
        &summary.to_string(),
    );
    let metrics = json!({"kind": "MetricValueList", "apiVersion": "custom.metrics.k8s.io/v1beta1",
        "metadata": {}, "items": [
            {"describedObject": {"kind": "Pod", "namespace": "default", "name": "web-1", "apiVersion": "/v1"},
             "metricName": "requests_per_second", "timestamp": "2024-05-01T10:00:00Z", "value": "12"}]});
    server.serve(
        "/apis/custom.metrics.k8s.io/v1beta1/namespaces/default/pods/*/requests_per_second",
        200,
        &metrics.to_string(),
    );
    let run = run_job(
        &server,
        "- nodeMetrics: {}\n\
         - nodeMetrics: {nodeNames: [ghost]}\n\
         - customMetrics: {metricRequests: [{resourceMetricName: pods/requests_per_second, namespace: default}, {resourceMetricName: bad}]}\n\
         - supportBundleMetadata: {namespace: default}",
        "- nodeMetrics:\n    checkName: PVC usage\n    outcomes:\n      - fail: {when: \"pvcUsedPercentage >= 90\", message: \"full: {{ .PVC.ConcatenatedNames }}\"}\n      - pass: {message: ok}",
    );
    // The kubelet's answer as it came.
    assert_eq!(
        run.text(&format!("node-metrics/{NODE}.json")),
        summary.to_string()
    );
    // A node that does not exist: the proxy's 404, in the collector's error file.
    let error = run.text("collector-errors/node-metrics-error.json");
    assert!(
        error.contains("could not query endpoint /api/v1/nodes/ghost/proxy/stats/summary")
            && error.contains("not found"),
        "{error}"
    );
    let pvc = analysis(&run, "PVC usage");
    assert_eq!(pvc.len(), 1, "{:#}", run.json("analysis.json"));
    assert_eq!(severity(&pvc[0]), "error", "{:#}", pvc[0]);
    assert!(
        pvc[0].to_string().contains("default/data-db-0"),
        "{:#}",
        pvc[0]
    );

    let values = run.json("metrics/Pod/requests_per_second/default.json");
    assert_eq!(values[0]["value"], "12");
    assert!(
        run.text("metrics/errors.json")
            .contains("wrong metric name format")
    );

    assert_eq!(
        run.text("metadata/cluster.json"),
        "{\n  \"appSlug\": \"app\",\n  \"licenseID\": \"lic-1\"\n}"
    );
}

#[test]
fn goldpinger_reads_check_all_through_its_service_proxy() {
    let mut cluster = Cluster::baseline();
    cluster
        .insert_value(
            json!({"apiVersion": "v1", "kind": "Service",
                   "metadata": {"name": "goldpinger", "namespace": "default",
                                "labels": {"app.kubernetes.io/name": "goldpinger"}},
                   "spec": {"ports": [{"port": 8081}]}}),
            None,
        )
        .expect("service");
    cluster.add_namespace("empty");
    let server = KubeApiServer::start(cluster);
    let check_all = json!({
        "hosts": [{"podName": "gp-a"}, {"podName": "gp-b"}],
        "responses": {
            "gp-a": {"OK": true, "response": {"podResults": {"gp-a": {"OK": true}, "gp-b": {"OK": false, "error": "timeout"}}}},
            "gp-b": {"OK": true, "response": {"podResults": {"gp-a": {"OK": true}, "gp-b": {"OK": true}}}}}});
    server.serve(
        "/api/v1/namespaces/default/services/goldpinger:8081/proxy/check_all",
        200,
        &check_all.to_string(),
    );
    let run = run_job(&server, "- goldpinger: {}", "- goldpinger: {}");
    assert_eq!(run.text("goldpinger/check_all.json"), check_all.to_string());
    let all = run.json("analysis.json").to_string();
    assert!(
        all.contains("Ping from \\\"gp-a\\\" pod to \\\"gp-b\\\" pod failed"),
        "{all}"
    );
    // No goldpinger in the namespace: said so, nothing deployed.
    let run = run_job(&server, "- goldpinger: {namespace: empty}", "");
    assert!(
        run.text("goldpinger/error.txt")
            .contains("does not deploy goldpinger")
    );
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.method == "GET" || r.path.contains("selfsubject")),
        "only reads"
    );
}

#[test]
fn ceph_runs_troubleshoots_commands_in_the_tools_pod() {
    let mut cluster = Cluster::baseline();
    cluster.add_namespace("rook-ceph");
    cluster
        .insert_value(
            running_pod(
                "rook-ceph",
                "rook-ceph-tools-5d8f",
                "rook-ceph-tools",
                json!({"app": "rook-ceph-tools"}),
            ),
            None,
        )
        .expect("pod");
    let status = json!({"health": {"status": "HEALTH_WARN",
        "checks": {"OSD_DOWN": {"summary": {"message": "1 osds down"}}}},
        "osdmap": {"osdmap": {"num_osds": 3, "num_up_osds": 2}}, "pgmap": {}});
    cluster.add_exec(
        "rook-ceph-tools",
        &["ceph", "status", "-f", "json-pretty"],
        ExecOutput {
            stdout: status.to_string().into_bytes(),
            stderr: Vec::new(),
            exit_code: 0,
        },
    );
    cluster.add_exec(
        "rook-ceph-tools",
        &["ceph", "df"],
        ExecOutput {
            stdout: b"RAW STORAGE\n".to_vec(),
            stderr: b"warning: slow\n".to_vec(),
            exit_code: 0,
        },
    );
    let server = KubeApiServer::start(cluster);
    let run = run_job(&server, "- ceph: {timeout: 5s}", "- cephStatus: {}");
    assert_eq!(run.json("ceph/status.json"), status);
    assert_eq!(run.text("ceph/df-txt.txt"), "RAW STORAGE\n");
    assert_eq!(run.text("ceph/df-txt-stderr.txt"), "warning: slow\n");
    // A command the pod does not have (exit 127): its errors file, the others still run.
    assert!(run.exists("ceph/rgw-stats-errors.json"));
    let ceph = analysis(&run, "Ceph Status");
    assert_eq!(ceph.len(), 1, "{:#}", run.json("analysis.json"));
    assert_eq!(severity(&ceph[0]), "warn", "{:#}", ceph[0]);
    assert!(ceph[0].to_string().contains("1 osds down"));
}

#[test]
fn longhorn_objects_settings_and_logs_in_yaml_v2_shapes() {
    let mut cluster = Cluster::baseline();
    cluster.add_namespace("longhorn-system");
    for (plural, kind) in [
        ("nodes", "Node"),
        ("volumes", "Volume"),
        ("replicas", "Replica"),
        ("engines", "Engine"),
        ("engineimages", "EngineImage"),
        ("instancemanagers", "InstanceManager"),
        ("backingimagemanagers", "BackingImageManager"),
        ("backingimages", "BackingImage"),
        ("sharemanagers", "ShareManager"),
        ("settings", "Setting"),
    ] {
        cluster.add_custom_type("longhorn.io", "v1beta2", plural, kind, true);
    }
    let lh = |kind: &str, name: &str, rest: Value| {
        let mut o = json!({"apiVersion": "longhorn.io/v1beta2", "kind": kind,
                           "metadata": {"name": name, "namespace": "longhorn-system"}});
        for (k, v) in rest.as_object().expect("object") {
            o[k] = v.clone();
        }
        o
    };
    for obj in [
        lh(
            "Node",
            NODE,
            json!({"status": {"conditions": [{"type": "Schedulable", "status": "False"}]}}),
        ),
        lh(
            "Replica",
            "pvc-1-r-0",
            json!({"spec": {"volumeName": "pvc-1", "desireState": "running", "failedAt": ""},
                   "status": {"currentState": "running"}}),
        ),
        lh(
            "Volume",
            "pvc-1",
            json!({"spec": {"numberOfReplicas": 3}, "status": {"state": "attached"}}),
        ),
        lh(
            "Setting",
            "backup-target",
            json!({"value": "s3://bucket@us-east-1/"}),
        ),
    ] {
        cluster.insert_value(obj, None).expect("longhorn object");
    }
    cluster
        .insert_value(
            running_pod(
                "longhorn-system",
                "longhorn-manager-x1",
                "longhorn-manager",
                json!({"app": "longhorn-manager"}),
            ),
            None,
        )
        .expect("pod");
    let server = KubeApiServer::start(cluster);
    let run = run_job(&server, "- longhorn: {}", "- longhorn: {}");
    let base = "longhorn/longhorn-system";
    let replica = run.text(&format!("{base}/replicas/pvc-1-r-0.yaml"));
    assert!(replica.contains("objectmeta:"), "{replica}");
    assert!(replica.contains("instancespec:"), "{replica}");
    assert!(replica.contains("desirestate: running"), "{replica}");
    assert!(run.exists(&format!("{base}/nodes/{NODE}.yaml")));
    assert!(run.exists(&format!("{base}/volumes/pvc-1.yaml")));
    assert!(
        run.text(&format!("{base}/settings.yaml"))
            .contains("backup-target: s3://bucket@us-east-1/")
    );
    assert!(
        run.paths()
            .iter()
            .any(|p| p.starts_with(&format!("{base}/logs/"))),
        "{:?}",
        run.paths()
    );
    let all = run.json("analysis.json").to_string();
    // The unschedulable node warns (passes are only reported when nothing warns).
    assert!(
        all.contains(&format!("Longhorn Node Schedulable: {NODE}")),
        "{all}"
    );
    assert!(all.contains("\"severity\":\"warn\""), "{all}");
}

/// A gzipped tar of `(name, body)` entries (names as given, `..` included).
fn tar_gz(entries: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, body) in entries {
        let mut header = tar::Header::new_gnu();
        let bytes = header.as_old_mut().name.as_mut_slice();
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, body.as_bytes()).expect("append");
    }
    let raw = builder.into_inner().expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).expect("gzip");
    gz.finish().expect("gzip")
}

#[test]
fn sonobuoy_results_are_unpacked_and_never_outside_their_folder() {
    let mut cluster = Cluster::baseline();
    cluster.add_namespace("sonobuoy");
    cluster
        .insert_value(
            running_pod(
                "sonobuoy",
                "sonobuoy",
                "kube-sonobuoy",
                json!({"component": "sonobuoy"}),
            ),
            None,
        )
        .expect("pod");
    cluster.add_exec(
        "sonobuoy",
        &["/sonobuoy", "splat", "/tmp/sonobuoy"],
        ExecOutput {
            stdout: tar_gz(&[
                ("plugins/e2e/results/global/junit_01.xml", "<testsuite/>"),
                ("../escaped.txt", "nope"),
            ]),
            stderr: Vec::new(),
            exit_code: 0,
        },
    );
    let server = KubeApiServer::start(cluster);
    let run = run_job(&server, "- sonobuoy: {}", "");
    assert_eq!(
        run.text("sonobuoy/plugins/e2e/results/global/junit_01.xml"),
        "<testsuite/>"
    );
    assert!(!run.exists("escaped.txt") && !run.exists("sonobuoy/escaped.txt"));
    assert!(!run.dir.path().join("bundle/escaped.txt").exists());
    // No sonobuoy pod: the error troubleshoot gives.
    let run = run_job(&server, "- sonobuoy: {namespace: default}", "");
    assert!(
        run.text("collector-errors/sonobuoy-error.json")
            .contains("sonobuoy pod sonobuoy in namespace default not found")
    );
}

#[test]
fn rbac_refusals_land_in_skipped_collectors() {
    let cluster = Cluster::baseline()
        .deny("", "nodes/proxy", None)
        .deny("", "pods/exec", None)
        .deny("", "secrets", None)
        .deny("", "services/proxy", None);
    let server = KubeApiServer::start(cluster);
    let run = run_job(
        &server,
        "- nodeMetrics: {}\n- ceph: {}\n- helm: {}\n- supportBundleMetadata: {}\n- goldpinger: {}\n- sonobuoy: {}",
        "",
    );
    let skipped = run.json("skipped-collectors.json");
    let titles: Vec<&str> = skipped
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["collector"].as_str())
        .collect();
    for want in [
        "node-metrics",
        "ceph",
        "helm",
        "support-bundle-metadata",
        "goldpinger",
        "sonobuoy",
    ] {
        assert!(titles.contains(&want), "{want} not in {skipped:#}");
    }
    let node = skipped
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["collector"] == "node-metrics")
        .expect("node-metrics");
    assert!(
        node["errors"][0]
            .as_str()
            .unwrap_or("")
            .contains("nodes/proxy"),
        "{node}"
    );
    // Nothing was attempted past the check.
    assert!(
        !server.requests().iter().any(|r| r.path.contains("/proxy/")),
        "no proxy call after a refusal"
    );
}

/// A registry stand-in on 127.0.0.1 speaking the v2 API: `app/web:1.0` exists behind a Bearer
/// token that its token endpoint gives for `bob:s3cret` only; other tags are MANIFEST_UNKNOWN,
/// other repositories NAME_UNKNOWN.
struct Registry {
    addr: std::net::SocketAddr,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

fn start_registry() -> Registry {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let realm = format!("http://{addr}/token");
    let manifests = move |axum::extract::Path((repo, name, reference)): axum::extract::Path<(
        String,
        String,
        String,
    )>,
                          headers: HeaderMap| {
        let realm = realm.clone();
        async move {
            let authorized = headers.get("authorization").and_then(|h| h.to_str().ok())
                == Some("Bearer pull-token");
            if !authorized {
                let challenge = format!(
                    "Bearer realm=\"{realm}\",service=\"stand-in\",scope=\"repository:{repo}/{name}:pull\""
                );
                return (
                    StatusCode::UNAUTHORIZED,
                    [("www-authenticate", challenge)],
                    "{}".to_string(),
                )
                    .into_response();
            }
            let unknown = |code: &str| {
                (
                    StatusCode::NOT_FOUND,
                    format!("{{\"errors\":[{{\"code\":\"{code}\"}}]}}"),
                )
                    .into_response()
            };
            match (repo.as_str(), name.as_str(), reference.as_str()) {
                ("app", "web", "1.0") => (
                    StatusCode::OK,
                    [("content-type", "application/vnd.oci.image.manifest.v1+json")],
                    "{\"schemaVersion\":2}".to_string(),
                )
                    .into_response(),
                ("app", "web", _) => unknown("MANIFEST_UNKNOWN"),
                _ => unknown("NAME_UNKNOWN"),
            }
        }
    };
    let token = |headers: HeaderMap| async move {
        let basic = format!("Basic {}", b64(b"bob:s3cret"));
        if headers.get("authorization").and_then(|h| h.to_str().ok()) == Some(basic.as_str()) {
            (StatusCode::OK, "{\"token\":\"pull-token\"}").into_response()
        } else {
            (StatusCode::UNAUTHORIZED, "{}").into_response()
        }
    };
    let app = axum::Router::new()
        .route(
            "/v2/{repo}/{name}/manifests/{reference}",
            axum::routing::get(manifests),
        )
        .route("/token", axum::routing::get(token));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            tokio::select! {
                _ = axum::serve(listener, app) => {}
                _ = rx => {}
            }
        });
    });
    Registry {
        addr,
        _shutdown: tx,
    }
}

#[test]
fn registry_images_checks_manifests_with_the_pull_secret() {
    let registry = start_registry();
    let host = registry.addr.to_string();
    let docker_config = json!({"auths": {host.clone(): {"auth": b64(b"bob:s3cret")}}}).to_string();
    let mut cluster = Cluster::baseline();
    cluster
        .insert_value(
            json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                   "metadata": {"name": "pull", "namespace": "default"},
                   "data": {".dockerconfigjson": b64(docker_config.as_bytes())}}),
            None,
        )
        .expect("secret");
    let server = KubeApiServer::start(cluster);
    let images = format!("[\"{host}/app/web:1.0\", \"{host}/app/web:2.0\", \"{host}/other/x:1\"]");
    let run = run_job(
        &server,
        &format!(
            "- registryImages: {{images: {images}, namespace: default, imagePullSecret: {{name: pull}}}}\n\
             - registryImages: {{collectorName: anonymous, images: [\"{host}/app/web:1.0\"]}}"
        ),
        "- registryImages:\n    checkName: Images\n    outcomes:\n      - fail: {when: errors > 0, message: cannot check}\n      - fail: {when: missing > 0, message: missing}\n      - pass: {message: all there}",
    );
    let found = run.json("registry/images.json");
    let got = &found["images"];
    assert_eq!(
        got[format!("{host}/app/web:1.0")],
        json!({"exists": true}),
        "{found:#}"
    );
    assert_eq!(
        got[format!("{host}/app/web:2.0")],
        json!({"exists": false}),
        "{found:#}"
    );
    let other = &got[format!("{host}/other/x:1")];
    assert_eq!(other["exists"], false);
    assert!(
        other["error"]
            .as_str()
            .unwrap_or("")
            .contains("NAME_UNKNOWN"),
        "{other}"
    );
    let text = run.text("registry/images.json");
    assert!(
        !text.contains("s3cret") && !text.contains("pull-token"),
        "{text}"
    );
    // Without credentials the token endpoint refuses: an error, not "missing".
    let anon = run.json("registry/anonymous.json");
    assert!(
        anon["images"][format!("{host}/app/web:1.0")]["error"]
            .as_str()
            .unwrap_or("")
            .contains("token"),
        "{anon:#}"
    );
    let result = analysis(&run, "Images");
    assert_eq!(result.len(), 1, "{:#}", run.json("analysis.json"));
    assert!(
        result[0].to_string().contains("cannot check"),
        "{:#}",
        result[0]
    );
}
