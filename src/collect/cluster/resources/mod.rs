//! `clusterResources` → `cluster-resources/` (TROUBLESHOOT-FORMAT.md §1.4).
//!
//! With every namespace selected, each kind is listed once across the cluster (in pages) and
//! split into per-namespace files as items arrive; if that list is refused, each namespace is
//! listed on its own, so an identity with only namespace rights still gets its files.

mod crds;
mod discovery;
mod kinds;
mod secrets;
mod sink;
mod splitter;

use super::jsonout::pretty;
use super::namespaces::{Selection, readable, select};
use super::podstatus::ContainerRef;
use super::{Ctx, Error, Task, run_bounded};
use crate::collect::host::sanitize_component;
use kinds::{CLUSTER_SCOPED, NAMESPACED};
// The kinds listed, for the permission table (`super::permissions`).
pub(super) use kinds::{
    CLUSTER_SCOPED as KINDS_CLUSTER_SCOPED, CRDS as KINDS_CRDS, NAMESPACED as KINDS_NAMESPACED,
};
use serde_json::Value;
use std::collections::BTreeMap;

/// Unhealthy-pod log limits (troubleshoot's clusterResources defaults).
const UNHEALTHY_MAX_LINES: u64 = 500;
const UNHEALTHY_MAX_BYTES: u64 = 5_000_000;

/// Writes `{key: message}` at `rel` unless there is nothing to say.
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

/// Writes `[message, ...]` at `rel` unless there is nothing to say.
fn write_errors_array(ctx: &Ctx, rel: &str, errors: &[String]) {
    if errors.is_empty() {
        return;
    }
    let v: Vec<Value> = errors.iter().map(|m| Value::String(m.clone())).collect();
    if let Err(e) = ctx.write(rel, &pretty(&Value::Array(v))) {
        tracing::warn!("{e}");
    }
}

/// Runs clusterResources.
pub(super) async fn collect(ctx: &Ctx, body: &Value) -> Result<(), Error> {
    let spec_ns: Vec<String> = body["namespaces"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let ignore_rbac = body["ignoreRBAC"].as_bool() == Some(true);
    let selection = select(&spec_ns, &ctx.opts.namespaces);
    let all = selection == Selection::All;
    let listed = discovery::namespaces_file(ctx, &selection).await;
    let can_read = discovery::auth_cani(ctx, &listed).await;
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
            let (errors, unhealthy) = splitter::namespaced(
                ctx,
                kind,
                rel_dir,
                splitter::Shape::List,
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
            let (_, error) = sink::cluster_scoped(ctx, kind, false).await;
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
        crds::collect(ctx, all, names).await;
        Vec::new()
    }));
    jobs.push(Box::pin(async move {
        secrets::collect(ctx, all, names).await;
        Vec::new()
    }));
    jobs.push(Box::pin(async move {
        discovery::discovery(ctx).await;
        Vec::new()
    }));
    let unhealthy: Found = run_bounded(jobs, ctx.opts.max_parallel)
        .await
        .into_iter()
        .flatten()
        .collect();
    unhealthy_logs(ctx, &unhealthy).await;
    if ctx.cancel.is_cancelled() {
        return Err(Error::Cancelled);
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
