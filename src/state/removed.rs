//! A removed job's state: `jobs/<job>/` (bundles, records, token maps) stays for the
//! `removedJobGracePeriod` after the job left the jobs directory, then goes.
//!
//! The removal time is a marker file, `jobs/<job>/removed-at` (an RFC 3339 instant), written the
//! first time the agent sees the directory without a job, so the grace period survives
//! restarts; a job added back under the same name loses its marker and keeps its history. A
//! directory is never removed while an upload of the job is still queued: the queue reads its
//! bundle from there.

use super::records;
use super::{Create, StateDir, StateError};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The marker's file name inside `jobs/<job>/`.
pub const MARKER: &str = "removed-at";

/// What to do with the directory of a job that is no longer defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No marker yet: the job was removed now (write the marker).
    Mark,
    /// Within the grace period, which ends then.
    KeepUntil(DateTime<Utc>),
    /// The grace period is over but an upload is still queued: wait for it.
    WaitForUploads,
    /// Remove the directory.
    Remove,
}

/// When the grace period of a job removed at `removed_at` ends.
pub fn kept_until(removed_at: DateTime<Utc>, grace: Duration) -> DateTime<Utc> {
    removed_at + chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX)
}

/// The decision for a removed job's directory at `now`.
pub fn decide(
    removed_at: Option<DateTime<Utc>>,
    grace: Duration,
    now: DateTime<Utc>,
    uploads_pending: bool,
) -> Decision {
    let Some(at) = removed_at else {
        return Decision::Mark;
    };
    let until = kept_until(at, grace);
    if now < until {
        Decision::KeepUntil(until)
    } else if uploads_pending {
        Decision::WaitForUploads
    } else {
        Decision::Remove
    }
}

/// A job directory [`sweep`] removed or marked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Swept {
    /// Its job was found removed: the grace period starts; kept until then.
    Marked(String, DateTime<Utc>),
    /// Its grace period ended: the directory is gone.
    Removed(String, PathBuf),
    /// Its grace period ended but uploads are queued.
    Waiting(String),
}

fn marker(dir: &StateDir, job: &str) -> PathBuf {
    records::job_dir(dir.root(), job).join(MARKER)
}

/// The stored removal time of `job`, if it has a marker (an unreadable one counts as none and
/// is rewritten).
fn removed_at(dir: &StateDir, job: &str) -> Result<Option<DateTime<Utc>>, StateError> {
    let bytes = match dir.read_optional(&marker(dir, job))? {
        Some(bytes) => bytes,
        None => return Ok(None),
    };
    Ok(std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// Removes the marker of a job that is defined again (its history carries on).
pub fn unmark(state_dir: &Path, job: &str) -> Result<(), StateError> {
    let dir = StateDir::open(state_dir)?;
    match dir.remove_file(&marker(&dir, job)) {
        Err(e) if !e.is_not_found() => Err(e),
        _ => Ok(()),
    }
}

fn uploads_pending(dir: &StateDir, job: &str) -> Result<bool, StateError> {
    let prefix = format!("{job}__");
    match dir.read_dir(&dir.root().join("uploads")) {
        Ok(entries) => Ok(entries
            .iter()
            .any(|e| e.name.to_str().is_some_and(|n| n.starts_with(&prefix)))),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Looks at every `jobs/<job>/` whose job is not in `active`: marks it, leaves it, or removes it
/// (through the handle, never following a symlink) as [`decide`] says.
pub fn sweep(
    state_dir: &Path,
    active: &BTreeSet<String>,
    grace: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<Swept>, StateError> {
    let dir = StateDir::open(state_dir)?;
    let entries = match dir.read_dir(&dir.root().join("jobs")) {
        Ok(entries) => entries,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let Some(job) = entry.name.to_str() else {
            continue;
        };
        if entry.kind != super::EntryKind::Dir || active.contains(job) || job.starts_with('.') {
            continue;
        }
        let at = removed_at(&dir, job)?;
        let pending = at.is_some() && uploads_pending(&dir, job)?;
        match decide(at, grace, now, pending) {
            Decision::Mark => {
                let mut file = dir.create(&marker(&dir, job), Create::Truncate)?;
                file.write_all(now.to_rfc3339().as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|source| StateError::Io {
                        path: marker(&dir, job),
                        source,
                    })?;
                out.push(Swept::Marked(job.to_string(), kept_until(now, grace)));
            }
            Decision::KeepUntil(_) => {}
            Decision::WaitForUploads => out.push(Swept::Waiting(job.to_string())),
            Decision::Remove => {
                dir.remove_dir_all(&entry.path)?;
                out.push(Swept::Removed(job.to_string(), entry.path));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    const WEEK: Duration = Duration::from_secs(7 * 86400);

    #[test]
    fn the_grace_period_runs_from_the_marker() {
        let at = t("2030-01-01T00:00:00Z");
        assert_eq!(decide(None, WEEK, at, false), Decision::Mark);
        assert_eq!(
            decide(Some(at), WEEK, t("2030-01-07T23:59:59Z"), false),
            Decision::KeepUntil(t("2030-01-08T00:00:00Z"))
        );
        assert_eq!(
            decide(Some(at), WEEK, t("2030-01-08T00:00:00Z"), false),
            Decision::Remove
        );
        assert_eq!(
            decide(Some(at), WEEK, t("2030-02-01T00:00:00Z"), true),
            Decision::WaitForUploads
        );
    }

    #[test]
    fn sweep_marks_then_removes_and_leaves_active_jobs_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        for job in ["gone", "here"] {
            std::fs::create_dir_all(dir.path().join("jobs").join(job).join("runs")).expect("mkdir");
        }
        let active: BTreeSet<String> = ["here".to_string()].into();
        let at = t("2030-01-01T00:00:00Z");
        let swept = sweep(dir.path(), &active, WEEK, at).expect("sweep");
        assert_eq!(
            swept,
            [Swept::Marked("gone".into(), t("2030-01-08T00:00:00Z"))]
        );
        // A restart within the week changes nothing: the marker holds the removal time.
        assert!(
            sweep(dir.path(), &active, WEEK, t("2030-01-05T00:00:00Z"))
                .expect("sweep")
                .is_empty()
        );
        std::fs::create_dir_all(dir.path().join("uploads")).expect("uploads");
        let queued = dir.path().join("uploads/gone__20300101T000000Z__0.json");
        std::fs::write(&queued, "{}").expect("queue entry");
        let later = t("2030-01-09T00:00:00Z");
        assert_eq!(
            sweep(dir.path(), &active, WEEK, later).expect("sweep"),
            [Swept::Waiting("gone".into())]
        );
        std::fs::remove_file(&queued).expect("upload done");
        let swept = sweep(dir.path(), &active, WEEK, later).expect("sweep");
        assert_eq!(
            swept,
            [Swept::Removed(
                "gone".into(),
                dir.path().join("jobs").join("gone")
            )]
        );
        assert!(!dir.path().join("jobs/gone").exists());
        assert!(dir.path().join("jobs/here/runs").is_dir());
    }
}
