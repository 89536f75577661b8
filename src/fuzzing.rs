//! Entry points for the fuzz targets (`fuzz/`), the default-tier corpus test and the parse
//! benchmark (`examples/parse-keys.rs`).
//!
//! Thin wrappers over the loaders as the agent calls them, taking bytes instead of a path, so a
//! fuzzer does not go through the file system; and the properties each fuzz target checks
//! (`check_*`: they panic when one does not hold), shared by libFuzzer and the test that replays
//! the seeds and their mutations in every CI run. Not a stable API.

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

/// Bundle paths that select different default redaction chains: line redactors only, and line
/// redactors then the scoped kurl yamlPath redactors (whole documents, re-serialized).
pub const REDACT_PATHS: [&str; 3] = [
    "host-collectors/run-host/x.txt",
    "cluster-resources/pods/default.json",
    "cluster-resources/custom-resources/installers.cluster.kurl.sh.yaml",
];

/// The job-file loader on arbitrary bytes: it returns (never panics), and a report with jobs
/// names them.
pub fn check_job_file(data: &[u8]) {
    // The reader refuses larger files before parsing.
    if data.len() as u64 > crate::jobs::MAX_FILE_BYTES {
        return;
    }
    // Relative `collect.specs` resolve beside a job file that does not exist, so they are not
    // found. Absolute ones are read: keep off device files and FIFOs, which block or never end
    // (`/dev/zero`), a property of the files rather than of the parser.
    const SPECIAL: [&[u8]; 4] = [b"/dev", b"/proc", b"/sys", b"/run"];
    if SPECIAL
        .iter()
        .any(|p| data.windows(p.len()).any(|w| w == *p))
    {
        return;
    }
    if let Some(report) = load_job_bytes(Path::new("/nonexistent/fuzz/job.yaml"), data) {
        assert!(report.jobs.len() <= report.job_names.len());
    }
}

/// The spec loader on arbitrary bytes: it returns, and every finding is located in the file.
pub fn check_spec(data: &[u8]) {
    if let Some(file) = load_spec_bytes(Path::new("/nonexistent/fuzz/spec.yaml"), data) {
        let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
        for d in &file.diagnostics {
            assert!(
                (d.line as usize) <= lines,
                "finding at line {} of a {lines}-line file: {}",
                d.line,
                d.message
            );
        }
    }
}

/// The redaction engine with `rules` (the defaults) on arbitrary input, the first byte choosing
/// the bundle path: it succeeds in memory, copies binary files untouched, and line redactors
/// keep the number of lines.
pub fn check_redact(rules: &Compiled, data: &[u8]) {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let index = usize::from(first) % REDACT_PATHS.len();
    let (out, counts) =
        redact_bytes(rules, REDACT_PATHS[index], input).expect("in-memory redaction succeeds");
    if counts.binary {
        assert_eq!(out, input, "binary files are copied untouched");
    } else if index < 2 && counts.oversized_lines == 0 {
        let lines = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count();
        assert_eq!(
            lines(out.as_slice()),
            lines(input),
            "redaction changed the number of lines"
        );
    }
}
