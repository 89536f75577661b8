//! The upload phase: every target of the job (and troubleshoot's `afterCollection.uploadResultsTo`
//! steps of its specs) gets a queue entry before its first attempt, a few quick retries within
//! the run, and is then left to the queue's driver if it still cannot be delivered. Upload
//! results never change the run's status (collection succeeded or not); they are in the upload
//! phase and in the record's `uploads`.

use super::{Cancel, RunContext, phase};
use crate::jobs::Job;
use crate::jobs::model::UploadTarget;
use crate::state::records::{BundleRecord, PhaseRecord, PhaseStatus, UploadRecord};
use crate::upload::queue::{self, Callback, Entry};
use crate::upload::{self, key};
use std::time::{Duration, Instant};

/// One destination of this run.
struct Destination {
    target: UploadTarget,
    /// A URL used as written (troubleshoot's `uploadResultsTo.uri`), not a template.
    fixed_key: Option<String>,
    callbacks: Vec<Callback>,
}

/// The job's targets, then the `uploadResultsTo` steps of its troubleshoot specs (with the
/// specs' `callback` steps, sent after each of those uploads as troubleshoot does).
fn destinations(job: &Job) -> Vec<Destination> {
    let mut out: Vec<Destination> = job
        .document
        .spec
        .upload
        .iter()
        .map(|t| Destination {
            target: t.clone(),
            fixed_key: None,
            callbacks: Vec::new(),
        })
        .collect();
    let mut callbacks = Vec::new();
    let mut compat = Vec::new();
    for step in &job.collection.after_collection {
        if let Some(cb) = step.get("callback") {
            callbacks.push(Callback {
                method: cb["method"].as_str().unwrap_or("POST").to_string(),
                uri: cb["uri"].as_str().unwrap_or_default().to_string(),
            });
        }
        if let Some(up) = step.get("uploadResultsTo") {
            let uri = up["uri"].as_str().unwrap_or_default().to_string();
            let method = up["method"].as_str().unwrap_or("PUT").to_ascii_uppercase();
            match serde_json::from_value::<UploadTarget>(
                serde_json::json!({"http": {"url": uri, "method": method}}),
            ) {
                Ok(target) => compat.push(Destination {
                    target,
                    fixed_key: Some(uri),
                    callbacks: Vec::new(),
                }),
                Err(e) => {
                    tracing::warn!(job = %job.name, "afterCollection.uploadResultsTo is not usable ({e}); only PUT and POST are supported")
                }
            }
        }
    }
    for d in &mut compat {
        d.callbacks = callbacks.clone();
    }
    out.extend(compat);
    out
}

/// Where a run of `job` uploads: each target, with the URL to use as written for troubleshoot's
/// `uploadResultsTo` steps (`None`: the target's own key template or URL).
pub fn targets(job: &Job) -> Vec<(UploadTarget, Option<String>)> {
    destinations(job)
        .into_iter()
        .map(|d| (d.target, d.fixed_key))
        .collect()
}

