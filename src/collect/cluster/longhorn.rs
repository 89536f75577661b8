//! `longhorn`: Longhorn's custom resources in its namespace (`longhorn-system` unless given) →
//! `longhorn/<ns>/<kind>/<name>.yaml`, its settings → `longhorn/<ns>/settings.yaml`, and the logs
//! of every pod there → `longhorn/<ns>/logs/`.
//!
//! troubleshoot writes the typed Go objects with yaml.v2, which lower-cases field names and keeps
//! embedded structs as their own level (`objectmeta.name`, `spec.instancespec.desirestate`); the
//! objects are reshaped the same way from the API's JSON, so the `longhorn` analyzer reads them.
//! Not collected: the replica checksums of detached volumes (they need a command run in every
//! instance-manager pod).

use super::api::{ApiError, encode};
use super::{Ctx, Error};
use crate::collect::host::sanitize_component;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Longhorn's default namespace.
pub const DEFAULT_NAMESPACE: &str = "longhorn-system";

/// The resources troubleshoot saves object by object, in its order.
const KINDS: &[&str] = &[
    "nodes",
    "volumes",
    "replicas",
    "engines",
    "engineimages",
    "instancemanagers",
    "backingimagemanagers",
    "backingimages",
    "sharemanagers",
];

/// Fields whose value is a Go map: its keys are data (disk names, labels), not field names.
const MAP_FIELDS: &[&str] = &[
    "labels",
    "annotations",
    "disks",
    "diskStatus",
    "scheduledReplica",
    "conditions",
    "replicaModeMap",
    "replicaAddressMap",
    "currentReplicaAddressMap",
    "nodeDeploymentMap",
    "instances",
    "instanceEngines",
    "instanceReplicas",
    "diskFileStatusMap",
    "diskFileSpecMap",
    "parameters",
];

/// Fields of Longhorn's embedded `InstanceSpec` and `InstanceStatus` (engines and replicas).
const INSTANCE_SPEC: &[&str] = &[
    "volumeName",
    "volumeSize",
    "nodeID",
    "engineImage",
    "image",
    "desireState",
    "logRequested",
    "salvageRequested",
    "dataEngine",
];
const INSTANCE_STATUS: &[&str] = &[
    "ownerID",
    "instanceManagerName",
    "currentImage",
    "currentState",
    "ip",
    "storageIP",
    "port",
    "started",
    "logFetched",
    "salvageExecuted",
];

/// One object from the API reshaped as yaml.v2 writes the typed Go object.
pub fn go_shape(kind: &str, obj: &Value) -> Value {
    let mut out = Map::new();
    let mut typemeta = Map::new();
    for (k, v) in obj.as_object().into_iter().flatten() {
        match k.as_str() {
            "kind" | "apiVersion" => {
                typemeta.insert(k.to_lowercase(), v.clone());
            }
            "metadata" => {
                out.insert("objectmeta".into(), lower(v));
            }
            "spec" | "status" if matches!(kind, "replicas" | "engines") => {
                let (inner, fields) = if k == "spec" {
                    ("instancespec", INSTANCE_SPEC)
                } else {
                    ("instancestatus", INSTANCE_STATUS)
                };
                let mut outer = Map::new();
                let mut embedded = Map::new();
                for (f, fv) in v.as_object().into_iter().flatten() {
                    let target = if fields.contains(&f.as_str()) {
                        &mut embedded
                    } else {
                        &mut outer
                    };
                    target.insert(f.to_lowercase(), field(f, fv));
                }
                outer.insert(inner.into(), Value::Object(embedded));
                out.insert(k.clone(), Value::Object(outer));
            }
            _ => {
                out.insert(k.to_lowercase(), lower(v));
            }
        }
    }
    if !typemeta.is_empty() {
        out.insert("typemeta".into(), Value::Object(typemeta));
    }
    Value::Object(out)
}

/// A struct value with every field name lower-cased (map fields keep their keys).
fn lower(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, fv)| (k.to_lowercase(), field(k, fv)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(lower).collect()),
        other => other.clone(),
    }
}

/// The value of field `name`: map fields keep their keys, v1beta2's condition lists become
/// v1beta1's map by type.
fn field(name: &str, v: &Value) -> Value {
    if !MAP_FIELDS.contains(&name) {
        return lower(v);
    }
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), lower(x))).collect()),
        Value::Array(a) if name == "conditions" => Value::Object(
            a.iter()
                .map(|c| (c["type"].as_str().unwrap_or("").to_string(), lower(c)))
                .collect(),
        ),
        other => lower(other),
    }
}

