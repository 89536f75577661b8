//! The agent's state as clients see it (`/api/v1/status`, `status`), republished after every change.

use crate::state::records::RunStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The last run of a job, in brief.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    /// Run id.
    pub run_id: String,
    /// Outcome.
    pub status: RunStatus,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
}

/// One scheduled job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// Name.
    pub name: String,
    /// Cron expression.
    pub schedule: String,
    /// Zone.
    pub time_zone: String,
    /// Suspended jobs do not fire.
    pub suspended: bool,
    /// When it runs next (with jitter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run: Option<DateTime<Utc>>,
    /// Run ids in progress.
    #[serde(default)]
    pub running: Vec<String>,
    /// The latest finished run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<LastRun>,
    /// Defining file.
    pub source: PathBuf,
    /// Whether its file is currently rejected and this is the last good version.
    #[serde(default)]
    pub stale: bool,
}

/// A rejected job file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedFile {
    /// File.
    pub path: PathBuf,
    /// Its errors, rendered.
    pub errors: Vec<String>,
}

/// The latest reload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReloadInfo {
    /// When.
    pub at: DateTime<Utc>,
    /// Every file accepted.
    pub successful: bool,
    /// `Plan: …` line or the error.
    pub summary: String,
}

/// Everything `status` shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusSnapshot {
    /// Agent pid.
    pub pid: u32,
    /// Agent version.
    pub version: String,
    /// Jobs directory.
    pub jobs_dir: PathBuf,
    /// State directory.
    pub state_dir: PathBuf,
    /// Ready to serve: initial plan applied and the state directory writable.
    pub ready: bool,
    /// Why not ready.
    #[serde(default)]
    pub problems: Vec<String>,
    /// The latest reload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reload: Option<ReloadInfo>,
    /// Jobs, by name.
    pub jobs: Vec<JobStatus>,
    /// Files rejected at the latest reload.
    #[serde(default)]
    pub rejected_files: Vec<RejectedFile>,
    /// Runs waiting for a slot under `maxConcurrentRuns`.
    pub queued_runs: usize,
    /// Whether the file watcher works (false: polling by periodic rescan).
    pub watching: bool,
}
