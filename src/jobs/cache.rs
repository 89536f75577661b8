//! Remembers the reports of job files between reloads of the daemon, so a reload after a
//! one-file change reads and validates that file only.
//!
//! Reloads are level-triggered: each one loads the whole directory. With 10,000 files, parsing
//! and validating every file took seconds per reload; a file whose identity and timestamps are
//! unchanged gives the same report, so it is taken from here instead.

use super::Job;
use super::load::FileReport;
use super::validate::Context;
use crate::trust::{Policy, Problem};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A file modified this recently is read again next time: on file systems with coarse
/// timestamps, a second write within the same tick could leave size and times unchanged.
const RACY_NANOS: i128 = 2_000_000_000;

/// What must be unchanged for a remembered report to stand (of the file `metadata` reaches,
/// so a ConfigMap's symlink swap is a new inode). A chmod or chown of the file changes its
/// ctime, so it is judged again (see [`crate::trust`]). A directory above it made writable later
/// would not change what was read, but a report says whether the file is trusted, which a fresh
/// load (`plan`) judges on the directories as they are now: see [`FileCache::judge_dir`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Stamp {
    pub(super) fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
        })
    }

    /// Whether the file was last changed long enough before `at_ns` that a later change
    /// cannot leave this stamp as it is (see [`RACY_NANOS`]).
    pub(super) fn settled_at(&self, at_ns: i128) -> bool {
        at_ns - self.mtime_ns.max(self.ctime_ns) > RACY_NANOS
    }
}

/// Reports of unchanged files, by path.
///
/// Only reports without diagnostics are remembered, whose job names are their jobs' names (see
/// [`depends_on_file_only`]), so an entry keeps just the jobs: the report is rebuilt from them.
#[derive(Debug, Default)]
pub struct FileCache {
    entries: HashMap<PathBuf, (Stamp, Vec<Arc<Job>>)>,
    /// What the trust rules find wrong with the jobs directory and those above it, as last
    /// judged (`None`: not judged, or it could not be).
    dir_problems: Option<Vec<Problem>>,
}

impl FileCache {
    /// Judges the jobs directory `dir` and those above it; when that differs from the last
    /// judgement, every remembered report is forgotten (a report says whether its file is
    /// trusted, which depends on them) and `true` is returned. A few system calls.
    pub(super) fn judge_dir(&mut self, dir: &Path, policy: &Policy) -> bool {
        let now = crate::trust::check_dir(dir, policy).ok();
        let changed = now.is_none() || now != self.dir_problems;
        if changed {
            self.entries.clear();
        }
        self.dir_problems = now;
        changed
    }

    /// The reports of `paths`, in order: remembered ones for unchanged files, the others read
    /// afresh (on every core, see [`super::load_all`]).
    pub(super) fn load_all(&mut self, paths: &[PathBuf], ctx: &Context) -> Vec<FileReport> {
        let mut out: Vec<Option<FileReport>> = vec![None; paths.len()];
        let mut misses = Vec::new();
        let mut stamps = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            let stamp = Stamp::of(path);
            match (stamp, self.entries.get(path)) {
                (Some(s), Some((cached, jobs))) if *cached == s => {
                    out[i] = Some(FileReport {
                        path: path.clone(),
                        job_names: jobs.iter().map(|j| j.name.clone()).collect(),
                        jobs: jobs.clone(),
                        diagnostics: Vec::new(),
                    });
                }
                _ => {
                    misses.push(path.clone());
                    stamps.push((i, stamp));
                }
            }
        }
        let read_at = now_ns();
        let fresh = super::load_all(&misses, ctx);
        for ((i, before), report) in stamps.into_iter().zip(fresh) {
            let path = &paths[i];
            // Cached only when the report depends on this file alone and the file did not change
            // while it was read; see `depends_on_file_only`.
            match before {
                Some(stamp)
                    if Stamp::of(path) == Some(stamp)
                        && stamp.settled_at(read_at)
                        && depends_on_file_only(&report) =>
                {
                    self.entries
                        .insert(path.clone(), (stamp, report.jobs.clone()));
                }
                _ => {
                    self.entries.remove(path);
                }
            }
            out[i] = Some(report);
        }
        out.into_iter().flatten().collect()
    }

    /// Forgets one file (it is gone).
    pub(super) fn forget(&mut self, path: &Path) {
        self.entries.remove(path);
    }

    /// Forgets files that are no longer in the directory.
    pub(super) fn retain(&mut self, present: &[PathBuf]) {
        if self.entries.len() > present.len() {
            let keep: std::collections::HashSet<&PathBuf> = present.iter().collect();
            self.entries.retain(|p, _| keep.contains(p));
        }
    }
}

