//! The in-cluster collectors that create pods or DaemonSets — `copyFromHost`, `collectd`,
//! `runDaemonSet`, `sysctl`, `dns`, `etcd` — and `certificates`, end to end: the real agent
//! (`trigger` in the foreground) against the test API server, which runs created DaemonSets on
//! every node and created pods to completion. Whatever a collector creates is gone afterwards,
//! also after a timeout or a cancellation.

use crate::support;
use crate::support::kube_api;

use kube_api::{Cluster, ExecOutput, KubeApiServer};
use std::path::PathBuf;
use std::time::Duration;
use support::triggered::Triggered;

/// The label every object the agent creates for a run carries.
const RUN_LABEL: &str = "troubleshoot-agent/run";

/// The baseline cluster (node `primary-node`) plus a ready `worker-1`.
fn two_nodes() -> Cluster {
    let mut cluster = Cluster::baseline();
    cluster
        .insert_value(
            serde_json::json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "worker-1", "resourceVersion": "5", "labels": {"kubernetes.io/hostname": "worker-1"}},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}
            }),
            None,
        )
        .expect("node");
    cluster
}

/// Runs one job through `trigger` with `collectors` as the spec's in-cluster collectors.
fn run_job(server: &KubeApiServer, spec: &str, collectors: &str) -> Triggered {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs");
    let kubeconfig = dir.path().join("kubeconfig");
    server
        .write_kubeconfig(&kubeconfig, "default")
        .expect("kubeconfig");
    let mut job = String::from(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: kube\nspec:\n  schedule: \"0 2 * * *\"\n  redact: {enabled: false}\n",
    );
    for line in spec.lines() {
        job.push_str(&format!("  {line}\n"));
    }
    job.push_str(&format!(
        "  collect:\n    kubeconfig: {}\n    supportBundle:\n      collectors:\n",
        kubeconfig.display()
    ));
    for line in collectors.lines() {
        job.push_str(&format!("        {line}\n"));
    }
    std::fs::write(jobs.join("kube.yaml"), &job).expect("job");
    Triggered::run(dir, &[], Duration::from_secs(120))
}

/// Nothing the agent created is left: no DaemonSet, no pod with the run label.
fn assert_cleaned_up(server: &KubeApiServer) {
    assert_eq!(
        server.count_labelled("apps", "daemonsets", RUN_LABEL),
        0,
        "a DaemonSet was left behind"
    );
    assert_eq!(
        server.count_labelled("", "pods", RUN_LABEL),
        0,
        "a pod was left behind"
    );
}

/// The member names of a tar archive.
fn tar_names(path: &std::path::Path) -> Vec<String> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    tar::Archive::new(file)
        .entries()
        .expect("entries")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn copy_from_host_copies_from_every_node_then_deletes_the_daemonset() {
    let server = KubeApiServer::start(two_nodes());
    let run = run_job(
        &server,
        "",
        "- copyFromHost: {collectorName: app, name: host-logs, hostPath: /var/log/app/, image: busybox:1}\n\
         - copyFromHost: {collectorName: unpacked, name: unpacked, hostPath: /var/log/app, image: busybox:1, extractArchive: true, timeout: 30s}",
    );
    for node in ["primary-node", "worker-1"] {
        let names = tar_names(&run.bundle.join(format!("host-logs/{node}/archive.tar")));
        assert!(names.contains(&"app/copied.txt".to_string()), "{names:?}");
        let text = run.text(&format!("unpacked/{node}/app/copied.txt"));
        assert!(
            text.starts_with("copied from troubleshoot-copyfromhost-")
                && text.ends_with(":/host/app\n"),
            "{text}"
        );
    }
    assert_eq!(
        run.collector("title", "copy-from-host/app")["status"],
        "succeeded"
    );
    // One DaemonSet each, mounting the parent folder, deleted afterwards with its pods.
    let created = server.created_daemonsets();
    assert_eq!(created.len(), 2, "{created:?}");
    for (ns, name) in &created {
        assert_eq!(ns, "default");
        assert!(name.starts_with("troubleshoot-copyfromhost-"), "{name}");
        assert!(
            server.requests().iter().any(|r| r.method == "DELETE"
                && r.path == format!("/apis/apps/v1/namespaces/default/daemonsets/{name}")),
            "{name} was not deleted"
        );
    }
    assert_cleaned_up(&server);
    // The tar ran in each DaemonSet pod's `collector` container.
    let execs = server
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/exec") && r.query.contains("container=collector"))
        .count();
    assert_eq!(execs, 4);
}

