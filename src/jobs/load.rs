//! Reading one job file: bytes → text → YAML documents → typed, validated jobs.

use super::model::JobDocument;
use super::salvage;
use super::selection;
use super::validate::{self, Context, LoadCache};
use super::{Definition, Job, defaults};
use crate::diagnostic::{Diagnostic, SourceText};
use crate::trust;
use crate::yaml::{self, Loc, Node, Value};
use serde::Serialize;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Job files larger than this are refused: a schedule is a few lines, and troubleshoot specs
/// (which can be large) live in their own files referenced from `collect.specs`.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The outcome of reading one file.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// The jobs it defines (only when it has no errors); loading a directory or paths moves
    /// them into [`super::Desired::jobs`], so there this is empty.
    #[serde(skip)]
    pub jobs: Vec<Arc<Job>>,
    /// Names of the jobs it defines, valid or not (so a rejected file still says what it holds).
    pub job_names: Vec<String>,
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl FileReport {
    fn failed(path: &Path, diagnostics: Vec<Diagnostic>) -> Self {
        FileReport {
            path: path.to_path_buf(),
            jobs: Vec::new(),
            job_names: Vec::new(),
            diagnostics,
        }
    }

    /// Whether any error keeps this file from being applied.
    pub fn is_rejected(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads and validates the job file at `path`.
pub fn load_file(path: &Path, ctx: &Context, cache: &mut LoadCache) -> FileReport {
    load_file_as(path, path, ctx, cache)
}

/// Reads the job file `content` and validates it as if it stood at `path`: reports name `path`
/// and relative spec paths resolve from its directory (`validate --as`, for the temp file
/// Ansible and Puppet validate before they put it in place).
pub fn load_file_as(
    path: &Path,
    content: &Path,
    ctx: &Context,
    cache: &mut LoadCache,
) -> FileReport {
    // The findings about reading `content` are the file's: they name `path` like the others
    // (their messages name the file or directory at fault).
    let at_path = |mut diagnostics: Vec<Diagnostic>| {
        for d in &mut diagnostics {
            d.file = path.to_path_buf();
        }
        diagnostics
    };
    let stands = if content == path {
        Stands::Read
    } else {
        Stands::ToolTemp
    };
    let (text, mut warnings) = match read_text(content, stands, &ctx.trust, &mut cache.walk) {
        Ok((text, findings)) => (text, at_path(findings)),
        Err(errors) => return FileReport::failed(path, at_path(errors)),
    };
    if stands == Stands::ToolTemp {
        // The agent will read the file at `path`: the directories there must be trusted too.
        warnings.extend(target_dir_findings(path, &ctx.trust));
    }
    let mut report = load_text(path, &text, ctx, cache);
    report.diagnostics.splice(0..0, warnings);
    report
}

/// Where a file being read stands, for its ownership and permission findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stands {
    /// Where the agent reads it: every problem counts.
    Read,
    /// A config-management tool's temp file (`validate --as`). Ansible's lives in the home of the
    /// user it logs in as when it becomes root over SSH (`~deploy/.ansible/tmp/...`): who owns
    /// the directories above it is the tool's business (that user runs the tool with root's
    /// rights anyway). A directory or file others could write is still refused: they could
    /// change the content between the check and the move.
    ToolTemp,
}

/// Whether `p` is about the owner of a directory (not of the file itself, not a mode).
fn is_directory_owner(p: &trust::Problem) -> bool {
    matches!(p, trust::Problem::Owner { path, .. } if path.is_dir())
}

/// Ownership and permission findings of the directories above `path` (none when it does not
/// exist yet: the tool creates it, and the agent checks it when it reads the file).
fn target_dir_findings(path: &Path, policy: &trust::Policy) -> Vec<Diagnostic> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    trust::check_dir(dir, policy)
        .map(|problems| {
            (problems.iter())
                .map(|p| p.to_diagnostic(path, policy))
                .collect()
        })
        .unwrap_or_default()
}

