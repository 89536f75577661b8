//! In-cluster collectors through the Kubernetes API (kube + k8s-openapi, rustls), writing
//! troubleshoot's paths and JSON shapes (TROUBLESHOOT-FORMAT.md §1.3–§1.7).
//!
//! Lists are read in pages and written item by item, so memory does not grow with the cluster;
//! every call has its own timeout, and a failed call becomes an entry in the matching
//! `*-errors.json`, never the end of the run.

pub mod access;
pub mod api;
mod capture;
pub mod ceph;
pub mod certificates;
mod copy;
mod daemonset;
pub mod db;
pub mod dns;
mod entries;
pub mod etcd;
pub mod exec;
mod goldpinger;
pub mod helm;
pub mod hostcopy;
mod info;
pub mod jsonout;
pub(crate) mod logs;
pub mod longhorn;
pub mod metrics;
pub mod namespaces;
mod objects;
pub mod permissions;
mod podrun;
pub mod podstatus;
pub mod rbac;
pub mod registry;
mod resources;
mod run;
pub mod rundaemonset;
pub mod runpod;
mod sonobuoy;
pub mod sysctl;
mod untar;

use crate::collect::{CollectorOutcome, CollectorStatus, Error};
use crate::spec::Entry;
use api::Api;
use chrono::{DateTime, Utc};
pub use entries::{Planned, plan_entries, title_of};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// How to reach the cluster and how hard to pull.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// The kubeconfig file (job, else settings); `None` means kubectl's discovery.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (job, else settings).
    pub context: Option<String>,
    /// `collect.namespaces` of the job.
    pub namespaces: Vec<String>,
    /// `collect.since`: only logs newer than this (drops line and byte caps, as `--since`).
    pub since: Option<Duration>,
    /// Collect clusterInfo, clusterResources and logs without a spec.
    pub auto_discovery: bool,
    /// Items per list page.
    pub page_size: u32,
    /// API calls in flight at most, per fan-out.
    pub max_parallel: usize,
    /// Timeout of each API call.
    pub call_timeout: Duration,
    /// Bytes one `copy` collector takes out of one pod at most.
    pub copy_size_cap: u64,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            kubeconfig: None,
            context: None,
            namespaces: Vec::new(),
            since: None,
            auto_discovery: false,
            page_size: 500,
            max_parallel: 8,
            call_timeout: Duration::from_secs(30),
            copy_size_cap: 4 << 30,
        }
    }
}

/// The in-cluster collector types this build runs.
pub const SUPPORTED: &[&str] = &[
    "clusterInfo",
    "clusterResources",
    "logs",
    "configMap",
    "secret",
    "data",
    "http",
    "exec",
    "copy",
    "runPod",
    "run",
    // Issue 20, through the API (src/collect/cluster/{helm,metrics,goldpinger,ceph,longhorn,sonobuoy}.rs).
    "helm",
    "nodeMetrics",
    "customMetrics",
    "supportBundleMetadata",
    "goldpinger",
    "ceph",
    "longhorn",
    "sonobuoy",
    "registryImages",
    "postgres",
    "mysql",
    "mssql",
    "redis",
    "clickhouse",
    "copyFromHost",
    "collectd",
    "runDaemonSet",
    "sysctl",
    "dns",
    "etcd",
    "certificates",
];

/// Collectors that create objects and watch the cancellation themselves, so that what they
/// created is deleted before they return.
const CLEANS_UP: &[&str] = &[
    "copyFromHost",
    "collectd",
    "runDaemonSet",
    "sysctl",
    "dns",
    "etcd",
    "certificates",
];

/// The reason recorded for in-cluster types this build does not run yet.
pub const NOT_YET: &str = "not available in this build yet";

/// Files written by one collector, bundle-relative.
#[derive(Debug, Default)]
pub struct Written {
    files: Mutex<BTreeSet<String>>,
}

impl Written {
    fn add(&self, rel: String) {
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(rel);
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.files.lock().unwrap_or_else(|e| e.into_inner()))
            .into_iter()
            .collect()
    }
}

