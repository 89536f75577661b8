//! The data a test API server serves: discovery, objects (pre-serialized), logs, RBAC rules, exec
//! outputs. Built once (baseline replay or generated), then shared read-mostly by the server.

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use axum::body::Bytes;

/// One listable resource of the API (a discovery entry without a `/`).
#[derive(Clone, Debug)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: String,
    /// Version served at this path.
    pub version: String,
    /// Plural resource name as in the URL (`pods`).
    pub plural: String,
    /// Kind of one object (`Pod`).
    pub kind: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// Whether a CRD defines it (custom resource lists keep `kind`/`apiVersion` on items).
    pub custom: bool,
}

impl ResourceType {
    /// `v1` or `apps/v1`.
    pub fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// One stored object: its key, what selectors look at, and its JSON as a list item.
#[derive(Clone, Debug)]
pub struct Item {
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.labels`.
    pub labels: BTreeMap<String, String>,
    /// Field-selector values (`metadata.name`, `status.phase`, `involvedObject.name`, ...).
    pub fields: BTreeMap<String, String>,
    /// `metadata.resourceVersion` as a number (0 when absent or not numeric).
    pub resource_version: u64,
    /// Compact JSON of the object as a list item (built-in types: without `kind`/`apiVersion`).
    pub body: Bytes,
}

impl Item {
    /// The sort key the real API lists by (etcd key order: namespace, then name).
    pub fn key(&self) -> (&str, &str) {
        (&self.namespace, &self.name)
    }
}

/// The objects of one resource (all versions share them), sorted by key; copy-on-write on change.
/// Bulk loading appends unsorted and the first read sorts once (a cluster of 10,000 pods would
/// otherwise pay a sorted insert per object).
#[derive(Debug, Default)]
pub struct Store {
    /// Snapshot readers clone cheaply; writers replace it.
    pub items: RwLock<Arc<Vec<Item>>>,
    unsorted: std::sync::atomic::AtomicBool,
}

impl Store {
    /// Appends without keeping order (for loading); a later read sorts.
    pub fn push(&self, item: Item) {
        let mut guard = self.items.write().expect("store lock");
        Arc::make_mut(&mut guard).push(item);
        self.unsorted
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Replaces every item.
    pub fn clear(&self) {
        *self.items.write().expect("store lock") = Arc::new(Vec::new());
        self.unsorted
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    fn ensure_sorted(&self) {
        if !self.unsorted.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let mut guard = self.items.write().expect("store lock");
        if !self
            .unsorted
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        let items = Arc::make_mut(&mut guard);
        items.sort_by(|a, b| a.key().cmp(&b.key()));
        // A key loaded twice keeps its last version (upsert semantics).
        let mut out: Vec<Item> = Vec::with_capacity(items.len());
        for item in items.drain(..) {
            if out.last().is_some_and(|l| l.key() == item.key()) {
                out.pop();
            }
            out.push(item);
        }
        *items = out;
    }

    /// The current items, in key order.
    pub fn snapshot(&self) -> Arc<Vec<Item>> {
        self.ensure_sorted();
        self.items.read().expect("store lock").clone()
    }

    /// Inserts or replaces an item, keeping key order.
    pub fn upsert(&self, item: Item) {
        self.ensure_sorted();
        let mut guard = self.items.write().expect("store lock");
        let items = Arc::make_mut(&mut guard);
        match items.binary_search_by(|i| i.key().cmp(&item.key())) {
            Ok(pos) => items[pos] = item,
            Err(pos) => items.insert(pos, item),
        }
    }

    /// Removes an item; returns it if it was there.
    pub fn remove(&self, namespace: &str, name: &str) -> Option<Item> {
        self.ensure_sorted();
        let mut guard = self.items.write().expect("store lock");
        let items = Arc::make_mut(&mut guard);
        match items.binary_search_by(|i| i.key().cmp(&(namespace, name))) {
            Ok(pos) => Some(items.remove(pos)),
            Err(_) => None,
        }
    }

    /// One item by key.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Item> {
        let items = self.snapshot();
        items
            .binary_search_by(|i| i.key().cmp(&(namespace, name)))
            .ok()
            .map(|pos| items[pos].clone())
    }
}

/// A log line with the instant the container wrote it (seconds before the server started).
#[derive(Clone, Debug)]
pub struct LogLine {
    /// Seconds before server start at which this line was written.
    pub age_secs: u64,
    /// The line without its newline.
    pub text: String,
}

/// What the exec endpoint answers for a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    /// Bytes on channel 1.
    pub stdout: Vec<u8>,
    /// Bytes on channel 2.
    pub stderr: Vec<u8>,
    /// Exit code; non-zero gives a `NonZeroExitCode` Status on the error channel.
    pub exit_code: i32,
}

/// A canned exec answer: matched on the exact argv, optionally only in pods whose name starts with a prefix.
#[derive(Clone, Debug)]
pub struct ExecRule {
    /// Pod name prefix; empty matches every pod.
    pub pod_prefix: String,
    /// The command and its arguments, exactly.
    pub command: Vec<String>,
    /// The answer.
    pub output: ExecOutput,
}

/// An RBAC denial: the identity may not touch `resource` of `group` (in `namespace`, or everywhere).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    /// API group; empty for core.
    pub group: String,
    /// Plural resource name.
    pub resource: String,
    /// Only this namespace; `None` for every namespace and the cluster scope.
    pub namespace: Option<String>,
}

/// Logs by (namespace, pod, container, previous).
pub type Logs = HashMap<(String, String, String, bool), Arc<Vec<LogLine>>>;

/// Sizes of a generated cluster (added on top of the baseline's four namespaces).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenSpec {
    /// Generated namespaces `gen-0000`, `gen-0001`, ...
    pub namespaces: usize,
    /// Deployments, spread round-robin over the namespaces; each has one ReplicaSet and one Service.
    pub deployments: usize,
    /// Pods, spread round-robin over the deployments (or the namespaces when there are none).
    pub pods: usize,
    /// Extra ConfigMaps per namespace (each namespace also gets `kube-root-ca.crt`).
    pub configmaps_per_namespace: usize,
    /// Events per namespace.
    pub events_per_namespace: usize,
}

impl Default for GenSpec {
    fn default() -> Self {
        GenSpec {
            namespaces: 10,
            deployments: 20,
            pods: 100,
            configmaps_per_namespace: 1,
            events_per_namespace: 2,
        }
    }
}

impl GenSpec {
    /// Parses `pods=10000,deployments=2000,namespaces=200` (unnamed sizes keep their defaults).
    pub fn parse(s: &str) -> Result<GenSpec, String> {
        let mut spec = GenSpec::default();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected key=number"))?;
            let n: usize = value
                .parse()
                .map_err(|_| format!("`{part}`: `{value}` is not a number"))?;
            match key {
                "namespaces" => spec.namespaces = n,
                "deployments" => spec.deployments = n,
                "pods" => spec.pods = n,
                "configmaps" => spec.configmaps_per_namespace = n,
                "events" => spec.events_per_namespace = n,
                other => {
                    return Err(format!(
                        "unknown size `{other}` (known: namespaces, deployments, pods, configmaps, events)"
                    ));
                }
            }
        }
        if spec.namespaces == 0 && (spec.deployments > 0 || spec.pods > 0) {
            return Err("deployments and pods need at least one namespace".to_string());
        }
        Ok(spec)
    }
}

/// Everything a test API server serves.
#[derive(Debug)]
pub struct Cluster {
    /// The `/version` object.
    pub version: Value,
    /// APIGroup objects in discovery order (the core group has name "").
    pub groups: Vec<Value>,
    /// APIResourceList objects (`groupVersion`, `resources`), one per group version.
    pub resource_lists: Vec<Value>,
    /// Listable resources by (group, version, plural).
    pub types: Vec<ResourceType>,
    /// Objects by (group, plural).
    pub stores: HashMap<(String, String), Arc<Store>>,
    /// SelfSubjectRulesReview rules by namespace, as PolicyRule objects (`auth-cani-list/<ns>.json`).
    pub rules: BTreeMap<String, Vec<Value>>,
    /// Rules for namespaces without their own entry.
    pub default_rules: Vec<Value>,
    /// Explicit logs by (namespace, pod, container, previous).
    pub logs: Logs,
    /// Lines of the synthetic log every container without an explicit log has.
    pub synthetic_log_lines: usize,
    /// Canned exec answers, first match wins.
    pub exec: Vec<ExecRule>,
    /// RBAC denials in force from the start.
    pub denials: Vec<Denial>,
    /// The highest resourceVersion seen; lists report it.
    pub resource_version: u64,
    /// Seconds a created pod stays Pending/Running before it is Succeeded.
    pub pod_run_secs: f64,
}

/// The bundle files a cluster is replayed from.
type Files = BTreeMap<String, Vec<u8>>;

fn compat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/compat")
}

/// Reads `cluster-resources/`, `cluster-info/` and pod logs out of a support bundle archive, keyed by
/// their path below the bundle's top folder.
fn read_bundle(path: &Path) -> Result<Files, String> {
    let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let deflate =
        skip_gzip_header(&raw).ok_or_else(|| format!("{}: not a gzip file", path.display()))?;
    // The raw deflate stream, without the gzip CRC: unoptimized test builds spend most of the
    // load time checksumming otherwise.
    let mut archive = tar::Archive::new(flate2::read::DeflateDecoder::new(deflate));
    let mut files = Files::new();
    let entries = archive
        .entries()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("{}: {e}", path.display()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(|e| format!("{}: {e}", path.display()))?
            .to_string_lossy()
            .into_owned();
        // Drop the bundle's top folder.
        let Some((_, rest)) = name.split_once('/') else {
            continue;
        };
        if rest.starts_with("cluster-resources/") || rest.starts_with("cluster-info/") {
            let mut buf = Vec::new();
            entry
                .read_to_end(&mut buf)
                .map_err(|e| format!("{}: {name}: {e}", path.display()))?;
            files.insert(rest.to_string(), buf);
        }
    }
    Ok(files)
}

/// The deflate data of a gzip member (RFC 1952 header skipped).
fn skip_gzip_header(data: &[u8]) -> Option<&[u8]> {
    if data.len() < 10 || data[0] != 0x1f || data[1] != 0x8b || data[2] != 8 {
        return None;
    }
    let flags = data[3];
    let mut pos = 10;
    if flags & 0x04 != 0 {
        let xlen = usize::from(*data.get(pos)?) | usize::from(*data.get(pos + 1)?) << 8;
        pos += 2 + xlen;
    }
    for bit in [0x08, 0x10] {
        if flags & bit != 0 {
            pos += data.get(pos..)?.iter().position(|&b| b == 0)? + 1;
        }
    }
    if flags & 0x02 != 0 {
        pos += 2;
    }
    data.get(pos..)
}

fn parse_json(name: &str, bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("{name}: {e}"))
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_group_version(gv: &str) -> (String, String) {
    match gv.split_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), gv.to_string()),
    }
}

/// Field-selector values the real API supports for a kind.
pub fn selector_fields(kind: &str, obj: &Value) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    fields.insert("metadata.name".into(), s(&obj["metadata"]["name"]));
    fields.insert(
        "metadata.namespace".into(),
        s(&obj["metadata"]["namespace"]),
    );
    match kind {
        "Pod" => {
            fields.insert("status.phase".into(), s(&obj["status"]["phase"]));
            fields.insert("spec.nodeName".into(), s(&obj["spec"]["nodeName"]));
            fields.insert(
                "spec.serviceAccountName".into(),
                s(&obj["spec"]["serviceAccountName"]),
            );
            fields.insert(
                "spec.restartPolicy".into(),
                s(&obj["spec"]["restartPolicy"]),
            );
            fields.insert("status.podIP".into(), s(&obj["status"]["podIP"]));
        }
        "Event" => {
            for f in [
                "kind",
                "namespace",
                "name",
                "uid",
                "apiVersion",
                "resourceVersion",
                "fieldPath",
            ] {
                fields.insert(format!("involvedObject.{f}"), s(&obj["involvedObject"][f]));
            }
            fields.insert("reason".into(), s(&obj["reason"]));
            fields.insert("source".into(), s(&obj["source"]["component"]));
            fields.insert("type".into(), s(&obj["type"]));
            fields.insert("reportingComponent".into(), s(&obj["reportingComponent"]));
        }
        "Secret" => {
            fields.insert("type".into(), s(&obj["type"]));
        }
        "Node" => {
            fields.insert(
                "spec.unschedulable".into(),
                obj["spec"]["unschedulable"]
                    .as_bool()
                    .unwrap_or(false)
                    .to_string(),
            );
        }
        _ => {}
    }
    fields
}

impl Cluster {
    /// The k3s v1.31 cluster of `../shared/compat/bundles/baseline-v0.12x.tar.gz`, replayed.
    /// Parsed once per process; each call returns an independent copy.
    pub fn baseline() -> Cluster {
        static BASELINE: std::sync::OnceLock<Cluster> = std::sync::OnceLock::new();
        BASELINE
            .get_or_init(|| {
                let path = compat_dir().join("bundles/baseline-v0.12x.tar.gz");
                Cluster::from_bundle(&path).unwrap_or_else(|e| {
                    panic!(
                        "cannot load the baseline cluster from {}: {e}\n\
                         The test API server needs ../shared/compat beside the repository.",
                        path.display()
                    )
                })
            })
            .deep_clone()
    }

    /// A copy whose stores are independent of this one's (items share their immutable bytes).
    pub fn deep_clone(&self) -> Cluster {
        Cluster {
            version: self.version.clone(),
            groups: self.groups.clone(),
            resource_lists: self.resource_lists.clone(),
            types: self.types.clone(),
            stores: self
                .stores
                .iter()
                .map(|(k, store)| {
                    let copy = Store::default();
                    *copy.items.write().expect("store lock") =
                        Arc::new((*store.snapshot()).clone());
                    (k.clone(), Arc::new(copy))
                })
                .collect(),
            rules: self.rules.clone(),
            default_rules: self.default_rules.clone(),
            logs: self.logs.clone(),
            synthetic_log_lines: self.synthetic_log_lines,
            exec: self.exec.clone(),
            denials: self.denials.clone(),
            resource_version: self.resource_version,
            pod_run_secs: self.pod_run_secs,
        }
    }

    /// The baseline's discovery, version and RBAC, plus the analyzer fixtures of
    /// `../shared/compat/cluster-resources/` (pods in many failure states, nodes, jobs, events...)
    /// instead of the baseline's objects.
    pub fn unhealthy() -> Cluster {
        let mut cluster = Cluster::baseline();
        for store in cluster.stores.values() {
            store.clear();
        }
        let dir = compat_dir().join("cluster-resources");
        let mut files = Files::new();
        collect_dir(&dir, &dir, &mut files).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut namespaces = std::collections::BTreeSet::new();
        for (name, bytes) in &files {
            if name.starts_with("support-bundle/") {
                continue;
            }
            let value = parse_json(name, bytes).unwrap_or_else(|e| panic!("{e}"));
            for item in list_items(&value) {
                if let Some(ns) = item["metadata"]["namespace"].as_str() {
                    namespaces.insert(ns.to_string());
                }
                cluster
                    .insert_in_list(
                        item,
                        list_kind(&value).as_deref(),
                        value["apiVersion"].as_str(),
                    )
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
        for ns in namespaces {
            cluster.add_namespace(&ns);
        }
        cluster
    }

    /// Replays a support bundle's `cluster-resources/` and `cluster-info/` (troubleshoot layout).
    pub fn from_bundle(path: &Path) -> Result<Cluster, String> {
        let files = read_bundle(path)?;
        Cluster::from_files(&files)
    }

    fn from_files(files: &Files) -> Result<Cluster, String> {
        let get = |name: &str| {
            files
                .get(name)
                .ok_or_else(|| format!("the bundle has no {name}"))
        };
        let version_file = parse_json(
            "cluster-info/cluster_version.json",
            get("cluster-info/cluster_version.json")?,
        )?;
        let version = version_file["info"].clone();
        let groups_value = parse_json(
            "cluster-resources/groups.json",
            get("cluster-resources/groups.json")?,
        )?;
        let groups = groups_value
            .as_array()
            .ok_or("groups.json is not an array")?
            .clone();
        let resources_value = parse_json(
            "cluster-resources/resources.json",
            get("cluster-resources/resources.json")?,
        )?;
        let resource_lists = resources_value
            .as_array()
            .ok_or("resources.json is not an array")?
            .clone();

        let crds_value = files
            .get("cluster-resources/custom-resource-definitions.json")
            .map(|b| parse_json("custom-resource-definitions.json", b))
            .transpose()?;
        let mut custom: std::collections::HashSet<(String, String)> = Default::default();
        if let Some(crds) = &crds_value {
            for crd in list_items(crds) {
                custom.insert((
                    crd["spec"]["group"].as_str().unwrap_or("").to_string(),
                    crd["spec"]["names"]["plural"]
                        .as_str()
                        .unwrap_or("")
                        .to_string(),
                ));
            }
        }

        let mut types = Vec::new();
        let mut stores = HashMap::new();
        for list in &resource_lists {
            let (group, version) = split_group_version(list["groupVersion"].as_str().unwrap_or(""));
            for r in list["resources"].as_array().into_iter().flatten() {
                let plural = r["name"].as_str().unwrap_or("").to_string();
                if plural.is_empty() || plural.contains('/') {
                    continue;
                }
                let verbs: Vec<&str> = r["verbs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str())
                    .collect();
                if !verbs.contains(&"list") && !verbs.contains(&"get") && !verbs.contains(&"create")
                {
                    continue;
                }
                stores
                    .entry((group.clone(), plural.clone()))
                    .or_insert_with(|| Arc::new(Store::default()));
                types.push(ResourceType {
                    custom: custom.contains(&(group.clone(), plural.clone())),
                    group: group.clone(),
                    version: version.clone(),
                    plural,
                    kind: r["kind"].as_str().unwrap_or("").to_string(),
                    namespaced: r["namespaced"].as_bool().unwrap_or(false),
                });
            }
        }

        let mut cluster = Cluster {
            version,
            groups,
            resource_lists,
            types,
            stores,
            rules: BTreeMap::new(),
            default_rules: Vec::new(),
            logs: HashMap::new(),
            synthetic_log_lines: 20,
            exec: default_exec_rules(),
            denials: Vec::new(),
            resource_version: 0,
            pod_run_secs: 0.5,
        };

        for (name, bytes) in files {
            let Some(rel) = name.strip_prefix("cluster-resources/") else {
                continue;
            };
            if rel.starts_with("pods/logs/") {
                // pods/logs/<ns>/<pod>/<container>[-previous].log
                let parts: Vec<&str> = rel.split('/').collect();
                if parts.len() == 5
                    && let Some(file) = parts[4].strip_suffix(".log")
                {
                    let (container, previous) = match file.strip_suffix("-previous") {
                        Some(c) => (c, true),
                        None => (file, false),
                    };
                    if container.ends_with("-logs-errors") {
                        continue;
                    }
                    let text = String::from_utf8_lossy(bytes);
                    cluster.set_log(parts[2], parts[3], container, previous, &text);
                }
                continue;
            }
            if let Some(ns_file) = rel.strip_prefix("auth-cani-list/") {
                if let Some(ns) = ns_file.strip_suffix(".json") {
                    let rules = parse_json(name, bytes)?;
                    let rules = rules.as_array().cloned().unwrap_or_default();
                    if ns == "default" {
                        cluster.default_rules = rules.clone();
                    }
                    cluster.rules.insert(ns.to_string(), rules);
                }
                continue;
            }
            if !rel.ends_with(".json")
                || rel.ends_with("-errors.json")
                || rel == "groups.json"
                || rel == "resources.json"
                || rel.starts_with("image-pull-secrets/")
            {
                continue;
            }
            let value = parse_json(name, bytes)?;
            let list_kind = list_kind(&value);
            for item in list_items(&value) {
                cluster
                    .insert_in_list(item, list_kind.as_deref(), value["apiVersion"].as_str())
                    .map_err(|e| format!("{name}: {e}"))?;
            }
        }
        Ok(cluster)
    }

    /// The type serving `kind` in `apiVersion` (the preferred one if several versions serve it).
    pub fn type_for_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        let (group, version) = split_group_version(api_version);
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.kind == kind)
            .or_else(|| {
                self.types
                    .iter()
                    .find(|t| t.group == group && t.kind == kind)
            })
    }

    /// The type at a URL's group, version and plural.
    pub fn type_at(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// The store of a type.
    pub fn store(&self, t: &ResourceType) -> Arc<Store> {
        self.stores
            .get(&(t.group.clone(), t.plural.clone()))
            .cloned()
            .expect("every type has a store")
    }

    /// Adds one object (with `kind` and `apiVersion`, or a list kind to infer them from).
    pub fn insert_value(&mut self, obj: Value, list_kind: Option<&str>) -> Result<(), String> {
        self.insert_in_list(obj, list_kind, None)
    }

    /// Adds one object, taking a missing `kind`/`apiVersion` from its List's.
    pub fn insert_in_list(
        &mut self,
        obj: Value,
        list_kind: Option<&str>,
        list_api_version: Option<&str>,
    ) -> Result<(), String> {
        let kind = obj["kind"]
            .as_str()
            .map(str::to_string)
            .or_else(|| {
                list_kind
                    .and_then(|k| k.strip_suffix("List"))
                    .map(str::to_string)
            })
            .ok_or("an object without kind")?;
        let api_version = obj["apiVersion"]
            .as_str()
            .or(list_api_version)
            .map(str::to_string)
            .ok_or_else(|| format!("a {kind} without apiVersion"))?;
        let t = self
            .type_for_kind(&api_version, &kind)
            .ok_or_else(|| format!("{api_version} {kind} is not in discovery"))?
            .clone();
        let item = make_item(&t, obj)?;
        self.resource_version = self.resource_version.max(item.resource_version);
        self.store(&t).push(item);
        Ok(())
    }

    /// Serves a custom resource type (as if its CRD were installed): in discovery and listable.
    pub fn add_custom_type(
        &mut self,
        group: &str,
        version: &str,
        plural: &str,
        kind: &str,
        namespaced: bool,
    ) {
        let gv = format!("{group}/{version}");
        let entry = json!({"name": plural, "singularName": kind.to_lowercase(), "namespaced": namespaced,
            "kind": kind, "verbs": ["get", "list", "watch"]});
        match self
            .resource_lists
            .iter_mut()
            .find(|l| l["groupVersion"] == gv.as_str())
        {
            Some(list) => list["resources"]
                .as_array_mut()
                .expect("resources")
                .push(entry),
            None => {
                self.resource_lists
                    .push(json!({"groupVersion": gv, "resources": [entry]}));
                let gvd = json!({"groupVersion": gv, "version": version});
                self.groups
                    .push(json!({"name": group, "versions": [gvd], "preferredVersion": gvd}));
            }
        }
        self.stores
            .entry((group.to_string(), plural.to_string()))
            .or_insert_with(|| Arc::new(Store::default()));
        self.types.push(ResourceType {
            group: group.to_string(),
            version: version.to_string(),
            plural: plural.to_string(),
            kind: kind.to_string(),
            namespaced,
            custom: true,
        });
    }

    /// Adds a namespace object (Active) if it is not there yet.
    pub fn add_namespace(&mut self, name: &str) {
        let t = self
            .type_at("", "v1", "namespaces")
            .expect("namespaces are in discovery")
            .clone();
        if self.store(&t).get("", name).is_some() {
            return;
        }
        let obj = json!({
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {
                "name": name,
                "uid": fake_uid("namespace", name, 0),
                "resourceVersion": "1",
                "creationTimestamp": "2025-12-10T17:25:00Z",
                "labels": {"kubernetes.io/metadata.name": name}
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}
        });
        self.insert_value(obj, None).expect("namespace is valid");
    }

    /// Sets the log of one container (`previous`: the log of its last terminated instance).
    pub fn set_log(&mut self, ns: &str, pod: &str, container: &str, previous: bool, text: &str) {
        let lines: Vec<&str> = text.lines().collect();
        let n = lines.len() as u64;
        let lines = lines
            .iter()
            .enumerate()
            .map(|(i, l)| LogLine {
                // One line a minute, the last one just before the server started.
                age_secs: (n - i as u64) * 60,
                text: l.to_string(),
            })
            .collect();
        self.logs.insert(
            (ns.into(), pod.into(), container.into(), previous),
            Arc::new(lines),
        );
    }

    /// Adds a canned exec answer (checked before the built-in ones).
    pub fn add_exec(&mut self, pod_prefix: &str, command: &[&str], output: ExecOutput) {
        self.exec.insert(
            0,
            ExecRule {
                pod_prefix: pod_prefix.to_string(),
                command: command.iter().map(|s| s.to_string()).collect(),
                output,
            },
        );
    }

    /// Denies the identity every verb on a resource (`namespace: None`: everywhere).
    pub fn deny(mut self, group: &str, resource: &str, namespace: Option<&str>) -> Cluster {
        self.denials.push(Denial {
            group: group.to_string(),
            resource: resource.to_string(),
            namespace: namespace.map(str::to_string),
        });
        self
    }

    /// The baseline plus a deterministic generated workload of the given sizes, built from the
    /// baseline's own objects as templates (so items are as large and as shaped as real ones).
    pub fn generated(spec: &GenSpec) -> Cluster {
        let mut cluster = Cluster::baseline();
        generate(&mut cluster, spec);
        cluster
    }

    /// Number of objects of a resource.
    pub fn count(&self, group: &str, plural: &str) -> usize {
        self.stores
            .get(&(group.to_string(), plural.to_string()))
            .map(|s| s.snapshot().len())
            .unwrap_or(0)
    }
}

fn collect_dir(root: &Path, dir: &Path, files: &mut Files) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_dir(root, &path, files)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            let rel = path
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            files.insert(rel, std::fs::read(&path)?);
        }
    }
    Ok(())
}

/// Items of a List object, or the elements of a JSON array, or the object itself.
fn list_items(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Object(map) if map.contains_key("items") => {
            map["items"].as_array().cloned().unwrap_or_default()
        }
        Value::Object(map) if map.contains_key("metadata") => vec![value.clone()],
        _ => Vec::new(),
    }
}

fn list_kind(value: &Value) -> Option<String> {
    value["kind"].as_str().map(str::to_string)
}

/// Builds the stored form of an object: `kind`/`apiVersion` dropped for built-in types, as the
/// real API serves typed list items.
pub fn make_item(t: &ResourceType, mut obj: Value) -> Result<Item, String> {
    let fields = selector_fields(&t.kind, &obj);
    let meta = &obj["metadata"];
    let name = meta["name"]
        .as_str()
        .ok_or("an object without metadata.name")?
        .to_string();
    let namespace = if t.namespaced {
        meta["namespace"].as_str().unwrap_or("").to_string()
    } else {
        String::new()
    };
    let labels = meta["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    let resource_version = meta["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let map = obj
        .as_object_mut()
        .ok_or("an object that is not a JSON object")?;
    if t.custom {
        map.insert("apiVersion".into(), Value::String(t.group_version()));
        map.insert("kind".into(), Value::String(t.kind.clone()));
    } else {
        map.shift_remove("kind");
        map.shift_remove("apiVersion");
    }
    let body = serde_json::to_vec(&obj).map_err(|e| e.to_string())?;
    Ok(Item {
        namespace,
        name,
        labels,
        fields,
        resource_version,
        body: Bytes::from(body),
    })
}

/// A stable UUID-shaped id for generated objects.
pub fn fake_uid(kind: &str, name: &str, n: u64) -> String {
    // FNV-1a over the inputs, widened with splitmix64: stable, cheap, not cryptographic.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in kind
        .bytes()
        .chain([b'/'])
        .chain(name.bytes())
        .chain(n.to_le_bytes())
    {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mix = |mut z: u64| {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let (a, b) = (mix(h), mix(h.wrapping_add(0x9e37_79b9_7f4a_7c15)));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// Commands every pod answers unless a test adds its own.
fn default_exec_rules() -> Vec<ExecRule> {
    let ok = |out: &str| ExecOutput {
        stdout: out.as_bytes().to_vec(),
        stderr: Vec::new(),
        exit_code: 0,
    };
    vec![
        ExecRule {
            pod_prefix: String::new(),
            command: vec!["uname".into(), "-a".into()],
            output: ok("Linux test-node 6.1.0-test #1 SMP x86_64 GNU/Linux\n"),
        },
        ExecRule {
            pod_prefix: String::new(),
            command: vec!["cat".into(), "/etc/hostname".into()],
            output: ok("test-pod\n"),
        },
        ExecRule {
            pod_prefix: String::new(),
            command: vec!["sh".into(), "-c".into(), "exit 3".into()],
            output: ExecOutput {
                stdout: Vec::new(),
                stderr: b"exiting with 3\n".to_vec(),
                exit_code: 3,
            },
        },
    ]
}

fn set(v: &mut Value, path: &[&str], value: Value) {
    let mut cur = v;
    for key in &path[..path.len() - 1] {
        cur = &mut cur[*key];
    }
    cur[path[path.len() - 1]] = value;
}

fn first_item(cluster: &Cluster, group: &str, plural: &str, ns: &str, prefix: &str) -> Value {
    let store = cluster
        .stores
        .get(&(group.to_string(), plural.to_string()))
        .expect("baseline store");
    let items = store.snapshot();
    let item = items
        .iter()
        .find(|i| i.namespace == ns && i.name.starts_with(prefix))
        .unwrap_or_else(|| panic!("the baseline has no {plural} {ns}/{prefix}*"));
    serde_json::from_slice(&item.body).expect("stored JSON")
}

/// An object serialized once with `"@@slot@@"` markers where generated objects differ; rendering
/// splices JSON into the slots, so a generated object costs a few string copies, not a JSON
/// round trip (10,000 pods load in well under a second in a release build).
struct Template {
    /// The store generated objects go to: (group, plural).
    store: (String, String),
    pieces: Vec<(String, Option<String>)>,
    /// Field-selector values of the template, for the fields that do not vary.
    fields: BTreeMap<String, String>,
}

impl Template {
    /// `object` with `slots` (path → slot name) replaced by markers.
    fn new(
        (group, plural, kind): (&str, &str, &str),
        mut object: Value,
        slots: &[(&[&str], &str)],
    ) -> Template {
        let fields = selector_fields(kind, &object);
        for (path, slot) in slots {
            set(&mut object, path, Value::String(format!("@@{slot}@@")));
        }
        let text = serde_json::to_string(&object).expect("template JSON");
        let mut pieces = Vec::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("\"@@") {
            let end = rest[start + 3..]
                .find("@@\"")
                .expect("a closed template marker")
                + start
                + 3;
            pieces.push((
                rest[..start].to_string(),
                Some(rest[start + 3..end].to_string()),
            ));
            rest = &rest[end + 3..];
        }
        pieces.push((rest.to_string(), None));
        assert_eq!(
            pieces.len(),
            slots.len() + 1,
            "every slot appears once in the {kind} template"
        );
        Template {
            store: (group.to_string(), plural.to_string()),
            pieces,
            fields,
        }
    }

    /// The object with each slot's JSON value spliced in.
    fn render(&self, values: &[(&str, String)]) -> Bytes {
        let mut out =
            Vec::with_capacity(self.pieces.iter().map(|p| p.0.len()).sum::<usize>() + 512);
        for (lit, slot) in &self.pieces {
            out.extend_from_slice(lit.as_bytes());
            if let Some(slot) = slot {
                let (_, v) = values
                    .iter()
                    .find(|(name, _)| name == slot)
                    .unwrap_or_else(|| panic!("no value for template slot {slot}"));
                out.extend_from_slice(v.as_bytes());
            }
        }
        Bytes::from(out)
    }
}

fn js(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// Adds a generated object (already rendered) to its store.
fn push_generated(
    cluster: &mut Cluster,
    template: &Template,
    ns: &str,
    name: &str,
    rv: u64,
    labels: BTreeMap<String, String>,
    values: &[(&str, String)],
) {
    let mut fields = template.fields.clone();
    fields.insert("metadata.name".into(), name.to_string());
    fields.insert("metadata.namespace".into(), ns.to_string());
    if fields.contains_key("involvedObject.namespace") {
        fields.insert("involvedObject.namespace".into(), ns.to_string());
    }
    if let Some((_, ip)) = values.iter().find(|(k, _)| *k == "ip") {
        fields.insert("status.podIP".into(), ip.trim_matches('"').to_string());
    }
    let item = Item {
        namespace: ns.to_string(),
        name: name.to_string(),
        labels,
        fields,
        resource_version: rv,
        body: template.render(values),
    };
    cluster.resource_version = cluster.resource_version.max(rv);
    cluster
        .stores
        .get(&template.store)
        .expect("generated kinds are in discovery")
        .push(item);
}

fn label_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn labels_json(labels: &BTreeMap<String, String>) -> String {
    serde_json::to_string(labels).expect("labels JSON")
}

/// Adds `spec`'s workload to the cluster. Templates: coredns's Deployment, ReplicaSet and Pod,
/// kube-dns's Service, the kube-root-ca.crt ConfigMap, an Event and the default ServiceAccount of
/// the baseline, so generated objects are as large and as shaped as real ones.
fn generate(cluster: &mut Cluster, spec: &GenSpec) {
    const META: &[(&[&str], &str)] = &[
        (&["metadata", "name"], "name"),
        (&["metadata", "namespace"], "ns"),
        (&["metadata", "uid"], "uid"),
        (&["metadata", "resourceVersion"], "rv"),
    ];
    let with = |extra: &[(&'static [&'static str], &'static str)]| -> Vec<(&'static [&'static str], &'static str)> {
        META.iter().chain(extra.iter()).copied().collect()
    };
    let sa_t = Template::new(
        ("", "serviceaccounts", "ServiceAccount"),
        first_item(cluster, "", "serviceaccounts", "default", "default"),
        &with(&[]),
    );
    let cm_t = Template::new(
        ("", "configmaps", "ConfigMap"),
        first_item(cluster, "", "configmaps", "kube-system", "kube-root-ca.crt"),
        &with(&[]),
    );
    let ev_t = Template::new(
        ("", "events", "Event"),
        first_item(cluster, "", "events", "kube-system", ""),
        &with(&[(&["involvedObject", "namespace"], "ns2")]),
    );
    let dep_t = Template::new(
        ("apps", "deployments", "Deployment"),
        first_item(cluster, "apps", "deployments", "kube-system", "coredns"),
        &with(&[
            (&["metadata", "labels"], "labels"),
            (&["spec", "selector"], "selector"),
            (&["spec", "template", "metadata", "labels"], "tlabels"),
        ]),
    );
    let rs_t = Template::new(
        ("apps", "replicasets", "ReplicaSet"),
        first_item(cluster, "apps", "replicasets", "kube-system", "coredns"),
        &with(&[
            (&["metadata", "labels"], "labels"),
            (&["metadata", "ownerReferences"], "owner"),
            (&["spec", "selector"], "selector"),
            (&["spec", "template", "metadata", "labels"], "tlabels"),
        ]),
    );
    let svc_t = Template::new(
        ("", "services", "Service"),
        first_item(cluster, "", "services", "kube-system", "kube-dns"),
        &with(&[
            (&["metadata", "labels"], "labels"),
            (&["spec", "selector"], "selector"),
            (&["spec", "clusterIP"], "ip"),
            (&["spec", "clusterIPs"], "ips"),
        ]),
    );
    let pod_slots = with(&[
        (&["metadata", "generateName"], "gen"),
        (&["metadata", "labels"], "labels"),
        (&["metadata", "ownerReferences"], "owner"),
        (&["status", "podIP"], "ip"),
        (&["status", "podIPs"], "ips"),
    ]);
    let pod_value = first_item(cluster, "", "pods", "kube-system", "coredns");
    let pod_t = Template::new(("", "pods", "Pod"), pod_value.clone(), &pod_slots);
    // Every 50th pod crash-loops: unhealthy-pod log collection has something to find.
    let mut crash = pod_value;
    {
        let cs = &mut crash["status"]["containerStatuses"][0];
        cs["ready"] = Value::Bool(false);
        cs["started"] = Value::Bool(false);
        cs["restartCount"] = json!(5);
        cs["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting failed container"}});
        cs["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2025-12-10T17:30:00Z", "finishedAt": "2025-12-10T17:30:05Z", "containerID": "containerd://0000"}});
    }
    let crash_t = Template::new(("", "pods", "Pod"), crash, &pod_slots);

    let ns_name = |i: usize| format!("gen-{i:04}");
    let mut rv = cluster.resource_version + 1;
    let mut next_rv = || {
        rv += 1;
        rv
    };
    let meta = |name: &str, ns: &str, uid: String, rv: u64| -> Vec<(&'static str, String)> {
        vec![
            ("name", js(name)),
            ("ns", js(ns)),
            ("uid", js(&uid)),
            ("rv", js(&rv.to_string())),
        ]
    };

    for n in 0..spec.namespaces {
        let ns = ns_name(n);
        cluster.add_namespace(&ns);
        let r = next_rv();
        let values = meta("default", &ns, fake_uid("sa", &ns, 0), r);
        push_generated(cluster, &sa_t, &ns, "default", r, BTreeMap::new(), &values);
        for c in 0..spec.configmaps_per_namespace {
            let name = if c == 0 {
                "kube-root-ca.crt".to_string()
            } else {
                format!("config-{c:03}")
            };
            let r = next_rv();
            let values = meta(&name, &ns, fake_uid("cm", &ns, c as u64), r);
            push_generated(cluster, &cm_t, &ns, &name, r, BTreeMap::new(), &values);
        }
        for e in 0..spec.events_per_namespace {
            let name = format!("gen-event.{n:04}{e:04}");
            let r = next_rv();
            let mut values = meta(&name, &ns, fake_uid("event", &ns, e as u64), r);
            values.push(("ns2", js(&ns)));
            push_generated(cluster, &ev_t, &ns, &name, r, BTreeMap::new(), &values);
        }
    }

    // (namespace, replicaset name, replicaset uid, pod labels)
    let mut replicasets = Vec::new();
    for d in 0..spec.deployments {
        let ns = ns_name(d % spec.namespaces.max(1));
        let name = format!("app-{d:05}");
        let hash = format!("{:010x}", d as u64 * 2654435761 % 0xff_ffff_ffff);
        let tier = if d % 2 == 0 { "web" } else { "worker" };
        let dep_uid = fake_uid("deployment", &name, 0);
        let rs_name = format!("{name}-{hash}");
        let rs_uid = fake_uid("replicaset", &rs_name, 0);
        let labels = label_map(&[("app", &name), ("tier", tier)]);
        let rs_labels = label_map(&[("app", &name), ("pod-template-hash", &hash), ("tier", tier)]);

        let r = next_rv();
        let mut values = meta(&name, &ns, dep_uid.clone(), r);
        values.push(("labels", labels_json(&labels)));
        values.push((
            "selector",
            json!({"matchLabels": {"app": name}}).to_string(),
        ));
        values.push(("tlabels", labels_json(&labels)));
        push_generated(cluster, &dep_t, &ns, &name, r, labels.clone(), &values);

        let r = next_rv();
        let mut values = meta(&rs_name, &ns, rs_uid.clone(), r);
        values.push(("labels", labels_json(&rs_labels)));
        values.push((
            "owner",
            json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": dep_uid,
                    "controller": true, "blockOwnerDeletion": true}])
            .to_string(),
        ));
        values.push((
            "selector",
            json!({"matchLabels": {"app": name, "pod-template-hash": hash}}).to_string(),
        ));
        values.push(("tlabels", labels_json(&rs_labels)));
        push_generated(cluster, &rs_t, &ns, &rs_name, r, rs_labels.clone(), &values);

        let r = next_rv();
        let ip = format!("10.43.{}.{}", (d / 250) % 250, d % 250 + 2);
        let mut values = meta(&name, &ns, fake_uid("service", &name, 0), r);
        values.push(("labels", labels_json(&labels)));
        values.push(("selector", json!({"app": name}).to_string()));
        values.push(("ip", js(&ip)));
        values.push(("ips", json!([ip]).to_string()));
        push_generated(cluster, &svc_t, &ns, &name, r, labels, &values);

        replicasets.push((ns, rs_name, rs_uid, rs_labels));
    }

    for p in 0..spec.pods {
        let (ns, name, generate_name, labels, owner) = if replicasets.is_empty() {
            let ns = ns_name(p % spec.namespaces.max(1));
            let labels = label_map(&[("app", "standalone")]);
            (
                ns,
                format!("pod-{p:06}"),
                "pod-".to_string(),
                labels,
                "[]".to_string(),
            )
        } else {
            let (ns, rs_name, rs_uid, rs_labels) = &replicasets[p % replicasets.len()];
            let suffix = fake_uid("pod", rs_name, p as u64);
            let owner = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name,
                                "uid": rs_uid, "controller": true, "blockOwnerDeletion": true}]);
            (
                ns.clone(),
                format!("{rs_name}-{}", &suffix[..5]),
                format!("{rs_name}-"),
                rs_labels.clone(),
                owner.to_string(),
            )
        };
        let r = next_rv();
        let ip = format!("10.42.{}.{}", (p / 250) % 250, p % 250 + 2);
        let mut values = meta(&name, &ns, fake_uid("pod", &name, p as u64), r);
        values.push(("gen", js(&generate_name)));
        values.push(("labels", labels_json(&labels)));
        values.push(("owner", owner));
        values.push(("ip", js(&ip)));
        values.push(("ips", json!([{"ip": ip}]).to_string()));
        let template = if p % 50 == 49 { &crash_t } else { &pod_t };
        push_generated(cluster, template, &ns, &name, r, labels, &values);
    }
}
