//! The run lifecycle: one job run as a task (record `running`, the pipeline under the job's timeout,
//! the final record, retention, notifications); then it tells the control loop.

use super::clock::Clock;
use super::control::Control;
use super::metrics::StatusLabel;
use crate::jobs::Job;
use crate::pipeline::{self, Cancel, CancelReason, Progress, RunContext};
use crate::settings::{HistorySettings, Settings};
use crate::state::records::{
    self, NotificationRecord, RECORD_VERSION, RunRecord, RunStatus, Trigger,
};
use crate::state::{RunId, history, retention};
use crate::upload::queue::UploadQueue;
use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{mpsc, oneshot};

/// One run to start.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The job definition the run uses (a later edit does not affect it).
    pub job: Arc<Job>,
    /// Run id.
    pub run_id: RunId,
    /// Why.
    pub trigger: Trigger,
    /// 1, or the retry number + 1.
    pub attempt: u32,
    /// A retry's first attempt's trigger.
    pub first_trigger: Option<Trigger>,
    /// The slot, for scheduled, catch-up and retry runs.
    pub scheduled_at: Option<DateTime<Utc>>,
    /// The alert that started it (`Trigger::Alert`).
    pub alert: Option<crate::state::records::AlertCause>,
    /// The run whose end started this one (`spec.after`).
    pub parent: Option<records::ParentRun>,
}

/// A record for a run that never starts (skipped, missed), or the first record of one that does.
pub fn new_record(spec: &RunSpec, host: &str, status: RunStatus, now: DateTime<Utc>) -> RunRecord {
    RunRecord {
        version: RECORD_VERSION,
        run_id: spec.run_id.clone(),
        job: spec.job.name.clone(),
        spec_hash: spec.job.spec_hash.to_string(),
        trigger: spec.trigger,
        alert: spec.alert.clone(),
        attempt: spec.attempt,
        first_trigger: spec.first_trigger,
        scheduled_at: spec.scheduled_at,
        started_at: now,
        ended_at: (status != RunStatus::Running).then_some(now),
        status,
        reason: None,
        host: host.to_string(),
        phases: Vec::new(),
        collectors: Vec::new(),
        bundle: None,
        redaction: None,
        analysis: None,
        limits: None,
        uploads: Vec::new(),
        missed: None,
        notifications: Vec::new(),
        cluster_specs: Vec::new(),
        spec_uris: Vec::new(),
        changes: None,
        parent: spec.parent.clone(),
    }
}

/// Why a run record could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// The state directory refused the write.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The blocking writer task died.
    #[error("record writer failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Writes a new record (a run's first, or one that never starts) off the async threads; the
/// error text is what `/readyz` reports.
pub async fn persist(state_dir: &Path, record: &RunRecord) -> Result<(), PersistError> {
    let dir = state_dir.to_path_buf();
    let record = record.clone();
    match tokio::task::spawn_blocking(move || records::create(&dir, &record)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(PersistError::State(e)),
        Err(e) => Err(PersistError::Task(e)),
    }
}

/// Writes a run's final record off the async threads: the fields the run owns (status, reason,
/// phases, collectors, bundle, redaction, analysis, limits, uploads, end) over the record as it
/// is on disk, so what others added meanwhile stays (a retention note on the bundle, say).
async fn persist_final(state_dir: &Path, record: &RunRecord) -> Result<(), PersistError> {
    let dir = state_dir.to_path_buf();
    let record = record.clone();
    let write = move || {
        records::upsert(&dir, &record.job, &record.run_id, |on_disk| {
            finish(on_disk.unwrap_or_else(|| record.clone()), &record)
        })
    };
    match tokio::task::spawn_blocking(write).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(PersistError::State(e)),
        Err(e) => Err(PersistError::Task(e)),
    }
}

/// `on_disk` with the run's own fields set from `run` (its final record).
fn finish(mut on_disk: RunRecord, run: &RunRecord) -> RunRecord {
    // A prune note retention wrote on this bundle while the run went on stays.
    let pruned = on_disk
        .bundle
        .take()
        .filter(|b| run.bundle.as_ref().is_some_and(|r| r.path == b.path));
    on_disk.bundle = run.bundle.clone().map(|mut b| {
        if let Some(p) = pruned {
            b.pruned_at = p.pruned_at;
            b.pruned_by = p.pruned_by;
        }
        b
    });
    on_disk.status = run.status;
    on_disk.reason.clone_from(&run.reason);
    on_disk.phases.clone_from(&run.phases);
    on_disk.collectors.clone_from(&run.collectors);
    on_disk.redaction.clone_from(&run.redaction);
    on_disk.analysis.clone_from(&run.analysis);
    on_disk.limits.clone_from(&run.limits);
    on_disk.uploads.clone_from(&run.uploads);
    on_disk.ended_at = run.ended_at;
    on_disk
}

