//! A test Kubernetes API server (test support, never shipped in the binary).
//!
//! It replays a real cluster — the k3s v1.31 support bundle `../shared/compat/bundles/baseline-v0.12x.tar.gz`
//! (`Cluster::baseline`), the analyzer fixtures of `../shared/compat/cluster-resources/`
//! (`Cluster::unhealthy`) — or a deterministic generated cluster of any size built from the
//! baseline's own objects (`Cluster::generated`), over plain HTTP on 127.0.0.1. `kubectl` and the
//! `kube` crate talk to it as to a real API server (kube accepts `http://` cluster URLs: its rustls
//! connector is built with `enforce_http(false)` and does not force https).
//!
//! Served:
//! - `/version` (the bundle's `cluster-info/cluster_version.json`), `/healthz`, `/livez`, `/readyz`;
//! - legacy discovery: `/api`, `/apis`, `/apis/<group>`, `/api/v1`, `/apis/<group>/<version>`, from the
//!   bundle's `groups.json` and `resources.json` (25 groups, custom resources included). Aggregated
//!   discovery (`as=APIGroupDiscoveryList`) is not served: the plain `application/json` answer makes
//!   client-go and kube fall back to the legacy endpoints, as they do with older servers;
//! - every listable resource in discovery, cluster-scoped and namespaced, all namespaces or one:
//!   `GET /api/v1/pods`, `/api/v1/namespaces/NS/pods`, `/apis/apps/v1/deployments`,
//!   `/apis/helm.cattle.io/v1/namespaces/NS/helmcharts`, ... Lists are real List objects
//!   (`kind: PodList`, `apiVersion`, `metadata.resourceVersion`; built-in items without
//!   `kind`/`apiVersion`, custom-resource items with them, as the real API does), in etcd key order
//!   (namespace, then name), streamed from pre-serialized items. Resources in discovery with no
//!   objects in the bundle answer an empty list (`"items":[]`);
//! - pagination: `limit` and `continue` (tokens shaped like the API server's), `metadata.continue`
//!   and `remainingItemCount` (omitted when a selector is given, as the real API does);
//! - `labelSelector` (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`) and `fieldSelector`
//!   (`metadata.name`, `metadata.namespace`, and the per-kind fields the real API supports for pods,
//!   events, secrets, nodes; any other field is a 400 "field label not supported");
//! - single objects (`kind`/`apiVersion` first), 404 Status for missing ones;
//! - pod logs `pods/P/log` with `container`, `previous`, `tailLines`, `sinceSeconds`, `sinceTime`,
//!   `limitBytes`, `timestamps`, and the real 400s (container required, invalid container, no
//!   previous terminated container). Logs come from the bundle where it has them, from
//!   `Cluster::set_log`, else a synthetic 20-line log per container, one line a minute up to the
//!   server's start;
//! - `POST .../selfsubjectrulesreviews` (rules from the bundle's `auth-cani-list/`, the `default`
//!   namespace's for other namespaces) and `.../selfsubjectaccessreviews`, with JSON or protobuf
//!   request bodies (kubectl sends protobuf); both honour denials;
//! - exec/attach over websockets (`v5.channel.k8s.io`, `v4.channel.k8s.io`) with canned outputs
//!   (`Cluster::add_exec`, `echo`, `cat` of stdin, `sleep N` answering after N seconds,
//!   `tar -C DIR -cf - NAME` giving a real archive of `NAME/copied.txt`, else exit 127) — see
//!   `exec.rs`; SPDY is refused with a 400;
//! - `POST /api/v1/namespaces/NS/pods` (a pod that is Pending, Running, then Succeeded — or, with
//!   restartPolicy Always, Running with its container in CrashLoopBackOff and restarted once —
//!   after `Cluster::pod_run_secs` or `KubeApiServer::set_run_pod_secs`, with logs from
//!   `KubeApiServer::set_run_pod_log` and scheduler/kubelet events; Pending in ImagePullBackOff
//!   for an image of `KubeApiServer::set_image_missing`) and `DELETE .../pods/P`;
//! - `POST .../apis/apps/v1/namespaces/NS/daemonsets` (`generateName` too), `GET` and `DELETE` of one
//!   (`daemonsets.rs`): one pod per node at once, run like created pods (for
//!   `KubeApiServer::set_daemonset_secs` by name prefix), their status following the nodes and the
//!   running pods, the pods deleted with the DaemonSet; pods created on a node (DaemonSet pods,
//!   hostname nodeSelector) log `KubeApiServer::set_node_log`; a hostPath of
//!   `KubeApiServer::set_host_path_missing` keeps pods ContainerCreating with a FailedMount event;
//! - `watch=true` on any list, by polling the store (ADDED / MODIFIED / DELETED lines) until
//!   `timeoutSeconds` (default 30 s); from a `resourceVersion`, only later changes; with
//!   `sendInitialEvents=true` (client-go's streaming lists) the initial state ends with the
//!   `k8s.io/initial-events-end` bookmark;
//! - RBAC denials (`Cluster::deny`, `KubeApiServer::deny`): 403 Status bodies worded like the real
//!   API's, and access reviews that agree;
//! - faults per path glob (`KubeApiServer::fail`): a Status error of any code, 403, a delay, a
//!   non-JSON body, a body cut mid-way; `KubeApiServer::stop` for a server that is down.
//!
//! Generated clusters (`GenSpec`, `generated:pods=N,deployments=N,namespaces=N,configmaps=N,events=N`)
//! add to the baseline namespaces `gen-0000`...: per deployment one ReplicaSet and one Service, pods
//! spread round-robin over the ReplicaSets (every 50th in CrashLoopBackOff with a previous log),
//! per namespace a ServiceAccount, ConfigMaps and Events; objects are the baseline's coredns, kube-dns,
//! ... objects with new names, uids, labels and owners, rendered from pre-serialized templates.
//!
//! - create (POST) and update (PUT) of `coordination.k8s.io/v1` leases and core configmaps with
//!   the real optimistic concurrency (`writes.rs`): a new `resourceVersion` on every write, 409
//!   `AlreadyExists` on a second create, 409 `Conflict` on an update with a stale
//!   `resourceVersion`;
//! - node and service proxies (`nodes/N/proxy/...`, `services/NAME:PORT/proxy/...`) and aggregated
//!   API paths (`/apis/custom.metrics.k8s.io/...`) answering what `KubeApiServer::serve` set
//!   (`proxy.rs`: RBAC denials of `nodes/proxy`/`services/proxy` honoured, 404 for a missing
//!   object, 503 for a backend not set); custom resource types added with
//!   `Cluster::add_custom_type` (Longhorn's CRDs);
//! - a partition of one client (`KubeApiServer::black_hole` by bearer token, see
//!   `kubeconfig_with_token`): its requests are never answered until `heal`.
//!
//! Not served: protobuf responses (JSON is always answered), server-side `Table` output (kubectl falls back
//! to its own printing), aggregated discovery, OpenAPI (`/openapi/v2`, `/openapi/v3` are 404: kubectl
//! commands that validate against it need `--validate=false`), create/update of anything but
//! pods, daemonsets, leases and configmaps, patch, `events.k8s.io` events (the same events are served through core v1), `resourceVersion`
//! semantics on reads (every read sees the latest state), SPDY exec, port-forward, and proxies or
//! aggregated APIs beyond what `KubeApiServer::serve` sets.

