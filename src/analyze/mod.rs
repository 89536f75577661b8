//! troubleshoot's analyzers as pure functions over a read-only bundle ([`BundleView`]) and the
//! analyzer spec, giving [`AnalyzeResult`]s and `analysis.json` (TROUBLESHOOT-FORMAT.md §4).
//!
//! No clock ("now" is an argument), no network, no writes. In-cluster analyzers (`analyzers`)
//! whose analysis fails (a missing or malformed file) are dropped from the results, as
//! troubleshoot drops them, and listed in [`Analysis::errors`]; host analyzers (`hostAnalyzers`)
//! that fail become a fail result `Analyzer Failed: analyze: <why>`. Analyzer types this build
//! does not implement are listed in [`Analysis::unsupported`], never silently dropped.

mod cluster;
mod host;
pub mod outcome;
pub mod quantity;
mod result;
pub mod semver;
pub mod template;
mod view;

pub use outcome::{Outcome, Severity};
pub use result::{AnalyzeResult, Icon, ObjectRef, analysis_json, analysis_values, go_json};
pub use view::{BundleView, DirView, TarView, ViewError, open};

use crate::bundle::{StepTiming, TimingStatus};
use crate::spec::{Entry, TroubleshootSpec};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::any::Any;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

/// Why one analyzer could not give a result.
#[derive(Debug, thiserror::Error)]
pub enum AnalyzerError {
    /// The analyzer's spec is wrong (a bad `when`, a missing required field).
    #[error("{0}")]
    Spec(String),
    /// A file it needs is missing or unreadable.
    #[error(transparent)]
    File(#[from] ViewError),
    /// A file it read is not what it expects.
    #[error("{path}: {message}")]
    Data {
        /// The bundle-relative path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A message or title template failed.
    #[error(transparent)]
    Template(#[from] template::TemplateError),
}

impl AnalyzerError {
    pub(crate) fn spec(message: impl Into<String>) -> AnalyzerError {
        AnalyzerError::Spec(message.into())
    }

    pub(crate) fn data(path: &str, message: impl std::fmt::Display) -> AnalyzerError {
        AnalyzerError::Data {
            path: path.to_string(),
            message: message.to_string(),
        }
    }
}

/// What analyzers see besides their spec.
pub struct Ctx<'a> {
    /// The bundle.
    pub view: &'a dyn BundleView,
    /// The instant certificate and age checks compare with.
    pub now: DateTime<Utc>,
    /// Small facts derived from bundle files, kept for the rest of the analysis (see
    /// [`Ctx::memo`]).
    memo: RefCell<HashMap<String, Rc<dyn Any>>>,
}

impl<'a> Ctx<'a> {
    /// The context of one analysis of `view`.
    pub fn new(view: &'a dyn BundleView, now: DateTime<Utc>) -> Ctx<'a> {
        Ctx {
            view,
            now,
            memo: RefCell::default(),
        }
    }

    /// The value `make` derives from the bundle, made once per analysis for each `key`: a spec
    /// with an analyzer per deployment would otherwise parse a namespace's file once per
    /// deployment in it. Keep memoised values small (an index, not a parsed file): they live
    /// until the analysis ends. `key` must name everything `make` reads.
    pub(crate) fn memo<T: Any>(&self, key: &str, make: impl FnOnce() -> T) -> Rc<T> {
        let hit = self.memo.borrow().get(key).cloned();
        if let Some(value) = hit.and_then(|hit| hit.downcast::<T>().ok()) {
            return value;
        }
        let value = Rc::new(make());
        self.memo
            .borrow_mut()
            .insert(key.to_string(), Rc::clone(&value) as Rc<dyn Any>);
        value
    }
    /// The file at `path`.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, AnalyzerError> {
        Ok(self.view.read(path)?)
    }

    /// The file at `path` parsed as JSON; a parse error names the file.
    pub fn json(&self, path: &str) -> Result<Value, AnalyzerError> {
        let bytes = self.read(path)?;
        serde_json::from_slice(&bytes).map_err(|e| AnalyzerError::data(path, e))
    }
}

/// The fields every analyzer has (`checkName`, `exclude`, `strict`).
#[derive(Clone, Debug, Default)]
pub struct Meta {
    /// `checkName`: the result title, when set.
    pub check_name: String,
    /// `exclude`.
    pub exclude: bool,
    /// `strict`.
    pub strict: bool,
}

impl Meta {
    /// Reads the common fields of `body`. `exclude`/`strict` are a bool or a Go bool string; an
    /// unparsable `exclude` is an error (troubleshoot drops the analyzer), an unparsable `strict`
    /// is false.
    pub fn of(body: &Value) -> Result<Meta, AnalyzerError> {
        let flag = |name: &str| -> Result<bool, AnalyzerError> {
            let not_bool = |v: &dyn std::fmt::Display| {
                AnalyzerError::spec(format!("`{name}: {v}` is not true or false"))
            };
            match body.get(name) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(Value::String(s)) if s.is_empty() => Ok(false),
                Some(Value::String(s)) => outcome::parse_bool(s).ok_or_else(|| not_bool(s)),
                Some(other) => Err(not_bool(other)),
            }
        };
        Ok(Meta {
            check_name: body
                .get("checkName")
                .and_then(outcome::scalar_text)
                .unwrap_or_default(),
            exclude: flag("exclude")?,
            strict: flag("strict").unwrap_or(false),
        })
    }

    /// The title: `checkName`, else `default`.
    pub fn title(&self, default: impl Into<String>) -> String {
        if self.check_name.is_empty() {
            default.into()
        } else {
            self.check_name.clone()
        }
    }
}

/// An analyzer that failed to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// Its type key.
    pub kind: String,
    /// Its title, when known.
    pub title: String,
    /// Why.
    pub message: String,
    /// Whether it was a host analyzer (its failure is also a fail result).
    pub host: bool,
    /// Whether the analyzer's spec is at fault (a bad `when`, regex or field), not the bundle.
    pub spec_problem: bool,
}

