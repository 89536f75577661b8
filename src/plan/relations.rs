//! A planned job's relations besides its schedule: the jobs it runs after (`spec.after`), the
//! jobs that run after it, the alerts that start it (`spec.triggers`) and the ScheduleSet that
//! generated it. `plan` shows them for the jobs it adds or changes, so an operator sees what a
//! change does to a chain before it is applied.

use crate::jobs::Job;
use crate::jobs::model::{After, ChainOutcome};
use crate::jobs::set::SET_LABEL;
use crate::jobs::triggers::JobTrigger;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// What starts a job besides its schedule, and what it starts.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Relations {
    /// `spec.after`: the parent jobs, each with the outcomes that start this job.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<After>,
    /// The jobs whose `spec.after` names this one (`job`: the child), with their outcomes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub starts: Vec<After>,
    /// `spec.triggers`: the alerts that start it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<JobTrigger>,
    /// The ScheduleSet that generated it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set: Option<SetMember>,
}

impl Relations {
    /// Whether the job has none.
    pub fn is_empty(&self) -> bool {
        self.after.is_empty()
            && self.starts.is_empty()
            && self.triggers.is_empty()
            && self.set.is_none()
    }
}

/// A job's place in a ScheduleSet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetMember {
    /// The set's `metadata.name`.
    pub name: String,
    /// The matrix values of this job, joined by `-` as in its name (`prod-web` for
    /// `<set>-prod-web`); the whole name when it does not start with the set's.
    pub combination: String,
}

/// The relations a job's previous (applied) definition had, where they differ from the new
/// ones; `None` fields are unchanged. (Which jobs ran after it is not kept: that would read
/// every applied definition.)
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RelationsBefore {
    /// The old `spec.after`, when it changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Vec<After>>,
    /// The old `spec.triggers`, when they changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triggers: Option<Vec<JobTrigger>>,
    /// The old set membership, when it changed (`Some(None)`: it was in no set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set: Option<Option<SetMember>>,
}

impl RelationsBefore {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.after.is_none() && self.triggers.is_none() && self.set.is_none()
    }
}

/// For every parent job of `jobs`: the jobs that run after it, by child name.
pub fn children_index<'a>(jobs: impl Iterator<Item = &'a Job>) -> BTreeMap<String, Vec<After>> {
    let mut index: BTreeMap<String, Vec<After>> = BTreeMap::new();
    for job in jobs {
        for a in &job.document.spec.after {
            index.entry(a.job.clone()).or_default().push(After {
                job: job.name.clone(),
                on: a.on.clone(),
            });
        }
    }
    for children in index.values_mut() {
        children.sort_by(|a, b| a.job.cmp(&b.job));
    }
    index
}

/// The relations of a desired job; `children` from [`children_index`].
pub fn of_job(job: &Job, children: &BTreeMap<String, Vec<After>>) -> Relations {
    let spec = &job.document.spec;
    Relations {
        after: spec.after.clone(),
        starts: children.get(&job.name).cloned().unwrap_or_default(),
        triggers: spec.triggers.clone(),
        set: set_member(&job.name, job.document.metadata.labels.get(SET_LABEL)),
    }
}

/// What differs between `now` and the relations recorded in an applied definition (JSON, as
/// [`crate::jobs::Definition::value`] gives it). A field that no longer parses counts as empty.
pub fn before(name: &str, old_definition: &Value, now: &Relations) -> RelationsBefore {
    let spec = old_definition.get("spec");
    let list = |field: &str| spec.and_then(|s| s.get(field)).cloned();
    let after = after_of(old_definition);
    let triggers: Vec<JobTrigger> = list("triggers")
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let set_name = (old_definition.get("labels"))
        .and_then(|l| l.get(SET_LABEL))
        .and_then(Value::as_str)
        .map(str::to_string);
    let set = set_member(name, set_name.as_ref());
    RelationsBefore {
        after: (after != now.after).then_some(after),
        triggers: (triggers != now.triggers).then_some(triggers),
        set: (set != now.set).then_some(set),
    }
}

