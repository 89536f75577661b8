//! Job files: the model, discovery in a directory, parsing with locations, validation.
//!
//! The result of loading is [`Desired`]: the jobs the files ask for, plus every file's report
//! (rejected files included), which `plan` compares with what is applied.

mod cache;
mod chain;
pub(crate) mod defaults;
mod definition;
mod discover;
mod load;
pub mod model;
mod salvage;
mod selection;
pub mod set;
pub mod triggers;
mod validate;
pub mod validate_coverage;
mod view;

pub use crate::secret_ref::SecretRef;
pub use cache::FileCache;
pub use definition::{CompactJson, Definition, SpecHash};
pub use discover::{Ignored, ignore_reason};
pub use load::{FileReport, MAX_FILE_BYTES, RebuildError, rebuild_applied};
pub use model::JobDocument;
pub use selection::Selection;
use validate::LoadCache;
pub use validate::{Context, name_problem};
pub use view::{DirView, NeedsWholePass, Partial};

use crate::diagnostic::Diagnostic;
use crate::schedule::Timeline;
use crate::spec::TroubleshootSpec;
use crate::yaml::Loc;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a job was defined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The job file.
    pub file: PathBuf,
    /// 0-based document index in the file.
    pub document: usize,
    /// Line where the document starts.
    pub line: u32,
}

/// What a referenced spec file is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecRole {
    /// `collect.specs`.
    Collect,
    /// `redact.redactors`.
    Redact,
    /// `analyze.specs`.
    Analyze,
    /// `collect.values`: values for the v1beta3 templated specs.
    Values,
}

/// A troubleshoot spec file a job references, with the hash of its content at load time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SpecSource {
    /// Resolved path.
    pub path: PathBuf,
    /// Hex sha256 of the file.
    pub sha256: String,
    /// Why the job reads it.
    pub role: SpecRole,
    /// For a v1beta3 spec rendered with the job's values: hex sha256 of the rendered text
    /// (what the job's definition holds for it, so a change of values is a change of the job).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered_sha256: Option<String>,
    /// The rendered text (it may hold secrets from the values: never serialised), which the
    /// troubleshoot CLI engine is given in place of the file.
    #[serde(skip)]
    pub rendered: Option<crate::spec::RenderedText>,
}

/// A valid job, ready to schedule.
#[derive(Clone, Debug)]
pub struct Job {
    /// `metadata.name`.
    pub name: String,
    /// The document as written, with defaults filled in.
    pub document: JobDocument,
    /// What fires it by the clock: its cron schedule, its one-shot instant or nothing, within
    /// its active window.
    pub timeline: Timeline,
    /// Where it was defined.
    pub source: Source,
    /// Referenced spec files.
    pub spec_files: Vec<SpecSource>,
    /// The troubleshoot collectors, analyzers and redactors it runs.
    pub collection: TroubleshootSpec,
    /// Everything that defines the job's behaviour: what `plan` diffs and `applied.json`
    /// stores (shared with the applied state, not copied).
    pub definition: Arc<Definition>,
    /// Hex sha256 of `definition`.
    pub spec_hash: SpecHash,
    /// Where each `spec.after` entry is written (for errors found across files).
    pub after_locs: Vec<Loc>,
}

impl Job {
    /// The zone the schedule is read in (the job's, else the agent default), as chrono-tz
    /// names it. Read from the timeline rather than kept as text: the agent holds every job.
    pub fn time_zone(&self) -> &'static str {
        self.timeline.time_zone().name()
    }

    /// The job's bundle retention as the state module applies it (periods in the schedule's
    /// zone).
    pub fn retention_policy(&self) -> crate::state::retention::Policy {
        let r = &self.document.spec.retention;
        crate::state::retention::Policy {
            keep_last: r.keep_last,
            keep_periods: r.keep_periods(),
            max_age: r.max_age.map(|d| d.0),
            max_total_size: r.max_total_size.map(|s| s.0),
            zone: self.timeline.time_zone(),
        }
    }

    fn new(
        document: JobDocument,
        time_zone: String,
        timeline: Timeline,
        source: Source,
        spec_files: Vec<SpecSource>,
        collection: TroubleshootSpec,
    ) -> Self {
        let definition = Definition::from_value(&definition(&document, &time_zone, &spec_files));
        let spec_hash = definition.hash();
        Job {
            name: document.metadata.name.clone(),
            document,
            timeline,
            source,
            spec_files,
            collection,
            definition: Arc::new(definition),
            spec_hash,
            after_locs: Vec::new(),
        }
    }
}