/// Whether the report is a function of the file's bytes (and the agent's fixed settings):
/// no diagnostics (errors and warnings can be about other files, such as a missing spec or
/// secret file), no referenced spec files (they change on their own), and no upload or notify
/// targets (their secret references are checked against files and the environment). Its job
/// names must also be its jobs' names, as [`FileCache::load_all`] rebuilds them from the jobs.
fn depends_on_file_only(report: &FileReport) -> bool {
    report.diagnostics.is_empty()
        && !report.jobs.is_empty()
        && report
            .job_names
            .iter()
            .eq(report.jobs.iter().map(|j| &j.name))
        && report.jobs.iter().all(|j| {
            j.spec_files.is_empty()
                && j.document.spec.upload.is_empty()
                && j.document.spec.notify.is_empty()
        })
}

pub(super) fn now_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const JOB: &str = "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {name: a}\nspec:\n  schedule: \"0 2 * * *\"\n  collect: {supportBundle: {hostCollectors: [{memory: {}}]}}\n";

    fn ctx() -> Context {
        Context {
            default_time_zone: "UTC".into(),
            ..Context::default()
        }
    }

    fn age(path: &Path) {
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        let f = std::fs::File::options()
            .write(true)
            .open(path)
            .expect("open");
        f.set_modified(old).expect("set mtime");
    }

    #[test]
    fn an_unchanged_file_is_remembered_and_an_edit_is_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.yaml");
        std::fs::write(&path, JOB).expect("write");
        age(&path);
        let mut cache = FileCache::default();
        let first = cache
            .load_all(std::slice::from_ref(&path), &ctx())
            .remove(0);
        assert!(first.diagnostics.is_empty(), "{:?}", first.diagnostics);
        // ctime is now, so the entry is still racy; once the file is older it is remembered.
        let ready = cache.entries.contains_key(&path);
        let again = cache
            .load_all(std::slice::from_ref(&path), &ctx())
            .remove(0);
        assert_eq!(again.job_names, ["a"]);
        // An edit (rename over, as tools do) is a new inode: read afresh.
        let tmp = dir.path().join(".a.tmp");
        std::fs::write(&tmp, JOB.replace("0 2 * * *", "5 3 * * *")).expect("write");
        std::fs::rename(&tmp, &path).expect("rename");
        let edited = cache
            .load_all(std::slice::from_ref(&path), &ctx())
            .remove(0);
        assert_eq!(
            edited.jobs[0]
                .timeline
                .schedule()
                .map(|s| s.expression())
                .unwrap_or_default(),
            "5 3 * * *",
            "cached before: {ready}"
        );
        cache.retain(&[]);
        assert!(cache.entries.is_empty());
    }

    /// Bytes this thread has read through system calls (`rchar` of /proc/thread-self/io):
    /// the kernel's count, so it shows whether a file was read without instrumenting our code.
    pub(crate) fn bytes_read_by_this_thread() -> u64 {
        let io = std::fs::read_to_string("/proc/thread-self/io").expect("/proc/thread-self/io");
        io.lines()
            .find_map(|l| l.strip_prefix("rchar: "))
            .and_then(|v| v.trim().parse().ok())
            .expect("rchar")
    }

    #[test]
    fn an_unchanged_file_is_not_read_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.yaml");
        // Large enough that reading it stands out from the few bytes of /proc itself.
        let text = format!("{JOB}{}", "# padding so that a read shows\n".repeat(8_000));
        std::fs::write(&path, &text).expect("write");
        age(&path);
        // The change time cannot be set back: wait until the entry is no longer racy.
        std::thread::sleep(std::time::Duration::from_nanos(
            RACY_NANOS as u64 + 100_000_000,
        ));
        let size = text.len() as u64;
        let mut cache = FileCache::default();

        let before = bytes_read_by_this_thread();
        let first = cache
            .load_all(std::slice::from_ref(&path), &ctx())
            .remove(0);
        let read_first = bytes_read_by_this_thread() - before;
        assert!(
            read_first >= size,
            "the first load reads the file ({read_first} bytes)"
        );
        assert!(cache.entries.contains_key(&path), "remembered");

        let before = bytes_read_by_this_thread();
        let second = cache
            .load_all(std::slice::from_ref(&path), &ctx())
            .remove(0);
        let read_second = bytes_read_by_this_thread() - before;
        assert!(
            read_second < size / 10,
            "an unchanged file is not read again ({read_second} bytes read, the file has {size})"
        );
        assert_eq!(second.job_names, first.job_names);
        assert!(
            Arc::ptr_eq(&second.jobs[0], &first.jobs[0]),
            "the same job, shared"
        );
    }

    #[test]
    fn a_remembered_report_is_the_report_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("two.yaml");
        let text = format!("{}---\n{JOB}", JOB.replace("{name: a}", "{name: b}"));
        std::fs::write(&path, text).expect("write");
        age(&path);
        std::thread::sleep(std::time::Duration::from_nanos(
            RACY_NANOS as u64 + 100_000_000,
        ));
        let mut cache = FileCache::default();
        let first = cache
            .load_all(std::slice::from_ref(&path), &ctx())
            .remove(0);
        assert!(cache.entries.contains_key(&path), "remembered");
        let second = cache
            .load_all(std::slice::from_ref(&path), &ctx())
            .remove(0);
        assert_eq!(second.path, first.path);
        assert_eq!(first.job_names, ["b", "a"], "file order");
        assert_eq!(second.job_names, first.job_names);
        assert!(second.diagnostics.is_empty());
        assert!(
            second
                .jobs
                .iter()
                .zip(&first.jobs)
                .all(|(x, y)| Arc::ptr_eq(x, y))
                && second.jobs.len() == 2
        );
    }

    #[test]
    fn reports_with_diagnostics_are_not_remembered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.yaml");
        std::fs::write(&path, "apiVersion: nope\n").expect("write");
        age(&path);
        let mut cache = FileCache::default();
        assert!(
            cache
                .load_all(std::slice::from_ref(&path), &ctx())
                .remove(0)
                .is_rejected()
        );
        assert!(cache.entries.is_empty());
    }

    #[test]
    fn a_jobs_directory_made_writable_is_judged_again() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let jobs = tmp.path().join("jobs");
        std::fs::create_dir(&jobs).expect("mkdir");
        let path = jobs.join("a.yaml");
        std::fs::write(&path, JOB).expect("write");
        std::thread::sleep(std::time::Duration::from_nanos(
            RACY_NANOS as u64 + 100_000_000,
        ));
        let mut cache = FileCache::default();
        let load = |cache: &mut FileCache| {
            let cached = crate::jobs::load_dir_cached(&jobs, &ctx(), cache).expect("load");
            let fresh = crate::jobs::load_dir(&jobs, &ctx()).expect("load");
            let messages = |d: &crate::jobs::Desired| -> Vec<String> {
                d.diagnostics().map(ToString::to_string).collect()
            };
            assert_eq!(messages(&cached), messages(&fresh), "as a fresh load");
            cached.has_errors()
        };
        assert!(!load(&mut cache));
        assert!(cache.entries.contains_key(&path), "remembered");
        std::fs::set_permissions(&jobs, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        assert!(load(&mut cache), "not trusted any more");
        std::fs::set_permissions(&jobs, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert!(!load(&mut cache), "trusted again");
    }
}
