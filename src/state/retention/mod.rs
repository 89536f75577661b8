//! Bundle retention per job: which bundles go is decided in [`policy`] (restic-style keep rules,
//! `maxAge`, `maxTotalSize`); this module finds the bundles, removes the files and notes in each
//! removed bundle's run record when and by which rule.

mod policy;

pub use policy::{Candidate, Decision, Kept, Period, Policy, Prune, Removed, decide, select};

use super::records::{self, RunRecord};
use super::{EntryKind, StateDir, StateError};
use crate::state::records::UploadStatus;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// `<state>/jobs/<job>/bundles`: the only directory retention removes files from.
pub fn bundles_dir(state_dir: &Path, job: &str) -> PathBuf {
    records::job_dir(state_dir, job).join("bundles")
}

/// Whether `name` is one of `job`'s archive names: `<job>-[<node>-]<YYYY-MM-DDTHH_MM_SS>[-<n>].tar.gz`
/// (the `-<n>` tells apart runs that started in the same second; node mode adds the node's name).
pub fn is_bundle_name(job: &str, name: &str) -> bool {
    let Some(rest) = name
        .strip_prefix(job)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_suffix(".tar.gz"))
    else {
        return false;
    };
    if stamped(rest) {
        return true;
    }
    // Node mode: `<node>-` first, a name of `[A-Za-z0-9._-]` (a node name has no `_`, but one
    // reduced to a file name may).
    rest.char_indices()
        .filter(|(_, c)| *c == '-')
        .any(|(i, _)| {
            let node = &rest[..i];
            !node.is_empty()
                && node
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
                && stamped(&rest[i + 1..])
        })
}

/// Whether `rest` is `<YYYY-MM-DDTHH_MM_SS>[-<n>]`.
fn stamped(rest: &str) -> bool {
    let (stamp, counter) = match rest.get(..19) {
        Some(stamp) => (stamp, &rest[19..]),
        None => return false,
    };
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%dT%H_%M_%S").is_ok()
        && (counter.is_empty()
            || counter
                .strip_prefix('-')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
}

/// Checks that `path` is a regular file directly under some state directory's
/// `jobs/<job>/bundles/`, reached with no symlink inside that state directory: what an upload may
/// read (a queue entry naming any other file is refused, not sent).
pub fn check_bundle_file(path: &Path) -> Result<(), StateError> {
    let outside = || StateError::Outside {
        path: path.to_path_buf(),
        root: PathBuf::from("<state>/jobs/<job>/bundles"),
    };
    let bundles = path.parent().ok_or_else(outside)?;
    let jobs = bundles
        .parent()
        .and_then(Path::parent)
        .ok_or_else(outside)?;
    if bundles.file_name() != Some("bundles".as_ref()) || jobs.file_name() != Some("jobs".as_ref())
    {
        return Err(outside());
    }
    let root = jobs.parent().ok_or_else(outside)?;
    match StateDir::open(root)?.kind(path)? {
        Some(EntryKind::File) => Ok(()),
        Some(EntryKind::Symlink) => Err(StateError::Symlink {
            path: path.to_path_buf(),
        }),
        Some(_) => Err(StateError::Corrupt {
            path: path.to_path_buf(),
            message: "not a regular file".into(),
        }),
        None => Err(StateError::Io {
            path: path.to_path_buf(),
            source: std::io::ErrorKind::NotFound.into(),
        }),
    }
}

/// Whether retention may remove the bundle file a record names: a regular file directly under
/// the job's own `bundles/`, named like the job's archives, reached with no symlink. Anything
/// else is logged and left alone.
fn removable(dir: &StateDir, job: &str, path: &Path) -> bool {
    let bundles = bundles_dir(dir.root(), job);
    let inside = path.parent().is_some_and(
        |parent| matches!((dir.rel(parent), dir.rel(&bundles)), (Ok(a), Ok(b)) if a == b),
    );
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| is_bundle_name(job, n));
    if !inside || !named {
        tracing::warn!(
            job,
            path = %path.display(),
            "retention: a run record names a bundle that is not one of this job's archives under {}; it is left alone",
            bundles.display()
        );
        return false;
    }
    match dir.kind(path) {
        Ok(Some(EntryKind::File)) => true,
        Ok(None) => false,
        Ok(Some(kind)) => {
            tracing::warn!(job, path = %path.display(), ?kind, "retention: the bundle is not a regular file; it is left alone");
            false
        }
        Err(e) => {
            tracing::warn!(job, "retention: {e}; it is left alone");
            false
        }
    }
}

/// The job's bundles on disk that retention may remove, with their run records (and the files
/// of prunes a crash cut off, removed on the way when `finish_prunes`).
fn scan(
    dir: &StateDir,
    job: &str,
    finish_prunes: bool,
) -> Result<Vec<(PathBuf, RunRecord)>, StateError> {
    let mut with_bundles: Vec<(PathBuf, RunRecord)> = Vec::new();
    for path in records::record_paths_in(dir, job)? {
        let Ok(record) = records::read_record_in(dir, &path) else {
            continue;
        };
        match &record.bundle {
            Some(b) if b.pruned_at.is_none() && removable(dir, job, &b.path) => {
                with_bundles.push((path, record));
            }
            // A prune cut off by a crash after its record was written: the file goes now (a
            // file still at that name is the pruned one: new bundles never take a taken name).
            Some(b) if finish_prunes && b.pruned_at.is_some() && removable(dir, job, &b.path) => {
                let _ = dir.remove_file(&b.path);
            }
            _ => {}
        }
    }
    Ok(with_bundles)
}

