//! In-cluster analyzers (`spec.analyzers`), one module per family.

mod ceph;
mod certificates;
pub(super) mod compare;
mod containers;
mod database;
mod distribution;
mod event;
mod goldpinger;
mod http;
mod jobs;
mod labels;
mod longhorn;
mod node_metrics;
mod nodes;
mod pods;
mod presence;
mod registry;
mod resource;
mod sysctl;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests2;
#[cfg(test)]
mod tests_vectors;
pub(super) mod text;
mod velero;
mod version;
mod weave;
mod workload;

use super::{AnalyzeResult, AnalyzerError, Ctx, Meta};
use serde_json::Value;

/// The in-cluster analyzer types [`run`] implements (`analyze::supports` answers `validate`
/// from it; a test keeps it equal to `run`'s dispatch).
pub(super) const SUPPORTED: &[&str] = &[
    "clusterVersion",
    "customResourceDefinition",
    "storageClass",
    "ingress",
    "containerRuntime",
    "nodeResources",
    "deploymentStatus",
    "statefulsetStatus",
    "replicasetStatus",
    "textAnalyze",
    "clusterPodStatuses",
    "jobStatus",
    "distribution",
    "yamlCompare",
    "jsonCompare",
    "event",
    "ingressClass",
    "secret",
    "configMap",
    "imagePullSecret",
    "postgres",
    "mysql",
    "mssql",
    "redis",
    "clickhouse",
    "s3Status",
    "http",
    "registryImages",
    "goldpinger",
    "certificates",
    "clusterContainerStatuses",
    "clusterResource",
    "sysctl",
    "nodeMetrics",
    "velero",
    "cephStatus",
    "longhorn",
    "weaveReport",
];

/// The results of the analyzer `kind` with `body`; `None` when this build does not implement
/// `kind`.
pub(super) fn run(
    ctx: &Ctx<'_>,
    kind: &str,
    body: &Value,
    meta: &Meta,
) -> Option<Result<Vec<AnalyzeResult>, AnalyzerError>> {
    let one = |r: Result<AnalyzeResult, AnalyzerError>| r.map(|r| vec![r]);
    Some(match kind {
        "clusterVersion" => one(version::cluster_version(ctx, body, meta)),
        "customResourceDefinition" => one(presence::crd(ctx, body, meta)),
        "storageClass" => one(presence::storage_class(ctx, body, meta)),
        "ingress" => one(presence::ingress(ctx, body, meta)),
        "containerRuntime" => one(presence::container_runtime(ctx, body, meta)),
        "nodeResources" => nodes::node_resources(ctx, body, meta).map(|r| r.into_iter().collect()),
        "deploymentStatus" => workload::status(ctx, workload::Kind::Deployment, body),
        "statefulsetStatus" => workload::status(ctx, workload::Kind::StatefulSet, body),
        "replicasetStatus" => workload::status(ctx, workload::Kind::ReplicaSet, body),
        "textAnalyze" => text::text_analyze(ctx, body, meta),
        "clusterPodStatuses" => pods::pod_statuses(ctx, body, meta),
        "jobStatus" => jobs::job_status(ctx, body),
        "distribution" => one(distribution::distribution(ctx, body, meta)),
        "yamlCompare" => one(compare::compare(ctx, body, meta, false)),
        "jsonCompare" => one(compare::compare(ctx, body, meta, true)),
        "event" => one(event::event(ctx, body, meta)),
        "ingressClass" => one(presence::ingress_class(ctx, body, meta)),
        "secret" => one(presence::object_key(ctx, body, meta, true)),
        "configMap" => one(presence::object_key(ctx, body, meta, false)),
        "imagePullSecret" => one(presence::image_pull_secret(ctx, body, meta)),
        "postgres" => one(database::database(ctx, database::Db::Postgres, body, meta)),
        "mysql" => one(database::database(ctx, database::Db::Mysql, body, meta)),
        "mssql" => one(database::database(ctx, database::Db::Mssql, body, meta)),
        "redis" => one(database::database(ctx, database::Db::Redis, body, meta)),
        "clickhouse" => one(database::database(
            ctx,
            database::Db::Clickhouse,
            body,
            meta,
        )),
        "s3Status" => one(database::database(ctx, database::Db::S3Status, body, meta)),
        "http" => one(http::http(ctx, body, meta)),
        "registryImages" => one(registry::registry_images(ctx, body, meta)),
        "goldpinger" => goldpinger::goldpinger(ctx, body, meta),
        "certificates" => certificates::certificates(ctx, body, meta),
        "clusterContainerStatuses" => containers::container_statuses(ctx, body, meta),
        "clusterResource" => one(resource::cluster_resource(ctx, body, meta)),
        "sysctl" => sysctl::sysctl(ctx, body, meta),
        "nodeMetrics" => node_metrics::node_metrics(ctx, body, meta),
        "velero" => velero::velero(ctx, body, meta),
        "cephStatus" => ceph::ceph_status(ctx, body, meta),
        "longhorn" => longhorn::longhorn(ctx, body, meta),
        "weaveReport" => weave::weave_report(ctx, body, meta),
        _ => return None,
    })
}

/// The text field `name` of an analyzer body ("" when absent).
pub(crate) fn text(body: &Value, name: &str) -> String {
    body.get(name)
        .and_then(super::outcome::scalar_text)
        .unwrap_or_default()
}

/// The `items` of a Kubernetes List file (`null` items read as none; a bare array is accepted).
pub(crate) fn items<'a>(list: &'a Value, path: &str) -> Result<&'a [Value], AnalyzerError> {
    match list {
        Value::Array(items) => Ok(items),
        Value::Object(m) => match m.get("items") {
            Some(Value::Array(items)) => Ok(items),
            None | Some(Value::Null) => Ok(&[]),
            Some(_) => Err(AnalyzerError::data(path, "`items` is not a list")),
        },
        _ => Err(AnalyzerError::data(path, "not a Kubernetes list object")),
    }
}

/// The `items` of a List file that [`items`] accepted, taken out of it.
pub(crate) fn into_items(list: Value) -> Vec<Value> {
    match list {
        Value::Array(items) => items,
        Value::Object(mut m) => match m.remove("items") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// `metadata.<field>` of an object as text.
pub(crate) fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Whether every field path in `template`'s actions is one of `fields` (`.PodName`,
/// `.PVC.Names`): troubleshoot renders some messages over Go structs, where naming any other
/// field is an error (and the analyzer then uses a fallback text), not an empty value.
pub(crate) fn struct_template_ok(template: &str, fields: &[&str]) -> bool {
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return true; // Unclosed: the renderer reports it.
        };
        let action = after[..end].trim_matches(|c: char| c == '-' || c.is_whitespace());
        rest = &after[end + 2..];
        if action.starts_with("/*") {
            continue;
        }
        for word in action.split_whitespace() {
            let word = word.trim_matches(|c| c == '(' || c == ')');
            if word.starts_with('.') && word != "." && !fields.contains(&word) {
                return false;
            }
        }
    }
    true
}
