//! The run record's types: what `jobs/<job>/runs/<run-id>.json` holds. [`super::records`] is
//! their one writer (and re-exports them).

use super::RunId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Why a run started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// Its schedule fired.
    Schedule,
    /// A fire missed during downtime, run late within `startingDeadline`.
    CatchUp,
    /// `trigger JOB`.
    Manual,
    /// A retry of a failed run.
    Retry,
    /// A run of a job it names in `spec.after` ended (the record's `parent` says which).
    After,
    /// An Alertmanager alert matched one of the job's `spec.triggers` (the record's `alert`
    /// says which).
    Alert,
}

/// The alert that started a run (`trigger: alert`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertCause {
    /// The alert's labels.
    pub labels: std::collections::BTreeMap<String, String>,
    /// When the alert started firing, as Alertmanager said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// Alertmanager's fingerprint of the alert.
    #[serde(default)]
    pub fingerprint: String,
}

/// How a run ended (or that it has not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStatus {
    /// In progress (a record left like this after a crash is marked `interrupted` at start-up).
    Running,
    /// Finished and produced its result.
    Succeeded,
    /// Produced its bundle, but some collectors failed (the reason names them). Why not
    /// `partial`: bundles already use "partial" for a run cut short (timeout, interruption).
    SucceededWithErrors,
    /// Finished with an error.
    Failed,
    /// Cancelled by its timeout; what it had is kept.
    TimedOut,
    /// Not run (concurrency policy, low disk, ...); the reason says why.
    Skipped,
    /// Cut off by a shutdown, a `Replace`, or a crash; partial results are kept.
    Interrupted,
    /// Fires that passed while the agent was down and were not caught up.
    Missed,
    /// Collected, archived and uploaded, but its analysis failed by `analyze.failOn`.
    #[serde(rename = "analysisFailed")]
    AnalysisFailed,
}

impl RunStatus {
    /// The name used in records and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::SucceededWithErrors => "succeeded-with-errors",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed-out",
            RunStatus::Skipped => "skipped",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Missed => "missed",
            RunStatus::AnalysisFailed => "analysisFailed",
        }
    }

    /// Whether the run produced what it was asked for (its bundle counts as a good one).
    pub fn is_success(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::SucceededWithErrors)
    }
}

/// Outcome of one pipeline phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseStatus {
    /// Done.
    Succeeded,
    /// Failed (see `error`).
    Failed,
    /// Not needed for this job (e.g. no upload targets).
    Skipped,
    /// This build has no implementation of the phase yet.
    NotAvailable,
    /// Stopped by a timeout or cancellation.
    Cancelled,
    /// Left to the background: uploads waiting in the upload queue.
    Pending,
}

/// The status enums of a record's parts. Each serialises as the word records have always held;
/// a word this build does not know (a record written by a later version) reads as `Unknown`
/// rather than making the whole record unreadable.
macro_rules! record_status {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $word:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $word)] $variant,)+
            /// A word this build does not know.
            #[serde(other, rename = "unknown")]
            Unknown,
        }

        impl $name {
            /// The word records hold.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word,)+
                    $name::Unknown => "unknown",
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

record_status! {
    /// How one collector of a run ended.
    CollectorRunStatus {
        /// It ran and wrote its output.
        Succeeded => "succeeded",
        /// It failed (see `error`).
        Failed => "failed",
        /// It did not run (see `error` for why).
        Skipped => "skipped",
    }
}

record_status! {
    /// Where an upload of a run stands.
    UploadStatus {
        /// The target has the bundle.
        Succeeded => "succeeded",
        /// Given up (see `error`).
        Failed => "failed",
        /// Waiting in the upload queue.
        Pending => "pending",
    }
}

record_status! {
    /// How a webhook call series ended.
    NotificationStatus {
        /// A 2xx answer.
        Delivered => "delivered",
        /// Given up (see `error`).
        Failed => "failed",
    }
}

record_status! {
    /// What became of a spec read for `collect.clusterSpecs`.
    ClusterSpecStatus {
        /// Merged into the run's collection.
        Loaded => "loaded",
        /// Left out; the run went on with the others.
        Failed => "failed",
    }
}

record_status! {
    /// What became of a spec `uri:` followed for `collect.followSpecURI`.
    SpecUriStatus {
        /// The fetched spec replaced the document.
        Fetched => "fetched",
        /// The document was used as written (see `warning`).
        Fallback => "fallback",
    }
}

/// One phase of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseRecord {
    /// `collect`, `redact`, `analyze`, `archive`, `upload`.
    pub name: String,
    /// Outcome.
    pub status: PhaseStatus,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// What went wrong, or why it did not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One collector of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectorRecord {
    /// Collector type (`cpu`, `run`, ...).
    pub kind: String,
    /// Its title (`collectorName` or the default).
    pub title: String,
    /// How it ended.
    pub status: CollectorRunStatus,
    /// Files it wrote.
    pub files: u64,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// Error or skip reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The archive a run produced.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleRecord {
    /// Path of the `.tar.gz`.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Hex sha256.
    pub sha256: String,
    /// Whether it holds only part of what was asked for (timeout, interruption).
    #[serde(default)]
    pub partial: bool,
    /// When retention removed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_at: Option<DateTime<Utc>>,
    /// Which retention rule removed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_by: Option<String>,
}