/// The results of analysing one bundle.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// Results in spec order (in-cluster analyzers first, then host analyzers, as troubleshoot).
    pub results: Vec<AnalyzeResult>,
    /// Analyzers that failed to run.
    pub errors: Vec<Failure>,
    /// Analyzer types this build does not implement, one per item (`section.kind`).
    pub unsupported: Vec<String>,
    /// Analyzers turned off by `exclude`.
    pub excluded: usize,
    /// One line per analyzer for `execution-data/summary.txt`: its title, whether it ran (`S`),
    /// was excluded (`X`) or failed (`F`), and how long it took, in spec order.
    pub timings: Vec<StepTiming>,
}

impl Analysis {
    /// `(pass, warn, fail)` counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |s| {
            self.results
                .iter()
                .filter(|r| r.severity == Some(s))
                .count()
        };
        (
            count(Severity::Pass),
            count(Severity::Warn),
            count(Severity::Fail),
        )
    }

    /// The `analysis.json` text.
    pub fn to_json(&self) -> String {
        analysis_json(&self.results)
    }

    /// The summary kept in a run record: counts, and the titles and messages of fail and warn
    /// results.
    pub fn record(&self) -> Value {
        let (pass, warn, fail) = self.counts();
        let list = |s: Severity| -> Vec<Value> {
            self.results
                .iter()
                .filter(|r| r.severity == Some(s))
                .map(|r| serde_json::json!({"title": r.title, "message": r.message}))
                .collect()
        };
        let mut v = serde_json::json!({
            "pass": pass,
            "warn": warn,
            "fail": fail,
            "error": self.errors.len(),
            "fails": list(Severity::Fail),
            "warnings": list(Severity::Warn),
        });
        if !self.errors.is_empty() {
            v["errors"] = self
                .errors
                .iter()
                .map(|e| serde_json::json!({"analyzer": e.kind, "title": e.title, "message": e.message}))
                .collect();
        }
        if !self.unsupported.is_empty() {
            v["unsupported"] = self.unsupported.clone().into();
        }
        v
    }
}

