//! Why a collector failed: one error type for host and in-cluster collectors. Its message is what
//! the collector's error file and the run record say.

use crate::collect::cluster::api::ApiError;
use std::path::Path;

/// Why a collector (or in-cluster collection as a whole) failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem or socket operation failed; the OS message is kept.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The spec body is missing a field or has a bad value.
    #[error("invalid spec: {0}")]
    Spec(String),
    /// The run was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// No usable cluster configuration.
    #[error("{0}")]
    Config(String),
    /// A Kubernetes API call failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A `runPod` (or `run`) spec the pod cannot be made from, or a pod that cannot start.
    #[error("invalid spec: {0}")]
    RunPod(#[from] crate::collect::cluster::runpod::RunPodError),
    /// A `logs` spec with limits that do not parse.
    #[error("invalid spec: {0}")]
    LogLimits(#[from] crate::collect::cluster::logs::LimitsError),
    /// The registry client could not be made.
    #[error(transparent)]
    Registry(#[from] crate::collect::registry::RegistryError),
    /// Anything else, already worded for the error file.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// An I/O error while writing `path`.
    pub fn write(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            context: format!("write {}", path.display()),
            source,
        }
    }
}
