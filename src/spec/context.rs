//! Shared state while checking one file: where we are and what we found.

use crate::diagnostic::{Diagnostic, SourceText};
use crate::yaml::{DeError, Loc};
use std::path::Path;

/// The file being checked and the findings so far.
pub(super) struct Ctx<'a> {
    pub file: &'a Path,
    pub text: &'a SourceText<'a>,
    pub diags: Vec<Diagnostic>,
    /// Reading specs for `analyze`: `Preflight` and `HostPreflight` documents give their
    /// analyzers instead of being ignored (`Analyzer` documents always do).
    pub analyzers: bool,
    /// Items dropped as troubleshoot drops them (see [`super::Dropped`]).
    pub dropped: Vec<super::Dropped>,
}

impl<'a> Ctx<'a> {
    pub fn new(file: &'a Path, text: &'a SourceText<'a>) -> Self {
        Ctx {
            file,
            text,
            diags: Vec::new(),
            analyzers: false,
            dropped: Vec::new(),
        }
    }

    /// An error at `loc` under field path `path`, with its source line.
    pub fn error(&self, loc: Loc, path: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.file, loc, message)
            .with_path(path)
            .with_source(self.text)
    }

    /// A warning at `loc` under field path `path`, with its source line.
    pub fn warning(&self, loc: Loc, path: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(self.file, loc, message)
            .with_path(path)
            .with_source(self.text)
    }

    /// Records an item of `section` that will not run.
    pub fn drop_item(
        &mut self,
        section: super::Section,
        kind: Option<String>,
        loc: Loc,
        why: super::DropReason,
    ) {
        self.dropped.push(super::Dropped {
            section,
            kind,
            file: self.file.to_path_buf(),
            loc,
            why,
        });
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diags.push(diagnostic);
    }

    /// Turns a typed-read error below `prefix` into a located error.
    pub fn de_error(&self, err: &DeError, fallback: Loc, prefix: &str) -> Diagnostic {
        let inner = err.path_string();
        let path = match (prefix.is_empty(), inner.is_empty()) {
            (_, true) => prefix.to_string(),
            (true, false) => inner,
            (false, false) if inner.starts_with('[') => format!("{prefix}{inner}"),
            (false, false) => format!("{prefix}.{inner}"),
        };
        let diagnostic = self.error(err.loc.unwrap_or(fallback), &path, err.message.clone());
        match &err.suggestion {
            Some(s) => diagnostic.with_hint(format!("did you mean `{s}`?")),
            None => diagnostic,
        }
    }
}

/// `parent.child`, or just `child` at the top.
pub(super) fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}