/// The `spec.after` of a definition (JSON); empty when it has none or it no longer parses.
pub fn after_of(definition: &Value) -> Vec<After> {
    (definition.get("spec"))
        .and_then(|s| s.get("after"))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

fn set_member(job_name: &str, set_name: Option<&String>) -> Option<SetMember> {
    let name = set_name?;
    let combination = (job_name.strip_prefix(name.as_str()))
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or(job_name);
    Some(SetMember {
        name: name.clone(),
        combination: combination.to_string(),
    })
}

/// The detail lines of `now` (with `before`'s changes as `old → new`), one per relation kind.
pub fn lines(now: &Relations, before: Option<&RelationsBefore>) -> Vec<String> {
    let mut out = Vec::new();
    let old_after = before.and_then(|b| b.after.as_ref());
    if !now.after.is_empty() || old_after.is_some() {
        out.push(format!(
            "after: {}",
            changed(old_after.map(|a| edges(a)), edges(&now.after))
        ));
    }
    if !now.starts.is_empty() {
        out.push(format!("starts: {}", edges(&now.starts)));
    }
    let old_triggers = before.and_then(|b| b.triggers.as_ref());
    if !now.triggers.is_empty() || old_triggers.is_some() {
        out.push(format!(
            "triggers: {}",
            changed(old_triggers.map(|t| triggers(t)), triggers(&now.triggers))
        ));
    }
    let old_set = before.and_then(|b| b.set.as_ref());
    if now.set.is_some() || old_set.is_some() {
        let show = |s: Option<&SetMember>| {
            s.map_or_else(
                || "(none)".to_string(),
                |s| format!("{} (matrix values {})", s.name, s.combination),
            )
        };
        out.push(format!(
            "set: {}",
            changed(old_set.map(|s| show(s.as_ref())), show(now.set.as_ref()))
        ));
    }
    out
}

fn changed(old: Option<String>, new: String) -> String {
    match old {
        Some(old) => format!("{old} → {new}"),
        None => new,
    }
}

/// `collect-db (on succeeded, failed), backup (on any)`, or `(none)`.
fn edges(list: &[After]) -> String {
    if list.is_empty() {
        return "(none)".into();
    }
    (list.iter())
        .map(|a| format!("{} (on {})", a.job, outcomes(&a.on)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `succeeded, analysisFailed`: the outcomes as the job file writes them.
pub fn outcomes(on: &[ChainOutcome]) -> String {
    on.iter()
        .map(|o| outcome(*o))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One outcome as the job file writes it.
pub fn outcome(o: ChainOutcome) -> &'static str {
    match o {
        ChainOutcome::Succeeded => "succeeded",
        ChainOutcome::Failed => "failed",
        ChainOutcome::AnalysisFailed => "analysisFailed",
        ChainOutcome::Any => "any",
    }
}

/// `alertmanager {alertname="DiskFull", namespace="prod"} (cooldown 30m)`, `; `-separated.
fn triggers(list: &[JobTrigger]) -> String {
    if list.is_empty() {
        return "(none)".into();
    }
    (list.iter())
        .map(|t| {
            let a = &t.alertmanager;
            format!(
                "alertmanager {{{}}} (cooldown {})",
                a.matchers.join(", "),
                a.cooldown
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn after(job: &str, on: &[ChainOutcome]) -> After {
        After {
            job: job.into(),
            on: on.to_vec(),
        }
    }

    #[test]
    fn lines_name_parents_children_triggers_and_set() {
        let trigger: JobTrigger = serde_json::from_value(json!({
            "alertmanager": {"matchers": ["alertname=\"DiskFull\"", "namespace=\"prod\""], "cooldown": "15m"}
        }))
        .expect("trigger");
        let r = Relations {
            after: vec![after(
                "collect-db",
                &[ChainOutcome::Failed, ChainOutcome::AnalysisFailed],
            )],
            starts: vec![after("notify", &[ChainOutcome::Any])],
            triggers: vec![trigger],
            set: set_member("ns-prod-web", Some(&"ns".to_string())),
        };
        assert_eq!(
            lines(&r, None),
            [
                "after: collect-db (on failed, analysisFailed)",
                "starts: notify (on any)",
                "triggers: alertmanager {alertname=\"DiskFull\", namespace=\"prod\"} (cooldown 15m)",
                "set: ns (matrix values prod-web)",
            ]
        );
        assert!(lines(&Relations::default(), None).is_empty());
    }

    #[test]
    fn before_reports_only_what_changed_and_lines_show_old_to_new() {
        let now = Relations {
            after: vec![after("a", &[ChainOutcome::Failed])],
            ..Relations::default()
        };
        let old = json!({
            "labels": {"troubleshoot.sh/schedule-set": "ns"},
            "spec": {"after": [{"job": "a", "on": ["succeeded"]}]}
        });
        let b = before("ns-prod", &old, &now);
        assert_eq!(b.after, Some(vec![after("a", &[ChainOutcome::Succeeded])]));
        assert_eq!(b.triggers, None, "no triggers before or now");
        assert_eq!(
            b.set,
            Some(Some(SetMember {
                name: "ns".into(),
                combination: "prod".into()
            }))
        );
        assert_eq!(
            lines(&now, Some(&b)),
            [
                "after: a (on succeeded) → a (on failed)",
                "set: ns (matrix values prod) → (none)",
            ]
        );
        let same = before(
            "x",
            &json!({"spec": {"after": [{"job": "a", "on": ["failed"]}]}}),
            &now,
        );
        assert!(same.is_empty(), "{same:?}");
        let dropped = before("x", &old, &Relations::default());
        assert_eq!(
            lines(&Relations::default(), Some(&dropped))[0],
            "after: a (on succeeded) → (none)"
        );
    }
}
