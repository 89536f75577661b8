//! DaemonSets created through the API (what `copyFromHost`, `collectd` and `runDaemonSet` create)
//! and pods pinned to a node, with what a test defines per node.
//!
//! As the real controller: a created DaemonSet gets one pod per node at once (named
//! `<daemonset>-<5 chars>`, the template's labels, an owner reference, `spec.nodeName`), which run
//! as created pods do (Pending, Running, then restarted or done). A read of the DaemonSet brings
//! its status up to date from its pods: `desiredNumberScheduled` follows the nodes,
//! `numberReady`/`numberAvailable` the pods that run. Deleting the DaemonSet deletes its pods
//! (the garbage collector's job).

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;
use std::sync::atomic::Ordering;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::cluster;
use super::http::{Shared, Target, full_object, json_response, not_found_object, status_response};

/// What tests define for DaemonSet pods and node-pinned pods.
#[derive(Debug, Default)]
pub struct State {
    /// The log of pods created on a node (DaemonSet pods, pods with a hostname nodeSelector).
    pub node_logs: RwLock<HashMap<String, String>>,
    /// Seconds the pods of DaemonSets whose name starts with the key run.
    pub run_secs: RwLock<HashMap<String, f64>>,
    /// Host paths missing on every node: a pod mounting one never starts (a FailedMount event).
    pub missing_host_paths: RwLock<HashSet<String>>,
    /// Every DaemonSet created, as (namespace, name).
    pub created: RwLock<Vec<(String, String)>>,
}

/// The node a created pod lands on: its `nodeName`, else its hostname nodeSelector.
pub fn node_for(pod: &Value) -> Option<String> {
    pod["spec"]["nodeName"]
        .as_str()
        .or_else(|| pod["spec"]["nodeSelector"]["kubernetes.io/hostname"].as_str())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// The log a created pod on `node` has, when the test set one.
pub fn node_log(s: &Shared, node: &str) -> Option<String> {
    s.daemons
        .node_logs
        .read()
        .expect("node logs")
        .get(node)
        .cloned()
}

/// Whether a pod (or pod template) mounts a host path the test made missing: it never starts
/// (ContainerCreating for good).
pub fn mounts_missing(s: &Shared, pod: &Value) -> bool {
    let missing = s.daemons.missing_host_paths.read().expect("missing");
    pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|v| {
            v["hostPath"]["path"]
                .as_str()
                .is_some_and(|p| missing.contains(p))
        })
}

/// Whether this module answers the request: creates, reads and deletes of one DaemonSet.
pub fn handles(method: &Method, target: &Target) -> bool {
    target.t.group == "apps"
        && target.t.plural == "daemonsets"
        && target.sub.is_none()
        && matches!(
            (method.as_str(), target.name.is_some()),
            ("POST", false) | ("GET", true) | ("DELETE", true)
        )
}

/// Answers a request [`handles`] accepted (`body`: the JSON of a create).
pub fn route(s: &Shared, method: &Method, target: &Target, body: Value) -> Response {
    match (method.as_str(), target.name.as_deref()) {
        ("POST", _) => create(s, target, body),
        ("GET", Some(name)) => get(s, target, name),
        (_, Some(name)) => delete(s, target, name),
        _ => status_response(405, "not supported by the test API server", None),
    }
}

fn node_names(s: &Shared) -> Vec<String> {
    let Some(t) = s.cluster.type_at("", "v1", "nodes") else {
        return Vec::new();
    };
    s.cluster
        .store(t)
        .snapshot()
        .iter()
        .map(|n| n.name.clone())
        .collect()
}