/// A boxed future that borrows from the collector's context.
pub(crate) type Task<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Runs `tasks` with at most `limit` in flight; results in completion order.
pub(crate) async fn run_bounded<T>(tasks: Vec<Task<'_, T>>, limit: usize) -> Vec<T> {
    use futures_util::StreamExt;
    futures_util::stream::iter(tasks)
        .buffer_unordered(limit.max(1))
        .collect()
        .await
}

/// What every collector gets: the API, where to write, the clock reading of the run.
pub(crate) struct Ctx {
    pub api: Api,
    pub root: PathBuf,
    pub opts: ClusterOptions,
    pub default_namespace: String,
    pub cancel: CancellationToken,
    pub written: Written,
    /// SelfSubjectRulesReview rules per namespace (None: the review failed).
    rules: tokio::sync::Mutex<HashMap<String, Option<Arc<Vec<Value>>>>>,
}

impl Ctx {
    /// The absolute path of bundle-relative `rel` (components already safe).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes a whole small file at `rel` and records it.
    pub fn write(&self, rel: &str, text: &str) -> Result<(), Error> {
        let path = self.path(rel);
        jsonout::write_file(&path, text).map_err(|e| Error::write(&path, e))?;
        self.written.add(rel.to_string());
        Ok(())
    }

    /// Records a file written some other way (streamed, symlink).
    pub fn record(&self, rel: &str) {
        self.written.add(rel.to_string());
    }

    /// The RBAC rules of this identity in `ns`, from one SelfSubjectRulesReview (cached).
    pub async fn rules(&self, ns: &str) -> Result<Arc<Vec<Value>>, api::ApiError> {
        if let Some(Some(r)) = self.rules.lock().await.get(ns) {
            return Ok(r.clone());
        }
        let review = serde_json::json!({
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectRulesReview",
            "spec": {"namespace": ns},
        });
        let answer = self
            .api
            .post(
                "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
                &review,
            )
            .await;
        let rules = answer.map(|a| Arc::new(rbac::policy_rules(&a)));
        self.rules
            .lock()
            .await
            .insert(ns.to_string(), rules.as_ref().ok().cloned());
        rules
    }
}

/// Runs the in-cluster collectors of a job (plus the automatic ones) into `root`.
///
/// Without a cluster configuration every collector is recorded as failed with
/// [`access::NO_CONFIG`]; types this build lacks are recorded as skipped with [`NOT_YET`].
pub async fn collect(
    entries: &[Entry],
    root: &Path,
    opts: &ClusterOptions,
    cancel: CancellationToken,
    now: DateTime<Utc>,
) -> Vec<CollectorOutcome> {
    let plan = plan_entries(entries, opts.auto_discovery);
    if plan.is_empty() {
        return Vec::new();
    }
    let mut outcomes = Vec::new();
    let mut runnable = Vec::new();
    for item in plan {
        if item.entry.exclude {
            outcomes.push(skipped(&item, "excluded"));
        } else if !SUPPORTED.contains(&item.entry.kind.as_str()) {
            outcomes.push(skipped(&item, NOT_YET));
        } else {
            runnable.push(item);
        }
    }
    if runnable.is_empty() {
        return outcomes;
    }
    let needs_cluster = runnable.iter().any(|i| !runs_locally(&i.entry));
    let access = if needs_cluster {
        match access::discover_here(opts.kubeconfig.as_deref()) {
            None => Connection::Failed(access::NO_CONFIG.to_string()),
            Some(source) => {
                match access::connect(&source, opts.context.as_deref(), opts.call_timeout).await {
                    Ok(a) => Connection::Ready(a),
                    Err(e) => Connection::Failed(format!("{}: {e}", access::NO_CONFIG)),
                }
            }
        }
    } else {
        Connection::NotNeeded
    };
    let (api, default_namespace) = match &access {
        Connection::Ready(a) => (
            Some(Api::new(a.client.clone(), opts.call_timeout)),
            a.default_namespace.clone(),
        ),
        _ => (None, "default".to_string()),
    };
    let ctx = Arc::new(CtxSlot {
        api,
        root: root.to_path_buf(),
        opts: opts.clone(),
        default_namespace,
        now,
        cancel: cancel.clone(),
    });
    // clusterResources runs first, so its pod list does not show pods other collectors start.
    let (first, rest): (Vec<_>, Vec<_>) = runnable
        .into_iter()
        .partition(|i| i.entry.kind == "clusterResources" || i.entry.kind == "clusterInfo");
    for item in first {
        outcomes.push(run_one(&ctx, &access, item, &cancel).await);
    }
    // Copy collectors run last, as troubleshoot orders them.
    let (copies, rest): (Vec<_>, Vec<_>) = rest.into_iter().partition(|i| i.entry.kind == "copy");
    for batch in [rest, copies] {
        let sem = Arc::new(tokio::sync::Semaphore::new(opts.max_parallel.clamp(1, 8)));
        let mut set = tokio::task::JoinSet::new();
        for (i, item) in batch.into_iter().enumerate() {
            let ctx = ctx.clone();
            let access = access.clone();
            let cancel = cancel.clone();
            let sem = sem.clone();
            set.spawn(async move {
                let _permit = sem.acquire_owned().await;
                (i, run_one(&ctx, &access, item, &cancel).await)
            });
        }
        let mut later = Vec::new();
        while let Some(done) = set.join_next().await {
            match done {
                Ok(pair) => later.push(pair),
                Err(e) => tracing::error!("cluster collector task failed: {e}"),
            }
        }
        later.sort_by_key(|(i, _)| *i);
        outcomes.extend(later.into_iter().map(|(_, o)| o));
    }
    write_skipped(root, &outcomes, now);
    outcomes
}