#[test]
fn collectd_copies_the_rrd_folder_and_fails_fast_on_a_missing_path() {
    let server = KubeApiServer::start(Cluster::baseline());
    let run = run_job(
        &server,
        "",
        "- collectd: {collectorName: rrd, hostPath: /var/lib/collectd, image: busybox:1}",
    );
    assert!(
        run.exists("collectd/rrd/primary-node/archive.tar"),
        "{:#} {:?}",
        run.record,
        run.paths()
    );
    let names = tar_names(&run.bundle.join("collectd/rrd/primary-node/archive.tar"));
    assert!(
        names.contains(&"collectd/copied.txt".to_string()),
        "{names:?}"
    );
    assert_eq!(
        run.collector("title", "collectd/rrd")["status"],
        "succeeded"
    );
    assert_cleaned_up(&server);

    // A host path that does not exist: the pods never start (FailedMount), the collector says so
    // at once instead of waiting out the 30 s, and the DaemonSet is deleted.
    let server = KubeApiServer::start(Cluster::baseline());
    server.set_host_path_missing("/var/lib");
    let run = run_job(
        &server,
        "",
        "- collectd: {collectorName: rrd, hostPath: /var/lib/collectd, image: busybox:1}",
    );
    let c = run.collector("title", "collectd/rrd");
    assert_eq!(c["status"], "failed", "{c}");
    assert!(
        c["error"]
            .as_str()
            .unwrap_or("")
            .contains("path does not exist"),
        "{c}"
    );
    assert!(run.exists("collector-errors/collectd/rrd-error.json"));
    assert_eq!(server.created_daemonsets().len(), 1);
    assert_cleaned_up(&server);
}

#[test]
fn run_daemonset_keeps_each_nodes_log_then_deletes_the_daemonset() {
    let server = KubeApiServer::start(two_nodes());
    server.set_node_log("primary-node", "kernel 6.1 on primary\n");
    server.set_node_log("worker-1", "kernel 6.1 on worker\n");
    let run = run_job(
        &server,
        "",
        "- runDaemonSet: {collectorName: uname, name: node-info, namespace: kube-system, podSpec: {containers: [{name: c, image: busybox, command: [uname, -a]}]}}",
    );
    assert_eq!(
        run.text("node-info/primary-node.log"),
        "kernel 6.1 on primary\n"
    );
    assert_eq!(run.text("node-info/worker-1.log"), "kernel 6.1 on worker\n");
    assert_eq!(
        run.collector("title", "run-daemonset/uname")["status"],
        "succeeded"
    );
    let created = server.created_daemonsets();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].0, "kube-system");
    assert!(
        created[0].1.starts_with("run-daemonset-node-info-"),
        "{created:?}"
    );
    assert_cleaned_up(&server);
}

#[test]
fn run_daemonset_timeout_and_job_cancellation_delete_the_daemonset() {
    let server = KubeApiServer::start(Cluster::baseline());
    server.set_daemonset_secs("run-daemonset-stuck-", f64::INFINITY);
    let run = run_job(
        &server,
        "",
        "- runDaemonSet: {collectorName: stuck, name: stuck, timeout: 2s, podSpec: {containers: [{name: c, image: busybox}]}}",
    );
    let c = run.collector("title", "run-daemonset/stuck");
    assert_eq!(c["status"], "failed", "{c}");
    assert!(
        c["error"].as_str().unwrap_or("").contains("within 2s"),
        "{c}"
    );
    assert_eq!(server.created_daemonsets().len(), 1);
    assert_cleaned_up(&server);

    // No collector timeout (troubleshoot's 60 s): the job's 3 s timeout cancels it.
    let server = KubeApiServer::start(Cluster::baseline());
    server.set_daemonset_secs("run-daemonset-stuck-", f64::INFINITY);
    let run = run_job(
        &server,
        "timeout: 3s",
        "- runDaemonSet: {collectorName: stuck, name: stuck, podSpec: {containers: [{name: c, image: busybox}]}}",
    );
    assert_eq!(run.record["status"], "timed-out", "{:#}", run.record);
    let c = run.collector("title", "run-daemonset/stuck");
    assert!(
        c["error"].as_str().unwrap_or("").contains("cancelled"),
        "{c}"
    );
    assert_eq!(server.created_daemonsets().len(), 1);
    assert_cleaned_up(&server);
}

