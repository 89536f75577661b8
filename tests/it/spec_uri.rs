//! `collect.followSpecURI`: the real agent (`trigger` in the foreground) fetches a spec's `uri:`
//! from a local HTTP server at run time and collects what the fetched SupportBundle asks for,
//! without its host collectors; by default the `uri:` is never requested; a server error, a
//! timeout, an oversized answer or a redirect to another scheme fall back to the spec as written
//! with a warning in the run record; `validate` accepts the field.

use crate::support;
use crate::support::triggered::Triggered;

use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most a spec may have (`spec::MAX_SPEC_BYTES`).
const MAX_SPEC_BYTES: usize = 16 * 1024 * 1024;

/// A local HTTP server for spec URIs: `/spec.yaml` serves `body`, `/error` a 500, `/slow` answers
/// after 30 s, `/huge` one byte more than a spec may have, `/moved` redirects to https. It
/// records each request's path and `User-Agent`.
struct SpecServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<(String, String)>>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SpecServer {
    fn start(body: String) -> SpecServer {
        use axum::http::{HeaderMap, StatusCode, Uri, header};
        use axum::response::IntoResponse;
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let handler = move |uri: Uri, headers: HeaderMap| {
            let seen = seen.clone();
            let body = body.clone();
            async move {
                let agent = headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                seen.lock()
                    .expect("requests")
                    .push((uri.path().to_string(), agent));
                match uri.path() {
                    "/spec.yaml" => (StatusCode::OK, body).into_response(),
                    "/error" => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
                    "/slow" => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        (StatusCode::OK, body).into_response()
                    }
                    "/huge" => (StatusCode::OK, "#".repeat(MAX_SPEC_BYTES + 1)).into_response(),
                    "/moved" => (
                        StatusCode::FOUND,
                        [(header::LOCATION, format!("https://{addr}/spec.yaml"))],
                    )
                        .into_response(),
                    _ => StatusCode::NOT_FOUND.into_response(),
                }
            }
        };
        let app = axum::Router::new().fallback(handler);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
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
            rt.shutdown_timeout(Duration::from_millis(100));
        });
        SpecServer {
            addr,
            requests,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<(String, String)> {
        self.requests.lock().expect("requests").clone()
    }
}

impl Drop for SpecServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A SupportBundle document named `name` whose `uri:` is `uri`, collecting `<name>/used.txt`.
fn document(name: &str, uri: &str) -> String {
    format!(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: {name}\nspec:\n  uri: {uri}\n  collectors:\n    - data:\n        name: {name}/used.txt\n        data: \"from {name}\"\n"
    )
}

/// What the server serves: a bundle collecting `upstream/used.txt`, with a host collector that
/// would create `marker` as root, and a `uri:` of its own.
fn upstream(server_next: &str, marker: &Path) -> String {
    format!(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: upstream\nspec:\n  uri: {server_next}\n  collectors:\n    - data:\n        name: upstream/used.txt\n        data: \"from upstream\"\n  hostCollectors:\n    - run: {{collectorName: as-root, command: touch, args: [\"{}\"]}}\n",
        marker.display()
    )
}

/// Runs job `kube` with `spec` as its spec file and `followSpecURI` as given.
fn run(spec: &str, follow: Option<bool>, env: &[(&str, &str)]) -> Triggered {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs");
    std::fs::write(jobs.join("spec.yaml"), spec).expect("spec");
    let follow = follow
        .map(|f| format!("    followSpecURI: {f}\n"))
        .unwrap_or_default();
    let job = format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: kube\nspec:\n  schedule: \"0 2 * * *\"\n  collect:\n{follow}    specs: [spec.yaml]\n"
    );
    std::fs::write(jobs.join("kube.yaml"), job).expect("job");
    Triggered::run(dir, env, Duration::from_secs(60))
}

fn spec_uris(record: &Value) -> Vec<Value> {
    record["specURIs"].as_array().cloned().unwrap_or_default()
}

