//! The upload phase: the run record names the archive and lists its uploads as pending, then every
//! target of the job (and troubleshoot's `afterCollection.uploadResultsTo` steps of its specs)
//! gets a queue entry before its first attempt, a few quick retries within the run, and is then
//! left to the queue's driver if it still cannot be delivered. Upload
//! results never change the run's status (collection succeeded or not); they are in the upload
//! phase and in the record's `uploads`.

use super::{Cancel, RunContext, phase};
use crate::jobs::Job;
use crate::jobs::model::UploadTarget;
use crate::state::records::UploadStatus;
use crate::state::records::{self, BundleRecord, PhaseRecord, PhaseStatus, UploadRecord};
use crate::state::{RunId, StateError};
use crate::upload::queue::{self, Callback, Entry};
use crate::upload::{self, key};
use chrono::{DateTime, Utc};
use std::path::Path;
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

/// The uploads of one bundle, decided before anything is sent: per destination (in order, the
/// position is the upload's index in the record), the queue entry to deliver, or the record of a
/// destination whose key cannot be made.
#[derive(Clone)]
pub(crate) struct Planned {
    slots: Vec<Slot>,
}

/// One destination of a planned upload.
#[derive(Clone)]
enum Slot {
    /// Queued, then attempted.
    Deliver(Box<Entry>),
    /// Its key cannot be made: recorded as failed, never sent.
    Failed(UploadRecord),
}

impl Planned {
    /// Whether the job has no destination at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The record's `uploads` before the first attempt: `pending` per entry, `failed` per bad key.
    pub(crate) fn records(&self) -> Vec<UploadRecord> {
        self.slots
            .iter()
            .map(|slot| match slot {
                Slot::Deliver(entry) => entry.pending_record(),
                Slot::Failed(failed) => failed.clone(),
            })
            .collect()
    }

    /// The entries to deliver.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.slots.iter().filter_map(|s| match s {
            Slot::Deliver(entry) => Some(&**entry),
            Slot::Failed(_) => None,
        })
    }
}

/// The placeholders' values for a run of `job`.
pub(crate) fn vars(job: &Job, run_id: &str, started_at: DateTime<Utc>, host: &str) -> key::Vars {
    key::Vars {
        job: job.name.clone(),
        run_id: run_id.to_string(),
        started_at,
        hostname: host.to_string(),
        cluster: job.document.metadata.labels.get("cluster").cloned(),
    }
}

/// `key` marked as holding a partial bundle: `-partial` before a trailing `.tar.gz` (else at the
/// end), in the path of an HTTP URL (its query left alone). A partial bundle then never takes the
/// name a complete one would have, and whoever lists the bucket sees what it is.
pub(crate) fn partial_key(key: &str) -> String {
    let split = key.find(['?', '#']).unwrap_or(key.len());
    let (path, rest) = key.split_at(split);
    match path.strip_suffix(".tar.gz") {
        Some(stem) => format!("{stem}-partial.tar.gz{rest}"),
        None => format!("{path}-partial{rest}"),
    }
}

/// Plans the uploads of `bundle` for `job`: one entry per destination, due `now`. Partial bundles
/// go under keys marked by [`partial_key`], except to URLs that troubleshoot's `uploadResultsTo`
/// names as written (often presigned: a changed URL would be refused).
pub(crate) fn plan(
    job: &Job,
    run_id: &RunId,
    vars: &key::Vars,
    bundle: &BundleRecord,
    now: DateTime<Utc>,
) -> Planned {
    let slots = destinations(job)
        .into_iter()
        .enumerate()
        .map(|(index, dest)| {
            let key = match dest.fixed_key {
                Some(k) => Ok(k),
                None => upload::object_key(&dest.target, vars)
                    .map(|k| if bundle.partial { partial_key(&k) } else { k }),
            };
            let key = match key {
                Ok(key) => key,
                Err(e) => {
                    return Slot::Failed(UploadRecord {
                        target: queue::label(&dest.target),
                        url: String::new(),
                        size: bundle.size,
                        attempts: 0,
                        status: UploadStatus::Failed,
                        error: Some(e.to_string()),
                        duration_ms: None,
                    });
                }
            };
            let mut entry = Entry::new(
                &vars.job,
                run_id,
                index,
                dest.target,
                &bundle.path,
                key,
                bundle.size,
                &bundle.sha256,
                now,
            );
            entry.callbacks = dest.callbacks;
            Slot::Deliver(Box::new(entry))
        })
        .collect();
    Planned { slots }
}