/// Validates `text`, the content of the job file at `path` (already read, see [`read_text`]).
pub fn load_text(path: &Path, text: &str, ctx: &Context, cache: &mut LoadCache) -> FileReport {
    // One line index for every diagnostic of the file (there can be one per key or item).
    let text = &SourceText::new(text);
    let mut report = FileReport {
        path: path.to_path_buf(),
        jobs: Vec::new(),
        job_names: Vec::new(),
        diagnostics: Vec::new(),
    };
    let documents = match yaml::parse_documents(text) {
        Ok(docs) => docs,
        Err(e) => {
            report.diagnostics.push(
                Diagnostic::error(
                    path,
                    e.loc.unwrap_or_default(),
                    format!("invalid YAML: {}", e.message),
                )
                .with_source(text),
            );
            return report;
        }
    };
    if documents.is_empty() {
        report.diagnostics.push(
            Diagnostic::error(path, Loc::default(), "the file has no YAML documents (it is empty or only comments)")
                .with_hint(format!(
                    "a job file holds `apiVersion: {}` / `kind: {}` documents; remove the file if it is not meant to define jobs",
                    defaults::API_VERSION,
                    defaults::KIND
                )),
        );
        return report;
    }
    for (index, node) in documents.iter().enumerate() {
        let source = super::Source {
            file: path.to_path_buf(),
            document: index,
            line: node.loc.line,
        };
        if super::set::is_set(node) {
            load_set(
                path,
                text,
                node,
                &source,
                &documents,
                ctx,
                cache,
                &mut report,
            );
            continue;
        }
        let mut diagnostics = Vec::new();
        load_document(
            path,
            text,
            node,
            &source,
            ctx,
            cache,
            &mut report,
            &mut diagnostics,
        );
        report.diagnostics.extend(diagnostics);
    }
    duplicate_names(path, text, &documents, &mut report.diagnostics);
    if report.is_rejected() {
        report.jobs.clear();
    }
    cap_errors(&mut report.diagnostics, path);
    report
}

/// Expands the `SupportBundleScheduleSet` `node` and reads each job it makes into `report` (the
/// set's findings, and each mistake of its template once).
#[allow(clippy::too_many_arguments)]
fn load_set(
    path: &Path,
    text: &SourceText<'_>,
    node: &Node,
    source: &super::Source,
    documents: &[Node],
    ctx: &Context,
    cache: &mut LoadCache,
    report: &mut FileReport,
) {
    let mut diagnostics = Vec::new();
    let expansion = super::set::expand(path, text, node, &mut diagnostics);
    if let Some(probe) = &expansion.probe {
        let mut scratch = FileReport {
            path: path.to_path_buf(),
            jobs: Vec::new(),
            job_names: Vec::new(),
            diagnostics: Vec::new(),
        };
        let mut more = Vec::new();
        load_document(
            path,
            text,
            probe,
            source,
            ctx,
            cache,
            &mut scratch,
            &mut more,
        );
        diagnostics.extend(more);
    }
    for job in &expansion.jobs {
        let name = job.locate(&["metadata", "name"]).scalar_text();
        let elsewhere = (documents.iter())
            .filter(|d| !super::set::is_set(d))
            .any(|d| d.locate(&["metadata", "name"]).as_str() == Some(name.as_str()));
        if elsewhere || report.job_names.contains(&name) {
            let at = node.locate(&["metadata", "name"]).loc;
            diagnostics.push(
                Diagnostic::error(
                    path,
                    at,
                    format!("the set makes job `{name}`, which this file already defines"),
                )
                .with_hint(
                    "rename the set or the job: job names are unique across the jobs directory",
                )
                .with_source(text),
            );
            continue;
        }
        let mut more = Vec::new();
        load_document(path, text, job, source, ctx, cache, report, &mut more);
        // A mistake in the template shows once, not once per generated job.
        for d in more {
            if !diagnostics.iter().any(|seen| same_finding(seen, &d)) {
                diagnostics.push(d);
            }
        }
    }
    diagnostics.sort_by_key(|d| (d.line, d.column));
    report.diagnostics.extend(diagnostics);
}

