//! The troubleshoot spec model: `SupportBundle`, `Collector`, `HostCollector` and `Redactor` documents,
//! parsed once into located entries so every later check can point at a line.
//!
//! Collector and analyzer bodies stay JSON here; later work types the ones it runs.

mod body;
mod companion;
mod context;
mod document;
mod entries;
mod fields;
mod kinds;
mod load;
mod redactor;
mod render;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_lenient;

pub use companion::WRAPPED_SPEC_KEYS;
pub use document::{API_VERSIONS, DocKind};
pub use fields::{Field, Shape, fields_of, redactor_fields};
pub use kinds::{ANALYZER_KEYS, COLLECTOR_KEYS, HOST_ANALYZER_KEYS, HOST_COLLECTOR_KEYS, Section};
pub use load::{LoadError, MAX_SPEC_BYTES};
pub use redactor::{FileSelector, RedactorRule, RegexRemoval, Removals};
pub use render::{
    RenderedText, SetError, Values, ValuesError, ValuesFile, is_v1beta3, read_values_file,
};

use crate::diagnostic::{Diagnostic, SourceText};
use crate::trust::{Policy, Problem, Walk};
use crate::yaml::{self, Loc};
use context::Ctx;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything collected from one or more documents, merged in order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TroubleshootSpec {
    /// In-cluster collectors.
    pub collectors: Vec<Entry>,
    /// Host collectors.
    pub host_collectors: Vec<Entry>,
    /// In-cluster analyzers.
    pub analyzers: Vec<Entry>,
    /// Host analyzers.
    pub host_analyzers: Vec<Entry>,
    /// Redactors from `Redactor` documents.
    pub redactors: Vec<RedactorRule>,
    /// `afterCollection` steps (`uploadResultsTo`, `callback`), as written.
    pub after_collection: Vec<serde_json::Value>,
    /// Whether any SupportBundle asked for host collectors to run in a DaemonSet.
    pub run_host_collectors_in_pod: bool,
    /// The last `spec.uri` seen.
    pub uri: Option<String>,
    /// Every SupportBundle document's `spec.uri`, with where that document is (what
    /// `collect.followSpecURI` replaces when the fetch succeeds).
    pub uris: Vec<SpecUri>,
    /// Items troubleshoot would not run, dropped while loading (each with a warning).
    pub dropped: Vec<Dropped>,
}

/// A SupportBundle document's `spec.uri` and the lines its document spans: the entries of
/// `file` whose type key is on one of `lines` came from that document.
#[derive(Clone, Debug, PartialEq)]
pub struct SpecUri {
    /// The `uri` as written.
    pub uri: String,
    /// The spec file (or job file, for an inline bundle) the document is in.
    pub file: PathBuf,
    /// The document's first line up to the next document's first line (`u32::MAX`: to the end).
    pub lines: std::ops::Range<u32>,
}

/// An item of a collector or analyzer list that troubleshoot would not run, so the agent does
/// not either; kept so `validate` can list it with the rest.
#[derive(Clone, Debug, PartialEq)]
pub struct Dropped {
    /// The list it is in.
    pub section: Section,
    /// Its key, when it has one (`memroy`, `goldpinger`).
    pub kind: Option<String>,
    /// The spec file it came from.
    pub file: PathBuf,
    /// Where it is.
    pub loc: Loc,
    /// Why it does not run.
    pub why: DropReason,
}

/// Why troubleshoot does not run an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DropReason {
    /// `- {}`.
    Empty,
    /// A key that is no type of this list.
    UnknownType,
    /// A type of the other list (`systemPackages` under `analyzers`).
    OtherList,
    /// A type with no body (`- goldpinger:`).
    NoBody,
}

impl DropReason {
    /// The sentence shown by `validate`.
    pub fn text(self) -> &'static str {
        match self {
            DropReason::Empty => "empty item: troubleshoot ignores it",
            DropReason::UnknownType => "unknown type: troubleshoot ignores it",
            DropReason::OtherList => "a type of the other list: troubleshoot ignores it here",
            DropReason::NoBody => "no body: troubleshoot skips it",
        }
    }
}

/// One collector or analyzer item.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The type key, e.g. `cpu`.
    pub kind: String,
    /// The item's body, as written.
    pub body: serde_json::Value,
    /// The spec file it came from.
    pub file: PathBuf,
    /// Where its type key is.
    pub loc: Loc,
    /// `collectorName` (or `checkName` for analyzers).
    pub collector_name: Option<String>,
    /// Whether `exclude` turned it off.
    pub exclude: bool,
}

