//! The jobs directory as the daemon's last pass saw it, so that a pass triggered by the file
//! watcher reads only the entries that changed (and the files whose job names clash with
//! theirs) instead of the whole directory.
//!
//! The result must equal a whole pass's (DESIGN.md: a reload is `plan(desired, applied)` applied
//! exactly; a partial pass is an optimisation that must not change the result). It does
//! because every file whose report can change without an event for its own entry is read again:
//!
//! - files that share a job name with a changed one, transitively (a clash starts or ends): the
//!   affected files are assembled exactly as a whole pass would assemble them;
//! - every rejected file (its errors can be about other entries: a missing spec, a clash);
//! - every job file that is a symlink (what it points to changes without an event for the link),
//!   and every such symlink ignored for what it points to (a directory, say);
//! - and a referenced spec or secret file that changed, wherever it is (the watcher sees only
//!   the jobs directory's own entries), or a change to the trust of the directory, makes the
//!   pass a whole one.
//!
//! Everything else is, by construction, what the last pass saw.

use super::cache::{Stamp, now_ns};
use super::discover::{self, Entry};
use super::load::FileReport;
use super::validate::Context;
use super::{Desired, FileCache, assemble, unreadable_entry};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The entries of the jobs directory as last seen: what every file's report (assembled: name
/// clashes included) said, and the ignored entries.
///
/// There is no index from job names to files: finding the files that share a name scans the
/// view, a fraction of a millisecond at 10,000 files, where an index cost ≈200 bytes a job for
/// as long as the agent runs.
#[derive(Debug, Default)]
pub struct DirView {
    files: BTreeMap<PathBuf, Seen>,
    ignored: BTreeMap<PathBuf, &'static str>,
    /// Spec files that jobs reference (a superset until the next whole pass), as the jobs read
    /// them: `None` when that cannot be told (it changed while they were read), and the next
    /// pass reads the whole directory.
    spec_files: HashMap<PathBuf, Option<SpecSeen>>,
    /// Secret files (`fromFile`) of jobs with upload or notify targets, with their stamps
    /// (`None`: missing) when the jobs were read, and whether those stand for what the jobs saw:
    /// whether a job file is accepted depends on their owner and permissions.
    secret_files: HashMap<PathBuf, (Option<Stamp>, bool)>,
}

/// A referenced spec file as its jobs read it.
#[derive(Debug)]
struct SpecSeen {
    stamp: Stamp,
    /// Hex sha256 of the content the jobs read.
    sha256: String,
    /// Whether the stamp alone stands for the content (it was taken long enough after the
    /// file's last change, see [`Stamp::settled_at`]); otherwise the content is hashed again.
    settled: bool,
}

impl SpecSeen {
    /// Whether the file at `path` is no longer what its jobs read.
    fn changed(&self, path: &Path) -> bool {
        Stamp::of(path) != Some(self.stamp) || (!self.settled && !sha256_is(path, &self.sha256))
    }
}

/// The paths of the `{fromFile: PATH}` secret references in a job's targets (as JSON).
fn secret_files_in(value: &serde_json::Value, out: &mut Vec<PathBuf>) {
    match value {
        serde_json::Value::Object(map) => {
            if let (1, Some(serde_json::Value::String(path))) = (map.len(), map.get("fromFile")) {
                out.push(PathBuf::from(path));
            }
            map.values().for_each(|v| secret_files_in(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| secret_files_in(v, out)),
        _ => {}
    }
}

fn sha256_is(path: &Path, sha256: &str) -> bool {
    crate::digest::sha256_file(path).is_ok_and(|(read, _)| read == sha256)
}

/// What the view keeps of a file's report.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    /// The names of the jobs it defines, valid or not.
    job_names: Vec<String>,
    /// Whether it has errors.
    rejected: bool,
    /// Whether the entry is a symlink.
    linked: bool,
}

impl Seen {
    fn of(report: &FileReport) -> Self {
        Seen {
            job_names: report.job_names.clone(),
            rejected: report.is_rejected(),
            linked: report
                .path
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink()),
        }
    }

    /// Whether its report can change without an event for its own entry.
    fn depends_on_other_entries(&self) -> bool {
        self.rejected || self.linked
    }
}

