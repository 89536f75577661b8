//! After a reload: the state of jobs that are no longer defined is kept for the
//! `removedJobGracePeriod`, then removed (see [`crate::state::removed`]).

use crate::state::removed::{self, Swept};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

/// Unmarks the jobs a reload `added` (a job back under its old name keeps its history), then
/// sweeps every job directory outside `active`. Failures are logged, never fatal.
pub async fn sweep(
    state_dir: &Path,
    active: BTreeSet<String>,
    added: Vec<String>,
    grace: Duration,
    now: DateTime<Utc>,
) {
    let dir = state_dir.to_path_buf();
    let result = tokio::task::spawn_blocking(move || {
        for job in &added {
            if let Err(e) = removed::unmark(&dir, job) {
                tracing::warn!(job = %job, "cannot clear the removal mark: {e}");
            }
        }
        removed::sweep(&dir, &active, grace, now)
    })
    .await;
    let swept = match result {
        Ok(Ok(swept)) => swept,
        Ok(Err(e)) => return tracing::warn!("removed jobs: {e}"),
        Err(e) => return tracing::warn!("removed jobs task failed: {e}"),
    };
    for s in swept {
        match s {
            Swept::Marked(job, until) => {
                tracing::info!(job = %job, until = %until.to_rfc3339(), "job removed: its bundles and records are kept until then");
            }
            Swept::Waiting(job) => {
                tracing::info!(job = %job, "removed job's grace period is over; its directory stays until its queued uploads are done");
            }
            Swept::Removed(job, path) => {
                tracing::info!(job = %job, path = %path.display(), "removed job's grace period is over: its bundles, run records and token maps are deleted");
            }
        }
    }
}