/// One parsed spec file.
#[derive(Clone, Debug)]
pub struct SpecFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// What its documents define.
    pub spec: TroubleshootSpec,
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// SHA-256 of the raw bytes (all zero when the file could not be read).
    pub sha256: [u8; 32],
    /// For a v1beta3 spec rendered with values: SHA-256 of the rendered text.
    pub rendered_sha256: Option<[u8; 32]>,
    /// The rendered text itself, for the troubleshoot CLI engine (which reads specs from files).
    pub rendered: Option<RenderedText>,
    /// Whether the file is a v1beta3 spec (rendered as a template before parsing).
    pub v1beta3: bool,
}

impl TroubleshootSpec {
    /// The entries of `section`.
    pub fn section(&self, section: Section) -> &[Entry] {
        match section {
            Section::Collectors => &self.collectors,
            Section::HostCollectors => &self.host_collectors,
            Section::Analyzers => &self.analyzers,
            Section::HostAnalyzers => &self.host_analyzers,
        }
    }

    fn section_mut(&mut self, section: Section) -> &mut Vec<Entry> {
        match section {
            Section::Collectors => &mut self.collectors,
            Section::HostCollectors => &mut self.host_collectors,
            Section::Analyzers => &mut self.analyzers,
            Section::HostAnalyzers => &mut self.host_analyzers,
        }
    }

    /// Drops the host collection of a spec from a source that must not gain commands run as root
    /// on the agent's host (a URL, an object in the cluster); returns a note for the record when
    /// there was any. `from` names the source: "a spec fetched from a URL".
    pub fn confine_to_cluster(&mut self, from: &str) -> Option<String> {
        self.run_host_collectors_in_pod = false;
        if self.host_collectors.is_empty() {
            return None;
        }
        let n = self.host_collectors.len();
        self.host_collectors.clear();
        Some(format!(
            "its {n} hostCollectors were not run: {from} may only ask for in-cluster collection"
        ))
    }

    /// Appends `other` after this spec's entries (later files come later).
    pub fn merge(&mut self, other: TroubleshootSpec) {
        self.collectors.extend(other.collectors);
        self.host_collectors.extend(other.host_collectors);
        self.analyzers.extend(other.analyzers);
        self.host_analyzers.extend(other.host_analyzers);
        self.redactors.extend(other.redactors);
        self.after_collection.extend(other.after_collection);
        self.run_host_collectors_in_pod |= other.run_host_collectors_in_pod;
        self.dropped.extend(other.dropped);
        if other.uri.is_some() {
            self.uri = other.uri;
        }
        self.uris.extend(other.uris);
    }

    /// Drops collectors and analyzers identical (same type and body) to an earlier one, as
    /// troubleshoot does when it puts specs together: running them twice would write the same
    /// files twice.
    pub fn dedup(&mut self) {
        for list in [
            &mut self.collectors,
            &mut self.host_collectors,
            &mut self.analyzers,
            &mut self.host_analyzers,
        ] {
            // Compared in place: copying every (type, body) as a key cost more than the check.
            let keep: Vec<bool> = (0..list.len())
                .map(|i| {
                    let e = &list[i];
                    !list[..i]
                        .iter()
                        .any(|prev| prev.kind == e.kind && prev.body == e.body)
                })
                .collect();
            if keep.iter().all(|k| *k) {
                continue;
            }
            let mut keep = keep.into_iter();
            list.retain(|_| keep.next().unwrap_or(true));
        }
    }

    /// Releases the lists' spare capacity: the agent keeps every job's spec for as long as it
    /// runs, and merging one entry leaves room for four.
    pub fn shrink_to_fit(&mut self) {
        for list in [
            &mut self.collectors,
            &mut self.host_collectors,
            &mut self.analyzers,
            &mut self.host_analyzers,
        ] {
            list.shrink_to_fit();
        }
        self.redactors.shrink_to_fit();
        self.after_collection.shrink_to_fit();
        self.dropped.shrink_to_fit();
    }
}