/// Every object of `plural` in `ns`; `None` when Longhorn does not serve it (404).
async fn list(ctx: &Ctx, version: &str, ns: &str, plural: &str) -> Result<Vec<Value>, ApiError> {
    let path = format!(
        "/apis/longhorn.io/{version}/namespaces/{}/{plural}",
        encode(ns)
    );
    let mut items = Vec::new();
    ctx.api
        .list_each(&path, ctx.opts.page_size, |page| items.extend(page))
        .await?;
    Ok(items)
}

fn to_yaml(v: &Value) -> Result<String, Error> {
    serde_saphyr::to_string(v).map_err(|e| Error::Other(format!("cannot write YAML: {e}")))
}

/// Runs `longhorn`. Without Longhorn (its nodes are not served) nothing is written.
pub(super) async fn collect(ctx: &Ctx, body: &Value) -> Result<(), Error> {
    let ns = body["namespace"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE)
        .to_string();
    // troubleshoot reads v1beta1; Longhorn 1.6 and later serve only v1beta2.
    let mut version = "v1beta1";
    let nodes = match list(ctx, version, &ns, "nodes").await {
        Err(e) if e.is_not_found() => {
            version = "v1beta2";
            list(ctx, version, &ns, "nodes").await
        }
        other => other,
    };
    let nodes = match nodes {
        Ok(n) => n,
        Err(e) if e.is_not_found() => {
            tracing::info!("longhorn: nodes.longhorn.io not served in namespace {ns}");
            return Ok(());
        }
        Err(e) => return Err(Error::Other(format!("list nodes.longhorn.io: {e}"))),
    };
    let base = format!("longhorn/{}", sanitize_component(&ns));
    for plural in KINDS {
        let items = if *plural == "nodes" {
            nodes.clone()
        } else {
            list(ctx, version, &ns, plural)
                .await
                .map_err(|e| Error::Other(format!("list {plural}.longhorn.io: {e}")))?
        };
        for item in &items {
            let name = item["metadata"]["name"].as_str().unwrap_or("");
            ctx.write(
                &format!("{base}/{plural}/{}.yaml", sanitize_component(name)),
                &to_yaml(&go_shape(plural, item))?,
            )?;
        }
    }
    let settings = list(ctx, version, &ns, "settings")
        .await
        .map_err(|e| Error::Other(format!("list settings.longhorn.io: {e}")))?;
    let map: BTreeMap<String, Value> = settings
        .iter()
        .map(|s| {
            let value = s["value"].clone();
            let value = if value.is_null() {
                s["spec"]["value"].clone()
            } else {
                value
            };
            let text = value.as_str().map(str::to_string).unwrap_or_else(|| {
                if value.is_null() {
                    String::new()
                } else {
                    value.to_string()
                }
            });
            (
                s["metadata"]["name"].as_str().unwrap_or("").to_string(),
                Value::String(text),
            )
        })
        .collect();
    let map: Map<String, Value> = map.into_iter().collect();
    ctx.write(
        &format!("{base}/settings.yaml"),
        &to_yaml(&Value::Object(map))?,
    )?;
    let logs =
        serde_json::json!({"selector": [""], "name": format!("{base}/logs"), "namespace": ns});
    super::logs::collect(ctx, &logs, None).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_take_yaml_v2_shapes() {
        let replica = json!({
            "apiVersion": "longhorn.io/v1beta2", "kind": "Replica",
            "metadata": {"name": "r1", "labels": {"longhornvolume": "v1"}},
            "spec": {"desireState": "running", "volumeName": "v1", "failedAt": ""},
            "status": {"currentState": "stopped", "conditions": [{"type": "Ready", "status": "True"}]}
        });
        let shaped = go_shape("replicas", &replica);
        assert_eq!(shaped["objectmeta"]["name"], "r1");
        assert_eq!(shaped["objectmeta"]["labels"]["longhornvolume"], "v1");
        assert_eq!(shaped["spec"]["instancespec"]["desirestate"], "running");
        assert_eq!(shaped["spec"]["failedat"], "");
        assert_eq!(
            shaped["status"]["instancestatus"]["currentstate"],
            "stopped"
        );
        assert_eq!(shaped["status"]["conditions"]["Ready"]["status"], "True");
        assert_eq!(shaped["typemeta"]["apiversion"], "longhorn.io/v1beta2");
        let node = json!({"metadata": {"name": "n"}, "status": {"conditions": {"Schedulable": {"status": "False"}}}});
        assert_eq!(
            go_shape("nodes", &node)["status"]["conditions"]["Schedulable"]["status"],
            "False"
        );
    }
}
