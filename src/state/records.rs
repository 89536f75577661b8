//! Run records: one JSON file per run under `jobs/<job>/runs/<run-id>.json`, written atomically.
//!
//! This module is their one writer: every change goes through [`update`] (or [`upsert`],
//! [`create`], [`create_all`], [`remove`]), which holds the job's `records.lock` across the read
//! and the write, so changes made at once by the executor, the upload queue, retention,
//! notifications and recovery (in one process or two) never lose each other.
//!
//! Run ids sort by time: scheduled runs are named after their nominal fire instant
//! (`20250309T070000Z`), so the newest record of a job is the last name in the directory.

use super::{Create, RunId, StateDir, StateError};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

pub use super::run_record::*;

/// Files of a run kept in `jobs/<job>/changes/` (not in `runs/`, so that nothing that lists
/// records meets them), removed with the run's record: `<run-id><suffix>`.
pub const COMPANION_SUFFIXES: [&str; 2] = [".fingerprint.json", ".json"];

/// `<state>/jobs/<job>/changes`.
pub fn changes_dir(state_dir: &Path, job: &str) -> PathBuf {
    job_dir(state_dir, job).join("changes")
}

/// `<state>/jobs/<job>/changes/<run-id><suffix>`, a [`COMPANION_SUFFIXES`] file of the run.
pub fn companion_path(state_dir: &Path, job: &str, run_id: &str, suffix: &str) -> PathBuf {
    changes_dir(state_dir, job).join(format!("{run_id}{suffix}"))
}

/// Current record format version.
pub const RECORD_VERSION: u32 = 1;

/// `<state>/jobs/<job>`.
pub fn job_dir(state_dir: &Path, job: &str) -> PathBuf {
    state_dir.join("jobs").join(job)
}

/// `<state>/jobs/<job>/runs`.
pub fn runs_dir(state_dir: &Path, job: &str) -> PathBuf {
    job_dir(state_dir, job).join("runs")
}

/// `jobs/<job>/records.lock`: the lock every change of the job's run records takes.
pub const RECORDS_LOCK: &str = "records.lock";

/// A job's records held for one change: an exclusive `flock(2)` on the job's
/// [`RECORDS_LOCK`], released when dropped (or when the process dies).
///
/// Why a lock file per job: a record is changed by the run's executor, its upload phase, the
/// upload queue, retention, notifications and crash recovery, and by two processes (the daemon
/// and a foreground `trigger`); each reads the record, changes its own fields and writes the
/// whole file back, so without one lock around the read and the write a change could overwrite
/// another's (a prune note lost under an upload result). `flock` locks belong to an open file
/// description, so it excludes threads of one process (each change opens the file anew) as
/// well as other processes. One file per job rather than per run: nothing has to remove lock
/// files as records are pruned (the file goes with the job's directory), and changes of one
/// job's records are few and short (a read and an atomic write).
struct JobLock {
    _file: File,
}

impl JobLock {
    /// Waits for the lock of `job`. The file is opened through the state directory handle (no
    /// symlink followed, created 0600). Without `create`, a job directory that does not exist
    /// is a `NotFound` error (nothing of the job to change); with it the directories are made.
    fn take(dir: &StateDir, job: &str, create: bool) -> Result<JobLock, StateError> {
        if create {
            dir.create_dir_all(&runs_dir(dir.root(), job))?;
        }
        let path = job_dir(dir.root(), job).join(RECORDS_LOCK);
        let file = dir.create(&path, Create::Keep)?;
        loop {
            match file.lock() {
                Ok(()) => return Ok(JobLock { _file: file }),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => return Err(StateError::Io { path, source }),
            }
        }
    }
}

/// `<state>/jobs/<job>/runs/<run-id>.json`.
pub fn record_path(state_dir: &Path, job: &str, run_id: &str) -> PathBuf {
    runs_dir(state_dir, job).join(format!("{run_id}.json"))
}

