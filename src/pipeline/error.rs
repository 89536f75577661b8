//! The errors of the pipeline's phases. They stay typed until the run record: a phase turns one
//! into its `reason` text there, and nowhere sooner.

use crate::bundle::BundleError;
use crate::redact::{RedactError, TokenError};
use crate::state::StateError;

/// Why a phase's blocking work (redaction, analysis, archiving, the secrets pass) failed. Each
/// variant renders the message the run record has always carried.
#[derive(Debug, thiserror::Error)]
pub enum PhaseError {
    /// The state directory refused a path (a symlink, a bad owner) or could not be written.
    #[error(transparent)]
    State(#[from] StateError),
    /// A file under the state directory could not be written; `what` names it.
    #[error("{what}: {source}")]
    Write {
        /// What was being written ("writing version.yaml").
        what: String,
        /// The state directory's error.
        source: StateError,
    },
    /// A plain file operation failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// A file operation failed; `what` says which.
    #[error("{what}: {source}")]
    IoAt {
        /// What was being done ("marking the staged files partial", a path).
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The redactors could not be compiled or run.
    #[error(transparent)]
    Redact(#[from] RedactError),
    /// The token keys could not be loaded or the map could not be encrypted.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Tokenization could not be set up (its keys).
    #[error("tokenization: {0}")]
    Tokenization(#[source] TokenError),
    /// The archive could not be written.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The file to work on has no name (a path ending in `..`).
    #[error("the archive has no file name")]
    NoFileName,
    /// The blocking task died (a panic) or was cancelled.
    #[error("{task} task failed: {source}")]
    Task {
        /// Which task ("redaction", "archiver").
        task: &'static str,
        /// Why.
        source: tokio::task::JoinError,
    },
}

impl PhaseError {
    /// `PhaseError::Write` for `what`.
    pub fn write(what: impl Into<String>) -> impl FnOnce(StateError) -> PhaseError {
        let what = what.into();
        move |source| PhaseError::Write { what, source }
    }

    /// `PhaseError::IoAt` for `what`.
    pub fn io_at(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PhaseError {
        let what = what.into();
        move |source| PhaseError::IoAt { what, source }
    }

    /// `PhaseError::Task` for the task named `task`.
    pub fn task(task: &'static str) -> impl FnOnce(tokio::task::JoinError) -> PhaseError {
        move |source| PhaseError::Task { task, source }
    }
}
