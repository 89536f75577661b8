//! `clusterResources` → `cluster-resources/` (TROUBLESHOOT-FORMAT.md §1.4).
//!
//! With every namespace selected, each kind is listed once across the cluster (in pages) and
//! split into per-namespace files as items arrive; if that list is refused, each namespace is
//! listed on its own, so an identity with only namespace rights still gets its files.

use super::api::{ApiError, Page};
use super::jsonout::{Paused, StreamFile, pretty, with_type_meta};
use super::namespaces::{Selection, readable, select};
use super::podstatus::{ContainerRef, containers, is_unhealthy};
use super::{ClusterError, Ctx, Task, rbac, run_bounded};
use crate::collect::host::sanitize_component;
use base64::Engine;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

/// A per-namespace kind: its folder, the API versions to try in order, the plural, the item kind.
pub struct Kind {
    /// Folder under `cluster-resources/`.
    pub dir: &'static str,
    /// API group versions (`v1` is the core group), first that exists wins.
    pub versions: &'static [&'static str],
    /// Resource plural.
    pub plural: &'static str,
    /// Kind of one item.
    pub item_kind: &'static str,
}

const fn k(
    dir: &'static str,
    versions: &'static [&'static str],
    plural: &'static str,
    item_kind: &'static str,
) -> Kind {
    Kind {
        dir,
        versions,
        plural,
        item_kind,
    }
}

/// The per-namespace folders, in troubleshoot's order.
pub const NAMESPACED: &[Kind] = &[
    k("pods", &["v1"], "pods", "Pod"),
    k(
        "pod-disruption-budgets",
        &["policy/v1", "policy/v1beta1"],
        "poddisruptionbudgets",
        "PodDisruptionBudget",
    ),
    k("services", &["v1"], "services", "Service"),
    k("deployments", &["apps/v1"], "deployments", "Deployment"),
    k("statefulsets", &["apps/v1"], "statefulsets", "StatefulSet"),
    k("daemonsets", &["apps/v1"], "daemonsets", "DaemonSet"),
    k("replicasets", &["apps/v1"], "replicasets", "ReplicaSet"),
    k("jobs", &["batch/v1"], "jobs", "Job"),
    k(
        "cronjobs",
        &["batch/v1", "batch/v1beta1"],
        "cronjobs",
        "CronJob",
    ),
    k(
        "ingress",
        &["networking.k8s.io/v1", "networking.k8s.io/v1beta1"],
        "ingresses",
        "Ingress",
    ),
    k(
        "network-policy",
        &["networking.k8s.io/v1"],
        "networkpolicies",
        "NetworkPolicy",
    ),
    k("resource-quota", &["v1"], "resourcequotas", "ResourceQuota"),
    k("limitranges", &["v1"], "limitranges", "LimitRange"),
    k("events", &["v1"], "events", "Event"),
    k(
        "pvcs",
        &["v1"],
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
    ),
    k("roles", &["rbac.authorization.k8s.io/v1"], "roles", "Role"),
    k(
        "rolebindings",
        &["rbac.authorization.k8s.io/v1"],
        "rolebindings",
        "RoleBinding",
    ),
    k("endpoints", &["v1"], "endpoints", "Endpoints"),
    k(
        "endpointslices",
        &["discovery.k8s.io/v1"],
        "endpointslices",
        "EndpointSlice",
    ),
    k(
        "serviceaccounts",
        &["v1"],
        "serviceaccounts",
        "ServiceAccount",
    ),
    k("leases", &["coordination.k8s.io/v1"], "leases", "Lease"),
    k("configmaps", &["v1"], "configmaps", "ConfigMap"),
];

/// The cluster-scoped files (`dir` is the file stem).
pub const CLUSTER_SCOPED: &[Kind] = &[
    k("nodes", &["v1"], "nodes", "Node"),
    k("pvs", &["v1"], "persistentvolumes", "PersistentVolume"),
    k(
        "storage-classes",
        &["storage.k8s.io/v1", "storage.k8s.io/v1beta1"],
        "storageclasses",
        "StorageClass",
    ),
    k(
        "ingress-classes",
        &["networking.k8s.io/v1"],
        "ingressclasses",
        "IngressClass",
    ),
    k(
        "priorityclasses",
        &["scheduling.k8s.io/v1"],
        "priorityclasses",
        "PriorityClass",
    ),
    k(
        "clusterroles",
        &["rbac.authorization.k8s.io/v1"],
        "clusterroles",
        "ClusterRole",
    ),
    k(
        "clusterrolebindings",
        &["rbac.authorization.k8s.io/v1"],
        "clusterrolebindings",
        "ClusterRoleBinding",
    ),
    k(
        "volumeattachments",
        &["storage.k8s.io/v1"],
        "volumeattachments",
        "VolumeAttachment",
    ),
    k(
        "certificatesigningrequests",
        &["certificates.k8s.io/v1"],
        "certificatesigningrequests",
        "CertificateSigningRequest",
    ),
    k(
        "validating-webhook-configurations",
        &["admissionregistration.k8s.io/v1"],
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
    ),
    k(
        "mutating-webhook-configurations",
        &["admissionregistration.k8s.io/v1"],
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
    ),
];

