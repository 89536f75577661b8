//! A run through the troubleshoot CLI (`collect.engine: support-bundle`): the CLI collects,
//! redacts, analyzes and archives; the agent names the output, records the result and its bundle.

use super::error::PhaseError;
use super::{
    Cancel, CancelReason, Outcome, RunContext, bundles_dir, phase, settle, staging_dir,
    upload_phase,
};
use crate::collect::external::{self, Request};
use crate::jobs::{Job, SpecRole};
use crate::state::records::CollectorRunStatus;
use crate::state::records::{BundleRecord, CollectorRecord, PhaseStatus, RunStatus};
use crate::state::{Create, StateDir};
use std::io::Write;
use std::time::{Duration, Instant};

/// Runs the CLI for `job`.
pub async fn run(job: &Job, ctx: &RunContext, cancel: &Cancel) -> Outcome {
    let started = Instant::now();
    let limits = super::collect::limits(job, ctx);
    let limits_record = limits.record();
    let failed = |reason: String, phases| Outcome {
        status: RunStatus::Failed,
        reason: Some(reason),
        phases,
        collectors: Vec::new(),
        bundle: None,
        analysis: None,
        redaction: None,
        limits: limits_record.clone(),
        uploads: Vec::new(),
        changes: None,
        cluster_specs: Vec::new(),
        spec_uris: Vec::new(),
    };
    let prepared = prepare(job, ctx, limits.child());
    // The name stays reserved until the CLI has written its archive (the end of the run).
    let (request, _claim) = match prepared {
        Ok(prepared) => prepared,
        Err((reason, phases)) => return failed(reason, phases),
    };
    let result = external::run(&request, cancel.token()).await;
    // The CLI and its children are done: the record gets the cgroup's OOM kills, and the cgroup goes.
    let limits_record = limits.finish().await;
    super::remove_staging(
        &ctx.env.state_dir,
        &staging_dir(&ctx.env.state_dir, &job.name, &ctx.run_id),
    );
    let took = started.elapsed();
    let response = match result {
        Ok(r) => r,
        Err(external::ExternalError::Cancelled) => {
            return cancelled(job, cancel, took, limits_record.clone());
        }
        Err(e) => {
            return failed(
                e.to_string(),
                vec![phase(
                    "collect",
                    PhaseStatus::Failed,
                    took,
                    Some(e.to_string()),
                )],
            );
        }
    };
    let mut response = response;
    let (secrets_report, secrets_error) = match response.archive.clone() {
        Some(archive) => match remove_secrets(job, ctx, &archive).await {
            Ok(report) => (report, None),
            Err(e) => {
                // Nothing unredacted may be kept or uploaded.
                let _ = tokio::fs::remove_file(&archive).await;
                response.archive = None;
                (None, Some(e.to_string()))
            }
        },
        None => (None, None),
    };
    let bundle = bundle_of(&response).await;
    let cli_error = cli_error(job, &response);
    let phases = phases(took, &cli_error, &secrets_error, &secrets_report, &bundle);
    let collectors = vec![CollectorRecord {
        kind: "support-bundle".into(),
        title: request.binary.display().to_string(),
        status: if cli_error.is_some() {
            CollectorRunStatus::Failed
        } else {
            CollectorRunStatus::Succeeded
        },
        files: u64::from(bundle.is_some()),
        duration_ms: u64::try_from(took.as_millis()).unwrap_or(u64::MAX),
        error: cli_error.clone(),
    }];
    let (status, reason) = status(&cli_error, &bundle, response.timed_out);
    let changes = changes_since_last(job, ctx, bundle.as_ref()).await;
    let mut outcome = Outcome {
        status,
        reason: Some(reason),
        phases,
        collectors,
        bundle,
        analysis: response.analyzer_results,
        redaction: secrets_report,
        limits: limits_record.clone(),
        uploads: Vec::new(),
        changes,
        cluster_specs: Vec::new(),
        spec_uris: Vec::new(),
    };
    // The CLI did everything up to the archive in one go: those phases end together.
    settle(ctx, &outcome);
    let (upload_record, uploads) = upload_phase(job, ctx, outcome.bundle.as_ref(), cancel).await;
    outcome.phases.push(upload_record);
    outcome.uploads = uploads;
    outcome
}

/// What changed since the previous completed run, read from the CLI's archive (the builtin
/// engine reads its staged tree); `None` without an archive.
async fn changes_since_last(
    job: &Job,
    ctx: &RunContext,
    bundle: Option<&BundleRecord>,
) -> Option<crate::state::records::ChangesRecord> {
    let made = super::changes::Made::Archive(bundle?.path.clone());
    super::changes::changes(&job.name, made, ctx).await
}

