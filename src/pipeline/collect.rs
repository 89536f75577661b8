//! The collect phase: host collectors, then in-cluster collectors (through the Kubernetes API).

use super::Cancel;
use crate::bundle::StepTiming;
use crate::collect::cluster::{self, ClusterOptions};
use crate::collect::host::cgroup::RunCgroup;
use crate::collect::host::{self, CollectorOutcome, CollectorStatus, HostOptions, limits};
use crate::jobs::Job;
use crate::state::records::CollectorRecord;
use crate::state::records::CollectorRunStatus;
use std::path::Path;

/// What collection produced.
pub struct Collected {
    /// One record per collector entry.
    pub records: Vec<CollectorRecord>,
    /// Timings for summary.txt.
    pub timings: Vec<StepTiming>,
    /// Set when collection as a whole could not run.
    pub error: Option<String>,
    /// The resource limits the collectors' processes ran under, for the record.
    pub limits: Option<serde_json::Value>,
}

/// A run's resource limits and, when this host allows one, the run's cgroup (which holds every
/// process the run starts until [`RunLimits::finish`]).
pub(super) struct RunLimits {
    /// `None` when neither the job nor the agent defaults ask for any limit.
    pub plan: Option<limits::Plan>,
    cgroup: Option<RunCgroup>,
}

/// The resource limits of a run of `job`: its `spec.resources` over the agent's defaults, planned
/// for this host, with the run's cgroup created when the plan has one. A cgroup that cannot be
/// made falls back to the per-process limits, and the record says why. Not-enforceable requests
/// are logged.
pub(super) fn limits(job: &Job, ctx: &super::RunContext) -> RunLimits {
    let res = job
        .document
        .spec
        .resources
        .as_deref()
        .copied()
        .unwrap_or_default()
        .over(&ctx.env.default_resources);
    let requested = limits::Requested {
        cpu_weight: res.cpu_weight,
        memory_max: res.memory_max.map(|b| b.0),
        io_weight: res.io_weight,
        nice: res.nice,
    };
    let host = limits::HostSupport::detect();
    let mut plan = limits::plan(requested, host.clone());
    let mut cgroup = None;
    if let (Some(p), Some(usable)) = (plan.as_mut(), host.cgroup.as_ref())
        && let Some(wanted) = p.cgroup_limits()
    {
        let name = format!("tsa-{}-{}-{}", std::process::id(), job.name, ctx.run_id);
        match RunCgroup::create(usable, &name, wanted) {
            Ok(group) => {
                p.child.cgroup_procs = Some(group.procs_fd());
                if let Some(c) = p.enforced.cgroup.as_mut() {
                    c.path = Some(group.path().to_path_buf());
                }
                cgroup = Some(group);
            }
            Err(e) => {
                tracing::warn!(job = %job.name, run = %ctx.run_id, "resources: {e}; per-process limits apply instead");
                plan = limits::plan(requested, limits::HostSupport::with(host.systemd, Err(e)));
            }
        }
    }
    for note in plan.iter().flat_map(|p| &p.not_enforced) {
        tracing::warn!(job = %job.name, run = %ctx.run_id, "resources: {note}");
    }
    RunLimits { plan, cgroup }
}

impl RunLimits {
    /// The record's `limits` (with the OOM kills of the run cgroup so far).
    pub fn record(&self) -> Option<serde_json::Value> {
        let mut plan = self.plan.clone()?;
        if let (Some(group), Some(c)) = (&self.cgroup, plan.enforced.cgroup.as_mut()) {
            c.oom_kills = group.oom_kills();
        }
        serde_json::to_value(&plan).ok()
    }

    /// What each child applies to itself.
    pub fn child(&self) -> Option<limits::ChildLimits> {
        self.plan.as_ref().map(|p| p.child)
    }

    /// The record's `limits` once the run's processes are done; then kills what is left in the
    /// run cgroup and removes it (off the async workers: removal waits for the kernel).
    pub async fn finish(self) -> Option<serde_json::Value> {
        let record = self.record();
        if let Some(group) = self.cgroup {
            let _ = tokio::task::spawn_blocking(move || drop(group)).await;
        }
        record
    }
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
    let run_limits = limits(job, ctx);
    // The staging tree is created through the state directory handle: a symlink in place of
    // jobs/<job>, staging/ or the run's directory fails the run instead of collecting elsewhere.
    if let Err(e) =
        crate::state::StateDir::open(&ctx.env.state_dir).and_then(|d| d.create_dir_all(root))
    {
        return Collected {
            records,
            timings,
            error: Some(format!("cannot create the staging directory: {e}")),
            limits: run_limits.finish().await,
        };
    }
    let outcomes = host::collect(
        &job.collection.host_collectors,
        root,
        cancel.token(),
        &HostOptions {
            copy_size_cap: ctx.env.copy_max_file_size,
            limits: run_limits.plan.clone(),
            ..HostOptions::default()
        },
        ctx.started_at,
    )
    .await;
    // Host collectors are the run's only processes: their cgroup goes now.
    let limits = run_limits.finish().await;
    let c = &job.document.spec.collect;
    let cluster_opts = ClusterOptions {
        kubeconfig: c
            .kubeconfig
            .as_ref()
            .map(|k| job_relative(job, k))
            .or_else(|| ctx.env.kubeconfig.clone()),
        context: c.context.clone().or_else(|| ctx.env.kube_context.clone()),
        namespaces: c.namespaces.clone(),
        since: c.since.map(|d| d.0),
        auto_discovery: c.auto_discovery,
        call_timeout: ctx.env.kube_request_timeout,
        copy_size_cap: ctx.env.copy_max_file_size,
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
        timings.push(StepTiming::from(o));
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
            CollectorStatus::Succeeded => CollectorRunStatus::Succeeded,
            CollectorStatus::Failed => CollectorRunStatus::Failed,
            CollectorStatus::Skipped { .. } => CollectorRunStatus::Skipped,
        },
        files: o.files.len() as u64,
        duration_ms: u64::try_from(o.duration.as_millis()).unwrap_or(u64::MAX),
        error: match &o.status {
            CollectorStatus::Skipped { reason } => Some(reason.clone()),
            _ => o.error.clone(),
        },
    }
}

/// `job` with the specs `collect.clusterSpecs` finds in the cluster merged into its collection
/// (`None` without `clusterSpecs`), and what was loaded for the record.
pub(super) async fn with_cluster_specs(
    job: &Job,
    ctx: &super::RunContext,
) -> (Option<Job>, Vec<crate::state::records::ClusterSpecRecord>) {
    let c = &job.document.spec.collect;
    let Some(want) = &c.cluster_specs else {
        return (None, Vec::new());
    };
    let reach = super::clusterspecs::Reach {
        kubeconfig: c
            .kubeconfig
            .as_ref()
            .map(|k| job_relative(job, k))
            .or_else(|| ctx.env.kubeconfig.clone()),
        context: c.context.clone().or_else(|| ctx.env.kube_context.clone()),
        timeout: ctx.env.kube_request_timeout,
        follow_uri: c.follow_spec_uri,
    };
    let loaded = super::clusterspecs::load(want, &reach).await;
    let mut job = job.clone();
    job.collection.merge(loaded.spec);
    job.collection.dedup();
    (Some(job), loaded.records)
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
