//! The redact phase: every staged file goes through the default redactors and the job's own
//! before anything is archived.

use crate::jobs::Job;
use crate::state::records::PhaseStatus;
use std::path::Path;

/// Files redacted at once.
const PARALLEL: usize = 4;

/// What redaction did.
pub struct Redacted {
    /// Phase outcome.
    pub status: PhaseStatus,
    /// Why it failed or was skipped.
    pub error: Option<String>,
    /// Counts per redactor and file, for the run record.
    pub report: Option<serde_json::Value>,
}

/// Redacts the staged tree at `root` in place, unless the job turned redaction off.
pub async fn redact(job: &Job, root: &Path) -> Redacted {
    if !job.document.spec.redact.enabled {
        return Redacted {
            status: PhaseStatus::Skipped,
            error: Some("redaction is disabled for this job (redact.enabled: false)".into()),
            report: None,
        };
    }
    let rules = job.collection.redactors.clone();
    let root = root.to_path_buf();
    let result = tokio::task::spawn_blocking(move || {
        let compiled = crate::redact::compile(&rules)?;
        crate::redact::redact_tree(&root, &compiled, PARALLEL)
    })
    .await;
    match result {
        Ok(Ok(report)) => Redacted {
            status: PhaseStatus::Succeeded,
            error: None,
            report: serde_json::to_value(&report).ok(),
        },
        Ok(Err(e)) => Redacted {
            status: PhaseStatus::Failed,
            error: Some(e.to_string()),
            report: None,
        },
        Err(e) => Redacted {
            status: PhaseStatus::Failed,
            error: Some(format!("redaction task failed: {e}")),
            report: None,
        },
    }
}
