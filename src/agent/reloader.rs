//! The reloader: reads the jobs directory (whole, or only the entries the watcher saw change)
//! and plans it against what is applied. It owns what passes carry between them: the directory
//! view, the per-file cache, the applied state, the rejected files and the last reload. The
//! daemon applies each [`Pass`] exactly as planned, then hands it back to [`Reloader::finish`].

use super::control::{ReloadCause, ReloadOutcome};
use super::metrics::{FileState, Metrics, ReloadResult, ResultLabel, StateLabel};
use super::status::{RejectedFile, ReloadInfo};
use super::{AgentOptions, watcher};
use crate::jobs::{self, Context};
use crate::plan::{self, Applied, PlanOptions};
use crate::state;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use tracing::{debug, info, warn};

/// Why a watcher pass reads the whole jobs directory rather than only the changed entries.
#[derive(Debug, thiserror::Error)]
enum WholePassReason {
    /// Too many entries changed at once for a partial pass to be cheaper.
    #[error("{0} entries changed")]
    ManyChanged(usize),
    /// The last pass left no view to update (it was not applied in full).
    #[error("the last pass was not applied in full")]
    NotAppliedInFull,
    /// The changed entries cannot be read on their own (a ConfigMap swap, say).
    #[error(transparent)]
    Entries(#[from] jobs::NeedsWholePass),
    /// Under `--strict` a rejected file elsewhere blocks the pass: the whole plan decides.
    #[error("--strict and a file elsewhere is rejected")]
    StrictRejected,
}

/// Why `applied.json` could not be written.
#[derive(Debug, thiserror::Error)]
enum AppliedWriteError {
    /// Serializing or writing it failed.
    #[error(transparent)]
    State(#[from] state::StateError),
    /// The writer task died.
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
}

/// More changed entries than this are read by a whole pass (on the loader's threads) rather
/// than on the control loop.
const PARTIAL_MAX_ENTRIES: usize = 64;
/// What the reload log line says a whole pass read.
const WHOLE: &str = "the whole directory";

/// Reload state, owned by the control loop.
pub(super) struct Reloader {
    /// How job files are read (settings that shape a job).
    pub(super) ctx: Context,
    jobs_dir: PathBuf,
    state_dir: PathBuf,
    strict: bool,
    host_identity: String,
    metrics: Arc<Metrics>,
    /// What is applied (`applied.json`).
    pub(super) applied: Applied,
    /// Reports of unchanged job files, so a reload reads only what changed.
    file_cache: Option<jobs::FileCache>,
    /// What the watcher saw change since the last pass.
    pending: watcher::Pending,
    /// The jobs directory as the last pass saw it, when that pass was applied in full (what is
    /// applied then equals the files, and a pass over the changed entries can stand alone).
    view: Option<jobs::DirView>,
    /// The files the last pass rejected.
    pub(super) rejected: Vec<RejectedFile>,
    /// How the last pass went.
    pub(super) last_reload: Option<ReloadInfo>,
    /// A pass has finished (the initial plan is applied).
    pub(super) loaded_once: bool,
    /// Why `applied.json` could not be written, until it can.
    pub(super) problem: Option<String>,
}

/// A planned pass, for the daemon to apply exactly.
pub(super) struct Pass {
    cause: ReloadCause,
    /// When the pass planned.
    pub(super) now: DateTime<Utc>,
    /// What the files say (for a partial pass: the affected files).
    pub(super) desired: jobs::Desired,
    /// What to apply.
    pub(super) plan: plan::Plan,
    /// The first pass of this agent (timers of every job start, history is recalled).
    pub(super) initial: bool,
    /// The whole directory was read.
    pub(super) whole: bool,
    /// What the pass read, for the log line.
    read: String,
    /// The directory view once this pass is applied; `None` when the next pass must read
    /// everything.
    view: Option<jobs::DirView>,
}

impl Reloader {
    /// A reloader with `applied` (what `applied.json` held at start) and nothing read yet.
    pub(super) fn new(
        options: &AgentOptions,
        applied: Applied,
        metrics: Arc<Metrics>,
        pending: watcher::Pending,
    ) -> Self {
        Reloader {
            ctx: options.settings.jobs_context(),
            jobs_dir: options.settings.jobs_dir.clone(),
            state_dir: options.settings.state_dir.clone(),
            strict: options.strict,
            host_identity: options.host_identity.clone(),
            metrics,
            applied,
            file_cache: Some(jobs::FileCache::default()),
            pending,
            view: None,
            rejected: Vec::new(),
            last_reload: None,
            loaded_once: false,
            problem: None,
        }
    }