fn create(s: &Shared, target: &Target, mut ds: Value) -> Response {
    let ns = target.namespace.clone().unwrap_or_default();
    let name = match (
        ds["metadata"]["name"].as_str(),
        ds["metadata"]["generateName"].as_str(),
    ) {
        (Some(n), _) if !n.is_empty() => n.to_string(),
        (_, Some(g)) if !g.is_empty() => format!(
            "{g}{}",
            &cluster::fake_uid("ds", g, s.resource_version.load(Ordering::SeqCst))[..5]
        ),
        _ => {
            return status_response(
                422,
                "DaemonSet.apps \"\" is invalid: metadata.name: Required value: name or generateName is required",
                None,
            );
        }
    };
    let template = ds["spec"]["template"].clone();
    if template["spec"]["containers"]
        .as_array()
        .is_none_or(Vec::is_empty)
    {
        return status_response(
            422,
            &format!(
                "DaemonSet.apps \"{name}\" is invalid: spec.template.spec.containers: Required value"
            ),
            None,
        );
    }
    let store = s.cluster.store(&target.t);
    if store.get(&ns, &name).is_some() {
        return status_response(
            409,
            &format!("daemonsets.apps \"{name}\" already exists"),
            Some(json!({"name": name, "group": "apps", "kind": "daemonsets"})),
        );
    }
    let rv = s.resource_version.fetch_add(1, Ordering::SeqCst) + 1;
    let uid = cluster::fake_uid("daemonset", &name, rv);
    ds["apiVersion"] = json!("apps/v1");
    ds["kind"] = json!("DaemonSet");
    ds["metadata"]["name"] = json!(name);
    ds["metadata"]["namespace"] = json!(ns);
    ds["metadata"]["uid"] = json!(uid);
    ds["metadata"]["resourceVersion"] = json!(rv.to_string());
    ds["metadata"]["creationTimestamp"] =
        json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    let nodes = node_names(s);
    ds["status"] = json!({
        "currentNumberScheduled": 0, "numberMisscheduled": 0,
        "desiredNumberScheduled": nodes.len(), "numberReady": 0, "observedGeneration": 1,
    });
    let item = match cluster::make_item(&target.t, ds.clone()) {
        Ok(i) => i,
        Err(e) => return status_response(400, &e, None),
    };
    store.upsert(item.clone());
    s.daemons
        .created
        .write()
        .expect("created")
        .push((ns.clone(), name.clone()));
    let run_secs = s
        .daemons
        .run_secs
        .read()
        .expect("run secs")
        .iter()
        .filter(|(prefix, _)| name.starts_with(prefix.as_str()))
        .map(|(_, secs)| *secs)
        .next();
    let mounts_missing = mounts_missing(s, &template);
    for node in &nodes {
        let pod_name = format!(
            "{name}-{}",
            &cluster::fake_uid("dspod", &format!("{name}/{node}"), rv)[..5]
        );
        let mut pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": pod_name,
                "labels": template["metadata"]["labels"].clone(),
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name, "uid": uid, "controller": true, "blockOwnerDeletion": true}],
            },
            "spec": template["spec"].clone(),
        });
        pod["spec"]["nodeName"] = json!(node);
        if let Some(secs) = run_secs {
            s.run_pod_secs
                .write()
                .expect("run pod secs")
                .insert(pod_name.clone(), secs);
        }
        let pods_target = Target {
            t: s.cluster
                .type_at("", "v1", "pods")
                .expect("pods type")
                .clone(),
            namespace: Some(ns.clone()),
            name: None,
            sub: None,
        };
        let resp = super::http::create_pod(s, &pods_target, pod);
        if !resp.status().is_success() {
            return resp;
        }
        if mounts_missing {
            failed_mount_event(s, &ns, &pod_name);
        }
    }
    json_response(StatusCode::CREATED, full_object(&target.t, &item))
}