#[test]
fn sysctl_runs_a_pod_on_each_ready_node_and_deletes_it() {
    let mut cluster = two_nodes();
    cluster
        .insert_value(
            serde_json::json!({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "down-1", "resourceVersion": "6"},
                "status": {"conditions": [{"type": "Ready", "status": "False"}]}
            }),
            None,
        )
        .expect("node");
    let server = KubeApiServer::start(cluster);
    server.set_node_log(
        "primary-node",
        "/proc/sys/net/ipv4/ip_forward = 1\n/proc/sys/vm/swappiness = 60\n",
    );
    server.set_node_log("worker-1", "/proc/sys/net/ipv4/ip_forward = 0\n");
    let run = run_job(&server, "", "- sysctl: {image: busybox:1}");
    assert_eq!(
        run.text("sysctl/primary-node"),
        "/proc/sys/net/ipv4/ip_forward = 1\n/proc/sys/vm/swappiness = 60\n"
    );
    assert_eq!(
        run.text("sysctl/worker-1"),
        "/proc/sys/net/ipv4/ip_forward = 0\n"
    );
    assert!(!run.exists("sysctl/down-1"), "a node that is not ready");
    assert_eq!(run.collector("title", "sysctl")["status"], "succeeded");
    let creates = server
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v1/namespaces/default/pods")
        .count();
    assert_eq!(creates, 2);
    assert_cleaned_up(&server);
}

#[test]
fn forbidden_daemonsets_and_pods_are_skipped_for_rbac() {
    let server = KubeApiServer::start(Cluster::baseline());
    server
        .deny("apps", "daemonsets", None)
        .deny("", "pods", Some("default"));
    let run = run_job(
        &server,
        "",
        "- copyFromHost: {collectorName: app, hostPath: /var/log/app, image: busybox}\n\
         - collectd: {hostPath: /var/lib/collectd, image: busybox}\n\
         - runDaemonSet: {collectorName: rd, name: rd, podSpec: {containers: [{name: c, image: busybox}]}}\n\
         - sysctl: {image: busybox}",
    );
    let skipped = run.json("skipped-collectors.json");
    for (title, needle) in [
        (
            "copy-from-host/app",
            "cannot create daemonsets (group apps)",
        ),
        ("collectd", "cannot create daemonsets (group apps)"),
        ("run-daemonset/rd", "cannot create daemonsets (group apps)"),
        (
            "sysctl",
            "cannot create pods (group core) in namespace \\\"default\\\"",
        ),
    ] {
        let entry = skipped
            .as_array()
            .and_then(|a| a.iter().find(|e| e["collector"] == title))
            .unwrap_or_else(|| panic!("{title}: {skipped:#}"));
        assert_eq!(entry["reason"], "insufficient RBAC permissions");
        assert!(entry["errors"].to_string().contains(needle), "{entry}");
        assert_eq!(run.collector("title", title)["status"], "skipped");
    }
    assert!(
        !server.requests().iter().any(|r| r.method == "POST"
            && (r.path.ends_with("/pods") || r.path.ends_with("/daemonsets"))),
        "nothing was created"
    );
}

#[test]
fn dns_runs_a_lookup_pod_and_writes_troubleshoots_debug_files() {
    let server = KubeApiServer::start(Cluster::baseline());
    let pod_log = "=== /etc/resolv.conf ===\nsearch default.svc.cluster.local svc.cluster.local\nnameserver 10.43.0.10\n=== dig kubernetes ===\n10.43.0.1\n=== dig non-existent-domain ===\n";
    server.set_node_log("primary-node", pod_log);
    let run = run_job(
        &server,
        "",
        "- dns: {collectorName: dns, nonResolvable: nope.invalid}",
    );
    assert_eq!(run.collector("title", "dns")["status"], "succeeded");
    let text = run.text("dns/debug.txt");
    let want_start = format!(
        "=== Kubernetes Cluster IP from API Server: 10.43.0.1\n\
         === Test DNS resolution in pod registry.k8s.io/e2e-test-images/agnhost:2.39: \n\
         {pod_log}\
         === Running kube-dns pods: coredns-56f6fc8fd7-p4x9z\n\
         === Running kube-dns service: 10.43.0.10\n\
         === kube-dns endpoints: 10.42.0.6:53\n\
         === CoreDNS config: \n"
    );
    assert!(text.starts_with(&want_start), "{text}");
    let debug = run.json("dns/debug.json");
    assert_eq!(
        debug,
        serde_json::json!({
            "kubernetesClusterIP": "10.43.0.1",
            "podResolvConf": "search default.svc.cluster.local svc.cluster.local\nnameserver 10.43.0.10\n",
            "query": {
                "kubernetes": {"name": "kubernetes", "address": "10.43.0.1"},
                "nonResolvableDomain": {"name": "nope.invalid", "address": ""}
            },
            "kubeDNSPods": ["coredns-56f6fc8fd7-p4x9z"],
            "kubeDNSService": "10.43.0.10",
            "kubeDNSEndpoints": "10.42.0.6:53"
        })
    );
    // The lookup pod ran in `default` with the dig script, and is gone.
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path == "/api/v1/namespaces/default/pods")
    );
    assert_cleaned_up(&server);
}

