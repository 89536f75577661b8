//! The agent's state as clients see it (`/api/v1/status`, `status`), republished after every change.

use crate::jobs::Job;
use crate::schedule::Phase;
use crate::state::records::RunStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// The last run of a job, in brief.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastRun {
    /// Run id.
    pub run_id: crate::state::RunId,
    /// Outcome.
    pub status: RunStatus,
    /// Start.
    pub started_at: DateTime<Utc>,
    /// End.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
    /// The run record's `analysis` (outcome counts, fail and warn titles), when analyzers ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<serde_json::Value>,
}

/// One scheduled job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// Name.
    pub name: String,
    /// Cron expression (none for a one-shot or a job started only by triggers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The one-shot instant (`spec.at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// Where the job stands: scheduled, triggerOnly, done (a one-shot that ran or was
    /// recorded missed) or expired (its activeWindow ended).
    #[serde(default)]
    pub phase: Phase,
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
    /// Cluster mode: who leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterStatus>,
}

/// Who leads, in cluster mode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// This replica's holder identity.
    pub identity: String,
    /// The Lease, `namespace/name`.
    pub lease: String,
    /// Whether this replica leads (starts runs).
    pub leading: bool,
    /// The leader as this replica knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// Changes of leader this replica has seen.
    pub transitions: u64,
    /// The last failure to read or write the Lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One job as the daemon publishes it: the job itself (shared, not copied) and its live state.
///
/// The daemon republishes after every change; with 10,000 jobs, copying each job's name,
/// schedule, zone and file into a [`JobStatus`] every time cost ≈2 MB of resident memory and
/// 40,000 allocations per publish. The copy is made when a client asks instead.
#[derive(Clone, Debug)]
pub struct LiveJob {
    /// The applied job.
    pub job: Arc<Job>,
    /// When it runs next (with jitter).
    pub next_run: Option<DateTime<Utc>>,
    /// Run ids in progress.
    pub running: Vec<String>,
    /// The latest finished run (shared with the run book: a publish copies none, and an
    /// unset one takes 8 bytes, as the daemon keeps one `LiveJob` per job).
    pub last_run: Option<Arc<LastRun>>,
    /// Whether its file is currently rejected and this is the last good version.
    pub stale: bool,
    /// Where it stands (done, expired, ...) when published.
    pub phase: Phase,
}

impl LiveJob {
    /// The job's status as clients see it.
    pub fn status(&self) -> JobStatus {
        let job = &self.job;
        JobStatus {
            name: job.name.clone(),
            schedule: (job.timeline.schedule()).map(|s| s.expression().to_string()),
            at: job.timeline.once(),
            phase: self.phase,
            time_zone: job.time_zone().to_string(),
            suspended: job.document.spec.suspend,
            next_run: self.next_run,
            running: self.running.clone(),
            last_run: self.last_run.as_deref().cloned(),
            source: job.source.file.clone(),
            stale: self.stale,
        }
    }
}

/// What the daemon publishes after every change: the status without its jobs, and the jobs.
#[derive(Clone, Debug, Default)]
pub struct Published {
    /// Everything but [`StatusSnapshot::jobs`], which is empty here.
    pub agent: StatusSnapshot,
    /// Jobs, by name.
    pub jobs: Vec<LiveJob>,
}

impl Published {
    /// The whole status, as `/api/v1/status` serves it.
    pub fn snapshot(&self) -> StatusSnapshot {
        StatusSnapshot {
            jobs: self.jobs.iter().map(LiveJob::status).collect(),
            ..self.agent.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{Context, load_paths};

    #[test]
    fn what_the_daemon_keeps_per_job_stays_small() {
        // The daemon holds a `Job` and a `LiveJob` for each job for its whole life (10,000 in
        // the idle benchmark), so parts that few jobs set are boxed. The bounds leave some
        // room; a field that pushes past them should be boxed too (bench/README.md, "Agent").
        let (job, live) = (size_of::<Job>(), size_of::<LiveJob>());
        assert!(job <= 1_200, "Job is {job} bytes");
        assert!(live <= 64, "LiveJob is {live} bytes");
    }

    #[test]
    fn a_live_job_shows_the_job_and_its_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.yaml");
        std::fs::write(
            &path,
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {name: a}\nspec:\n  schedule: \"0 2 * * *\"\n  timeZone: Europe/Berlin\n  suspend: true\n  collect: {supportBundle: {hostCollectors: [{memory: {}}]}}\n",
        )
        .expect("write");
        let ctx = Context {
            default_time_zone: "UTC".into(),
            ..Context::default()
        };
        let job = Arc::clone(&load_paths(std::slice::from_ref(&path), &ctx).jobs["a"]);
        let at: DateTime<Utc> = "2026-11-28T01:00:00Z".parse().expect("time");
        let last = LastRun {
            run_id: "r1".into(),
            status: RunStatus::Succeeded,
            started_at: at,
            ended_at: Some(at),
            analysis: None,
        };
        let live = LiveJob {
            job,
            next_run: Some(at),
            running: vec!["r2".into()],
            last_run: Some(Arc::new(last.clone())),
            stale: true,
            phase: Phase::Scheduled,
        };
        let published = Published {
            agent: StatusSnapshot {
                pid: 7,
                ready: true,
                ..StatusSnapshot::default()
            },
            jobs: vec![live],
        };
        let snapshot = published.snapshot();
        assert_eq!(snapshot.pid, 7);
        assert!(snapshot.ready);
        assert_eq!(
            snapshot.jobs,
            [JobStatus {
                name: "a".into(),
                schedule: Some("0 2 * * *".into()),
                at: None,
                phase: Phase::Scheduled,
                time_zone: "Europe/Berlin".into(),
                suspended: true,
                next_run: Some(at),
                running: vec!["r2".into()],
                last_run: Some(last),
                source: path,
                stale: true,
            }]
        );
    }
}