/// The cluster connection of one collection.
#[derive(Clone)]
enum Connection {
    /// Connected.
    Ready(access::Access),
    /// Only local collectors (`data`, `http`, databases) run: no connection was tried.
    NotNeeded,
    /// No connection: the message every collector that needs one fails with (it goes into each
    /// collector's error file and record, so it is kept as text).
    Failed(String),
}

/// What [`collect`] shares with each collector before a [`Ctx`] is made for it.
struct CtxSlot {
    api: Option<Api>,
    root: PathBuf,
    opts: ClusterOptions,
    default_namespace: String,
    now: DateTime<Utc>,
    cancel: CancellationToken,
}

fn skipped(item: &Planned, reason: &str) -> CollectorOutcome {
    CollectorOutcome::skipped(&item.entry.kind, &item.title, reason)
}

async fn run_one(
    slot: &CtxSlot,
    access: &Connection,
    item: Planned,
    cancel: &CancellationToken,
) -> CollectorOutcome {
    let started = Instant::now();
    let failed = |message: String, files: Vec<String>| CollectorOutcome {
        kind: item.entry.kind.clone(),
        title: item.title.clone(),
        status: CollectorStatus::Failed,
        files,
        duration: started.elapsed(),
        error: Some(message),
    };
    if cancel.is_cancelled() {
        return skipped(&item, "cancelled");
    }
    let local = runs_locally(&item.entry);
    let api = match (&slot.api, access) {
        (Some(api), _) => api.clone(),
        (None, Connection::Failed(message)) if !local => {
            let files = write_collector_error(&slot.root, &item.title, message, slot.now)
                .into_iter()
                .collect();
            return failed(message.clone(), files);
        }
        // Local collectors need no cluster; give them a client that is never used.
        (None, _) => match placeholder_api(slot.opts.call_timeout) {
            Some(api) => api,
            None => return failed("cannot start an HTTP client".into(), Vec::new()),
        },
    };
    let ctx = Ctx {
        api,
        root: slot.root.clone(),
        opts: slot.opts.clone(),
        default_namespace: slot.default_namespace.clone(),
        cancel: slot.cancel.clone(),
        written: Written::default(),
        rules: tokio::sync::Mutex::new(HashMap::new()),
    };
    // troubleshoot's RBAC pre-check: a collector the identity may not run is skipped and listed
    // in skipped-collectors.json; clusterResources always runs.
    if !local && let Some(reason) = rbac_check(&ctx, &item).await {
        return CollectorOutcome {
            kind: item.entry.kind.clone(),
            title: item.title.clone(),
            status: CollectorStatus::Skipped {
                reason: format!("insufficient RBAC permissions: {}", reason.join("; ")),
            },
            files: Vec::new(),
            duration: started.elapsed(),
            error: None,
        };
    }
    // runPod watches the cancellation itself, so that its pod is deleted before it returns.
    let result = if matches!(item.entry.kind.as_str(), "runPod" | "run")
        || CLEANS_UP.contains(&item.entry.kind.as_str())
    {
        dispatch(&ctx, &item).await
    } else {
        tokio::select! {
            r = dispatch(&ctx, &item) => r,
            () = cancel.cancelled() => Err(Error::Cancelled),
        }
    };
    let mut files = ctx.written.take();
    match result {
        Ok(()) => CollectorOutcome {
            kind: item.entry.kind.clone(),
            title: item.title.clone(),
            status: CollectorStatus::Succeeded,
            files,
            duration: started.elapsed(),
            error: None,
        },
        Err(e) => {
            let message = e.to_string();
            files.extend(write_collector_error(
                &slot.root,
                &item.title,
                &message,
                slot.now,
            ));
            failed(message, files)
        }
    }
}