/// `etcdctl <words> <the distribution's flags>` as the exec endpoint sees it.
fn etcdctl(words: &[&str], dir: &str, cert: &str, key: &str) -> Vec<String> {
    let mut argv: Vec<String> = std::iter::once("etcdctl")
        .chain(words.iter().copied())
        .map(str::to_string)
        .collect();
    for a in [
        "--cacert",
        &format!("{dir}/ca.crt"),
        "--cert",
        &format!("{dir}/{cert}"),
        "--key",
        &format!("{dir}/{key}"),
        "--write-out",
        "json",
        "--endpoints",
        "https://127.0.0.1:2379",
    ] {
        argv.push(a.to_string());
    }
    argv
}

fn node_with_label(name: &str, key: &str, value: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "resourceVersion": "8", "labels": {key: value}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}
    })
}

#[test]
fn etcd_runs_etcdctl_in_the_static_pod_on_kurl() {
    let mut cluster = Cluster::baseline();
    cluster
        .insert_value(node_with_label("kurl-1", "kurl.sh/cluster", "true"), None)
        .expect("node");
    cluster
        .insert_value(
            serde_json::json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "etcd-kurl-1", "namespace": "kube-system", "resourceVersion": "9", "labels": {"component": "etcd"}},
                "spec": {"nodeName": "kurl-1", "containers": [{"name": "etcd", "image": "registry.k8s.io/etcd:3.5"}]},
                "status": {"phase": "Running"}
            }),
            None,
        )
        .expect("pod");
    let (dir, cert, key) = (
        "/etc/kubernetes/pki/etcd",
        "healthcheck-client.crt",
        "healthcheck-client.key",
    );
    let health = etcdctl(&["endpoint", "health"], dir, cert, key);
    cluster.add_exec(
        "etcd-kurl-1",
        &health.iter().map(String::as_str).collect::<Vec<_>>(),
        ExecOutput {
            stdout: b"[{\"endpoint\":\"https://127.0.0.1:2379\",\"health\":true}]\n".to_vec(),
            stderr: b"warning: <deprecated flag>\n".to_vec(),
            exit_code: 0,
        },
    );
    let members = etcdctl(&["member", "list"], dir, cert, key);
    cluster.add_exec(
        "etcd-kurl-1",
        &members.iter().map(String::as_str).collect::<Vec<_>>(),
        ExecOutput {
            stdout: b"{\"members\":[]}".to_vec(),
            stderr: b"context deadline exceeded\n".to_vec(),
            exit_code: 1,
        },
    );
    let server = KubeApiServer::start(cluster);
    let run = run_job(&server, "", "- etcd: {}");
    assert_eq!(run.collector("title", "etcd")["status"], "succeeded");
    assert_eq!(
        run.text("etcd/endpoint-health.json"),
        "[{\"endpoint\":\"https://127.0.0.1:2379\",\"health\":true}]\n"
    );
    assert_eq!(
        run.json("etcd/endpoint-health-stderr.json"),
        serde_json::json!({"stderr": "warning: <deprecated flag>\n"})
    );
    assert!(
        run.text("etcd/endpoint-health-stderr.json")
            .contains("\\u003cdeprecated"),
        "Go's HTML-safe escaping"
    );
    // A command that failed is left out, as troubleshoot; so are the unknown ones.
    assert!(!run.exists("etcd/member-list.json"));
    assert!(!run.exists("etcd/version.json"));
    // Nothing was created on kURL.
    assert!(
        !server
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/pods"))
    );
}

