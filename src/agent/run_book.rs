//! The run book: the runs the agent has in hand (running, queued, waiting to be retried, started
//! in one batch) and what it remembers of ended ones (the last run of each job, runs whose
//! records could not be written). It applies the concurrency policy and the global limit.

use super::control::{Control, RunState, TriggerAccepted, TriggerRefused};
use super::metrics::{Metrics, RunStatusLabel, RunStatusValue};
use super::runs::{self, AgentEnv, RunEnded, RunSpec};
use super::status::LastRun;
use super::timing::Slot;
use super::trigger_limit::{self, TriggerLimit};
use crate::jobs::Job;
use crate::pipeline::progress::Phases;
use crate::pipeline::{Cancel, CancelReason, Progress};
use crate::state::RunId;
use crate::state::records::{
    self, AlertCause, MissedRecord, ParentRun, RunRecord, RunStatus, Trigger,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

/// How many runs without a written record the agent remembers for `GET .../runs/{runId}`.
const UNRECORDED_KEPT: usize = 64;
/// How far back start-up looks for a job's latest success when its latest run failed.
const SUCCESS_LOOK_BACK: usize = 100;

struct Running {
    job: String,
    run_id: RunId,
    cancel: Cancel,
    /// Set when its final record is about to be written: it no longer counts for the
    /// concurrency policy, though it holds its slot until the control loop hears it ended.
    ended: RunEnded,
    /// Its phases so far (`GET /api/v1/jobs/{job}/runs/{runId}` while it runs).
    progress: watch::Receiver<Phases>,
}

/// A retry waiting for its backoff.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RetryTimer {
    at: DateTime<Utc>,
    job: String,
    /// The failed run (its base id names the retry).
    run_id: RunId,
    attempt: u32,
    scheduled_at: Option<DateTime<Utc>>,
}

/// Why the run a retry repeats started: the retry's record carries it too, so a retry of an
/// alert-triggered or chained run still names its alert or parent.
#[derive(Clone, Debug)]
struct RetryCause {
    /// The first attempt's trigger.
    first_trigger: Trigger,
    alert: Option<AlertCause>,
    parent: Option<ParentRun>,
}

impl RetryCause {
    fn of(record: &RunRecord) -> Self {
        RetryCause {
            first_trigger: record.first_trigger.unwrap_or(record.trigger),
            alert: record.alert.clone(),
            parent: record.parent.clone(),
        }
    }
}

/// A run decided during a pass over the due timers: what spawning it takes.
type Decided = (RunSpec, (Cancel, RunEnded), Progress);

/// The agent's runs, owned by the control loop.
pub(super) struct RunBook {
    env: Arc<AgentEnv>,
    tx: mpsc::Sender<Control>,
    metrics: Arc<Metrics>,
    max_concurrent_runs: usize,
    running: HashMap<String, Running>,
    /// How many entries of `running` each job has: a fire checks its own job without a scan.
    running_per_job: HashMap<String, usize>,
    queue: VecDeque<RunSpec>,
    retries: BTreeMap<RetryTimer, RetryCause>,
    /// Runs decided during one pass over the due timers, started together at its end; `None`
    /// outside such a pass (runs start at once).
    batch: Option<Vec<Decided>>,
    pub(super) last_runs: HashMap<String, Arc<LastRun>>,
    /// The last runs whose records could not be written, so `trigger` can still learn how they
    /// ended (newest last, at most [`UNRECORDED_KEPT`]).
    unrecorded: VecDeque<(RunRecord, String)>,
    manual_counter: u64,
    /// Manual triggers per job (a burst of API calls must not write a record each).
    trigger_limit: TriggerLimit,
    /// The last alert-started run of each job an alert matched (`None`: none within the
    /// look-back of its records), for `spec.triggers[].alertmanager.cooldown`.
    pub(super) alert_cooldowns: HashMap<String, Option<super::alert_triggers::AlertStarted>>,
    /// No run starts any more.
    pub(super) shutting_down: bool,
    /// Why run records cannot be written, until one can.
    pub(super) problem: Option<String>,
    /// Job histories read at start-up, until the first pass takes them.
    history: HashMap<String, History>,
}

