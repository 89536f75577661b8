//! The state directory: what the agent applied (`applied.json`), written atomically.

mod applied;
mod atomic;

pub use applied::{APPLIED_FILE, read_applied, write_applied};
pub use atomic::write_atomic;

use std::path::PathBuf;

/// A state directory operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file exists but is not what the agent wrote.
    #[error("{path} is corrupt: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