#[test]
fn etcd_on_k0s_runs_a_client_pod_and_deletes_it() {
    let mut cluster = Cluster::baseline();
    cluster
        .insert_value(
            node_with_label("k0s-1", "node.k0sproject.io/role", "controller"),
            None,
        )
        .expect("node");
    let version = etcdctl(
        &["version"],
        "/var/lib/k0s/pki/etcd",
        "peer.crt",
        "peer.key",
    );
    cluster.add_exec(
        "etcd-collector-",
        &version.iter().map(String::as_str).collect::<Vec<_>>(),
        ExecOutput {
            stdout: b"{\"etcdserver\":\"3.5.13\",\"etcdcluster\":\"3.5.0\"}".to_vec(),
            stderr: Vec::new(),
            exit_code: 0,
        },
    );
    let server = KubeApiServer::start(cluster);
    let run = run_job(
        &server,
        "",
        "- etcd: {image: \"quay.io/coreos/etcd:v3.5.13\"}",
    );
    assert_eq!(run.collector("title", "etcd")["status"], "succeeded");
    assert_eq!(
        run.json("etcd/version.json"),
        serde_json::json!({"etcdserver": "3.5.13", "etcdcluster": "3.5.0"})
    );
    assert!(!run.exists("etcd/version-stderr.json"));
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path == "/api/v1/namespaces/default/pods")
    );
    assert_cleaned_up(&server);

    // Not a supported distribution: a clear failure, nothing created.
    let server = KubeApiServer::start(Cluster::baseline());
    let run = run_job(&server, "", "- etcd: {}");
    let c = run.collector("title", "etcd");
    assert_eq!(c["status"], "failed", "{c}");
    assert!(
        c["error"]
            .as_str()
            .unwrap_or("")
            .contains("does not support etcd collector"),
        "{c}"
    );
}

/// `openssl req -x509 -newkey ec ... -subj "/C=US/O=Acme, Inc/CN=test.example.com"` with DNS
/// and IP alternative names and `CA:TRUE`, valid 2026-12-07 to 2036-12-04.
const TEST_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIICAjCCAaegAwIBAgIUVbe1lhrk94z/rmacYudrkxDPegIwCgYIKoZIzj0EAwIw\nPDELMAkGA1UEBhMCVVMxEjAQBgNVBAoMCUFjbWUsIEluYzEZMBcGA1UEAwwQdGVz\ndC5leGFtcGxlLmNvbTAeFw0yNjEyMDcxNTA1NTVaFw0zNjEyMDQxNTA1NTVaMDwx\nCzAJBgNVBAYTAlVTMRIwEAYDVQQKDAlBY21lLCBJbmMxGTAXBgNVBAMMEHRlc3Qu\nZXhhbXBsZS5jb20wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARukf0t7f50zQSU\ng9NvrjgSMkv3ZM0jf7Gy4vt0kV0qHKpSOsCZyH9/nPW27JMZSkn5BjWt65n0Ozkw\nxKSAsGSko4GGMIGDMB0GA1UdDgQWBBRRyYubOy2VCacWmZqx8j2HOvBg2jAfBgNV\nHSMEGDAWgBRRyYubOy2VCacWmZqx8j2HOvBg2jAwBgNVHREEKTAnghB0ZXN0LmV4\nYW1wbGUuY29tgg0qLmV4YW1wbGUuY29thwQKAAABMA8GA1UdEwEB/wQFMAMBAf8w\nCgYIKoZIzj0EAwIDSQAwRgIhANq/+Mq7gxbNPjbiF8AqsLzaD33RRAfmIZWnGQK1\nP5sSAiEAwsloFn/cnu7cQbfssfAawctlkU2bGXeuS5gTdxLq9JY=\n-----END CERTIFICATE-----\n";