    /// Loads the jobs directory and plans it against what is applied. A pass the file watcher
    /// asked for reads only the entries it saw change (see [`jobs::DirView`]); every other
    /// cause, and any change a partial pass cannot capture (a ConfigMap swap, lost events, many
    /// files at once), reads the whole directory. `Err` is the outcome of a pass that failed.
    ///
    /// The rule (DESIGN.md): a reload is `plan(desired, applied)` applied exactly, and a partial
    /// pass is an optimisation that must not change the result. Its plan is the whole plan's
    /// restricted to the affected files and names, and nothing edits it after planning:
    /// `tests/it/plan_reload.rs` compares the agent with `plan` from scratch after random changes.
    pub(super) async fn plan(
        &mut self,
        cause: ReloadCause,
        now: DateTime<Utc>,
    ) -> Result<Pass, ReloadOutcome> {
        // Taken by every pass: a whole pass covers whatever the watcher noted before it started.
        let changes = watcher::take(&self.pending);
        if cause == ReloadCause::Watcher && !changes.whole {
            match self.plan_changed(cause, now, &changes.paths) {
                Ok(pass) => return Ok(pass),
                Err(why) => debug!("reading the whole jobs directory: {why}"),
            }
        }
        self.plan_whole(cause, now).await
    }

    /// A pass over the entries in `changed` (and the files sharing job names with them); the
    /// rest of the directory is as the last pass saw it. `Err` says why a whole pass is needed.
    fn plan_changed(
        &mut self,
        cause: ReloadCause,
        now: DateTime<Utc>,
        changed: &BTreeSet<PathBuf>,
    ) -> Result<Pass, WholePassReason> {
        if changed.len() > PARTIAL_MAX_ENTRIES {
            return Err(WholePassReason::ManyChanged(changed.len()));
        }
        let Some(mut view) = self.view.take() else {
            return Err(WholePassReason::NotAppliedInFull);
        };
        // Read on the control loop: a few files cost less than handing them to another thread.
        let mut cache = self.file_cache.take().unwrap_or_default();
        let loaded = view.load_changed(&self.jobs_dir, changed, &self.ctx, &mut cache);
        self.file_cache = Some(cache);
        let partial = match loaded {
            Ok(p) => p,
            Err(e) => {
                self.view = Some(view);
                return Err(WholePassReason::Entries(e));
            }
        };
        if self.strict && view.rejected_outside(&partial.paths) {
            self.view = Some(view);
            return Err(WholePassReason::StrictRejected);
        }
        // What is applied for the affected files and names: the plan compares exactly these.
        let names: BTreeSet<&str> = (partial.old_names.iter())
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
        view.absorb(&partial);
        self.files_metrics(view.accepted_count(), view.ignored_count(), &plan);
        // Without a full apply, jobs outside the affected files may differ from what is
        // applied: the next pass reads everything.
        let view = (!plan.blocked).then_some(view);
        Ok(Pass {
            cause,
            now,
            desired: partial.desired,
            plan,
            initial: false,
            whole: false,
            read: format!("{} changed entries", changed.len()),
            view,
        })
    }

    /// A pass over the whole jobs directory (unchanged files come from the file cache).
    async fn plan_whole(
        &mut self,
        cause: ReloadCause,
        now: DateTime<Utc>,
    ) -> Result<Pass, ReloadOutcome> {
        let dir = self.jobs_dir.clone();
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
                return Err(self.failed(cause, now, e.to_string()));
            }
            Err(e) => return Err(self.failed(cause, now, format!("loader failed: {e}"))),
        };
        let options = self.plan_options(now);
        let mut plan = plan::plan(&desired, &self.applied, &options);
        fill_next(&mut plan, &desired, &options);
        let files_valid = desired.files.iter().filter(|f| !f.is_rejected()).count();
        self.files_metrics(files_valid, desired.ignored.len(), &plan);
        let view = (!plan.blocked).then(|| jobs::DirView::from_desired(&desired));
        Ok(Pass {
            cause,
            now,
            desired,
            plan,
            initial: !self.loaded_once,
            whole: true,
            read: WHOLE.to_string(),
            view,
        })
    }