impl RunBook {
    pub(super) fn new(
        env: Arc<AgentEnv>,
        tx: mpsc::Sender<Control>,
        metrics: Arc<Metrics>,
        max_concurrent_runs: usize,
    ) -> Self {
        RunBook {
            env,
            tx,
            metrics,
            max_concurrent_runs: max_concurrent_runs.max(1),
            running: HashMap::new(),
            running_per_job: HashMap::new(),
            queue: VecDeque::new(),
            retries: BTreeMap::new(),
            batch: None,
            last_runs: HashMap::new(),
            unrecorded: VecDeque::new(),
            manual_counter: 0,
            trigger_limit: TriggerLimit::default(),
            alert_cooldowns: HashMap::new(),
            shutting_down: false,
            problem: None,
            history: HashMap::new(),
        }
    }

    /// The agent's shared run environment.
    pub(super) fn env(&self) -> &Arc<AgentEnv> {
        &self.env
    }

    /// Runs in progress.
    pub(super) fn running_count(&self) -> usize {
        self.running.len()
    }

    /// Runs waiting for a slot.
    pub(super) fn queued_count(&self) -> usize {
        self.queue.len()
    }

    /// Jobs with a run in progress.
    pub(super) fn running_jobs(&self) -> impl Iterator<Item = &String> {
        self.running_per_job.keys()
    }

    /// The ids of the runs in progress, per job.
    pub(super) fn running_ids(&self) -> HashMap<&str, Vec<String>> {
        let mut ids: HashMap<&str, Vec<String>> = HashMap::new();
        for r in self.running.values() {
            ids.entry(r.job.as_str())
                .or_default()
                .push(r.run_id.to_string());
        }
        ids
    }

    /// When the next retry is due.
    pub(super) fn next_retry(&self) -> Option<DateTime<Utc>> {
        self.retries.first_key_value().map(|(r, _)| r.at)
    }

    /// Runs decided from now on start together at [`RunBook::end_batch`].
    pub(super) fn begin_batch(&mut self) {
        self.batch = Some(Vec::new());
    }

    /// Spawns the runs decided since [`RunBook::begin_batch`], with their `running` records
    /// written as one batch.
    pub(super) fn end_batch(&mut self) {
        let batch = self.batch.take().unwrap_or_default();
        if batch.is_empty() {
            return;
        }
        let starting = batch
            .into_iter()
            .map(|(spec, run, progress)| {
                runs::spawn(spec, Arc::clone(&self.env), run, progress, self.tx.clone())
            })
            .collect();
        runs::write_running(Arc::clone(&self.env), starting);
    }

    /// A timer fired for `slot` of `job`.
    pub(super) async fn fire(&mut self, job: Arc<Job>, slot: Slot, trigger: Trigger) {
        let spec = RunSpec {
            run_id: RunId::scheduled(slot.nominal),
            job,
            trigger,
            attempt: 1,
            first_trigger: None,
            scheduled_at: Some(slot.nominal),
            alert: None,
            parent: None,
        };
        self.dispatch(spec).await;
    }

    /// The record of fires missed, which passed `why` (while the agent was down, or during a
    /// failover).
    pub(super) fn missed(
        &self,
        job: Arc<Job>,
        missed: MissedRecord,
        now: DateTime<Utc>,
        why: &str,
    ) -> RunRecord {
        let spec = RunSpec {
            job,
            run_id: RunId::missed(missed.last),
            trigger: Trigger::Schedule,
            attempt: 1,
            first_trigger: None,
            scheduled_at: Some(missed.last),
            alert: None,
            parent: None,
        };
        let mut record = runs::new_record(&spec, self.env.host(), RunStatus::Missed, now);
        record.reason = Some(format!(
            "{} fire(s) from {} to {} {why}{}",
            missed.count,
            missed.first.format("%Y-%m-%dT%H:%M:%SZ"),
            missed.last.format("%Y-%m-%dT%H:%M:%SZ"),
            if missed.count > 0 {
                " and are outside startingDeadline or were superseded by a later slot"
            } else {
                ""
            }
        ));
        record.missed = Some(missed);
        record
    }

    /// Starts the retries due at `now` whose job is still in `jobs`.
    pub(super) async fn start_due_retries(
        &mut self,
        now: DateTime<Utc>,
        jobs: &BTreeMap<String, Arc<Job>>,
    ) {
        while let Some((retry, _)) = self.retries.first_key_value() {
            if retry.at > now {
                break;
            }
            let Some((retry, cause)) = self.retries.pop_first() else {
                break;
            };
            let Some(job) = jobs.get(&retry.job).cloned() else {
                continue;
            };
            let spec = RunSpec {
                job,
                run_id: retry.run_id.retry(retry.attempt - 1),
                trigger: Trigger::Retry,
                attempt: retry.attempt,
                first_trigger: Some(cause.first_trigger),
                scheduled_at: retry.scheduled_at,
                alert: cause.alert,
                parent: cause.parent,
            };
            self.dispatch(spec).await;
        }
    }

