//! Start-up recovery of what runs cut off by a crash had collected.
//!
//! A run's staging directory (`jobs/<job>/staging/<run-id>/<bundle>/`) is removed only after the
//! run record names the archive and its uploads are queued (`upload::commit`), so staging left on
//! disk is the durable sign that a run still needs this work. For each one, with the run record as
//! the source of truth, every step is idempotent and each step's result is durable before the
//! next starts:
//!
//! 1. the record already names an archive: make sure each pending upload is queued;
//! 2. else, for an `interrupted` run: an archive the run wrote before the crash is linked
//!    (hashed, named by the record); without one, the staged files are redacted and archived
//!    as a partial bundle (temp file, fsync, rename);
//! 3. the record names the bundle and lists its uploads as pending (atomic write);
//! 4. each upload is queued (partial bundles under keys marked `-partial`, see
//!    [`super::upload::partial_key`]);
//! 5. only then is the staging removed.
//!
//! `kill -9` at any point leaves the staging in place (or everything done), and the next start
//! converges to the same end state. Temp archives of an interrupted write are removed by
//! `state::recover` before this runs.

use super::redact::{TokenKeys, redact_partial};
use super::upload::{self, Planned};
use super::{PARTIAL_MARK, TOOL_VERSION, bundles_dir};
use crate::jobs::Job;
use crate::state::records::UploadStatus;
use crate::state::records::{self, BundleRecord, RunRecord, RunStatus};
use crate::state::{self, RunId, StateError};
use crate::upload::queue;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// One run's staging directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Staged {
    /// Job name.
    pub job: String,
    /// Run id.
    pub run_id: RunId,
    /// `<state>/jobs/<job>/staging/<run-id>`.
    pub dir: PathBuf,
}

/// Every run's staging directory now. Listed before any run of this process starts, so the list
/// holds only runs of earlier processes.
pub fn staged_runs(state_dir: &Path) -> Vec<Staged> {
    let Ok(jobs) = std::fs::read_dir(state_dir.join("jobs")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for job in jobs.filter_map(Result::ok) {
        let Some(name) = job.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Ok(runs) = std::fs::read_dir(job.path().join("staging")) else {
            continue;
        };
        for run in runs.filter_map(Result::ok) {
            let file_name = run.file_name();
            // The agent names staging directories by run id only: anything else is not a
            // run's, and is left alone (nothing could name it in a record).
            match file_name.to_str().map(str::parse::<RunId>) {
                Some(Ok(run_id)) => out.push(Staged {
                    job: name.clone(),
                    run_id,
                    dir: run.path(),
                }),
                Some(Err(e)) => {
                    tracing::warn!(job = %name, "staging entry skipped by crash recovery: {e}")
                }
                None => {
                    tracing::warn!(job = %name, entry = ?file_name, "staging entry skipped by crash recovery: its name is not UTF-8")
                }
            }
        }
    }
    out.sort_by(|a, b| (&a.job, &a.run_id).cmp(&(&b.job, &b.run_id)));
    out
}

/// What recovery needs of the agent besides the staged runs.
pub struct Recovery<'a> {
    /// The state directory.
    pub state_dir: &'a Path,
    /// The jobs directory as it loads now (`None`: it does not load): partial bundles are
    /// redacted and uploaded as their job asks, and a job it does not define gets the built-in
    /// redactors and no upload.
    pub desired: Option<&'a crate::jobs::Desired>,
    /// HMAC key file for stable tokens.
    pub token_key_file: Option<PathBuf>,
    /// AES key file for the token map.
    pub token_map_key_file: Option<PathBuf>,
}

/// Recovers every run in `staged` (blocking: redaction and compression of megabytes; run it off
/// the async workers, after the agent serves its health endpoints), logging what became of each.
/// A run that fails stays staged for the next start.
pub fn recover_all(recovery: &Recovery<'_>, staged: &[Staged], now: impl Fn() -> DateTime<Utc>) {
    let state_dir = recovery.state_dir;
    for run in staged {
        let keys = TokenKeys {
            state_dir: state_dir.to_path_buf(),
            run_id: run.run_id.clone(),
            token_key_file: recovery.token_key_file.clone(),
            token_map_key_file: recovery.token_map_key_file.clone(),
        };
        let job = (recovery.desired)
            .and_then(|d| d.jobs.get(&run.job))
            .map(|j| &**j);
        match recover_staged(state_dir, run, job, &keys, now()) {
            Ok(Recovered::Archived(b)) => {
                tracing::info!(job = %run.job, run = %run.run_id, bundle = %b.path.display(), "kept the partial bundle of the interrupted run")
            }
            Ok(Recovered::Linked(b)) => {
                tracing::info!(job = %run.job, run = %run.run_id, bundle = %b.path.display(), "recorded the bundle the interrupted run had written")
            }
            Ok(Recovered::AlreadyRecorded | Recovered::InProgress) => {}
            Ok(Recovered::Discarded(why)) => {
                tracing::info!(job = %run.job, run = %run.run_id, "removed staged files: {why}")
            }
            Err(e) => {
                tracing::warn!(job = %run.job, run = %run.run_id, "cannot keep the partial bundle: {e}")
            }
        }
    }
}

