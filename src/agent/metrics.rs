//! Prometheus metrics of the agent (`/metrics`), with the names operators alert on.

use crate::state::records::RunStatus;
pub use crate::state::records::{NotificationStatus, UploadStatus};
use chrono::{DateTime, Utc};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;

/// A run status as a label value, rendered as in run records (`succeeded`, `timed-out`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunStatusValue(pub RunStatus);

impl std::hash::Hash for RunStatusValue {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_str().hash(state);
    }
}

impl EncodeLabelValue for RunStatusValue {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(self.0.as_str())
    }
}

/// `{status}` label of run executions.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunStatusLabel {
    /// How the run ended.
    pub status: RunStatusValue,
}

/// `{status}` label of notifications.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// The notification record's status (`delivered`, `failed`).
    pub status: NotificationStatus,
}

impl EncodeLabelValue for NotificationStatus {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

/// How a reload went.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum ReloadResult {
    /// `success`: every file was accepted.
    Success,
    /// `failure`: a file was rejected, or the directory could not be read.
    Failure,
}

impl EncodeLabelValue for ReloadResult {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(match self {
            ReloadResult::Success => "success",
            ReloadResult::Failure => "failure",
        })
    }
}

/// `{result}` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// How the reload went.
    pub result: ReloadResult,
}

/// What the last reload made of a job file.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum FileState {
    /// `valid`.
    Valid,
    /// `rejected`.
    Rejected,
    /// `ignored` (editor leftovers, dotfiles, ...).
    Ignored,
}

impl EncodeLabelValue for FileState {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(match self {
            FileState::Valid => "valid",
            FileState::Rejected => "rejected",
            FileState::Ignored => "ignored",
        })
    }
}

/// `{state}` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    /// What the file is.
    pub state: FileState,
}

/// `{job}` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabel {
    /// Job name.
    pub job: String,
}

/// `{target,status}` labels of uploads.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UploadLabel {
    /// `s3:<bucket>`, `gcs:<bucket>`, `http:<host>`.
    pub target: String,
    /// `succeeded`, `failed` or `pending` (an attempt failed and the queue retries it).
    pub status: UploadStatus,
}

impl EncodeLabelValue for UploadStatus {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

/// `{job,outcome}` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// Job name.
    pub job: String,
    /// A finished run's status (`succeeded`, `failed`, ...).
    pub outcome: RunStatusValue,
}

/// A severity of analyzer results, as a label value.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Severity {
    /// `pass`.
    Pass,
    /// `warn`.
    Warn,
    /// `fail`.
    Fail,
    /// `error`: the analyzer could not run (its file missing or malformed, a bad `when`).
    Error,
}

impl Severity {
    const ALL: [Severity; 4] = [
        Severity::Pass,
        Severity::Warn,
        Severity::Fail,
        Severity::Error,
    ];

    /// The key in the run record's `analysis` object, and the label value.
    fn as_str(self) -> &'static str {
        match self {
            Severity::Pass => "pass",
            Severity::Warn => "warn",
            Severity::Fail => "fail",
            Severity::Error => "error",
        }
    }
}

impl EncodeLabelValue for Severity {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(self.as_str())
    }
}

/// `{job,severity}` labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SeverityLabel {
    /// Job name.
    pub job: String,
    /// Which results.
    pub severity: Severity,
}

/// The statuses a finished run can have (every [`RunStatus`] but `running`).
const OUTCOMES: [RunStatus; 8] = [
    RunStatus::Succeeded,
    RunStatus::SucceededWithErrors,
    RunStatus::Failed,
    RunStatus::TimedOut,
    RunStatus::Skipped,
    RunStatus::Interrupted,
    RunStatus::Missed,
    RunStatus::AnalysisFailed,
];