    /// The active runs of `job`: running (by `job/run-id`, as the skip reason names them) or
    /// queued (by run id). A run whose final record is written (or being written) is over,
    /// though its end has not reached the control loop yet.
    fn active(&self, job: &str) -> Vec<String> {
        let busy = self.running_per_job.get(job).is_some_and(|n| *n > 0)
            || self.queue.iter().any(|q| q.job.name == job);
        if !busy {
            return Vec::new();
        }
        (self.running.iter())
            .filter(|(_, r)| r.job == job && !r.ended.is_ended())
            .map(|(key, _)| key.clone())
            .chain(
                (self.queue.iter())
                    .filter(|q| q.job.name == job)
                    .map(|q| q.run_id.to_string()),
            )
            .collect()
    }

    /// Applies the concurrency policy and the global limit, then starts, queues or skips the run.
    pub(super) async fn dispatch(&mut self, spec: RunSpec) -> &'static str {
        use crate::jobs::model::ConcurrencyPolicy;
        let job = spec.job.name.clone();
        let now = self.env.clock.now();
        if let Some(why) = super::timing::outside_window(&spec.job.timeline, spec.trigger, now) {
            info!(job = %job, run = %spec.run_id, "skipped: {why}");
            let mut record = runs::new_record(&spec, self.env.host(), RunStatus::Skipped, now);
            record.reason = Some(why);
            self.count_execution(RunStatus::Skipped);
            self.write_side_record(&record).await;
            return "skipped";
        }
        let active = self.active(&job);
        if !active.is_empty() {
            match spec.job.document.spec.concurrency_policy {
                ConcurrencyPolicy::Forbid => {
                    let now = self.env.clock.now();
                    let mut record =
                        runs::new_record(&spec, self.env.host(), RunStatus::Skipped, now);
                    record.reason = Some(format!(
                        "run {} is still in progress (concurrencyPolicy: Forbid)",
                        active.join(", ")
                    ));
                    self.count_execution(RunStatus::Skipped);
                    self.write_side_record(&record).await;
                    return "skipped";
                }
                ConcurrencyPolicy::Replace => {
                    for id in &active {
                        if let Some(r) = self.running.get(id) {
                            r.cancel.cancel(CancelReason::Replaced);
                        }
                    }
                    let before = self.queue.len();
                    self.queue.retain(|q| q.job.name != job);
                    if before != self.queue.len() {
                        debug!(job = %job, "dropped queued runs replaced by a newer fire");
                    }
                }
                ConcurrencyPolicy::Allow => {}
            }
        }
        if self.running.len() >= self.max_concurrent_runs {
            info!(job = %job, run = %spec.run_id, "queued: {} runs in progress (maxConcurrentRuns)", self.running.len());
            self.queue.push_back(spec);
            return "queued";
        }
        self.start(spec);
        "started"
    }

    fn start(&mut self, spec: RunSpec) {
        let cancel = Cancel::default();
        let ended = RunEnded::default();
        let (progress, watcher) = Progress::new();
        *self
            .running_per_job
            .entry(spec.job.name.clone())
            .or_default() += 1;
        self.running.insert(
            run_key(&spec.job.name, &spec.run_id),
            Running {
                job: spec.job.name.clone(),
                run_id: spec.run_id.clone(),
                cancel: cancel.clone(),
                ended: ended.clone(),
                progress: watcher,
            },
        );
        self.metrics.jobs_active.set(self.running.len() as i64);
        match &mut self.batch {
            Some(batch) => batch.push((spec, (cancel, ended), progress)),
            None => {
                let env = Arc::clone(&self.env);
                let run = (cancel, ended);
                let starting = runs::spawn(spec, Arc::clone(&env), run, progress, self.tx.clone());
                runs::write_running(env, vec![starting]);
            }
        }
    }

    /// A manual run of `job` (one of `jobs`), unless refused.
    pub(super) async fn trigger(
        &mut self,
        name: &str,
        jobs: &BTreeMap<String, Arc<Job>>,
        alert: Option<AlertCause>,
    ) -> Result<TriggerAccepted, TriggerRefused> {
        if self.shutting_down {
            return Err(TriggerRefused::ShuttingDown);
        }
        let job = jobs
            .get(name)
            .cloned()
            .ok_or_else(|| TriggerRefused::UnknownJob(name.to_string()))?;
        // A run of the job already waits for a slot: this trigger is that run.
        if let Some(queued) = self.queue.iter().find(|q| q.job.name == name) {
            return Ok(TriggerAccepted {
                job: name.to_string(),
                run_id: queued.run_id.clone(),
                state: "coalesced".to_string(),
            });
        }
        self.trigger_limit.retain(|j| jobs.contains_key(j));
        if let Err(wait) = self.trigger_limit.take(name, std::time::Instant::now()) {
            return Err(TriggerRefused::RateLimited {
                job: name.to_string(),
                burst: trigger_limit::BURST,
                every_secs: trigger_limit::REFILL_EVERY.as_secs(),
                retry_after_secs: wait.as_secs_f64().ceil() as u64,
            });
        }
        // A run must never take over an earlier run's record or staging (see `RunId`).
        let now = self.env.clock.now();
        let run_id = RunId::new_manual(self.env.state_dir(), name, now, &mut self.manual_counter);
        let spec = RunSpec {
            job,
            run_id: run_id.clone(),
            trigger: if alert.is_some() {
                Trigger::Alert
            } else {
                Trigger::Manual
            },
            attempt: 1,
            first_trigger: None,
            scheduled_at: None,
            alert,
            parent: None,
        };
        let state = self.dispatch(spec).await;
        Ok(TriggerAccepted {
            job: name.to_string(),
            run_id,
            state: state.to_string(),
        })
    }

    /// A run ended: bookkeeping, metrics, its retry, and the queue moves up.
    pub(super) async fn finished(
        &mut self,
        record: RunRecord,
        persist_error: Option<String>,
        jobs: &BTreeMap<String, Arc<Job>>,
    ) {
        if self
            .running
            .remove(&run_key(&record.job, &record.run_id))
            .is_some()
            && let Some(n) = self.running_per_job.get_mut(&record.job)
        {
            *n -= 1;
            if *n == 0 {
                self.running_per_job.remove(&record.job);
            }
        }
        self.metrics.jobs_active.set(self.running.len() as i64);
        match persist_error {
            Some(e) => {
                error!(job = %record.job, run = %record.run_id, "cannot write run record: {e}");
                self.problem = Some(format!("cannot write run records: {e}"));
                self.remember_unrecorded(&record, e);
            }
            None => self.problem = None,
        }
        self.observe_finished(&record);
        self.remember_last_run(&record);
        let retried = (jobs.get(&record.job)).is_some_and(|job| self.schedule_retry(&record, job));
        // What follows a run waits for its final attempt: a failure that is retried starts
        // neither the jobs `on: [failed]` (the retry may succeed) nor the others yet.
        if retried {
            debug!(job = %record.job, run = %record.run_id, "the jobs after it wait for its retry");
        } else {
            self.start_chained(&record, jobs).await;
        }
        if !self.shutting_down {
            while self.running.len() < self.max_concurrent_runs {
                let Some(next) = self.queue.pop_front() else {
                    break;
                };
                self.start(next);
            }
        }
    }

    /// Starts the jobs whose `spec.after` matches how `record`'s run ended, through the same
    /// concurrency policy and limit as any run.
    async fn start_chained(&mut self, record: &RunRecord, jobs: &BTreeMap<String, Arc<Job>>) {
        if self.shutting_down {
            return;
        }
        let children = super::chain::children(record, jobs);
        if children.is_empty() {
            return;
        }
        if !jobs.contains_key(&record.job) {
            // Removed while it ran: what follows it belongs to a definition that is gone.
            warn!(
                job = %record.job,
                run = %record.run_id,
                "job was removed while it ran; the jobs that run after it are not started"
            );
            return;
        }
        for child in children {
            let now = self.env.clock.now();
            let run_id = RunId::new_manual(
                self.env.state_dir(),
                &child.name,
                now,
                &mut self.manual_counter,
            );
            info!(
                job = %child.name,
                run = %run_id,
                parent = %record.job,
                parent_run = %record.run_id,
                "starting run after {} ended {}",
                record.job,
                record.status.as_str()
            );
            let spec = RunSpec {
                job: child,
                run_id,
                trigger: Trigger::After,
                attempt: 1,
                first_trigger: None,
                scheduled_at: None,
                alert: None,
                parent: Some(super::chain::parent_of(record)),
            };
            self.dispatch(spec).await;
        }
    }

    /// The log line and metrics of a finished run.
    fn observe_finished(&self, record: &RunRecord) {
        let seconds = record.ended_at.map_or(0.0, |end| {
            (end - record.started_at).num_milliseconds().max(0) as f64 / 1000.0
        });
        info!(
            job = %record.job,
            run = %record.run_id,
            status = record.status.as_str(),
            duration_s = seconds,
            bundle_bytes = record.bundle.as_ref().map_or(0, |b| b.size),
            reason = record.reason.as_deref().unwrap_or(""),
            "run finished"
        );
        self.count_execution(record.status);
        if record.ended_at.is_some() {
            self.metrics.execution_duration.observe(seconds);
        }
        if let Some(bundle) = &record.bundle {
            self.metrics.bundle_size.observe(bundle.size as f64);
        }
        for u in &record.uploads {
            let took = std::time::Duration::from_millis(u.duration_ms.unwrap_or(0));
            self.metrics.observe_upload(&u.target, u.status, took);
        }
    }

    /// A failed or timed-out run not started by hand is retried as its job's `retry` says;
    /// whether a retry is now due.
    fn schedule_retry(&mut self, record: &RunRecord, job: &Job) -> bool {
        if !matches!(record.status, RunStatus::Failed | RunStatus::TimedOut)
            || record.trigger == Trigger::Manual
            || self.shutting_down
        {
            return false;
        }
        let retry = &job.document.spec.retry;
        if record.attempt > retry.limit {
            return false;
        }
        let factor = 2u32.saturating_pow(record.attempt - 1);
        let delay = retry.backoff.0.saturating_mul(factor);
        let at = self.env.clock.now() + Duration::from_std(delay).unwrap_or_default();
        info!(job = %record.job, "retry {} of {} at {}", record.attempt, retry.limit, at);
        let timer = RetryTimer {
            at,
            job: record.job.clone(),
            run_id: record.run_id.clone(),
            attempt: record.attempt + 1,
            scheduled_at: record.scheduled_at,
        };
        self.retries.insert(timer, RetryCause::of(record));
        true
    }

    fn count_execution(&self, status: RunStatus) {
        self.metrics
            .executions
            .get_or_create(&RunStatusLabel {
                status: RunStatusValue(status),
            })
            .inc();
    }

    /// Writes the record of a run that never starts (skipped, missed).
    pub(super) async fn write_side_record(&mut self, record: &RunRecord) {
        match runs::persist(self.env.state_dir(), record).await {
            Ok(()) => self.remember_last_run(record),
            Err(e) => {
                error!(job = %record.job, "cannot write run record: {e}");
                self.problem = Some(format!("cannot write run records: {e}"));
                self.remember_unrecorded(record, e.to_string());
            }
        }
    }

    fn remember_unrecorded(&mut self, record: &RunRecord, error: String) {
        if self.unrecorded.len() >= UNRECORDED_KEPT {
            self.unrecorded.pop_front();
        }
        self.unrecorded.push_back((record.clone(), error));
    }

    /// Where run `run_id` of `job` is, as far as this agent knows.
    pub(super) fn run_state(&self, job: &str, run_id: &str) -> RunState {
        if self
            .queue
            .iter()
            .any(|q| q.job.name == job && q.run_id == run_id)
        {
            return RunState::Queued;
        }
        if let Some(running) = self.running.get(&run_key(job, run_id)) {
            return RunState::Running(running.progress.clone());
        }
        match self
            .unrecorded
            .iter()
            .rev()
            .find(|(r, _)| r.job == job && r.run_id == run_id)
        {
            Some((record, error)) => RunState::Unrecorded {
                record: Box::new(record.clone()),
                error: error.clone(),
            },
            None => RunState::NotInMemory,
        }
    }

    /// At shutdown: the queued runs never start (recorded skipped).
    pub(super) async fn skip_queued(&mut self) {
        self.skip_queued_because("the agent shut down before the run could start")
            .await;
    }

    /// The queued runs never start (recorded skipped, with `reason`).
    pub(super) async fn skip_queued_because(&mut self, reason: &str) {
        for spec in std::mem::take(&mut self.queue) {
            let now = self.env.clock.now();
            let mut record = runs::new_record(&spec, self.env.host(), RunStatus::Skipped, now);
            record.reason = Some(reason.to_string());
            self.write_side_record(&record).await;
        }
    }

    /// Cluster mode, on a replica that does not lead: retries that come due are dropped (the
    /// failed run stays recorded; the leader runs the job's next slot).
    pub(super) fn drop_due_retries(&mut self, now: DateTime<Utc>) {
        while let Some((retry, _)) = self.retries.first_key_value() {
            if retry.at > now {
                break;
            }
            info!(job = %retry.job, run = %retry.run_id, "retry not started: this replica no longer leads");
            self.retries.pop_first();
        }
    }

    /// Cancels every run in progress (`reason`).
    pub(super) fn cancel_all(&self, reason: CancelReason) {
        for r in self.running.values() {
            r.cancel.cancel(reason);
        }
    }

    /// A run just ended (or was recorded without running): the status shows it and the
    /// per-job alerting metrics follow it.
    fn remember_last_run(&mut self, record: &RunRecord) {
        self.metrics
            .observe_last_run(&record.job, record.status, record.ended_at);
        self.metrics
            .observe_analysis(&record.job, record.analysis.as_ref());
        self.last_runs
            .insert(record.job.clone(), Arc::new(last_run_of(record)));
    }

    /// A job left the agent: its last run is forgotten.
    pub(super) fn forget_job(&mut self, job: &str) {
        self.last_runs.remove(job);
    }

    /// At start-up, before the first pass is applied: reads the history of the jobs in
    /// `names` on a blocking thread (a directory of records per job), for [`RunBook::recall`].
    pub(super) async fn read_history(&mut self, names: Vec<String>) {
        let dir = self.env.state_dir().to_path_buf();
        let read = tokio::task::spawn_blocking(move || {
            (names.into_iter())
                .map(|name| {
                    let history = History::read(&dir, &name);
                    (name, history)
                })
                .collect()
        })
        .await;
        self.history = read.unwrap_or_default();
    }

    /// After the first pass: drops what start-up read and no job took (a removed map entry keeps
    /// its table's memory; the table held every job).
    pub(super) fn forget_history(&mut self) {
        self.history = HashMap::new();
    }

    /// At start-up: remembers the job's latest run and latest success (as read by
    /// [`RunBook::read_history`]); returns its latest recorded fire instant.
    pub(super) fn recall(&mut self, job: &str) -> Option<DateTime<Utc>> {
        let history = self.history.remove(job)?;
        if let Some(latest) = &history.latest {
            self.remember_last_run(latest);
        }
        if let Some(end) = history.last_success {
            self.metrics.observe_success(job, end);
        }
        history.last_fire
    }
}

