//! The job set as chains (`plan --graph`): one node per job with what the plan does to it, one
//! edge per `spec.after` entry (parent → child, the outcomes on the edge) with what the plan does
//! to the edge. Built by a pure function over the planned jobs; `graph_render` prints it.

use super::{Applied, Plan, relations};
use crate::jobs::Desired;
use crate::jobs::model::{After, ChainOutcome};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What the plan does to a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NodeChange {
    /// A new job.
    Added,
    /// Its definition changes.
    Changed,
    /// It stops.
    Removed,
    /// It stays as it is.
    Unchanged,
    /// Its file is rejected: it keeps running at its last good version.
    Kept,
    /// Named by an `after` but in no valid file of this plan (a rejected file, or a job the
    /// agent's mode does not run): it starts nothing here.
    Absent,
}

impl NodeChange {
    /// The marker `plan` prints for it (`+`, `~`, `-`, ` `, `!`, `?`).
    pub fn marker(self) -> char {
        match self {
            NodeChange::Added => '+',
            NodeChange::Changed => '~',
            NodeChange::Removed => '-',
            NodeChange::Unchanged => ' ',
            NodeChange::Kept => '!',
            NodeChange::Absent => '?',
        }
    }

    /// Whether the job runs both before and after the plan (so a new or dropped edge of it is
    /// news of its own).
    pub fn stays(self) -> bool {
        !matches!(self, NodeChange::Added | NodeChange::Removed)
    }
}

/// What the plan does to an `after` edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EdgeChange {
    /// The child now runs after the parent.
    Added,
    /// The outcomes change (`was` has the old ones).
    Changed,
    /// The child no longer runs after the parent (`on` has the old outcomes).
    Removed,
    /// As before.
    Unchanged,
}

/// One job in the graph.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphNode {
    /// Job name.
    pub name: String,
    /// What the plan does to it.
    pub change: NodeChange,
}

/// `child` runs after `parent` when the parent's run ends with an outcome in `on`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphEdge {
    /// The job named in `after`.
    pub parent: String,
    /// The job whose `after` names the parent.
    pub child: String,
    /// The outcomes (the old ones for a removed edge).
    pub on: Vec<ChainOutcome>,
    /// The old outcomes of a changed edge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub was: Option<Vec<ChainOutcome>>,
    /// What the plan does to the edge.
    pub change: EdgeChange,
}

/// Jobs and `after` edges, each sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Graph {
    /// Every job, by name.
    pub nodes: Vec<GraphNode>,
    /// Every edge, by parent then child.
    pub edges: Vec<GraphEdge>,
}

/// One job of the plan with its `after` entries now and before.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedJob {
    /// Job name.
    pub name: String,
    /// What the plan does to it.
    pub change: NodeChange,
    /// Its `spec.after` once the plan is applied (empty for a removed job).
    pub after: Vec<After>,
    /// Its `spec.after` as applied now (empty for an added job).
    pub after_before: Vec<After>,
}

/// The graph of `jobs`. Pure; a cycle or a parent that is not among `jobs` is drawn as it is
/// (the parent as [`NodeChange::Absent`]).
pub fn build(jobs: &[PlannedJob]) -> Graph {
    let mut nodes: BTreeMap<&str, NodeChange> =
        jobs.iter().map(|j| (j.name.as_str(), j.change)).collect();
    // (parent, child) -> (outcomes now, outcomes before)
    type Ends = (Option<Vec<ChainOutcome>>, Option<Vec<ChainOutcome>>);
    let mut edges: BTreeMap<(&str, &str), Ends> = BTreeMap::new();
    for job in jobs {
        for a in &job.after {
            let e = edges
                .entry((a.job.as_str(), job.name.as_str()))
                .or_default();
            merge(&mut e.0, &a.on);
        }
        for a in &job.after_before {
            let e = edges
                .entry((a.job.as_str(), job.name.as_str()))
                .or_default();
            merge(&mut e.1, &a.on);
        }
    }
    for (parent, _) in edges.keys() {
        nodes.entry(*parent).or_insert(NodeChange::Absent);
    }
    let edges = (edges.into_iter())
        .filter_map(|((parent, child), (now, before))| {
            let (on, was, change) = match (now, before) {
                (Some(now), Some(before)) if now == before => (now, None, EdgeChange::Unchanged),
                (Some(now), Some(before)) => (now, Some(before), EdgeChange::Changed),
                (Some(now), None) => (now, None, EdgeChange::Added),
                (None, Some(before)) => (before, None, EdgeChange::Removed),
                (None, None) => return None,
            };
            Some(GraphEdge {
                parent: parent.to_string(),
                child: child.to_string(),
                on,
                was,
                change,
            })
        })
        .collect();
    Graph {
        nodes: (nodes.into_iter())
            .map(|(name, change)| GraphNode {
                name: name.to_string(),
                change,
            })
            .collect(),
        edges,
    }
}