/// Reads and checks one job document into `report` (its findings into `diagnostics`).
#[allow(clippy::too_many_arguments)]
fn load_document(
    path: &Path,
    text: &SourceText<'_>,
    node: &Node,
    source: &super::Source,
    ctx: &Context,
    cache: &mut LoadCache,
    report: &mut FileReport,
    diagnostics: &mut Vec<Diagnostic>,
) {
    {
        {
            match typed_document(path, text, node, diagnostics) {
                Typed::Read(doc) => {
                    report.job_names.push(doc.metadata.name.clone());
                    if let Some(job) =
                        validate::check(doc, node, source, text, ctx, cache, diagnostics)
                    {
                        // Valid, but another mode's agent runs it: said, and left out.
                        match ctx.selection.warning(&job, path, node, text) {
                            Some(warning) => diagnostics.push(warning),
                            None if ctx.selection == super::Selection::Node => {
                                diagnostics
                                    .extend(selection::shared_key_errors(&job, path, node, text));
                                report.jobs.push(Arc::new(job));
                            }
                            None => report.jobs.push(Arc::new(job)),
                        }
                    }
                }
                Typed::Rejected(repaired) => {
                    if let Some(name) = job_name_of_rejected(node) {
                        // A job document with an error in it still defines its name: the file says
                        // what it holds, and a clash with another file is still found.
                        report.job_names.push(name.to_string());
                    }
                    if let Some((doc, tree)) = repaired {
                        // The rest of the document read once its bad entries were taken out: check
                        // it like a good one, so its other mistakes show in this run too.
                        let mut more = Vec::new();
                        let _ = validate::check(doc, &tree, source, text, ctx, cache, &mut more);
                        for d in more {
                            if !diagnostics.iter().any(|seen| same_finding(seen, &d)) {
                                diagnostics.push(d);
                            }
                        }
                    }
                    diagnostics.sort_by_key(|d| (d.line, d.column));
                }
            }
        }
    }
}

/// An error for each job name defined twice in one file.
fn duplicate_names(
    path: &Path,
    text: &SourceText<'_>,
    documents: &[Node],
    out: &mut Vec<Diagnostic>,
) {
    // By name, so that a file of many small documents is checked in one pass.
    let mut seen: HashMap<&str, Loc> = HashMap::new();
    for (index, node) in documents.iter().enumerate() {
        let Some(name_node) = node.get("metadata").and_then(|m| m.get("name")) else {
            continue;
        };
        let Some(name) = name_node.as_str() else {
            continue;
        };
        if let Some(first) = seen.get(name) {
            out.push(
                Diagnostic::error(
                    path,
                    name_node.loc,
                    format!("job `{name}` is defined twice in this file (first at line {}, again in document {})", first.line, index + 1),
                )
                .with_hint("job names must be unique across the jobs directory; rename one")
                .with_source(text),
            );
        } else {
            seen.insert(name, name_node.loc);
        }
    }
}

/// At most this many errors are listed per file; a file with more (usually a document that is
/// not a job file at all) ends with one "and N more".
pub const MAX_ERRORS_PER_FILE: usize = 20;

fn cap_errors(diagnostics: &mut Vec<Diagnostic>, path: &Path) {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    if errors <= MAX_ERRORS_PER_FILE {
        return;
    }
    let mut kept = 0;
    diagnostics.retain(|d| {
        if !d.is_error() {
            return true;
        }
        kept += 1;
        kept <= MAX_ERRORS_PER_FILE
    });
    diagnostics.push(
        Diagnostic::error(
            path,
            Loc::default(),
            format!(
                "and {} more error(s) in this file",
                errors - MAX_ERRORS_PER_FILE
            ),
        )
        .with_hint("fix the errors above and run validate again"),
    );
}

/// Whether two diagnostics say the same thing at the same place.
fn same_finding(a: &Diagnostic, b: &Diagnostic) -> bool {
    (a.line, a.column, &a.message) == (b.line, b.column, &b.message)
}

/// A document read as a job, or rejected.
enum Typed {
    /// It reads as a [`JobDocument`].
    Read(JobDocument),
    /// It does not; the errors are reported. When taking the bad entries out let the rest read,
    /// that document and the repaired tree, for the remaining checks.
    Rejected(Option<(JobDocument, Node)>),
}