const CRDS: Kind = k(
    "custom-resource-definitions",
    &["apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1"],
    "customresourcedefinitions",
    "CustomResourceDefinition",
);

/// Unhealthy-pod log limits (troubleshoot's clusterResources defaults).
const UNHEALTHY_MAX_LINES: u64 = 500;
const UNHEALTHY_MAX_BYTES: u64 = 5_000_000;

/// `/api/v1` or `/apis/<group>/<version>`.
pub fn base_path(group_version: &str) -> String {
    if group_version.contains('/') {
        format!("/apis/{group_version}")
    } else {
        format!("/api/{group_version}")
    }
}

/// Why a list stopped.
#[derive(Debug)]
enum Failure {
    Api(ApiError),
    Io(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Api(e) => write!(f, "{e}"),
            Failure::Io(e) => f.write_str(e),
        }
    }
}

/// Where list items go.
trait Sink {
    /// A list (or the next list of a per-namespace walk) starts with this page.
    fn start(&mut self, page: &Page);
    /// One item.
    fn item(&mut self, item: Value) -> std::io::Result<()>;
}

/// Reads every page of `path` into `sink`; returns the item count.
async fn stream<S: Sink>(ctx: &Ctx, path: &str, sink: &mut S) -> Result<usize, (Failure, usize)> {
    let mut cont: Option<String> = None;
    let mut count = 0;
    loop {
        if ctx.cancel.is_cancelled() {
            return Err((Failure::Io("cancelled".into()), count));
        }
        let page = ctx
            .api
            .list_page(path, ctx.opts.page_size, cont.as_deref())
            .await
            .map_err(|e| (Failure::Api(e), count))?;
        if cont.is_none() {
            sink.start(&page);
        }
        let next = page.next.clone();
        for item in page.items {
            sink.item(item)
                .map_err(|e| (Failure::Io(e.to_string()), count))?;
            count += 1;
        }
        match next {
            Some(n) => cont = Some(n),
            None => return Ok(count),
        }
    }
}

/// Tries each API version of `kind` while the server says it does not exist.
async fn stream_versions<S: Sink>(
    ctx: &Ctx,
    kind: &Kind,
    namespace: Option<&str>,
    sink: &mut S,
) -> Result<usize, (Failure, usize)> {
    let mut last = None;
    for gv in kind.versions {
        let path = match namespace {
            Some(ns) => format!("{}/namespaces/{ns}/{}", base_path(gv), kind.plural),
            None => format!("{}/{}", base_path(gv), kind.plural),
        };
        match stream(ctx, &path, sink).await {
            Err((Failure::Api(e), 0)) if e.is_not_found() => last = Some(e),
            other => return other,
        }
    }
    Err((
        Failure::Api(last.unwrap_or(ApiError::Status {
            code: 404,
            message: "the server could not find the requested resource".into(),
        })),
        0,
    ))
}

/// What a split file holds.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// A List object per namespace (empty namespaces get `items: null`).
    List,
    /// A bare array of raw objects per namespace, keys sorted; no file when empty.
    Raw,
}

/// Splits items by namespace into `<dir>/<ns>.json`, keeping one file open at a time.
struct Splitter<'a> {
    ctx: &'a Ctx,
    rel_dir: String,
    shape: Shape,
    item_kind: &'a str,
    list_kind: String,
    api_version: String,
    meta: Value,
    selected: HashSet<String>,
    open: Option<(String, StreamFile)>,
    paused: HashMap<String, Paused>,
    unhealthy: Option<Vec<(String, String, Vec<ContainerRef>)>>,
}

impl<'a> Splitter<'a> {
    fn new(
        ctx: &'a Ctx,
        rel_dir: String,
        shape: Shape,
        item_kind: &'a str,
        names: &[String],
    ) -> Self {
        Splitter {
            ctx,
            rel_dir,
            shape,
            item_kind,
            list_kind: format!("{item_kind}List"),
            api_version: "v1".into(),
            meta: Value::Object(Default::default()),
            selected: names.iter().cloned().collect(),
            open: None,
            paused: HashMap::new(),
            unhealthy: None,
        }
    }

    fn rel(&self, ns: &str) -> String {
        format!("{}/{}.json", self.rel_dir, sanitize_component(ns))
    }

    fn file_for(&mut self, ns: &str) -> std::io::Result<&mut StreamFile> {
        if self.open.as_ref().is_none_or(|(o, _)| o != ns) {
            if let Some((old, f)) = self.open.take() {
                self.paused.insert(old, f.pause()?);
            }
            let f = match self.paused.remove(ns) {
                Some(p) => p.resume()?,
                None => {
                    let rel = self.rel(ns);
                    let path = self.ctx.path(&rel);
                    self.ctx.record(&rel);
                    match self.shape {
                        Shape::List => {
                            StreamFile::list(&path, &self.list_kind, &self.api_version, &self.meta)?
                        }
                        Shape::Raw => StreamFile::array(&path)?,
                    }
                }
            };
            self.open = Some((ns.to_string(), f));
        }
        match self.open.as_mut() {
            Some((_, f)) => Ok(f),
            None => Err(std::io::Error::other("no open file")),
        }
    }