/// Makes the archive the record's before anything is sent: the run record names `bundle` and
/// lists `planned` as pending (durable), then each upload is queued (durable), then the staged
/// files go. A crash after any step leaves either staging (start-up recovery finishes the job)
/// or a record and queue that say everything. Blocking.
pub(crate) fn commit(
    state_dir: &Path,
    job: &str,
    run_id: &str,
    bundle: &BundleRecord,
    planned: &Planned,
    staging: Option<&Path>,
) -> Result<(), StateError> {
    let recorded = records::update(state_dir, job, run_id, |record| {
        record.bundle = Some(bundle.clone());
        record.uploads = planned.records();
    });
    // Without its record the bundle could not be found after a crash; the staged files stay
    // for recovery then, and the upload is still queued and tried.
    let queued = planned
        .entries()
        .try_for_each(|entry| queue::write(state_dir, entry));
    if recorded.is_ok()
        && queued.is_ok()
        && let Some(staging) = staging
    {
        super::remove_staging(state_dir, staging);
    }
    recorded.and(queued)
}

/// The upload phase of a run whose archive is `bundle`: [`commit`] (the record names the
/// bundle, the uploads are queued, `staging` is removed), then a few quick attempts per target.
pub(crate) async fn upload(
    job: &Job,
    ctx: &RunContext,
    bundle: Option<&BundleRecord>,
    cancel: &Cancel,
    staging: Option<&Path>,
) -> (PhaseRecord, Vec<UploadRecord>) {
    let started = Instant::now();
    let Some(bundle) = bundle else {
        let why = if destinations(job).is_empty() {
            "no upload targets"
        } else {
            "no bundle to upload"
        };
        return (
            phase(
                "upload",
                PhaseStatus::Skipped,
                Duration::ZERO,
                Some(why.into()),
            ),
            Vec::new(),
        );
    };
    // The agent's clock (tests shift it) runs from the run's start.
    let now = || ctx.started_at + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
    let vars = vars(job, &ctx.run_id, ctx.started_at, &ctx.env.host);
    let planned = plan(job, &ctx.run_id, &vars, bundle, now());
    let committed = {
        let (dir, job, run) = (
            ctx.env.state_dir.clone(),
            job.name.clone(),
            ctx.run_id.clone(),
        );
        let (bundle, staging) = (bundle.clone(), staging.map(Path::to_path_buf));
        let planned = planned.clone();
        tokio::task::spawn_blocking(move || {
            commit(&dir, &job, &run, &bundle, &planned, staging.as_deref())
        })
        .await
    };
    match committed {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(job = %job.name, run = %ctx.run_id, "cannot record the bundle before its upload: {e}")
        }
        Err(e) => tracing::warn!(job = %job.name, run = %ctx.run_id, "record writer failed: {e}"),
    }
    if planned.is_empty() {
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
    let policy = queue::Policy::default();
    let mut records = Vec::new();
    for slot in planned.slots {
        records.push(match slot {
            Slot::Deliver(mut entry) => deliver(ctx, &mut entry, &policy, cancel, &now).await,
            Slot::Failed(failed) => failed,
        });
    }
    let failed: Vec<String> = records
        .iter()
        .filter(|r| r.status == UploadStatus::Failed)
        .map(|r| format!("{}: {}", r.target, r.error.as_deref().unwrap_or("failed")))
        .collect();
    let pending = records
        .iter()
        .filter(|r| r.status == UploadStatus::Pending)
        .count();
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
    // Queued by `commit` before the first byte is sent: from here on a crash cannot lose it.
    let _claim = ctx.env.uploads.claim(&ctx.env.state_dir, entry);
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
        if record.status == UploadStatus::Succeeded {
            ctx.env.uploads.target_works(&entry.label);
        }
        if done {
            // The record learns the outcome before the entry goes: a crash in between leaves an
            // entry to re-drive (create-only: found delivered), never a record stuck `pending`.
            if let Err(e) = queue::record_upload(&ctx.env.state_dir, entry, &record).await {
                tracing::warn!(job = %entry.job, run = %entry.run_id, "cannot record the upload: {e}");
            }
            if let Err(e) = queue::remove(&ctx.env.state_dir, entry) {
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
    if let Err(e) = queue::write(&ctx.env.state_dir, entry) {
        tracing::warn!(job = %entry.job, run = %entry.run_id, "upload queue: {e}");
    }
    ctx.env.uploads.wake();
    entry.pending_record()
}