/// The file's text and what is wrong with its ownership or permissions (errors, or warnings
/// under `--insecure-allow-writable`), or the errors that say why it cannot be read as a job
/// file at all.
///
/// A file another user could have written is still read and checked, so one `validate` names
/// every problem (its own and those of the specs it references); its errors keep its jobs from
/// being applied.
pub fn read_text(
    path: &Path,
    stands: Stands,
    policy: &trust::Policy,
    walk: &mut trust::Walk,
) -> Result<(String, Vec<Diagnostic>), Vec<Diagnostic>> {
    let whole = |message: String, hint: &str| {
        vec![Diagnostic::error(path, Loc::default(), message).with_hint(hint)]
    };
    let read = match trust::read(path, MAX_FILE_BYTES, &policy.lenient(), walk) {
        Ok(read) => read,
        Err(trust::ReadError::Io(e)) => return Err(vec![*io_error(path, &e)]),
        Err(trust::ReadError::Refused(problems)) => {
            return Err(problems
                .iter()
                .map(|p| match p {
                    trust::Problem::NotRegular {
                        kind: trust::FileKind::Directory,
                        ..
                    } => Diagnostic::error(path, Loc::default(), "is a directory, not a job file")
                        .with_hint("pass the directory itself to read the job files in it"),
                    trust::Problem::TooLarge { size, cap, .. } => Diagnostic::error(
                        path,
                        Loc::default(),
                        format!("file is {size} bytes; job files are limited to {cap} bytes"),
                    )
                    .with_hint("keep troubleshoot specs in their own files and reference them from `collect.specs`"),
                    other => other.to_diagnostic(path, policy),
                })
                .collect());
        }
    };
    let trust_findings = read
        .allowed
        .iter()
        .filter(|p| !(stands == Stands::ToolTemp && is_directory_owner(p)))
        .map(|p| p.to_diagnostic(path, policy))
        .collect();
    let bytes = read.bytes;
    if bytes.contains(&0) {
        return Err(whole(
            "binary file (contains NUL bytes), not YAML".into(),
            "job files are UTF-8 YAML text",
        ));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok((text, trust_findings)),
        Err(e) => {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let loc = text_loc(std::str::from_utf8(valid).unwrap_or_default());
            Err(vec![
                Diagnostic::error(path, loc, "file is not valid UTF-8")
                    .with_hint("save the file as UTF-8; YAML job files must be UTF-8 text"),
            ])
        }
    }
}