/// Fires recorded as missed by one catch-up decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MissedRecord {
    /// How many fires were missed.
    pub count: u64,
    /// The earliest missed fire counted.
    pub first: DateTime<Utc>,
    /// The latest missed fire.
    pub last: DateTime<Utc>,
    /// The count stopped at a bound (very long downtime of a frequent job).
    #[serde(default)]
    pub capped: bool,
}

/// One upload attempt series of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadRecord {
    /// Target kind and name (`s3:bucket`).
    pub target: String,
    /// Where it went.
    pub url: String,
    /// Bytes sent.
    pub size: u64,
    /// Attempts made.
    pub attempts: u32,
    /// Where it stands.
    pub status: UploadStatus,
    /// Last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall time of the last attempt, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// One webhook call series of a run (all the events it carried, in one request per attempt).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRecord {
    /// The webhook, without query string or credentials.
    pub url: String,
    /// Events sent (`failed`, `uploadFailed`, ...).
    pub events: Vec<String>,
    /// Requests made.
    pub attempts: u32,
    /// How it ended.
    pub status: NotificationStatus,
    /// HTTP status of the last answer, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything known about one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    /// Record format version.
    pub version: u32,
    /// Unique within the job; sorts by time.
    pub run_id: RunId,
    /// Job name.
    pub job: String,
    /// Hex sha256 of the job definition the run used.
    pub spec_hash: String,
    /// Why it ran.
    pub trigger: Trigger,
    /// The alert that started it (`trigger: alert`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertCause>,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// A retry's first attempt's trigger (`schedule`, `catch-up`, `alert`, `after`): a retry
    /// keeps its cause (`alert`, `parent`) and says what it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_trigger: Option<Trigger>,
    /// The schedule slot (nominal fire instant), for scheduled, catch-up and retry runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<DateTime<Utc>>,
    /// When it actually started (after jitter and queueing).
    pub started_at: DateTime<Utc>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// Outcome.
    pub status: RunStatus,
    /// Why it ended this way, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The host that ran it.
    pub host: String,
    /// Pipeline phases in order.
    #[serde(default)]
    pub phases: Vec<PhaseRecord>,
    /// Collectors.
    #[serde(default)]
    pub collectors: Vec<CollectorRecord>,
    /// The archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<BundleRecord>,
    /// Redaction counts per redactor (never values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redaction: Option<serde_json::Value>,
    /// Analyzer outcome counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<serde_json::Value>,
    /// Resource limits of the run's processes: what was asked, how it was applied, what was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<serde_json::Value>,
    /// Uploads.
    #[serde(default)]
    pub uploads: Vec<UploadRecord>,
    /// For `missed` records: which fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<MissedRecord>,
    /// Webhook calls about this run; a failed one never changes the run's status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<NotificationRecord>,
    /// What changed since the job's previous completed run (`<run-id>.changes.json` has it all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangesRecord>,
    /// The run whose end started this one (trigger `after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRun>,
    /// Specs loaded from the cluster (`collect.clusterSpecs`), in the order they were read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_specs: Vec<ClusterSpecRecord>,
    /// Each spec `uri:` followed for this run (`collect.followSpecURI`).
    #[serde(default, rename = "specURIs", skip_serializing_if = "Vec::is_empty")]
    pub spec_uris: Vec<SpecUriRecord>,
}

/// The identity of the run that started a chained run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentRun {
    /// The parent job.
    pub job: String,
    /// Its run.
    pub run_id: RunId,
    /// How it ended.
    pub status: RunStatus,
}

/// One spec read from a Secret or ConfigMap for `collect.clusterSpecs`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpecRecord {
    /// `namespace/Kind/name/key` (a failed listing: `namespace/Kind`, or `*/Kind` for all).
    pub name: String,
    /// Hex sha256 of the spec's text (absent when it could not be read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Whether it was merged.
    pub status: ClusterSpecStatus,
    /// Why it failed, or what was ignored in it (a `uri:` that was not followed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One spec `uri:` followed for `collect.followSpecURI`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpecUriRecord {
    /// The `uri` (without user information, query or fragment, which may carry a credential).
    pub uri: String,
    /// The document that names it: `file:line`.
    pub document: String,
    /// Whether the fetched spec was used.
    pub status: SpecUriStatus,
    /// Hex sha256 of the fetched text (absent when nothing was received).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Why the fetched spec was not used, or what was left out of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// The summary of what changed since the previous completed run (`changes` of a record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangesRecord {
    /// One line for people: `no changes`, `2 analysis, 3 objects (+1 -1 ~1)`, ...
    pub summary: String,
    /// Changes per category (`analysis`, `objects`, `restarts`, `events`, `nodes`, `host`);
    /// categories without changes are left out.
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    /// The run compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
}
