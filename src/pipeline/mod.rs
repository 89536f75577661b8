//! One run of one job: collect → redact → analyze → archive → upload, each phase timed and
//! recorded. Phases this build does not have are recorded as `not-available`, never faked.

mod cancel;

pub use cancel::{Cancel, CancelReason};

use crate::jobs::Job;
use crate::state::records::{BundleRecord, CollectorRecord, PhaseRecord, PhaseStatus, RunStatus};
use std::path::PathBuf;
use std::time::Instant;

/// What a run needs besides the job.
#[derive(Clone, Debug)]
pub struct RunContext {
    /// The state directory.
    pub state_dir: PathBuf,
    /// Run id.
    pub run_id: String,
    /// This host's name.
    pub host: String,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Final status.
    pub status: RunStatus,
    /// Why, for people.
    pub reason: Option<String>,
    /// Phases in order.
    pub phases: Vec<PhaseRecord>,
    /// Collectors.
    pub collectors: Vec<CollectorRecord>,
    /// The archive, when one was written.
    pub bundle: Option<BundleRecord>,
}

const NOT_AVAILABLE: &str = "not available in this build";

fn not_available(name: &str) -> PhaseRecord {
    PhaseRecord {
        name: name.to_string(),
        status: PhaseStatus::NotAvailable,
        duration_ms: 0,
        error: Some(NOT_AVAILABLE.to_string()),
    }
}

/// Runs the pipeline for `job` until it ends or `cancel` fires.
pub async fn run(job: &Job, _ctx: &RunContext, cancel: &Cancel) -> Outcome {
    let started = Instant::now();
    let mut phases = Vec::new();
    // Collection and archiving arrive with the bundle work; until then the run says so.
    for name in ["collect", "redact", "analyze", "archive"] {
        phases.push(not_available(name));
    }
    phases.push(if job.document.spec.upload.is_empty() {
        PhaseRecord {
            name: "upload".into(),
            status: PhaseStatus::Skipped,
            duration_ms: 0,
            error: Some("no upload targets".into()),
        }
    } else {
        not_available("upload")
    });
    let _ = started;
    let (status, reason) = match cancel.reason() {
        Some(CancelReason::Timeout) => (
            RunStatus::TimedOut,
            "the run exceeded its timeout".to_string(),
        ),
        Some(CancelReason::Replaced) => (
            RunStatus::Interrupted,
            "replaced by a newer run (concurrencyPolicy: Replace)".to_string(),
        ),
        Some(CancelReason::Shutdown) => (RunStatus::Interrupted, "the agent shut down".to_string()),
        None => (
            RunStatus::Failed,
            "no bundle was produced: collection is not available in this build".to_string(),
        ),
    };
    Outcome {
        status,
        reason: Some(reason),
        phases,
        collectors: Vec::new(),
        bundle: None,
    }
}