/// Changes one run's existing record ([`upsert`] when it may not exist). Under the job's lock
/// (see [`JobLock`]) it reads the record as it is on disk, applies `change`, and writes it back
/// atomically (temp file, fsync, rename) if `change` changed it; so concurrent changes, from
/// threads or processes, each see the others' fields. A missing record is a `NotFound` error
/// ([`StateError::is_not_found`]). Blocking: async callers use `spawn_blocking`.
///
/// `change` must not touch run records itself (the lock is not reentrant), and must not change
/// the record's job or run id.
pub fn update<R>(
    state_dir: &Path,
    job: &str,
    run_id: &str,
    change: impl FnOnce(&mut RunRecord) -> R,
) -> Result<R, StateError> {
    let dir = StateDir::open(state_dir)?;
    let _lock = JobLock::take(&dir, job, false)?;
    let path = record_path(dir.root(), job, run_id);
    let mut record = read_record_in(&dir, &path)?;
    let before = record.clone();
    let out = change(&mut record);
    if record != before {
        write_locked(&dir, job, run_id, &record)?;
    }
    Ok(out)
}

/// [`update`] for a record that may not exist yet: `change` gets the record on disk (`None`
/// when there is none, or it is corrupt: that file is set aside as `.corrupt` first) and
/// returns the record to write. Creating a record goes through here ([`create`]).
pub fn upsert(
    state_dir: &Path,
    job: &str,
    run_id: &str,
    change: impl FnOnce(Option<RunRecord>) -> RunRecord,
) -> Result<PathBuf, StateError> {
    let dir = StateDir::open(state_dir)?;
    let _lock = JobLock::take(&dir, job, true)?;
    let path = record_path(dir.root(), job, run_id);
    let current = match read_record_in(&dir, &path) {
        Ok(record) => Some(record),
        Err(e) if e.is_not_found() => None,
        Err(e @ StateError::Corrupt { .. }) => {
            tracing::warn!("{e}; it is set aside and replaced");
            dir.set_aside(&path);
            None
        }
        Err(e) => return Err(e),
    };
    let record = change(current);
    write_locked(&dir, job, run_id, &record)?;
    Ok(path)
}

/// Writes a whole record, replacing any record of the same run: [`upsert`] ignoring what is
/// on disk. For a run's first record (and the records of runs that never start).
pub fn create(state_dir: &Path, record: &RunRecord) -> Result<PathBuf, StateError> {
    upsert(state_dir, &record.job, &record.run_id, |_| record.clone())
}

/// How many jobs' locks [`create_all`] holds at once: each is an open file, and the daemon's
/// file limit is often the default 1,024.
const BATCH_LOCKS: usize = 256;

/// [`create`] for many records as one batch (see [`StateDir::write_atomic_all`]): a burst of
/// runs starting at once costs two file system syncs per [`BATCH_LOCKS`] records, not two per
/// run. Each record is written under its job's lock, as every record write is; the locks are
/// taken in job name order, so two batches cannot wait for each other. One result per record,
/// in order; every record written is durable when this returns.
pub fn create_all(state_dir: &Path, records: &[RunRecord]) -> Vec<Result<PathBuf, StateError>> {
    let dir = match StateDir::open(state_dir) {
        Ok(dir) => dir,
        Err(e) => {
            return records
                .iter()
                .map(|_| Err(repeat_error(&e, state_dir)))
                .collect();
        }
    };
    let mut results = Vec::with_capacity(records.len());
    for chunk in records.chunks(BATCH_LOCKS) {
        results.extend(create_batch(&dir, chunk));
    }
    results
}

/// `e` once more, for each further record one failure stops (errors do not clone): an I/O
/// error keeps its path and kind, so `is_not_found` and friends still answer; any other error
/// becomes an I/O error at `path` with its message.
fn repeat_error(e: &StateError, path: &Path) -> StateError {
    match e {
        StateError::Io { path, source } => StateError::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        other => StateError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(other.to_string()),
        },
    }
}

