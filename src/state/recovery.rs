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
        // `changes/` holds each run's fingerprint and changes.json, written atomically without the
        // job's lock; no run is going yet, so a temp file there is a crash's leftover.
        out.temps_removed += remove_atomic_temps(&dir, &records::changes_dir(state_dir, &job));
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

/// Removes the regular files in `dir` named as [`super::atomic`] names its temp files (see
/// [`super::atomic::is_temp_name`]); anything else, a symlink included, stays. A `dir` that is
/// a symlink is not listed (the state directory handle refuses it).
fn remove_atomic_temps(state: &StateDir, dir: &Path) -> usize {
    let Ok(entries) = state.read_dir(dir) else {
        return 0;
    };
    entries
        .into_iter()
        .filter(|e| e.kind == EntryKind::File)
        .filter(|e| e.name.to_str().is_some_and(super::atomic::is_temp_name))
        .filter(|e| state.remove_file(&e.path).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_the_atomic_writers_and_nothing_else() {
        for name in [".r1.json.tmp-12-0", ".r1.fingerprint.json.tmp-1-42"] {
            assert!(super::super::atomic::is_temp_name(name), "{name}");
        }
        for name in [
            "r1.json",
            "r1.json.tmp-12-0",
            "..tmp-1-2",
            ".r1.json.tmp-12",
            ".r1.json.tmp-x-1",
            ".r1.json.tmp-1-",
            ".notes.tmp-draft",
        ] {
            assert!(!super::super::atomic::is_temp_name(name), "{name}");
        }
    }

    #[test]
    fn recovery_removes_temps_in_changes_but_keeps_other_files_and_symlinks() {
        let state = tempfile::tempdir().expect("tempdir");
        let changes = records::changes_dir(state.path(), "j");
        std::fs::create_dir_all(&changes).expect("mkdir");
        let outside = tempfile::tempdir().expect("tempdir");
        let target = outside.path().join(".keep.json.tmp-1-1");
        std::fs::write(&target, "outside").expect("write");
        std::fs::write(changes.join(".r1.json.tmp-7-3"), "{").expect("write");
        std::fs::write(changes.join("r0.json"), "{}").expect("write");
        std::fs::write(changes.join(".notes.tmp-draft"), "mine").expect("write");
        std::os::unix::fs::symlink(&target, changes.join(".r2.json.tmp-7-4")).expect("symlink");
        let found = recover(state.path(), Utc::now()).expect("recover");
        assert_eq!(found.temps_removed, 1, "{found:?}");
        let mut left: Vec<String> = std::fs::read_dir(&changes)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".notes.tmp-draft", ".r2.json.tmp-7-4", "r0.json"]);
        assert_eq!(std::fs::read_to_string(&target).expect("kept"), "outside");
    }
}
