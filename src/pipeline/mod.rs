//! One run of one job: collect → redact → analyze → archive → upload, each phase timed and
//! recorded. Phases this build does not have are recorded as `not-available`, never faked.
//!
//! Collected files are staged under `<state>/jobs/<job>/staging/<run-id>/<bundle>/` and archived
//! to `<state>/jobs/<job>/bundles/<bundle>.tar.gz`; a timeout or shutdown archives what was
//! collected so far (the bundle is marked partial). The staged files are removed only once the
//! run record names the archive, so a crash at any point leaves staging that start-up recovery
//! (`recover.rs`) archives, or links to the archive already written.

mod analyze;
mod cancel;
mod changes;
mod clusterspecs;
mod collect;
mod context;
mod disk;
pub mod error;
mod external;
pub mod progress;
pub mod recover;
mod redact;
mod secrets;
mod spec_uri;
mod upload;

pub use redact::{RedactionPlan, plan as redaction_plan, tokenization_warnings};
pub use upload::targets as upload_targets;

pub use cancel::{Cancel, CancelReason};
pub use context::{BundleNames, RunContext, RunEnv};
pub use disk::free_bytes;
pub use progress::Progress;

use crate::bundle::{self, BundleOptions, StepTiming, TimingStatus};
use crate::jobs::Job;
use crate::jobs::model::Engine;
use crate::state::records::CollectorRunStatus;
use crate::state::records::{
    self, BundleRecord, CollectorRecord, PhaseRecord, PhaseStatus, RunStatus,
};
use crate::state::{Create, StateDir};
use error::PhaseError;

use progress::Counts;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
    /// Analyzer results, when analysis ran.
    pub analysis: Option<serde_json::Value>,
    /// Redaction counts per redactor and file (never values).
    pub redaction: Option<serde_json::Value>,
    /// The resource limits its processes ran under, and how they were applied.
    pub limits: Option<serde_json::Value>,
    /// One entry per upload target (empty without targets).
    pub uploads: Vec<crate::state::records::UploadRecord>,
    /// What changed since the job's previous completed run (also in the record on disk).
    pub changes: Option<crate::state::records::ChangesRecord>,
    /// Specs loaded from the cluster for this run (`collect.clusterSpecs`).
    pub cluster_specs: Vec<crate::state::records::ClusterSpecRecord>,
    /// Spec `uri:`s followed for this run (`collect.followSpecURI`).
    pub spec_uris: Vec<crate::state::records::SpecUriRecord>,
}

/// The version written to `version.yaml` of the bundles this agent makes.
pub const TOOL_VERSION: &str = concat!("v", env!("CARGO_PKG_VERSION"), "-troubleshoot-agent");

pub(crate) fn phase(
    name: &str,
    status: PhaseStatus,
    took: Duration,
    error: Option<String>,
) -> PhaseRecord {
    PhaseRecord {
        name: name.to_string(),
        status,
        duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        error,
    }
}

/// Tells the run's watchers that the last phase in `phases` has ended.
fn report(ctx: &RunContext, phases: &[PhaseRecord], counts: Counts) {
    if let Some(last) = phases.last() {
        ctx.progress.finished(last, counts);
    }
}

/// Tells the run's watchers about each phase of `outcome` they have not seen end (phases that
/// end together, and those of a run that returns early).
fn settle(ctx: &RunContext, outcome: &Outcome) {
    let ended = ctx.progress.ended();
    for record in &outcome.phases {
        let Some(phase) = progress::Phase::from_name(&record.name) else {
            continue;
        };
        if ended.contains(&phase) {
            continue;
        }
        let counts = Counts::of(
            phase,
            &outcome.collectors,
            outcome.redaction.as_ref(),
            outcome.bundle.as_ref(),
            &outcome.uploads,
        );
        ctx.progress.finished(record, counts);
    }
}

/// Tells the run's watchers that the upload phase begins, when it has work (a bundle and a
/// target); otherwise it is only reported skipped.
fn upload_started(job: &Job, ctx: &RunContext, bundle: Option<&BundleRecord>) {
    if bundle.is_some() && !upload::targets(job).is_empty() {
        ctx.progress.started(progress::Phase::Upload);
    }
}

