//! Creates and updates of stored objects with the API server's optimistic concurrency, for the
//! kinds clients write: `coordination.k8s.io/v1` leases (leader election) and core `configmaps`.
//!
//! As the real API: every write gets a new `metadata.resourceVersion` from the cluster's counter;
//! a create of an existing name is `409 AlreadyExists`; an update (PUT) carrying a
//! `resourceVersion` other than the stored one is `409 Conflict`, and one carrying none is
//! unconditional (leases and configmaps allow that); an update of a missing object is 404.

use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::cluster::{self, ResourceType};
use super::http::{Shared, Target, full_object, json_response, not_found_object, value_response};

/// Whether the server accepts creates and updates of `t`.
pub fn writable(t: &ResourceType) -> bool {
    matches!(
        (t.group.as_str(), t.plural.as_str()),
        ("coordination.k8s.io", "leases") | ("", "configmaps")
    )
}

/// `leases.coordination.k8s.io` or `configmaps`: how the API names a resource in messages.
fn qualified(t: &ResourceType) -> String {
    if t.group.is_empty() {
        t.plural.clone()
    } else {
        format!("{}.{}", t.plural, t.group)
    }
}

/// A Status failure with an explicit reason (409 is AlreadyExists or Conflict).
fn failure(t: &ResourceType, code: u16, reason: &str, name: &str, message: String) -> Response {
    let mut details = json!({"name": name, "kind": t.plural});
    if !t.group.is_empty() {
        details["group"] = json!(t.group);
    }
    value_response(
        StatusCode::from_u16(code).expect("status code"),
        &json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "details": details,
            "code": code,
        }),
    )
}

fn bad_request(message: &str) -> Response {
    super::http::status_response(400, message, None)
}

/// Checks the body names the object the path names; returns its name.
fn body_name(
    target: &Target,
    obj: &Value,
    path_name: Option<&str>,
) -> Result<String, Box<Response>> {
    if !obj.is_object() {
        return Err(Box::new(bad_request(
            "the request body is not a JSON object",
        )));
    }
    if let Some(kind) = obj["kind"].as_str()
        && kind != target.t.kind
    {
        return Err(Box::new(bad_request(&format!(
            "the body is a {kind}, not a {}",
            target.t.kind
        ))));
    }
    let ns = target.namespace.as_deref().unwrap_or("");
    if let Some(body_ns) = obj["metadata"]["namespace"].as_str()
        && !body_ns.is_empty()
        && body_ns != ns
    {
        return Err(Box::new(bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        )));
    }
    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
    if name.is_empty() {
        return Err(Box::new(super::http::status_response(
            422,
            &format!(
                "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                target.t.kind
            ),
            None,
        )));
    }
    if let Some(p) = path_name
        && p != name
    {
        return Err(Box::new(bad_request(
            "the name of the object (in the body) does not match the name on the URL",
        )));
    }
    Ok(name)
}

fn store(s: &Shared, target: &Target, mut obj: Value, rv: u64) -> Result<Vec<u8>, Box<Response>> {
    let ns = target.namespace.clone().unwrap_or_default();
    obj["metadata"]["namespace"] = json!(ns);
    obj["metadata"]["resourceVersion"] = json!(rv.to_string());
    let item = cluster::make_item(&target.t, obj).map_err(|e| Box::new(bad_request(&e)))?;
    s.cluster.store(&target.t).upsert(item.clone());
    Ok(full_object(&target.t, &item))
}

/// `POST .../<plural>`.
pub fn create(s: &Shared, target: &Target, mut obj: Value) -> Response {
    let name = match body_name(target, &obj, None) {
        Ok(n) => n,
        Err(resp) => return *resp,
    };
    if obj["metadata"]["resourceVersion"]
        .as_str()
        .is_some_and(|v| !v.is_empty())
    {
        return bad_request("resourceVersion should not be set on objects to be created");
    }
    let ns = target.namespace.as_deref().unwrap_or("");
    // The check and the insert under one lock: two creates of one name cannot both succeed.
    let _guard = s.writes.lock().expect("writes lock");
    if s.cluster.store(&target.t).get(ns, &name).is_some() {
        let message = format!("{} \"{name}\" already exists", qualified(&target.t));
        return failure(&target.t, 409, "AlreadyExists", &name, message);
    }
    let rv = s.resource_version.fetch_add(1, Ordering::SeqCst) + 1;
    obj["metadata"]["uid"] = json!(cluster::fake_uid(&target.t.kind, &name, rv));
    obj["metadata"]["creationTimestamp"] =
        json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    match store(s, target, obj, rv) {
        Ok(body) => json_response(StatusCode::CREATED, body),
        Err(resp) => *resp,
    }
}

/// `PUT .../<plural>/<name>`.
pub fn update(s: &Shared, target: &Target, name: &str, mut obj: Value) -> Response {
    if let Err(resp) = body_name(target, &obj, Some(name)) {
        return *resp;
    }
    let ns = target.namespace.as_deref().unwrap_or("");
    let _guard = s.writes.lock().expect("writes lock");
    let Some(current) = s.cluster.store(&target.t).get(ns, name) else {
        return not_found_object(&target.t, name);
    };
    let precondition = obj["metadata"]["resourceVersion"]
        .as_str()
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    if let Some(rv) = precondition
        && rv != current.resource_version.to_string()
    {
        let message = format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            qualified(&target.t)
        );
        return failure(&target.t, 409, "Conflict", name, message);
    }
    // What the server owns survives an update.
    let stored: Value = serde_json::from_slice(&current.body).expect("stored JSON");
    for key in ["uid", "creationTimestamp"] {
        if !stored["metadata"][key].is_null() {
            obj["metadata"][key] = stored["metadata"][key].clone();
        }
    }
    let rv = s.resource_version.fetch_add(1, Ordering::SeqCst) + 1;
    match store(s, target, obj, rv) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(resp) => *resp,
    }
}