#[test]
fn the_fetched_spec_is_collected_without_its_host_collectors() {
    let marker_dir = tempfile::tempdir().expect("tempdir");
    let marker = marker_dir.path().join("ran-as-root");
    let placeholder = SpecServer::start(String::new());
    let served = upstream(&placeholder.url("/next.yaml"), &marker);
    let server = SpecServer::start(served.clone());
    let local = document(
        "local",
        &format!("{}?token=hidden", server.url("/spec.yaml")),
    );
    let run = run(&local, Some(true), &[]);

    // The fetched document took the local one's place.
    assert_eq!(run.text("upstream/used.txt"), "from upstream");
    assert!(!run.exists("local/used.txt"), "{:#?}", run.paths());
    assert!(!marker.exists(), "a host collector of a fetched spec ran");
    assert!(
        run.record["collectors"]
            .as_array()
            .expect("collectors")
            .iter()
            .all(|c| c["kind"] != "run"),
        "{:#}",
        run.record["collectors"]
    );

    let uris = spec_uris(&run.record);
    assert_eq!(uris.len(), 1, "{:#}", run.record);
    let u = &uris[0];
    assert_eq!(
        u["uri"],
        server.url("/spec.yaml"),
        "the query is never shown"
    );
    assert_eq!(u["status"], "fetched");
    assert_eq!(
        u["sha256"].as_str(),
        Some(troubleshoot_agent::digest::sha256_hex(served.as_bytes()).as_str())
    );
    assert!(
        u["document"]
            .as_str()
            .unwrap_or_default()
            .ends_with("spec.yaml:1"),
        "{u:#}"
    );
    let warning = u["warning"].as_str().unwrap_or_default();
    assert!(
        warning.contains("its 1 hostCollectors were not run"),
        "{warning}"
    );
    assert!(warning.contains("was not followed"), "{warning}");
    assert!(!run.record.to_string().contains("hidden"));
    assert!(
        ["succeeded", "succeeded-with-errors"]
            .contains(&run.record["status"].as_str().unwrap_or("")),
        "{:#}",
        run.record
    );

    // One request, with troubleshoot's User-Agent; the fetched spec's own uri was not followed.
    assert_eq!(
        server.requests(),
        [(
            "/spec.yaml".to_string(),
            "Replicated_Troubleshoot/v1beta1".to_string()
        )]
    );
    assert!(placeholder.requests().is_empty());
}

#[test]
fn without_follow_spec_uri_the_uri_is_never_requested() {
    let server = SpecServer::start(upstream("http://127.0.0.1:1/x", Path::new("/nonexistent")));
    let local = document("local", &server.url("/spec.yaml"));
    for follow in [None, Some(false)] {
        let run = run(&local, follow, &[]);
        assert_eq!(run.text("local/used.txt"), "from local");
        assert!(!run.exists("upstream/used.txt"));
        assert!(spec_uris(&run.record).is_empty(), "{:#}", run.record);
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());

    // `validate` accepts the opt-in, offline: it never fetches.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("spec.yaml"), &local).expect("spec");
    let job = dir.path().join("job.yaml");
    std::fs::write(
        &job,
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: v\nspec:\n  schedule: \"0 2 * * *\"\n  collect:\n    followSpecURI: true\n    specs: [spec.yaml]\n",
    )
    .expect("job");
    let out = support::agent(&dir.path().join("state"))
        .arg("validate")
        .arg(&job)
        .output()
        .expect("validate");
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    assert!(server.requests().is_empty(), "validate fetched the uri");
}

#[test]
fn failed_fetches_fall_back_to_the_spec_as_written_with_a_warning() {
    let server = SpecServer::start(upstream("http://127.0.0.1:1/x", Path::new("/nonexistent")));
    let cases = [
        (
            "error",
            server.url("/error"),
            "the server answered HTTP 500",
        ),
        ("slow", server.url("/slow"), "no complete answer within 1s"),
        (
            "huge",
            server.url("/huge"),
            "the answer is larger than 16777216 bytes",
        ),
        (
            "moved",
            server.url("/moved"),
            "a redirect to another scheme (`https:`) is not followed",
        ),
        (
            "notfound",
            server.url("/missing"),
            "the server answered HTTP 404",
        ),
        (
            "oci",
            "oci://registry.example/app".to_string(),
            "only http and https URIs are fetched, not `oci:`",
        ),
    ];
    let spec: Vec<String> = cases
        .iter()
        .map(|(name, uri, _)| document(name, uri))
        .collect();
    let run = run(
        &spec.join("---\n"),
        Some(true),
        &[("TROUBLESHOOT_AGENT_SPEC_URI_TIMEOUT", "1s")],
    );
    let uris = spec_uris(&run.record);
    assert_eq!(uris.len(), cases.len(), "{:#}", run.record);
    for ((name, _, why), u) in cases.iter().zip(&uris) {
        assert_eq!(
            run.text(&format!("{name}/used.txt")),
            format!("from {name}")
        );
        assert_eq!(u["status"], "fallback", "{u:#}");
        let warning = u["warning"].as_str().unwrap_or_default();
        assert!(
            warning.contains(why) && warning.ends_with("; the spec was used as written"),
            "{name}: {warning}"
        );
    }
    assert!(!run.exists("upstream/used.txt"));
    assert!(
        ["succeeded", "succeeded-with-errors"]
            .contains(&run.record["status"].as_str().unwrap_or("")),
        "{:#}",
        run.record
    );
}