    /// Ends every file; List files are created (empty) for the `expect`ed namespaces never seen.
    fn finish(
        mut self,
        expect: &[String],
        failed: &BTreeMap<String, String>,
    ) -> Result<Self, String> {
        let mut first_error = None;
        let mut seen: HashSet<String> = HashSet::new();
        if let Some((ns, f)) = self.open.take() {
            seen.insert(ns);
            if let Err(e) = f.finish() {
                first_error.get_or_insert(e.to_string());
            }
        }
        for (ns, p) in std::mem::take(&mut self.paused) {
            seen.insert(ns);
            if let Err(e) = p.resume().and_then(StreamFile::finish) {
                first_error.get_or_insert(e.to_string());
            }
        }
        if self.shape == Shape::List {
            for ns in expect {
                if seen.contains(ns) || failed.contains_key(ns) {
                    continue;
                }
                let rel = self.rel(ns);
                let path = self.ctx.path(&rel);
                match StreamFile::list(&path, &self.list_kind, &self.api_version, &self.meta)
                    .and_then(StreamFile::finish)
                {
                    Ok(()) => self.ctx.record(&rel),
                    Err(e) => {
                        first_error.get_or_insert(e.to_string());
                    }
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }
}

impl Sink for Splitter<'_> {
    fn start(&mut self, page: &Page) {
        if let Some(k) = &page.kind {
            self.list_kind = k.clone();
        }
        if let Some(v) = &page.api_version {
            self.api_version = v.clone();
        }
        self.meta = page.metadata.clone();
    }

    fn item(&mut self, mut item: Value) -> std::io::Result<()> {
        let ns = item["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if !self.selected.contains(&ns) {
            return Ok(());
        }
        if let Some(list) = self.unhealthy.as_mut()
            && is_unhealthy(&item)
        {
            let name = item["metadata"]["name"].as_str().unwrap_or("").to_string();
            list.push((ns.clone(), name, containers(&item, &[])));
        }
        let item = match self.shape {
            Shape::List => {
                let api_version = self.api_version.clone();
                with_type_meta(item, self.item_kind, &api_version)
            }
            Shape::Raw => {
                item.sort_all_objects();
                item
            }
        };
        self.file_for(&ns)?.push(&item)
    }
}

/// Collects one per-namespace kind into `rel_dir`, returning errors by namespace.
async fn namespaced<'a>(
    ctx: &'a Ctx,
    kind: &'a Kind,
    rel_dir: String,
    shape: Shape,
    all: bool,
    names: &[String],
    with_unhealthy: bool,
) -> (
    BTreeMap<String, String>,
    Vec<(String, String, Vec<ContainerRef>)>,
) {
    let mut errors = BTreeMap::new();
    let mut split = Splitter::new(ctx, rel_dir, shape, kind.item_kind, names);
    if with_unhealthy {
        split.unhealthy = Some(Vec::new());
    }
    let mut per_namespace = !all;
    if all {
        match stream_versions(ctx, kind, None, &mut split).await {
            Ok(_) => {}
            // Refused or unknown across the cluster, nothing written yet: ask each namespace.
            Err((Failure::Api(e), 0)) if !e.is_unreachable() => per_namespace = true,
            Err((e, n)) => {
                let message = if n > 0 {
                    format!("{e} (the list stopped after {n} items; files may be incomplete)")
                } else {
                    e.to_string()
                };
                for ns in names {
                    errors.insert(ns.clone(), message.clone());
                }
            }
        }
    }
    if per_namespace {
        let mut down: Option<String> = None;
        for ns in names {
            if let Some(message) = &down {
                errors.insert(ns.clone(), message.clone());
                continue;
            }
            split.selected = [ns.clone()].into_iter().collect();
            let result = stream_versions(ctx, kind, Some(ns), &mut split).await;
            match result {
                Ok(_) => {
                    // Close this namespace's file now so its header carried its own list metadata.
                    if shape == Shape::List && split.open.as_ref().is_none_or(|(o, _)| o != ns) {
                        let rel = split.rel(ns);
                        let path = ctx.path(&rel);
                        match StreamFile::list(
                            &path,
                            &split.list_kind,
                            &split.api_version,
                            &split.meta,
                        )
                        .and_then(StreamFile::finish)
                        {
                            Ok(()) => ctx.record(&rel),
                            Err(e) => {
                                errors.insert(ns.clone(), e.to_string());
                            }
                        }
                    }
                }
                Err((e, _)) => {
                    if let Failure::Api(api) = &e
                        && api.is_unreachable()
                    {
                        down = Some(e.to_string());
                    }
                    errors.insert(ns.clone(), e.to_string());
                }
            }
        }
        split.selected = names.iter().cloned().collect();
    }
    // Per-namespace files were finished as they went; only those still open or paused remain.
    let expect: Vec<String> = if per_namespace {
        Vec::new()
    } else {
        names.to_vec()
    };
    let unhealthy = match split.finish(&expect, &errors) {
        Ok(s) => s.unhealthy.unwrap_or_default(),
        Err(e) => {
            errors.insert(String::new(), format!("write {}: {e}", kind.dir));
            Vec::new()
        }
    };
    (errors, unhealthy)
}

/// A cluster-scoped kind into one List file.
struct OneFile<'a> {
    ctx: &'a Ctx,
    rel: String,
    item_kind: &'a str,
    api_version: String,
    file: Option<StreamFile>,
    crds: Option<Vec<Crd>>,
}

