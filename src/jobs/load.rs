//! Reading one job file: bytes → text → YAML documents → typed, validated jobs.

use super::model::JobDocument;
use super::validate::{self, Context, LoadCache};
use super::{Job, defaults};
use crate::diagnostic::Diagnostic;
use crate::yaml::{self, Loc, Node, Value};
use serde::Serialize;
use std::io;
use std::path::{Path, PathBuf};

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
    pub jobs: Vec<Job>,
    /// Names of the jobs it defines, valid or not (so a rejected file still says what it holds).
    pub job_names: Vec<String>,
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl FileReport {
    fn failed(path: &Path, diagnostic: Diagnostic) -> Self {
        FileReport {
            path: path.to_path_buf(),
            jobs: Vec::new(),
            job_names: Vec::new(),
            diagnostics: vec![diagnostic],
        }
    }

    /// Whether any error keeps this file from being applied.
    pub fn is_rejected(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads and validates the job file at `path`.
pub fn load_file(path: &Path, ctx: &Context, cache: &mut LoadCache) -> FileReport {
    let text = match read_text(path) {
        Ok(text) => text,
        Err(d) => return FileReport::failed(path, *d),
    };
    let mut report = FileReport {
        path: path.to_path_buf(),
        jobs: Vec::new(),
        job_names: Vec::new(),
        diagnostics: Vec::new(),
    };
    let documents = match yaml::parse_documents(&text) {
        Ok(docs) => docs,
        Err(e) => {
            report.diagnostics.push(
                Diagnostic::error(
                    path,
                    e.loc.unwrap_or_default(),
                    format!("invalid YAML: {}", e.message),
                )
                .with_source(&text),
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
        let mut diagnostics = Vec::new();
        let typed = typed_document(path, &text, node, &mut diagnostics);
        if typed.is_none()
            && let Some(name) = job_name_of_rejected(node)
        {
            // A job document with an error in it still defines its name: the file says what it
            // holds, and a clash with another file is still found.
            report.job_names.push(name.to_string());
        }
        if let Some(doc) = typed {
            report.job_names.push(doc.metadata.name.clone());
            let source = super::Source {
                file: path.to_path_buf(),
                document: index,
                line: node.loc.line,
            };
            if let Some(job) =
                validate::check(doc, node, &source, &text, ctx, cache, &mut diagnostics)
            {
                report.jobs.push(job);
            }
        }
        report.diagnostics.extend(diagnostics);
    }
    let mut seen: Vec<(&str, Loc)> = Vec::new();
    for (index, node) in documents.iter().enumerate() {
        let Some(name_node) = node.get("metadata").and_then(|m| m.get("name")) else {
            continue;
        };
        let Some(name) = name_node.as_str() else {
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
            report.diagnostics.push(
                Diagnostic::error(
                    path,
                    name_node.loc,
                    format!("job `{name}` is defined twice in this file (first at line {}, again in document {})", first.line, index + 1),
                )
                .with_hint("job names must be unique across the jobs directory; rename one")
                .with_source(&text),
            );
        } else {
            seen.push((name, name_node.loc));
        }
    }
    if report.is_rejected() {
        report.jobs.clear();
    }
    report
}

/// The file's text, or the one error that says why it cannot be read as a job file.
pub fn read_text(path: &Path) -> Result<String, Box<Diagnostic>> {
    let whole = |message: String, hint: &str| {
        Box::new(Diagnostic::error(path, Loc::default(), message).with_hint(hint))
    };
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, &e))?;
    if meta.is_dir() {
        return Err(whole(
            "is a directory, not a job file".into(),
            "pass the directory itself to read the job files in it",
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(whole(
            format!(
                "file is {} bytes; job files are limited to {} bytes",
                meta.len(),
                MAX_FILE_BYTES
            ),
            "keep troubleshoot specs in their own files and reference them from `collect.specs`",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| io_error(path, &e))?;
    if bytes.contains(&0) {
        return Err(whole(
            "binary file (contains NUL bytes), not YAML".into(),
            "job files are UTF-8 YAML text",
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let loc = text_loc(std::str::from_utf8(valid).unwrap_or_default());
        Box::new(
            Diagnostic::error(path, loc, "file is not valid UTF-8")
                .with_hint("save the file as UTF-8; YAML job files must be UTF-8 text"),
        )
    })
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
    text: &str,
    node: &Node,
    out: &mut Vec<Diagnostic>,
) -> Option<JobDocument> {
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
        return None;
    }
    let mut header_ok = true;
    let mut header = Vec::new();
    let mut troubleshoot_kind = false;
    match node.get("kind").map(|k| (k, k.as_str())) {
        Some((_, Some(defaults::KIND))) => {}
        Some((k, Some(other))) => {
            header_ok = false;
            let hint = if [
                "SupportBundle",
                "Collector",
                "HostCollector",
                "Redactor",
                "Preflight",
                "HostPreflight",
            ]
            .contains(&other)
            {
                troubleshoot_kind = true;
                format!(
                    "a troubleshoot `{other}` spec does not go in the jobs directory: keep it elsewhere and reference it from a job's `collect.specs` (or `redact.redactors`)"
                )
            } else {
                format!("job files use `kind: {}`", defaults::KIND)
            };
            header.push(
                Diagnostic::error(path, k.loc, format!("unsupported kind `{other}`"))
                    .with_hint(hint)
                    .with_source(text),
            );
        }
        Some((k, None)) => {
            header_ok = false;
            header.push(
                Diagnostic::error(
                    path,
                    k.loc,
                    format!("`kind` must be a string, found {}", k.kind_name()),
                )
                .with_source(text),
            );
        }
        None => {
            header_ok = false;
            header.push(
                Diagnostic::error(path, node.loc, format!("missing `kind`; {expected}"))
                    .with_source(text),
            );
        }
    }
    match node.get("apiVersion").map(|k| (k, k.as_str())) {
        Some((_, Some(defaults::API_VERSION))) => {}
        // A troubleshoot spec's own apiVersion is right for it; the kind error says it all.
        Some(_) if troubleshoot_kind => {}
        Some((v, found)) => {
            header_ok = false;
            header.push(
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
            );
        }
        None => {
            header_ok = false;
            header.push(
                Diagnostic::error(path, node.loc, format!("missing `apiVersion`; {expected}"))
                    .with_source(text),
            );
        }
    }
    // Report in file order, whichever key comes first.
    header.sort_by_key(|d| (d.line, d.column));
    out.extend(header);
    if !header_ok {
        return None;
    }
    match yaml::from_node::<JobDocument>(node) {
        Ok(doc) => Some(doc),
        Err(e) => {
            let mut d = Diagnostic::error(path, e.loc.unwrap_or(node.loc), e.message.clone())
                .with_path(e.path_string())
                .with_source(text);
            if let Some(s) = &e.suggestion {
                d = d.with_hint(format!("did you mean `{s}`?"));
            }
            out.push(d);
            None
        }
    }
}
