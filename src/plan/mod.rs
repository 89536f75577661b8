//! `plan(desired, applied)`: what applying the job files would change. Pure: no file system, no
//! clock (the instant to preview from is an argument). The `plan` command prints this, and the
//! agent applies exactly this.

mod applied_file;
pub mod cronjobs;
mod diff;
pub mod graph;
mod graph_render;
pub mod relations;
mod render;

pub use applied_file::{applied_bytes, read_applied, read_applied_reusing, write_applied};
pub use diff::{FieldChange, diff};
pub use graph_render::{render_dot, render_tree};
pub use relations::{Relations, RelationsBefore};
pub use render::{render_text, render_text_with};

use crate::diagnostic::Diagnostic;
use crate::jobs::{Definition, Desired, Job, SpecHash};
use crate::schedule::{DstNote, Rule, Schedule, Timeline, Window, parse_instant, parse_zone};
use crate::units::HumanDuration;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// One job as the agent applied it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedJob {
    /// The file that defined it.
    pub source: PathBuf,
    /// Hex sha256 of `definition`.
    pub spec_hash: SpecHash,
    /// The job's definition (see [`Job::definition`]), shared with the loaded job.
    #[serde(with = "shared_definition")]
    pub definition: Arc<Definition>,
}

/// (De)serializes an `Arc<Definition>` as the definition (serde's `rc` feature would rebuild
/// every dependent crate for this one field).
mod shared_definition {
    use crate::jobs::Definition;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    pub fn serialize<S: Serializer>(value: &Arc<Definition>, s: S) -> Result<S::Ok, S::Error> {
        Definition::serialize(value, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<Definition>, D::Error> {
        Definition::deserialize(d).map(Arc::new)
    }
}

/// What the agent has applied (empty before the first start).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Applied {
    /// Jobs by name.
    pub jobs: BTreeMap<String, AppliedJob>,
}

impl AppliedJob {
    /// The applied form of a desired job.
    pub fn from_job(job: &Job) -> Self {
        AppliedJob {
            source: job.source.file.clone(),
            spec_hash: job.spec_hash.clone(),
            definition: Arc::clone(&job.definition),
        }
    }

    /// The timeline (schedule or one-shot instant, window, zone), jitter and suspension
    /// recorded in the definition, if they still parse.
    pub fn timing(&self) -> Option<(Timeline, HumanDuration, bool)> {
        let definition = self.definition.value();
        let spec = definition.get("spec")?;
        let zone = spec.get("timeZone")?.as_str()?;
        fn text(v: Option<&Value>) -> Option<&str> {
            v.and_then(Value::as_str)
        }
        let rule = match (text(spec.get("schedule")), text(spec.get("at"))) {
            (Some(expr), _) => Rule::Cron(Schedule::parse(expr, zone).ok()?),
            (None, Some(at)) => Rule::Once(parse_instant(at).ok()?),
            (None, None) => Rule::Never,
        };
        let bound = |key: &str| {
            text(spec.get("activeWindow").and_then(|w| w.get(key)))
                .map(parse_instant)
                .transpose()
                .ok()
        };
        let window = Window {
            from: bound("from")?,
            until: bound("until")?,
        };
        let timeline = Timeline::new(rule, window, parse_zone(zone).ok()?);
        let jitter = spec
            .get("jitter")
            .and_then(Value::as_str)
            .and_then(|j| j.parse().ok())
            .unwrap_or_default();
        let suspended = spec
            .get("suspend")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Some((timeline, jitter, suspended))
    }
}

/// Inputs of a plan besides the two states.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// Reject the whole change when any file is invalid (instead of keeping last-good versions).
    pub strict: bool,
    /// The instant fire times are previewed from.
    pub now: DateTime<Utc>,
    /// Host identity that seeds jitter.
    pub host_identity: String,
    /// How many fire times to list per job (at least one is computed for changes).
    pub show_next: usize,
}

/// A fire time as the plan shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedFire {
    /// When the job runs (nominal + jitter).
    pub at: DateTime<Utc>,
    /// The schedule's slot.
    pub nominal: DateTime<Utc>,
    /// Local wall-clock time of `at`, with the zone's abbreviation.
    pub local: String,
    /// Jitter applied, in seconds.
    pub jitter_seconds: u64,
    /// Set when DST moved or doubled this fire.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst: Option<DstNote>,
}

