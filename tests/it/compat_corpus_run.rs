//! The compat corpus, run (issue 20): every spec file under `../shared/compat/specs` with
//! in-cluster collectors (a `SupportBundle` or `Collector` document with `collectors`) runs once
//! through the builtin engine — the real binary, `trigger` in the foreground, one run per spec —
//! against the test API server (`Cluster::baseline()`, plus the Secrets and ConfigMaps the spec
//! ships beside itself and the few objects its collectors look for). For each spec the run ends
//! (succeeded, or succeeded with errors: never a crash), no collector is reported "not available"
//! or unsupported (run record, `skipped-collectors.json`, the agent's log), and each collector
//! either wrote its troubleshoot output path or failed for a real condition listed below per spec
//! (object absent, nothing listens, RBAC refusal), so a regression shows as a changed line.
//!
//! Found and fixed by it: the v1beta3 examples' `valueFrom` database URIs and TLS fields were
//! refused ("`uri` must be a string"); they are read from the cluster now, and `http`
//! collectors to `https://` URLs, which were reported as unsupported (they run over TLS now).
//!
//! Not run here, each by name in [`NOT_RUN`]: the `Preflight` and `HostPreflight` files
//! (`support-bundle` refuses them too; `analyze` reads them, see `analyze_baseline`), the
//! host-only specs — their collectors include `filesystemPerformance` (fio) and `run` commands
//! that load or change the host; `validate_coverage`'s table and the `host_collectors` tests cover
//! every host type — and files without collectors. The one host collector of the in-cluster specs
//! (`hostOS` in `sample-supportbundle.yaml`, read-only) runs with its spec.
//!
//! Nothing leaves loopback: each spec's test reruns itself in a new network namespace with only
//! loopback (`support::alone::offline`), where a lookup of a host a spec names fails at once; the
//! database URIs the specs keep in Secrets and ConfigMaps point at a closed loopback port in the
//! test cluster, and `ALL_PROXY` sends the agent's HTTP clients (`http`, `registryImages`) to a
//! closed loopback port.

use crate::support;
use crate::support::kube_api::{Cluster, KubeApiServer};
use crate::support::ports::ClosedPort;
use crate::support::triggered::Triggered;

use base64::Engine;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Corpus files that are not run, and why.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "troubleshoot-specs/in-cluster/check-pod-limits.yaml",
        "Preflight: support-bundle refuses it; only `analyze` reads it",
    ),
    (
        "troubleshoot-specs/host/infra-management-tools.yaml",
        "HostPreflight",
    ),
    (
        "troubleshoot-specs/host/security-tools-preflights.yaml",
        "HostPreflight",
    ),
    (
        "troubleshoot-specs/host/storage-checks.yaml",
        "HostPreflight",
    ),
    ("troubleshoot-specs/host/default.yaml", "host only"),
    (
        "troubleshoot-specs/host/all-journald-logs.yaml",
        "host only",
    ),
    ("examples/collect/host/default.yaml", "host only"),
    ("examples/collect/host/all-collectors.yaml", "host only"),
    ("examples/collect/host/block-devices.yaml", "host only"),
    ("examples/collect/host/certificate.yaml", "host only"),
    ("examples/collect/host/cpu.yaml", "host only"),
    ("examples/collect/host/disk-usage.yaml", "host only"),
    (
        "examples/collect/host/filesystem-performance.yaml",
        "host only",
    ),
    ("examples/collect/host/http-load-balancer.yaml", "host only"),
    ("examples/collect/host/http.yaml", "host only"),
    ("examples/collect/host/ipv4-interfaces.yaml", "host only"),
    ("examples/collect/host/kernel-modules.yaml", "host only"),
    ("examples/collect/host/memory.yaml", "host only"),
    ("examples/collect/host/ntp.yaml", "host only"),
    (
        "examples/collect/host/run-and-save-output.yaml",
        "host only",
    ),
    ("examples/collect/host/sample.yaml", "host only"),
    ("examples/collect/host/sysctl.yaml", "host only"),
    ("examples/collect/host/tcp-connect.yaml", "host only"),
    ("examples/collect/host/tcp-load-balancer.yaml", "host only"),
    ("examples/collect/host/tcp-port.yaml", "host only"),
    ("examples/collect/host/timezone.yaml", "host only"),
    ("examples/collect/host/udp-port.yaml", "host only"),
    ("examples/redact/e2e.yaml", "a Redactor: no collectors"),
    (
        "examples/support-bundle/sample-analyzers.yaml",
        "an Analyzer: no collectors",
    ),
    (
        "examples/support-bundle/sample-collectors.yaml",
        "a Collector with an empty list",
    ),
];

