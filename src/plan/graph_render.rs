//! [`Graph`] for people (a forest of chains) and for Graphviz (DOT).

use super::graph::{EdgeChange, Graph, GraphEdge, NodeChange};
use super::relations::outcomes;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// The graph as a forest: each job with no parent is a root, each child is indented under
/// every parent with the outcomes on the edge. A job reached a second time (a diamond) is
/// marked as the same job and not expanded again, so a cycle (which `validate` rejects) ends
/// too. Every line starts with the plan's marker of its job. Jobs in no chain come last: the
/// ones the plan adds, changes or removes by name, the unchanged ones as a count.
pub fn render_tree(graph: &Graph) -> String {
    let change: BTreeMap<&str, NodeChange> = (graph.nodes.iter())
        .map(|n| (n.name.as_str(), n.change))
        .collect();
    let mut children: BTreeMap<&str, Vec<&GraphEdge>> = BTreeMap::new();
    for e in &graph.edges {
        children.entry(e.parent.as_str()).or_default().push(e);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| a.child.cmp(&b.child));
    }
    let has_parent: BTreeSet<&str> = graph.edges.iter().map(|e| e.child.as_str()).collect();
    let chained: BTreeSet<&str> = (graph.edges.iter())
        .flat_map(|e| [e.parent.as_str(), e.child.as_str()])
        .collect();
    let tree = Tree {
        change: &change,
        children: &children,
    };
    let mut out = String::new();
    let mut expanded: BTreeSet<&str> = BTreeSet::new();
    let roots = chained.iter().filter(|n| !has_parent.contains(*n));
    for root in roots {
        tree.write_root(&mut out, root, &mut expanded);
    }
    // Jobs on a cycle have no root: start from the first one not drawn yet.
    while let Some(start) = chained.iter().find(|n| !expanded.contains(*n)) {
        tree.write_root(&mut out, start, &mut expanded);
    }
    if chained.is_empty() {
        out.push_str("No job chains: no job has `spec.after`.\n");
    }
    write_unchained(&mut out, graph, &chained);
    out
}

/// The lookups the tree is drawn from.
struct Tree<'a> {
    change: &'a BTreeMap<&'a str, NodeChange>,
    children: &'a BTreeMap<&'a str, Vec<&'a GraphEdge>>,
}

/// A job being drawn: its children, the next one to draw, and the indentation under it.
struct Frame<'a> {
    node: &'a str,
    kids: &'a [&'a GraphEdge],
    next: usize,
    indent: String,
}

impl<'a> Tree<'a> {
    fn marker(&self, name: &str) -> char {
        self.change.get(name).map_or(' ', |c| c.marker())
    }

    /// Draws `root` and what runs after it, depth first (with a stack of its own: a chain
    /// thousands of jobs long must not exhaust the thread's stack).
    fn write_root(&self, out: &mut String, root: &'a str, expanded: &mut BTreeSet<&'a str>) {
        let _ = writeln!(out, "{} {root}", self.marker(root));
        expanded.insert(root);
        let mut stack = vec![self.frame(root, String::new())];
        while let Some(top) = stack.last_mut() {
            let Some(edge) = top.kids.get(top.next).copied() else {
                stack.pop();
                continue;
            };
            top.next += 1;
            let last = top.next == top.kids.len();
            let indent = top.indent.clone();
            let child = edge.child.as_str();
            let note = if stack.iter().any(|f| f.node == child) {
                " (cycle: already above on this path)"
            } else if expanded.contains(child) {
                " (same job as above)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "{} {indent}{}{} → {child}{note}",
                self.marker(child),
                if last { "└─ " } else { "├─ " },
                self.edge_label(edge),
            );
            if note.is_empty() {
                expanded.insert(child);
                let indent = format!("{indent}{}", if last { "   " } else { "│  " });
                stack.push(self.frame(child, indent));
            }
        }
    }

    fn frame(&self, node: &'a str, indent: String) -> Frame<'a> {
        Frame {
            node,
            kids: self.children.get(node).map_or(&[][..], Vec::as_slice),
            next: 0,
            indent,
        }
    }

    /// `on failed`, with what the plan does to the edge when the child stays (an edge of a job
    /// that is added or removed comes and goes with it).
    fn edge_label(&self, edge: &GraphEdge) -> String {
        let mut label = format!("on {}", outcomes(&edge.on));
        let child_stays = (self.change.get(edge.child.as_str())).is_some_and(|c| c.stays());
        match (edge.change, &edge.was) {
            (EdgeChange::Changed, Some(was)) => {
                let _ = write!(label, " (was {})", outcomes(was));
            }
            (EdgeChange::Added, _) if child_stays => label.push_str(" [new edge]"),
            (EdgeChange::Removed, _) if child_stays => label.push_str(" [edge removed]"),
            _ => {}
        }
        label
    }
}

/// The jobs in no chain: by name when the plan does something to them, else counted.
fn write_unchained(out: &mut String, graph: &Graph, chained: &BTreeSet<&str>) {
    let alone: Vec<_> = (graph.nodes.iter())
        .filter(|n| !chained.contains(n.name.as_str()))
        .collect();
    if alone.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nNot in a chain:");
    let unchanged = (alone.iter())
        .filter(|n| n.change == NodeChange::Unchanged)
        .count();
    for n in alone.iter().filter(|n| n.change != NodeChange::Unchanged) {
        let _ = writeln!(out, "{} {}", n.change.marker(), n.name);
    }
    if unchanged > 0 {
        let _ = writeln!(
            out,
            "  {unchanged} unchanged job{}",
            if unchanged == 1 { "" } else { "s" }
        );
    }
}

/// The graph as a Graphviz digraph: every job a box labelled with its plan marker (added
/// bold, removed dashed, kept or absent dotted), every edge labelled with its outcomes
/// (removed dashed). Ids and labels are always quoted and escaped.
pub fn render_dot(graph: &Graph) -> String {
    let mut out = String::from("digraph \"job chains\" {\n  node [shape=box];\n");
    for n in &graph.nodes {
        let style = match n.change {
            NodeChange::Added => ", style=bold",
            NodeChange::Removed => ", style=dashed",
            NodeChange::Kept | NodeChange::Absent => ", style=dotted",
            NodeChange::Changed | NodeChange::Unchanged => "",
        };
        let label = format!("{} {}", n.change.marker(), n.name);
        let _ = writeln!(
            out,
            "  {} [label={}{style}];",
            quote(&n.name),
            quote(label.trim_start())
        );
    }
    for e in &graph.edges {
        let mut label = outcomes(&e.on);
        if let Some(was) = &e.was {
            let _ = write!(label, " (was {})", outcomes(was));
        }
        let style = match e.change {
            EdgeChange::Removed => ", style=dashed",
            EdgeChange::Added => ", style=bold",
            EdgeChange::Changed | EdgeChange::Unchanged => "",
        };
        let _ = writeln!(
            out,
            "  {} -> {} [label={}{style}];",
            quote(&e.parent),
            quote(&e.child),
            quote(&label)
        );
    }
    out.push_str("}\n");
    out
}

/// A DOT quoted string: `"` and `\` escaped, line breaks as `\n`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
#[path = "graph_render_tests.rs"]
mod tests;