/// The job's definition: its metadata and spec with the zone resolved, plus the content hash of
/// every referenced spec file (so editing a spec file is a change to the job).
fn definition(
    document: &JobDocument,
    time_zone: &str,
    spec_files: &[SpecSource],
) -> serde_json::Value {
    let mut spec = serde_json::to_value(&document.spec).unwrap_or_default();
    if let Some(map) = spec.as_object_mut() {
        map.insert(
            "timeZone".into(),
            serde_json::Value::String(time_zone.to_string()),
        );
    }
    hash_set_values(&mut spec);
    let files: serde_json::Map<String, serde_json::Value> = spec_files
        .iter()
        .map(|f| {
            let hash = f.rendered_sha256.as_ref().unwrap_or(&f.sha256);
            (
                f.path.display().to_string(),
                serde_json::Value::String(hash.clone()),
            )
        })
        .collect();
    serde_json::json!({
        "labels": document.metadata.labels,
        "spec": spec,
        "specFiles": files,
    })
}

/// `collect.set` values may be secrets: the definition (shown by `plan`, kept in the state
/// directory) holds their hashes only, so a change is still a change of the job.
fn hash_set_values(spec: &mut serde_json::Value) {
    let Some(set) = spec
        .pointer_mut("/collect/set")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    for value in set.values_mut() {
        let hash = crate::digest::sha256_hex(value.to_string().as_bytes());
        *value = serde_json::Value::String(format!("sha256:{hash}"));
    }
}

/// What the job files ask for.
#[derive(Clone, Debug, Default)]
pub struct Desired {
    /// Valid jobs by name (from files without errors).
    pub jobs: BTreeMap<String, Arc<Job>>,
    /// Every file read, in path order.
    pub files: Vec<FileReport>,
    /// Directory entries skipped on purpose.
    pub ignored: Vec<Ignored>,
}

impl Desired {
    /// Files with at least one error.
    pub fn rejected(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| f.is_rejected())
    }

    /// Every diagnostic of every file, each once: a spec file shared by many jobs reports its
    /// problems through every job that references it.
    pub fn diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        let mut seen = std::collections::HashSet::new();
        self.files
            .iter()
            .flat_map(|f| f.diagnostics.iter())
            .filter(move |d| seen.insert((&d.file, d.line, d.column, &d.message)))
    }

    /// Whether any file has an error.
    pub fn has_errors(&self) -> bool {
        self.rejected().next().is_some()
    }
}