/// Whether a collector needs no Kubernetes API: `data`, `http`, and the database collectors
/// without a `tls.secret`.
fn runs_locally(entry: &Entry) -> bool {
    match entry.kind.as_str() {
        "data" => true,
        // An `http` request's `tls` naming a Secret or a `valueFrom` is read from the cluster.
        "http" => ["get", "post", "put"].iter().all(|m| {
            let tls = &entry.body[*m]["tls"];
            !tls["secret"].is_object()
                && !["cacert", "clientCert", "clientKey"]
                    .iter()
                    .any(|k| tls[*k].get("valueFrom").is_some())
        }),
        kind => db::runs_locally(kind, &entry.body),
    }
}

fn placeholder_api(timeout: Duration) -> Option<Api> {
    let config = kube::Config::new(http::Uri::from_static("http://127.0.0.1:9"));
    kube::Client::try_from(config)
        .ok()
        .map(|c| Api::new(c, timeout))
}

async fn dispatch(ctx: &Ctx, item: &Planned) -> Result<(), Error> {
    let body = &item.entry.body;
    match item.entry.kind.as_str() {
        "clusterInfo" => info::cluster_info(ctx).await,
        "clusterResources" => resources::collect(ctx, body).await,
        "logs" => logs::collect(ctx, body, item.entry.collector_name.as_deref()).await,
        "configMap" => objects::collect(ctx, objects::Kind::ConfigMap, body).await,
        "secret" => objects::collect(ctx, objects::Kind::Secret, body).await,
        "data" => run::data(ctx, body, item.entry.collector_name.as_deref()),
        "http" => run::http(ctx, body, item.entry.collector_name.as_deref()).await,
        "exec" => exec::exec(ctx, body, item.entry.collector_name.as_deref()).await,
        "copy" => copy::copy(ctx, body, item.entry.collector_name.as_deref()).await,
        "runPod" => runpod::collect(ctx, body, item.entry.collector_name.as_deref()).await,
        "run" => {
            let converted = runpod::run_as_run_pod(body);
            runpod::collect(ctx, &converted, item.entry.collector_name.as_deref()).await
        }
        "helm" => helm::collect(ctx, body).await,
        "nodeMetrics" => metrics::node_metrics(ctx, body).await,
        "customMetrics" => metrics::custom_metrics(ctx, body).await,
        "supportBundleMetadata" => metrics::support_bundle_metadata(ctx, body).await,
        "goldpinger" => goldpinger::collect(ctx, body).await,
        "ceph" => ceph::collect(ctx, body, item.entry.collector_name.as_deref()).await,
        "longhorn" => longhorn::collect(ctx, body).await,
        "sonobuoy" => sonobuoy::collect(ctx, body).await,
        "registryImages" => {
            registry::collect(ctx, body, item.entry.collector_name.as_deref()).await
        }
        "copyFromHost" => hostcopy::collect(ctx, body, hostcopy::Flavor::CopyFromHost).await,
        "collectd" => hostcopy::collect(ctx, body, hostcopy::Flavor::Collectd).await,
        "runDaemonSet" => rundaemonset::collect(ctx, body).await,
        "sysctl" => sysctl::collect(ctx, body).await,
        "dns" => dns::collect(ctx, body).await,
        "etcd" => etcd::collect(ctx, body).await,
        "certificates" => certificates::collect(ctx, body).await,
        other => match db::Db::from_kind(other) {
            Some(kind) => db::collect(ctx, kind, body, item.entry.collector_name.as_deref()).await,
            None => Err(Error::Spec(format!("`{other}`: {NOT_YET}"))),
        },
    }
}

