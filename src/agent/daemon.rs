//! The control loop: one task owns the agent's state; watcher, signals, API, timers and finished
//! runs all reach it as [`Control`] messages, so there is no shared mutable state to lock.
//!
//! The state is in three parts: the [`Reloader`] (the jobs directory as read, planned and
//! applied), the [`Timetable`] (the jobs and their timers) and the [`RunBook`] (the runs in hand).
//! The daemon moves messages between them and publishes the status.

use super::AgentOptions;
use super::control::{Control, ReloadCause, ReloadOutcome};
use super::leader::Gate;
use super::metrics::{JobLabel, Metrics};
use super::reloader::Reloader;
use super::run_book::RunBook;
use super::runs;
use super::status::{LiveJob, Published, StatusSnapshot};
use super::timetable::Timetable;
use super::watcher;
use crate::pipeline::CancelReason;
use crate::plan::{self, Applied};
use crate::state::records::Trigger;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

/// The longest the loop sleeps: wall-clock jumps (suspend, NTP steps) are noticed within this.
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(60);
/// At most this many waiting messages are handled between two status publications.
const COALESCE: usize = 256;
/// How long runs cancelled at shutdown get to write their partial results.
const CANCEL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);
/// What is left of the grace period goes to notifications in flight, and at least this.
const NOTIFY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The agent's state, owned by the control loop.
pub struct Daemon {
    options: AgentOptions,
    metrics: Arc<Metrics>,
    status_tx: watch::Sender<Arc<Published>>,
    tx: mpsc::Sender<Control>,
    reloader: Reloader,
    timetable: Timetable,
    book: RunBook,
    watching: bool,
    /// Crash recovery of partial bundles is still running.
    recovering: bool,
    /// Whether this agent may start runs (cluster mode: while it leads).
    gate: Gate,
    /// Cluster mode: the slots passed as a standby were checked for catch-up in this
    /// leadership term (reset whenever the replica does not lead).
    term_checked: bool,
    /// Cluster mode: per job, up to where an earlier term's check decided the passed slots
    /// (they are not decided, nor recorded missed, twice).
    failover_checked: HashMap<String, DateTime<Utc>>,
}

/// How the daemon talks to the rest of the agent.
pub struct Wiring {
    /// The status it publishes.
    pub status_tx: watch::Sender<Arc<Published>>,
    /// Its own control channel (a merged shutdown is re-sent through it).
    pub tx: mpsc::Sender<Control>,
    /// The file watcher runs.
    pub watching: bool,
    /// What the watcher saw change.
    pub pending: watcher::Pending,
    /// Crash recovery of partial bundles runs (until [`Control::Recovered`]).
    pub recovering: bool,
    /// Whether runs may start (cluster mode: the leader election).
    pub gate: Gate,
}

impl Daemon {
    /// A daemon with nothing applied yet; `applied` is what `applied.json` held at start, `env`
    /// what its runs share.
    pub fn new(
        options: AgentOptions,
        applied: Applied,
        metrics: Arc<Metrics>,
        env: Arc<runs::AgentEnv>,
        wiring: Wiring,
    ) -> Self {
        let reloader = Reloader::new(&options, applied, metrics.clone(), wiring.pending);
        let mut timetable = Timetable::new(options.host_identity.clone(), metrics.clone());
        // Cluster mode: the claims, not this replica's records, say which slots ran.
        timetable.claims_hold_history = env.claims.is_some();
        let book = RunBook::new(
            env,
            wiring.tx.clone(),
            metrics.clone(),
            options.max_concurrent_runs,
        );
        Daemon {
            options,
            metrics,
            status_tx: wiring.status_tx,
            tx: wiring.tx,
            reloader,
            timetable,
            book,
            watching: wiring.watching,
            recovering: wiring.recovering,
            gate: wiring.gate,
            term_checked: false,
            failover_checked: HashMap::new(),
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
        let retry = self.book.next_retry();
        match (self.timetable.scheduler.next_wake(), retry) {
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
                let answer = if self.gate.leads() {
                    self.book.trigger(&job, &self.timetable.jobs, None).await
                } else {
                    Err(self.gate.refusal())
                };
                let _ = reply.send(answer);
            }
            Control::Alerts { alerts, reply } => {
                let answer = if self.gate.leads() {
                    super::alert_triggers::start(&mut self.book, &alerts, &self.timetable.jobs)
                        .await
                } else {
                    let why = self.gate.refusal();
                    super::alert_triggers::refuse_all(&alerts, &self.timetable.jobs, &why)
                };
                let _ = reply.send(answer);
            }
            Control::RunState { job, run_id, reply } => {
                let _ = reply.send(self.book.run_state(&job, &run_id));
            }
            Control::RunFinished {
                record,
                persist_error,
            } => {
                (self.book)
                    .finished(*record, persist_error, &self.timetable.jobs)
                    .await
            }
            Control::Recovered => self.recovering = false,
            Control::Leadership => {
                self.gate.observe(&self.metrics);
                if !self.gate.leads() && self.book.queued_count() > 0 {
                    let reason = "this replica stopped leading before the run could start";
                    self.book.skip_queued_because(reason).await;
                }
            }
            Control::CatchUp { job, caught } => self.catch_up(&job, caught).await,
            Control::Shutdown => {}
        }
    }