/// What a pass over some changed entries loaded.
#[derive(Debug)]
pub struct Partial {
    /// The affected files (the changed ones still present, their clash partners), assembled
    /// among themselves; their valid jobs are in `desired.jobs`.
    pub desired: Desired,
    /// Every affected path, including entries that are gone or no longer job files.
    pub paths: BTreeSet<PathBuf>,
    /// Names the affected files defined before this pass.
    pub old_names: BTreeSet<String>,
    /// Entries that are now ignored (`Some(reason)`) or no longer ignored (`None`).
    ignored: Vec<(PathBuf, Option<&'static str>)>,
}

/// Why a pass over changed entries cannot stand in for a whole pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NeedsWholePass {
    /// A ConfigMap's `..data` swap (or another `..` entry) changes what every symlink points to.
    #[error("a Kubernetes ConfigMap entry changed")]
    ConfigMap,
    /// The change is not an entry of the jobs directory (the directory itself, a foreign path).
    #[error("the change is not a single entry of the jobs directory")]
    NotAnEntry,
    /// The trust of the jobs directory (or one above it) changed: every file is judged again.
    #[error("the jobs directory's owner or permissions changed")]
    DirectoryTrust,
    /// A spec or secret file that jobs reference changed (an entry of the directory, or a file
    /// elsewhere whose stamp is not the one it had when the jobs read it): their definitions
    /// (or whether they are accepted) change with it.
    #[error("a spec or secret file that jobs reference changed")]
    SpecFile,
}

impl DirView {
    /// The view of a whole pass's result (its reports and ignored entries).
    pub fn from_desired(desired: &Desired) -> Self {
        let mut view = DirView::default();
        for f in &desired.files {
            view.files.insert(f.path.clone(), Seen::of(f));
        }
        view.ignored = desired
            .ignored
            .iter()
            .map(|i| (i.path.clone(), i.reason))
            .collect();
        view.note_referenced_files(desired);
        view
    }

    /// Notes the spec files the jobs of `desired` read, with their stamps, if the files (stamped
    /// now) still have the content the jobs hashed; otherwise `None`.
    fn note_referenced_files(&mut self, desired: &Desired) {
        let mut hashes: HashMap<&PathBuf, Option<&str>> = HashMap::new();
        for f in desired.jobs.values().flat_map(|j| j.spec_files.iter()) {
            // Jobs of one pass that read different contents: it changed while they were read.
            hashes
                .entry(&f.path)
                .and_modify(|h| {
                    if *h != Some(f.sha256.as_str()) {
                        *h = None;
                    }
                })
                .or_insert(Some(f.sha256.as_str()));
        }
        let now = now_ns();
        for (path, hash) in hashes {
            // Stamped before it is hashed: a change in between shows as a changed stamp.
            let seen = match (Stamp::of(path), hash) {
                (Some(stamp), Some(sha256)) if sha256_is(path, sha256) => Some(SpecSeen {
                    stamp,
                    sha256: sha256.to_string(),
                    settled: stamp.settled_at(now),
                }),
                _ => None,
            };
            self.spec_files.insert(path.clone(), seen);
        }
        let mut secrets = Vec::new();
        for job in desired.jobs.values() {
            let spec = &job.document.spec;
            // Only the targets hold secret references: not the whole definition.
            for targets in [
                (!spec.upload.is_empty()).then(|| serde_json::to_value(&spec.upload)),
                (!spec.notify.is_empty()).then(|| serde_json::to_value(&spec.notify)),
            ]
            .into_iter()
            .flatten()
            .flatten()
            {
                secret_files_in(&targets, &mut secrets);
            }
        }
        for path in secrets {
            let stamp = Stamp::of(&path);
            // A stamp taken just after a change may not be the one the job was judged on.
            let settled = stamp.is_none_or(|s| s.settled_at(now));
            self.secret_files.insert(path, (stamp, settled));
        }
    }

    /// Whether a referenced spec or secret file is not as its jobs read it (or cannot be told).
    fn referenced_file_changed(&self) -> bool {
        self.spec_files
            .iter()
            .any(|(path, seen)| seen.as_ref().is_none_or(|s| s.changed(path)))
            || self
                .secret_files
                .iter()
                .any(|(path, (stamp, settled))| !settled || Stamp::of(path) != *stamp)
    }

    /// How many job files have no errors.
    pub fn accepted_count(&self) -> usize {
        self.files.values().filter(|f| !f.rejected).count()
    }