/// Every metric the agent exports.
pub struct Metrics {
    registry: Registry,
    /// Jobs scheduled.
    pub jobs_total: Gauge,
    /// Runs in progress.
    pub jobs_active: Gauge,
    /// Finished runs by status.
    pub executions: Family<RunStatusLabel, Counter>,
    /// Run durations.
    pub execution_duration: Histogram,
    /// Bundle sizes.
    pub bundle_size: Histogram,
    /// 1 when the latest reload accepted every file.
    pub last_reload_successful: Gauge,
    /// Reloads by result.
    pub reloads: Family<ResultLabel, Counter>,
    /// Job files by state.
    pub config_files: Family<StateLabel, Gauge>,
    /// Next fire per job, as a Unix timestamp.
    pub next_run: Family<JobLabel, Gauge<f64, AtomicU64>>,
    /// Missed fires per job.
    pub missed_runs: Family<JobLabel, Counter>,
    /// Upload outcomes per target.
    pub uploads: Family<UploadLabel, Counter>,
    /// Upload attempt durations.
    pub upload_duration: Histogram,
    /// Webhook call series by outcome (`delivered`, `failed`).
    pub notifications: Family<StatusLabel, Counter>,
    /// End of each job's latest successful run, as a Unix timestamp.
    pub last_success: Family<JobLabel, Gauge<f64, AtomicU64>>,
    /// 1 for the status of each job's latest finished run, 0 for the others.
    pub last_run_outcome: Family<OutcomeLabel, Gauge>,
    /// Analyzer results of each job's latest analyzed run, by severity.
    pub analysis_results: Family<SeverityLabel, Gauge>,
    /// The worst result of each job's latest analyzed run: 0 pass, 1 warn, 2 fail.
    pub last_analysis_outcome: Family<JobLabel, Gauge>,
    /// The longest gap between a job's next fires: what "N intervals without a success" means.
    pub schedule_interval: Family<JobLabel, Gauge<f64, AtomicU64>>,
    /// Pending uploads in the queue (sampled at each scrape).
    pub upload_queue_entries: Gauge,
    /// Age of the oldest pending upload, 0 when none (sampled at each scrape).
    pub upload_queue_oldest_age: Gauge<f64, AtomicU64>,
    /// Bytes free on the state directory's file system (sampled at each scrape).
    pub state_dir_free: Gauge,
    /// The `minFreeDisk` setting: below it runs are skipped.
    pub state_dir_min_free: Gauge,
    /// Cluster mode: 1 while this replica leads, else 0.
    pub leader: Family<IdentityLabel, Gauge>,
    /// Cluster mode: changes of leader this replica has seen.
    pub leader_transitions: Counter,
}