#![allow(dead_code, unused_imports)] // each test binary uses a different part of this module

pub mod cluster;
pub mod daemonsets;
pub mod exec;
pub mod http;
pub mod proxy;
pub mod selector;
pub mod standalone;
pub mod writes;

pub use cluster::{Cluster, Denial, ExecOutput, GenSpec};
pub use http::{Fault, Recorded};

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::{FaultRule, Shared};

/// A running test API server on 127.0.0.1; stops when dropped.
pub struct KubeApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl KubeApiServer {
    /// Starts serving `cluster` on a free port, on its own runtime thread (usable from sync and
    /// async tests alike).
    pub fn start(cluster: Cluster) -> KubeApiServer {
        KubeApiServer::start_on(cluster, 0).expect("start the test API server")
    }

    /// Starts on a given port (0: any free one).
    pub fn start_on(cluster: Cluster, port: u16) -> std::io::Result<KubeApiServer> {
        let shared = Arc::new(Shared::new(cluster));
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let app = axum::Router::new()
            .fallback(http::handle)
            .with_state(shared.clone());
        let thread = std::thread::Builder::new()
            .name("kube-test-server".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("server runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    tokio::select! {
                        _ = axum::serve(listener, app) => {}
                        _ = rx => {}
                    }
                });
                // Dropping the runtime aborts open connections: the server is down, not draining.
                rt.shutdown_timeout(Duration::from_millis(100));
            })?;
        Ok(KubeApiServer {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server: the port refuses connections from now on (an API server that is down).
    pub fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Applies `fault` to every request whose path matches `pattern` (a glob; `*` does not cross `/`).
    pub fn fail(&self, pattern: &str, fault: Fault) -> &Self {
        self.add_fault(pattern, None, fault, None)
    }

    /// Applies `fault` to the next `times` matching requests only.
    pub fn fail_times(&self, pattern: &str, fault: Fault, times: usize) -> &Self {
        self.add_fault(pattern, None, fault, Some(times))
    }

    /// Applies `fault` to matching requests of one method only (`GET`, `POST`, ...).
    pub fn fail_method(&self, method: &str, pattern: &str, fault: Fault) -> &Self {
        let m = method.parse().expect("an HTTP method");
        self.add_fault(pattern, Some(m), fault, None)
    }

    fn add_fault(
        &self,
        pattern: &str,
        method: Option<axum::http::Method>,
        fault: Fault,
        remaining: Option<usize>,
    ) -> &Self {
        let pattern = glob::Pattern::new(pattern).expect("a valid path glob");
        self.shared.faults.lock().expect("faults").push(FaultRule {
            pattern,
            method,
            fault,
            remaining,
        });
        self
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().expect("faults").clear();
    }

    /// Denies every verb on `resource` of `group` (in `namespace`, or everywhere): requests get the
    /// real 403 and the access reviews say so.
    pub fn deny(&self, group: &str, resource: &str, namespace: Option<&str>) -> &Self {
        self.shared.denials.lock().expect("denials").push(Denial {
            group: group.to_string(),
            resource: resource.to_string(),
            namespace: namespace.map(str::to_string),
        });
        self
    }

    /// The log a pod created later with this name will have.
    pub fn set_run_pod_log(&self, pod: &str, text: &str) {
        self.shared
            .run_pod_logs
            .write()
            .expect("run pod logs")
            .insert(pod.to_string(), text.to_string());
    }

    /// How long a pod created later with this name runs before it succeeds; `f64::INFINITY`: it
    /// never completes (it stays Running, as a server process would).
    pub fn set_run_pod_secs(&self, pod: &str, secs: f64) {
        self.shared
            .run_pod_secs
            .write()
            .expect("run pod secs")
            .insert(pod.to_string(), secs);
    }

    /// Makes `image` impossible to pull: pods created later with it stay Pending in
    /// ImagePullBackOff.
    pub fn set_image_missing(&self, image: &str) {
        self.shared
            .missing_images
            .write()
            .expect("missing images")
            .insert(image.to_string());
    }

    /// Answers GETs of `path` (a node or service proxy path, or an aggregated API's such as
    /// `/apis/custom.metrics.k8s.io/v1beta1/...`) with `status` and the JSON text `body`.
    pub fn serve(&self, path: &str, status: u16, body: &str) {
        self.shared
            .raw
            .write()
            .expect("raw answers")
            .insert(path.to_string(), (status, body.to_string()));
    }

    /// The log pods created later on `node` have (DaemonSet pods, pods pinned by nodeSelector).
    pub fn set_node_log(&self, node: &str, text: &str) {
        (self.shared.daemons.node_logs.write().expect("node logs"))
            .insert(node.to_string(), text.to_string());
    }

    /// How long the pods of DaemonSets created later whose name starts with `prefix` run
    /// (`f64::INFINITY`: they never finish).
    pub fn set_daemonset_secs(&self, prefix: &str, secs: f64) {
        (self.shared.daemons.run_secs.write().expect("run secs")).insert(prefix.to_string(), secs);
    }

    /// Makes `path` missing on every node: pods mounting it never start (FailedMount).
    pub fn set_host_path_missing(&self, path: &str) {
        (self
            .shared
            .daemons
            .missing_host_paths
            .write()
            .expect("missing"))
        .insert(path.to_string());
    }

    /// Every DaemonSet created through the API, as (namespace, name).
    pub fn created_daemonsets(&self) -> Vec<(String, String)> {
        self.shared.daemons.created.read().expect("created").clone()
    }

    /// How many objects of `group`/`plural` (any version served) carry the label `key` now.
    pub fn count_labelled(&self, group: &str, plural: &str, key: &str) -> usize {
        let cluster = &self.shared.cluster;
        let Some(t) = cluster
            .types
            .iter()
            .find(|t| t.group == group && t.plural == plural)
        else {
            return 0;
        };
        cluster
            .store(t)
            .snapshot()
            .iter()
            .filter(|i| i.labels.contains_key(key))
            .count()
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().expect("requests").clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.requests.lock().expect("requests").clear();
    }

    /// Whether a pod exists now (created pods disappear when deleted).
    pub fn has_pod(&self, namespace: &str, name: &str) -> bool {
        let t = self
            .shared
            .cluster
            .type_at("", "v1", "pods")
            .expect("pods type");
        self.shared.cluster.store(t).get(namespace, name).is_some()
    }

    /// A kubeconfig (YAML) whose current context points at this server with a bearer token.
    pub fn kubeconfig(&self, namespace: &str) -> String {
        kubeconfig_for(&self.url(), namespace)
    }

    /// A kubeconfig like [`KubeApiServer::kubeconfig`] with its own bearer `token`: the
    /// server tells its client apart by it (see [`KubeApiServer::black_hole`]).
    pub fn kubeconfig_with_token(&self, namespace: &str, token: &str) -> String {
        kubeconfig_for(&self.url(), namespace)
            .replace("token: test-token", &format!("token: {token}"))
    }

    /// Cuts off the client using `token` (a network partition): its requests are received but
    /// never answered, from now until [`KubeApiServer::heal`].
    pub fn black_hole(&self, token: &str) {
        (self.shared.black_holed.lock().expect("black holes")).insert(token.to_string());
    }

    /// Answers the client using `token` again (requests already swallowed stay unanswered).
    pub fn heal(&self, token: &str) {
        (self.shared.black_holed.lock().expect("black holes")).remove(token);
    }

    /// A stored object as a single GET returns it (`None`: not found), e.g.
    /// `object("coordination.k8s.io", "v1", "leases", "default", "troubleshoot-agent")`.
    pub fn object(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        namespace: &str,
        name: &str,
    ) -> Option<serde_json::Value> {
        let t = self.shared.cluster.type_at(group, version, plural)?;
        let item = self.shared.cluster.store(t).get(namespace, name)?;
        serde_json::from_slice(&http::full_object(t, &item)).ok()
    }

    /// Writes `kubeconfig(namespace)` to `path`.
    pub fn write_kubeconfig(&self, path: &Path, namespace: &str) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig(namespace))
    }
}

impl Drop for KubeApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A kubeconfig for any server URL (also for a port nothing listens on).
pub fn kubeconfig_for(url: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: test\n  cluster:\n    server: {url}\n\
         users:\n\
         - name: test\n  user:\n    token: test-token\n\
         contexts:\n\
         - name: test\n  context:\n    cluster: test\n    user: test\n    namespace: {namespace}\n\
         current-context: test\n"
    )
}