/// The namespace a namespaced collector works in: its own, else the kubeconfig's.
pub(crate) fn namespace_of(ctx: &Ctx, body: &Value) -> String {
    body["namespace"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map_or_else(|| ctx.default_namespace.clone(), str::to_string)
}

async fn rbac_check(ctx: &Ctx, item: &Planned) -> Option<Vec<String>> {
    let by_selector = item.entry.body["selector"]
        .as_array()
        .is_some_and(|s| !s.is_empty())
        && item.entry.body["name"].as_str().is_none_or(str::is_empty);
    let needs = rbac::needs(&item.entry.kind, by_selector);
    if needs.is_empty() {
        return None;
    }
    let ns = match item.entry.kind.as_str() {
        // troubleshoot creates run pods in `default` unless told otherwise.
        "runPod" | "run" | "runDaemonSet" => item.entry.body["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or("default")
            .to_string(),
        // Collectors with their own default namespace check their rights there.
        kind @ ("ceph" | "sonobuoy" | "goldpinger") => item.entry.body["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .unwrap_or(match kind {
                "ceph" => ceph::DEFAULT_NAMESPACE,
                "sonobuoy" => "sonobuoy",
                _ => "default",
            })
            .to_string(),
        // Their helper pods always go to `default`.
        "dns" | "etcd" => "default".to_string(),
        _ => namespace_of(ctx, &item.entry.body),
    };
    // A failed review proves nothing: run the collector and let its own calls report.
    let rules = ctx.rules(&ns).await.ok()?;
    let missing = rbac::missing(&rules, needs, &ns);
    (!missing.is_empty()).then_some(missing)
}

/// Writes `collector-errors/<title>-error.json`; returns its bundle-relative path.
fn write_collector_error(
    root: &Path,
    title: &str,
    error: &str,
    now: DateTime<Utc>,
) -> Option<String> {
    let doc = serde_json::json!({
        "collector": title,
        "error": error,
        "timestamp": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    let parts: Vec<String> = crate::collect::host::safe_relative(title);
    let rel = format!("collector-errors/{}-error.json", parts.join("/"));
    let text = crate::collect::host::output::go_json(&doc, None).ok()?;
    match jsonout::write_file(&root.join(&rel), &text) {
        Ok(()) => Some(rel),
        Err(e) => {
            tracing::warn!("cannot write {rel}: {e}");
            None
        }
    }
}

/// Writes `skipped-collectors.json` when something was skipped for RBAC or excluded.
fn write_skipped(root: &Path, outcomes: &[CollectorOutcome], now: DateTime<Utc>) {
    let ts = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let list: Vec<Value> = outcomes
        .iter()
        .filter_map(|o| match &o.status {
            CollectorStatus::Skipped { reason } if reason == "excluded" => Some(
                serde_json::json!({"collector": o.title, "reason": "excluded", "errors": null, "timestamp": ts}),
            ),
            CollectorStatus::Skipped { reason } => reason
                .strip_prefix("insufficient RBAC permissions: ")
                .map(|errs| {
                    let errors: Vec<&str> = errs.split("; ").collect();
                    serde_json::json!({"collector": o.title, "reason": "insufficient RBAC permissions", "errors": errors, "timestamp": ts})
                }),
            _ => None,
        })
        .collect();
    if list.is_empty() {
        return;
    }
    if let Ok(text) = crate::collect::host::output::go_json(&list, None)
        && let Err(e) = jsonout::write_file(&root.join("skipped-collectors.json"), &text)
    {
        tracing::warn!("cannot write skipped-collectors.json: {e}");
    }
}
