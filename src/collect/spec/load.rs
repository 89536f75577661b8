//! Reading a spec file from disk, with every failure turned into a file-level diagnostic.

use crate::diagnostic::Diagnostic;
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
        }
    }

    /// The file-level diagnostic for `path`.
    pub fn to_diagnostic(&self, path: &Path) -> Diagnostic {
        Diagnostic::error(path, Loc::default(), self.to_string()).with_hint(self.hint())
    }
}

/// The file's text; on failure, the bytes too when they were read (so they can still be hashed).
pub(super) fn read(path: &Path) -> Result<String, (Option<Vec<u8>>, LoadError)> {
    // Reading a directory fails with an OS-specific error, so ask first for a clear message.
    if std::fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err((None, LoadError::Directory));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        let err = match e.kind() {
            io::ErrorKind::NotFound => LoadError::NotFound,
            io::ErrorKind::PermissionDenied => LoadError::PermissionDenied,
            io::ErrorKind::IsADirectory => LoadError::Directory,
            _ => LoadError::Io(e),
        };
        (None, err)
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let bytes = e.into_bytes();
            let line = bytes[..offset].iter().filter(|b| **b == b'\n').count() + 1;
            Err((Some(bytes), LoadError::NotUtf8 { offset, line }))
        }
    }
}