/// A job to start scheduling.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Add {
    /// Job name.
    pub name: String,
    /// Defining file.
    pub source: PathBuf,
    /// Cron expression (none for a one-shot or a job started only by triggers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The one-shot instant (`spec.at`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// `spec.activeWindow`'s start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_from: Option<DateTime<Utc>>,
    /// `spec.activeWindow`'s end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_until: Option<DateTime<Utc>>,
    /// Zone.
    pub time_zone: String,
    /// Whether it is suspended (no fires listed).
    pub suspended: bool,
    /// Upcoming fires.
    pub next: Vec<PlannedFire>,
    /// Chains, alert triggers and set membership.
    #[serde(skip_serializing_if = "Relations::is_empty")]
    pub relations: Relations,
}

/// A job whose definition changes.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// Job name.
    pub name: String,
    /// Defining file (now).
    pub source: PathBuf,
    /// Every field that differs.
    pub fields: Vec<FieldChange>,
    /// Whether the change moves fire times (schedule, zone, jitter or suspend).
    pub timing_changed: bool,
    /// Next fire under the applied definition (only when timing changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_next: Option<PlannedFire>,
    /// Next fire under the new definition (only when timing changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_next: Option<PlannedFire>,
    /// Upcoming fires under the new definition.
    pub next: Vec<PlannedFire>,
    /// Chains, alert triggers and set membership under the new definition.
    #[serde(skip_serializing_if = "Relations::is_empty")]
    pub relations: Relations,
    /// The relations that change, as they were.
    #[serde(skip_serializing_if = "RelationsBefore::is_empty")]
    pub relations_before: RelationsBefore,
}

/// A job that stops.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Remove {
    /// Job name.
    pub name: String,
    /// The file that used to define it.
    pub source: PathBuf,
    /// Its bundles and records stay until then (the removed-job grace period), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_until: Option<DateTime<Utc>>,
}

/// A job that stays as it is.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unchanged {
    /// Job name.
    pub name: String,
    /// Defining file.
    pub source: PathBuf,
    /// Upcoming fires.
    pub next: Vec<PlannedFire>,
}

/// A file that cannot be applied, and what stays in force meanwhile.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejected {
    /// The file.
    pub path: PathBuf,
    /// Its errors.
    pub errors: Vec<Diagnostic>,
    /// Applied jobs from this file that keep running at their last good version.
    pub kept: Vec<String>,
}

/// What applying the job files would do.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Jobs to add.
    pub add: Vec<Add>,
    /// Jobs to change.
    pub change: Vec<Change>,
    /// Jobs to remove.
    pub remove: Vec<Remove>,
    /// Jobs left alone.
    pub unchanged: Vec<Unchanged>,
    /// Files rejected.
    pub rejected: Vec<Rejected>,
    /// `--strict` and a file was rejected: nothing is applied.
    pub blocked: bool,
}

impl Plan {
    /// Whether applying it changes anything.
    pub fn has_changes(&self) -> bool {
        !(self.add.is_empty() && self.change.is_empty() && self.remove.is_empty())
    }

    /// The one-line summary: `Plan: 1 to add, 2 to change, 0 to remove, 1 file rejected.`
    pub fn summary(&self) -> String {
        let rejected = self.rejected.len();
        let mut s = format!(
            "Plan: {} to add, {} to change, {} to remove, {} file{} rejected.",
            self.add.len(),
            self.change.len(),
            self.remove.len(),
            rejected,
            if rejected == 1 { "" } else { "s" }
        );
        if self.blocked {
            s.push_str(" Nothing is applied (--strict).");
        }
        s
    }

    /// The applied state after this plan: desired jobs, plus last-good jobs of rejected files.
    pub fn next_applied(&self, desired: &Desired, previous: &Applied) -> Applied {
        if self.blocked {
            return previous.clone();
        }
        let mut jobs: BTreeMap<String, AppliedJob> = desired
            .jobs
            .values()
            .map(|job| (job.name.clone(), AppliedJob::from_job(job)))
            .collect();
        for name in self.rejected.iter().flat_map(|r| r.kept.iter()) {
            if let Some(job) = previous.jobs.get(name) {
                jobs.entry(name.clone()).or_insert_with(|| job.clone());
            }
        }
        Applied { jobs }
    }
}

