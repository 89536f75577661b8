//! Entry points for the fuzz targets (`fuzz/`) and the parse benchmark (`examples/parse-keys.rs`).
//!
//! Thin wrappers over the loaders as the agent calls them, taking bytes instead of a path, so a
//! fuzzer does not go through the file system. Not a stable API.

use crate::jobs::{Context, FileReport};
use crate::redact::{Compiled, Counts, RedactError, redact_stream};
use crate::spec::{self, SpecFile};
use std::path::Path;

/// Loads `bytes` as the content of the job file `path` the way `validate` does once the file is
/// read: text that is not UTF-8 or holds a NUL byte is refused as the reader refuses it; the
/// size cap of the reader is not applied (the caller chooses the size).
pub fn load_job_bytes(path: &Path, bytes: &[u8]) -> Option<FileReport> {
    if bytes.contains(&0) {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    Some(crate::jobs::load_text(path, text, &Context::default()))
}

/// Parses `bytes` as the content of the troubleshoot spec file `path` (None if not UTF-8).
pub fn load_spec_bytes(path: &Path, bytes: &[u8]) -> Option<SpecFile> {
    let text = std::str::from_utf8(bytes).ok()?;
    Some(spec::parse_spec_text(path, text))
}

/// Redacts `input` as the bundle file `path` with `rules`; returns the output and the counts.
pub fn redact_bytes(
    rules: &Compiled,
    path: &str,
    input: &[u8],
) -> Result<(Vec<u8>, Counts), RedactError> {
    let mut out = Vec::with_capacity(input.len());
    let mut counts = Counts::default();
    redact_stream(input, &mut out, rules, path, &mut counts)?;
    Ok((out, counts))
}