impl SpecFile {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses a whole spec file's text (multi-document; specs wrapped in a Secret or ConfigMap are read
/// as troubleshoot's loader reads them).
pub fn parse_spec_text(path: &Path, text: &str) -> SpecFile {
    parse_text(path, text, false)
}

/// Parses a spec file's text for `analyze`: besides SupportBundle documents, the analyzers of
/// `Analyzer`, `Preflight` and `HostPreflight` documents are read (troubleshoot's `analyze`
/// takes any of them).
pub fn parse_analyzer_spec_text(path: &Path, text: &str) -> SpecFile {
    parse_text(path, text, true)
}

fn parse_text(path: &Path, text: &str, analyzers: bool) -> SpecFile {
    let source = SourceText::new(text);
    let mut ctx = Ctx::new(path, &source);
    ctx.analyzers = analyzers;
    let mut spec = TroubleshootSpec::default();
    match yaml::parse_documents(text) {
        Ok(docs) if docs.is_empty() => {
            let d = Diagnostic::error(path, Loc::default(), "spec file is empty (no YAML documents)")
                .with_hint("a spec needs `apiVersion: troubleshoot.sh/v1beta2`, `kind: SupportBundle` and a `spec`");
            ctx.push(d);
        }
        Ok(docs) => {
            for (i, doc) in docs.iter().enumerate() {
                let before = spec.uri.take();
                document::parse_document(&mut ctx, doc, i, &mut spec);
                match spec.uri.clone() {
                    Some(uri) => {
                        let end = docs.get(i + 1).map_or(u32::MAX, |next| next.loc.line);
                        spec.uris.push(SpecUri {
                            uri,
                            file: path.to_path_buf(),
                            lines: doc.loc.line..end,
                        });
                    }
                    None => spec.uri = before,
                }
            }
        }
        Err(err) => ctx.push(syntax_error(&ctx, &err)),
    }
    spec.dropped = std::mem::take(&mut ctx.dropped);
    SpecFile {
        path: path.to_path_buf(),
        spec,
        diagnostics: ctx.diags,
        sha256: Sha256::digest(text.as_bytes()).into(),
        rendered_sha256: None,
        rendered: None,
        v1beta3: false,
    }
}

fn syntax_error(ctx: &Ctx, err: &yaml::SyntaxError) -> Diagnostic {
    let d = ctx.error(
        err.loc.unwrap_or_default(),
        "",
        format!("not valid YAML: {}", err.message),
    );
    // Unrendered v1beta3 templates (`{{ if }}` blocks, unquoted `{{ .Values.x }}`) are the usual cause.
    if ctx.text.contains("{{") {
        d.with_hint("v1beta3 templated specs need rendering: a job renders spec files whose apiVersion is troubleshoot.sh/v1beta3, with its `collect.values` and `collect.set`")
    } else {
        d.with_hint("check indentation and quoting around this line")
    }
}

/// Parses an inline SupportBundle `spec:` body (the mapping with collectors/hostCollectors/analyzers/...) found inside a job file at `node`.
pub fn parse_inline_bundle(
    path: &Path,
    node: &yaml::Node,
    text: &SourceText<'_>,
) -> (TroubleshootSpec, Vec<Diagnostic>) {
    let mut ctx = Ctx::new(path, text);
    let mut spec = TroubleshootSpec::default();
    body::parse_spec_body(&mut ctx, DocKind::SupportBundle, node, "", &mut spec);
    if let Some(uri) = spec.uri.clone() {
        // Only the inline bundle's entries come from the job file.
        spec.uris.push(SpecUri {
            uri,
            file: path.to_path_buf(),
            lines: 0..u32::MAX,
        });
    }
    spec.dropped = ctx.dropped;
    (spec, ctx.diags)
}

/// Reads and parses a spec file; a missing file, a directory, permission denied, or non-UTF-8
/// content each become one located error Diagnostic (file-level, Loc::default()) with a hint;
/// a file that is not trusted (see [`crate::trust`]) one for each problem.
///
/// Only files root or the agent's user could have written are trusted; see
/// [`load_spec_file_with`] for another policy.
pub fn load_spec_file(path: &Path) -> SpecFile {
    load_spec_file_with(path, &Policy::default())
}

/// [`load_spec_file`] under `policy`.
pub fn load_spec_file_with(path: &Path, policy: &Policy) -> SpecFile {
    match load::read(path, policy, &mut Walk::default()) {
        Ok((text, allowed)) => with_allowed(parse_spec_text(path, &text), &allowed, policy),
        Err(failure) => unreadable(path, failure, policy),
    }
}

/// `file` with its ownership and permission problems first: errors, or warnings when `policy`
/// lets them pass.
fn with_allowed(mut file: SpecFile, allowed: &[Problem], policy: &Policy) -> SpecFile {
    let mut diagnostics: Vec<Diagnostic> = allowed
        .iter()
        .map(|p| p.to_diagnostic(&file.path, policy))
        .collect();
    diagnostics.append(&mut file.diagnostics);
    file.diagnostics = diagnostics;
    file
}

fn unreadable(path: &Path, (bytes, err): load::Unreadable, policy: &Policy) -> SpecFile {
    SpecFile {
        path: path.to_path_buf(),
        spec: TroubleshootSpec::default(),
        diagnostics: err.to_diagnostics(path, policy),
        sha256: bytes.map_or([0; 32], |b| Sha256::digest(&b).into()),
        rendered_sha256: None,
        rendered: None,
        v1beta3: false,
    }
}

/// Spec files already parsed during one load of the jobs directory, keyed by path and by the
/// SHA-256 of their content.
///
/// A spec shared by many jobs is parsed once instead of once per job. Every lookup still reads
/// the file (with the trust checks), and a file whose bytes changed is parsed again, so the
/// result is always what [`load_spec_file`] would return at that moment; only the parsing is
/// saved. Unreadable files, and files read only thanks to `--insecure-allow-writable`, are never
/// cached. Meant to live for one load: it holds every distinct spec it has seen.
#[derive(Debug, Default)]
pub struct SpecCache {
    files: std::collections::HashMap<PathBuf, Arc<SpecFile>>,
    /// v1beta3 specs as rendered, by path and the hash of the values they were rendered with.
    rendered: std::collections::HashMap<(PathBuf, [u8; 32]), Arc<SpecFile>>,
    walk: Walk,
}

impl SpecCache {
    /// The parsed spec file at `path`, as [`load_spec_file`] returns it (shared: every job that
    /// references the file reads the same parse).
    pub fn load(&mut self, path: &Path, policy: &Policy) -> Arc<SpecFile> {
        match load::read(path, policy, &mut self.walk) {
            Ok((text, allowed)) => self.parsed(path, text, &allowed, policy),
            Err(failure) => Arc::new(unreadable(path, failure, policy)),
        }
    }

