use super::*;
use crate::jobs::model::ChainOutcome::{self, *};
use crate::plan::graph::tests::job;
use crate::plan::graph::{GraphNode, build};

fn edge(parent: &str, child: &str, on: &[ChainOutcome]) -> GraphEdge {
    GraphEdge {
        parent: parent.into(),
        child: child.into(),
        on: on.to_vec(),
        was: None,
        change: EdgeChange::Unchanged,
    }
}

fn node(name: &str, change: NodeChange) -> GraphNode {
    GraphNode {
        name: name.into(),
        change,
    }
}

#[test]
fn a_chain_of_three_is_one_indented_branch() {
    let g = build(&[
        job("collect-db", NodeChange::Unchanged, &[]),
        job(
            "collect-db-logs",
            NodeChange::Added,
            &[("collect-db", Failed)],
        ),
        {
            // It now runs after a new job.
            let mut j = job("page", NodeChange::Changed, &[("collect-db-logs", Any)]);
            j.after_before.clear();
            j
        },
    ]);
    assert_eq!(
        render_tree(&g),
        "  collect-db\n\
         + └─ on failed → collect-db-logs\n\
         ~    └─ on any [new edge] → page\n"
    );
}

#[test]
fn a_diamond_shows_the_shared_job_under_each_parent_once_expanded() {
    let g = build(&[
        job("root", NodeChange::Unchanged, &[]),
        job("left", NodeChange::Unchanged, &[("root", Succeeded)]),
        job("right", NodeChange::Unchanged, &[("root", Failed)]),
        {
            let mut j = job("join", NodeChange::Unchanged, &[("left", Any)]);
            j.after.push(crate::jobs::model::After {
                job: "right".into(),
                on: vec![AnalysisFailed, Failed],
            });
            j.after_before = j.after.clone();
            j
        },
        job("tail", NodeChange::Removed, &[("join", Succeeded)]),
    ]);
    assert_eq!(
        render_tree(&g),
        "  root\n\
         \x20 ├─ on succeeded → left\n\
         \x20 │  └─ on any → join\n\
         - │     └─ on succeeded → tail\n\
         \x20 └─ on failed → right\n\
         \x20    └─ on analysisFailed, failed → join (same job as above)\n"
    );
}

#[test]
fn a_forest_lists_each_chain_then_the_jobs_in_no_chain() {
    let g = build(&[
        job("b-root", NodeChange::Unchanged, &[]),
        job("b-child", NodeChange::Unchanged, &[("b-root", Succeeded)]),
        job("a-root", NodeChange::Added, &[]),
        job("a-child", NodeChange::Added, &[("a-root", Any)]),
        job("lonely-new", NodeChange::Added, &[]),
        job("lonely-old", NodeChange::Removed, &[]),
        job("quiet-1", NodeChange::Unchanged, &[]),
        job("quiet-2", NodeChange::Unchanged, &[]),
    ]);
    assert_eq!(
        render_tree(&g),
        "+ a-root\n\
         + └─ on any → a-child\n\
         \x20 b-root\n\
         \x20 └─ on succeeded → b-child\n\
         \n\
         Not in a chain:\n\
         + lonely-new\n\
         - lonely-old\n\
         \x20 2 unchanged jobs\n"
    );
    let none = build(&[job("solo", NodeChange::Unchanged, &[])]);
    assert_eq!(
        render_tree(&none),
        "No job chains: no job has `spec.after`.\n\nNot in a chain:\n  1 unchanged job\n"
    );
}

#[test]
fn a_hand_made_cycle_ends() {
    // validate rejects cycles; the renderer must still end if given one.
    let g = Graph {
        nodes: vec![
            node("a", NodeChange::Unchanged),
            node("b", NodeChange::Unchanged),
            node("c", NodeChange::Unchanged),
            node("d", NodeChange::Unchanged),
        ],
        edges: vec![
            edge("a", "b", &[Succeeded]),
            edge("b", "c", &[Succeeded]),
            edge("c", "a", &[Failed]),
            edge("c", "d", &[Any]),
            edge("d", "d", &[Any]),
        ],
    };
    assert_eq!(
        render_tree(&g),
        "  a\n\
         \x20 └─ on succeeded → b\n\
         \x20    └─ on succeeded → c\n\
         \x20       ├─ on failed → a (cycle: already above on this path)\n\
         \x20       └─ on any → d\n\
         \x20          └─ on any → d (cycle: already above on this path)\n"
    );
    // And DOT draws it as it is.
    assert!(render_dot(&g).contains("  \"c\" -> \"a\" [label=\"failed\"];\n"));
}

#[test]
fn edge_changes_are_labelled_when_the_child_stays() {
    let mut moved = job("child", NodeChange::Changed, &[("p", Failed)]);
    moved.after_before = vec![crate::jobs::model::After {
        job: "p".into(),
        on: vec![Succeeded],
    }];
    let mut dropped = job("free", NodeChange::Changed, &[]);
    dropped.after_before = vec![crate::jobs::model::After {
        job: "p".into(),
        on: vec![Any],
    }];
    let g = build(&[moved, dropped, job("p", NodeChange::Unchanged, &[])]);
    assert_eq!(
        render_tree(&g),
        "  p\n\
         ~ ├─ on failed (was succeeded) → child\n\
         ~ └─ on any [edge removed] → free\n"
    );
}

#[test]
fn dot_quotes_ids_labels_outcomes_and_dashes_what_goes() {
    let g = Graph {
        nodes: vec![
            node("new", NodeChange::Added),
            node("we\"ird\\name", NodeChange::Removed),
            node("line\nbreak", NodeChange::Unchanged),
        ],
        edges: vec![
            GraphEdge {
                was: Some(vec![Succeeded]),
                change: EdgeChange::Changed,
                ..edge("new", "line\nbreak", &[Failed, AnalysisFailed])
            },
            GraphEdge {
                change: EdgeChange::Removed,
                ..edge("we\"ird\\name", "new", &[Any])
            },
        ],
    };
    assert_eq!(
        render_dot(&g),
        "digraph \"job chains\" {\n\
         \x20 node [shape=box];\n\
         \x20 \"new\" [label=\"+ new\", style=bold];\n\
         \x20 \"we\\\"ird\\\\name\" [label=\"- we\\\"ird\\\\name\", style=dashed];\n\
         \x20 \"line\\nbreak\" [label=\"line\\nbreak\"];\n\
         \x20 \"new\" -> \"line\\nbreak\" [label=\"failed, analysisFailed (was succeeded)\"];\n\
         \x20 \"we\\\"ird\\\\name\" -> \"new\" [label=\"any\", style=dashed];\n\
         }\n"
    );
}