#[test]
fn certificates_describes_the_pem_certificates_of_secrets_and_configmaps() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut cluster = Cluster::baseline();
    cluster
        .insert_value(
            serde_json::json!({
                "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"name": "web-tls", "namespace": "kube-system", "resourceVersion": "10"},
                "data": {"tls.crt": b64(TEST_PEM), "tls.key": b64("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}
            }),
            None,
        )
        .expect("secret");
    cluster
        .insert_value(
            serde_json::json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "trust", "namespace": "default", "resourceVersion": "11"},
                "data": {"ca.crt": format!("{TEST_PEM}{TEST_PEM}")}
            }),
            None,
        )
        .expect("configmap");
    let server = KubeApiServer::start(cluster);
    let run = run_job(
        &server,
        "",
        "- certificates: {secrets: [{name: web-tls, namespaces: [kube-system, default]}], configMaps: [{name: trust, namespaces: [default]}]}",
    );
    assert_eq!(
        run.collector("title", "certificates")["status"],
        "succeeded"
    );
    let text = run.text("certificates/certificates.json");
    assert!(
        text.starts_with("[\n\t{\n\t\t\"source\": {"),
        "tab-indented: {text}"
    );
    let cert = serde_json::json!({
        "certificate": "tls.crt",
        "subject": "CN=test.example.com,O=Acme\\, Inc,C=US",
        "subjectAlternativeNames": ["test.example.com", "*.example.com"],
        "issuer": "CN=test.example.com,O=Acme\\, Inc,C=US",
        "notAfter": "2036-12-04T15:05:55Z",
        "notBefore": "2026-12-07T15:05:55Z",
        "isValid": chrono::Utc::now() > chrono::DateTime::parse_from_rfc3339("2026-12-07T15:05:55Z").expect("time"),
        "isCA": true
    });
    let mut ca = cert.clone();
    ca["certificate"] = "ca.crt".into();
    let doc = run.json("certificates/certificates.json");
    assert_eq!(
        doc[0],
        serde_json::json!({
            "source": {"secret": "web-tls", "namespace": "kube-system"},
            "errors": ["No certificates found in tls.key"],
            "certificateChain": [cert]
        })
    );
    assert_eq!(
        doc[1]["source"],
        serde_json::json!({"secret": "web-tls", "namespace": "default"})
    );
    assert!(
        doc[1]["errors"][0]
            .as_str()
            .unwrap_or("")
            .contains("not found"),
        "{doc:#}"
    );
    assert!(doc[1].get("certificateChain").is_none());
    assert_eq!(
        doc[2],
        serde_json::json!({
            "source": {"configMap": "trust", "namespace": "default"},
            "certificateChain": [ca.clone(), ca]
        })
    );
}

/// Polls `cond` for up to 10 s.
async fn eventually(cond: impl Fn() -> bool) -> bool {
    for _ in 0..200 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemonsets_are_deleted_when_collection_is_cancelled_or_dropped() {
    use troubleshoot_agent::collect::CollectorStatus;
    use troubleshoot_agent::collect::cluster::{ClusterOptions, collect};
    use troubleshoot_agent::spec::Entry;

    let server = std::sync::Arc::new(KubeApiServer::start(Cluster::baseline()));
    // Never available: the copy waits for the DaemonSet until cancelled.
    server.set_host_path_missing("/var/log");
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    server
        .write_kubeconfig(&kubeconfig, "default")
        .expect("kubeconfig");
    let opts = ClusterOptions {
        kubeconfig: Some(kubeconfig),
        ..ClusterOptions::default()
    };
    let entries = vec![Entry {
        kind: "copyFromHost".into(),
        body: serde_json::json!({"collectorName": "held", "hostPath": "/var/log/app", "image": "busybox"}),
        file: PathBuf::from("job.yaml"),
        loc: Default::default(),
        collector_name: Some("held".into()),
        exclude: false,
    }];
    let exists = {
        let server = server.clone();
        move || server.count_labelled("apps", "daemonsets", RUN_LABEL) > 0
    };

    let cancel = tokio_util::sync::CancellationToken::new();
    let trigger = {
        let (exists, cancel) = (exists.clone(), cancel.clone());
        tokio::spawn(async move {
            assert!(eventually(exists).await);
            cancel.cancel();
        })
    };
    let root = dir.path().join("bundle");
    let outcomes = collect(&entries, &root, &opts, cancel, chrono::Utc::now()).await;
    trigger.await.expect("trigger");
    assert!(
        matches!(outcomes[0].status, CollectorStatus::Failed),
        "{:?}",
        outcomes[0]
    );
    assert_eq!(outcomes[0].error.as_deref(), Some("cancelled"));
    assert_cleaned_up(&server);

    // The collection future dropped mid-wait: the guard deletes the DaemonSet in the background.
    let never = tokio_util::sync::CancellationToken::new();
    let root = dir.path().join("bundle2");
    let run = collect(&entries, &root, &opts, never, chrono::Utc::now());
    let dropped = tokio::select! {
        _ = run => false,
        () = async { while !exists() { tokio::time::sleep(Duration::from_millis(20)).await; } } => true,
    };
    assert!(dropped, "the run ended by itself");
    assert!(
        eventually(
            || server.count_labelled("apps", "daemonsets", RUN_LABEL) == 0
                && server.count_labelled("", "pods", RUN_LABEL) == 0
        )
        .await,
        "the dropped run's DaemonSet was not deleted"
    );
    assert_eq!(server.created_daemonsets().len(), 2);
}