/// The kubelet's event for a pod whose hostPath volume does not exist.
fn failed_mount_event(s: &Shared, ns: &str, pod: &str) {
    let (Some(et), Some(pt)) = (
        s.cluster.type_at("", "v1", "events").cloned(),
        s.cluster.type_at("", "v1", "pods"),
    ) else {
        return;
    };
    let Some(item) = s.cluster.store(pt).get(ns, pod) else {
        return;
    };
    let obj: Value = serde_json::from_slice(&item.body).expect("stored JSON");
    let rv = s.resource_version.fetch_add(1, Ordering::SeqCst) + 1;
    let ev = json!({
        "kind": "Event", "apiVersion": "v1",
        "metadata": {"name": format!("{pod}.{rv:016x}"), "namespace": ns, "uid": cluster::fake_uid("event", pod, rv), "resourceVersion": rv.to_string()},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "uid": obj["metadata"]["uid"], "apiVersion": "v1"},
        "reason": "FailedMount",
        "message": "MountVolume.SetUp failed for volume \"host\" : hostPath type check failed: is not a directory",
        "source": {"component": "kubelet"}, "count": 1, "type": "Warning",
    });
    if let Ok(item) = cluster::make_item(&et, ev) {
        s.cluster.store(&et).upsert(item);
    }
}

/// The pods a DaemonSet owns, brought up to date.
fn owned_pods(s: &Shared, ns: &str, name: &str) -> Vec<Value> {
    let Some(t) = s.cluster.type_at("", "v1", "pods").cloned() else {
        return Vec::new();
    };
    s.cluster
        .store(&t)
        .snapshot()
        .iter()
        .filter(|i| i.namespace == ns)
        .filter_map(|i| {
            let pod: Value = serde_json::from_slice(&i.body).ok()?;
            let owned = pod["metadata"]["ownerReferences"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|o| o["kind"] == "DaemonSet" && o["name"] == name);
            owned.then(|| super::http::refresh_created(s, &t, i.clone()))
        })
        .filter_map(|i| serde_json::from_slice(&i.body).ok())
        .collect()
}

fn get(s: &Shared, target: &Target, name: &str) -> Response {
    let ns = target.namespace.clone().unwrap_or_default();
    let store = s.cluster.store(&target.t);
    let Some(item) = store.get(&ns, name) else {
        return not_found_object(&target.t, name);
    };
    let mut ds: Value = serde_json::from_slice(&full_object(&target.t, &item)).expect("JSON");
    let pods = owned_pods(s, &ns, name);
    let running = pods
        .iter()
        .filter(|p| p["status"]["phase"] == "Running")
        .count();
    let status = json!({
        "currentNumberScheduled": pods.len(),
        "numberMisscheduled": 0,
        "desiredNumberScheduled": node_names(s).len(),
        "numberReady": running,
        "numberAvailable": running,
        "updatedNumberScheduled": pods.len(),
        "observedGeneration": 1,
    });
    if ds["status"] != status {
        ds["status"] = status;
        let rv = s.resource_version.fetch_add(1, Ordering::SeqCst) + 1;
        ds["metadata"]["resourceVersion"] = json!(rv.to_string());
        if let Ok(new) = cluster::make_item(&target.t, ds) {
            store.upsert(new.clone());
            return json_response(StatusCode::OK, full_object(&target.t, &new));
        }
    }
    json_response(StatusCode::OK, full_object(&target.t, &item))
}

fn delete(s: &Shared, target: &Target, name: &str) -> Response {
    let ns = target.namespace.clone().unwrap_or_default();
    let Some(item) = s.cluster.store(&target.t).remove(&ns, name) else {
        return not_found_object(&target.t, name);
    };
    // The garbage collector deletes what the DaemonSet owned.
    if let Some(t) = s.cluster.type_at("", "v1", "pods").cloned() {
        let pods_target = Target {
            t,
            namespace: Some(ns.clone()),
            name: None,
            sub: None,
        };
        for pod in owned_pods(s, &ns, name) {
            if let Some(p) = pod["metadata"]["name"].as_str() {
                super::http::delete_pod(s, &pods_target, p);
            }
        }
    }
    s.resource_version.fetch_add(1, Ordering::SeqCst);
    let mut ds: Value = serde_json::from_slice(&full_object(&target.t, &item)).expect("JSON");
    ds["metadata"]["deletionTimestamp"] =
        json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    json_response(StatusCode::OK, serde_json::to_vec(&ds).expect("JSON"))
}
