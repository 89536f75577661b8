//! The control loop: one task owns the agent's state; watcher, signals, API, timers and finished
//! runs all reach it as [`Control`] messages, so there is no shared mutable state to lock.

use super::AgentOptions;
use super::control::{
    Control, ReloadCause, ReloadOutcome, RunState, TriggerAccepted, TriggerRefused,
};
use super::metrics::{JobLabel, Metrics, ResultLabel, StateLabel, StatusLabel};
use super::runs::{self, RunSpec};
use super::scheduler::Scheduler;
use super::status::{LastRun, LiveJob, Published, RejectedFile, ReloadInfo, StatusSnapshot};
use super::timing::{Slot, Timing};
use super::trigger_limit::{self, TriggerLimit};
use super::watcher;
use crate::jobs::{self, Context, Job};
use crate::pipeline::progress::Phases;
use crate::pipeline::{Cancel, CancelReason, Progress};
use crate::plan::{self, Applied, PlanOptions};
use crate::schedule::jitter_offset;
use crate::state;
use crate::state::records::{self, RunRecord, RunStatus, Trigger};
use crate::upload::queue::UploadQueue;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, error, info, warn};

/// The longest the loop sleeps: wall-clock jumps (suspend, NTP steps) are noticed within this.
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(60);
/// At most this many waiting messages are handled between two status publications.
const COALESCE: usize = 256;
/// More changed entries than this are read by a whole pass (on the loader's threads) rather
/// than on the control loop.
const PARTIAL_MAX_ENTRIES: usize = 64;
/// What the reload log line says a whole pass read.
const WHOLE: &str = "the whole directory";
/// How long runs cancelled at shutdown get to write their partial results.
const CANCEL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// What is left of the grace period goes to notifications in flight, and at least this.
const NOTIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

struct Running {
    job: String,
    cancel: Cancel,
    /// Its phases so far (`GET /api/v1/jobs/{job}/runs/{runId}` while it runs).
    progress: watch::Receiver<Phases>,
}

/// A retry waiting for its backoff.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct RetryTimer {
    at: DateTime<Utc>,
    job: String,
    base_run_id: String,
    attempt: u32,
    scheduled_at: Option<DateTime<Utc>>,
}

/// The agent's state, owned by the control loop.
pub struct Daemon {
    options: AgentOptions,
    /// What every run of this agent shares.
    env: Arc<runs::AgentEnv>,
    ctx: Context,
    metrics: Arc<Metrics>,
    status_tx: watch::Sender<Arc<Published>>,
    tx: mpsc::Sender<Control>,
    applied: Applied,
    /// Reports of unchanged job files, so a reload reads only what changed.
    file_cache: Option<jobs::FileCache>,
    /// What the watcher saw change since the last pass.
    pending: watcher::Pending,
    /// The jobs directory as the last pass saw it, when that pass was applied in full (what is
    /// applied then equals the files, and a pass over the changed entries can stand alone).
    view: Option<jobs::DirView>,
    jobs: BTreeMap<String, Arc<Job>>,
    scheduler: Scheduler,
    retries: BTreeSet<RetryTimer>,
    running: HashMap<String, Running>,
    /// How many entries of `running` each job has: a fire checks its own job without a scan.
    running_per_job: HashMap<String, usize>,
    queue: VecDeque<RunSpec>,
    last_runs: HashMap<String, LastRun>,
    rejected: Vec<RejectedFile>,
    last_reload: Option<ReloadInfo>,
    state_problem: Option<String>,
    loaded_once: bool,
    watching: bool,
    manual_counter: u64,
    shutting_down: bool,
    /// Runs decided during one pass over the due timers, started together at its end; `None`
    /// outside such a pass (runs start at once).
    batch: Option<Vec<(RunSpec, Cancel, Progress)>>,
    /// Manual triggers per job (a burst of API calls must not write a record each).
    trigger_limit: TriggerLimit,
    /// The last runs whose records could not be written, so `trigger` can still learn how they
    /// ended (newest last, at most [`UNRECORDED_KEPT`]).
    unrecorded: VecDeque<(RunRecord, String)>,
}

/// How many runs without a written record the agent remembers for `GET .../runs/{runId}`.
const UNRECORDED_KEPT: usize = 64;

impl Daemon {
    /// A daemon with nothing applied yet; `applied` is what `applied.json` held at start.
    #[allow(clippy::too_many_arguments)] // temporary: the split into parts takes these apart
    pub fn new(
        options: AgentOptions,
        applied: Applied,
        metrics: Arc<Metrics>,
        status_tx: watch::Sender<Arc<Published>>,
        tx: mpsc::Sender<Control>,
        watching: bool,
        pending: watcher::Pending,
        uploads: UploadQueue,
    ) -> Self {
        let ctx = options.settings.jobs_context();
        let env = Arc::new(runs::AgentEnv::new(
            &options.settings,
            options.host.clone(),
            options.clock,
            uploads,
            metrics.notifications.clone(),
        ));
        Daemon {
            options,
            env,
            ctx,
            metrics,
            status_tx,
            tx,
            applied,
            file_cache: Some(jobs::FileCache::default()),
            pending,
            view: None,
            jobs: BTreeMap::new(),
            scheduler: Scheduler::default(),
            retries: BTreeSet::new(),
            running: HashMap::new(),
            running_per_job: HashMap::new(),
            queue: VecDeque::new(),
            last_runs: HashMap::new(),
            rejected: Vec::new(),
            last_reload: None,
            state_problem: None,
            loaded_once: false,
            watching,
            manual_counter: 0,
            shutting_down: false,
            batch: None,
            trigger_limit: TriggerLimit::default(),
            unrecorded: VecDeque::new(),
        }
    }

