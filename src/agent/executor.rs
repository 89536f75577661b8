//! Runs one job run as a task: record `running`, the pipeline under the job's timeout, the final
//! record; then tells the control loop.

use super::clock::Clock;
use super::control::Control;
use crate::jobs::Job;
use crate::pipeline::{self, Cancel, CancelReason, RunContext};
use crate::state::records::{self, RECORD_VERSION, RunRecord, RunStatus, Trigger};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

/// One run to start.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The job definition the run uses (a later edit does not affect it).
    pub job: Arc<Job>,
    /// Run id.
    pub run_id: String,
    /// Why.
    pub trigger: Trigger,
    /// 1, or the retry number + 1.
    pub attempt: u32,
    /// The slot, for scheduled, catch-up and retry runs.
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// A record for a run that never starts (skipped, missed), or the first record of one that does.
pub fn new_record(spec: &RunSpec, host: &str, status: RunStatus, now: DateTime<Utc>) -> RunRecord {
    RunRecord {
        version: RECORD_VERSION,
        run_id: spec.run_id.clone(),
        job: spec.job.name.clone(),
        spec_hash: spec.job.spec_hash.clone(),
        trigger: spec.trigger,
        attempt: spec.attempt,
        scheduled_at: spec.scheduled_at,
        started_at: now,
        ended_at: (status != RunStatus::Running).then_some(now),
        status,
        reason: None,
        host: host.to_string(),
        phases: Vec::new(),
        collectors: Vec::new(),
        bundle: None,
        redaction: None,
        analysis: None,
        uploads: Vec::new(),
        missed: None,
    }
}

/// Writes a record off the async threads; the error text is what `/readyz` reports.
pub async fn persist(state_dir: &Path, record: &RunRecord) -> Result<(), String> {
    let dir = state_dir.to_path_buf();
    let record = record.clone();
    match tokio::task::spawn_blocking(move || records::write_record(&dir, &record)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("record writer failed: {e}")),
    }
}

/// Runs `spec` to the end: the `running` record, the pipeline under the job's timeout, the final
/// record. Returns the final record and, if a record could not be written, why.
pub async fn execute(
    spec: RunSpec,
    state_dir: PathBuf,
    host: String,
    cancel: Cancel,
    clock: Clock,
) -> (RunRecord, Option<String>) {
    let mut record = new_record(&spec, &host, RunStatus::Running, clock.now());
    let mut persist_error = persist(&state_dir, &record).await.err();
    let timeout = spec.job.document.spec.timeout.0;
    let timer = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            cancel.cancel(CancelReason::Timeout);
        })
    };
    let ctx = RunContext {
        state_dir: state_dir.clone(),
        run_id: spec.run_id.clone(),
        host,
    };
    let outcome = pipeline::run(&spec.job, &ctx, &cancel).await;
    timer.abort();
    record.status = outcome.status;
    record.reason = outcome.reason;
    record.phases = outcome.phases;
    record.collectors = outcome.collectors;
    record.bundle = outcome.bundle;
    record.ended_at = Some(clock.now());
    if let Err(e) = persist(&state_dir, &record).await {
        persist_error = Some(e);
    }
    (record, persist_error)
}

/// Starts the run in a task; the final record comes back as [`Control::RunFinished`].
pub fn spawn(
    spec: RunSpec,
    state_dir: PathBuf,
    host: String,
    cancel: Cancel,
    clock: Clock,
    tx: mpsc::Sender<Control>,
) {
    tokio::spawn(async move {
        let (record, persist_error) = execute(spec, state_dir, host, cancel, clock).await;
        let _ = tx
            .send(Control::RunFinished {
                record: Box::new(record),
                persist_error,
            })
            .await;
    });
}
