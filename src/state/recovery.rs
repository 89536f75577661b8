//! Start-up recovery after a crash or `kill -9`: no record stays `running`, no temp file stays.

use super::records::{self, RunRecord, RunStatus};
use super::{EntryKind, StateDir, StateError};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// What recovery found and did.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Runs that were in progress when the previous agent died, now `interrupted`: (job, run id).
    pub interrupted: Vec<(String, String)>,
    /// Temp files removed.
    pub temps_removed: usize,
    /// Records that could not be read, renamed with a `.corrupt` suffix.
    pub corrupt: Vec<PathBuf>,
    /// Jobs whose records could not be listed or updated: one job's damaged directory must not
    /// keep the agent (and every other job) from starting; its record writes fail visibly later.
    pub problems: Vec<StateError>,
}

/// Marks `running` records `interrupted` (partial bundles stay where they are), removes temp
/// files left by interrupted atomic writes, and sets unreadable records aside.
pub fn recover(state_dir: &Path, now: DateTime<Utc>) -> Result<Recovery, StateError> {
    let mut out = Recovery::default();
    let dir = StateDir::open(state_dir)?;
    out.temps_removed += remove_temps(&dir, state_dir);
    // The upload queue's entries are written atomically too (a kill mid-write leaves a temp).
    out.temps_removed += remove_temps(&dir, &state_dir.join("uploads"));
    let jobs_dir = state_dir.join("jobs");
    let entries = match dir.read_dir(&jobs_dir) {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return Ok(out),
        Err(e) => return Err(e),
    };
    for job_entry in entries {
        let job_path = job_entry.path;
        let Some(job) = job_entry.name.to_str().map(str::to_string) else {
            continue;
        };
        if job_entry.kind == EntryKind::Symlink {
            out.problems.push(StateError::Symlink { path: job_path });
            continue;
        }
        out.temps_removed += remove_temps(&dir, &job_path.join("bundles"));
        // Record writes hold the job's lock: under it, every temp file in runs/ is a leftover.
        match records::while_locked(&dir, &job, || remove_temps(&dir, &job_path.join("runs"))) {
            Ok(removed) => out.temps_removed += removed,
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                out.problems.push(e);
                continue;
            }
        }
        let paths = match records::record_paths_in(&dir, &job) {
            Ok(p) => p,
            Err(e) => {
                out.problems.push(e);
                continue;
            }
        };
        for path in paths {
            match records::read_record_in(&dir, &path) {
                Ok(record) if record.status == RunStatus::Running => {
                    match records::update(state_dir, &job, &record.run_id, |r| {
                        mark_interrupted(r, now)
                    }) {
                        Ok(true) => out.interrupted.push((job.clone(), record.run_id.into())),
                        Ok(false) => {}
                        Err(e) => out.problems.push(e),
                    }
                }
                Ok(_) => {}
                Err(_) => {
                    if let Some(p) = dir.set_aside(&path) {
                        out.corrupt.push(p);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Marks a record that is still `running` (as read under the job's lock) `interrupted`; whether
/// it did.
fn mark_interrupted(record: &mut RunRecord, now: DateTime<Utc>) -> bool {
    if record.status != RunStatus::Running {
        return false;
    }
    record.status = RunStatus::Interrupted;
    record.ended_at = Some(now);
    record.reason = Some(
        "the agent stopped while the run was in progress (crash or kill); partial results are kept"
            .into(),
    );
    true
}

/// Removes `.<name>.tmp-<pid>` files (atomic writes that never got renamed) in `dir`.
fn remove_temps(state: &StateDir, dir: &Path) -> usize {
    let Ok(entries) = state.read_dir(dir) else {
        return 0;
    };
    entries
        .into_iter()
        .filter(|e| {
            e.name
                .to_str()
                .is_some_and(|n| n.starts_with('.') && n.contains(".tmp-"))
        })
        .filter(|e| state.remove_file(&e.path).is_ok())
        .count()
}
