//! The one message type of the control loop: everything that changes the agent's state (file
//! changes, signals, API calls, timers, finished runs) arrives as a [`Control`].

use crate::pipeline::progress::Phases;
use crate::plan::Plan;
use crate::state::records::RunRecord;
use serde::Serialize;
use tokio::sync::{oneshot, watch};

/// Why a reload was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReloadCause {
    /// The agent started.
    Startup,
    /// The file watcher saw a change.
    Watcher,
    /// SIGHUP.
    Signal,
    /// `POST /-/reload`.
    Api,
    /// The periodic rescan.
    Rescan,
}

impl ReloadCause {
    /// Label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ReloadCause::Startup => "startup",
            ReloadCause::Watcher => "watcher",
            ReloadCause::Signal => "signal",
            ReloadCause::Api => "api",
            ReloadCause::Rescan => "rescan",
        }
    }
}

/// What a reload did.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReloadOutcome {
    /// Whether every file was accepted (`false`: some rejected, or the whole reload with `--strict`).
    pub successful: bool,
    /// Whether anything changed in what runs.
    pub changed: bool,
    /// `Plan: …` summary line.
    pub summary: String,
    /// The plan as `plan` prints it (or the summary when there is no plan).
    pub text: String,
    /// The plan that was applied (or that was refused, with `blocked`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// Why the reload failed as a whole (jobs directory missing, state not writable, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A manual run that was accepted.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerAccepted {
    /// Job name.
    pub job: String,
    /// Run id of the new run.
    pub run_id: crate::state::RunId,
    /// `started`, `queued` (global limit), `skipped` (concurrency policy Forbid), or
    /// `coalesced` (a run of the job was already queued: this is its id).
    pub state: String,
}

/// Why a manual run was refused.
#[derive(Clone, Debug, Serialize, thiserror::Error)]
#[serde(rename_all = "camelCase", tag = "reason", content = "message")]
pub enum TriggerRefused {
    /// No such job is scheduled.
    #[error("no job named `{0}` is applied")]
    UnknownJob(String),
    /// The agent is shutting down.
    #[error("the agent is shutting down")]
    ShuttingDown,
    /// The job was triggered too often (see `trigger_limit`).
    #[error(
        "job `{job}` was triggered too often (at most {burst} at once, then one every {every_secs}s); try again in {retry_after_secs}s"
    )]
    RateLimited {
        /// Job name.
        job: String,
        /// Triggers allowed at once.
        burst: u32,
        /// Seconds between further triggers.
        every_secs: u64,
        /// Seconds until the next trigger is accepted.
        retry_after_secs: u64,
    },
    /// Cluster mode: another replica leads (or none does yet); only the leader starts runs.
    #[error("not the leader; the leader is {}", .leader.as_deref().unwrap_or("not known yet (no replica holds the Lease)"))]
    NotLeader {
        /// The leader as this replica knows it.
        leader: Option<String>,
    },
}

/// Where a run is, as the control loop knows it (`GET /api/v1/jobs/{job}/runs/{runId}`).
#[derive(Debug)]
pub enum RunState {
    /// Waiting for a slot (`maxConcurrentRuns`).
    Queued,
    /// In progress: its phases so far.
    Running(watch::Receiver<Phases>),
    /// Ended, but its record could not be written to the state directory.
    Unrecorded {
        /// The final record, as it would have been written.
        record: Box<RunRecord>,
        /// Why it could not be written.
        error: String,
    },
    /// Not queued or running: its record on disk tells the rest.
    NotInMemory,
}

/// Messages to the control loop.
#[derive(Debug)]
pub enum Control {
    /// Compare the jobs directory with what runs and apply the difference.
    Reload {
        /// Why.
        cause: ReloadCause,
        /// Where to send the outcome (API and tests wait for it).
        reply: Option<oneshot::Sender<ReloadOutcome>>,
    },
    /// Run a job now.
    Trigger {
        /// Job name.
        job: String,
        /// Where to send the answer.
        reply: oneshot::Sender<Result<TriggerAccepted, TriggerRefused>>,
    },
    /// Firing alerts from Alertmanager: start the jobs whose `spec.triggers` match them.
    Alerts {
        /// The firing alerts of one notification.
        alerts: Vec<crate::state::records::AlertCause>,
        /// What was started.
        reply: oneshot::Sender<Vec<super::alert_triggers::AlertStart>>,
    },
    /// Where a run is.
    RunState {
        /// Job name.
        job: String,
        /// Run id.
        run_id: String,
        /// Where to send the answer.
        reply: oneshot::Sender<RunState>,
    },
    /// A run ended.
    RunFinished {
        /// Its final record.
        record: Box<RunRecord>,
        /// Set when the record could not be written to the state directory.
        persist_error: Option<String>,
    },
    /// Start-up recovery of interrupted runs' partial bundles is done.
    Recovered,
    /// Cluster mode: who leads changed (or this replica's renew deadline passed).
    Leadership,
    /// Cluster mode: what a new leader catches up of the slots it passed as a standby
    /// (decided from the job's claim Lease, see [`super::failover`]).
    CatchUp {
        /// Job name.
        job: String,
        /// The slot to run and the slots missed.
        caught: super::timing::FailoverCatchUp,
    },
    /// Stop firing, let runs finish within the grace period, then exit.
    Shutdown,
}