/// `{identity}` label: a replica's holder identity.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IdentityLabel {
    /// Holder identity.
    pub identity: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `troubleshoot_scheduler` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("troubleshoot_scheduler");
        let m = Metrics {
            registry: Registry::default(),
            jobs_total: Gauge::default(),
            jobs_active: Gauge::default(),
            executions: Family::default(),
            execution_duration: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            bundle_size: Histogram::new(exponential_buckets(1024.0 * 64.0, 4.0, 12)),
            last_reload_successful: Gauge::default(),
            reloads: Family::default(),
            config_files: Family::default(),
            next_run: Family::default(),
            missed_runs: Family::default(),
            uploads: Family::default(),
            upload_duration: Histogram::new(exponential_buckets(0.05, 2.0, 16)),
            notifications: Family::default(),
            last_success: Family::default(),
            last_run_outcome: Family::default(),
            analysis_results: Family::default(),
            last_analysis_outcome: Family::default(),
            schedule_interval: Family::default(),
            upload_queue_entries: Gauge::default(),
            upload_queue_oldest_age: Gauge::default(),
            state_dir_free: Gauge::default(),
            state_dir_min_free: Gauge::default(),
            leader: Family::default(),
            leader_transitions: Counter::default(),
        };
        // Gauges keep their names as given; counters get `_total` appended by the encoder.
        registry.register("jobs_total", "Jobs scheduled", m.jobs_total.clone());
        registry.register("jobs_active", "Runs in progress", m.jobs_active.clone());
        registry.register(
            "executions",
            "Finished runs by status",
            m.executions.clone(),
        );
        registry.register(
            "execution_duration_seconds",
            "Run wall time",
            m.execution_duration.clone(),
        );
        registry.register(
            "bundle_size_bytes",
            "Size of produced bundles",
            m.bundle_size.clone(),
        );
        registry.register(
            "config_last_reload_successful",
            "1 when the latest reload accepted every job file",
            m.last_reload_successful.clone(),
        );
        registry.register("config_reloads", "Reloads by result", m.reloads.clone());
        registry.register("config_files", "Job files by state", m.config_files.clone());
        m.register_jobs(&mut registry);
        m.register_queue_and_cluster(&mut registry);
        Metrics { registry, ..m }
    }

    /// Per-job schedule, upload, notification and analysis metrics (part of [`Metrics::new`]).
    fn register_jobs(&self, registry: &mut Registry) {
        let m = self;
        registry.register(
            "next_run_timestamp_seconds",
            "Next fire of each job (Unix time)",
            m.next_run.clone(),
        );
        registry.register(
            "missed_runs",
            "Fires missed while the agent was down",
            m.missed_runs.clone(),
        );
        registry.register(
            "uploads",
            "Upload outcomes by target and status",
            m.uploads.clone(),
        );
        registry.register(
            "upload_duration_seconds",
            "Wall time of upload attempts",
            m.upload_duration.clone(),
        );
        registry.register(
            "notifications",
            "Webhook notifications by outcome",
            m.notifications.clone(),
        );
        registry.register(
            "last_success_timestamp_seconds",
            "End of each job's latest successful run (Unix time)",
            m.last_success.clone(),
        );
        registry.register(
            "last_run_outcome",
            "1 for the status of each job's latest finished run, 0 for the other statuses",
            m.last_run_outcome.clone(),
        );
        registry.register(
            "analysis_results",
            "Analyzer results of each job's latest analyzed run, by severity",
            m.analysis_results.clone(),
        );
        registry.register(
            "last_analysis_outcome",
            "Worst analyzer result of each job's latest analyzed run: 0 pass, 1 warn, 2 fail",
            m.last_analysis_outcome.clone(),
        );
    }

    /// Scrape-time queue and disk gauges, schedule intervals and cluster mode (part of
    /// [`Metrics::new`]).
    fn register_queue_and_cluster(&self, registry: &mut Registry) {
        let m = self;
        registry.register(
            "schedule_interval_seconds",
            "Longest gap between each job's next fires (suspended jobs have none)",
            m.schedule_interval.clone(),
        );
        registry.register(
            "upload_queue_entries",
            "Uploads pending in the queue",
            m.upload_queue_entries.clone(),
        );
        registry.register(
            "upload_queue_oldest_age_seconds",
            "Age of the oldest pending upload (0 when none is pending)",
            m.upload_queue_oldest_age.clone(),
        );
        registry.register(
            "state_dir_free_bytes",
            "Bytes free on the state directory's file system",
            m.state_dir_free.clone(),
        );
        registry.register(
            "state_dir_min_free_bytes",
            "The minFreeDisk setting: runs are skipped when less is free",
            m.state_dir_min_free.clone(),
        );
        registry.register(
            "leader",
            "Cluster mode: 1 while this replica leads (starts runs), else 0",
            m.leader.clone(),
        );
        registry.register(
            "leader_transitions",
            "Cluster mode: changes of leader this replica has seen",
            m.leader_transitions.clone(),
        );
    }

    /// Cluster mode: whether `identity` (this replica) leads.
    pub fn observe_leader(&self, identity: &str, leads: bool) {
        self.leader
            .get_or_create(&IdentityLabel {
                identity: identity.to_string(),
            })
            .set(i64::from(leads));
    }

    /// Records the analysis of a job's latest finished run (the record's `analysis` object:
    /// `pass`, `warn`, `fail` and `error` counts). A run without one (no analyzers, or the run
    /// ended before the analyze phase) leaves the previous analysis in place.
    pub fn observe_analysis(&self, job: &str, analysis: Option<&serde_json::Value>) {
        let Some(analysis) = analysis else {
            return;
        };
        let count = |s: Severity| {
            analysis
                .get(s.as_str())
                .and_then(|v| v.as_i64())
                .unwrap_or(0)
        };
        for severity in Severity::ALL {
            self.analysis_results
                .get_or_create(&SeverityLabel {
                    job: job.to_string(),
                    severity,
                })
                .set(count(severity));
        }
        let worst = if count(Severity::Fail) > 0 {
            2
        } else if count(Severity::Warn) > 0 {
            1
        } else {
            0
        };
        self.last_analysis_outcome
            .get_or_create(&JobLabel {
                job: job.to_string(),
            })
            .set(worst);
    }

    /// Records a job's latest finished run: its outcome, and when it succeeded, its end.
    pub fn observe_last_run(&self, job: &str, status: RunStatus, ended: Option<DateTime<Utc>>) {
        if status == RunStatus::Running {
            return;
        }
        // Every outcome has a series (0 or 1), so `== 1` and `== 0` both select something and
        // an alert on one outcome does not depend on the series having been created.
        for outcome in OUTCOMES {
            self.last_run_outcome
                .get_or_create(&OutcomeLabel {
                    job: job.to_string(),
                    outcome: RunStatusValue(outcome),
                })
                .set(i64::from(outcome == status));
        }
        if status.is_success()
            && let Some(end) = ended
        {
            self.observe_success(job, end);
        }
    }

    /// Sets a job's latest success (also from the records, at start-up).
    pub fn observe_success(&self, job: &str, ended: DateTime<Utc>) {
        self.last_success
            .get_or_create(&JobLabel {
                job: job.to_string(),
            })
            .set(ended.timestamp_millis() as f64 / 1000.0);
    }

    /// Drops every per-job series of a removed job.
    pub fn forget_job(&self, job: &str) {
        let label = JobLabel {
            job: job.to_string(),
        };
        self.next_run.remove(&label);
        self.missed_runs.remove(&label);
        self.last_success.remove(&label);
        self.last_analysis_outcome.remove(&label);
        self.schedule_interval.remove(&label);
        for severity in Severity::ALL {
            self.analysis_results.remove(&SeverityLabel {
                job: job.to_string(),
                severity,
            });
        }
        for outcome in OUTCOMES {
            self.last_run_outcome.remove(&OutcomeLabel {
                job: job.to_string(),
                outcome: RunStatusValue(outcome),
            });
        }
    }

    /// Counts one upload outcome and its duration (the outcome of a record status this agent
    /// does not write, from a newer agent's record say, is not counted).
    pub fn observe_upload(&self, target: &str, status: UploadStatus, took: std::time::Duration) {
        self.upload_duration.observe(took.as_secs_f64());
        if status == UploadStatus::Unknown {
            return;
        }
        self.uploads
            .get_or_create(&UploadLabel {
                target: target.to_string(),
                status,
            })
            .inc();
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exports_the_documented_names() {
        let m = Metrics::new();
        m.executions
            .get_or_create(&RunStatusLabel {
                status: RunStatusValue(RunStatus::Succeeded),
            })
            .inc();
        m.reloads
            .get_or_create(&ResultLabel {
                result: ReloadResult::Success,
            })
            .inc();
        m.missed_runs
            .get_or_create(&JobLabel { job: "a".into() })
            .inc();
        m.next_run
            .get_or_create(&JobLabel { job: "a".into() })
            .set(1.0);
        m.config_files
            .get_or_create(&StateLabel {
                state: FileState::Valid,
            })
            .set(2);
        m.observe_upload(
            "s3:b",
            UploadStatus::Succeeded,
            std::time::Duration::from_millis(20),
        );
        let end = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .expect("time")
            .with_timezone(&Utc);
        m.observe_last_run("a", RunStatus::Succeeded, Some(end));
        m.observe_last_run("a", RunStatus::Failed, Some(end));
        m.notifications
            .get_or_create(&StatusLabel {
                status: NotificationStatus::Failed,
            })
            .inc();
        m.observe_analysis(
            "a",
            Some(&serde_json::json!({"pass": 3, "warn": 1, "fail": 0})),
        );
        m.schedule_interval
            .get_or_create(&JobLabel { job: "a".into() })
            .set(86400.0);
        let text = m.encode();
        assert!(
            text.contains("troubleshoot_scheduler_analysis_results{job=\"a\",severity=\"pass\"} 3")
        );
        assert!(
            text.contains(
                "troubleshoot_scheduler_analysis_results{job=\"a\",severity=\"error\"} 0"
            )
        );
        assert!(text.contains("troubleshoot_scheduler_last_analysis_outcome{job=\"a\"} 1"));
        for name in [
            "troubleshoot_scheduler_jobs_total ",
            "troubleshoot_scheduler_jobs_active ",
            "troubleshoot_scheduler_executions_total{status=\"succeeded\"} 1",
            "troubleshoot_scheduler_execution_duration_seconds_bucket",
            "troubleshoot_scheduler_bundle_size_bytes_bucket",
            "troubleshoot_scheduler_config_last_reload_successful ",
            "troubleshoot_scheduler_config_reloads_total{result=\"success\"} 1",
            "troubleshoot_scheduler_config_files{state=\"valid\"} 2",
            "troubleshoot_scheduler_next_run_timestamp_seconds{job=\"a\"} 1",
            "troubleshoot_scheduler_missed_runs_total{job=\"a\"} 1",
            "troubleshoot_scheduler_uploads_total{target=\"s3:b\",status=\"succeeded\"} 1",
            "troubleshoot_scheduler_upload_duration_seconds_bucket",
            "troubleshoot_scheduler_notifications_total{status=\"failed\"} 1",
            "troubleshoot_scheduler_last_success_timestamp_seconds{job=\"a\"} 1767323045",
            "troubleshoot_scheduler_last_run_outcome{job=\"a\",outcome=\"failed\"} 1",
            "troubleshoot_scheduler_last_run_outcome{job=\"a\",outcome=\"succeeded\"} 0",
            "troubleshoot_scheduler_schedule_interval_seconds{job=\"a\"} 86400",
            "troubleshoot_scheduler_upload_queue_entries 0",
            "troubleshoot_scheduler_upload_queue_oldest_age_seconds 0",
            "troubleshoot_scheduler_state_dir_free_bytes ",
            "troubleshoot_scheduler_state_dir_min_free_bytes ",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
        m.forget_job("a");
        let text = m.encode();
        assert!(!text.contains("job=\"a\""), "{text}");
    }

    #[test]
    fn status_labels_render_as_in_records() {
        let m = Metrics::new();
        let took = std::time::Duration::from_millis(1);
        for status in ["succeeded", "failed", "pending", "exploded"] {
            let status: UploadStatus = serde_json::from_value(status.into()).expect("status");
            m.observe_upload("http:h", status, took);
        }
        for status in [NotificationStatus::Delivered, NotificationStatus::Failed] {
            m.notifications.get_or_create(&StatusLabel { status }).inc();
        }
        let text = m.encode();
        for status in ["succeeded", "failed", "pending"] {
            let line = format!(
                "troubleshoot_scheduler_uploads_total{{target=\"http:h\",status=\"{status}\"}} 1"
            );
            assert!(text.contains(&line), "missing {line} in\n{text}");
        }
        assert!(!text.contains("exploded"), "{text}");
        assert!(
            text.contains("troubleshoot_scheduler_upload_duration_seconds_count 4"),
            "{text}"
        );
        for status in ["delivered", "failed"] {
            let line =
                format!("troubleshoot_scheduler_notifications_total{{status=\"{status}\"}} 1");
            assert!(text.contains(&line), "missing {line} in\n{text}");
        }
    }
}