/// Where and how one agent's runs execute: the pipeline's environment plus what the run
/// lifecycle adds around it (the clock, history limits, notification bookkeeping). Built once per
/// agent (the daemon, or a foreground `trigger`) and shared by `Arc`.
#[derive(Clone, Debug)]
pub struct AgentEnv {
    /// What the pipeline of every run shares.
    pub pipeline: Arc<pipeline::RunEnv>,
    /// Wall clock.
    pub clock: Clock,
    /// Run record limits of jobs that set none.
    pub history: HistorySettings,
    /// `troubleshoot_scheduler_notifications_total` (unregistered outside the daemon).
    pub notifications: Family<StatusLabel, Counter>,
    /// Notifications this agent is sending.
    pub in_flight: Notifying,
    /// Cluster mode: a scheduled run first claims its slot in the API (`None`: host mode).
    pub claims: Option<crate::lease::Claims>,
}

impl AgentEnv {
    /// The environment of an agent with `settings`, on `host`, whose upload queue is `uploads`.
    pub fn new(
        settings: &Settings,
        host: String,
        clock: Clock,
        uploads: UploadQueue,
        notifications: Family<StatusLabel, Counter>,
    ) -> Self {
        // In node mode the agent's host name is its node's name (see `cli::agent_host`).
        let node = (settings.mode == crate::settings::Mode::Node).then(|| host.clone());
        let pipeline = pipeline::RunEnv {
            state_dir: settings.state_dir.clone(),
            host,
            min_free_disk: settings.min_free_disk.0,
            support_bundle_path: settings.support_bundle_path.clone(),
            copy_max_file_size: settings.copy_max_file_size.0,
            token_key_file: settings.token_key_file.clone(),
            token_map_key_file: settings.token_map_key_file.clone(),
            kubeconfig: settings.kubeconfig.clone(),
            kube_context: settings.context.clone(),
            kube_request_timeout: settings.kube_request_timeout.0,
            spec_uri_timeout: settings.spec_uri_timeout.0,
            default_resources: settings.default_resources,
            uploads,
            bundle_names: pipeline::BundleNames::default(),
            node,
        };
        AgentEnv {
            pipeline: Arc::new(pipeline),
            clock,
            history: settings.history.clone(),
            notifications,
            in_flight: Notifying::default(),
            claims: None,
        }
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.pipeline.state_dir
    }

    /// This host's name.
    pub fn host(&self) -> &str {
        &self.pipeline.host
    }
}

/// Set by a run as its outcome is settled, just before its final record is written: from then
/// on the run is over for the concurrency policy, even though the control loop hears of its end
/// ([`Control::RunFinished`]) only after the record, retention and the message queue. Without
/// it, a trigger of a client that read the final record could still be skipped as overlapping.
#[derive(Clone, Debug, Default)]
pub struct RunEnded(Arc<AtomicBool>);

impl RunEnded {
    /// The run's outcome is settled (before its final record is written).
    fn mark(&self) {
        self.0.store(true, Ordering::Release);
    }

