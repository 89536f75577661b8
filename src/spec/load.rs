//! Reading a spec file from disk, with every failure turned into a file-level diagnostic.

use crate::diagnostic::Diagnostic;
use crate::trust::{self, Policy, Problem, Walk};
use crate::yaml::Loc;
use std::io;
use std::path::Path;

/// Why a spec file could not be read as text.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Nothing at the path.
    #[error("spec file not found")]
    NotFound,
    /// The path is a directory.
    #[error("spec path is a directory, not a file")]
    Directory,
    /// The process may not read it.
    #[error("permission denied reading the spec file")]
    PermissionDenied,
    /// The bytes are not UTF-8 text.
    #[error("spec file is not UTF-8 text (first invalid byte at offset {offset}, line {line})")]
    NotUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
        /// 1-based line of that byte.
        line: usize,
    },
    /// Any other I/O failure.
    #[error("cannot read the spec file: {0}")]
    Io(#[from] io::Error),
    /// It is not a regular file, too large, or another user could have written it or a
    /// directory above it; every problem found.
    #[error("{}", .0.iter().map(Problem::message).collect::<Vec<_>>().join("; "))]
    Refused(Vec<Problem>),
}

impl LoadError {
    /// What to do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            LoadError::NotFound => {
                "check the path; relative paths are resolved against the job file's directory"
            }
            LoadError::Directory => "name a YAML file inside the directory",
            LoadError::PermissionDenied => {
                "make the file readable by the agent's user (e.g. chmod 0644)"
            }
            LoadError::NotUtf8 { .. } => "save the spec as UTF-8 YAML",
            LoadError::Io(_) => "check that the file is a readable regular file",
            LoadError::Refused(_) => "see the problems above",
        }
    }

    /// The file-level diagnostics for `path`: one for each problem of a refused file.
    pub fn to_diagnostics(&self, path: &Path, policy: &Policy) -> Vec<Diagnostic> {
        match self {
            LoadError::Refused(problems) => problems
                .iter()
                .map(|p| p.to_diagnostic(path, policy))
                .collect(),
            _ => vec![
                Diagnostic::error(path, Loc::default(), self.to_string()).with_hint(self.hint()),
            ],
        }
    }
}

/// Why a file was not read, with its bytes when they were (so they can still be hashed).
pub(super) type Unreadable = (Option<Vec<u8>>, LoadError);

/// Spec files larger than this are refused: the biggest troubleshoot specs in use are a few
/// hundred KiB, and a spec is held in memory while the agent runs.
pub const MAX_SPEC_BYTES: u64 = 16 * 1024 * 1024;

/// The file's text and its ownership or permission problems (to be reported as errors, or as
/// warnings under `--insecure-allow-writable`: the file is read either way so that one
/// `validate` names everything wrong); on failure, the bytes too when they were read (so they
/// can still be hashed).
///
/// Opened without blocking and judged on the open descriptor (see [`crate::trust::read`]): a
/// FIFO or a device is refused before a byte is read, so it cannot stall a reload.
pub(super) fn read(
    path: &Path,
    policy: &Policy,
    walk: &mut Walk,
) -> Result<(String, Vec<Problem>), Unreadable> {
    let read = trust::read(path, MAX_SPEC_BYTES, &policy.lenient(), walk).map_err(|e| {
        let err = match e {
            trust::ReadError::Refused(problems) => match &problems[..] {
                [
                    Problem::NotRegular {
                        kind: trust::FileKind::Directory,
                        ..
                    },
                ] => LoadError::Directory,
                _ => LoadError::Refused(problems),
            },
            trust::ReadError::Io(e) => match e.kind() {
                io::ErrorKind::NotFound => LoadError::NotFound,
                io::ErrorKind::PermissionDenied => LoadError::PermissionDenied,
                io::ErrorKind::IsADirectory => LoadError::Directory,
                _ => LoadError::Io(e),
            },
        };
        (None, err)
    })?;
    match String::from_utf8(read.bytes) {
        Ok(text) => Ok((text, read.allowed)),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let line = bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1;
            Err((Some(bytes), LoadError::NotUtf8 { offset, line }))
        }
    }
}
