//! The timetable: the jobs the agent runs and their timers. A reload's plan is applied here,
//! and every job is put on the timetable by one function, [`Timetable::schedule_job`].

use super::metrics::{JobLabel, Metrics};
use super::reloader::{Pass, Reloader};
use super::run_book::RunBook;
use super::scheduler::Scheduler;
use super::timing::Timing;
use crate::jobs::{self, Context, Job};
use crate::plan::Applied;
use crate::schedule::jitter_offset;
use crate::state::records;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tracing::{debug, warn};

/// The scheduled jobs, owned by the control loop.
pub(super) struct Timetable {
    /// Every job the agent runs, at the version it runs.
    pub(super) jobs: BTreeMap<String, Arc<Job>>,
    /// Their timers.
    pub(super) scheduler: Scheduler,
    host_identity: String,
    state_dir: PathBuf,
    metrics: Arc<Metrics>,
}

impl Timetable {
    pub(super) fn new(host_identity: String, state_dir: PathBuf, metrics: Arc<Metrics>) -> Self {
        Timetable {
            jobs: BTreeMap::new(),
            scheduler: Scheduler::default(),
            host_identity,
            state_dir,
            metrics,
        }
    }

    /// Puts `job` on the timetable with a fresh timer. With `history` (the agent's first pass),
    /// the slots missed while the agent was down are decided from the job's records and its
    /// last run is recalled; a job added later never fires a past slot.
    fn schedule_job(&mut self, job: Arc<Job>, now: DateTime<Utc>, history: Option<&mut RunBook>) {
        let last = match history {
            Some(book) => {
                book.recall_last_run(&job.name);
                records::last_fire(&self.state_dir, &job.name)
                    .ok()
                    .flatten()
            }
            None => None,
        };
        self.scheduler.add(
            &job.name,
            self.timing(&job),
            job.document.spec.suspend,
            last,
            now,
        );
        self.jobs.insert(job.name.clone(), job);
    }

    /// Starts, updates and stops timers as the pass's plan says (on the first pass, every job:
    /// `book` recalls their history). The jobs a rejected file keeps are rebuilt from what
    /// `reloader` has applied.
    pub(super) fn apply_plan(&mut self, pass: &Pass, reloader: &Reloader, book: &mut RunBook) {
        let (desired, plan, now, initial) = (&pass.desired, &pass.plan, pass.now, pass.initial);
        let (applied, ctx) = (&reloader.applied, &reloader.ctx);
        if plan.blocked {
            return;
        }
        for add in &plan.add {
            if let Some(job) = desired.jobs.get(&add.name) {
                debug!(job = %add.name, "add");
                self.schedule_job(Arc::clone(job), now, initial.then_some(&mut *book));
            }
        }
        for change in &plan.change {
            let Some(job) = desired.jobs.get(&change.name) else {
                continue;
            };
            if change.timing_changed {
                let timing = self.timing(job);
                (self.scheduler).update(&change.name, timing, job.document.spec.suspend, now);
            }
            debug!(job = %change.name, fields = change.fields.len(), "change");
            self.jobs.insert(change.name.clone(), Arc::clone(job));
        }
        for u in &plan.unchanged {
            let Some(job) = desired.jobs.get(&u.name) else {
                continue;
            };
            if initial {
                self.schedule_job(Arc::clone(job), now, Some(&mut *book));
            } else if let Some(current) = self.jobs.get_mut(&u.name)
                && current.source != job.source
            {
                // An unchanged job can have moved to another file: it keeps its timer, and
                // status and its runs name the new file.
                *current = Arc::clone(job);
            }
        }
        for remove in &plan.remove {
            debug!(job = %remove.name, "remove");
            self.scheduler.remove(&remove.name);
            self.jobs.remove(&remove.name);
            self.metrics.forget_job(&remove.name);
            book.forget_job(&remove.name);
        }
        let names: Vec<String> = if initial {
            for kept in plan.rejected.iter().flat_map(|r| r.kept.iter()) {
                self.restore_kept(kept, now, applied, ctx, book);
            }
            self.jobs.keys().cloned().collect()
        } else {
            (plan.add.iter().map(|a| a.name.clone()))
                .chain(plan.change.iter().map(|c| c.name.clone()))
                .collect()
        };
        self.refresh_next_run_metrics(&names);
    }

    /// Schedules job `name` at its last good version, rebuilt from `applied.json`: its file is
    /// rejected and this process never loaded it (a restart), yet DESIGN.md keeps it running.
    fn restore_kept(
        &mut self,
        name: &str,
        now: DateTime<Utc>,
        applied: &Applied,
        ctx: &Context,
        book: &mut RunBook,
    ) {
        let Some(applied) = applied.jobs.get(name) else {
            return;
        };
        match jobs::rebuild_applied(
            name,
            &applied.source,
            &applied.definition,
            &applied.spec_hash,
            ctx,
        ) {
            Ok(job) => {
                warn!(job = %name, file = %applied.source.display(), "job file is rejected: the job keeps running at its last good version (from applied.json)");
                self.schedule_job(Arc::new(job), now, Some(book));
            }
            Err(e) => {
                warn!(job = %name, file = %applied.source.display(), "job file is rejected and {e}; the job does not run until its file is fixed");
            }
        }
    }

    fn timing(&self, job: &Job) -> Timing {
        let offset = jitter_offset(
            &self.host_identity,
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

    /// Sets `troubleshoot_scheduler_next_run` of the jobs in `names`.
    pub(super) fn refresh_next_run_metrics(&self, names: &[String]) {
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
}