impl Plan {
    /// Updates `applied` in place to [`Plan::next_applied`] (what this plan, made against
    /// `applied`, applies), touching only the jobs it adds, changes or removes; returns whether
    /// anything changed. A reload of one edited file among thousands then costs one job's work.
    pub fn apply_to(&self, desired: &Desired, applied: &mut Applied) -> bool {
        if self.blocked {
            return false;
        }
        let mut changed = false;
        for name in self
            .add
            .iter()
            .map(|a| &a.name)
            .chain(self.change.iter().map(|c| &c.name))
        {
            if let Some(job) = desired.jobs.get(name) {
                applied.jobs.insert(name.clone(), AppliedJob::from_job(job));
                changed = true;
            }
        }
        for r in &self.remove {
            changed |= applied.jobs.remove(&r.name).is_some();
        }
        // Unchanged jobs can still have moved to another file.
        for u in &self.unchanged {
            if let Some(old) = applied.jobs.get_mut(&u.name) {
                if old.source != u.source {
                    old.source = u.source.clone();
                    changed = true;
                }
                // Equal content (equal hashes): hold one copy, the loaded job's.
                if let Some(job) = desired.jobs.get(&u.name)
                    && !Arc::ptr_eq(&old.definition, &job.definition)
                {
                    old.definition = Arc::clone(&job.definition);
                }
            }
        }
        changed
    }
}

/// Compares the desired jobs with the applied ones.
pub fn plan(desired: &Desired, applied: &Applied, options: &PlanOptions) -> Plan {
    let mut plan = Plan {
        rejected: rejected_files(desired, applied),
        ..Plan::default()
    };
    if options.strict && !plan.rejected.is_empty() {
        // Nothing is applied: every job of a rejected file stays as it runs.
        plan.blocked = true;
        for r in &mut plan.rejected {
            r.kept = applied
                .jobs
                .iter()
                .filter(|(_, job)| job.source == r.path)
                .map(|(name, _)| name.clone())
                .collect();
        }
        return plan;
    }
    let kept: Vec<&String> = plan.rejected.iter().flat_map(|r| r.kept.iter()).collect();
    let children = relations::children_index(desired.jobs.values().map(|j| &**j));
    for (name, job) in &desired.jobs {
        let next = upcoming(
            &job.timeline,
            job.document.spec.jitter,
            job.document.spec.suspend,
            name,
            options,
            options.show_next,
        );
        match applied.jobs.get(name) {
            None => plan.add.push(Add {
                name: name.clone(),
                source: job.source.file.clone(),
                schedule: (job.timeline.schedule()).map(|s| s.expression().to_string()),
                at: job.timeline.once(),
                active_from: job.timeline.window().from,
                active_until: job.timeline.window().until,
                time_zone: job.time_zone().to_string(),
                suspended: job.document.spec.suspend,
                next,
                relations: relations::of_job(job, &children),
            }),
            // The hash is of the definition: equal hashes are equal definitions.
            Some(old) if old.spec_hash == job.spec_hash => plan.unchanged.push(Unchanged {
                name: name.clone(),
                source: job.source.file.clone(),
                next,
            }),
            Some(old) => {
                let relations = relations::of_job(job, &children);
                plan.change
                    .push(change(name, old, job, options, next, relations));
            }
        }
    }
    let removed = (applied.jobs.iter())
        .filter(|(name, _)| !desired.jobs.contains_key(*name) && !kept.contains(name))
        .map(|(name, old)| Remove {
            name: name.clone(),
            source: old.source.clone(),
            kept_until: None,
        });
    plan.remove.extend(removed);
    plan
}

/// The rejected files, each with the applied jobs it defined that keep running (those no valid
/// file now defines).
fn rejected_files(desired: &Desired, applied: &Applied) -> Vec<Rejected> {
    (desired.rejected())
        .map(|file| Rejected {
            path: file.path.clone(),
            errors: (file.diagnostics.iter())
                .filter(|d| d.is_error())
                .cloned()
                .collect(),
            kept: (applied.jobs.iter())
                .filter(|(name, job)| job.source == file.path && !desired.jobs.contains_key(*name))
                .map(|(name, _)| name.clone())
                .collect(),
        })
        .collect()
}

