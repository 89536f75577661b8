//! What happened to each collector of a run: one type for host and in-cluster collectors.

use serde::Serialize;
use std::time::Duration;

/// What happened to one collector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum CollectorStatus {
    /// It ran and wrote its output.
    Succeeded,
    /// It failed; an error file was written.
    Failed,
    /// It did not run (excluded, unsupported, cancelled).
    Skipped {
        /// Why.
        reason: String,
    },
}

/// The result of one collector entry (host or in-cluster), as the run record shows it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectorOutcome {
    /// The spec type key, e.g. `cpu`.
    pub kind: String,
    /// The collector title (`collectorName` or the type's default title).
    pub title: String,
    /// Succeeded, Failed or Skipped.
    #[serde(flatten)]
    pub status: CollectorStatus,
    /// Bundle-relative paths written (including the error file).
    pub files: Vec<String>,
    /// Wall time spent.
    pub duration: Duration,
    /// The error message, when it failed.
    pub error: Option<String>,
}

impl CollectorOutcome {
    /// A collector that did not run, for `reason`.
    pub fn skipped(kind: &str, title: &str, reason: &str) -> Self {
        CollectorOutcome {
            kind: kind.to_string(),
            title: title.to_string(),
            status: CollectorStatus::Skipped {
                reason: reason.to_string(),
            },
            files: Vec::new(),
            duration: Duration::ZERO,
            error: None,
        }
    }
}