impl Sink for OneFile<'_> {
    fn start(&mut self, page: &Page) {
        self.api_version = page.api_version.clone().unwrap_or_else(|| "v1".into());
        let list_kind = page
            .kind
            .clone()
            .unwrap_or_else(|| format!("{}List", self.item_kind));
        let path = self.ctx.path(&self.rel);
        match StreamFile::list(&path, &list_kind, &self.api_version, &page.metadata) {
            Ok(f) => {
                self.ctx.record(&self.rel);
                self.file = Some(f);
            }
            Err(e) => tracing::warn!("cannot create {}: {e}", path.display()),
        }
    }

    fn item(&mut self, item: Value) -> std::io::Result<()> {
        if let Some(crds) = self.crds.as_mut()
            && let Some(crd) = Crd::from_object(&item)
        {
            crds.push(crd);
        }
        let item = with_type_meta(item, self.item_kind, &self.api_version);
        match self.file.as_mut() {
            Some(f) => f.push(&item),
            None => Err(std::io::Error::other(format!("cannot create {}", self.rel))),
        }
    }
}

async fn cluster_scoped(ctx: &Ctx, kind: &Kind, crds: bool) -> (Option<Vec<Crd>>, Option<String>) {
    let mut sink = OneFile {
        ctx,
        rel: format!("cluster-resources/{}.json", kind.dir),
        item_kind: kind.item_kind,
        api_version: "v1".into(),
        file: None,
        crds: crds.then(Vec::new),
    };
    let result = stream_versions(ctx, kind, None, &mut sink).await;
    let mut error = result.err().map(|(e, _)| e.to_string());
    if let Some(f) = sink.file.take()
        && let Err(e) = f.finish()
    {
        error.get_or_insert(e.to_string());
    }
    (sink.crds, error)
}

/// What a CRD says about listing its objects.
#[derive(Clone, Debug, PartialEq)]
pub struct Crd {
    /// `metadata.name`, e.g. `addons.k3s.cattle.io`.
    pub name: String,
    /// API group.
    pub group: String,
    /// Resource plural.
    pub plural: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// The served version with the highest Kubernetes version priority.
    pub version: String,
}