/// What start-up reads of one job's records.
#[derive(Debug, Default)]
struct History {
    /// The latest nominal fire instant recorded.
    last_fire: Option<DateTime<Utc>>,
    /// The latest run, boxed: start-up holds one of these per job at once, and a record inline
    /// would make each map slot hundreds of bytes (12.5 MB for 10,000 jobs).
    latest: Option<Box<RunRecord>>,
    /// When the latest success ended, looked for further back only when the latest run did
    /// not succeed (a start reads one record per healthy job).
    last_success: Option<DateTime<Utc>>,
}

impl History {
    /// Reads it (blocking).
    fn read(state_dir: &std::path::Path, job: &str) -> History {
        let last_fire = records::last_fire(state_dir, job).ok().flatten();
        let latest = records::history(state_dir, job, 1)
            .ok()
            .and_then(|(recent, _)| recent.into_iter().next());
        let last_success = latest
            .as_ref()
            .filter(|r| !r.status.is_success())
            .and_then(|_| records::history(state_dir, job, SUCCESS_LOOK_BACK).ok())
            .and_then(|(older, _)| older.into_iter().find(|r| r.status.is_success()))
            .and_then(|r| r.ended_at);
        History {
            last_fire,
            latest: latest.map(Box::new),
            last_success,
        }
    }
}

fn run_key(job: &str, run_id: &str) -> String {
    format!("{job}/{run_id}")
}

fn last_run_of(record: &RunRecord) -> LastRun {
    LastRun {
        run_id: record.run_id.clone(),
        status: record.status,
        started_at: record.started_at,
        ended_at: record.ended_at,
        analysis: record.analysis.clone(),
    }
}

#[cfg(test)]
#[path = "run_book_tests.rs"]
mod tests;