    /// The parse of `text` read from `path`, shared when the file was trusted outright.
    fn parsed(
        &mut self,
        path: &Path,
        text: String,
        allowed: &[Problem],
        policy: &Policy,
    ) -> Arc<SpecFile> {
        if !allowed.is_empty() {
            return Arc::new(with_allowed(parse_spec_text(path, &text), allowed, policy));
        }
        let sha256: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        let fresh = self
            .files
            .get(path)
            .is_some_and(|cached| cached.sha256 == sha256);
        if !fresh {
            self.files
                .insert(path.to_path_buf(), Arc::new(parse_spec_text(path, &text)));
        }
        Arc::clone(&self.files[path])
    }

    /// [`SpecCache::load`] for a job with `values`: a v1beta3 spec is rendered with them
    /// before it is parsed (see [`render`]); its diagnostics then point into the rendered text,
    /// except a template error, which points into the file.
    pub fn load_with_values(
        &mut self,
        path: &Path,
        policy: &Policy,
        values: &Values,
    ) -> Arc<SpecFile> {
        let (text, allowed) = match load::read(path, policy, &mut self.walk) {
            Ok(read) => read,
            Err(failure) => return Arc::new(unreadable(path, failure, policy)),
        };
        // Rendered only when the job gives values or the spec reads them: a v1beta3 spec whose
        // only `{{ }}` are analyzer message templates (`{{ .Name }}`, rendered per result) runs
        // as `support-bundle` runs it, which renders nothing.
        if !render::is_v1beta3(&text) || !(values.given || text.contains(".Values")) {
            return self.parsed(path, text, &allowed, policy);
        }
        let sha256: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        let key = (path.to_path_buf(), values.sha256());
        if let Some(cached) =
            (self.rendered.get(&key)).filter(|f| allowed.is_empty() && f.sha256 == sha256)
        {
            return Arc::clone(cached);
        }
        let mut file = match render::render(path, &text, values) {
            Ok(rendered) => {
                let mut file = parse_spec_text(path, &rendered);
                if rendered != text {
                    file.rendered_sha256 = Some(Sha256::digest(rendered.as_bytes()).into());
                    file.rendered = Some(RenderedText::from(rendered));
                    // The rendered lines may hold secrets from the values: never shown.
                    for d in file.diagnostics.iter_mut().filter(|d| d.line > 0) {
                        d.message
                            .push_str(" (line and column of the rendered spec)");
                        d.snippet = None;
                    }
                }
                file
            }
            Err(diagnostic) => SpecFile {
                path: path.to_path_buf(),
                spec: TroubleshootSpec::default(),
                diagnostics: vec![*diagnostic],
                sha256,
                rendered_sha256: None,
                rendered: None,
                v1beta3: true,
            },
        };
        file.sha256 = sha256;
        file.v1beta3 = true;
        let file = Arc::new(with_allowed(file, &allowed, policy));
        if allowed.is_empty() {
            self.rendered.insert(key, Arc::clone(&file));
        }
        file
    }
}
