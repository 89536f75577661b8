//! The collect phase: host collectors, then in-cluster collectors (through the Kubernetes API).

use super::Cancel;
use crate::bundle::Timing;
use crate::collect::cluster::{self, ClusterOptions};
use crate::collect::host::{self, CollectorOutcome, CollectorStatus, HostOptions, limits};
use crate::jobs::Job;
use crate::state::records::CollectorRecord;
use std::path::Path;

/// What collection produced.
pub struct Collected {
    /// One record per collector entry.
    pub records: Vec<CollectorRecord>,
    /// Timings for summary.txt.
    pub timings: Vec<Timing>,
    /// Set when collection as a whole could not run.
    pub error: Option<String>,
    /// The resource limits the collectors' processes ran under, for the record.
    pub limits: Option<serde_json::Value>,
}

/// The resource limits of a run of `job`: its `spec.resources` over the agent's defaults, planned
/// for this host (`None` when neither asks for any). Not-enforceable requests are logged.
pub(super) fn limits(job: &Job, ctx: &super::RunContext) -> Option<limits::Plan> {
    let res = job
        .document
        .spec
        .resources
        .unwrap_or_default()
        .over(&ctx.default_resources);
    let requested = limits::Requested {
        cpu_weight: res.cpu_weight,
        memory_max: res.memory_max.map(|b| b.0),
        io_weight: res.io_weight,
        nice: res.nice,
    };
    let plan = limits::plan(requested, limits::HostSupport::detect())?;
    for note in &plan.not_enforced {
        tracing::warn!(job = %job.name, run = %ctx.run_id, "resources: {note}");
    }
    Some(plan)
}

/// The record's `limits`.
pub(super) fn limits_record(plan: Option<&limits::Plan>) -> Option<serde_json::Value> {
    plan.and_then(|p| serde_json::to_value(p).ok())
}

/// Runs the job's collectors into `root`.
pub async fn collect(
    job: &Job,
    root: &Path,
    cancel: &Cancel,
    ctx: &super::RunContext,
) -> Collected {
    let mut records = Vec::new();
    let mut timings = Vec::new();
    let plan = limits(job, ctx);
    let limits = limits_record(plan.as_ref());
    // The staging tree is created through the state directory handle: a symlink in place of
    // jobs/<job>, staging/ or the run's directory fails the run instead of collecting elsewhere.
    if let Err(e) =
        crate::state::StateDir::open(&ctx.state_dir).and_then(|d| d.create_dir_all(root))
    {
        return Collected {
            records,
            timings,
            error: Some(format!("cannot create the staging directory: {e}")),
            limits,
        };
    }
    let outcomes = host::collect(
        &job.collection.host_collectors,
        root,
        cancel.token(),
        &HostOptions {
            copy_size_cap: ctx.copy_max_file_size,
            limits: plan,
            ..HostOptions::default()
        },
        ctx.started_at,
    )
    .await;
    let c = &job.document.spec.collect;
    let cluster_opts = ClusterOptions {
        kubeconfig: c
            .kubeconfig
            .as_ref()
            .map(|k| job_relative(job, k))
            .or_else(|| ctx.kubeconfig.clone()),
        context: c.context.clone().or_else(|| ctx.kube_context.clone()),
        namespaces: c.namespaces.clone(),
        since: c.since.map(|d| d.0),
        auto_discovery: c.auto_discovery,
        call_timeout: ctx.kube_request_timeout,
        copy_size_cap: ctx.copy_max_file_size,
        ..ClusterOptions::default()
    };
    let cluster_outcomes = cluster::collect(
        &job.collection.collectors,
        root,
        &cluster_opts,
        cancel.token().clone(),
        ctx.started_at,
    )
    .await;
    for o in outcomes.iter().chain(&cluster_outcomes) {
        timings.push(Timing::from(o));
        records.push(record(o));
    }
    Collected {
        records,
        timings,
        error: None,
        limits,
    }
}

fn record(o: &CollectorOutcome) -> CollectorRecord {
    CollectorRecord {
        kind: o.kind.clone(),
        title: o.title.clone(),
        status: match &o.status {
            CollectorStatus::Succeeded => "succeeded".into(),
            CollectorStatus::Failed => "failed".into(),
            CollectorStatus::Skipped { .. } => "skipped".into(),
        },
        files: o.files.len() as u64,
        duration_ms: u64::try_from(o.duration.as_millis()).unwrap_or(u64::MAX),
        error: match &o.status {
            CollectorStatus::Skipped { reason } => Some(reason.clone()),
            _ => o.error.clone(),
        },
    }
}

/// A job's `collect.kubeconfig`, relative to its job file like its spec paths (`~/` expanded).
fn job_relative(job: &Job, path: &str) -> std::path::PathBuf {
    if let Some(rest) = path.strip_prefix("~/")
        && let Some(home) = std::env::var_os("HOME")
    {
        return std::path::Path::new(&home).join(rest);
    }
    let p = std::path::Path::new(path);
    match job.source.file.parent() {
        Some(dir) if p.is_relative() => dir.join(p),
        _ => p.to_path_buf(),
    }
}