/// Runs every analyzer of `spec` over `view`.
pub fn analyze(view: &dyn BundleView, spec: &TroubleshootSpec, now: DateTime<Utc>) -> Analysis {
    let ctx = Ctx::new(view, now);
    let mut out = Analysis::default();
    for entry in &spec.analyzers {
        timed_entry(&ctx, entry, false, &mut out);
    }
    for entry in &spec.host_analyzers {
        timed_entry(&ctx, entry, true, &mut out);
    }
    out
}

/// [`run_entry`], noting the analyzer's title, status and duration in [`Analysis::timings`].
/// The duration is only reported (summary.txt), never part of an outcome.
fn timed_entry(ctx: &Ctx<'_>, entry: &Entry, host: bool, out: &mut Analysis) {
    let (started, results, errors, excluded, unsupported) = (
        Instant::now(),
        out.results.len(),
        out.errors.len(),
        out.excluded,
        out.unsupported.len(),
    );
    run_entry(ctx, entry, host, out);
    let status = if out.errors.len() > errors {
        TimingStatus::Failed
    } else if out.excluded > excluded || out.unsupported.len() > unsupported {
        // Excluded, or a type this build does not run: `X`, as troubleshoot marks what it skips.
        TimingStatus::Skipped
    } else {
        TimingStatus::Succeeded
    };
    let title = match (out.errors.get(errors), out.results.get(results)) {
        (Some(failure), _) if !failure.title.is_empty() => failure.title.clone(),
        (None, Some(first)) => first.title.clone(),
        _ => default_title(entry, host),
    };
    out.timings.push(StepTiming {
        name: title,
        status,
        duration: started.elapsed(),
    });
}

/// An analyzer's title before it ran: `checkName`, else its type's default title.
fn default_title(entry: &Entry, host: bool) -> String {
    let meta = Meta::of(&entry.body).unwrap_or_default();
    if host {
        meta.title(host::default_title(&entry.kind, &entry.body))
    } else {
        meta.title(entry.kind.clone())
    }
}

/// Whether this build runs the analyzer type `kind` (`host`: a `hostAnalyzers` entry), so that
/// `validate` warns about exactly the types the analyze phase will report unsupported.
pub fn supports(host: bool, kind: &str) -> bool {
    let implemented = if host {
        host::SUPPORTED
    } else {
        cluster::SUPPORTED
    };
    implemented.contains(&kind)
}

fn run_entry(ctx: &Ctx<'_>, entry: &Entry, host: bool, out: &mut Analysis) {
    let section = if host { "hostAnalyzers" } else { "analyzers" };
    let meta = match Meta::of(&entry.body) {
        Ok(meta) => meta,
        Err(e) => {
            fail(out, entry, host, String::new(), e);
            return;
        }
    };
    if meta.exclude {
        out.excluded += 1;
        return;
    }
    let ran = if host {
        host::run(ctx, &entry.kind, &entry.body, &meta)
    } else {
        cluster::run(ctx, &entry.kind, &entry.body, &meta)
    };
    let Some(ran) = ran else {
        tracing::warn!(
            analyzer = %entry.kind,
            "{section}.{} is not supported by this build; skipped",
            entry.kind
        );
        out.unsupported.push(format!("{section}.{}", entry.kind));
        return;
    };
    match ran {
        Ok(mut results) => {
            for r in &mut results {
                r.strict = meta.strict;
            }
            if results.is_empty() {
                tracing::info!(analyzer = %entry.kind, "no outcome matched");
            }
            out.results.extend(results);
        }
        Err(e) => fail(out, entry, host, default_title(entry, host), e),
    }
}

fn fail(out: &mut Analysis, entry: &Entry, host: bool, title: String, e: AnalyzerError) {
    tracing::warn!(analyzer = %entry.kind, "analyzer {:?} failed: {e}", title);
    if host {
        let mut r = AnalyzeResult::new(title.clone(), Icon("", ""));
        r.severity = Some(Severity::Fail);
        r.message = format!("Analyzer Failed: analyze: {e}");
        out.results.push(r);
    }
    out.errors.push(Failure {
        kind: entry.kind.clone(),
        title,
        spec_problem: matches!(e, AnalyzerError::Spec(_) | AnalyzerError::Template(_)),
        message: e.to_string(),
        host,
    });
}

#[cfg(test)]
mod tests;
