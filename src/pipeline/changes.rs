//! What changed since the job's previous completed run: the staged bundle's fingerprint is kept
//! beside the run records (`jobs/<job>/changes/<run-id>.fingerprint.json`), compared with the
//! newest fingerprint of a completed earlier run (so the earlier bundle may be pruned or uploaded
//! only), and the result written there too (`changes/<run-id>.json`, never into the bundle) with
//! its summary in the record. Every file goes through the state directory handle (0600, atomic, no symlink
//! followed). A failure here is logged and costs the comparison, never the run.

use super::RunContext;
use crate::changes::{self, Changes, Fingerprint, Summary};
use crate::state::records::{self, COMPANION_SUFFIXES, RunStatus};
use crate::state::{StateDir, StateError};
use serde::Serialize;
use std::path::Path;

/// `<run-id>.fingerprint.json`.
const FINGERPRINT: &str = COMPANION_SUFFIXES[0];
/// `<run-id>.json`: the run's `changes.json`.
const CHANGES: &str = COMPANION_SUFFIXES[1];

/// The bundle a run made, as the comparison reads it.
#[derive(Clone, Debug)]
pub(crate) enum Made {
    /// The builtin engine's staged tree (its root), before it is archived.
    Staged(std::path::PathBuf),
    /// An archive in the job's `bundles/` (the troubleshoot CLI's), opened without following a
    /// symlink.
    Archive(std::path::PathBuf),
}

/// `changes.json`: the summary, the run compared with, and every change.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChangesFile<'a> {
    /// The run compared with.
    since: &'a str,
    summary: &'a Summary,
    #[serde(flatten)]
    changes: &'a Changes,
}

/// Fingerprints the bundle the run `made`, compares it with the previous completed run of the
/// job and records the result; `None` for a job's first comparable run or on failure.
pub(crate) async fn changes(job: &str, made: Made, ctx: &RunContext) -> Option<Summary> {
    let (state_dir, job, run_id) = (
        ctx.env.state_dir.clone(),
        job.to_string(),
        ctx.run_id.clone(),
    );
    let joined =
        tokio::task::spawn_blocking(move || compute(&state_dir, &job, &run_id, &made)).await;
    match joined {
        Ok(Ok(summary)) => summary,
        Ok(Err(e)) => {
            tracing::warn!(run = %ctx.run_id, "what changed since the last run is unknown: {e}");
            None
        }
        Err(e) => {
            tracing::warn!(run = %ctx.run_id, "the comparison task failed: {e}");
            None
        }
    }
}

/// Why a run's changes are unknown (logged; the run's status does not depend on it).
#[derive(Debug, thiserror::Error)]
enum CompareError {
    /// The staged bundle could not be read.
    #[error("cannot fingerprint the bundle: {0}")]
    Fingerprint(#[from] changes::FingerprintError),
    /// The state directory could not be read or written.
    #[error(transparent)]
    State(#[from] StateError),
}

fn compute(
    state_dir: &Path,
    job: &str,
    run_id: &str,
    made: &Made,
) -> Result<Option<Summary>, CompareError> {
    let dir = StateDir::open(state_dir)?;
    let new = match made {
        Made::Staged(root) => Fingerprint::of_root(root)?,
        Made::Archive(path) => Fingerprint::of_tar_gz_file(&mut dir.open_read(path)?, path)?,
    };
    dir.create_dir_all(&records::changes_dir(state_dir, job))?;
    dir.write_atomic(
        &records::companion_path(state_dir, job, run_id, FINGERPRINT),
        &json(&new),
    )?;
    let Some((since, old)) = previous(&dir, job, run_id)? else {
        return Ok(None);
    };
    let found = changes::compare(&old, &new);
    let summary = found.summary(Some(since.clone()));
    let file = ChangesFile {
        since: &since,
        summary: &summary,
        changes: &found,
    };
    dir.write_atomic(
        &records::companion_path(state_dir, job, run_id, CHANGES),
        &json(&file),
    )?;
    let recorded = summary.clone();
    records::update(state_dir, job, run_id, move |r| r.changes = Some(recorded))?;
    Ok(Some(summary))
}

/// Pretty JSON with a final newline.
fn json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The newest earlier run of `job` that completed (its bundle whole: succeeded, succeeded with
/// errors, or failed only by its analysis) and left a fingerprint, with that fingerprint.
fn previous(
    dir: &StateDir,
    job: &str,
    run_id: &str,
) -> Result<Option<(String, Fingerprint)>, StateError> {
    for path in records::record_paths_in(dir, job)?.iter().rev() {
        let Ok(record) = records::read_record_in(dir, path) else {
            continue;
        };
        let completed = record.status.is_success() || record.status == RunStatus::AnalysisFailed;
        if record.run_id == run_id
            || !completed
            || record.bundle.as_ref().is_some_and(|b| b.partial)
        {
            continue;
        }
        let fp_path = records::companion_path(dir.root(), job, &record.run_id, FINGERPRINT);
        let Some(bytes) = dir.read_optional(&fp_path)? else {
            continue;
        };
        match serde_json::from_slice::<Fingerprint>(&bytes) {
            Ok(fp) => return Ok(Some((record.run_id.to_string(), fp))),
            Err(e) => tracing::warn!(path = %fp_path.display(), "unreadable fingerprint: {e}"),
        }
    }
    Ok(None)
}