    /// Whether the run's final record may be on disk.
    pub fn is_ended(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Runs `spec` to the end: the `running` record, the pipeline under the job's timeout (reporting
/// its phases to `progress`), the final record. Returns the final record and, if a record could
/// not be written, why.
pub async fn execute(
    spec: RunSpec,
    env: &AgentEnv,
    cancel: Cancel,
    progress: Progress,
    started_at: DateTime<Utc>,
) -> (RunRecord, Option<String>) {
    let record = new_record(&spec, env.host(), RunStatus::Running, started_at);
    let persist_error = (persist(env.state_dir(), &record).await)
        .err()
        .map(|e| e.to_string());
    let ended = RunEnded::default();
    carry_out(spec, env, (cancel, &ended), progress, record, persist_error).await
}

/// The run once its `running` record is on disk (or could not be written: `persist_error`):
/// the pipeline under the job's timeout, then the final record.
async fn carry_out(
    spec: RunSpec,
    env: &AgentEnv,
    (cancel, ended): (Cancel, &RunEnded),
    progress: Progress,
    mut record: RunRecord,
    mut persist_error: Option<String>,
) -> (RunRecord, Option<String>) {
    if let Some(refused) = claim_slot(&spec, env).await {
        record.status = RunStatus::Skipped;
        record.reason = Some(refused);
        record.ended_at = Some(env.clock.now());
        if let Err(e) = persist_final(env.state_dir(), &record).await {
            persist_error = Some(e.to_string());
        }
        return (record, persist_error);
    }
    let timeout = spec.job.document.spec.timeout.0;
    let timer = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            cancel.cancel(CancelReason::Timeout);
        })
    };
    let ctx = RunContext {
        env: Arc::clone(&env.pipeline),
        run_id: spec.run_id.clone(),
        started_at: record.started_at,
        progress,
    };
    // Boxed: a task waiting for its `running` record then holds a pointer, not the pipeline's
    // whole state, so spawning a burst of runs allocates little.
    let outcome = Box::pin(pipeline::run(&spec.job, &ctx, &cancel)).await;
    timer.abort();
    record.status = outcome.status;
    record.reason = outcome.reason;
    record.phases = outcome.phases;
    record.collectors = outcome.collectors;
    record.bundle = outcome.bundle;
    record.analysis = outcome.analysis;
    record.redaction = outcome.redaction;
    record.limits = outcome.limits;
    record.uploads = outcome.uploads;
    record.changes = outcome.changes;
    record.cluster_specs = outcome.cluster_specs;
    record.spec_uris = outcome.spec_uris;
    record.ended_at = Some(env.clock.now());
    // Marked before the write, so whoever reads the final record finds the run ended.
    ended.mark();
    if let Err(e) = persist_final(env.state_dir(), &record).await {
        persist_error = Some(e.to_string());
    }
    apply_retention(env.state_dir(), &spec.job, &env.history, env.clock.now()).await;
    (record, persist_error)
}

/// Cluster mode: a scheduled (or catch-up) run claims its slot before it collects anything;
/// returns why it must not run. Retries and manual runs have no slot of their own to claim.
async fn claim_slot(spec: &RunSpec, env: &AgentEnv) -> Option<String> {
    let claims = env.claims.as_ref()?;
    let slot = spec.scheduled_at?;
    if !matches!(spec.trigger, Trigger::Schedule | Trigger::CatchUp) {
        return None;
    }
    match (claims)
        .claim(
            &spec.job.name,
            (slot, env.clock.now()),
            &spec.run_id,
            spec.trigger,
        )
        .await
    {
        Ok(()) => None,
        Err(e) => {
            tracing::warn!(job = %spec.job.name, run = %spec.run_id, "not run: {e}");
            Some(format!("not run: {e}"))
        }
    }
}

/// The job's retention settings as the state module takes them.
pub fn retention_policy(job: &Job) -> retention::Policy {
    job.retention_policy()
}

/// The job's history limits: its `spec.history`, each field defaulting to the agent's setting.
pub fn history_limits(job: &Job, defaults: &HistorySettings) -> history::Limits {
    let h = &job.document.spec.history;
    history::Limits {
        keep_last: Some(h.keep_last.unwrap_or(defaults.keep_last)),
        max_age: Some(h.max_age.map_or(defaults.max_age.0, |d| d.0)),
    }
}