/// The upload phase of a run whose archive is `bundle` (see `upload.rs`).
pub(crate) async fn upload_phase(
    job: &Job,
    ctx: &RunContext,
    bundle: Option<&BundleRecord>,
    cancel: &Cancel,
) -> (PhaseRecord, Vec<crate::state::records::UploadRecord>) {
    upload_started(job, ctx, bundle);
    let (record, uploads) = upload::upload(job, ctx, bundle, cancel, None).await;
    ctx.progress.finished(&record, Counts::uploads(&uploads));
    (record, uploads)
}

/// `<state>/jobs/<job>/staging/<run-id>`: where a run's files wait to be archived.
pub fn staging_dir(state_dir: &Path, job: &str, run_id: &str) -> PathBuf {
    records::job_dir(state_dir, job)
        .join("staging")
        .join(run_id)
}

/// `<state>/jobs/<job>/bundles`.
pub fn bundles_dir(state_dir: &Path, job: &str) -> PathBuf {
    records::job_dir(state_dir, job).join("bundles")
}

/// Removes a run's staging directory (never following a symlink in the state directory);
/// failures are logged: staged files left behind cost disk, not correctness.
pub(crate) fn remove_staging(state_dir: &Path, staging: &Path) {
    if let Err(e) = StateDir::open(state_dir).and_then(|d| d.remove_dir_all(staging))
        && !e.is_not_found()
    {
        tracing::warn!("cannot remove the staging directory: {e}");
    }
}

/// Runs the pipeline for `job` until it ends or `cancel` fires.
pub async fn run(job: &Job, ctx: &RunContext, cancel: &Cancel) -> Outcome {
    let started = Instant::now();
    let mut phases = Vec::new();
    if let Some(skip) = disk::low_space(&ctx.env.state_dir, ctx.env.min_free_disk) {
        return Outcome::without_bundle(RunStatus::Skipped, skip, phases, Vec::new(), None);
    }
    if job.document.spec.collect.engine == Engine::SupportBundle {
        // The CLI collects, redacts, analyzes and archives in one go.
        ctx.progress.started(progress::Phase::Collect);
        let outcome = external::run(job, ctx, cancel).await;
        settle(ctx, &outcome);
        return outcome;
    }
    let claim = ctx.env.bundle_names.claim(
        &bundles_dir(&ctx.env.state_dir, &job.name),
        &ctx.env.bundle_base(&job.name, ctx.started_at),
    );
    let top = claim.top.clone();
    let staging = staging_dir(&ctx.env.state_dir, &job.name, &ctx.run_id);
    let root = staging.join(&top);

    let (loaded_job, cluster_specs) = collect::with_cluster_specs(job, ctx).await;
    let job = loaded_job.as_ref().unwrap_or(job);
    let (followed_job, spec_uris) = spec_uri::follow(job, ctx.env.spec_uri_timeout).await;
    let job = followed_job.as_ref().unwrap_or(job);
    let collected = collect_phase(job, &root, cancel, ctx, &mut phases).await;
    let redacted = redact_phase(job, &root, ctx, &mut phases).await;
    if let Some(error) = redacted
        .error
        .filter(|_| redacted.status == PhaseStatus::Failed)
    {
        // Nothing unredacted may reach an archive: the staged files go, the run fails.
        let staging = staging.clone();
        let state_dir = ctx.env.state_dir.clone();
        let _ = tokio::task::spawn_blocking(move || remove_staging(&state_dir, &staging)).await;
        let reason = format!("redaction failed, so nothing was archived: {error}");
        let (collectors, limits) = (collected.records, collected.limits);
        return Outcome::without_bundle(RunStatus::Failed, reason, phases, collectors, limits);
    }
    announce_analysis(job, ctx);
    let analyzed = analyze::analyze(job, &root, ctx).await;
    phases.push(analyzed.phase.clone());
    report(ctx, &phases, Counts::default());
    let changes = changes::changes(&job.name, changes::Made::Staged(root.clone()), ctx).await;

    let t = Instant::now();
    ctx.progress.started(progress::Phase::Archive);
    let partial = cancel.is_cancelled() || collected.error.is_some();
    let summary = bundle::summary_txt_with_redaction(
        &collected.timings,
        &[],
        &redaction_lines(job, redacted.report.as_ref()),
        &analyzed.timings,
        started.elapsed(),
    );
    let (bundle, archive_error) =
        archive_phase(ctx, &job.name, &staging, &root, claim, summary, partial).await;
    phases.push(archive_record(t, &archive_error));
    report(ctx, &phases, Counts::archive(bundle.as_ref()));
    // The record names the archive and its uploads are queued before the staged files go and
    // before anything is sent (see `upload::commit`).
    upload_started(job, ctx, bundle.as_ref());
    let (upload_record, uploads) =
        upload::upload(job, ctx, bundle.as_ref(), cancel, Some(&staging)).await;
    phases.push(upload_record);
    report(ctx, &phases, Counts::uploads(&uploads));

    let (status, reason) = final_status(job, cancel, &archive_error, &collected);
    // `analyze.failOn`: the bundle is kept, archived and uploaded; the run says analysis failed.
    let (status, reason) = match &analyzed.failed {
        Some(why) if status.is_success() => (RunStatus::AnalysisFailed, why.clone()),
        _ => (status, reason),
    };
    Outcome {
        status,
        reason: Some(reason),
        phases,
        collectors: collected.records,
        bundle,
        analysis: analyzed.record,
        redaction: redacted.report,
        limits: collected.limits,
        uploads,
        changes,
        cluster_specs,
        spec_uris,
    }
}