fn create_batch(dir: &StateDir, records: &[RunRecord]) -> Vec<Result<PathBuf, StateError>> {
    let mut locks: BTreeMap<&str, Result<JobLock, StateError>> = BTreeMap::new();
    for record in records {
        let job = record.job.as_str();
        if !locks.contains_key(job) {
            locks.insert(job, JobLock::take(dir, job, true));
        }
    }
    let mut results: Vec<Result<PathBuf, StateError>> = Vec::with_capacity(records.len());
    let mut files = Vec::with_capacity(records.len());
    for record in records {
        let prepared = match &locks[record.job.as_str()] {
            Ok(_) => record_file(dir, record),
            Err(e) => Err(repeat_error(
                e,
                &job_dir(dir.root(), &record.job).join(RECORDS_LOCK),
            )),
        };
        match prepared {
            Ok((path, bytes)) => {
                results.push(Ok(path.clone()));
                files.push((path, bytes));
            }
            Err(e) => results.push(Err(e)),
        }
    }
    let mut written = dir.write_atomic_all(&files).into_iter();
    for result in results.iter_mut().filter(|r| r.is_ok()) {
        if let Some(Err(e)) = written.next() {
            *result = Err(e);
        }
    }
    results
}

/// Removes run records of `job` (history limits), under the job's lock so that no change in
/// flight writes a removed record back. A record `keep` says to keep as it is now (read under
/// the lock: it may have changed since it was chosen), or that cannot be read, stays. Returns
/// the paths removed; a record already gone is skipped.
pub fn remove(
    state_dir: &Path,
    job: &str,
    run_ids: &[String],
    keep: impl Fn(&StateDir, &RunRecord) -> bool,
) -> Result<Vec<PathBuf>, StateError> {
    let dir = StateDir::open(state_dir)?;
    let _lock = match JobLock::take(&dir, job, false) {
        Ok(lock) => lock,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut removed = Vec::new();
    for run_id in run_ids {
        let path = record_path(dir.root(), job, run_id);
        match read_record_in(&dir, &path) {
            Ok(record) if !keep(&dir, &record) => {}
            _ => continue,
        }
        match dir.remove_file(&path) {
            Ok(()) => removed.push(path),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        for suffix in COMPANION_SUFFIXES {
            match dir.remove_file(&companion_path(dir.root(), job, run_id, suffix)) {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => tracing::warn!(job, run = %run_id, "{e}; left behind"),
            }
        }
    }
    Ok(removed)
}

/// Runs `f` while holding `job`'s record lock, so that no record of the job is being written
/// meanwhile: start-up recovery removes the temp files that writes cut off by a crash left in
/// `runs/`, and must never take one a live write is about to rename.
pub(super) fn while_locked<R>(
    dir: &StateDir,
    job: &str,
    f: impl FnOnce() -> R,
) -> Result<R, StateError> {
    let _lock = JobLock::take(dir, job, false)?;
    Ok(f())
}

/// Writes a record atomically; the caller holds the job's lock.
fn write_locked(
    dir: &StateDir,
    job: &str,
    run_id: &str,
    record: &RunRecord,
) -> Result<(), StateError> {
    if record.job != job || record.run_id != run_id {
        // The file is named by (job, run id) and guarded by the job's lock: a record whose
        // identity changed would be written elsewhere, unguarded.
        return Err(StateError::Corrupt {
            path: record_path(dir.root(), job, run_id),
            message: format!(
                "a change renamed the record to {}/{}; records keep their job and run id",
                record.job, record.run_id
            ),
        });
    }
    let (path, bytes) = record_file(dir, record)?;
    dir.write_atomic(&path, &bytes)
}

/// Where a record goes (its directory created) and its bytes.
fn record_file(dir: &StateDir, record: &RunRecord) -> Result<(PathBuf, Vec<u8>), StateError> {
    let runs = runs_dir(dir.root(), &record.job);
    dir.create_dir_all(&runs)?;
    let path = record_path(dir.root(), &record.job, &record.run_id);
    let mut bytes = serde_json::to_vec_pretty(record).map_err(|e| StateError::Corrupt {
        path: path.clone(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok((path, bytes))
}

/// The state directory of a record path (`<state>/jobs/<job>/runs/<run-id>.json`).
fn state_dir_of(path: &Path) -> Option<&Path> {
    let runs = path.parent()?;
    let jobs = runs.parent()?.parent()?;
    (runs.file_name()? == "runs" && jobs.file_name()? == "jobs").then_some(())?;
    jobs.parent()
}

/// Reads one record, from a path [`runs_dir`] gave; no symlink inside the state directory is
/// followed.
pub fn read_record(path: &Path) -> Result<RunRecord, StateError> {
    let root = state_dir_of(path).ok_or_else(|| StateError::Outside {
        path: path.to_path_buf(),
        root: PathBuf::from("<state>/jobs/<job>/runs"),
    })?;
    read_record_in(&StateDir::open(root)?, path)
}

/// [`read_record`] through an open state directory.
pub fn read_record_in(dir: &StateDir, path: &Path) -> Result<RunRecord, StateError> {
    let bytes = dir.read(path)?;
    serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Record files of a job, oldest first (by run id); temp files are not listed.
pub fn record_paths(state_dir: &Path, job: &str) -> Result<Vec<PathBuf>, StateError> {
    match open_existing(state_dir)? {
        Some(dir) => record_paths_in(&dir, job),
        None => Ok(Vec::new()),
    }
}

/// The state directory, or `None` when it does not exist yet (nothing has run).
fn open_existing(state_dir: &Path) -> Result<Option<StateDir>, StateError> {
    match StateDir::open(state_dir) {
        Ok(dir) => Ok(Some(dir)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// [`record_paths`] through an open state directory. A symlink named like a record is listed
/// (reading it fails, naming it), so it is reported rather than silently skipped.
pub fn record_paths_in(dir: &StateDir, job: &str) -> Result<Vec<PathBuf>, StateError> {
    let entries = match dir.read_dir(&runs_dir(dir.root(), job)) {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut paths: Vec<PathBuf> = entries
        .into_iter()
        .filter(|e| e.kind != super::EntryKind::Dir)
        .map(|e| e.path)
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    paths.sort_by_key(|p| run_sort_key(p));
    Ok(paths)
}

// Manual run ids start with "manual-"; sort everything by the timestamp inside the name.
fn run_sort_key(path: &Path) -> String {
    let name = path
        .file_stem()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    name.strip_prefix("manual-").unwrap_or(name).to_string()
}

/// The newest `limit` records of a job, newest first; corrupt records are set aside with a
/// `.corrupt` suffix and reported in the second list, never fatal.
pub fn history(
    state_dir: &Path,
    job: &str,
    limit: usize,
) -> Result<(Vec<RunRecord>, Vec<StateError>), StateError> {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let Some(dir) = open_existing(state_dir)? else {
        return Ok((records, problems));
    };
    for path in record_paths_in(&dir, job)?.iter().rev() {
        if records.len() >= limit {
            break;
        }
        match read_record_in(&dir, path) {
            Ok(r) => records.push(r),
            Err(e) => {
                dir.set_aside(path);
                problems.push(e);
            }
        }
    }
    Ok((records, problems))
}

/// The latest nominal fire instant recorded for a job (scheduled, catch-up, retry or missed),
/// from which the next fire is computed after a restart.
pub fn last_fire(state_dir: &Path, job: &str) -> Result<Option<DateTime<Utc>>, StateError> {
    Ok(record_paths(state_dir, job)?
        .iter()
        .filter_map(|p| {
            p.file_stem()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<RunId>().ok())
                .and_then(|id| id.instant())
        })
        .max())
}

/// The unit tests' record: a scheduled run of `job` on host `h`, started now, nothing
/// collected; a test sets what it needs over it (`RunRecord { .., ..RunRecord::for_test(..) }`).
#[cfg(test)]
impl RunRecord {
    pub(crate) fn for_test(job: &str, run_id: &str, status: RunStatus) -> RunRecord {
        RunRecord {
            version: RECORD_VERSION,
            run_id: run_id.into(),
            job: job.into(),
            spec_hash: "h".into(),
            trigger: Trigger::Schedule,
            alert: None,
            attempt: 1,
            first_trigger: None,
            scheduled_at: RunId::from(run_id).instant(),
            started_at: Utc::now(),
            ended_at: None,
            status,
            reason: None,
            host: "h".into(),
            phases: Vec::new(),
            collectors: Vec::new(),
            bundle: None,
            redaction: None,
            analysis: None,
            limits: None,
            uploads: Vec::new(),
            missed: None,
            notifications: Vec::new(),
            cluster_specs: Vec::new(),
            spec_uris: Vec::new(),
            changes: None,
            parent: None,
        }
    }
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