impl Crd {
    /// Reads a CRD object (v1 `versions[]`, or v1beta1's `version`).
    pub fn from_object(crd: &Value) -> Option<Crd> {
        let spec = &crd["spec"];
        let mut served: Vec<String> = spec["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["served"].as_bool() != Some(false))
            .filter_map(|v| v["name"].as_str().map(str::to_string))
            .collect();
        if served.is_empty()
            && let Some(v) = spec["version"].as_str()
        {
            served.push(v.to_string());
        }
        served.sort_by(|a, b| version_priority(a, b));
        Some(Crd {
            name: crd["metadata"]["name"].as_str()?.to_string(),
            group: spec["group"].as_str()?.to_string(),
            plural: spec["names"]["plural"].as_str()?.to_string(),
            namespaced: spec["scope"].as_str() != Some("Cluster"),
            version: served.into_iter().next()?,
        })
    }
}

/// Kubernetes version priority, highest first: GA, then beta, then alpha, larger numbers first;
/// versions of another form come last, alphabetically.
pub fn version_priority(a: &str, b: &str) -> std::cmp::Ordering {
    fn key(v: &str) -> (u8, i64, i64, String) {
        let parse = || -> Option<(u8, i64, i64)> {
            let rest = v.strip_prefix('v')?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let major: i64 = digits.parse().ok()?;
            let tail = &rest[digits.len()..];
            if tail.is_empty() {
                return Some((0, -major, 0));
            }
            for (level, word) in [(1u8, "beta"), (2u8, "alpha")] {
                if let Some(n) = tail.strip_prefix(word) {
                    let minor: i64 = n.parse().ok()?;
                    return Some((level, -major, -minor));
                }
            }
            None
        };
        match parse() {
            Some((l, m, n)) => (l, m, n, String::new()),
            None => (3, 0, 0, v.to_string()),
        }
    }
    key(a).cmp(&key(b))
}

fn link_yaml(ctx: &Ctx, json_rel: &str) {
    let Some(stem) = json_rel.strip_suffix(".json") else {
        return;
    };
    let yaml_rel = format!("{stem}.yaml");
    let target = json_rel.rsplit('/').next().unwrap_or(json_rel);
    let link = ctx.path(&yaml_rel);
    let _ = std::fs::remove_file(&link);
    match std::os::unix::fs::symlink(target, &link) {
        Ok(()) => ctx.record(&yaml_rel),
        Err(e) => tracing::warn!("cannot link {}: {e}", link.display()),
    }
}

async fn custom_resources(ctx: &Ctx, crds: &[Crd], all: bool, names: &[String]) {
    let mut jobs: Vec<Task<'_, BTreeMap<String, String>>> = Vec::new();
    for crd in crds {
        jobs.push(Box::pin(async move {
            let dir = format!("custom-resources/{}", sanitize_component(&crd.name));
            let mut errors: BTreeMap<String, String> = BTreeMap::new();
            let base = format!("/apis/{}/{}", crd.group, crd.version);
            if crd.namespaced {
                let mut split = Splitter::new(
                    ctx,
                    format!("cluster-resources/{dir}"),
                    Shape::Raw,
                    "",
                    names,
                );
                let mut per_ns = !all;
                if all {
                    match stream(ctx, &format!("{base}/{}", crd.plural), &mut split).await {
                        Ok(_) => {}
                        Err((Failure::Api(e), 0)) if !e.is_unreachable() => per_ns = true,
                        Err((e, _)) => {
                            errors.insert(crd.name.clone(), e.to_string());
                        }
                    }
                }
                if per_ns {
                    for ns in names {
                        let path = format!("{base}/namespaces/{ns}/{}", crd.plural);
                        if let Err((e, _)) = stream(ctx, &path, &mut split).await {
                            errors.insert(format!("{}/{ns}", crd.name), e.to_string());
                        }
                    }
                }
                let opened: Vec<String> = split
                    .paused
                    .keys()
                    .cloned()
                    .chain(split.open.as_ref().map(|(n, _)| n.clone()))
                    .collect();
                let rels: Vec<String> = opened.iter().map(|ns| split.rel(ns)).collect();
                if let Err(e) = split.finish(&[], &BTreeMap::new()) {
                    errors.insert(crd.name.clone(), e);
                }
                for rel in rels {
                    link_yaml(ctx, &rel);
                }
            } else {
                let rel = format!(
                    "cluster-resources/custom-resources/{}.json",
                    sanitize_component(&crd.name)
                );
                let mut sink = RawFile {
                    path: ctx.path(&rel),
                    file: None,
                };
                if let Err((e, _)) = stream(ctx, &format!("{base}/{}", crd.plural), &mut sink).await
                {
                    errors.insert(crd.name.clone(), e.to_string());
                }
                if let Some(f) = sink.file.take() {
                    match f.finish() {
                        Ok(()) => {
                            ctx.record(&rel);
                            link_yaml(ctx, &rel);
                        }
                        Err(e) => {
                            errors.insert(crd.name.clone(), e.to_string());
                        }
                    }
                }
            }
            errors
        }));
    }
    let all_errors = run_bounded(jobs, ctx.opts.max_parallel).await;
    let merged: BTreeMap<String, String> = all_errors.into_iter().flatten().collect();
    write_errors_object(
        ctx,
        "cluster-resources/custom-resources/custom-resources-errors.json",
        &merged,
    );
}

/// Cluster-scoped custom resources: a bare array, created on the first object.
struct RawFile {
    path: PathBuf,
    file: Option<StreamFile>,
}

impl Sink for RawFile {
    fn start(&mut self, _: &Page) {}

    fn item(&mut self, mut item: Value) -> std::io::Result<()> {
        if self.file.is_none() {
            self.file = Some(StreamFile::array(&self.path)?);
        }
        item.sort_all_objects();
        match self.file.as_mut() {
            Some(f) => f.push(&item),
            None => Ok(()),
        }
    }
}

/// Keeps only dockerconfigjson secrets' registry → user names (never passwords).
struct PullSecrets<'a> {
    ctx: &'a Ctx,
    selected: HashSet<String>,
    errors: BTreeMap<String, String>,
}

impl Sink for PullSecrets<'_> {
    fn start(&mut self, _: &Page) {}

    fn item(&mut self, item: Value) -> std::io::Result<()> {
        if item["type"] != "kubernetes.io/dockerconfigjson" {
            return Ok(());
        }
        let ns = item["metadata"]["namespace"].as_str().unwrap_or("");
        if !self.selected.contains(ns) {
            return Ok(());
        }
        let name = item["metadata"]["name"].as_str().unwrap_or("");
        match registry_users(&item) {
            Ok(users) if !users.is_empty() => {
                let rel = format!(
                    "cluster-resources/image-pull-secrets/{}/{}.json",
                    sanitize_component(ns),
                    sanitize_component(name)
                );
                let text = crate::collect::host::output::go_json(&users, None)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                if let Err(e) = self.ctx.write(&rel, &text) {
                    self.errors.insert(format!("{ns}/{name}"), e.to_string());
                }
            }
            Ok(_) => {}
            Err(e) => {
                self.errors.insert(format!("{ns}/{name}"), e);
            }
        }
        Ok(())
    }
}