/// What recovery did with one staged run.
#[derive(Clone, Debug, PartialEq)]
pub enum Recovered {
    /// The staged files were archived as a partial bundle, now named by the record.
    Archived(BundleRecord),
    /// The run had written its archive before the crash; the record now names it.
    Linked(BundleRecord),
    /// The record already named the archive; missing queue entries were restored.
    AlreadyRecorded,
    /// Nothing to keep (nothing collected, no record, or the run ended without a bundle); the
    /// staging is removed.
    Discarded(&'static str),
    /// The run is still in progress: not touched.
    InProgress,
}

/// Why recovering one staged run failed; its staging stays for the next start.
#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    /// A record or queue entry could not be written.
    #[error(transparent)]
    State(#[from] StateError),
    /// The archive could not be written or read.
    #[error("archiving {path}: {message}")]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The staged files could not be redacted: they are removed, nothing unredacted is kept.
    #[error("redaction failed, so the staged files were removed and nothing was archived: {0}")]
    Redaction(#[source] super::error::PhaseError),
}

/// Recovers one staged run (blocking): see the module documentation. `job` is the job's current
/// definition (its redaction and upload targets), when the jobs directory still defines it.
pub fn recover_staged(
    state_dir: &Path,
    staged: &Staged,
    job: Option<&Job>,
    keys: &TokenKeys,
    now: DateTime<Utc>,
) -> Result<Recovered, RecoverError> {
    let path = records::runs_dir(state_dir, &staged.job).join(format!("{}.json", staged.run_id));
    let Ok(record) = records::read_record(&path) else {
        // Every run writes its record before it stages anything: nothing can name these files.
        super::remove_staging(state_dir, &staged.dir);
        return Ok(Recovered::Discarded("no readable run record"));
    };
    if record.status == RunStatus::Running {
        return Ok(Recovered::InProgress);
    }
    if let Some(bundle) = &record.bundle {
        if bundle.pruned_at.is_none() && bundle.path.is_file() {
            ensure_queued(state_dir, &record, job, now)?;
        }
        super::remove_staging(state_dir, &staged.dir);
        return Ok(Recovered::AlreadyRecorded);
    }
    if record.status != RunStatus::Interrupted {
        super::remove_staging(state_dir, &staged.dir);
        return Ok(Recovered::Discarded("the run ended without a bundle"));
    }
    let Some(top) = staged_top(&staged.dir) else {
        super::remove_staging(state_dir, &staged.dir);
        return Ok(Recovered::Discarded("nothing was collected"));
    };
    let dest = bundles_dir(state_dir, &staged.job).join(format!("{top}.tar.gz"));
    let (bundle, redaction, linked) = if dest.is_file() {
        let partial = staged.dir.join(PARTIAL_MARK).exists();
        (link(&dest, partial)?, None, true)
    } else {
        match archive_partial(staged, &top, &dest, job, keys) {
            Ok((bundle, redaction)) => (bundle, Some(redaction), false),
            Err(e @ RecoverError::Redaction(_)) => {
                super::remove_staging(state_dir, &staged.dir);
                let reason =
                    format!("the agent stopped while the run was in progress (crash or kill); {e}");
                records::update(state_dir, &staged.job, &staged.run_id, |r| {
                    r.reason = Some(reason);
                })?;
                return Err(e);
            }
            Err(e) => return Err(e),
        }
    };
    let planned = job.map(|j| plan(j, &record, &bundle, now));
    // Only what recovery found goes into the record as it is now (others may have changed it
    // while the archive was written).
    records::update(state_dir, &staged.job, &staged.run_id, |r| {
        if redaction.is_some() {
            r.redaction = redaction;
        }
        r.bundle = Some(bundle.clone());
        r.uploads = planned.as_ref().map(Planned::records).unwrap_or_default();
    })?;
    for entry in planned.iter().flat_map(Planned::entries) {
        queue::write(state_dir, entry)?;
    }
    super::remove_staging(state_dir, &staged.dir);
    Ok(if linked {
        Recovered::Linked(bundle)
    } else {
        Recovered::Archived(bundle)
    })
}

/// The uploads of a recovered run's bundle, keyed as the run would have keyed them.
fn plan(job: &Job, record: &RunRecord, bundle: &BundleRecord, now: DateTime<Utc>) -> Planned {
    let vars = upload::vars(job, &record.run_id, record.started_at, &record.host);
    upload::plan(job, &record.run_id, &vars, bundle, now)
}

/// Queues each upload the record lists as pending and the queue does not hold (a crash between
/// the record and the queue entry). Delivered uploads are found delivered again (create-only).
fn ensure_queued(
    state_dir: &Path,
    record: &RunRecord,
    job: Option<&Job>,
    now: DateTime<Utc>,
) -> Result<(), StateError> {
    let (Some(job), Some(bundle)) = (job, &record.bundle) else {
        return Ok(());
    };
    let planned = plan(job, record, bundle, now);
    for entry in planned.entries() {
        let pending = record
            .uploads
            .get(entry.index)
            .is_some_and(|u| u.status == UploadStatus::Pending && u.target == entry.label);
        if pending && !entry.path(state_dir).exists() {
            queue::write(state_dir, entry)?;
        }
    }
    Ok(())
}

/// The bundle directory inside a run's staging (its only visible directory).
fn staged_top(dir: &Path) -> Option<String> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .find(|n| !n.starts_with('.'))
}

/// The record of an archive already in place (written whole: temp, fsync, rename).
fn link(dest: &Path, partial: bool) -> Result<BundleRecord, RecoverError> {
    let (sha256, size) = crate::digest::sha256_file(dest).map_err(|e| RecoverError::Archive {
        path: dest.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(BundleRecord {
        path: dest.to_path_buf(),
        size,
        sha256,
        partial,
        pruned_at: None,
        pruned_by: None,
    })
}

/// Redacts the staged tree (as the job asks, else with the built-in set) and archives it.
fn archive_partial(
    staged: &Staged,
    top: &str,
    dest: &Path,
    job: Option<&Job>,
    keys: &TokenKeys,
) -> Result<(BundleRecord, serde_json::Value), RecoverError> {
    let root = staged.dir.join(top);
    let archive_error = |message: String| RecoverError::Archive {
        path: dest.to_path_buf(),
        message,
    };
    // A redaction cut off by the crash leaves its temp files beside the originals; they are not
    // part of what was collected.
    remove_redaction_temps(&root);
    let redaction = redact_partial(job, &root, keys).map_err(RecoverError::Redaction)?;
    // An archive this writes and a crash leaves unrecorded is linked as partial at the next start.
    std::fs::write(staged.dir.join(PARTIAL_MARK), b"")
        .map_err(|e| archive_error(format!("marking the staged files partial: {e}")))?;
    // Readers find the bundle root by its version.yaml, which a finished run writes at archive time.
    let version = root.join("version.yaml");
    if !version.exists() {
        std::fs::write(&version, crate::bundle::version_yaml(TOOL_VERSION))
            .map_err(|e| archive_error(format!("writing version.yaml: {e}")))?;
    }
    state::ensure_private_dir(dest.parent().unwrap_or(&staged.dir))?;
    let info = crate::bundle::write_bundle(&root, dest, top, &Default::default())
        .map_err(|e| archive_error(e.to_string()))?;
    Ok((
        BundleRecord {
            path: info.path,
            size: info.size,
            sha256: info.sha256,
            partial: true,
            pruned_at: None,
            pruned_by: None,
        },
        redaction,
    ))
}

/// Removes `.<name>.redact.<pid>.<seq>` files (the redactor's temp files) under `dir`.
fn remove_redaction_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            remove_redaction_temps(&entry.path());
        } else if kind.is_file() && entry.file_name().to_str().is_some_and(is_redaction_temp) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn is_redaction_temp(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.') else {
        return false;
    };
    let mut tail = rest.rsplitn(3, '.');
    let (Some(seq), Some(pid), Some(head)) = (tail.next(), tail.next(), tail.next()) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(seq) && digits(pid) && head.ends_with(".redact") && head.len() > ".redact".len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::records::Trigger;

    /// An interrupted run of job `j` with `data.txt` staged under the bundle name `j-1`.
    fn crashed_run(state: &Path, run_id: &str) -> Staged {
        let record = RunRecord {
            trigger: Trigger::Manual,
            scheduled_at: None,
            ended_at: Some(Utc::now()),
            ..RunRecord::for_test("j", run_id, RunStatus::Interrupted)
        };
        records::create(state, &record).expect("record");
        let dir = super::super::staging_dir(state, "j", run_id);
        std::fs::create_dir_all(dir.join("j-1")).expect("staging");
        std::fs::write(dir.join("j-1/data.txt"), "collected\n").expect("staged file");
        Staged {
            job: "j".into(),
            run_id: run_id.into(),
            dir,
        }
    }

    fn keys(state: &Path, run_id: &str) -> TokenKeys {
        TokenKeys {
            state_dir: state.to_path_buf(),
            run_id: run_id.into(),
            token_key_file: None,
            token_map_key_file: None,
        }
    }

    fn record_of(state: &Path, run_id: &str) -> RunRecord {
        records::read_record(&records::runs_dir(state, "j").join(format!("{run_id}.json")))
            .expect("record")
    }

    #[test]
    fn staging_entries_not_named_by_a_run_id_are_not_listed_as_runs() {
        let state = tempfile::tempdir().expect("tempdir");
        let staged = crashed_run(state.path(), "20250309T070000Z-retry2");
        let stray = records::job_dir(state.path(), "j").join("staging/not a run id");
        std::fs::create_dir_all(&stray).expect("stray dir");
        let listed = staged_runs(state.path());
        assert_eq!(listed, vec![staged]);
        assert_eq!(listed[0].run_id.retry_number(), 2);
        assert!(
            stray.is_dir(),
            "an entry recovery does not own is left alone"
        );
    }

    #[test]
    fn staged_files_become_a_recorded_partial_bundle_and_a_second_pass_changes_nothing() {
        let state = tempfile::tempdir().expect("tempdir");
        let staged = crashed_run(state.path(), "r1");
        assert_eq!(staged_runs(state.path()), vec![staged.clone()]);
        let got = recover_staged(
            state.path(),
            &staged,
            None,
            &keys(state.path(), "r1"),
            Utc::now(),
        );
        let Ok(Recovered::Archived(bundle)) = got else {
            panic!("{got:?}");
        };
        assert!(bundle.partial && bundle.path.is_file());
        assert_eq!(record_of(state.path(), "r1").bundle, Some(bundle.clone()));
        assert!(!staged.dir.exists() && staged_runs(state.path()).is_empty());
        // Staging that survived the previous pass (killed after the record) is only removed.
        std::fs::create_dir_all(staged.dir.join("j-1")).expect("staging again");
        let again = recover_staged(
            state.path(),
            &staged,
            None,
            &keys(state.path(), "r1"),
            Utc::now(),
        );
        assert!(matches!(again, Ok(Recovered::AlreadyRecorded)), "{again:?}");
        assert_eq!(record_of(state.path(), "r1").bundle, Some(bundle));
        assert!(!staged.dir.exists());
    }

    #[test]
    fn an_archive_written_before_the_crash_is_linked_not_rewritten() {
        let state = tempfile::tempdir().expect("tempdir");
        let staged = crashed_run(state.path(), "r2");
        let dest = bundles_dir(state.path(), "j").join("j-1.tar.gz");
        std::fs::create_dir_all(dest.parent().expect("dir")).expect("bundles dir");
        let written =
            crate::bundle::write_bundle(&staged.dir.join("j-1"), &dest, "j-1", &Default::default())
                .expect("archive");
        let got = recover_staged(
            state.path(),
            &staged,
            None,
            &keys(state.path(), "r2"),
            Utc::now(),
        );
        let Ok(Recovered::Linked(bundle)) = got else {
            panic!("{got:?}");
        };
        assert_eq!(
            (bundle.size, &bundle.sha256),
            (written.size, &written.sha256)
        );
        assert!(!bundle.partial, "no partial mark was staged");
        assert_eq!(record_of(state.path(), "r2").bundle, Some(bundle));
        assert!(!staged.dir.exists());
    }

    #[test]
    fn redaction_temps_are_recognised_and_nothing_else() {
        assert!(is_redaction_temp(".out.txt.redact.123.4"));
        for other in [
            "out.txt",
            ".out.txt",
            ".redact.1.2",
            ".out.txt.redact.1",
            ".out.txt.redact.x.2",
            "out.txt.redact.1.2",
        ] {
            assert!(!is_redaction_temp(other), "{other}");
        }
    }

    #[test]
    fn partial_keys_are_marked_before_the_extension_and_keep_the_query() {
        use super::upload::partial_key;
        assert_eq!(partial_key("h/j/r.tar.gz"), "h/j/r-partial.tar.gz");
        assert_eq!(partial_key("h/j/r"), "h/j/r-partial");
        assert_eq!(
            partial_key("https://x/b/r.tar.gz?sig=a.tar.gz"),
            "https://x/b/r-partial.tar.gz?sig=a.tar.gz"
        );
        assert_eq!(partial_key("https://x/b/r#f"), "https://x/b/r-partial#f");
    }
}