    fn plan_options(&self, now: DateTime<Utc>) -> PlanOptions {
        PlanOptions {
            strict: self.strict,
            now,
            host_identity: self.host_identity.clone(),
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
            (FileState::Valid, valid),
            (FileState::Rejected, self.rejected.len()),
            (FileState::Ignored, ignored),
        ] {
            (self.metrics.config_files)
                .get_or_create(&StateLabel { state })
                .set(n as i64);
        }
    }

    /// Updates `applied` from the pass's plan and writes `applied.json` when it changed (or on
    /// the first pass).
    pub(super) async fn write_applied(&mut self, pass: &Pass) {
        if !(pass.plan.apply_to(&pass.desired, &mut self.applied) || pass.initial) {
            return;
        }
        // Serialized here, from the state itself; only the write (and its fsync) leaves the loop.
        let dir = self.state_dir.clone();
        let written = match plan::applied_bytes(&dir, &self.applied, pass.now) {
            Ok(bytes) => {
                match tokio::task::spawn_blocking(move || state::write_applied_bytes(&dir, &bytes))
                    .await
                {
                    Ok(r) => r.map_err(AppliedWriteError::from),
                    Err(e) => Err(AppliedWriteError::from(e)),
                }
            }
            Err(e) => Err(AppliedWriteError::from(e)),
        };
        self.problem = written
            .err()
            .map(|e| format!("cannot write applied state: {e}"));
    }

    /// Ends an applied pass: the view it leaves, the log lines, metrics and the outcome.
    /// `jobs` is how many jobs are scheduled now.
    pub(super) fn finish(&mut self, pass: Pass, jobs: usize) -> ReloadOutcome {
        let Pass {
            cause,
            now,
            desired,
            plan,
            whole,
            read,
            view,
            ..
        } = pass;
        self.view = view;
        log_spec_warnings(&desired);
        if whole {
            // What the load built and nothing kept (reports, documents of unchanged files, the
            // parser's garbage) goes back to the system rather than staying in the allocator.
            drop(desired);
            tokio::task::spawn_blocking(super::heap::release_freed);
        }
        self.loaded_once = true;
        let successful = plan.rejected.is_empty();
        let summary = plan.summary();
        self.record(cause, now, successful, &summary, &read, jobs);
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

    fn failed(&mut self, cause: ReloadCause, now: DateTime<Utc>, error: String) -> ReloadOutcome {
        let summary = format!("reload failed, everything stays as it is: {error}");
        let jobs = self.metrics.jobs_total.get() as usize;
        self.record(cause, now, false, &summary, WHOLE, jobs);
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

    fn record(
        &mut self,
        cause: ReloadCause,
        now: DateTime<Utc>,
        successful: bool,
        summary: &str,
        read: &str,
        jobs: usize,
    ) {
        if successful {
            info!(cause = cause.as_str(), read, "reload: {summary}");
        } else {
            warn!(cause = cause.as_str(), read, "reload: {summary}");
        }
        self.metrics
            .last_reload_successful
            .set(i64::from(successful));
        let result = if successful {
            ReloadResult::Success
        } else {
            ReloadResult::Failure
        };
        (self.metrics.reloads)
            .get_or_create(&ResultLabel { result })
            .inc();
        self.metrics.jobs_total.set(jobs as i64);
        self.last_reload = Some(ReloadInfo {
            at: now,
            successful,
            summary: summary.to_string(),
        });
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
                &job.timeline,
                job.document.spec.jitter,
                job.document.spec.suspend,
                name,
                &one,
                1,
            );
        }
    }
}

/// Lines of warnings logged per load at most; the rest are counted (`validate` lists them all).
const LOGGED_WARNINGS: usize = 50;

/// The warnings of the files this load read (lenient spec loading: unknown fields, ignored
/// entries...), once each: the journal says what troubleshoot would silently ignore.
fn log_spec_warnings(desired: &jobs::Desired) {
    let warnings: Vec<_> = desired.diagnostics().filter(|d| !d.is_error()).collect();
    for d in warnings.iter().take(LOGGED_WARNINGS) {
        let at = format!("{}:{}:{}", d.file.display(), d.line, d.column);
        tracing::warn!(at = %at, hint = d.hint.as_deref().unwrap_or(""), "{}", d.message);
    }
    if warnings.len() > LOGGED_WARNINGS {
        tracing::warn!(
            more = warnings.len() - LOGGED_WARNINGS,
            "more warnings not logged; `troubleshoot-agent validate` lists them all"
        );
    }
}