    /// Cluster mode, once per leadership term, before the timers of the first pass as leader
    /// fire: decides (off the loop, from the claims) what to catch up of the slots passed as
    /// a standby. Later slots fire from the timers as usual, so none is decided twice.
    fn check_failover(&mut self, leads: bool) {
        if !leads {
            self.term_checked = false;
            return;
        }
        if self.term_checked {
            return;
        }
        self.term_checked = true;
        let Some(claims) = self.book.env().claims.clone() else {
            return;
        };
        let jobs = (self.timetable.jobs.values())
            .filter(|job| !job.document.spec.suspend)
            .filter_map(|job| {
                let (timing, handled) = self.timetable.scheduler.handled_of(&job.name)?;
                let job = job.name.clone();
                let checked = self.failover_checked.get(&job).copied();
                Some(super::failover::Passed {
                    job,
                    timing,
                    handled,
                    checked,
                })
            })
            .collect::<Vec<_>>();
        let jobs_now = &self.timetable.jobs;
        self.failover_checked
            .retain(|job, _| jobs_now.contains_key(job));
        for p in &jobs {
            self.failover_checked.insert(p.job.clone(), p.handled);
        }
        let dir = self.state_dir().to_path_buf();
        super::failover::spawn(claims, jobs, dir, self.options.clock, self.tx.clone());
    }

    /// Runs a new leader's catch-up of `name` (unless it no longer leads, or the job is gone
    /// or has that run in hand) and records the slots missed during the failover.
    async fn catch_up(&mut self, name: &str, caught: super::timing::FailoverCatchUp) {
        if !self.gate.leads() || self.book.shutting_down {
            return;
        }
        let Some(job) = self.timetable.jobs.get(name).cloned() else {
            return;
        };
        let now = self.options.clock.now();
        if let Some(missed) = caught.missed {
            let label = JobLabel {
                job: name.to_string(),
            };
            self.metrics
                .missed_runs
                .get_or_create(&label)
                .inc_by(missed.count);
            let why = "passed while no replica of the cluster led (failover)";
            let record = self.book.missed(job.clone(), missed, now, why);
            self.book.write_side_record(&record).await;
            runs::spawn_notify(job.clone(), record, Arc::clone(self.book.env()));
        }
        if let Some(slot) = caught.run {
            let id = crate::state::RunId::scheduled(slot.nominal);
            let in_hand = (self.book.running_ids().get(name))
                .is_some_and(|ids| ids.iter().any(|r| r == id.as_str()));
            if !in_hand {
                self.book.fire(job, slot, Trigger::CatchUp).await;
            }
        }
    }

