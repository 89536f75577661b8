//! `nodeMetrics` (each kubelet's `stats/summary` through the node proxy → `node-metrics/<node>.json`),
//! `customMetrics` (`custom.metrics.k8s.io` → `metrics/<kind>/<metric>/<ns|name>.json`) and
//! `supportBundleMetadata` (the `replicated-support-metadata` Secret → `metadata/cluster.json`).

use super::api::{ApiError, encode};
use super::jsonout::pretty;
use super::{Ctx, Error, namespace_of};
use crate::collect::host::sanitize_component;
use base64::Engine;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

fn strings(body: &Value, key: &str) -> Option<Vec<String>> {
    body[key].as_array().map(|a| {
        a.iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    })
}

/// Node names of a list of nodes (every page).
async fn node_names(ctx: &Ctx, selector: Option<&str>) -> Result<Vec<String>, ApiError> {
    let path = match selector {
        Some(s) => format!("/api/v1/nodes?labelSelector={}", encode(s)),
        None => "/api/v1/nodes".to_string(),
    };
    let mut names = Vec::new();
    ctx.api
        .list_each(&path, ctx.opts.page_size, |items| {
            names.extend(
                items
                    .iter()
                    .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_string)),
            );
        })
        .await?;
    Ok(names)
}

/// Runs `nodeMetrics`: `nodeNames` and nodes matching `selector`; every node without either.
pub(super) async fn node_metrics(ctx: &Ctx, body: &Value) -> Result<(), Error> {
    let names = strings(body, "nodeNames");
    let selector = strings(body, "selector");
    let mut nodes: Vec<String> = names.clone().unwrap_or_default();
    let mut errors = Vec::new();
    if names.is_none() && selector.is_none() {
        match node_names(ctx, None).await {
            Ok(all) => nodes = all,
            Err(e) => errors.push(format!("failed to list nodes: {e}")),
        }
    }
    if let Some(sel) = selector {
        match node_names(ctx, Some(&sel.join(","))).await {
            Ok(more) => nodes.extend(more),
            Err(e) => errors.push(format!("failed to list nodes by label selector: {e}")),
        }
    }
    nodes.sort();
    nodes.dedup();
    for node in &nodes {
        let endpoint = format!("/api/v1/nodes/{}/proxy/stats/summary", encode(node));
        match ctx.api.get_text(&endpoint).await {
            // Written as the kubelet answered it, as troubleshoot does.
            Ok(text) => ctx.write(
                &format!("node-metrics/{}.json", sanitize_component(node)),
                &text,
            )?,
            Err(e) => errors.push(format!("could not query endpoint {endpoint}: {e}")),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Other(errors.join("; ")))
    }
}

/// A `resourceMetricName` that is not `<resource>/<metric>`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "could not construct endpoint for {0}: wrong metric name format (want <resource>/<metric>)"
)]
pub struct MetricNameError(String);

/// The endpoint and metric name of one `metricRequests` entry.
pub fn metric_endpoint(request: &Value) -> Result<(String, String), MetricNameError> {
    let full = request["resourceMetricName"].as_str().unwrap_or("");
    let Some((object_type, metric)) = full.split_once('/').filter(|(_, m)| !m.contains('/')) else {
        return Err(MetricNameError(full.to_string()));
    };
    // Namespace metrics are served under the singular `namespace/`.
    let object_type = if object_type == "namespaces" {
        "namespace"
    } else {
        object_type
    };
    let object = request["objectName"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("*");
    let base = "/apis/custom.metrics.k8s.io/v1beta1";
    let seg = |s: &str| if s == "*" { s.to_string() } else { encode(s) };
    let endpoint = match request["namespace"].as_str().filter(|s| !s.is_empty()) {
        Some(ns) => format!(
            "{base}/namespaces/{}/{}/{}/{}",
            encode(ns),
            encode(object_type),
            seg(object),
            encode(metric)
        ),
        None => format!(
            "{base}/{}/{}/{}",
            encode(object_type),
            seg(object),
            encode(metric)
        ),
    };
    Ok((endpoint, metric.to_string()))
}

/// Runs `customMetrics`: values grouped by described object kind, metric and namespace (or object
/// name for cluster-scoped objects); failures in `metrics/errors.json`.
pub(super) async fn custom_metrics(ctx: &Ctx, body: &Value) -> Result<(), Error> {
    let mut files: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut errors: Vec<String> = Vec::new();
    for request in body["metricRequests"].as_array().into_iter().flatten() {
        let (endpoint, metric) = match metric_endpoint(request) {
            Ok(x) => x,
            Err(e) => {
                errors.push(e.to_string());
                continue;
            }
        };
        let list = match ctx.api.get(&endpoint).await {
            Ok(v) => v,
            Err(e) => {
                errors.push(format!("could not query endpoint {endpoint}: {e}"));
                continue;
            }
        };
        for item in list["items"].as_array().into_iter().flatten() {
            let obj = &item["describedObject"];
            let kind = obj["kind"].as_str().unwrap_or("");
            let leaf = obj["namespace"]
                .as_str()
                .filter(|s| !s.is_empty())
                .or(obj["name"].as_str())
                .unwrap_or("");
            let rel = format!(
                "metrics/{}/{}/{}.json",
                sanitize_component(kind),
                sanitize_component(&metric),
                sanitize_component(leaf)
            );
            files.entry(rel).or_default().push(item.clone());
        }
    }
    for (rel, items) in &files {
        ctx.write(rel, &pretty(&Value::Array(items.clone())))?;
    }
    if !errors.is_empty() {
        ctx.write("metrics/errors.json", &pretty(&Value::from(errors)))?;
    }
    Ok(())
}

/// Runs `supportBundleMetadata`: every key of the Secret, decoded, keys sorted as Go writes a map.
pub(super) async fn support_bundle_metadata(ctx: &Ctx, body: &Value) -> Result<(), Error> {
    const SECRET: &str = "replicated-support-metadata";
    let ns = namespace_of(ctx, body);
    let path = format!("/api/v1/namespaces/{}/secrets/{SECRET}", encode(&ns));
    let secret = ctx
        .api
        .get(&path)
        .await
        .map_err(|e| Error::Other(format!("failed to get secret {ns}/{SECRET}: {e}")))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut sorted: BTreeMap<String, Value> = BTreeMap::new();
    for (k, v) in secret["data"].as_object().into_iter().flatten() {
        let text = v
            .as_str()
            .and_then(|s| b64.decode(s).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        sorted.insert(k.clone(), Value::String(text));
    }
    let doc: Map<String, Value> = sorted.into_iter().collect();
    ctx.write("metadata/cluster.json", &pretty(&Value::Object(doc)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metric_endpoints_follow_troubleshoot() {
        let (e, m) =
            metric_endpoint(&json!({"resourceMetricName": "pods/cpu_usage", "namespace": "app"}))
                .expect("valid");
        assert_eq!(
            e,
            "/apis/custom.metrics.k8s.io/v1beta1/namespaces/app/pods/*/cpu_usage"
        );
        assert_eq!(m, "cpu_usage");
        let (e, _) = metric_endpoint(
            &json!({"resourceMetricName": "namespaces/queue_len", "objectName": "app"}),
        )
        .expect("valid");
        assert_eq!(
            e,
            "/apis/custom.metrics.k8s.io/v1beta1/namespace/app/queue_len"
        );
        assert!(metric_endpoint(&json!({"resourceMetricName": "cpu"})).is_err());
    }
}