/// The line and column just past the end of `prefix`.
fn text_loc(prefix: &str) -> Loc {
    let line = prefix.matches('\n').count() + 1;
    let column = prefix.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Loc::new(
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

fn io_error(path: &Path, e: &io::Error) -> Box<Diagnostic> {
    let (message, hint) = match e.kind() {
        io::ErrorKind::NotFound => (
            "file not found (it may have been deleted while the directory was read)".to_string(),
            "if it was removed on purpose, its jobs are removed on the next reload",
        ),
        io::ErrorKind::PermissionDenied => (
            "permission denied".to_string(),
            "make the file readable by the user the agent runs as",
        ),
        _ if e.raw_os_error() == Some(40) => {
            ("symlink loop".to_string(), "point the link at a real file")
        }
        _ => (
            format!("cannot read: {e}"),
            "check the file and its permissions",
        ),
    };
    Box::new(Diagnostic::error(path, Loc::default(), message).with_hint(hint))
}

/// `metadata.name` of a document that is a job (right `apiVersion` and `kind`) but did not read
/// into a [`JobDocument`].
fn job_name_of_rejected(node: &Node) -> Option<&str> {
    let is_job = node.get("apiVersion").and_then(Node::as_str) == Some(defaults::API_VERSION)
        && node.get("kind").and_then(Node::as_str) == Some(defaults::KIND);
    if !is_job {
        return None;
    }
    node.get("metadata")?.get("name")?.as_str()
}

/// The document as a [`JobDocument`], or the located reasons it is not one.
fn typed_document(
    path: &Path,
    text: &SourceText<'_>,
    node: &Node,
    out: &mut Vec<Diagnostic>,
) -> Typed {
    let expected = format!(
        "expected a mapping with `apiVersion: {}`, `kind: {}`, `metadata` and `spec`",
        defaults::API_VERSION,
        defaults::KIND
    );
    if !matches!(node.value, Value::Map(_)) {
        out.push(
            Diagnostic::error(
                path,
                node.loc,
                format!("the document is {}; {expected}", node.kind_name()),
            )
            .with_source(text),
        );
        return Typed::Rejected(None);
    }
    let (kind_error, troubleshoot_kind) = check_kind(path, text, node, &expected);
    let version_error = check_api_version(path, text, node, &expected, troubleshoot_kind);
    let header_ok = kind_error.is_none() && version_error.is_none();
    let mut header: Vec<Diagnostic> = kind_error.into_iter().chain(version_error).collect();
    // Report in file order, whichever key comes first.
    header.sort_by_key(|d| (d.line, d.column));
    out.extend(header);
    if !header_ok {
        return Typed::Rejected(None);
    }
    match yaml::from_node::<JobDocument>(node) {
        Ok(doc) => Typed::Read(doc),
        Err(e) => {
            out.push(type_error(path, text, node, &e));
            let found = salvage::salvage::<JobDocument>(node, &e);
            out.extend(found.errors.iter().map(|e| type_error(path, text, node, e)));
            Typed::Rejected(found.repaired)
        }
    }
}

/// troubleshoot's own document kinds: a job file holding one gets a hint, not an apiVersion error.
const TROUBLESHOOT_KINDS: &[&str] = &[
    "SupportBundle",
    "Collector",
    "HostCollector",
    "Redactor",
    "Preflight",
    "HostPreflight",
];

/// The error about the document's `kind`, if any, and whether it is a troubleshoot spec's kind.
fn check_kind(
    path: &Path,
    text: &SourceText<'_>,
    node: &Node,
    expected: &str,
) -> (Option<Diagnostic>, bool) {
    match node.get("kind").map(|k| (k, k.as_str())) {
        Some((_, Some(defaults::KIND))) => (None, false),
        Some((k, Some(other))) => {
            let troubleshoot_kind = TROUBLESHOOT_KINDS.contains(&other);
            let hint = if troubleshoot_kind {
                format!(
                    "a troubleshoot `{other}` spec does not go in the jobs directory: keep it elsewhere and reference it from a job's `collect.specs` (or `redact.redactors`)"
                )
            } else {
                format!("job files use `kind: {}`", defaults::KIND)
            };
            let error = Diagnostic::error(path, k.loc, format!("unsupported kind `{other}`"))
                .with_hint(hint)
                .with_source(text);
            (Some(error), troubleshoot_kind)
        }
        Some((k, None)) => {
            let error = Diagnostic::error(
                path,
                k.loc,
                format!("`kind` must be a string, found {}", k.kind_name()),
            )
            .with_source(text);
            (Some(error), false)
        }
        None => {
            let error = Diagnostic::error(path, node.loc, format!("missing `kind`; {expected}"))
                .with_source(text);
            (Some(error), false)
        }
    }
}

/// The error about the document's `apiVersion`, if any (none for a troubleshoot spec's own).
fn check_api_version(
    path: &Path,
    text: &SourceText<'_>,
    node: &Node,
    expected: &str,
    troubleshoot_kind: bool,
) -> Option<Diagnostic> {
    match node.get("apiVersion").map(|k| (k, k.as_str())) {
        Some((_, Some(defaults::API_VERSION))) => None,
        // A troubleshoot spec's own apiVersion is right for it; the kind error says it all.
        Some(_) if troubleshoot_kind => None,
        Some((v, found)) => Some(
            Diagnostic::error(
                path,
                v.loc,
                format!(
                    "unsupported apiVersion `{}`",
                    found.map_or_else(|| v.scalar_text(), str::to_string)
                ),
            )
            .with_hint(format!(
                "job files use `apiVersion: {}`",
                defaults::API_VERSION
            ))
            .with_source(text),
        ),
        None => Some(
            Diagnostic::error(path, node.loc, format!("missing `apiVersion`; {expected}"))
                .with_source(text),
        ),
    }
}

fn type_error(path: &Path, text: &str, node: &Node, e: &yaml::DeError) -> Diagnostic {
    let mut d = Diagnostic::error(path, e.loc.unwrap_or(node.loc), e.message.clone())
        .with_path(e.path_string())
        .with_source(text);
    if let Some(s) = &e.suggestion {
        d = d.with_hint(format!("did you mean `{s}`?"));
    }
    d
}

/// Why a job kept from `applied.json` could not be rebuilt as it was applied.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// The stored definition does not read as a job any more (e.g. written by another version).
    #[error("its applied definition no longer validates: {0}")]
    Invalid(String),
    /// It reads, but not to the applied version: a referenced spec file changed since.
    #[error(
        "its applied version cannot be reproduced (a referenced spec file changed since it was applied: {expected} ≠ {found})"
    )]
    Changed {
        /// The hash in `applied.json`.
        expected: String,
        /// The hash of what was rebuilt.
        found: String,
    },
}

