//! `collect.clusterSpecs`: specs stored in the cluster's Secrets and ConfigMaps, read at the start
//! of each run as troubleshoot's `--load-cluster-specs` reads them. A spec that cannot be read or
//! parsed is recorded as failed and left out; the run goes on with the others. A spec's `uri:` is
//! fetched only with `collect.followSpecURI: true` (`spec_uri.rs`), so air-gapped sites stay offline.

use crate::collect::cluster::access;
use crate::collect::cluster::api::{Api, encode};
use crate::digest::sha256_hex;
use crate::jobs::model::ClusterSpecs;
use crate::spec::{self, TroubleshootSpec, WRAPPED_SPEC_KEYS};
use crate::state::records::ClusterSpecRecord;
use crate::state::records::ClusterSpecStatus;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Items per list page.
const PAGE: u32 = 500;

/// How to reach the cluster.
pub(super) struct Reach {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub timeout: Duration,
    /// `collect.followSpecURI`: a stored spec's `uri:` is followed later (`spec_uri.rs`).
    pub follow_uri: bool,
}

/// What was loaded: the merged specs and one record per spec (or failed listing).
#[derive(Default)]
pub(super) struct Loaded {
    pub spec: TroubleshootSpec,
    pub records: Vec<ClusterSpecRecord>,
}

/// Reads the specs `want` names from the cluster `reach` leads to.
pub(super) async fn load(want: &ClusterSpecs, reach: &Reach) -> Loaded {
    let mut loaded = Loaded::default();
    let api = match connect(reach).await {
        Ok(api) => api,
        Err(e) => {
            loaded.records.push(failed("*".into(), None, e));
            return loaded;
        }
    };
    let namespaces: Vec<Option<&str>> = if want.namespaces.is_empty() {
        vec![None]
    } else {
        want.namespaces.iter().map(|n| Some(n.as_str())).collect()
    };
    for ns in namespaces {
        for (kind, plural) in [("Secret", "secrets"), ("ConfigMap", "configmaps")] {
            let path = match ns {
                Some(ns) => format!("/api/v1/namespaces/{}/{plural}", encode(ns)),
                None => format!("/api/v1/{plural}"),
            };
            let path = format!("{path}?labelSelector={}", encode(&want.label_selector));
            match list(&api, &path).await {
                Ok(items) => {
                    for item in &items {
                        read_object(&mut loaded, kind, item, reach.follow_uri);
                    }
                }
                Err(e) => {
                    let name = format!("{}/{kind}", ns.unwrap_or("*"));
                    loaded.records.push(failed(name, None, e));
                }
            }
        }
    }
    loaded.spec.dedup();
    loaded
}

async fn connect(reach: &Reach) -> Result<Api, String> {
    let source = access::discover_here(reach.kubeconfig.as_deref())
        .ok_or_else(|| access::NO_CONFIG.to_string())?;
    let a = access::connect(&source, reach.context.as_deref(), reach.timeout)
        .await
        .map_err(|e| format!("{}: {e}", access::NO_CONFIG))?;
    Ok(Api::new(a.client, reach.timeout))
}

async fn list(api: &Api, path: &str) -> Result<Vec<Value>, String> {
    let mut items = Vec::new();
    let mut cont: Option<String> = None;
    loop {
        let page = api
            .list_page(path, PAGE, cont.as_deref())
            .await
            .map_err(|e| format!("cannot list {path}: {e}"))?;
        items.extend(page.items);
        match page.next {
            Some(next) => cont = Some(next),
            None => return Ok(items),
        }
    }
}

/// The specs of one Secret or ConfigMap, under the keys troubleshoot reads, in its order.
fn read_object(loaded: &mut Loaded, kind: &str, item: &Value, follow_uri: bool) {
    let meta = &item["metadata"];
    let ns = meta["namespace"].as_str().unwrap_or_default();
    let obj = meta["name"].as_str().unwrap_or_default();
    let Some(data) = item.get("data").and_then(Value::as_object) else {
        return;
    };
    for key in WRAPPED_SPEC_KEYS {
        let Some(value) = data.get(*key) else {
            continue;
        };
        let name = format!("{ns}/{kind}/{obj}/{key}");
        let text = match text_of(kind, value) {
            Ok(text) => text,
            Err(e) => {
                loaded
                    .records
                    .push(failed(name, None, format!("`data.{key}` {e}")));
                continue;
            }
        };
        let sha = sha256_hex(text.as_bytes());
        let file = spec::parse_spec_text(Path::new(&format!("cluster:{name}")), &text);
        let errors: Vec<String> = file
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .take(3)
            .map(|d| format!("line {}: {}", d.line, d.message))
            .collect();
        if !errors.is_empty() {
            tracing::warn!(spec = %name, "cluster spec left out: {}", errors.join("; "));
            loaded
                .records
                .push(failed(name, Some(sha), errors.join("; ")));
            continue;
        }
        let mut spec = file.spec;
        let mut notes = Vec::new();
        if let Some(uri) = spec.uri.as_ref().filter(|_| !follow_uri) {
            notes.push(format!(
                "`uri: {uri}` was not fetched (`followSpecURI` is off)"
            ));
        }
        notes.extend(spec.confine_to_cluster("specs stored in the cluster"));
        let note = (!notes.is_empty()).then(|| notes.join("; "));
        loaded.spec.merge(spec);
        loaded.records.push(ClusterSpecRecord {
            name,
            sha256: Some(sha),
            status: ClusterSpecStatus::Loaded,
            error: note,
        });
    }
}

/// A Secret's `data` is base64 (the API never returns `stringData`); a ConfigMap's is text.
fn text_of(kind: &str, value: &Value) -> Result<String, &'static str> {
    let raw = value.as_str().ok_or("is not a string")?;
    if kind != "Secret" {
        return Ok(raw.to_string());
    }
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .map_err(|_| "is not base64")?;
    String::from_utf8(bytes).map_err(|_| "does not decode to UTF-8 text")
}

fn failed(name: String, sha256: Option<String>, error: String) -> ClusterSpecRecord {
    ClusterSpecRecord {
        name,
        sha256,
        status: ClusterSpecStatus::Failed,
        error: Some(error),
    }
}
