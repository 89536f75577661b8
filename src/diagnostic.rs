//! Located findings about input files: what is wrong, where, and what to do.

use crate::yaml::Loc;
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file cannot be applied.
    Error,
    /// The file applies, but something will not behave as written (or is odd).
    Warning,
}

/// One finding, with where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file it is about.
    pub file: PathBuf,
    /// 1-based line (0 when the problem is the file as a whole).
    pub line: u32,
    /// 1-based column (0 when unknown).
    pub column: u32,
    /// The field path inside the document, when there is one (`spec.retry.limit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What to do about it, when we can tell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The source line, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snippet: Option<String>,
}

impl Diagnostic {
    /// An error about `file` at `loc` (use `Loc::default()` for the whole file).
    pub fn error(file: &Path, loc: Loc, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line: loc.line,
            column: loc.column,
            path: None,
            message: message.into(),
            hint: None,
            snippet: None,
        }
    }

    /// A warning about `file` at `loc`.
    pub fn warning(file: &Path, loc: Loc, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, loc, message)
        }
    }

    /// Adds what to do.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds the field path.
    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        if !path.is_empty() {
            self.path = Some(path);
        }
        self
    }

    /// Fills in the source line from the file's text.
    pub fn with_source<S: SourceLines + ?Sized>(mut self, text: &S) -> Self {
        if let Some(line) = text.source_line(self.line) {
            self.snippet = Some(truncate(line, 160));
        }
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Text that can hand out its 1-based line `n` (None for 0 or past the end, as `str::lines`).
pub trait SourceLines {
    /// Line `n` without its line break.
    fn source_line(&self, n: u32) -> Option<&str>;
}

impl SourceLines for str {
    /// Scans from the start: fine for one diagnostic, quadratic for one per key of a big mapping
    /// (use [`SourceText`] for those).
    fn source_line(&self, n: u32) -> Option<&str> {
        self.lines().nth((n as usize).checked_sub(1)?)
    }
}

impl SourceLines for String {
    fn source_line(&self, n: u32) -> Option<&str> {
        self.as_str().source_line(n)
    }
}

/// A file's text with the start of every line found once (on the first lookup), so that
/// diagnostics anywhere in a large file get their source line without a scan from the top each.
#[derive(Debug)]
pub struct SourceText<'a> {
    text: &'a str,
    starts: std::cell::OnceCell<Vec<usize>>,
}

impl<'a> SourceText<'a> {
    /// Wraps `text`; nothing is scanned until a line is asked for.
    pub fn new(text: &'a str) -> Self {
        SourceText {
            text,
            starts: std::cell::OnceCell::new(),
        }
    }

    /// The whole text.
    pub fn text(&self) -> &'a str {
        self.text
    }
}

impl std::ops::Deref for SourceText<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        self.text
    }
}

impl SourceLines for SourceText<'_> {
    fn source_line(&self, n: u32) -> Option<&str> {
        let text = self.text;
        let starts = self.starts.get_or_init(|| {
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let index = (n as usize).checked_sub(1)?;
        let start = *starts.get(index)?;
        // As `str::lines`: no line after a final line break, and `\r\n` ends a line too.
        if start >= text.len() {
            return None;
        }
        match starts.get(index + 1) {
            Some(next) => {
                let line = &text[start..next - 1];
                Some(line.strip_suffix('\r').unwrap_or(line))
            }
            None => Some(&text[start..]),
        }
    }
}

fn truncate(line: &str, max_chars: usize) -> String {
    if line.chars().count() <= max_chars {
        line.to_string()
    } else {
        let mut cut: String = line.chars().take(max_chars).collect();
        cut.push('…');
        cut
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column.max(1))?;
        }
        write!(f, ": {kind}: {}", self.message)?;
        if let Some(path) = &self.path {
            write!(f, " (at {path})")?;
        }
        if let Some(snippet) = &self.snippet {
            let number = self.line.to_string();
            write!(f, "\n  {number} | {snippet}")?;
            if self.column > 0 {
                let pad = " ".repeat(number.len() + 3 + self.column as usize - 1);
                write!(f, "\n  {pad}^")?;
            }
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// An error and its causes on one line, so "connection refused" is not hidden behind a
/// generic outer message ("error sending request", "I/O error").
pub fn error_chain(e: &dyn std::error::Error) -> String {
    with_causes(e.to_string(), e)
}

/// `text` followed by each cause of `e` that `text` does not already say.
pub fn with_causes(mut text: String, e: &dyn std::error::Error) -> String {
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexed_source_lines_are_the_lines_of_str() {
        for text in [
            "",
            "a",
            "a\n",
            "a\nb",
            "a\r\nb\r\n",
            "\n\n",
            "x\r",
            "é\nü\r\n\nlast",
        ] {
            let indexed = SourceText::new(text);
            for n in 0..6 {
                assert_eq!(
                    indexed.source_line(n),
                    text.source_line(n),
                    "line {n} of {text:?}"
                );
            }
        }
    }

    #[test]
    fn renders_location_snippet_caret_and_hint() {
        let d = Diagnostic::error(
            Path::new("jobs/a.yaml"),
            Loc::new(2, 3),
            "unknown field `schedul`",
        )
        .with_hint("did you mean `schedule`?")
        .with_source("spec:\n  schedul: x\n");
        assert_eq!(
            d.to_string(),
            "jobs/a.yaml:2:3: error: unknown field `schedul`\n  2 |   schedul: x\n        ^\n  hint: did you mean `schedule`?"
        );
    }

    #[test]
    fn error_chain_adds_each_cause_it_does_not_already_say() {
        let inner =
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error sending request")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(inner);
        assert_eq!(error_chain(&e), "error sending request: connection refused");
        assert_eq!(
            with_causes("PUT x: connection refused".into(), &e),
            "PUT x: connection refused"
        );
    }
}