/// What the CLI is asked to do, and the bundle name reserved for its archive; `Err` is why the
/// run failed before the CLI started, with the phases to record.
fn prepare(
    job: &Job,
    ctx: &RunContext,
    limits: Option<crate::collect::host::limits::ChildLimits>,
) -> Result<(Request, super::context::Claim), (String, Vec<crate::state::records::PhaseRecord>)> {
    let binary = match external::locate(ctx.env.support_bundle_path.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            let error = e.to_string();
            let collect = phase(
                "collect",
                PhaseStatus::Failed,
                Duration::ZERO,
                Some(error.clone()),
            );
            return Err((error, vec![collect]));
        }
    };
    let bundles = bundles_dir(&ctx.env.state_dir, &job.name);
    let state = match StateDir::open(&ctx.env.state_dir) {
        Ok(state) => state,
        Err(e) => return Err((e.to_string(), Vec::new())),
    };
    if let Err(e) = state.create_dir_all(&bundles) {
        return Err((e.to_string(), Vec::new()));
    }
    let claim = ctx
        .env
        .bundle_names
        .claim(&bundles, &ctx.env.bundle_base(&job.name, ctx.started_at));
    let mut specs = match collect_specs(job, ctx, &state) {
        Ok(specs) => specs,
        Err(e) => {
            let error = format!("cannot write the rendered spec for the CLI: {e}");
            return Err((error, Vec::new()));
        }
    };
    // An inline spec is handed to the CLI as a file of its own (JSON is YAML).
    if job.document.spec.collect.support_bundle.is_some() {
        match write_inline_spec(job, ctx, &state) {
            Ok(path) => specs.push(path),
            Err(e) => {
                let error = format!("cannot write the inline spec for the CLI: {e}");
                return Err((error, Vec::new()));
            }
        }
    }
    let request = Request {
        binary,
        specs,
        namespace: job.document.spec.collect.namespaces.first().cloned(),
        since: job.document.spec.collect.since.map(|d| d.0),
        redact: job.document.spec.redact.enabled,
        redactors: job
            .spec_files
            .iter()
            .filter(|f| f.role == SpecRole::Redact)
            .map(|f| f.path.clone())
            .collect(),
        output: bundles.join(&claim.top),
        timeout: job.document.spec.timeout.0,
        limits,
    };
    Ok((request, claim))
}

/// The CLI's spec files: each `collect.specs` file, or for a v1beta3 spec rendered with the
/// job's values, that rendering (the CLI would read the templates unrendered), written into the
/// run's staging directory, which goes when the CLI ends.
fn collect_specs(
    job: &Job,
    ctx: &RunContext,
    state: &StateDir,
) -> Result<Vec<std::path::PathBuf>, crate::state::StateError> {
    let dir = staging_dir(&ctx.env.state_dir, &job.name, &ctx.run_id);
    let mut specs = Vec::new();
    for (i, f) in (job.spec_files.iter())
        .filter(|f| f.role == SpecRole::Collect)
        .enumerate()
    {
        let Some(text) = &f.rendered else {
            specs.push(f.path.clone());
            continue;
        };
        let name = f.path.file_name().unwrap_or_default().to_string_lossy();
        let path = dir.join(format!("rendered-{i}-{name}"));
        state.create_dir_all(&dir)?;
        let mut file = state.create(&path, Create::Truncate)?;
        file.write_all(text.as_str().as_bytes()).map_err(|source| {
            crate::state::StateError::Io {
                path: path.clone(),
                source,
            }
        })?;
        specs.push(path);
    }
    Ok(specs)
}