    /// How many entries are ignored.
    pub fn ignored_count(&self) -> usize {
        self.ignored.len()
    }

    /// Whether a file outside `paths` is rejected.
    pub fn rejected_outside(&self, paths: &BTreeSet<PathBuf>) -> bool {
        self.files
            .iter()
            .any(|(path, f)| f.rejected && !paths.contains(path))
    }

    /// The entries a partial pass reads: the changed ones, the rejected files and symlinks
    /// (whose state hangs on other entries), and ignored symlinks named like job files; or why
    /// only a whole pass will do.
    fn entries_to_look_at<'a>(
        &'a self,
        dir: &Path,
        changed: &'a BTreeSet<PathBuf>,
        ctx: &Context,
        cache: &mut FileCache,
    ) -> Result<Vec<(&'a PathBuf, &'a str)>, NeedsWholePass> {
        let mut entries: Vec<(&PathBuf, &str)> = Vec::new();
        for path in changed {
            let name = match (path.parent(), path.file_name().and_then(|n| n.to_str())) {
                (Some(parent), Some(name)) if parent == dir => name,
                _ => return Err(NeedsWholePass::NotAnEntry),
            };
            if name.starts_with("..") {
                return Err(NeedsWholePass::ConfigMap);
            }
            if self.spec_files.contains_key(path) {
                return Err(NeedsWholePass::SpecFile);
            }
            entries.push((path, name));
        }
        // Spec and secret files outside the directory change without an event (a stat each).
        if self.referenced_file_changed() {
            return Err(NeedsWholePass::SpecFile);
        }
        // Nor do the directories above it (the watcher sees the directory's own changes only
        // when inotify is in use).
        if cache.judge_dir(dir, &ctx.trust) {
            return Err(NeedsWholePass::DirectoryTrust);
        }
        // Rejected files are looked at again too, as their errors can be about other entries (a
        // spec file that is missing, a name clash), and so are symlinks, whose targets change
        // without an event for them; there are few of either (files whose reports are
        // remembered cost a stat).
        for (path, _) in self
            .files
            .iter()
            .filter(|(_, f)| f.depends_on_other_entries())
        {
            if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                entries.push((path, name));
            }
        }
        // So are symlinks named like job files that are ignored for what they point to (a
        // directory, a device): it can become a file.
        for path in self.ignored.keys() {
            if let Some(name) = path.file_name().and_then(|n| n.to_str())
                && discover::is_yaml_name(name)
                && discover::ignore_reason(name).is_none()
                && path.is_symlink()
            {
                entries.push((path, name));
            }
        }
        Ok(entries)
    }

    /// Loads the entries `changed` of the jobs directory `dir` (as the watcher reported them)
    /// and every file that shares a job name with them, transitively; the rest of the directory
    /// is taken as this view has it. Unchanged files come from `cache`. The view itself is
    /// updated by [`DirView::absorb`] once the result is applied.
    pub fn load_changed(
        &self,
        dir: &Path,
        changed: &BTreeSet<PathBuf>,
        ctx: &Context,
        cache: &mut FileCache,
    ) -> Result<Partial, NeedsWholePass> {
        let mut paths = BTreeSet::new();
        let mut ignored = Vec::new();
        let mut to_read = Vec::new();
        let mut reports = Vec::new();
        let entries = self.entries_to_look_at(dir, changed, ctx, cache)?;
        for (path, name) in entries {
            if !paths.insert(path.clone()) {
                continue;
            }
            match discover::classify(path, name) {
                Entry::JobFile => to_read.push(path.clone()),
                Entry::Ignored(reason) => ignored.push((path.clone(), Some(reason))),
                Entry::Unreadable(err) => reports.push(FileReport {
                    path: path.clone(),
                    jobs: Vec::new(),
                    job_names: Vec::new(),
                    diagnostics: vec![unreadable_entry(path, &err)],
                }),
                Entry::Gone => cache.forget(path),
            }
            if self.ignored.contains_key(path)
                && !ignored
                    .last()
                    .is_some_and(|(p, r)| p == path && r.is_some())
            {
                ignored.push((path.clone(), None));
            }
        }
        let mut old_names = BTreeSet::new();
        for path in &paths {
            if let Some(old) = self.files.get(path) {
                old_names.extend(old.job_names.iter().cloned());
            }
        }
        // The closure over shared names: a file that shares a name with an affected file is
        // affected (its clash may have started or ended), and so are the files it shares its
        // other names with.
        let mut seen_names: BTreeSet<String> = BTreeSet::new();
        let mut pending_names: Vec<String> = old_names.iter().cloned().collect();
        loop {
            let fresh = cache.load_all(&to_read, ctx);
            pending_names.extend(fresh.iter().flat_map(|r| r.job_names.iter().cloned()));
            reports.extend(fresh);
            to_read.clear();
            let names: HashSet<String> = pending_names
                .drain(..)
                .filter(|name| seen_names.insert(name.clone()))
                .collect();
            if !names.is_empty() {
                for (path, old) in &self.files {
                    if old.job_names.iter().any(|n| names.contains(n)) && paths.insert(path.clone())
                    {
                        old_names.extend(old.job_names.iter().cloned());
                        to_read.push(path.clone());
                    }
                }
            }
            if to_read.is_empty() {
                break;
            }
        }
        reports.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Partial {
            desired: assemble(reports, Vec::new()),
            paths,
            old_names,
            ignored,
        })
    }

    /// Takes in what a pass over changed entries loaded: their reports replace the old ones.
    pub fn absorb(&mut self, partial: &Partial) {
        self.note_referenced_files(&partial.desired);
        for path in &partial.paths {
            self.files.remove(path);
        }
        for f in &partial.desired.files {
            self.files.insert(f.path.clone(), Seen::of(f));
        }
        for (path, reason) in &partial.ignored {
            match reason {
                Some(r) => {
                    self.ignored.insert(path.clone(), r);
                }
                None => {
                    self.ignored.remove(path);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::cache::tests::bytes_read_by_this_thread;
    use crate::jobs::load_dir_cached;

    fn ctx() -> Context {
        Context {
            default_time_zone: "UTC".into(),
            ..Context::default()
        }
    }

    fn job(name: &str, schedule: &str) -> String {
        format!(
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: {name}}}\nspec:\n  schedule: \"{schedule}\"\n  collect: {{supportBundle: {{hostCollectors: [{{memory: {{}}}}]}}}}\n"
        )
    }

    /// What a view holds, comparable.
    fn contents(view: &DirView) -> (BTreeMap<PathBuf, Seen>, BTreeMap<PathBuf, &'static str>) {
        (view.files.clone(), view.ignored.clone())
    }

    /// Each file's diagnostics, rendered.
    fn diagnostics<'a>(
        reports: impl Iterator<Item = &'a FileReport>,
    ) -> BTreeMap<PathBuf, Vec<String>> {
        reports
            .map(|f| {
                (
                    f.path.clone(),
                    f.diagnostics.iter().map(ToString::to_string).collect(),
                )
            })
            .collect()
    }

    struct Dir {
        tmp: tempfile::TempDir,
        cache: FileCache,
        view: DirView,
    }

    impl Dir {
        fn new(files: &[(&str, String)]) -> Dir {
            let tmp = tempfile::tempdir().expect("tempdir");
            for (name, text) in files {
                std::fs::write(tmp.path().join(name), text).expect("write");
            }
            let mut cache = FileCache::default();
            let desired = load_dir_cached(tmp.path(), &ctx(), &mut cache).expect("load");
            let view = DirView::from_desired(&desired);
            Dir { tmp, cache, view }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.tmp.path().join(name)
        }

        /// A pass over `changed` (file names), checked against a whole pass: the view it leaves
        /// is the whole pass's, and its jobs are the whole pass's jobs of the affected files.
        fn pass(&mut self, changed: &[&str]) -> Partial {
            let changed: BTreeSet<PathBuf> = changed.iter().map(|n| self.path(n)).collect();
            let partial = self
                .view
                .load_changed(self.tmp.path(), &changed, &ctx(), &mut self.cache)
                .expect("partial pass");
            self.view.absorb(&partial);
            let whole = crate::jobs::load_dir(self.tmp.path(), &ctx()).expect("load");
            assert_eq!(
                contents(&self.view),
                contents(&DirView::from_desired(&whole)),
                "the view after a partial pass is the whole pass's"
            );
            let expected: BTreeMap<&String, &crate::jobs::SpecHash> = whole
                .jobs
                .values()
                .filter(|j| partial.paths.contains(&j.source.file))
                .map(|j| (&j.name, &j.spec_hash))
                .collect();
            let got: BTreeMap<&String, &crate::jobs::SpecHash> = partial
                .desired
                .jobs
                .values()
                .map(|j| (&j.name, &j.spec_hash))
                .collect();
            assert_eq!(got, expected, "jobs of the affected files");
            assert_eq!(
                diagnostics(partial.desired.files.iter()),
                diagnostics(
                    whole
                        .files
                        .iter()
                        .filter(|f| partial.paths.contains(&f.path))
                ),
                "diagnostics of the affected files"
            );
            partial
        }
    }

    #[test]
    fn an_edit_among_many_files_reads_that_file_only() {
        let files: Vec<(String, String)> = (0..300)
            .map(|i| {
                (
                    format!("j{i:03}.yaml"),
                    job(&format!("j{i:03}"), "0 2 * * *"),
                )
            })
            .collect();
        let refs: Vec<(&str, String)> =
            files.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
        let mut dir = Dir::new(&refs);
        let edited = job("j150", "5 3 * * *");
        std::fs::write(dir.path("j150.yaml"), &edited).expect("write");
        let changed = BTreeSet::from([dir.path("j150.yaml")]);
        let before = bytes_read_by_this_thread();
        let partial = dir
            .view
            .load_changed(dir.tmp.path(), &changed, &ctx(), &mut dir.cache)
            .expect("partial pass");
        let read = bytes_read_by_this_thread() - before;
        let size = edited.len() as u64;
        assert!(
            read >= size && read < 3 * size,
            "reads the edited file ({size} bytes) and nothing else: {read} bytes read"
        );
        assert_eq!(partial.paths, changed);
        assert_eq!(
            partial.desired.jobs["j150"]
                .timeline
                .schedule()
                .map(|s| s.expression())
                .unwrap_or_default(),
            "5 3 * * *"
        );
        assert_eq!(partial.old_names, BTreeSet::from(["j150".to_string()]));
        dir.view.absorb(&partial);
        // And the checks of a whole pass agree.
        dir.pass(&[]);
    }

    #[test]
    fn renames_deletes_and_ignored_entries_match_a_whole_pass() {
        let mut dir = Dir::new(&[
            ("a.yaml", job("a", "0 1 * * *")),
            ("b.yaml", job("b", "0 2 * * *")),
            ("notes.md", "hello".into()),
        ]);
        // Rename over, as editors and Ansible do: the temp file and the target both change.
        std::fs::write(dir.path(".a.yaml.tmp"), job("a", "9 1 * * *")).expect("write");
        std::fs::rename(dir.path(".a.yaml.tmp"), dir.path("a.yaml")).expect("rename");
        let p = dir.pass(&[".a.yaml.tmp", "a.yaml"]);
        assert_eq!(
            p.desired.jobs["a"]
                .timeline
                .schedule()
                .map(|s| s.expression())
                .unwrap_or_default(),
            "9 1 * * *"
        );
        // A rename to another name: the job moves.
        std::fs::rename(dir.path("b.yaml"), dir.path("b2.yaml")).expect("rename");
        let p = dir.pass(&["b.yaml", "b2.yaml"]);
        assert_eq!(p.desired.jobs["b"].source.file, dir.path("b2.yaml"));
        // A delete.
        std::fs::remove_file(dir.path("b2.yaml")).expect("rm");
        let p = dir.pass(&["b2.yaml"]);
        assert!(p.desired.jobs.is_empty());
        assert_eq!(p.old_names, BTreeSet::from(["b".to_string()]));
        // An ignored entry becomes a job file and back; a dangling symlink is reported.
        std::fs::rename(dir.path("notes.md"), dir.path("notes.yaml")).expect("rename");
        dir.pass(&["notes.md", "notes.yaml"]);
        std::os::unix::fs::symlink(dir.path("nowhere.yaml"), dir.path("link.yaml"))
            .expect("symlink");
        dir.pass(&["link.yaml"]);
        std::fs::write(dir.path("notes.txt"), "x").expect("write");
        dir.pass(&["notes.txt"]);
    }

    #[test]
    fn a_name_clash_with_an_untouched_file_rejects_both_and_its_end_frees_both() {
        let mut dir = Dir::new(&[
            ("a.yaml", job("x", "0 1 * * *")),
            ("b.yaml", job("b", "0 2 * * *")),
            (
                "c.yaml",
                format!("{}---\n{}", job("c", "0 3 * * *"), job("d", "0 4 * * *")),
            ),
            ("d.yaml", job("d2", "0 5 * * *")),
        ]);
        // b now also defines x: a (untouched) is read again and both are rejected.
        std::fs::write(dir.path("b.yaml"), job("x", "0 2 * * *")).expect("write");
        let p = dir.pass(&["b.yaml"]);
        assert_eq!(
            p.paths,
            BTreeSet::from([dir.path("a.yaml"), dir.path("b.yaml")])
        );
        assert!(p.desired.jobs.is_empty());
        assert!(p.desired.files.iter().all(FileReport::is_rejected));
        assert_eq!(
            p.old_names,
            BTreeSet::from(["b".to_string(), "x".to_string()])
        );
        // d.yaml now defines d, which c also defines: the clash pulls in c (and the rejected
        // a and b are looked at again, as every rejected file is); fixing b frees a.
        std::fs::write(dir.path("d.yaml"), job("d", "0 5 * * *")).expect("write");
        let p = dir.pass(&["d.yaml"]);
        assert_eq!(
            p.paths,
            ["a.yaml", "b.yaml", "c.yaml", "d.yaml"]
                .map(|n| dir.path(n))
                .into()
        );
        std::fs::write(dir.path("b.yaml"), job("b", "0 2 * * *")).expect("write");
        let p = dir.pass(&["b.yaml"]);
        assert_eq!(
            p.desired.jobs.keys().collect::<Vec<_>>(),
            ["b", "x"],
            "both files valid again"
        );
        std::fs::remove_file(dir.path("d.yaml")).expect("rm");
        let p = dir.pass(&["d.yaml"]);
        assert_eq!(p.desired.jobs.keys().collect::<Vec<_>>(), ["c", "d"]);
    }

    #[test]
    fn a_rejected_file_is_looked_at_again_when_another_entry_changes() {
        let spec = "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {name: s}\nspec:\n  hostCollectors: [{memory: {}}]\n";
        let with_spec = "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {name: a}\nspec:\n  schedule: \"0 2 * * *\"\n  collect: {specs: [./spec.json]}\n";
        let mut dir = Dir::new(&[("a.yaml", with_spec.to_string())]);
        assert!(dir.view.files.values().all(|f| f.rejected), "spec missing");
        assert_eq!(dir.view.accepted_count(), 0);
        // The spec appears (an ignored entry): the rejected file is read again and is valid.
        std::fs::write(dir.path("spec.json"), spec).expect("write");
        let p = dir.pass(&["spec.json"]);
        assert_eq!(p.desired.jobs.keys().collect::<Vec<_>>(), ["a"]);
        // Now a job references it: a change to it needs a whole pass.
        let err = dir
            .view
            .load_changed(
                dir.tmp.path(),
                &BTreeSet::from([dir.path("spec.json")]),
                &ctx(),
                &mut dir.cache,
            )
            .expect_err("whole pass");
        assert_eq!(err, NeedsWholePass::SpecFile);
    }

    #[test]
    fn configmap_entries_and_foreign_paths_need_a_whole_pass() {
        let dir = Dir::new(&[("a.yaml", job("a", "0 1 * * *"))]);
        let mut cache = FileCache::default();
        for (changed, why) in [
            (dir.path("..data"), NeedsWholePass::ConfigMap),
            (dir.tmp.path().to_path_buf(), NeedsWholePass::NotAnEntry),
            (
                PathBuf::from("/elsewhere/a.yaml"),
                NeedsWholePass::NotAnEntry,
            ),
        ] {
            let err = dir
                .view
                .load_changed(
                    dir.tmp.path(),
                    &BTreeSet::from([changed.clone()]),
                    &ctx(),
                    &mut cache,
                )
                .expect_err("whole pass");
            assert_eq!(err, why, "{changed:?}");
        }
    }

    #[test]
    fn a_symlinked_job_file_is_read_again_when_what_it_points_to_changes() {
        let mut dir = Dir::new(&[
            (".target.yaml", job("a", "0 1 * * *")),
            ("b.yaml", job("b", "0 2 * * *")),
        ]);
        std::os::unix::fs::symlink(".target.yaml", dir.path("a.yaml")).expect("symlink");
        let p = dir.pass(&["a.yaml"]);
        assert_eq!(p.desired.jobs.keys().collect::<Vec<_>>(), ["a"]);
        // Only the entry the agent ignores changes, in place: the link's job changes with it.
        std::fs::write(dir.path(".target.yaml"), job("c", "0 3 * * *")).expect("write");
        let p = dir.pass(&[".target.yaml"]);
        assert_eq!(p.desired.jobs.keys().collect::<Vec<_>>(), ["c"]);
        assert_eq!(p.old_names, BTreeSet::from(["a".to_string()]));
        // It points to a directory (ignored), then to a file again, with no event for the link.
        std::fs::remove_file(dir.path(".target.yaml")).expect("rm");
        std::fs::create_dir(dir.path(".target.yaml")).expect("mkdir");
        let p = dir.pass(&[".target.yaml"]);
        assert!(p.desired.jobs.is_empty());
        std::fs::remove_dir(dir.path(".target.yaml")).expect("rmdir");
        std::fs::write(dir.path(".target.yaml"), job("d", "0 3 * * *")).expect("write");
        let p = dir.pass(&[".target.yaml"]);
        assert_eq!(p.desired.jobs.keys().collect::<Vec<_>>(), ["d"]);
    }

    #[test]
    fn a_spec_file_outside_the_directory_that_changed_needs_a_whole_pass() {
        let specs = tempfile::tempdir().expect("tempdir");
        let spec = specs.path().join("s.yaml");
        let text = |collector: &str| {
            format!(
                "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {{name: s}}\nspec:\n  hostCollectors: [{{{collector}: {{}}}}]\n"
            )
        };
        std::fs::write(&spec, text("cpu")).expect("write");
        let with_spec = format!(
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: a}}\nspec:\n  schedule: \"0 2 * * *\"\n  collect: {{specs: [{}]}}\n",
            spec.display()
        );
        let whole_pass = |dir: &mut Dir, entry: &str| {
            dir.view
                .load_changed(
                    dir.tmp.path(),
                    &BTreeSet::from([dir.path(entry)]),
                    &ctx(),
                    &mut dir.cache,
                )
                .expect_err("whole pass")
        };
        let mut dir = Dir::new(&[("a.yaml", with_spec)]);
        assert_eq!(dir.view.accepted_count(), 1);
        // Other changes are read alone while it stays as the job read it...
        std::fs::write(dir.path("b.yaml"), job("b", "0 2 * * *")).expect("write");
        dir.pass(&["b.yaml"]);
        // ...until it changes, with no event in the jobs directory.
        std::fs::write(&spec, text("memory")).expect("edit spec");
        assert_eq!(whole_pass(&mut dir, "b.yaml"), NeedsWholePass::SpecFile);
        assert_eq!(whole_pass(&mut dir, "c.yaml"), NeedsWholePass::SpecFile);
    }

    #[test]
    fn a_secret_file_whose_permissions_changed_needs_a_whole_pass() {
        use std::os::unix::fs::PermissionsExt;
        let secrets = tempfile::tempdir().expect("tempdir");
        let secret = secrets.path().join("token");
        std::fs::write(&secret, "t\n").expect("write");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        // Older than the cache's racy window, so its stamp stands for what the job was judged on.
        std::thread::sleep(std::time::Duration::from_millis(2_100));
        let with_secret = format!(
            "{}  upload:\n    - http: {{url: \"https://127.0.0.1:9/b\", bearerToken: {{fromFile: \"{}\"}}}}\n",
            job("a", "0 2 * * *"),
            secret.display()
        );
        let mut dir = Dir::new(&[("a.yaml", with_secret)]);
        assert_eq!(dir.view.accepted_count(), 1);
        std::fs::write(dir.path("b.yaml"), job("b", "0 2 * * *")).expect("write");
        dir.pass(&["b.yaml"]);
        // Readable and writable by everyone now: a whole pass rejects the job file.
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let err = dir
            .view
            .load_changed(
                dir.tmp.path(),
                &BTreeSet::from([dir.path("c.yaml")]),
                &ctx(),
                &mut dir.cache,
            )
            .expect_err("whole pass");
        assert_eq!(err, NeedsWholePass::SpecFile);
    }
}