/// Applies the job's retention, then its history limits (after every run, and for every job at
/// start-up); failures are logged, never fatal.
pub async fn apply_retention(
    state_dir: &Path,
    job: &Job,
    defaults: &HistorySettings,
    now: DateTime<Utc>,
) {
    let dir = state_dir.to_path_buf();
    let name = job.name.clone();
    let policy = retention_policy(job);
    let limits = history_limits(job, defaults);
    let result = tokio::task::spawn_blocking(move || {
        let bundles = retention::apply(&dir, &name, &policy, now);
        // Records go after bundles: a bundle retention removed frees its record.
        let records = history::prune(&dir, &name, &limits, now);
        (bundles, records)
    })
    .await;
    let (bundles, records) = match result {
        Ok(both) => both,
        Err(e) => {
            tracing::warn!(job = %job.name, "retention task failed: {e}");
            return;
        }
    };
    match bundles {
        Ok(pruned) => {
            for p in pruned {
                tracing::info!(job = %job.name, bundle = %p.path.display(), rule = p.rule, "bundle removed by retention");
            }
        }
        Err(e) => tracing::warn!(job = %job.name, "retention: {e}"),
    }
    match records {
        Ok(pruned) if !pruned.is_empty() => {
            let (count, rules) = rule_counts(&pruned);
            tracing::info!(job = %job.name, count, rules, "run records removed by the history limits");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(job = %job.name, "history limits: {e}"),
    }
}

/// How many records went, and by which rules (`keepLast: 3, maxAge: 1`), for one log line per
/// pass rather than one per record.
fn rule_counts(pruned: &[history::Pruned]) -> (usize, String) {
    let by = |rule: history::Rule| pruned.iter().filter(|p| p.rule == rule).count();
    let rules = [history::Rule::KeepLast, history::Rule::MaxAge]
        .into_iter()
        .filter(|r| by(*r) > 0)
        .map(|r| format!("{}: {}", r.as_str(), by(r)))
        .collect::<Vec<_>>()
        .join(", ");
    (pruned.len(), rules)
}

/// A run whose task is spawned and waits for its `running` record: hand it to
/// [`write_running`]. The record itself is built by the writer, off the control loop.
#[derive(Debug)]
pub struct Starting {
    spec: RunSpec,
    started_at: DateTime<Utc>,
    /// The record as written, and why it could not be written if so.
    written: oneshot::Sender<(RunRecord, Option<String>)>,
}

/// Starts the run in a task, dated now (`startedAt`: the agent has started the run; its first
/// step is its `running` record). The task collects nothing until [`write_running`] has made
/// that record durable, so a run cut off by `kill -9` is always found and marked `interrupted`
/// at the next start. The final record comes back as [`Control::RunFinished`]; notifications
/// go out after that, so a slow webhook holds neither the scheduler nor the job's next run.
///
/// The caller's thread only dates and spawns: in a burst of runs it is the control loop, and
/// every microsecond here delays the later runs of the burst.
pub fn spawn(
    spec: RunSpec,
    env: Arc<AgentEnv>,
    (cancel, ended): (Cancel, RunEnded),
    progress: Progress,
    tx: mpsc::Sender<Control>,
) -> Starting {
    let started_at = env.clock.now();
    let (written, on_disk) = oneshot::channel();
    let starting = Starting {
        spec: spec.clone(),
        started_at,
        written,
    };
    tokio::spawn(async move {
        tracing::info!(job = %spec.job.name, run = %spec.run_id, trigger = ?spec.trigger, "run started");
        let (running, persist_error) = on_disk.await.unwrap_or_else(|_| {
            let running = new_record(&spec, env.host(), RunStatus::Running, started_at);
            (running, Some("the record writer stopped".into()))
        });
        let job = spec.job.clone();
        let (record, persist_error) = carry_out(
            spec,
            &env,
            (cancel, &ended),
            progress,
            running,
            persist_error,
        )
        .await;
        // Counted before the control loop hears of the end, so a shutdown that sees no run
        // left also sees this notification.
        let _in_flight = (!job.document.spec.notify.is_empty()).then(|| env.in_flight.enter());
        let _ = tx
            .send(Control::RunFinished {
                record: Box::new(record.clone()),
                persist_error,
            })
            .await;
        Box::pin(notify(&job, &record, &env)).await;
    });
    starting
}

/// Writes the `running` records of runs just spawned as one batch off the async threads
/// ([`records::create_all`]: two file system syncs for a burst instead of two per run), then
/// lets each run go on with the outcome of its own record.
pub fn write_running(env: Arc<AgentEnv>, starting: Vec<Starting>) {
    if starting.is_empty() {
        return;
    }
    tokio::task::spawn_blocking(move || {
        let (records, written): (Vec<RunRecord>, Vec<_>) = starting
            .into_iter()
            .map(|s| {
                let record = new_record(&s.spec, env.host(), RunStatus::Running, s.started_at);
                (record, s.written)
            })
            .unzip();
        let results = records::create_all(env.state_dir(), &records);
        for ((record, result), written) in records.into_iter().zip(results).zip(written) {
            let _ = written.send((record, result.err().map(|e| e.to_string())));
        }
    });
}

/// Sends the job's notifications about a record (a finished or missed run) in a task of its own.
pub fn spawn_notify(job: Arc<Job>, record: RunRecord, env: Arc<AgentEnv>) {
    if job.document.spec.notify.is_empty() {
        return;
    }
    let in_flight = env.in_flight.enter();
    tokio::spawn(async move {
        notify(&job, &record, &env).await;
        drop(in_flight);
    });
}

/// How many notification tasks one agent has in flight (a shutdown waits for them).
#[derive(Clone, Debug)]
pub struct Notifying(Arc<tokio::sync::watch::Sender<usize>>);

impl Default for Notifying {
    fn default() -> Self {
        Notifying(Arc::new(tokio::sync::watch::Sender::new(0)))
    }
}

impl Notifying {
    fn enter(&self) -> InFlight {
        self.0.send_modify(|n| *n += 1);
        InFlight(Arc::clone(&self.0))
    }

    /// Waits until no notification is being sent, or until `until`; returns how many are left.
    pub async fn settled(&self, until: tokio::time::Instant) -> usize {
        let mut rx = self.0.subscribe();
        let _ = tokio::time::timeout_at(until, rx.wait_for(|n| *n == 0)).await;
        *self.0.borrow()
    }
}

/// One notification task in flight, until dropped.
struct InFlight(Arc<tokio::sync::watch::Sender<usize>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Tells the job's webhooks about `record` and adds what happened to the record on disk. A
/// failed notification is logged and recorded; it never changes the run's status.
pub async fn notify(job: &Job, record: &RunRecord, env: &AgentEnv) -> Vec<NotificationRecord> {
    let targets = &job.document.spec.notify;
    if targets.is_empty() {
        return Vec::new();
    }
    let sent = crate::alerts::deliver(targets, record, env!("CARGO_PKG_VERSION")).await;
    if sent.is_empty() {
        return sent;
    }
    for n in &sent {
        env.notifications
            .get_or_create(&StatusLabel { status: n.status })
            .inc();
    }
    // Added to the record as it is on disk: others may have changed it meanwhile (retention, the
    // upload queue). A record that could not be written before is written now.
    let dir = env.state_dir().to_path_buf();
    let current = record.clone();
    let added = sent.clone();
    let written = tokio::task::spawn_blocking(move || {
        records::upsert(&dir, &current.job, &current.run_id, |on_disk| {
            let mut r = on_disk.unwrap_or(current.clone());
            r.notifications.extend(added);
            r
        })
    })
    .await;
    match written {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::warn!(job = %record.job, run = %record.run_id, "cannot add notifications to the run record: {e}")
        }
        Err(e) => {
            tracing::warn!(job = %record.job, run = %record.run_id, "record writer failed: {e}")
        }
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::records::{BundleRecord, NotificationStatus, UploadRecord, UploadStatus};

    fn running(run_id: &str) -> RunRecord {
        RunRecord {
            trigger: Trigger::Manual,
            scheduled_at: None,
            ..RunRecord::for_test("j", run_id, RunStatus::Running)
        }
    }

    fn bundle() -> BundleRecord {
        BundleRecord {
            path: std::path::PathBuf::from("/s/jobs/j/bundles/j-2025-01-01T00_00_00.tar.gz"),
            size: 1,
            sha256: "s".into(),
            partial: false,
            pruned_at: None,
            pruned_by: None,
        }
    }

    fn upload(status: UploadStatus) -> UploadRecord {
        UploadRecord {
            target: "s3:b".into(),
            url: "s3://b/k".into(),
            size: 1,
            attempts: 1,
            status,
            error: None,
            duration_ms: None,
        }
    }

    #[tokio::test]
    async fn the_final_record_keeps_what_others_wrote_while_the_run_went_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path();
        let mut on_disk = running("r");
        on_disk.bundle = Some(bundle());
        on_disk.uploads = vec![upload(UploadStatus::Pending)];
        records::create(state, &on_disk).expect("running record");
        let pruned_at = Utc::now();
        records::update(state, "j", "r", |r| {
            let b = r.bundle.as_mut().expect("bundle");
            b.pruned_at = Some(pruned_at);
            b.pruned_by = Some("keepLast".into());
            r.notifications.push(NotificationRecord {
                url: "https://hooks.example/x".into(),
                events: vec!["failed".into()],
                attempts: 1,
                status: NotificationStatus::Delivered,
                http_status: Some(200),
                error: None,
            });
        })
        .expect("other writers");
        let mut fin = running("r");
        fin.status = RunStatus::Succeeded;
        fin.ended_at = Some(Utc::now());
        fin.bundle = Some(bundle());
        fin.uploads = vec![upload(UploadStatus::Succeeded)];
        persist_final(state, &fin).await.expect("final record");
        let path = records::record_path(state, "j", "r");
        let r = records::read_record(&path).expect("read");
        assert_eq!(r.status, RunStatus::Succeeded);
        assert_eq!(r.ended_at, fin.ended_at);
        assert_eq!(r.uploads, fin.uploads, "the run's own upload results");
        let b = r.bundle.expect("bundle");
        assert_eq!(
            (b.pruned_at, b.pruned_by.as_deref()),
            (Some(pruned_at), Some("keepLast")),
            "retention's note on the run's bundle stays"
        );
        assert_eq!(r.notifications.len(), 1, "the notification stays");

        // No record on disk (its first write failed): the final record is written whole.
        let mut lone = fin.clone();
        lone.run_id = "r2".into();
        persist_final(state, &lone).await.expect("final record");
        let r2 = records::read_record(&records::record_path(state, "j", "r2")).expect("read");
        assert_eq!(r2, lone);
    }
}