/// `{"<registry>": "<username>"}` from a dockerconfigjson secret.
pub fn registry_users(secret: &Value) -> Result<BTreeMap<String, String>, String> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw = secret["data"][".dockerconfigjson"]
        .as_str()
        .ok_or("no .dockerconfigjson key")?;
    let decoded = b64.decode(raw).map_err(|e| e.to_string())?;
    let config: Value = serde_json::from_slice(&decoded).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for (registry, entry) in config["auths"].as_object().into_iter().flatten() {
        let user = match entry["auth"].as_str() {
            Some(auth) => {
                let pair = b64.decode(auth).map_err(|e| format!("{registry}: {e}"))?;
                String::from_utf8_lossy(&pair)
                    .split(':')
                    .next()
                    .unwrap_or("")
                    .to_string()
            }
            None => entry["username"].as_str().unwrap_or("").to_string(),
        };
        out.insert(registry.clone(), user);
    }
    Ok(out)
}

fn write_errors_object(ctx: &Ctx, rel: &str, errors: &BTreeMap<String, String>) {
    if errors.is_empty() {
        return;
    }
    let v: serde_json::Map<String, Value> = errors
        .iter()
        .map(|(k, m)| (k.clone(), Value::String(m.clone())))
        .collect();
    if let Err(e) = ctx.write(rel, &pretty(&Value::Object(v))) {
        tracing::warn!("{e}");
    }
}

fn write_errors_array(ctx: &Ctx, rel: &str, errors: &[String]) {
    if errors.is_empty() {
        return;
    }
    let v: Vec<Value> = errors.iter().map(|m| Value::String(m.clone())).collect();
    if let Err(e) = ctx.write(rel, &pretty(&Value::Array(v))) {
        tracing::warn!("{e}");
    }
}

/// `namespaces.json` in the shape of the selection; returns the namespace names.
async fn namespaces_file(ctx: &Ctx, selection: &Selection) -> Vec<String> {
    let rel = "cluster-resources/namespaces.json";
    let mut errors = Vec::new();
    let names = match selection {
        Selection::All => {
            struct Names<'a> {
                inner: OneFile<'a>,
                names: Vec<String>,
            }
            impl Sink for Names<'_> {
                fn start(&mut self, page: &Page) {
                    self.inner.start(page);
                }
                fn item(&mut self, item: Value) -> std::io::Result<()> {
                    if let Some(n) = item["metadata"]["name"].as_str() {
                        self.names.push(n.to_string());
                    }
                    self.inner.item(item)
                }
            }
            let mut sink = Names {
                inner: OneFile {
                    ctx,
                    rel: rel.into(),
                    item_kind: "Namespace",
                    api_version: "v1".into(),
                    file: None,
                    crds: None,
                },
                names: Vec::new(),
            };
            let result = stream(ctx, "/api/v1/namespaces", &mut sink).await;
            if let Some(f) = sink.inner.file.take()
                && let Err(e) = f.finish()
            {
                errors.push(e.to_string());
            }
            match result {
                Ok(_) => sink.names,
                Err((e, _)) => {
                    errors.push(e.to_string());
                    Vec::new()
                }
            }
        }
        Selection::One(ns) => {
            match ctx.api.get(&format!("/api/v1/namespaces/{ns}")).await {
                Ok(obj) => {
                    if let Err(e) = ctx.write(rel, &pretty(&obj)) {
                        errors.push(e.to_string());
                    }
                }
                Err(e) => errors.push(e.to_string()),
            }
            vec![ns.clone()]
        }
        Selection::Listed(list) => {
            let mut objects = Vec::new();
            for ns in list {
                match ctx.api.get(&format!("/api/v1/namespaces/{ns}")).await {
                    Ok(obj) => objects.push(obj),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            if let Err(e) = ctx.write(rel, &pretty(&Value::Array(objects))) {
                errors.push(e.to_string());
            }
            list.clone()
        }
    };
    write_errors_array(ctx, "cluster-resources/namespaces-errors.json", &errors);
    names
}

/// `auth-cani-list/<ns>.json` for every namespace; returns whether each may list or get pods.
async fn auth_cani(ctx: &Ctx, names: &[String]) -> HashMap<String, bool> {
    type Review = (String, Option<bool>, Option<String>);
    let mut jobs: Vec<Task<'_, Review>> = Vec::new();
    for ns in names {
        jobs.push(Box::pin(async move {
            match ctx.rules(ns).await {
                Ok(rules) => {
                    let rel = format!(
                        "cluster-resources/auth-cani-list/{}.json",
                        sanitize_component(ns)
                    );
                    let text = pretty(&Value::Array(rules.as_ref().clone()));
                    let write = ctx.write(&rel, &text).err().map(|e| e.to_string());
                    let pods = rbac::allows(&rules, "list", "", "pods")
                        || rbac::allows(&rules, "get", "", "pods");
                    (ns.clone(), Some(pods), write)
                }
                Err(e) => (ns.clone(), None, Some(e.to_string())),
            }
        }));
    }
    let results = run_bounded(jobs, ctx.opts.max_parallel).await;
    let mut errors = BTreeMap::new();
    let mut readable = HashMap::new();
    for (ns, pods, err) in results {
        if let Some(p) = pods {
            readable.insert(ns.clone(), p);
        }
        if let Some(e) = err {
            errors.insert(ns, e);
        }
    }
    write_errors_object(ctx, "cluster-resources/auth-cani-list-errors.json", &errors);
    readable
}