/// The spec files run below (one test each).
const RUN: &[&str] = &[
    "examples/collect/host/all-kubernetes-collectors.yaml",
    "examples/support-bundle/db-collector.yaml",
    "examples/support-bundle/e2e.yaml",
    "examples/support-bundle/sample-collect-entire-configmap.yaml",
    "examples/support-bundle/sample-supportbundle.yaml",
    "examples/support-bundle/secret-collectors.yaml",
    "examples/support-bundle/v1beta3/configmap-example.yaml",
    "examples/support-bundle/v1beta3/cross-namespace-secrets.yaml",
    "examples/support-bundle/v1beta3/multiple-databases.yaml",
    "examples/support-bundle/v1beta3/optional-secrets.yaml",
    "examples/support-bundle/v1beta3/postgres-with-secret.yaml",
    "examples/support-bundle/v1beta3/postgres-with-tls.yaml",
    "examples/support-bundle/weave-analyzer.yaml",
    "troubleshoot-specs/in-cluster/default.yaml",
];

/// What one collector (by its recorded title) must have done.
#[derive(Clone, Copy, Debug)]
enum Want {
    /// Succeeded and wrote this bundle file (or a file under this folder).
    Wrote(&'static str),
    /// Succeeded with only this error file: what it looks for is absent from the cluster.
    Absent(&'static str),
    /// Succeeded and wrote nothing: nothing in the cluster matches (no such pods, no such
    /// namespace), as with troubleshoot.
    Nothing,
    /// A database collector: its result file, connected or with the connection error.
    Db(&'static str),
    /// A database collector whose URI the test cluster holds (a closed loopback port): its
    /// result file has this error (`refused`: the URI came from the cluster).
    DbError(&'static str, &'static str),
    /// Failed with this in its error: a real condition of the cluster.
    Failed(&'static str),
    /// An `http` collector's result file (at this path) with an `error.message` holding this text.
    HttpError(&'static str, &'static str),
}

/// Words that mean "this build cannot", wherever they appear.
const UNSUPPORTED: &[&str] = &[
    "not available in this build",
    "not supported by the builtin engine",
    "unsupported",
];

fn specs_dir() -> PathBuf {
    support::compat_dir().join("specs")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read spec dir") {
        let path = e.expect("entry").path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("read spec");
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Whether a spec file has in-cluster collectors (SupportBundle or Collector documents).
fn has_cluster_collectors(path: &Path) -> bool {
    documents(path).iter().any(|d| {
        matches!(d["kind"].as_str(), Some("SupportBundle" | "Collector"))
            && d["spec"]["collectors"]
                .as_array()
                .is_some_and(|c| !c.is_empty())
    })
}

#[test]
fn every_corpus_file_is_run_or_named_with_a_reason() {
    let dir = specs_dir();
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    let mut problems = Vec::new();
    for path in &files {
        let rel = path
            .strip_prefix(&dir)
            .expect("under the corpus")
            .to_string_lossy()
            .into_owned();
        let run = RUN.contains(&rel.as_str());
        let named = NOT_RUN.iter().any(|(f, _)| *f == rel);
        match (has_cluster_collectors(path), run, named) {
            (true, true, false) | (false, false, true) => {}
            (true, false, _) => problems.push(format!("{rel} has in-cluster collectors: run it")),
            (false, true, _) => problems.push(format!("{rel} has no in-cluster collectors")),
            (false, false, false) => problems.push(format!("{rel}: add it to NOT_RUN with why")),
            (true, true, true) => problems.push(format!("{rel} is both run and not run")),
        }
    }
    for rel in RUN.iter().chain(NOT_RUN.iter().map(|(f, _)| f)) {
        if !dir.join(rel).is_file() {
            problems.push(format!("{rel} is not in the corpus any more"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `uri` with its host and port replaced by 127.0.0.1:`port` (URL and MySQL DSN forms).
fn loopback(uri: &str, port: u16) -> String {
    let here = format!("127.0.0.1:{port}");
    if let Some(start) = uri.find("tcp(")
        && let Some(len) = uri[start..].find(')')
    {
        return format!("{}tcp({here}){}", &uri[..start], &uri[start + len + 1..]);
    }
    let Some(scheme_end) = uri.find("://") else {
        return uri.to_string();
    };
    let rest = &uri[scheme_end + 3..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let userinfo = authority
        .rfind('@')
        .map(|i| &authority[..=i])
        .unwrap_or_default();
    format!("{}{userinfo}{here}{}", &uri[..scheme_end + 3], &rest[end..])
}

/// The Secrets and ConfigMaps a spec file ships beside itself, as the API serves them (`data`,
/// base64 for a Secret), connection URIs pointed at a closed loopback `port`.
fn companions(path: &Path, port: u16) -> Vec<Value> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut out = Vec::new();
    for doc in documents(path) {
        let kind = doc["kind"].as_str().unwrap_or_default();
        if doc["apiVersion"] != "v1" || !matches!(kind, "Secret" | "ConfigMap") {
            continue;
        }
        let mut data = serde_json::Map::new();
        let plain = doc["stringData"]
            .as_object()
            .into_iter()
            .chain(doc["data"].as_object().filter(|_| kind == "ConfigMap"))
            .flatten();
        for (k, v) in plain {
            let v = loopback(v.as_str().unwrap_or_default(), port);
            data.insert(k.clone(), json!(if kind == "Secret" { b64(&v) } else { v }));
        }
        if kind == "Secret"
            && let Some(d) = doc["data"].as_object()
        {
            data.extend(d.clone());
        }
        let mut meta = doc["metadata"].clone();
        if meta["namespace"].is_null() {
            meta["namespace"] = json!("default");
        }
        out.push(json!({"apiVersion": "v1", "kind": kind, "metadata": meta, "data": data}));
    }
    out
}

/// A running pod in `ns` with `labels`, one container `container`.
fn pod(ns: &str, name: &str, labels: Value, container: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "uid": format!("uid-{name}"),
                     "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"nodeName": "primary-node", "containers": [{"name": container, "image": "busybox"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": container, "ready": true,
                   "restartCount": 0, "image": "busybox", "imageID": "", "containerID": "containerd://1",
                   "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}]}
    })
}

fn object(kind: &str, ns: &str, name: &str, labels: Value, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": kind,
           "metadata": {"name": name, "namespace": ns, "labels": labels}, "data": data})
}

/// A finished corpus run: the record, the bundle, and what the agent logged.
struct CorpusRun {
    run: Triggered,
}

/// Runs `rel` once against a test API server holding `cluster`, its companion objects and
/// `extra`.
fn run_spec(rel: &str, cluster: Cluster, extra: Vec<Value>) -> CorpusRun {
    run_spec_serving(rel, cluster, extra, &[])
}

/// [`run_spec`] with the test API server answering each `(path, JSON)` of `serve` (proxied
/// kubelet endpoints).
fn run_spec_serving(
    rel: &str,
    mut cluster: Cluster,
    extra: Vec<Value>,
    serve: &[(&str, &str)],
) -> CorpusRun {
    let spec = specs_dir().join(rel);
    let closed = ClosedPort::new();
    let port = closed.port;
    for obj in companions(&spec, port).into_iter().chain(extra) {
        if let Some(ns) = obj["metadata"]["namespace"].as_str() {
            cluster.add_namespace(ns);
        }
        cluster.insert_value(obj, None).expect("insert object");
    }
    let server = KubeApiServer::start(cluster);
    for (path, body) in serve {
        server.serve(path, 200, body);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs");
    let kubeconfig = dir.path().join("kubeconfig");
    server
        .write_kubeconfig(&kubeconfig, "default")
        .expect("kubeconfig");
    let job = format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: kube\nspec:\n  schedule: \"0 2 * * *\"\n  timeout: 2m\n  analyze: {{failOn: never}}\n  collect:\n    kubeconfig: {}\n    specs: [\"{}\"]\n",
        kubeconfig.display(),
        spec.display()
    );
    std::fs::write(jobs.join("kube.yaml"), job).expect("job");
    let proxy = format!("http://{}", closed.addr());
    let run = Triggered::run(
        dir,
        &[("ALL_PROXY", &proxy), ("NO_PROXY", "127.0.0.1,localhost")],
        Duration::from_secs(150),
    );
    drop(server);
    CorpusRun { run }
}

impl CorpusRun {
    /// Asserts the checks every spec shares, then `want` collector by collector.
    fn check(&self, rel: &str, want: &[(&str, Want)]) {
        let record = &self.run.record;
        let status = record["status"].as_str().unwrap_or_default();
        assert!(
            ["succeeded", "succeeded-with-errors"].contains(&status),
            "{rel}: the run ended {status}: {record:#}"
        );
        let collectors = record["collectors"].as_array().cloned().unwrap_or_default();
        let mut problems = Vec::new();
        // Nothing is "not available" or unsupported, anywhere.
        let mut flag = |place: String, text: &str| {
            if UNSUPPORTED.iter().any(|w| text.contains(w)) {
                problems.push(format!("reported as unsupported in {place}: {text}"));
            }
        };
        for c in &collectors {
            flag("the record".into(), &c.to_string());
        }
        for line in self.run.stderr.lines() {
            flag("the log".into(), line);
        }
        let paths = self.run.paths();
        for p in &paths {
            if let Ok(text) = std::fs::read_to_string(self.run.bundle.join(p)) {
                flag(p.clone(), &text);
            }
        }
        if self.run.exists("skipped-collectors.json") {
            for s in self
                .run
                .json("skipped-collectors.json")
                .as_array()
                .into_iter()
                .flatten()
            {
                let reason = s["reason"].as_str().unwrap_or_default();
                if !["insufficient RBAC permissions", "excluded"].contains(&reason) {
                    problems.push(format!("skipped-collectors.json: {s}"));
                }
            }
        }
        // Each collector as listed, and nothing unlisted.
        let mut recorded = Vec::new();
        for c in &collectors {
            let title = c["title"].as_str().unwrap_or_default();
            let status = c["status"].as_str().unwrap_or_default();
            let error = c["error"].as_str().unwrap_or_default();
            let files = c["files"].as_u64().unwrap_or(0);
            recorded.push(format!(
                "    ({title:?}, {status}, {files} files, {error:?})"
            ));
            let Some((_, w)) = want.iter().find(|(t, _)| *t == title) else {
                problems.push(format!("unlisted collector {title}: {status} {error}"));
                continue;
            };
            if let Err(why) = self.meets(*w, status, error, files, &paths) {
                problems.push(format!(
                    "{title}: wanted {w:?}: {why}; got {status} {error:?}"
                ));
            }
        }
        for (title, _) in want {
            if !collectors.iter().any(|c| c["title"] == *title) {
                problems.push(format!("no collector {title} ran"));
            }
        }
        assert!(
            problems.is_empty(),
            "{rel}:\n{}\n\nrecorded:\n{}\nfiles: {paths:#?}",
            problems.join("\n"),
            recorded.join("\n")
        );
    }

    fn meets(
        &self,
        want: Want,
        status: &str,
        error: &str,
        files: u64,
        paths: &std::collections::BTreeSet<String>,
    ) -> Result<(), String> {
        let has = |prefix: &str| paths.iter().any(|p| p.starts_with(prefix));
        let ok = |cond: bool, why: &str| if cond { Ok(()) } else { Err(why.to_string()) };
        match want {
            Want::Wrote(prefix) => ok(
                status == "succeeded" && files > 0 && has(prefix),
                "no output",
            ),
            Want::Absent(path) => ok(status == "succeeded" && has(path), "no error file"),
            Want::Nothing => ok(status == "succeeded" && files == 0, "not empty"),
            Want::Failed(why) => ok(status == "failed" && error.contains(why), "other error"),
            Want::HttpError(path, text) => {
                ok(status == "succeeded" && has(path), "no result file")?;
                let result = self.run.json(path);
                let message = result["error"]["message"].as_str().unwrap_or_default();
                ok(message.contains(text), &format!("another result: {result}"))
            }
            Want::DbError(path, text) => {
                ok(status == "succeeded" && has(path), "no result file")?;
                let result = self.run.json(path);
                let error = result["error"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                ok(
                    result["isConnected"] == false && error.contains(text),
                    &format!("another result: {result}"),
                )
            }
            Want::Db(path) => {
                ok(status == "succeeded" && has(path), "no result file")?;
                let result = self.run.json(path);
                let connected = result["isConnected"].as_bool();
                let error = result["error"].as_str().unwrap_or_default();
                ok(
                    connected == Some(true) || (connected == Some(false) && !error.is_empty()),
                    "neither connected nor a connection error",
                )
            }
        }
    }
}

/// One test per spec file of [`RUN`], with its expected outcomes.
mod specs;