/// Writes the job's inline `supportBundle` spec into the run's staging, for the CLI.
fn write_inline_spec(
    job: &Job,
    ctx: &RunContext,
    state: &StateDir,
) -> Result<std::path::PathBuf, crate::state::StateError> {
    let dir = staging_dir(&ctx.env.state_dir, &job.name, &ctx.run_id);
    let path = dir.join("inline-spec.yaml");
    let doc = serde_json::json!({
        "apiVersion": "troubleshoot.sh/v1beta2",
        "kind": "SupportBundle",
        "metadata": {"name": job.name},
        "spec": job.document.spec.collect.support_bundle,
    });
    state.create_dir_all(&dir)?;
    let mut file = state.create(&path, Create::Truncate)?;
    file.write_all(doc.to_string().as_bytes())
        .map_err(|source| crate::state::StateError::Io {
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

/// The outcome of a run cancelled while the CLI ran.
fn cancelled(
    job: &Job,
    cancel: &Cancel,
    took: Duration,
    limits: Option<serde_json::Value>,
) -> Outcome {
    let (status, reason) = match cancel.reason() {
        Some(CancelReason::Timeout) => (
            RunStatus::TimedOut,
            format!(
                "the run exceeded its timeout of {}",
                job.document.spec.timeout
            ),
        ),
        _ => (
            RunStatus::Interrupted,
            "the run was interrupted".to_string(),
        ),
    };
    Outcome {
        status,
        reason: Some(reason.clone()),
        phases: vec![phase("collect", PhaseStatus::Cancelled, took, Some(reason))],
        collectors: Vec::new(),
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

/// The CLI's archive as a bundle record, hashed on a blocking thread (it can be gigabytes).
async fn bundle_of(response: &external::Response) -> Option<BundleRecord> {
    let path = response.archive.clone()?;
    let partial = response.exit_code != Some(0);
    tokio::task::spawn_blocking(move || {
        let (sha256, size) = crate::digest::sha256_file(&path).ok()?;
        Some(BundleRecord {
            path,
            size,
            sha256,
            partial,
            pruned_at: None,
            pruned_by: None,
        })
    })
    .await
    .ok()
    .flatten()
}

/// What went wrong with the CLI, if anything.
fn cli_error(job: &Job, response: &external::Response) -> Option<String> {
    match (response.exit_code, response.timed_out) {
        (_, true) => Some(format!(
            "the troubleshoot CLI did not finish within {}",
            job.document.spec.timeout
        )),
        (Some(0), false) => None,
        (code, false) => Some(format!(
            "the troubleshoot CLI exited with {}: {}",
            code.map_or_else(|| "a signal".to_string(), |c| c.to_string()),
            if response.stderr_tail.is_empty() {
                "(no stderr)".to_string()
            } else {
                response.stderr_tail.clone()
            }
        )),
    }
}

/// The phases of a run through the CLI, up to the archive (they end together).
fn phases(
    took: Duration,
    cli_error: &Option<String>,
    secrets_error: &Option<String>,
    secrets_report: &Option<serde_json::Value>,
    bundle: &Option<BundleRecord>,
) -> Vec<crate::state::records::PhaseRecord> {
    let phase_status = if cli_error.is_some() {
        PhaseStatus::Failed
    } else {
        PhaseStatus::Succeeded
    };
    let cli = |name: &str, status| {
        let note = Some("done by the troubleshoot CLI".to_string());
        phase(name, status, Duration::ZERO, note)
    };
    vec![
        phase("collect", phase_status, took, cli_error.clone()),
        match (secrets_error, secrets_report) {
            (Some(e), _) => phase(
                "redact",
                PhaseStatus::Failed,
                Duration::ZERO,
                Some(format!(
                    "removing the agent's secrets from the CLI's archive failed, so it was deleted: {e}"
                )),
            ),
            (None, Some(_)) => phase(
                "redact",
                PhaseStatus::Succeeded,
                Duration::ZERO,
                Some(
                    "done by the troubleshoot CLI; the agent removed the secrets it resolved"
                        .into(),
                ),
            ),
            (None, None) => cli("redact", PhaseStatus::Skipped),
        },
        cli("analyze", PhaseStatus::Skipped),
        phase(
            "archive",
            if bundle.is_some() {
                PhaseStatus::Succeeded
            } else {
                PhaseStatus::Failed
            },
            Duration::ZERO,
            bundle
                .is_none()
                .then(|| "the troubleshoot CLI wrote no archive".to_string()),
        ),
    ]
}

/// The run's status and reason. The CLI's own kill at the job timeout and the run's timeout are
/// the same deadline; whichever fires first, the run timed out.
fn status(
    cli_error: &Option<String>,
    bundle: &Option<BundleRecord>,
    timed_out: bool,
) -> (RunStatus, String) {
    match (cli_error, bundle) {
        (Some(e), _) if timed_out => (RunStatus::TimedOut, e.clone()),
        (None, Some(_)) => (
            RunStatus::Succeeded,
            "collected by the troubleshoot CLI".to_string(),
        ),
        (None, None) => (
            RunStatus::Failed,
            "the troubleshoot CLI reported success but wrote no archive".to_string(),
        ),
        (Some(e), _) => (RunStatus::Failed, e.clone()),
    }
}

/// Removes the secrets the agent resolved for `job` from the CLI's `archive`, in place: the CLI
/// knows nothing of them, and a collector of its spec may print one. The archive is moved into a
/// private directory of its own for the tree redaction (which rewrites archives it finds) and
/// back. `None` when the job has no secret.
async fn remove_secrets(
    job: &Job,
    ctx: &RunContext,
    archive: &std::path::Path,
) -> Result<Option<serde_json::Value>, PhaseError> {
    if super::secrets::resolve(job).values.is_empty() {
        return Ok(None);
    }
    let dir = staging_dir(&ctx.env.state_dir, &job.name, &ctx.run_id).with_extension("secrets");
    let (job, archive) = (job.clone(), archive.to_path_buf());
    let joined = tokio::task::spawn_blocking(move || {
        crate::state::ensure_private_dir(&dir)?;
        let name = archive.file_name().ok_or(PhaseError::NoFileName)?;
        let inside = dir.join(name);
        std::fs::rename(&archive, &inside)?;
        let report = super::redact::redact_secrets_only(&job, &dir);
        let back = std::fs::rename(&inside, &archive);
        let _ = std::fs::remove_dir_all(&dir);
        back?;
        report
    })
    .await;
    joined.unwrap_or_else(|e| Err(PhaseError::task("redaction")(e)))
}
