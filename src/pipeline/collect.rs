//! The collect phase: host collectors natively; cluster collectors and the external engine are
//! recorded as not available in this build.

use super::Cancel;
use crate::bundle::Timing;
use crate::collect::host::{self, CollectorStatus, HostOptions};
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
    if let Err(e) = crate::state::ensure_private_dir(root) {
        return Collected {
            records,
            timings,
            error: Some(format!("cannot create the staging directory: {e}")),
        };
    }
    let outcomes = host::collect(
        &job.collection.host_collectors,
        root,
        cancel.token(),
        &HostOptions {
            copy_size_cap: ctx.copy_max_file_size,
            ..HostOptions::default()
        },
        ctx.started_at,
    )
    .await;
    for o in &outcomes {
        timings.push(Timing::from(o));
        records.push(CollectorRecord {
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
        });
    }
    // Cluster collection arrives with the Kubernetes work; each entry is recorded, not dropped.
    for entry in &job.collection.collectors {
        records.push(CollectorRecord {
            kind: entry.kind.clone(),
            title: entry
                .collector_name
                .clone()
                .unwrap_or_else(|| entry.kind.clone()),
            status: "skipped".into(),
            files: 0,
            duration_ms: 0,
            error: Some("cluster collection is not available in this build".into()),
        });
    }
    Collected {
        records,
        timings,
        error: None,
    }
}
