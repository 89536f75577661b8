//! Streaming tar.gz writer for troubleshoot-compatible support bundles.
//!
//! [`write_bundle`] archives an already collected and redacted tree under one top folder, with
//! only regular files and relative symlinks, sorted, owner-less and `0600`, into a temp file that
//! is renamed into place only once complete. [`layout`] holds the names and small text files of
//! the format (TROUBLESHOOT-FORMAT.md §1). Everything is synchronous: async callers use
//! `tokio::task::spawn_blocking`.

mod gzip;
pub(crate) mod hashing;
pub(crate) mod layout;
mod links;
mod writer;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use layout::{archive_name, summary_txt, summary_txt_with_redaction, version_yaml};
pub use writer::{list_archive, remove_stale_temps, write_bundle};

/// How the archive is compressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleOptions {
    /// gzip level 0-9; 6 is gzip's default and the best size/speed point for logs and JSON.
    pub compression_level: u32,
    /// Compression threads; default 1 (see bench/README.md: one zlib-rs thread at level 6 is
    /// already ≈2.3× faster than `tar | gzip -6`). 1 writes one gzip member; more compress 1 MiB chunks in parallel
    /// as concatenated gzip members (a valid gzip stream: RFC 1952 §2.2, read by gzip, GNU
    /// tar, Go and Python; single-member-only readers such as flate2's `GzDecoder` stop early).
    pub threads: usize,
}

impl Default for BundleOptions {
    fn default() -> Self {
        Self {
            compression_level: 6,
            threads: 1,
        }
    }
}

/// What was written: where, how big, its digest and what went in or was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleInfo {
    /// The final archive path (`dest`).
    pub path: PathBuf,
    /// Archive size in bytes.
    pub size: u64,
    /// Lowercase hex sha256 of the archive bytes.
    pub sha256: String,
    /// Regular files archived.
    pub files: u64,
    /// Symlinks archived.
    pub symlinks: u64,
    /// Entries left out (or altered), as (path relative to the source, reason).
    pub skipped: Vec<(String, String)>,
}

/// Status of one collector, redactor or analyzer run, for summary.txt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimingStatus {
    /// Ran and succeeded (`S`).
    Succeeded,
    /// Ran and failed (`F`).
    Failed,
    /// Excluded or skipped (`X`).
    Skipped,
}

/// One timed step for summary.txt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepTiming {
    /// Display name, e.g. `run/run-example` or `cluster-resources`.
    pub name: String,
    /// How it ended.
    pub status: TimingStatus,
    /// How long it took.
    pub duration: Duration,
}

/// Kind of an archive entry as seen by [`list_archive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// Regular file.
    File,
    /// Symbolic link.
    Symlink,
    /// Directory (never written by us; reported when reading other archives).
    Directory,
    /// Any other tar type flag.
    Other(u8),
}

/// One entry of an archive, as read back by [`list_archive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveEntry {
    /// Entry name with forward slashes (long names resolved).
    pub name: String,
    /// File, symlink, ...
    pub kind: EntryKind,
    /// Symlink target, if a link.
    pub link_target: Option<String>,
    /// Data size in bytes.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Numeric owner.
    pub uid: u64,
    /// Numeric group.
    pub gid: u64,
    /// Owner name (empty when absent).
    pub user: String,
    /// Group name (empty when absent).
    pub group: String,
    /// Modification time, seconds since the epoch.
    pub mtime: u64,
}

/// Why a bundle could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The top folder name is not a single plain path component.
    #[error("invalid top folder name {top:?}: {reason}")]
    InvalidTop {
        /// The rejected name.
        top: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// An option is out of range.
    #[error("invalid bundle option: {0}")]
    InvalidOption(String),
    /// The destination path cannot be used.
    #[error("invalid destination {}: {reason}", dest.display())]
    InvalidDest {
        /// The destination given.
        dest: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },
    /// The source tree could not be listed.
    #[error("cannot read source tree at {}: {}", path.display(), Reason(source))]
    Source {
        /// The directory or entry that failed.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A file failed while its bytes were already going into the archive (the archive is abandoned).
    #[error("{} while reading {} into the archive", Reason(source), path.display())]
    Read {
        /// The source file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Creating, writing, syncing or renaming the archive failed.
    #[error("{} while {step} {}", Reason(source), dest.display())]
    Write {
        /// What was being done: `creating`, `writing`, `syncing`, `renaming into`.
        step: &'static str,
        /// The final destination path.
        dest: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// An existing archive could not be read.
    #[error("cannot read archive {}: {}", path.display(), Reason(source))]
    Archive {
        /// The archive path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// Short lower-case wording for the errors people meet, the OS text otherwise.
struct Reason<'a>(&'a io::Error);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self.0.raw_os_error() {
            Some(libc::ENOSPC) => "no space left on device",
            Some(libc::EDQUOT) => "disk quota exceeded",
            Some(libc::EROFS) => "read-only file system",
            Some(libc::EACCES) | Some(libc::EPERM) => "permission denied",
            Some(libc::ENOENT) => "no such file or directory",
            Some(libc::EIO) => "input/output error",
            _ => return write!(f, "{}", self.0),
        };
        f.write_str(text)
    }
}

/// `path` relative to nothing, for messages: lossy UTF-8 with forward slashes.
pub(crate) fn display_rel(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