    /// Loads the jobs directory, plans against what is applied and applies exactly that plan
    /// (see [`Reloader::plan`]).
    pub async fn reload(&mut self, cause: ReloadCause) -> ReloadOutcome {
        let now = self.options.clock.now();
        let pass = match self.reloader.plan(cause, now).await {
            Ok(pass) => pass,
            Err(failed) => return failed,
        };
        if !pass.plan.blocked {
            if pass.initial {
                // Every job the first pass schedules: its slots missed while the agent was down
                // and its last run come from its records, read off the control loop.
                let plan = &pass.plan;
                let names = (plan.add.iter().map(|a| a.name.clone()))
                    .chain(plan.unchanged.iter().map(|u| u.name.clone()))
                    .chain(plan.rejected.iter().flat_map(|r| r.kept.iter().cloned()))
                    .collect();
                self.book.read_history(names).await;
            } else {
                // A one-shot a reload adds: its records say whether its instant already ran
                // (its file was removed and put back), so it never runs twice.
                let names: Vec<String> = (pass.plan.add.iter())
                    .filter(|a| {
                        (pass.desired.jobs.get(&a.name))
                            .is_some_and(|j| j.timeline.once().is_some())
                    })
                    .map(|a| a.name.clone())
                    .collect();
                if !names.is_empty() {
                    self.book.read_history(names).await;
                }
            }
            (self.timetable).apply_plan(&pass, &self.reloader, &mut self.book);
            if pass.initial {
                self.book.forget_history();
                for job in pass.desired.jobs.values() {
                    let history = &self.options.settings.history;
                    runs::apply_retention(self.state_dir(), job, history, now).await;
                }
            }
            self.reloader.write_applied(&pass).await;
            self.sweep_removed(&pass.plan, now).await;
        }
        self.reloader.finish(pass, self.timetable.jobs.len())
    }

    /// Keeps, then deletes, the state of jobs no longer defined (nor kept at a last good
    /// version, nor running).
    async fn sweep_removed(&self, plan: &plan::Plan, now: DateTime<Utc>) {
        let active = (self.timetable.jobs.keys().chain(self.book.running_jobs()))
            .chain(plan.rejected.iter().flat_map(|r| r.kept.iter()))
            .cloned()
            .collect();
        let added = plan.add.iter().map(|a| a.name.clone()).collect();
        let grace = self.options.settings.removed_job_grace_period.0;
        super::removed_jobs::sweep(self.state_dir(), active, added, grace, now).await;
    }

    async fn on_timers(&mut self, now: DateTime<Utc>) {
        if self.book.shutting_down {
            return;
        }
        // Every run due now is decided first and spawned after, so that the runs already
        // started do not compete for the CPU with the deciding of the later ones; records of
        // missed slots are written last, off the fires' critical path.
        // Cluster mode: a standby passes its slots (the leader runs them) and records nothing;
        // when it starts leading, it catches up what it passed (see `check_failover`).
        // One reading for both: the slots passed below as a standby are exactly those the
        // check of the next term covers.
        let leads = self.gate.leads();
        self.check_failover(leads);
        self.book.begin_batch();
        let mut side_records = Vec::new();
        let mut fired = Vec::new();
        for (name, decision) in self.timetable.scheduler.due(now) {
            let Some(job) = self.timetable.jobs.get(&name).cloned() else {
                continue;
            };
            if !leads {
                debug!(job = %name, "slot passed: this replica does not lead");
                fired.push(name);
                continue;
            }
            if let Some(missed) = decision.missed {
                self.metrics
                    .missed_runs
                    .get_or_create(&JobLabel { job: name.clone() })
                    .inc_by(missed.count);
                let why = if job.timeline.once().is_some() {
                    "passed while the agent was not running or before it loaded the one-shot"
                } else {
                    "passed while the agent was not running"
                };
                let record = self.book.missed(job.clone(), missed, now, why);
                side_records.push((job.clone(), record));
            }
            if let Some((slot, trigger)) = decision.run {
                self.book.fire(job, slot, trigger).await;
            }
            fired.push(name);
        }
        self.book.end_batch();
        // After the runs started: none of this is on their way.
        self.timetable.refresh_next_run_metrics(&fired);
        for (job, record) in side_records {
            self.book.write_side_record(&record).await;
            runs::spawn_notify(job, record, Arc::clone(self.book.env()));
        }
        let jobs = &self.timetable.jobs;
        if leads {
            self.book.start_due_retries(now, jobs).await;
        } else {
            self.book.drop_due_retries(now);
        }
    }