/// Why a jobs directory could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The directory does not exist.
    #[error("jobs directory {0} does not exist; create it or point --jobs-dir at the right place")]
    Missing(PathBuf),
    /// It is a file.
    #[error("jobs directory {0} is not a directory")]
    NotADirectory(PathBuf),
    /// Listing failed.
    #[error("cannot read jobs directory {path}: {source}")]
    Unreadable {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Loads every job file of the jobs directory `dir`.
pub fn load_dir(dir: &Path, ctx: &Context) -> Result<Desired, LoadError> {
    let (files, ignored) = read_dir_files(dir, ctx, None)?;
    Ok(assemble(files, ignored))
}

/// [`load_dir`] for a process that reloads the same directory again and again (the daemon):
/// unchanged files come from `cache`, which is updated. Same result as [`load_dir`].
pub fn load_dir_cached(
    dir: &Path,
    ctx: &Context,
    cache: &mut FileCache,
) -> Result<Desired, LoadError> {
    cache.judge_dir(dir, &ctx.trust);
    let (files, ignored) = read_dir_files(dir, ctx, Some(&mut *cache))?;
    let present: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    cache.retain(&present);
    Ok(assemble(files, ignored))
}

/// Every file report of `dir`, not yet checked against each other (see [`assemble`]).
fn read_dir_files(
    dir: &Path,
    ctx: &Context,
    file_cache: Option<&mut FileCache>,
) -> Result<(Vec<FileReport>, Vec<Ignored>), LoadError> {
    let listing = discover::list_dir(dir).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => LoadError::Missing(dir.to_path_buf()),
        std::io::ErrorKind::NotADirectory => LoadError::NotADirectory(dir.to_path_buf()),
        _ => LoadError::Unreadable {
            path: dir.to_path_buf(),
            source,
        },
    })?;
    let mut files = match file_cache {
        Some(cache) => cache.load_all(&listing.files, ctx),
        None => load_all(&listing.files, ctx),
    };
    for (path, err) in &listing.unreadable {
        files.push(FileReport {
            path: path.clone(),
            jobs: Vec::new(),
            job_names: Vec::new(),
            diagnostics: vec![unreadable_entry(path, err)],
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((files, listing.ignored))
}

/// Below this many files one thread reads them all: starting workers would cost more than it saves.
const PARALLEL_MIN_FILES: usize = 64;

/// Reads `paths` on every core, each worker with a [`LoadCache`] of its own; reports keep
/// `paths`' order.
fn load_all(paths: &[PathBuf], ctx: &Context) -> Vec<FileReport> {
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    if workers <= 1 || paths.len() < PARALLEL_MIN_FILES {
        let mut cache = LoadCache::default();
        return paths
            .iter()
            .map(|p| load::load_file(p, ctx, &mut cache))
            .collect();
    }
    let chunk = paths.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut own = LoadCache::default();
                    part.iter()
                        .map(|p| load::load_file(p, ctx, &mut own))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Validates `text` as the content of the job file `path`, already read (a file as
/// [`load_paths`] reads it, without the reader's checks: size cap, NUL bytes, UTF-8).
pub fn load_text(path: &Path, text: &str, ctx: &Context) -> FileReport {
    load::load_text(path, text, ctx, &mut LoadCache::default())
}

/// Loads the files and directories named on a command line (`validate PATH...`); a file is read
/// whatever its name, as Ansible's `validate: %s` passes a temp file.
pub fn load_paths(paths: &[PathBuf], ctx: &Context) -> Desired {
    let mut files = Vec::new();
    let mut ignored = Vec::new();
    let mut cache = LoadCache::default();
    for path in paths {
        // Files are put together once, below: assembling a directory here as well would report
        // a name clash twice (the second time without its location, as the first clears the jobs).
        if path.is_dir() {
            match read_dir_files(path, ctx, None) {
                Ok((dir_files, dir_ignored)) => {
                    files.extend(dir_files);
                    ignored.extend(dir_ignored);
                }
                Err(e) => files.push(FileReport {
                    path: path.clone(),
                    jobs: Vec::new(),
                    job_names: Vec::new(),
                    diagnostics: vec![Diagnostic::error(path, Loc::default(), e.to_string())],
                }),
            }
        } else if path.symlink_metadata().is_err() {
            // Named on the command line: "deleted while the directory was read" would mislead.
            files.push(FileReport {
                path: path.clone(),
                jobs: Vec::new(),
                job_names: Vec::new(),
                diagnostics: vec![
                    Diagnostic::error(path, Loc::default(), "no such file or directory")
                        .with_hint("check the path given to `validate`"),
                ],
            });
        } else {
            files.push(load::load_file(path, ctx, &mut cache));
        }
    }
    assemble(files, ignored)
}

/// Loads the job file `content` as if it stood at `at`, among the other job files of `at`'s
/// directory (which it replaces, if `at` exists): what the agent would see once the file is put
/// in place, including names that clash with another file. `validate --as AT TEMPFILE`.
pub fn load_as(at: &Path, content: &Path, ctx: &Context) -> Result<Desired, LoadError> {
    let dir = at
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (mut files, ignored) = if dir.is_dir() {
        read_dir_files(dir, ctx, None)?
    } else {
        (Vec::new(), Vec::new())
    };
    // The listing names entries `dir/<name>`; `at` is one of them when it exists.
    files.retain(|f| f.path.file_name() != at.file_name());
    let mut report = load::load_file_as(at, content, ctx, &mut LoadCache::default());
    if let Some(reason) = as_name_problem(at) {
        report.diagnostics.push(
            Diagnostic::warning(at, Loc::default(), reason)
                .with_hint("name job files `*.yaml` or `*.yml`, without a leading dot"),
        );
    }
    files.push(report);
    Ok(assemble(files, ignored))
}

/// Why the agent would not read a file at `at`, judging by its name.
fn as_name_problem(at: &Path) -> Option<String> {
    let name = at.file_name()?.to_string_lossy();
    if let Some(reason) = discover::ignore_reason(&name) {
        return Some(format!(
            "the agent does not read a file named like this ({reason})"
        ));
    }
    (!(name.ends_with(".yaml") || name.ends_with(".yml"))).then(|| {
        "the agent reads only `*.yaml` and `*.yml` files in the jobs directory".to_string()
    })
}

fn unreadable_entry(path: &Path, err: &std::io::Error) -> Diagnostic {
    let message = if err.raw_os_error() == Some(40) {
        "symlink loop".to_string()
    } else if err.kind() == std::io::ErrorKind::NotFound {
        "dangling symlink or file deleted while the directory was read".to_string()
    } else {
        format!("cannot read: {err}")
    };
    Diagnostic::error(path, Loc::default(), message)
}

/// Puts files together: names must be unique across files, and both files of a clash are rejected.
fn assemble(mut files: Vec<FileReport>, ignored: Vec<Ignored>) -> Desired {
    let mut owners: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        for name in &f.job_names {
            let list = owners.entry(name.clone()).or_default();
            if !list.contains(&i) {
                list.push(i);
            }
        }
    }
    for (name, owner_files) in owners.iter().filter(|(_, o)| o.len() > 1) {
        for &i in owner_files {
            let others: Vec<String> = owner_files
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| files[j].path.display().to_string())
                .collect();
            let loc = files[i]
                .jobs
                .iter()
                .find(|j| &j.name == name)
                .map_or(Loc::default(), |j| Loc::new(j.source.line, 1));
            let path = files[i].path.clone();
            files[i].diagnostics.push(
                Diagnostic::error(
                    &path,
                    loc,
                    format!("job `{name}` is also defined in {}", others.join(", ")),
                )
                .with_hint(
                    "job names must be unique across the jobs directory; rename or remove one",
                ),
            );
            files[i].jobs.clear();
        }
    }
    chain::check(&mut files);
    let mut jobs = BTreeMap::new();
    for f in &mut files {
        if !f.is_rejected() {
            // Shared, not copied: the file cache holds the same jobs.
            for job in std::mem::take(&mut f.jobs) {
                jobs.insert(job.name.clone(), job);
            }
        }
    }
    Desired {
        jobs,
        files,
        ignored,
    }
}

/// The JSON Schema of a job file, as written to `schemas/support-bundle-schedule.schema.json`.
pub fn schema_json() -> String {
    /// A job file document: a job, or a set of jobs.
    #[derive(schemars::JsonSchema)]
    #[serde(untagged)]
    #[schemars(title = "troubleshoot-agent job file document")]
    #[allow(dead_code)]
    enum FileDocument {
        Job(JobDocument),
        Set(set::SetDocument),
    }
    let schema = schemars::schema_for!(FileDocument);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::{Context, LoadCache, discover, load};

    #[test]
    fn a_file_deleted_between_listing_and_reading_is_reported_for_that_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["a.yaml", "b.yaml"] {
            std::fs::write(dir.path().join(name), "apiVersion: x\n").expect("write");
        }
        let listing = discover::list_dir(dir.path()).expect("list");
        assert_eq!(listing.files.len(), 2);
        let gone = &listing.files[0];
        std::fs::remove_file(gone).expect("delete after listing");

        let report = load::load_file(gone, &Context::default(), &mut LoadCache::default());
        assert!(report.is_rejected());
        assert_eq!(report.diagnostics.len(), 1, "{:?}", report.diagnostics);
        let d = &report.diagnostics[0];
        assert_eq!(&d.file, gone);
        assert_eq!((d.line, d.column), (0, 0));
        assert_eq!(
            d.message,
            "file not found (it may have been deleted while the directory was read)"
        );
        assert_eq!(
            d.hint.as_deref(),
            Some("if it was removed on purpose, its jobs are removed on the next reload")
        );
        // The other file is still read (and judged on its own content).
        let other = load::load_file(
            &listing.files[1],
            &Context::default(),
            &mut LoadCache::default(),
        );
        assert!(
            other.diagnostics.iter().all(|d| d.line > 0),
            "{:?}",
            other.diagnostics
        );
    }
}