/// Tells the progress stream that analysis starts, when the job has analyzers (without them the
/// phase only writes an empty analysis.json and is reported skipped).
fn announce_analysis(job: &Job, ctx: &RunContext) {
    if job.document.spec.analyze.enabled
        && !(job.collection.analyzers.is_empty() && job.collection.host_analyzers.is_empty())
    {
        ctx.progress.started(progress::Phase::Analyze);
    }
}

/// The archive phase's record: failed with its error, or succeeded.
fn archive_record(t: Instant, archive_error: &Option<String>) -> PhaseRecord {
    let status = match archive_error {
        Some(_) => PhaseStatus::Failed,
        None => PhaseStatus::Succeeded,
    };
    phase("archive", status, t.elapsed(), archive_error.clone())
}

/// The collect phase: the job's collectors into the staged tree at `root`.
async fn collect_phase(
    job: &Job,
    root: &Path,
    cancel: &Cancel,
    ctx: &RunContext,
    phases: &mut Vec<PhaseRecord>,
) -> collect::Collected {
    let t = Instant::now();
    ctx.progress.started(progress::Phase::Collect);
    let collected = collect::collect(job, root, cancel, ctx).await;
    let status = match (&collected.error, cancel.is_cancelled()) {
        (Some(_), _) => PhaseStatus::Failed,
        (None, true) => PhaseStatus::Cancelled,
        (None, false) => PhaseStatus::Succeeded,
    };
    phases.push(phase(
        "collect",
        status,
        t.elapsed(),
        collected.error.clone(),
    ));
    report(ctx, phases, Counts::collectors(&collected.records));
    collected
}

/// The redact phase over the staged tree at `root`.
async fn redact_phase(
    job: &Job,
    root: &Path,
    ctx: &RunContext,
    phases: &mut Vec<PhaseRecord>,
) -> redact::Redacted {
    let t = Instant::now();
    if job.document.spec.redact.enabled {
        // Disabled, the phase is skipped (it only removes the agent's own secrets).
        ctx.progress.started(progress::Phase::Redact);
    }
    let redacted = redact::redact(job, root, ctx).await;
    let error = redacted.error.clone();
    phases.push(phase("redact", redacted.status, t.elapsed(), error));
    report(ctx, phases, Counts::redaction(redacted.report.as_ref()));
    redacted
}

impl Outcome {
    /// A run that ends without a bundle (skipped, or failed before archiving).
    fn without_bundle(
        status: RunStatus,
        reason: String,
        phases: Vec<PhaseRecord>,
        collectors: Vec<CollectorRecord>,
        limits: Option<serde_json::Value>,
    ) -> Self {
        Outcome {
            status,
            reason: Some(reason),
            phases,
            collectors,
            bundle: None,
            analysis: None,
            redaction: None,
            limits,
            uploads: Vec::new(),
            changes: None,
            cluster_specs: Vec::new(),
            spec_uris: Vec::new(),
        }
    }
}