/// What retention sees of a record's bundle.
fn candidate(r: &RunRecord) -> Option<Candidate> {
    use records::RunStatus as S;
    let b = r.bundle.as_ref()?;
    Some(Candidate {
        path: b.path.clone(),
        size: b.size,
        created: r.started_at,
        upload_pending: r.uploads.iter().any(|u| u.status == UploadStatus::Pending),
        good: !b.partial
            && matches!(
                r.status,
                S::Succeeded | S::SucceededWithErrors | S::AnalysisFailed
            ),
    })
}

/// What the next prune of `job` would do at `now`, bundle by bundle, newest first; changes
/// nothing (`retention --dry-run`, `plan`).
pub fn preview(
    state_dir: &Path,
    job: &str,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Vec<Decision>, StateError> {
    let dir = StateDir::open(state_dir)?;
    let with_bundles = scan(&dir, job, false)?;
    let candidates = with_bundles
        .iter()
        .filter_map(|(_, r)| candidate(r))
        .collect();
    Ok(decide(candidates, policy, now))
}

/// Applies `policy` to `job`'s bundles: removes the files and notes it in their run records.
/// Only regular files directly under `<state>/jobs/<job>/bundles/` with the job's archive names
/// are removed, never through a symlink; a record naming any other path is logged, not acted on.
pub fn apply(
    state_dir: &Path,
    job: &str,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Vec<Prune>, StateError> {
    let dir = StateDir::open(state_dir)?;
    let with_bundles = scan(&dir, job, true)?;
    let candidates = with_bundles
        .iter()
        .filter_map(|(_, r)| candidate(r))
        .collect();
    let prunes = select(candidates, policy, now);
    for prune in &prunes {
        // The record first: a crash before the file goes leaves a record that says pruned and a
        // file the next pass removes, never a record naming a bundle that is gone.
        if let Some((_, record)) = with_bundles
            .iter()
            .find(|(_, r)| r.bundle.as_ref().is_some_and(|b| b.path == prune.path))
        {
            let noted = records::update(state_dir, job, &record.run_id, |r| {
                // As the record is now: only the bundle retention chose, and only once.
                if let Some(b) = r.bundle.as_mut().filter(|b| b.path == prune.path) {
                    b.pruned_at.get_or_insert(now);
                    b.pruned_by.get_or_insert_with(|| prune.rule.clone());
                }
            });
            match noted {
                Ok(()) => {}
                // Removed meanwhile (by hand, or by the history limits of another process):
                // nothing names the file any more.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        match dir.remove_file(&prune.path) {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(prunes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn bundle_names_follow_the_archive_pattern() {
        assert!(is_bundle_name("a", "a-2025-01-01T00_00_00.tar.gz"));
        // Node mode's `<job>-<node>-<time>`.
        assert!(is_bundle_name(
            "a",
            "a-worker-1.example-2025-01-01T00_00_00.tar.gz"
        ));
        assert!(is_bundle_name(
            "a",
            "a-worker-1-2025-01-01T00_00_00-2.tar.gz"
        ));
        assert!(!is_bundle_name(
            "a",
            "a-worker 1-2025-01-01T00_00_00.tar.gz"
        ));
        assert!(!is_bundle_name("a", "a--2025-01-01T00_00_00.tar.gz"));
        assert!(!is_bundle_name("a", "a-worker-1.tar.gz"));
        assert!(is_bundle_name("a", "a-2025-01-01T00_00_00-2.tar.gz"));
        assert!(is_bundle_name("a-b", "a-b-2025-01-01T00_00_00.tar.gz"));
        for bad in [
            "b-2025-01-01T00_00_00.tar.gz",
            "a-2025-01-01T00_00_00.tar",
            "a-2025-13-01T00_00_00.tar.gz",
            "a-2025-01-01T00_00_00-.tar.gz",
            "a-2025-01-01T00_00_00-x.tar.gz",
            "a-.tar.gz",
            "notes.txt",
        ] {
            assert!(!is_bundle_name("a", bad), "{bad}");
        }
    }

    /// A record of job `a` started on `day` whose bundle is `path`.
    fn record_with_bundle(state: &Path, day: u32, path: &Path) {
        let record: RunRecord = serde_json::from_value(serde_json::json!({
            "version": records::RECORD_VERSION,
            "runId": format!("202501{day:02}T000000Z"),
            "job": "a",
            "specHash": "h",
            "trigger": "schedule",
            "attempt": 1,
            "startedAt": format!("2025-01-{day:02}T00:00:00Z"),
            "status": "succeeded",
            "host": "h",
            "bundle": {"path": path, "size": 1, "sha256": "x"},
        }))
        .expect("a record");
        records::create(state, &record).expect("write record");
    }

    fn bundle_file(day: u32) -> String {
        format!("a-2025-01-{day:02}T00_00_00.tar.gz")
    }

    #[test]
    fn only_the_jobs_own_bundle_files_are_removed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let state = tmp.path().join("state");
        let outside = tmp.path().join("outside");
        let bundles = bundles_dir(&state, "a");
        std::fs::create_dir_all(&bundles).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        // Day 1: an ordinary old bundle, the only one to go.
        std::fs::write(bundles.join(bundle_file(1)), b"x").expect("write");
        record_with_bundle(&state, 1, &bundles.join(bundle_file(1)));
        // Day 2: a record naming a file outside the state directory.
        std::fs::write(outside.join(bundle_file(2)), b"x").expect("write");
        record_with_bundle(&state, 2, &outside.join(bundle_file(2)));
        // Day 3: a bundle that is a symlink to a file elsewhere.
        std::fs::write(outside.join("precious"), b"x").expect("write");
        std::os::unix::fs::symlink(outside.join("precious"), bundles.join(bundle_file(3)))
            .expect("symlink");
        record_with_bundle(&state, 3, &bundles.join(bundle_file(3)));
        // Day 4: a file in bundles/ that is not named like an archive of the job.
        std::fs::write(bundles.join("notes.txt"), b"x").expect("write");
        record_with_bundle(&state, 4, &bundles.join("notes.txt"));
        // Day 5: the newest bundle.
        std::fs::write(bundles.join(bundle_file(5)), b"x").expect("write");
        record_with_bundle(&state, 5, &bundles.join(bundle_file(5)));

        let policy = Policy {
            keep_last: Some(1),
            ..Policy::default()
        };
        let pruned = apply(&state, "a", &policy, t("2025-02-01T00:00:00Z")).expect("apply");
        assert_eq!(
            pruned,
            [Prune {
                path: bundles.join(bundle_file(1)),
                rule: "keepLast".to_string()
            }]
        );
        let mut left: Vec<String> = std::fs::read_dir(&bundles)
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [bundle_file(3), bundle_file(5), "notes.txt".into()]);
        assert!(outside.join(bundle_file(2)).exists());
        assert!(outside.join("precious").exists());
        let (history, _) = records::history(&state, "a", 10).expect("history");
        let day1 = history
            .iter()
            .find(|r| r.run_id == "20250101T000000Z")
            .expect("day 1");
        assert_eq!(
            day1.bundle.as_ref().and_then(|b| b.pruned_by.as_deref()),
            Some("keepLast")
        );
    }

    #[test]
    fn a_symlinked_bundles_directory_loses_nothing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let state = tmp.path().join("state");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::fs::create_dir_all(records::job_dir(&state, "a")).expect("mkdir");
        for day in 1..=3 {
            std::fs::write(outside.join(bundle_file(day)), b"x").expect("write");
            record_with_bundle(
                &state,
                day,
                &bundles_dir(&state, "a").join(bundle_file(day)),
            );
        }
        std::os::unix::fs::symlink(&outside, bundles_dir(&state, "a")).expect("symlink");
        let policy = Policy {
            keep_last: Some(1),
            ..Policy::default()
        };
        let pruned = apply(&state, "a", &policy, t("2025-02-01T00:00:00Z")).expect("apply");
        assert!(pruned.is_empty(), "{pruned:?}");
        for day in 1..=3 {
            assert!(outside.join(bundle_file(day)).exists());
        }
    }

    #[test]
    fn only_a_real_bundle_file_under_bundles_passes_the_upload_check() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let state = tmp.path().join("state");
        let outside = tmp.path().join("outside");
        let bundles = bundles_dir(&state, "a");
        std::fs::create_dir_all(&bundles).expect("mkdir");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::fs::write(bundles.join(bundle_file(1)), b"x").expect("write");
        check_bundle_file(&bundles.join(bundle_file(1))).expect("a real bundle");
        std::fs::write(outside.join("secret"), b"x").expect("write");
        std::os::unix::fs::symlink(outside.join("secret"), bundles.join(bundle_file(2)))
            .expect("symlink");
        let err = check_bundle_file(&bundles.join(bundle_file(2))).expect_err("a symlink");
        assert!(matches!(err, StateError::Symlink { .. }), "{err}");
        let err = check_bundle_file(&outside.join("secret")).expect_err("outside");
        assert!(matches!(err, StateError::Outside { .. }), "{err}");
        let err = check_bundle_file(&bundles.join(bundle_file(3))).expect_err("missing");
        assert!(err.is_not_found(), "{err}");
        std::fs::create_dir_all(records::job_dir(&state, "b")).expect("mkdir");
        std::os::unix::fs::symlink(&bundles, bundles_dir(&state, "b")).expect("symlink");
        let err = check_bundle_file(&bundles_dir(&state, "b").join(bundle_file(1)))
            .expect_err("through a symlinked bundles/");
        assert!(matches!(err, StateError::Symlink { .. }), "{err}");
    }
}