/// A spec stored in the cluster (`collect.clusterSpecs`) names a `uri:` too: with the opt-in it
/// is followed like a file's, and its record no longer says it was not fetched.
#[test]
fn a_cluster_stored_spec_uri_is_followed_with_the_opt_in() {
    use crate::support::kube_api::{Cluster, KubeApiServer};
    let marker_dir = tempfile::tempdir().expect("tempdir");
    let marker = marker_dir.path().join("ran-as-root");
    let served = upstream("http://127.0.0.1:1/next.yaml", &marker);
    let server = SpecServer::start(served);
    let mut cluster = Cluster::baseline();
    cluster.add_namespace("apps");
    cluster
        .insert_value(
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "bundle", "namespace": "apps",
                             "labels": {"troubleshoot.sh/kind": "support-bundle"}},
                "data": {"support-bundle-spec": document("stored", &server.url("/spec.yaml"))}}),
            None,
        )
        .expect("insert");
    let api = KubeApiServer::start(cluster);
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs");
    let kubeconfig = dir.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig, "default")
        .expect("kubeconfig");
    let job = format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: kube\nspec:\n  schedule: \"0 2 * * *\"\n  collect:\n    kubeconfig: {}\n    followSpecURI: true\n    clusterSpecs: {{namespaces: [apps]}}\n",
        kubeconfig.display()
    );
    std::fs::write(jobs.join("kube.yaml"), job).expect("job");
    let run = Triggered::run(dir, &[], Duration::from_secs(60));

    assert_eq!(run.text("upstream/used.txt"), "from upstream");
    assert!(!run.exists("stored/used.txt"));
    assert!(!marker.exists(), "a host collector of a fetched spec ran");
    let stored = &run.record["clusterSpecs"][0];
    assert_eq!(stored["status"], "loaded", "{stored:#}");
    assert!(stored["error"].is_null(), "{stored:#}");
    let uris = spec_uris(&run.record);
    assert_eq!(uris.len(), 1, "{:#}", run.record);
    assert_eq!(uris[0]["status"], "fetched");
    assert_eq!(
        uris[0]["document"],
        "cluster:apps/ConfigMap/bundle/support-bundle-spec:1"
    );
    assert_eq!(server.requests().len(), 1);
}

/// The proxy environment is honoured: the cluster client and the spec fetch each go to
/// `HTTPS_PROXY`/`HTTP_PROXY` (a closed port here) unless `NO_PROXY` names the host. Before kube's
/// `http-proxy` feature, any `HTTPS_PROXY` failed every cluster connection.
#[test]
fn proxy_variables_are_honoured_by_the_cluster_client_and_the_spec_fetch() {
    use crate::support::kube_api::{Cluster, KubeApiServer};
    let server = SpecServer::start(upstream("http://127.0.0.1:1/x", Path::new("/nonexistent")));
    let mut cluster = Cluster::baseline();
    cluster.add_namespace("apps");
    // Through `localhost`, which NO_PROXY does not name: the fetch goes to the closed proxy.
    let uri = format!("http://localhost:{}/spec.yaml", server.addr.port());
    cluster
        .insert_value(
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "bundle", "namespace": "apps",
                             "labels": {"troubleshoot.sh/kind": "support-bundle"}},
                "data": {"support-bundle-spec": document("stored", &uri)}}),
            None,
        )
        .expect("insert");
    let api = KubeApiServer::start(cluster);
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs");
    let kubeconfig = dir.path().join("kubeconfig");
    api.write_kubeconfig(&kubeconfig, "default")
        .expect("kubeconfig");
    let job = format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: kube\nspec:\n  schedule: \"0 2 * * *\"\n  collect:\n    kubeconfig: {}\n    followSpecURI: true\n    clusterSpecs: {{namespaces: [apps]}}\n",
        kubeconfig.display()
    );
    std::fs::write(jobs.join("kube.yaml"), job).expect("job");
    let closed = support::ports::ClosedPort::new();
    let proxy = format!("http://{}", closed.addr());
    let run = Triggered::run(
        dir,
        &[
            ("HTTPS_PROXY", &proxy),
            ("HTTP_PROXY", &proxy),
            ("NO_PROXY", "127.0.0.1"),
        ],
        Duration::from_secs(60),
    );
    // The API server (127.0.0.1, in NO_PROXY) was reached directly.
    assert_eq!(
        run.record["clusterSpecs"][0]["status"], "loaded",
        "{:#}",
        run.record["clusterSpecs"]
    );
    // The spec's uri went to the proxy, which refused: the stored spec was used as written.
    assert_eq!(run.text("stored/used.txt"), "from stored");
    let uris = spec_uris(&run.record);
    assert_eq!(uris[0]["status"], "fallback", "{:#}", run.record);
    assert!(
        uris[0]["warning"]
            .as_str()
            .unwrap_or_default()
            .starts_with("cannot fetch it:"),
        "{:#}",
        uris[0]
    );
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}