    /// Stops firing; lets runs finish within the grace period; then interrupts the rest.
    async fn drain(&mut self, rx: &mut mpsc::Receiver<Control>) {
        self.book.shutting_down = true;
        info!(
            running = self.book.running_count(),
            queued = self.book.queued_count(),
            "shutting down"
        );
        self.book.skip_queued().await;
        let grace = tokio::time::Instant::now() + self.options.shutdown_grace;
        self.wait_for_runs(rx, grace).await;
        if self.book.running_count() > 0 {
            warn!(
                running = self.book.running_count(),
                "grace period over: interrupting runs in progress"
            );
            self.book.cancel_all(CancelReason::Shutdown);
            self.wait_for_runs(rx, tokio::time::Instant::now() + CANCEL_WAIT)
                .await;
        }
        // A run that just ended may still be telling its webhooks.
        let until = grace.max(tokio::time::Instant::now() + NOTIFY_WAIT);
        let left = self.book.env().in_flight.settled(until).await;
        if left > 0 {
            warn!(left, "shutting down with notifications still being sent");
        }
    }

    async fn wait_for_runs(
        &mut self,
        rx: &mut mpsc::Receiver<Control>,
        until: tokio::time::Instant,
    ) {
        while self.book.running_count() > 0 {
            tokio::select! {
                message = rx.recv() => match message {
                    Some(Control::RunFinished { record, persist_error }) => self.book.finished(*record, persist_error, &self.timetable.jobs).await,
                    Some(Control::Trigger { reply, .. }) => { let _ = reply.send(Err(super::control::TriggerRefused::ShuttingDown)); }
                    Some(Control::Alerts { reply, .. }) => { let _ = reply.send(Vec::new()); }
                    Some(Control::RunState { job, run_id, reply }) => { let _ = reply.send(self.book.run_state(&job, &run_id)); }
                    Some(Control::Reload { reply, .. }) => {
                        if let Some(reply) = reply {
                            let _ = reply.send(ReloadOutcome { successful: false, changed: false, summary: "the agent is shutting down".into(), text: "the agent is shutting down".into(), plan: None, error: Some("shutting down".into()) });
                        }
                    }
                    Some(Control::Recovered) => self.recovering = false,
                    Some(Control::Leadership) => self.gate.observe(&self.metrics),
                    Some(Control::CatchUp { .. }) => {}
                    Some(Control::Shutdown) => {}
                    None => break,
                },
                () = tokio::time::sleep_until(until) => break,
            }
        }
    }

    /// Publishes the current state for `/api/v1/status` and `/readyz`.
    pub fn publish(&self) {
        let rejected: std::collections::HashSet<&std::path::Path> = (self.reloader.rejected.iter())
            .map(|r| r.path.as_path())
            .collect();
        let mut running: HashMap<&str, Vec<String>> = self.book.running_ids();
        let now = self.options.clock.now();
        let scheduler = &self.timetable.scheduler;
        let jobs = (self.timetable.jobs.values())
            .map(|job| LiveJob {
                phase: scheduler.phase_of(&job.name, now).unwrap_or_default(),
                next_run: self.timetable.scheduler.next_of(&job.name).map(|s| s.at),
                running: running.remove(job.name.as_str()).unwrap_or_default(),
                last_run: self.book.last_runs.get(&job.name).map(Arc::clone),
                stale: rejected.contains(job.source.file.as_path()),
                job: Arc::clone(job),
            })
            .collect();
        let mut problems = Vec::new();
        if !self.reloader.loaded_once {
            problems.push("the initial plan is not applied yet".to_string());
        }
        if self.recovering {
            problems.push("recovering the partial bundles of interrupted runs".to_string());
        }
        problems.extend(self.reloader.problem.clone());
        problems.extend(self.book.problem.clone());
        if self.book.shutting_down {
            problems.push("shutting down".to_string());
        }
        let agent = StatusSnapshot {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            jobs_dir: self.options.settings.jobs_dir.clone(),
            state_dir: self.options.settings.state_dir.clone(),
            ready: problems.is_empty(),
            problems,
            last_reload: self.reloader.last_reload.clone(),
            jobs: Vec::new(),
            rejected_files: self.reloader.rejected.clone(),
            queued_runs: self.book.queued_count(),
            watching: self.watching,
            cluster: self.gate.status(),
        };
        self.status_tx
            .send_replace(Arc::new(Published { agent, jobs }));
    }
}
