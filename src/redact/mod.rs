//! Support-bundle redaction compatible with replicatedhq/troubleshoot (`pkg/redact`).
//!
//! Pure logic: it knows nothing about where files come from.
//! - [`defaults`]: the built-in redactor set (troubleshoot's §3.2 list, same order, same mask text),
//!   then the agent extras (what upstream's set misses); [`DefaultSet`] picks upstream-only or both.
//! - [`rules`]: user `Redactor` rules compiled into matchers (`values`, `regex`, `yamlPath`,
//!   `fileSelector` globs) and [`check_rule`] for `validate`.
//! - [`engine`]: line-by-line streaming redaction of one file ([`redact_stream`]).
//! - [`tree`]: in-place, parallel redaction of a bundle directory ([`redact_tree`]), archives included.
//!
//! Regex semantics follow Go's RE2 as troubleshoot uses it: patterns are matched on raw bytes with
//! ASCII-only `\w \d \s \b` (Unicode off), duplicate `mask` group names are renamed, and a `-` that Go
//! reads as a literal inside a class is escaped (see [`goregex::port_go_regex`]).
//!
//! - [`tokenize`]: troubleshoot's `--tokenize` (§3.4 of the format notes): [`Tokenizer`] turns each
//!   masked value into `***TOKEN_<TYPE>_<HASH>***`; [`redact_tree_with`] / [`redact_stream_with`] use it.

pub mod defaults;
pub(crate) mod engine;
pub(crate) mod glob;
pub mod goregex;
pub mod rules;
pub(crate) mod tokenize;
pub(crate) mod tree;
pub(crate) mod yaml_path;

pub use engine::{Counts, redact_stream, redact_stream_with};
pub use glob::GlobError;
pub use rules::{
    AGENT_SECRETS, Compiled, DefaultSet, check_rule, compile, compile_chain, compile_with,
};
pub use tokenize::{TokenError, Tokenizer, decrypt_map, encrypt_map};
pub use tree::{FileCounts, Report, redact_tree, redact_tree_with};

use std::path::PathBuf;

/// The text every masked value is replaced with (troubleshoot's `MASK_TEXT`).
pub const MASK: &str = "***HIDDEN***";

/// Lines longer than this are redacted in windows of this size instead of whole (troubleshoot fails the file).
pub const MAX_LINE: usize = 10 * 1024 * 1024;

/// Everything that can go wrong while compiling rules or redacting.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    /// A redactor regex (user-supplied or default) does not compile.
    #[error("redactor {redactor:?}: regex {pattern:?} does not compile: {source}")]
    Regex {
        /// Redaction name of the redactor holding the pattern.
        redactor: String,
        /// The pattern as written in the spec.
        pattern: String,
        /// Why it failed.
        #[source]
        source: Box<regex::Error>,
    },
    /// A `fileSelector` glob is malformed.
    #[error("redactor {redactor:?}: file glob {glob:?} is invalid: {reason}")]
    Glob {
        /// Redaction name of the redactor holding the glob.
        redactor: String,
        /// The glob as written.
        glob: String,
        /// What is wrong with it.
        #[source]
        reason: GlobError,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned (bundle-relative when known).
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An archive inside the bundle could not be read or rewritten.
    #[error("{path}: archive could not be redacted: {reason}")]
    Archive {
        /// Bundle-relative archive path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The root given to [`redact_tree`] is not a directory.
    #[error("{0}: not a directory")]
    NotADirectory(PathBuf),
}

impl RedactError {
    /// Wraps an I/O error with the file it concerns.
    pub(crate) fn io(path: impl Into<String>, source: std::io::Error) -> Self {
        RedactError::Io {
            path: path.into(),
            source,
        }
    }
}

/// `text` (an error message, a server's answer: short, not a file) through the extended built-in
/// redactors. If they cannot run, the text is withheld rather than passed on unredacted.
pub fn redact_text(text: &str) -> String {
    let redacted = Compiled::defaults().and_then(|rules| {
        let mut out = Vec::with_capacity(text.len());
        let mut counts = Counts::default();
        // A NUL would make the engine treat the text as binary and pass it through unredacted.
        let text = text.replace('\0', " ");
        redact_stream(
            text.as_bytes(),
            &mut out,
            &rules,
            "message.txt",
            &mut counts,
        )?;
        Ok(out)
    });
    match redacted {
        Ok(out) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => format!("[text withheld: the redactors could not run: {e}]"),
    }
}