/// A job whose definition changed: the fields, and when its timing changed, the next fire
/// before and after.
fn change(
    name: &str,
    old: &AppliedJob,
    job: &Job,
    options: &PlanOptions,
    next: Vec<PlannedFire>,
    relations: Relations,
) -> Change {
    let old_definition = old.definition.value();
    let fields = diff(&old_definition, &job.definition.value());
    let relations_before = relations::before(name, &old_definition, &relations);
    let timing_changed = fields.iter().any(|f| {
        [
            "spec.schedule",
            "spec.at",
            "spec.timeZone",
            "spec.jitter",
            "spec.suspend",
        ]
        .contains(&f.path.as_str())
            || f.path.starts_with("spec.activeWindow")
    });
    let (old_next, new_next) = if timing_changed {
        let old_next = old.timing().and_then(|(timeline, jitter, suspended)| {
            upcoming(&timeline, jitter, suspended, name, options, 1)
                .into_iter()
                .next()
        });
        let spec = &job.document.spec;
        let new_next = upcoming(&job.timeline, spec.jitter, spec.suspend, name, options, 1)
            .into_iter()
            .next();
        (old_next, new_next)
    } else {
        (None, None)
    };
    Change {
        name: name.to_string(),
        source: job.source.file.clone(),
        fields,
        timing_changed,
        old_next,
        new_next,
        next,
        relations,
        relations_before,
    }
}

/// The next `count` fires of a timeline after `options.now`, with the job's stable jitter.
pub fn upcoming(
    timeline: &Timeline,
    jitter: HumanDuration,
    suspended: bool,
    job_name: &str,
    options: &PlanOptions,
    count: usize,
) -> Vec<PlannedFire> {
    if suspended || count == 0 {
        return Vec::new();
    }
    let offset = timeline.jitter_offset(&options.host_identity, job_name, jitter.0);
    let offset_chrono = chrono::Duration::from_std(offset).unwrap_or_default();
    let tz = timeline.time_zone();
    // A jittered fire can land after `now` even when its slot is before it; start one slot early.
    let start = options.now - offset_chrono;
    timeline
        .fires_after(start)
        .map(|fire| {
            let at = fire.at + offset_chrono;
            PlannedFire {
                at,
                nominal: fire.at,
                local: at
                    .with_timezone(&tz)
                    .format("%Y-%m-%d %H:%M:%S %Z")
                    .to_string(),
                jitter_seconds: offset.as_secs(),
                dst: fire.dst,
            }
        })
        .filter(|f| f.at > options.now)
        .take(count)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{Context, load_dir};

    fn job(name: &str, schedule: &str) -> String {
        format!(
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: {name}}}\nspec:\n  schedule: \"{schedule}\"\n  collect: {{supportBundle: {{hostCollectors: [{{memory: {{}}}}]}}}}\n"
        )
    }

    #[test]
    fn applying_a_plan_in_place_gives_the_next_applied_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = Context {
            default_time_zone: "UTC".into(),
            ..Context::default()
        };
        let options = PlanOptions {
            strict: false,
            now: "2025-01-01T00:00:00Z".parse().expect("time"),
            host_identity: "h".into(),
            show_next: 1,
        };
        let write =
            |file: &str, text: &str| std::fs::write(dir.path().join(file), text).expect("write");
        write("a.yaml", &job("a", "0 1 * * *"));
        write("b.yaml", &job("b", "0 2 * * *"));
        write("c.yaml", &job("c", "0 3 * * *"));
        let mut applied = Applied::default();
        // Each step: an add, then a change + a removal + a move + a rejected file.
        let steps: [&dyn Fn(); 2] = [&|| {}, &|| {
            write("a.yaml", &job("a", "5 1 * * *"));
            std::fs::remove_file(dir.path().join("b.yaml")).expect("rm");
            std::fs::remove_file(dir.path().join("c.yaml")).expect("rm");
            write("moved.yaml", &job("c", "0 3 * * *"));
            write("d.yaml", "apiVersion: nope\n");
        }];
        for step in steps {
            step();
            let desired = load_dir(dir.path(), &ctx).expect("load");
            let plan = plan(&desired, &applied, &options);
            let expected = plan.next_applied(&desired, &applied);
            let changed = plan.apply_to(&desired, &mut applied);
            assert!(changed);
            assert_eq!(applied, expected);
            let again = super::plan(&desired, &applied, &options);
            assert!(
                !again.apply_to(&desired, &mut applied),
                "nothing left to apply"
            );
        }
        assert_eq!(
            applied.jobs["c"].source,
            dir.path().join("moved.yaml"),
            "a moved job is unchanged but its source follows"
        );
    }
}
