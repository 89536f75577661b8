//! The timetable: the jobs the agent runs and their timers. A reload's plan is applied here,
//! and every job is put on the timetable by one function, [`Timetable::schedule_job`].

use super::metrics::{JobLabel, Metrics};
use super::reloader::{Pass, Reloader};
use super::run_book::RunBook;
use super::scheduler::Scheduler;
use super::timing::{Recall, Timing};
use crate::jobs::{self, Context, Job};
use crate::plan::Applied;
use crate::schedule::Timeline;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use tracing::{debug, warn};

/// The scheduled jobs, owned by the control loop.
pub(super) struct Timetable {
    /// Every job the agent runs, at the version it runs.
    pub(super) jobs: BTreeMap<String, Arc<Job>>,
    /// Their timers.
    pub(super) scheduler: Scheduler,
    host_identity: String,
    metrics: Arc<Metrics>,
    /// Cluster mode: slots missed before this replica leads are decided from the claims (see
    /// `failover`), never from its own records, which lack the other replicas' runs.
    pub(super) claims_hold_history: bool,
}

impl Timetable {
    pub(super) fn new(host_identity: String, metrics: Arc<Metrics>) -> Self {
        Timetable {
            jobs: BTreeMap::new(),
            scheduler: Scheduler::default(),
            host_identity,
            metrics,
            claims_hold_history: false,
        }
    }

    /// Puts `job` on the timetable with a fresh timer. With `history` (the agent's first pass),
    /// the slots missed while the agent was down are decided from the job's records and its
    /// last run is recalled; a job added later never fires a past slot.
    fn schedule_job(&mut self, job: Arc<Job>, now: DateTime<Utc>, history: Option<&mut RunBook>) {
        let last = history.map(|book| book.recall(&job.name));
        let recall = match last {
            Some(last) if !self.claims_hold_history => Recall::Records(last),
            _ => Recall::Unknown,
        };
        self.scheduler.add(
            &job.name,
            self.timing(&job),
            job.document.spec.suspend,
            recall,
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
                // A one-shot's records (read for it by the daemon) say whether its instant
                // already ran, even when a reload adds it (its file was removed and put back).
                let history = initial || job.timeline.once().is_some();
                self.schedule_job(Arc::clone(job), now, history.then_some(&mut *book));
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
        self.refresh_interval_metrics(&names);
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
        let offset = (job.timeline).jitter_offset(
            &self.host_identity,
            &job.name,
            job.document.spec.jitter.0,
        );
        Timing {
            timeline: job.timeline.clone(),
            offset: Duration::from_std(offset).unwrap_or_default(),
            starting_deadline: Duration::from_std(job.document.spec.starting_deadline.0)
                .unwrap_or_default(),
        }
    }

    /// Sets `troubleshoot_scheduler_schedule_interval_seconds` of the jobs in `names` (added or
    /// changed): the longest gap among their next fires, so an alert on "no success within N
    /// intervals" allows for a weekday job's weekend. A suspended job has no series.
    fn refresh_interval_metrics(&self, names: &[String]) {
        for name in names {
            let label = JobLabel { job: name.clone() };
            // A series from the start, so that `increase()` sees a job's first missed fire (a
            // counter that appears at its first increment shows none).
            let _ = self.metrics.missed_runs.get_or_create(&label);
            let gap = (self.scheduler.next_of(name))
                .zip(self.jobs.get(name))
                .and_then(|(slot, job)| longest_gap(&job.timeline, slot.nominal));
            match gap {
                Some(gap) => {
                    let seconds = gap.num_milliseconds() as f64 / 1000.0;
                    self.metrics
                        .schedule_interval
                        .get_or_create(&label)
                        .set(seconds);
                }
                None => {
                    self.metrics.schedule_interval.remove(&label);
                }
            }
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

/// Fires looked at for a job's interval: enough to include a weekend, or a short month.
const INTERVAL_FIRES: usize = 8;

/// The longest gap between consecutive fires from `from` on (a fire itself), over the next
/// [`INTERVAL_FIRES`] fires; `None` for a schedule that never fires again.
fn longest_gap(timeline: &Timeline, from: DateTime<Utc>) -> Option<Duration> {
    let mut previous = from;
    timeline
        .fires_after(from)
        .take(INTERVAL_FIRES)
        .map(|fire| {
            let gap = fire.at - previous;
            previous = fire.at;
            gap
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(expr: &str, from: &str) -> Option<Duration> {
        let schedule = crate::schedule::Schedule::parse(expr, "UTC").expect("schedule");
        longest_gap(&Timeline::cron(schedule), from.parse().expect("instant"))
    }

    #[test]
    fn the_interval_is_the_longest_gap_between_the_next_fires() {
        assert_eq!(
            gap("0 * * * *", "2026-12-07T10:00:00Z"),
            Some(Duration::hours(1))
        );
        // A weekday job: its weekend is the interval, on a Monday as on a Friday.
        assert_eq!(
            gap("0 2 * * 1-5", "2026-12-07T02:00:00Z"),
            Some(Duration::days(3))
        );
        assert_eq!(
            gap("0 2 * * 1-5", "2026-12-11T02:00:00Z"),
            Some(Duration::days(3))
        );
        assert_eq!(
            gap("0 0 1 * *", "2027-01-01T00:00:00Z"),
            Some(Duration::days(31))
        );
    }
}