/// Runs the upload phase for the run's bundle.
pub(crate) async fn upload(
    job: &Job,
    ctx: &RunContext,
    bundle: Option<&BundleRecord>,
    cancel: &Cancel,
) -> (PhaseRecord, Vec<UploadRecord>) {
    let started = Instant::now();
    let dests = destinations(job);
    if dests.is_empty() {
        return (
            phase(
                "upload",
                PhaseStatus::Skipped,
                Duration::ZERO,
                Some("no upload targets".into()),
            ),
            Vec::new(),
        );
    }
    let Some(bundle) = bundle else {
        return (
            phase(
                "upload",
                PhaseStatus::Skipped,
                Duration::ZERO,
                Some("no bundle to upload".into()),
            ),
            Vec::new(),
        );
    };
    // The agent's clock (tests shift it) runs from the run's start.
    let now = || ctx.started_at + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
    let vars = key::Vars {
        job: job.name.clone(),
        run_id: ctx.run_id.clone(),
        started_at: ctx.started_at,
        hostname: ctx.host.clone(),
        cluster: job.document.metadata.labels.get("cluster").cloned(),
    };
    let policy = queue::Policy::default();
    let mut records = Vec::new();
    for (index, dest) in dests.into_iter().enumerate() {
        let label = queue::label(&dest.target);
        let key = match dest.fixed_key {
            Some(k) => Ok(k),
            None => upload::object_key(&dest.target, &vars),
        };
        let key = match key {
            Ok(k) => k,
            Err(e) => {
                records.push(UploadRecord {
                    target: label,
                    url: String::new(),
                    size: bundle.size,
                    attempts: 0,
                    status: "failed".into(),
                    error: Some(e.to_string()),
                    duration_ms: None,
                });
                continue;
            }
        };
        let mut entry = Entry::new(
            &job.name,
            &ctx.run_id,
            index,
            dest.target,
            &bundle.path,
            key,
            bundle.size,
            &bundle.sha256,
            now(),
        );
        entry.callbacks = dest.callbacks;
        records.push(deliver(ctx, &mut entry, &policy, cancel, &now).await);
    }
    let failed: Vec<String> = records
        .iter()
        .filter(|r| r.status == "failed")
        .map(|r| format!("{}: {}", r.target, r.error.as_deref().unwrap_or("failed")))
        .collect();
    let pending = records.iter().filter(|r| r.status == "pending").count();
    let (status, error) = if !failed.is_empty() {
        (PhaseStatus::Failed, Some(failed.join("; ")))
    } else if pending > 0 {
        (
            PhaseStatus::Pending,
            Some(format!(
                "{pending} upload(s) not delivered yet; the agent's upload queue retries them"
            )),
        )
    } else {
        (PhaseStatus::Succeeded, None)
    };
    (phase("upload", status, started.elapsed(), error), records)
}

/// Quick retries within the run; what is still transient after them stays queued.
async fn deliver(
    ctx: &RunContext,
    entry: &mut Entry,
    policy: &queue::Policy,
    cancel: &Cancel,
    now: &impl Fn() -> chrono::DateTime<chrono::Utc>,
) -> UploadRecord {
    // Queued before the first byte is sent: from here on a crash cannot lose the upload.
    if let Err(e) = queue::write(&ctx.state_dir, entry) {
        tracing::warn!(job = %entry.job, run = %entry.run_id, "cannot queue the upload (trying it anyway): {e}");
    }
    let _claim = queue::claim(&ctx.state_dir, entry);
    loop {
        let t = Instant::now();
        let result = tokio::select! {
            r = queue::attempt(entry) => r,
            () = cancel.token().cancelled() => {
                entry.last_error = Some("the run was stopped during the upload; the upload queue retries it".into());
                entry.next_attempt_at = now();
                return keep_queued(ctx, entry);
            }
        };
        entry.attempts += 1;
        let backoff = if entry.attempts < policy.in_run.max_attempts {
            &policy.in_run
        } else {
            &policy.queued
        };
        let (record, done) = queue::settle(entry, result, backoff, now(), t.elapsed());
        if done {
            if let Err(e) = queue::remove(&ctx.state_dir, entry) {
                tracing::warn!(job = %entry.job, run = %entry.run_id, "upload queue: {e}");
            }
            return record;
        }
        if entry.attempts >= policy.in_run.max_attempts {
            return keep_queued(ctx, entry);
        }
        let wait = (entry.next_attempt_at - now()).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.token().cancelled() => return keep_queued(ctx, entry),
        }
    }
}

fn keep_queued(ctx: &RunContext, entry: &Entry) -> UploadRecord {
    if let Err(e) = queue::write(&ctx.state_dir, entry) {
        tracing::warn!(job = %entry.job, run = %entry.run_id, "upload queue: {e}");
    }
    queue::wake();
    entry.pending_record()
}