/// Adds `on` to the outcomes of one edge (a job may name a parent twice), each outcome once.
fn merge(slot: &mut Option<Vec<ChainOutcome>>, on: &[ChainOutcome]) {
    let list = slot.get_or_insert_with(Vec::new);
    for o in on {
        if !list.contains(o) {
            list.push(*o);
        }
    }
}

/// The jobs of `plan` (made from `desired` against `applied`) with their `after` entries now
/// and before. Only the definitions of changed, removed and kept jobs are read back from
/// `applied` (an unchanged job's definition is the desired one). A `--strict` plan that is
/// blocked applies nothing: the graph is then the applied one, unchanged.
pub fn planned_jobs(desired: &Desired, applied: &Applied, plan: &Plan) -> Vec<PlannedJob> {
    let applied_after = |name: &str| -> Vec<After> {
        (applied.jobs.get(name))
            .map(|job| relations::after_of(&job.definition.value()))
            .unwrap_or_default()
    };
    let stays = |name: &str, change: NodeChange| {
        let after = applied_after(name);
        PlannedJob {
            name: name.to_string(),
            change,
            after_before: after.clone(),
            after,
        }
    };
    if plan.blocked {
        return (applied.jobs.keys())
            .map(|name| stays(name, NodeChange::Unchanged))
            .collect();
    }
    let added: BTreeSet<&str> = plan.add.iter().map(|a| a.name.as_str()).collect();
    let changed: BTreeSet<&str> = plan.change.iter().map(|c| c.name.as_str()).collect();
    let mut jobs: Vec<PlannedJob> = (desired.jobs.values())
        .map(|job| {
            let name = job.name.as_str();
            let after = job.document.spec.after.clone();
            let (change, after_before) = if added.contains(name) {
                (NodeChange::Added, Vec::new())
            } else if changed.contains(name) {
                (NodeChange::Changed, applied_after(name))
            } else {
                (NodeChange::Unchanged, after.clone())
            };
            PlannedJob {
                name: name.to_string(),
                change,
                after,
                after_before,
            }
        })
        .collect();
    jobs.extend(plan.remove.iter().map(|r| PlannedJob {
        name: r.name.clone(),
        change: NodeChange::Removed,
        after: Vec::new(),
        after_before: applied_after(&r.name),
    }));
    let kept = plan.rejected.iter().flat_map(|r| r.kept.iter());
    jobs.extend(kept.map(|name| stays(name, NodeChange::Kept)));
    jobs
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A job whose `after` is `after` now and before (none before when added, none now when
    /// removed).
    pub(in crate::plan) fn job(
        name: &str,
        change: NodeChange,
        after: &[(&str, ChainOutcome)],
    ) -> PlannedJob {
        let list: Vec<After> = (after.iter())
            .map(|(job, on)| After {
                job: job.to_string(),
                on: vec![*on],
            })
            .collect();
        PlannedJob {
            name: name.into(),
            change,
            after_before: if change == NodeChange::Added {
                Vec::new()
            } else {
                list.clone()
            },
            after: if change == NodeChange::Removed {
                Vec::new()
            } else {
                list
            },
        }
    }

    #[test]
    fn edges_carry_what_the_plan_does_to_them() {
        use ChainOutcome::*;
        let mut moved = job("child", NodeChange::Changed, &[("new-parent", Failed)]);
        moved.after_before = vec![
            After {
                job: "old-parent".into(),
                on: vec![Succeeded],
            },
            After {
                job: "same".into(),
                on: vec![Succeeded],
            },
        ];
        moved.after.push(After {
            job: "same".into(),
            on: vec![Any],
        });
        let g = build(&[
            moved,
            job("new-parent", NodeChange::Added, &[]),
            job("old-parent", NodeChange::Unchanged, &[]),
            job("gone", NodeChange::Removed, &[("old-parent", Any)]),
        ]);
        let summary: Vec<(&str, &str, EdgeChange, &[ChainOutcome])> = (g.edges.iter())
            .map(|e| {
                (
                    e.parent.as_str(),
                    e.child.as_str(),
                    e.change,
                    e.on.as_slice(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("new-parent", "child", EdgeChange::Added, &[Failed][..]),
                ("old-parent", "child", EdgeChange::Removed, &[Succeeded][..]),
                ("old-parent", "gone", EdgeChange::Removed, &[Any][..]),
                ("same", "child", EdgeChange::Changed, &[Any][..]),
            ]
        );
        assert_eq!(g.edges[3].was, Some(vec![Succeeded]));
        let same = g.nodes.iter().find(|n| n.name == "same").expect("node");
        assert_eq!(
            same.change,
            NodeChange::Absent,
            "a parent no job defines is still drawn"
        );
    }

    /// Applied jobs `a`, `b` after `a`, `c` after `b` (on failed).
    fn applied_chain() -> Applied {
        let job = |after: serde_json::Value| super::super::AppliedJob {
            source: "jobs/x.yaml".into(),
            spec_hash: "h".into(),
            definition: std::sync::Arc::new(crate::jobs::Definition::from_value(
                &serde_json::json!({"spec": {"schedule": "@daily", "after": after}}),
            )),
        };
        let mut applied = Applied::default();
        applied.jobs.insert("a".into(), job(serde_json::json!([])));
        let on_b = serde_json::json!([{"job": "a", "on": ["succeeded"]}]);
        applied.jobs.insert("b".into(), job(on_b));
        let on_c = serde_json::json!([{"job": "b", "on": ["failed"]}]);
        applied.jobs.insert("c".into(), job(on_c));
        applied
    }

    #[test]
    fn removed_and_kept_jobs_keep_their_applied_edges() {
        let applied = applied_chain();
        let remove = |name: &str| super::super::Remove {
            name: name.into(),
            source: "jobs/x.yaml".into(),
            kept_until: None,
        };
        let plan = Plan {
            remove: vec![remove("a"), remove("b")],
            rejected: vec![super::super::Rejected {
                path: "jobs/x.yaml".into(),
                errors: Vec::new(),
                kept: vec!["c".into()],
            }],
            ..Plan::default()
        };
        let g = build(&planned_jobs(&Desired::default(), &applied, &plan));
        let changes: Vec<(&str, NodeChange)> = g
            .nodes
            .iter()
            .map(|n| (n.name.as_str(), n.change))
            .collect();
        assert_eq!(
            changes,
            [
                ("a", NodeChange::Removed),
                ("b", NodeChange::Removed),
                ("c", NodeChange::Kept)
            ]
        );
        let edges: Vec<(&str, EdgeChange)> = g
            .edges
            .iter()
            .map(|e| (e.child.as_str(), e.change))
            .collect();
        assert_eq!(
            edges,
            [("b", EdgeChange::Removed), ("c", EdgeChange::Unchanged)]
        );
        assert_eq!(g.edges[1].on, [ChainOutcome::Failed]);
    }

    #[test]
    fn a_blocked_plan_draws_the_applied_chains_unchanged() {
        let applied = applied_chain();
        let plan = Plan {
            blocked: true,
            ..Plan::default()
        };
        let g = build(&planned_jobs(&Desired::default(), &applied, &plan));
        assert!(
            (g.nodes.iter()).all(|n| n.change == NodeChange::Unchanged),
            "{g:?}"
        );
        assert_eq!(g.edges.len(), 2);
        assert!(g.edges.iter().all(|e| e.change == EdgeChange::Unchanged));
    }

    #[test]
    fn a_parent_named_twice_is_one_edge_with_both_outcomes() {
        let mut j = job("c", NodeChange::Unchanged, &[("p", ChainOutcome::Failed)]);
        j.after.push(After {
            job: "p".into(),
            on: vec![ChainOutcome::Failed, ChainOutcome::AnalysisFailed],
        });
        j.after_before = j.after.clone();
        let g = build(&[j, job("p", NodeChange::Unchanged, &[])]);
        assert_eq!(g.edges.len(), 1);
        assert_eq!(
            g.edges[0].on,
            [ChainOutcome::Failed, ChainOutcome::AnalysisFailed]
        );
        assert_eq!(g.edges[0].change, EdgeChange::Unchanged);
    }
}