/// `groups.json` and `resources.json` (discovery), errors in `groups-resources-errors.json`.
async fn discovery(ctx: &Ctx) {
    let mut errors = Vec::new();
    let mut groups = Vec::new();
    let mut versions: Vec<String> = Vec::new();
    match ctx.api.get("/api").await {
        Ok(core) => {
            let list: Vec<String> = core["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            if let Some(first) = list.first() {
                let entries: Vec<Value> = list
                    .iter()
                    .map(|v| serde_json::json!({"groupVersion": v, "version": v}))
                    .collect();
                groups.push(serde_json::json!({
                    "name": "",
                    "versions": entries,
                    "preferredVersion": {"groupVersion": first, "version": first},
                }));
            }
            versions.extend(list);
        }
        Err(e) => errors.push(e.to_string()),
    }
    match ctx.api.get("/apis").await {
        Ok(list) => {
            for g in list["groups"].as_array().into_iter().flatten() {
                for v in g["versions"].as_array().into_iter().flatten() {
                    if let Some(gv) = v["groupVersion"].as_str() {
                        versions.push(gv.to_string());
                    }
                }
                let mut g = g.clone();
                if let Some(o) = g.as_object_mut() {
                    o.shift_remove("kind");
                    o.shift_remove("apiVersion");
                }
                groups.push(g);
            }
        }
        Err(e) => errors.push(e.to_string()),
    }
    type Answer = (usize, String, Result<Value, ApiError>);
    let mut jobs: Vec<Task<'_, Answer>> = Vec::new();
    for (i, gv) in versions.iter().enumerate() {
        jobs.push(Box::pin(async move {
            (i, gv.clone(), ctx.api.get(&base_path(gv)).await)
        }));
    }
    let mut answers = run_bounded(jobs, ctx.opts.max_parallel).await;
    answers.sort_by_key(|(i, _, _)| *i);
    let mut resources = Vec::new();
    let mut failed = Vec::new();
    for (_, gv, answer) in answers {
        match answer {
            Ok(mut list) => {
                if let Some(o) = list.as_object_mut() {
                    o.shift_remove("kind");
                    o.shift_remove("apiVersion");
                }
                resources.push(list);
            }
            Err(e) => failed.push(format!("{gv}: {e}")),
        }
    }
    if !failed.is_empty() {
        errors.push(format!(
            "unable to retrieve the complete list of server APIs: {}",
            failed.join(", ")
        ));
    }
    for (rel, v) in [
        ("cluster-resources/groups.json", Value::Array(groups)),
        ("cluster-resources/resources.json", Value::Array(resources)),
    ] {
        if let Err(e) = ctx.write(rel, &pretty(&v)) {
            errors.push(e.to_string());
        }
    }
    write_errors_array(
        ctx,
        "cluster-resources/groups-resources-errors.json",
        &errors,
    );
}

