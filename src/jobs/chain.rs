//! `spec.after` across files: every named parent must be a job of the desired set, and the
//! `after` edges must not form a cycle (a cycle would start runs forever). Both need every file,
//! so they run when files are put together, as the name-clash check does.

use super::load::FileReport;
use crate::diagnostic::Diagnostic;
use std::collections::{BTreeMap, BTreeSet};

/// Checks the `after` entries of the jobs of `files` (already free of name clashes); a file
/// with a bad entry gets a located error and is rejected.
pub(super) fn check(files: &mut [FileReport]) {
    let defined: BTreeSet<String> = (files.iter())
        .flat_map(|f| f.job_names.iter().cloned())
        .collect();
    // (file, job name, entry index, message, hint)
    let mut problems: Vec<(usize, String, usize, String, &str)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        for job in &f.jobs {
            for (k, entry) in job.document.spec.after.iter().enumerate() {
                // A job defined in a rejected or unselected file is known: its own file reports
                // its errors, and a parent that never runs here starts nothing.
                if !defined.contains(&entry.job) {
                    problems.push((
                        i,
                        job.name.clone(),
                        k,
                        format!("`after` names job `{}`, which is not defined", entry.job),
                        "name a job of the jobs directory (metadata.name), or remove the entry",
                    ));
                }
            }
        }
    }
    let graph: BTreeMap<&str, (usize, Vec<&str>)> = (files.iter().enumerate())
        .flat_map(|(i, f)| f.jobs.iter().map(move |j| (i, j)))
        .map(|(i, j)| {
            let parents = j.document.spec.after.iter().map(|a| a.job.as_str());
            (j.name.as_str(), (i, parents.collect()))
        })
        .collect();
    for cycle in cycles(&graph) {
        let text = cycle
            .iter()
            .chain(cycle.first())
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(" runs after ");
        for (pos, name) in cycle.iter().enumerate() {
            let next = cycle[(pos + 1) % cycle.len()];
            let (file, parents) = &graph[name];
            let k = parents.iter().position(|p| *p == next).unwrap_or(0);
            problems.push((
                *file,
                name.to_string(),
                k,
                format!("`after` forms a cycle: {text}"),
                "a chain must end: remove one `after` entry of the cycle",
            ));
        }
    }
    for (i, job_name, k, message, hint) in problems {
        let f = &mut files[i];
        let loc = (f.jobs.iter())
            .find(|j| j.name == job_name)
            .and_then(|j| j.after_locs.get(k).copied())
            .unwrap_or_default();
        let path = f.path.clone();
        f.diagnostics.push(
            Diagnostic::error(&path, loc, message)
                .with_path(format!("spec.after[{k}]"))
                .with_hint(hint),
        );
    }
    for f in files.iter_mut().filter(|f| f.is_rejected()) {
        f.jobs.clear();
    }
}

/// Every cycle of `graph` (job -> its parents), each once, starting at its smallest name.
fn cycles<'a>(graph: &BTreeMap<&'a str, (usize, Vec<&'a str>)>) -> Vec<Vec<&'a str>> {
    let mut found: BTreeSet<Vec<&'a str>> = BTreeSet::new();
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in graph.keys() {
        let mut stack: Vec<&'a str> = Vec::new();
        walk(graph, start, &mut stack, &mut done, &mut found);
    }
    found.into_iter().collect()
}

/// Depth-first walk from `node`; `stack` is the current path, `done` the nodes fully explored.
fn walk<'a>(
    graph: &BTreeMap<&'a str, (usize, Vec<&'a str>)>,
    node: &'a str,
    stack: &mut Vec<&'a str>,
    done: &mut BTreeSet<&'a str>,
    found: &mut BTreeSet<Vec<&'a str>>,
) {
    if let Some(pos) = stack.iter().position(|n| *n == node) {
        let mut cycle = stack[pos..].to_vec();
        let min = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
        cycle.rotate_left(min);
        found.insert(cycle);
        return;
    }
    if done.contains(node) {
        return;
    }
    let Some((_, parents)) = graph.get(node) else {
        return;
    };
    stack.push(node);
    for parent in parents {
        walk(graph, parent, stack, done, found);
    }
    stack.pop();
    done.insert(node);
}