/// Rebuilds job `name` from the definition `applied.json` stored for it, as if it were still
/// written in `source` (spec paths resolve from there): the last good version of a job whose
/// file is now rejected, when the agent starts without it in memory.
///
/// The result is the applied job only when its definition hashes to `spec_hash`; referenced
/// spec files are read as they are now, so one edited since gives [`RebuildError::Changed`].
pub fn rebuild_applied(
    name: &str,
    source: &Path,
    definition: &Definition,
    spec_hash: &str,
    ctx: &Context,
) -> Result<Job, RebuildError> {
    let definition = &definition.value();
    let spec = definition
        .get("spec")
        .ok_or_else(|| RebuildError::Invalid("no `spec`".into()))?;
    let first = rebuild_once(name, source, definition, spec, spec_hash, ctx);
    // `timeZone` is in the definition whether the file set it or the agent's default applied;
    // in the second case it is not the file's, and it comes last in the definition.
    if let (Err(RebuildError::Changed { .. }), Some(zone)) = (
        &first,
        spec.get("timeZone").and_then(serde_json::Value::as_str),
    ) {
        let mut implicit = spec.clone();
        if let Some(map) = implicit.as_object_mut() {
            map.remove("timeZone");
        }
        let ctx = Context {
            default_time_zone: zone.to_string(),
            ..ctx.clone()
        };
        if let Ok(job) = rebuild_once(name, source, definition, &implicit, spec_hash, &ctx) {
            return Ok(job);
        }
    }
    first
}

fn rebuild_once(
    name: &str,
    source: &Path,
    definition: &serde_json::Value,
    spec: &serde_json::Value,
    spec_hash: &str,
    ctx: &Context,
) -> Result<Job, RebuildError> {
    let mut metadata = serde_json::Map::new();
    metadata.insert("name".into(), serde_json::Value::String(name.to_string()));
    if let Some(labels) = definition
        .get("labels")
        .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
    {
        metadata.insert("labels".into(), labels.clone());
    }
    let document = serde_json::json!({
        "apiVersion": defaults::API_VERSION,
        "kind": defaults::KIND,
        "metadata": metadata,
        "spec": spec,
    });
    // JSON is YAML: the stored definition goes through the loader's own checks.
    let text = serde_json::to_string_pretty(&document)
        .map_err(|e| RebuildError::Invalid(e.to_string()))?;
    let node = yaml::parse_documents(&text)
        .map_err(|e| RebuildError::Invalid(e.message))?
        .into_iter()
        .next()
        .ok_or_else(|| RebuildError::Invalid("empty definition".into()))?;
    let mut diagnostics = Vec::new();
    let errors = |diagnostics: &[Diagnostic]| {
        diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let text = SourceText::new(&text);
    let Typed::Read(doc) = typed_document(source, &text, &node, &mut diagnostics) else {
        return Err(RebuildError::Invalid(errors(&diagnostics)));
    };
    let src = super::Source {
        file: source.to_path_buf(),
        document: 0,
        line: 0,
    };
    let job = validate::check(
        doc,
        &node,
        &src,
        &text,
        ctx,
        &mut LoadCache::default(),
        &mut diagnostics,
    )
    .ok_or_else(|| RebuildError::Invalid(errors(&diagnostics)))?;
    if job.spec_hash != *spec_hash {
        return Err(RebuildError::Changed {
            expected: spec_hash.to_string(),
            found: job.spec_hash.to_string(),
        });
    }
    Ok(job)
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