/// Archives the staged tree under the name `claim` reserved (released once the archive is in
/// place, or the name is free again); the bundle, or why there is none.
async fn archive_phase(
    ctx: &RunContext,
    job: &str,
    staging: &Path,
    root: &Path,
    claim: context::Claim,
    summary: String,
    partial: bool,
) -> (Option<BundleRecord>, Option<String>) {
    let archived = archive(
        &ctx.env.state_dir,
        job,
        staging,
        root,
        &claim.top,
        summary,
        partial,
    )
    .await;
    drop(claim);
    match archived {
        Ok(info) => (
            Some(BundleRecord {
                path: info.path,
                size: info.size,
                sha256: info.sha256,
                partial,
                pruned_at: None,
                pruned_by: None,
            }),
            None,
        ),
        Err(e) => (None, Some(e.to_string())),
    }
}

/// The status and reason of a builtin run that reached the archive phase.
fn final_status(
    job: &Job,
    cancel: &Cancel,
    archive_error: &Option<String>,
    collected: &collect::Collected,
) -> (RunStatus, String) {
    match (cancel.reason(), archive_error, &collected.error) {
        (Some(CancelReason::Timeout), _, _) => (
            RunStatus::TimedOut,
            format!(
                "the run exceeded its timeout of {}; what was collected is kept",
                job.document.spec.timeout
            ),
        ),
        (Some(CancelReason::Replaced), _, _) => (
            RunStatus::Interrupted,
            "replaced by a newer run (concurrencyPolicy: Replace); what was collected is kept"
                .to_string(),
        ),
        (Some(CancelReason::Shutdown), _, _) => (
            RunStatus::Interrupted,
            "the agent shut down before the run finished; what was collected is kept".to_string(),
        ),
        (None, Some(e), _) => (RunStatus::Failed, format!("archiving failed: {e}")),
        (None, None, Some(e)) => (RunStatus::Failed, e.clone()),
        (None, None, None) => collectors_outcome(&collected.records),
    }
}

/// What `summary.txt` says about redaction: the redactors that ran (as `validate` and `plan`
/// name them) and the replacements per redactor, from the phase's report.
fn redaction_lines(job: &Job, report: Option<&serde_json::Value>) -> Vec<String> {
    let plan = redact::plan(job);
    if !plan.enabled {
        return vec!["Redaction disabled (redact.enabled: false)".to_string()];
    }
    let mut lines = vec![format!("Redactors: {}", plan.summary())];
    let totals = report
        .and_then(|r| r.get("totals"))
        .and_then(serde_json::Value::as_object);
    let Some(totals) = totals else {
        lines.push("Replacements: unknown (no redaction report)".to_string());
        return lines;
    };
    let count: u64 = totals.values().filter_map(serde_json::Value::as_u64).sum();
    lines.push(format!("Replacements: {count}"));
    for (name, n) in totals {
        lines.push(format!("  {name} : {}", n.as_u64().unwrap_or(0)));
    }
    lines
}

/// The status of a run whose bundle is archived: `succeeded-with-errors` when collectors
/// failed, with a reason naming them (`3 of 5 collectors failed: a, b, c`).
fn collectors_outcome(collectors: &[CollectorRecord]) -> (RunStatus, String) {
    let failed: Vec<&str> = collectors
        .iter()
        .filter(|c| c.status == CollectorRunStatus::Failed)
        .map(|c| c.title.as_str())
        .collect();
    if failed.is_empty() {
        return (
            RunStatus::Succeeded,
            format!("{} collector(s) ran", collectors.len()),
        );
    }
    // Ten names say which; the record's collectors list has them all.
    const NAMED: usize = 10;
    let mut names = failed[..failed.len().min(NAMED)].join(", ");
    if failed.len() > NAMED {
        names.push_str(&format!(" and {} more", failed.len() - NAMED));
    }
    (
        RunStatus::SucceededWithErrors,
        format!(
            "{} of {} collectors failed: {names}",
            failed.len(),
            collectors.len(),
        ),
    )
}

/// Marks a run's staging as holding less than was asked for (timeout, shutdown, failed
/// collection): an archive that a crash left unrecorded is then recorded as partial.
pub(crate) const PARTIAL_MARK: &str = ".partial";