/// Runs clusterResources.
pub(super) async fn collect(ctx: &Ctx, body: &Value) -> Result<(), ClusterError> {
    let spec_ns: Vec<String> = body["namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let ignore_rbac = body["ignoreRBAC"].as_bool() == Some(true);
    let selection = select(&spec_ns, &ctx.opts.namespaces);
    let all = selection == Selection::All;
    let listed = namespaces_file(ctx, &selection).await;
    let can_read = auth_cani(ctx, &listed).await;
    let names: Vec<String> = if all {
        readable(&listed, &|ns| can_read.get(ns).copied(), ignore_rbac)
            .into_iter()
            .cloned()
            .collect()
    } else {
        listed
    };

    let names = &names;
    type Found = Vec<(String, String, Vec<ContainerRef>)>;
    let mut jobs: Vec<Task<'_, Found>> = Vec::new();
    for kind in NAMESPACED {
        jobs.push(Box::pin(async move {
            let rel_dir = format!("cluster-resources/{}", kind.dir);
            let (errors, unhealthy) = namespaced(
                ctx,
                kind,
                rel_dir,
                Shape::List,
                all,
                names,
                kind.dir == "pods",
            )
            .await;
            write_errors_object(
                ctx,
                &format!("cluster-resources/{}-errors.json", kind.dir),
                &errors,
            );
            unhealthy
        }));
    }
    for kind in CLUSTER_SCOPED {
        jobs.push(Box::pin(async move {
            let (_, error) = cluster_scoped(ctx, kind, false).await;
            if let Some(e) = error {
                write_errors_array(
                    ctx,
                    &format!("cluster-resources/{}-errors.json", kind.dir),
                    &[e],
                );
            }
            Vec::new()
        }));
    }
    jobs.push(Box::pin(async move {
        let (crds, error) = cluster_scoped(ctx, &CRDS, true).await;
        if let Some(e) = error {
            write_errors_array(
                ctx,
                "cluster-resources/custom-resource-definitions-errors.json",
                &[e],
            );
        }
        custom_resources(ctx, &crds.unwrap_or_default(), all, names).await;
        Vec::new()
    }));
    jobs.push(Box::pin(async move {
        let mut sink = PullSecrets {
            ctx,
            selected: names.iter().cloned().collect(),
            errors: BTreeMap::new(),
        };
        let secrets = Kind {
            dir: "image-pull-secrets",
            versions: &["v1"],
            plural: "secrets",
            item_kind: "Secret",
        };
        let cluster_wide = if all {
            match stream_versions(ctx, &secrets, None, &mut sink).await {
                Ok(_) => true,
                Err((Failure::Api(e), 0)) if !e.is_unreachable() => false,
                Err((e, _)) => {
                    sink.errors.insert(String::new(), e.to_string());
                    true
                }
            }
        } else {
            false
        };
        if !cluster_wide {
            for ns in names {
                if let Err((e, _)) = stream_versions(ctx, &secrets, Some(ns), &mut sink).await {
                    sink.errors.insert(ns.clone(), e.to_string());
                }
            }
        }
        write_errors_object(
            ctx,
            "cluster-resources/image-pull-secrets-errors.json",
            &sink.errors,
        );
        Vec::new()
    }));
    jobs.push(Box::pin(async move {
        discovery(ctx).await;
        Vec::new()
    }));
    let unhealthy: Found = run_bounded(jobs, ctx.opts.max_parallel)
        .await
        .into_iter()
        .flatten()
        .collect();
    unhealthy_logs(ctx, &unhealthy).await;
    if ctx.cancel.is_cancelled() {
        return Err(ClusterError::Cancelled);
    }
    Ok(())
}

/// Logs of unhealthy pods: `pods/logs/<ns>/<pod>/<container>[-previous].log`, 500 lines / 5 MB.
async fn unhealthy_logs(ctx: &Ctx, pods: &[(String, String, Vec<ContainerRef>)]) {
    let limits = super::logs::Limits {
        tail_lines: Some(UNHEALTHY_MAX_LINES),
        limit_bytes: Some(UNHEALTHY_MAX_BYTES),
        since_seconds: None,
        since_time: None,
        timestamps: false,
    };
    let limits = &limits;
    let mut jobs: Vec<Task<'_, ()>> = Vec::new();
    for (ns, pod, cs) in pods {
        for c in cs {
            jobs.push(Box::pin(async move {
                let dir = format!(
                    "cluster-resources/pods/logs/{}/{}",
                    sanitize_component(ns),
                    sanitize_component(pod)
                );
                let name = sanitize_component(&c.name);
                let rel = format!("{dir}/{name}.log");
                if let Err(e) = super::logs::fetch(ctx, ns, pod, &c.name, limits, false, &rel).await
                {
                    let _ = ctx.write(&format!("{dir}/{name}-logs-errors.log"), &e.to_string());
                }
                if c.restarted {
                    let rel = format!("{dir}/{name}-previous.log");
                    let _ = super::logs::fetch(ctx, ns, pod, &c.name, limits, true, &rel).await;
                }
            }));
        }
    }
    run_bounded(jobs, ctx.opts.max_parallel).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_priority_is_kubernetes_order() {
        let mut v = vec![
            "v1alpha1", "foo", "v2beta1", "v1", "v1beta2", "v2", "v10", "bar",
        ];
        v.sort_by(|a, b| version_priority(a, b));
        assert_eq!(
            v,
            [
                "v10", "v2", "v1", "v2beta1", "v1beta2", "v1alpha1", "bar", "foo"
            ]
        );
    }

    #[test]
    fn crd_picks_the_best_served_version() {
        let crd = json!({"metadata": {"name": "widgets.example.com"}, "spec": {
            "group": "example.com", "names": {"plural": "widgets"}, "scope": "Namespaced",
            "versions": [{"name": "v1beta1", "served": true}, {"name": "v1", "served": false}, {"name": "v1alpha1", "served": true}]}});
        let c = Crd::from_object(&crd).expect("crd");
        assert_eq!(c.version, "v1beta1");
        assert!(c.namespaced);
        assert_eq!(c.plural, "widgets");
    }

    #[test]
    fn pull_secrets_keep_users_never_passwords() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let auth = b64.encode("robot:s3cret");
        let cfg = json!({"auths": {"quay.io": {"auth": auth}}}).to_string();
        let secret = json!({"data": {".dockerconfigjson": b64.encode(cfg)}});
        let users = registry_users(&secret).expect("parse");
        assert_eq!(users.get("quay.io").map(String::as_str), Some("robot"));
        assert!(!format!("{users:?}").contains("s3cret"));
        assert!(registry_users(&json!({"data": {}})).is_err());
    }

    #[test]
    fn paths_are_core_or_group() {
        assert_eq!(base_path("v1"), "/api/v1");
        assert_eq!(base_path("apps/v1"), "/apis/apps/v1");
    }
}