    fn state_dir(&self) -> &std::path::Path {
        &self.options.settings.state_dir
    }

    /// Runs until a shutdown has drained the runs in progress.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Control>) {
        self.publish();
        loop {
            let now = self.options.clock.now();
            let sleep = self
                .next_wake()
                .map(|at| (at - now).to_std().unwrap_or_default())
                .unwrap_or(MAX_SLEEP)
                .min(MAX_SLEEP);
            tokio::select! {
                message = rx.recv() => match message {
                    Some(Control::Shutdown) | None => break,
                    Some(message) => {
                        self.handle(message, &mut rx).await;
                        // Messages already waiting (e.g. a burst of finished runs) are handled
                        // before the status is published once for all of them.
                        let mut stop = false;
                        for _ in 0..COALESCE {
                            match rx.try_recv() {
                                Ok(Control::Shutdown) => { stop = true; break; }
                                Ok(message) => self.handle(message, &mut rx).await,
                                Err(_) => break,
                            }
                        }
                        if stop {
                            break;
                        }
                    }
                },
                () = tokio::time::sleep(sleep) => {}
            }
            self.on_timers(self.options.clock.now()).await;
            self.publish();
        }
        self.drain(&mut rx).await;
        self.publish();
    }

    fn next_wake(&self) -> Option<DateTime<Utc>> {
        let retry = self.retries.first().map(|r| r.at);
        match (self.scheduler.next_wake(), retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    async fn handle(&mut self, message: Control, rx: &mut mpsc::Receiver<Control>) {
        match message {
            Control::Reload { mut cause, reply } => {
                // Everything already waiting joins this pass; what arrives during it gets one more.
                let mut waiters: Vec<oneshot::Sender<ReloadOutcome>> = reply.into_iter().collect();
                let mut deferred = Vec::new();
                let mut shutdown = false;
                while let Ok(next) = rx.try_recv() {
                    match next {
                        Control::Reload {
                            cause: other,
                            reply,
                        } => {
                            // Only watcher passes may read just the changed entries.
                            if cause == ReloadCause::Watcher {
                                cause = other;
                            }
                            waiters.extend(reply);
                        }
                        Control::Shutdown => shutdown = true,
                        other => deferred.push(other),
                    }
                }
                let outcome = self.reload(cause).await;
                // Whoever waits for the outcome may read the status next: it shows this pass.
                if !waiters.is_empty() {
                    self.publish();
                }
                for w in waiters {
                    let _ = w.send(outcome.clone());
                }
                for other in deferred {
                    Box::pin(self.handle(other, rx)).await;
                }
                if shutdown {
                    let _ = self.tx.try_send(Control::Shutdown);
                }
            }
            Control::Trigger { job, reply } => {
                let answer = self.trigger(&job).await;
                let _ = reply.send(answer);
            }
            Control::RunState { job, run_id, reply } => {
                let _ = reply.send(self.run_state(&job, &run_id));
            }
            Control::RunFinished {
                record,
                persist_error,
            } => self.finished(*record, persist_error).await,
            Control::Shutdown => {}
        }
    }

    /// Loads the jobs directory, plans against what is applied and applies exactly that plan.
    /// A pass the file watcher asked for reads only the entries it saw change (see
    /// [`jobs::DirView`]); every other cause, and any change a partial pass cannot capture
    /// (a ConfigMap swap, lost events, many files at once), reads the whole directory.
    ///
    /// The rule (DESIGN.md): a reload is `plan(desired, applied)` applied exactly, and a partial
    /// pass is an optimisation that must not change the result. Its plan is the whole plan's
    /// restricted to the affected files and names, and nothing edits it after planning:
    /// `tests/plan_reload.rs` compares the agent with `plan` from scratch after random changes.
    pub async fn reload(&mut self, cause: ReloadCause) -> ReloadOutcome {
        // Taken by every pass: a whole pass covers whatever the watcher noted before it started.
        let changes = watcher::take(&self.pending);
        if cause == ReloadCause::Watcher && !changes.whole {
            match self.reload_changed(cause, &changes.paths).await {
                Ok(outcome) => return outcome,
                Err(why) => debug!("reading the whole jobs directory: {why}"),
            }
        }
        self.reload_whole(cause).await
    }

    /// A pass over the entries in `changed` (and the files sharing job names with them); the
    /// rest of the directory is as the last pass saw it. `Err` says why a whole pass is needed.
    async fn reload_changed(
        &mut self,
        cause: ReloadCause,
        changed: &BTreeSet<std::path::PathBuf>,
    ) -> Result<ReloadOutcome, String> {
        if changed.len() > PARTIAL_MAX_ENTRIES {
            return Err(format!("{} entries changed", changed.len()));
        }
        let Some(view) = self.view.take() else {
            return Err("the last pass was not applied in full".into());
        };
        let now = self.options.clock.now();
        // Read on the control loop: a few files cost less than handing them to another thread.
        let mut cache = self.file_cache.take().unwrap_or_default();
        let loaded = view.load_changed(
            &self.options.settings.jobs_dir,
            changed,
            &self.ctx,
            &mut cache,
        );
        self.file_cache = Some(cache);
        let partial = match loaded {
            Ok(p) => p,
            Err(e) => {
                self.view = Some(view);
                return Err(e.to_string());
            }
        };
        if self.options.strict && view.rejected_outside(&partial.paths) {
            self.view = Some(view);
            return Err("--strict and a file elsewhere is rejected".into());
        }
        // What is applied for the affected files and names: the plan compares exactly these.
        let names: BTreeSet<&str> = partial
            .old_names
            .iter()
            .chain(
                partial
                    .desired
                    .files
                    .iter()
                    .flat_map(|f| f.job_names.iter()),
            )
            .map(String::as_str)
            .collect();
        let mut subset = Applied::default();
        for (name, job) in &self.applied.jobs {
            if names.contains(name.as_str()) || partial.paths.contains(&job.source) {
                subset.jobs.insert(name.clone(), job.clone());
            }
        }
        // Every rejected file is among the affected ones (see `jobs::DirView`), so this plan's
        // rejected files are all of them, and their kept jobs are in `subset`: applied as is.
        let options = self.plan_options(now);
        let mut plan = plan::plan(&partial.desired, &subset, &options);
        fill_next(&mut plan, &partial.desired, &options);
        let mut view = view;
        view.absorb(&partial);
        // Without a full apply, jobs outside the affected files may differ from what is
        // applied: the next pass reads everything.
        let blocked = plan.blocked;
        self.apply_plan(&partial.desired, &plan, now, false);
        self.write_applied_if(&plan, &partial.desired, now, false)
            .await;
        self.sweep_removed(&plan, now).await;
        self.files_metrics(view.accepted_count(), view.ignored_count(), &plan);
        self.view = (!blocked).then_some(view);
        let read = format!("{} changed entries", changed.len());
        Ok(self.finish_reload(cause, now, plan, &read))
    }

    /// A pass over the whole jobs directory (unchanged files come from the file cache).
    async fn reload_whole(&mut self, cause: ReloadCause) -> ReloadOutcome {
        let now = self.options.clock.now();
        let dir = self.options.settings.jobs_dir.clone();
        let ctx = self.ctx.clone();
        self.view = None;
        // The cache travels with the blocking task and comes back with the result; a loader
        // that panicked loses it, and the next reload starts from an empty one.
        let mut cache = self.file_cache.take().unwrap_or_default();
        let loaded = tokio::task::spawn_blocking(move || {
            let desired = jobs::load_dir_cached(&dir, &ctx, &mut cache);
            (desired, cache)
        })
        .await;
        let desired = match loaded {
            Ok((Ok(d), cache)) => {
                self.file_cache = Some(cache);
                d
            }
            Ok((Err(e), cache)) => {
                self.file_cache = Some(cache);
                return self.reload_failed(cause, now, e.to_string());
            }
            Err(e) => return self.reload_failed(cause, now, format!("loader failed: {e}")),
        };
        let options = self.plan_options(now);
        let mut plan = plan::plan(&desired, &self.applied, &options);
        fill_next(&mut plan, &desired, &options);
        let files_valid = desired.files.iter().filter(|f| !f.is_rejected()).count();
        self.files_metrics(files_valid, desired.ignored.len(), &plan);
        let initial = !self.loaded_once;
        if !plan.blocked {
            self.apply_plan(&desired, &plan, now, initial);
            if initial {
                for job in desired.jobs.values() {
                    runs::apply_retention(
                        self.state_dir(),
                        job,
                        &self.options.settings.history,
                        now,
                    )
                    .await;
                }
            }
            self.write_applied_if(&plan, &desired, now, initial).await;
            self.sweep_removed(&plan, now).await;
            self.view = Some(jobs::DirView::from_desired(&desired));
        }
        // What the load built and nothing kept (reports, documents of unchanged files, the
        // parser's garbage) goes back to the system rather than staying in the allocator.
        drop(desired);
        tokio::task::spawn_blocking(release_freed_memory);
        self.finish_reload(cause, now, plan, WHOLE)
    }

    /// Keeps, then deletes, the state of jobs no longer defined (nor kept at a last good
    /// version, nor running).
    async fn sweep_removed(&self, plan: &plan::Plan, now: DateTime<Utc>) {
        if plan.blocked {
            return;
        }
        let active = (self.jobs.keys().chain(self.running_per_job.keys()))
            .chain(plan.rejected.iter().flat_map(|r| r.kept.iter()))
            .cloned()
            .collect();
        let added = plan.add.iter().map(|a| a.name.clone()).collect();
        let grace = self.options.settings.removed_job_grace_period.0;
        super::removed_jobs::sweep(self.state_dir(), active, added, grace, now).await;
    }

    fn plan_options(&self, now: DateTime<Utc>) -> PlanOptions {
        PlanOptions {
            strict: self.options.strict,
            now,
            host_identity: self.options.host_identity.clone(),
            show_next: 0,
        }
    }

    /// Publishes the counts of valid, rejected and ignored files, and the rejected files.
    fn files_metrics(&mut self, valid: usize, ignored: usize, plan: &plan::Plan) {
        self.rejected = plan
            .rejected
            .iter()
            .map(|r| RejectedFile {
                path: r.path.clone(),
                errors: r.errors.iter().map(ToString::to_string).collect(),
            })
            .collect();
        for (state, n) in [
            ("valid", valid),
            ("rejected", self.rejected.len()),
            ("ignored", ignored),
        ] {
            self.metrics
                .config_files
                .get_or_create(&StateLabel {
                    state: state.into(),
                })
                .set(n as i64);
        }
    }

    /// Starts, updates and stops timers as `plan` says (on the first pass, every job).
    fn apply_plan(
        &mut self,
        desired: &jobs::Desired,
        plan: &plan::Plan,
        now: DateTime<Utc>,
        initial: bool,
    ) {
        if plan.blocked {
            return;
        }
        for add in &plan.add {
            let Some(job) = desired.jobs.get(&add.name) else {
                continue;
            };
            // After a restart, slots missed while the agent was down are decided from the
            // records; a job added later never fires a past slot.
            let last = if initial {
                records::last_fire(self.state_dir(), &add.name)
                    .ok()
                    .flatten()
            } else {
                None
            };
            self.scheduler.add(
                &add.name,
                self.timing(job),
                job.document.spec.suspend,
                last,
                now,
            );
            if initial {
                self.recall_last_run(&add.name);
            }
            debug!(job = %add.name, "add");
            self.jobs.insert(add.name.clone(), Arc::clone(job));
        }
        for change in &plan.change {
            let Some(job) = desired.jobs.get(&change.name) else {
                continue;
            };
            if change.timing_changed {
                self.scheduler.update(
                    &change.name,
                    self.timing(job),
                    job.document.spec.suspend,
                    now,
                );
            }
            debug!(job = %change.name, fields = change.fields.len(), "change");
            self.jobs.insert(change.name.clone(), Arc::clone(job));
        }
        // An unchanged job can have moved to another file: it keeps its timer, and status and
        // its runs name the new file.
        if !initial {
            for u in &plan.unchanged {
                if let (Some(job), Some(current)) =
                    (desired.jobs.get(&u.name), self.jobs.get_mut(&u.name))
                    && current.source != job.source
                {
                    *current = Arc::clone(job);
                }
            }
        }
        for remove in &plan.remove {
            debug!(job = %remove.name, "remove");
            self.scheduler.remove(&remove.name);
            self.jobs.remove(&remove.name);
            self.metrics.forget_job(&remove.name);
            self.last_runs.remove(&remove.name);
        }
        if initial {
            for unchanged in &plan.unchanged {
                if let Some(job) = desired.jobs.get(&unchanged.name) {
                    let last = records::last_fire(self.state_dir(), &unchanged.name)
                        .ok()
                        .flatten();
                    self.scheduler.add(
                        &unchanged.name,
                        self.timing(job),
                        job.document.spec.suspend,
                        last,
                        now,
                    );
                    self.recall_last_run(&unchanged.name);
                    self.jobs.insert(unchanged.name.clone(), Arc::clone(job));
                }
            }
            for kept in plan.rejected.iter().flat_map(|r| r.kept.iter()) {
                self.restore_kept(kept, now);
            }
        }
        if initial {
            let names: Vec<String> = self.jobs.keys().cloned().collect();
            self.refresh_next_run_metrics(&names);
        } else {
            let names: Vec<String> = (plan.add.iter().map(|a| a.name.clone()))
                .chain(plan.change.iter().map(|c| c.name.clone()))
                .collect();
            self.refresh_next_run_metrics(&names);
        }
    }

    /// Updates `applied` from `plan` and writes `applied.json` when it changed (or on the first
    /// pass).
    async fn write_applied_if(
        &mut self,
        plan: &plan::Plan,
        desired: &jobs::Desired,
        now: DateTime<Utc>,
        initial: bool,
    ) {
        if !(plan.apply_to(desired, &mut self.applied) || initial) {
            return;
        }
        // Serialized here, from the state itself; only the write (and its fsync) leaves the loop.
        let dir = self.state_dir().to_path_buf();
        let written = match plan::applied_bytes(&dir, &self.applied, now) {
            Ok(bytes) => {
                tokio::task::spawn_blocking(move || state::write_applied_bytes(&dir, &bytes))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()))
            }
            Err(e) => Err(e.to_string()),
        };
        self.state_problem = match written {
            Ok(()) => None,
            Err(e) => Some(format!("cannot write applied state: {e}")),
        };
    }

    fn finish_reload(
        &mut self,
        cause: ReloadCause,
        now: DateTime<Utc>,
        plan: plan::Plan,
        read: &str,
    ) -> ReloadOutcome {
        self.loaded_once = true;
        let successful = plan.rejected.is_empty();
        let summary = plan.summary();
        self.record_reload(cause, now, successful, &summary, read);
        for rejected in &plan.rejected {
            // One line per rejected file, with its first error: the journal says what to fix.
            let first = rejected.errors.first().map(ToString::to_string);
            warn!(
                file = %rejected.path.display(),
                errors = rejected.errors.len(),
                kept = %rejected.kept.join(","),
                "job file rejected: {}",
                first.as_deref().and_then(|e| e.lines().next()).unwrap_or("")
            );
        }
        ReloadOutcome {
            successful,
            changed: plan.has_changes() && !plan.blocked,
            text: plan::render_text(&plan, false),
            summary,
            plan: Some(plan),
            error: None,
        }
    }

    /// Schedules job `name` at its last good version, rebuilt from `applied.json`: its file is
    /// rejected and this process never loaded it (a restart), yet DESIGN.md keeps it running.
    fn restore_kept(&mut self, name: &str, now: DateTime<Utc>) {
        let Some(applied) = self.applied.jobs.get(name) else {
            return;
        };
        match jobs::rebuild_applied(
            name,
            &applied.source,
            &applied.definition,
            &applied.spec_hash,
            &self.ctx,
        ) {
            Ok(job) => {
                let last = records::last_fire(self.state_dir(), name).ok().flatten();
                self.scheduler.add(
                    name,
                    self.timing(&job),
                    job.document.spec.suspend,
                    last,
                    now,
                );
                warn!(job = %name, file = %applied.source.display(), "job file is rejected: the job keeps running at its last good version (from applied.json)");
                self.recall_last_run(name);
                self.jobs.insert(name.to_string(), Arc::new(job));
            }
            Err(e) => {
                warn!(job = %name, file = %applied.source.display(), "job file is rejected and {e}; the job does not run until its file is fixed");
            }
        }
    }

    fn reload_failed(
        &mut self,
        cause: ReloadCause,
        now: DateTime<Utc>,
        error: String,
    ) -> ReloadOutcome {
        let summary = format!("reload failed, everything stays as it is: {error}");
        self.record_reload(cause, now, false, &summary, WHOLE);
        self.loaded_once = true;
        ReloadOutcome {
            successful: false,
            changed: false,
            text: summary.clone(),
            summary,
            plan: None,
            error: Some(error),
        }
    }

    fn record_reload(
        &mut self,
        cause: ReloadCause,
        now: DateTime<Utc>,
        successful: bool,
        summary: &str,
        read: &str,
    ) {
        if successful {
            info!(cause = cause.as_str(), read, "reload: {summary}");
        } else {
            warn!(cause = cause.as_str(), read, "reload: {summary}");
        }
        self.metrics
            .last_reload_successful
            .set(i64::from(successful));
        let result = if successful { "success" } else { "failure" };
        self.metrics
            .reloads
            .get_or_create(&ResultLabel {
                result: result.into(),
            })
            .inc();
        self.metrics.jobs_total.set(self.jobs.len() as i64);
        self.last_reload = Some(ReloadInfo {
            at: now,
            successful,
            summary: summary.to_string(),
        });
    }

    fn timing(&self, job: &Job) -> Timing {
        let offset = jitter_offset(
            &self.options.host_identity,
            &job.name,
            job.document.spec.jitter.0,
            &job.schedule,
        );
        Timing {
            schedule: job.schedule.clone(),
            offset: Duration::from_std(offset).unwrap_or_default(),
            starting_deadline: Duration::from_std(job.document.spec.starting_deadline.0)
                .unwrap_or_default(),
        }
    }

    fn refresh_next_run_metrics(&self, names: &[String]) {
        for name in names {
            let label = JobLabel { job: name.clone() };
            match self.scheduler.next_of(name) {
                Some(slot) => {
                    self.metrics
                        .next_run
                        .get_or_create(&label)
                        .set(slot.at.timestamp() as f64);
                }
                None => {
                    self.metrics.next_run.remove(&label);
                }
            }
        }
    }

    async fn on_timers(&mut self, now: DateTime<Utc>) {
        if self.shutting_down {
            return;
        }
        // Every run due now is decided first and spawned after, so that the runs already
        // started do not compete for the CPU with the deciding of the later ones; records of
        // missed slots are written last, off the fires' critical path.
        self.batch = Some(Vec::new());
        let mut side_records = Vec::new();
        let mut fired = Vec::new();
        for (name, decision) in self.scheduler.due(now) {
            let Some(job) = self.jobs.get(&name).cloned() else {
                continue;
            };
            if let Some(missed) = decision.missed {
                self.metrics
                    .missed_runs
                    .get_or_create(&JobLabel { job: name.clone() })
                    .inc_by(missed.count);
                let spec = RunSpec {
                    job: job.clone(),
                    run_id: format!("{}-missed", records::run_id_for(missed.last)),
                    trigger: Trigger::Schedule,
                    attempt: 1,
                    scheduled_at: Some(missed.last),
                };
                let mut record =
                    runs::new_record(&spec, &self.options.host, RunStatus::Missed, now);
                record.reason = Some(format!(
                    "{} fire(s) from {} to {} passed while the agent was not running{}",
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
                side_records.push((job.clone(), record));
            }
            if let Some((slot, trigger)) = decision.run {
                self.fire(job, slot, trigger).await;
            }
            fired.push(name);
        }
        let batch = self.batch.take().unwrap_or_default();
        if !batch.is_empty() {
            // One environment for the burst, shared: each run used to copy its paths and names.
            let env = Arc::clone(&self.env);
            let starting = batch
                .into_iter()
                .map(|(spec, cancel, progress)| {
                    runs::spawn(spec, Arc::clone(&env), cancel, progress, self.tx.clone())
                })
                .collect();
            runs::write_running(env, starting);
        }
        // After the runs started: none of this is on their way.
        self.refresh_next_run_metrics(&fired);
        for (job, record) in side_records {
            self.write_side_record(&record).await;
            runs::spawn_notify(job, record, Arc::clone(&self.env));
        }
        while let Some(retry) = self.retries.first().cloned() {
            if retry.at > now {
                break;
            }
            self.retries.pop_first();
            let Some(job) = self.jobs.get(&retry.job).cloned() else {
                continue;
            };
            let spec = RunSpec {
                job,
                run_id: format!("{}-retry{}", retry.base_run_id, retry.attempt - 1),
                trigger: Trigger::Retry,
                attempt: retry.attempt,
                scheduled_at: retry.scheduled_at,
            };
            self.dispatch(spec).await;
        }
    }

    async fn fire(&mut self, job: Arc<Job>, slot: Slot, trigger: Trigger) {
        let spec = RunSpec {
            run_id: records::run_id_for(slot.nominal),
            job,
            trigger,
            attempt: 1,
            scheduled_at: Some(slot.nominal),
        };
        self.dispatch(spec).await;
    }

    /// Applies the concurrency policy and the global limit, then starts, queues or skips the run.
    async fn dispatch(&mut self, spec: RunSpec) -> &'static str {
        use crate::jobs::model::ConcurrencyPolicy;
        let job = spec.job.name.clone();
        let busy = self.running_per_job.get(&job).is_some_and(|n| *n > 0)
            || self.queue.iter().any(|q| q.job.name == job);
        let active: Vec<String> = if !busy {
            Vec::new()
        } else {
            self.running
                .iter()
                .filter(|(_, r)| r.job == job)
                .map(|(id, _)| id.clone())
                .chain(
                    self.queue
                        .iter()
                        .filter(|q| q.job.name == job)
                        .map(|q| q.run_id.clone()),
                )
                .collect()
        };
        if !active.is_empty() {
            match spec.job.document.spec.concurrency_policy {
                ConcurrencyPolicy::Forbid => {
                    let mut record = runs::new_record(
                        &spec,
                        &self.options.host,
                        RunStatus::Skipped,
                        self.options.clock.now(),
                    );
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
        if self.running.len() >= self.options.max_concurrent_runs.max(1) {
            info!(job = %job, run = %spec.run_id, "queued: {} runs in progress (maxConcurrentRuns)", self.running.len());
            self.queue.push_back(spec);
            return "queued";
        }
        self.start(spec);
        "started"
    }

    fn start(&mut self, spec: RunSpec) {
        let cancel = Cancel::default();
        let (progress, watcher) = Progress::new();
        *self
            .running_per_job
            .entry(spec.job.name.clone())
            .or_default() += 1;
        self.running.insert(
            run_key(&spec.job.name, &spec.run_id),
            Running {
                job: spec.job.name.clone(),
                cancel: cancel.clone(),
                progress: watcher,
            },
        );
        self.metrics.jobs_active.set(self.running.len() as i64);
        match &mut self.batch {
            Some(batch) => batch.push((spec, cancel, progress)),
            None => {
                let env = Arc::clone(&self.env);
                let starting =
                    runs::spawn(spec, Arc::clone(&env), cancel, progress, self.tx.clone());
                runs::write_running(env, vec![starting]);
            }
        }
    }

    async fn trigger(&mut self, name: &str) -> Result<TriggerAccepted, TriggerRefused> {
        if self.shutting_down {
            return Err(TriggerRefused::ShuttingDown);
        }
        let job = self
            .jobs
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
        let jobs = &self.jobs;
        self.trigger_limit.retain(|j| jobs.contains_key(j));
        if let Err(wait) = self.trigger_limit.take(name, std::time::Instant::now()) {
            return Err(TriggerRefused::RateLimited {
                job: name.to_string(),
                burst: trigger_limit::BURST,
                every_secs: trigger_limit::REFILL_EVERY.as_secs(),
                retry_after_secs: wait.as_secs_f64().ceil() as u64,
            });
        }
        // The counter restarts with the agent: after a fast restart (a crash) the same second
        // can come round again, and a run must never take over an earlier run's record or staging.
        let stamp = records::run_id_for(self.options.clock.now());
        let run_id = loop {
            self.manual_counter += 1;
            let id = format!("manual-{stamp}-{}", self.manual_counter);
            let state_dir = &self.options.settings.state_dir;
            if !records::runs_dir(state_dir, name)
                .join(format!("{id}.json"))
                .exists()
                && !crate::pipeline::staging_dir(state_dir, name, &id).exists()
            {
                break id;
            }
        };
        let spec = RunSpec {
            job,
            run_id: run_id.clone(),
            trigger: Trigger::Manual,
            attempt: 1,
            scheduled_at: None,
        };
        let state = self.dispatch(spec).await;
        Ok(TriggerAccepted {
            job: name.to_string(),
            run_id,
            state: state.to_string(),
        })
    }

    async fn finished(&mut self, record: RunRecord, persist_error: Option<String>) {
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
        if let Some(e) = persist_error {
            error!(job = %record.job, run = %record.run_id, "cannot write run record: {e}");
            self.state_problem = Some(format!("cannot write run records: {e}"));
            self.remember_unrecorded(&record, e);
        } else if self
            .state_problem
            .as_deref()
            .is_some_and(|p| p.starts_with("cannot write run records"))
        {
            self.state_problem = None;
        }
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
            self.metrics.observe_upload(&u.target, &u.status, took);
        }
        self.remember_last_run(&record);
        if matches!(record.status, RunStatus::Failed | RunStatus::TimedOut)
            && record.trigger != Trigger::Manual
            && !self.shutting_down
            && let Some(job) = self.jobs.get(&record.job)
        {
            let retry = &job.document.spec.retry;
            if record.attempt <= retry.limit {
                let factor = 2u32.saturating_pow(record.attempt - 1);
                let delay = retry.backoff.0.saturating_mul(factor);
                let at = self.options.clock.now() + Duration::from_std(delay).unwrap_or_default();
                let base = record
                    .run_id
                    .split("-retry")
                    .next()
                    .unwrap_or(&record.run_id)
                    .to_string();
                info!(job = %record.job, "retry {} of {} at {}", record.attempt, retry.limit, at);
                self.retries.insert(RetryTimer {
                    at,
                    job: record.job.clone(),
                    base_run_id: base,
                    attempt: record.attempt + 1,
                    scheduled_at: record.scheduled_at,
                });
            }
        }
        if !self.shutting_down {
            while self.running.len() < self.options.max_concurrent_runs.max(1) {
                let Some(next) = self.queue.pop_front() else {
                    break;
                };
                self.start(next);
            }
        }
    }

    fn count_execution(&self, status: RunStatus) {
        self.metrics
            .executions
            .get_or_create(&StatusLabel {
                status: status.as_str().into(),
            })
            .inc();
    }

    async fn write_side_record(&mut self, record: &RunRecord) {
        match runs::persist(self.state_dir(), record).await {
            Ok(()) => self.remember_last_run(record),
            Err(e) => {
                error!(job = %record.job, "cannot write run record: {e}");
                self.state_problem = Some(format!("cannot write run records: {e}"));
                self.remember_unrecorded(record, e);
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
    fn run_state(&self, job: &str, run_id: &str) -> RunState {
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

    /// Stops firing; lets runs finish within the grace period; then interrupts the rest.
    async fn drain(&mut self, rx: &mut mpsc::Receiver<Control>) {
        self.shutting_down = true;
        info!(
            running = self.running.len(),
            queued = self.queue.len(),
            "shutting down"
        );
        for spec in std::mem::take(&mut self.queue) {
            let mut record = runs::new_record(
                &spec,
                &self.options.host,
                RunStatus::Skipped,
                self.options.clock.now(),
            );
            record.reason = Some("the agent shut down before the run could start".into());
            self.write_side_record(&record).await;
        }
        let grace = tokio::time::Instant::now() + self.options.shutdown_grace;
        self.wait_for_runs(rx, grace).await;
        if !self.running.is_empty() {
            warn!(
                running = self.running.len(),
                "grace period over: interrupting runs in progress"
            );
            for r in self.running.values() {
                r.cancel.cancel(CancelReason::Shutdown);
            }
            self.wait_for_runs(rx, tokio::time::Instant::now() + CANCEL_WAIT)
                .await;
        }
        // A run that just ended may still be telling its webhooks.
        let left = self
            .env
            .in_flight
            .settled(grace.max(tokio::time::Instant::now() + NOTIFY_WAIT))
            .await;
        if left > 0 {
            warn!(left, "shutting down with notifications still being sent");
        }
    }

    async fn wait_for_runs(
        &mut self,
        rx: &mut mpsc::Receiver<Control>,
        until: tokio::time::Instant,
    ) {
        while !self.running.is_empty() {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(Control::RunFinished { record, persist_error }) => self.finished(*record, persist_error).await,
                    Some(Control::Trigger { reply, .. }) => { let _ = reply.send(Err(TriggerRefused::ShuttingDown)); }
                    Some(Control::RunState { job, run_id, reply }) => { let _ = reply.send(self.run_state(&job, &run_id)); }
                    Some(Control::Reload { reply, .. }) => {
                        if let Some(reply) = reply {
                            let _ = reply.send(ReloadOutcome { successful: false, changed: false, summary: "the agent is shutting down".into(), text: "the agent is shutting down".into(), plan: None, error: Some("shutting down".into()) });
                        }
                    }
                    Some(Control::Shutdown) => {}
                    None => break,
                },
                () = tokio::time::sleep_until(until) => break,
            }
        }
    }

    /// Publishes the current state for `/api/v1/status` and `/readyz`.
    pub fn publish(&self) {
        let rejected: std::collections::HashSet<&std::path::Path> =
            self.rejected.iter().map(|r| r.path.as_path()).collect();
        let mut running: HashMap<&str, Vec<String>> = HashMap::new();
        for (key, r) in &self.running {
            running.entry(r.job.as_str()).or_default().push(
                key.split_once('/')
                    .map_or(key.clone(), |(_, id)| id.to_string()),
            );
        }
        let jobs = self
            .jobs
            .values()
            .map(|job| LiveJob {
                next_run: self.scheduler.next_of(&job.name).map(|s| s.at),
                running: running.remove(job.name.as_str()).unwrap_or_default(),
                last_run: self.last_runs.get(&job.name).cloned(),
                stale: rejected.contains(job.source.file.as_path()),
                job: Arc::clone(job),
            })
            .collect();
        let mut problems = Vec::new();
        if !self.loaded_once {
            problems.push("the initial plan is not applied yet".to_string());
        }
        if let Some(p) = &self.state_problem {
            problems.push(p.clone());
        }
        if self.shutting_down {
            problems.push("shutting down".to_string());
        }
        let agent = StatusSnapshot {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            jobs_dir: self.options.settings.jobs_dir.clone(),
            state_dir: self.options.settings.state_dir.clone(),
            ready: problems.is_empty(),
            problems,
            last_reload: self.last_reload.clone(),
            jobs: Vec::new(),
            rejected_files: self.rejected.clone(),
            queued_runs: self.queue.len(),
            watching: self.watching,
        };
        self.status_tx
            .send_replace(Arc::new(Published { agent, jobs }));
    }
}

/// The next fire of each added or changed job, for the reload's answer; not of every unchanged
/// one, which would cost a schedule lookup per job on every reload.
fn fill_next(plan: &mut plan::Plan, desired: &jobs::Desired, options: &PlanOptions) {
    let one = PlanOptions {
        show_next: 1,
        ..options.clone()
    };
    for (name, next) in (plan.add.iter_mut().map(|a| (&a.name, &mut a.next)))
        .chain(plan.change.iter_mut().map(|c| (&c.name, &mut c.next)))
    {
        if let Some(job) = desired.jobs.get(name) {
            *next = plan::upcoming(
                &job.schedule,
                job.document.spec.jitter,
                job.document.spec.suspend,
                name,
                &one,
                1,
            );
        }
    }
}

/// Returns freed heap memory to the system: glibc keeps what a reload freed in its arenas (one
/// per thread that allocated, and the loader runs on several), which idle RSS would otherwise
/// carry until the next reload reuses it.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks and shrinks glibc's own arenas; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// How far back start-up looks for a job's latest success when its latest run failed.
const SUCCESS_LOOK_BACK: usize = 100;

impl Daemon {
    /// A run just ended (or was recorded without running): the status shows it and the
    /// per-job alerting metrics follow it.
    fn remember_last_run(&mut self, record: &RunRecord) {
        self.metrics
            .observe_last_run(&record.job, record.status, record.ended_at);
        self.last_runs
            .insert(record.job.clone(), last_run_of(record));
    }

    /// At start-up: the job's latest run from its records, and its latest success (looked for
    /// further back only when the latest run did not succeed, so a start reads one record per
    /// healthy job).
    fn recall_last_run(&mut self, job: &str) {
        let Ok((recent, _)) = records::history(self.state_dir(), job, 1) else {
            return;
        };
        let Some(latest) = recent.first() else {
            return;
        };
        self.remember_last_run(latest);
        if !latest.status.is_success()
            && let Ok((older, _)) = records::history(self.state_dir(), job, SUCCESS_LOOK_BACK)
            && let Some(end) = older
                .iter()
                .find(|r| r.status.is_success())
                .and_then(|r| r.ended_at)
        {
            self.metrics.observe_success(job, end);
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
    }
}