/// Writes `version.yaml` and `execution-data/summary.txt` and archives the staged tree. The staged
/// files stay until the run record names the archive (`upload::commit`), unless archiving fails.
#[allow(clippy::too_many_arguments)]
async fn archive(
    state_dir: &Path,
    job: &str,
    staging: &Path,
    root: &Path,
    top: &str,
    summary: String,
    partial: bool,
) -> Result<bundle::BundleInfo, PhaseError> {
    let dest = bundles_dir(state_dir, job).join(format!("{top}.tar.gz"));
    let state_dir = state_dir.to_path_buf();
    let staging = staging.to_path_buf();
    let root = root.to_path_buf();
    let top = top.to_string();
    let joined = tokio::task::spawn_blocking(move || {
        let result = (|| {
            // The staging tree and bundles/ are checked for symlinks here (the archive is written
            // beside its final name, in the directory checked).
            let state = StateDir::open(&state_dir)?;
            state.create_dir_all(&root.join("execution-data"))?;
            state.create_dir_all(dest.parent().unwrap_or(&root))?;
            let write = |rel: &str, text: String| {
                state
                    .create(&root.join(rel), Create::Truncate)
                    .and_then(|mut f| {
                        f.write_all(text.as_bytes()).map_err(|source| {
                            crate::state::StateError::Io {
                                path: root.join(rel),
                                source,
                            }
                        })
                    })
                    .map_err(PhaseError::write(format!("writing {rel}")))
            };
            write(
                "version.yaml",
                bundle::version_yaml(concat!(
                    "v",
                    env!("CARGO_PKG_VERSION"),
                    "-troubleshoot-agent"
                )),
            )?;
            write("execution-data/summary.txt", summary)?;
            if partial {
                std::fs::write(staging.join(PARTIAL_MARK), b"")
                    .map_err(PhaseError::io_at("marking the staged files partial"))?;
            }
            Ok(bundle::write_bundle(
                &root,
                &dest,
                &top,
                &BundleOptions::default(),
            )?)
        })();
        // Files that failed to reach an archive must not fill the disk (a crash, not a failure,
        // is what leaves staging behind, and start-up recovery archives it). After a success the
        // staging stays until the record names the archive and its uploads are queued.
        if result.is_err() {
            remove_staging(&state_dir, &staging);
        }
        result
    })
    .await;
    joined.unwrap_or_else(|e| Err(PhaseError::task("archiver")(e)))
}

impl From<&crate::collect::host::CollectorOutcome> for StepTiming {
    fn from(o: &crate::collect::host::CollectorOutcome) -> Self {
        use crate::collect::host::CollectorStatus;
        StepTiming {
            name: format!("{}/{}", o.kind, o.title),
            status: match o.status {
                CollectorStatus::Succeeded => TimingStatus::Succeeded,
                CollectorStatus::Failed => TimingStatus::Failed,
                CollectorStatus::Skipped { .. } => TimingStatus::Skipped,
            },
            duration: o.duration,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collector(title: &str, status: CollectorRunStatus) -> CollectorRecord {
        CollectorRecord {
            kind: "run".into(),
            title: title.into(),
            status,
            files: 1,
            duration_ms: 0,
            error: None,
        }
    }

    #[test]
    fn failed_collectors_make_the_run_succeed_with_errors_and_are_named() {
        let ok = [
            collector("a", CollectorRunStatus::Succeeded),
            collector("b", CollectorRunStatus::Skipped),
        ];
        assert_eq!(collectors_outcome(&ok).0, RunStatus::Succeeded);
        let some = [
            collector("a", CollectorRunStatus::Failed),
            collector("b", CollectorRunStatus::Succeeded),
            collector("c", CollectorRunStatus::Failed),
        ];
        assert_eq!(
            collectors_outcome(&some),
            (
                RunStatus::SucceededWithErrors,
                "2 of 3 collectors failed: a, c".to_string()
            )
        );
        let many: Vec<CollectorRecord> = (0..12)
            .map(|i| collector(&format!("c{i}"), CollectorRunStatus::Failed))
            .collect();
        let (_, reason) = collectors_outcome(&many);
        assert!(reason.ends_with("c9 and 2 more"), "{reason}");
        assert!(
            reason.starts_with("12 of 12 collectors failed: c0, c1"),
            "{reason}"
        );
    }
}
