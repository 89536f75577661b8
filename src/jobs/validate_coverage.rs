//! What `validate` reports each job will run: every collector and analyzer of its specs, with
//! whether it runs and, when not, why. The types this build runs are read from the collect and
//! analyze modules' own lists, so this report and the engine cannot disagree.

use super::Job;
use super::model::Engine;
use crate::collect::capabilities::builtin_supports;
use crate::spec::{Entry, Section};
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

/// Whether one entry runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum State {
    /// It runs.
    Runs,
    /// It does not run; the run record lists it as skipped.
    Skipped,
    /// It is attempted and fails (recorded as failed), e.g. cluster collectors with no cluster.
    Fails,
    /// troubleshoot would not run it (an empty item, an unknown type...), so it is dropped when
    /// the spec loads and appears in no run record.
    Ignored,
}

/// Why an entry does not run (or fails).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Reason {
    /// `exclude: true` in the spec.
    Excluded,
    /// The builtin engine of this build has no such collector or analyzer.
    NotInThisBuild,
    /// An in-cluster collector, and neither the job nor the agent has a Kubernetes configuration.
    NoCluster,
    /// Dropped as troubleshoot drops it; `why` says how.
    IgnoredLikeTroubleshoot,
}

impl Reason {
    /// The sentence shown in the table.
    pub fn text(self) -> &'static str {
        match self {
            Reason::Excluded => "excluded by the spec (`exclude: true`)",
            Reason::NotInThisBuild => {
                "not available in this build (`collect.engine: support-bundle` runs it)"
            }
            Reason::NoCluster => {
                "needs a cluster: no Kubernetes configuration for this job or agent"
            }
            Reason::IgnoredLikeTroubleshoot => "ignored, as troubleshoot ignores it",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// One collector or analyzer of a job.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// `collectors`, `hostCollectors`, `analyzers` or `hostAnalyzers`.
    pub section: Section,
    /// Its type, e.g. `logs`.
    pub kind: String,
    /// `collectorName` / `checkName`, when set.
    pub name: Option<String>,
    /// The spec file it comes from (the job file for an inline spec).
    pub file: PathBuf,
    /// Line and column of its type key.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// Whether it runs.
    pub state: State,
    /// Why not, when it does not.
    pub reason: Option<Reason>,
    /// The reason as a sentence (for readers of the JSON).
    pub why: Option<&'static str>,
    /// Added by `collect.autoDiscovery`, not written in a spec.
    pub automatic: bool,
}

/// A job's rows, in spec order by section.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    /// The engine that runs the job (`builtin` or `supportBundle`).
    pub engine: Engine,
    /// Every collector and analyzer.
    pub rows: Vec<Row>,
}

impl Coverage {
    /// How many rows are in `state`.
    pub fn count(&self, state: State) -> usize {
        self.rows.iter().filter(|r| r.state == state).count()
    }
}

/// Whether a cluster collector of `job` has a Kubernetes configuration to use: the job's,
/// the agent's (`agent_kubeconfig`), `KUBECONFIG`, `~/.kube/config` or a service account.
pub fn has_cluster(job: &Job, agent_kubeconfig: Option<&Path>) -> bool {
    job.document.spec.collect.kubeconfig.is_some()
        || agent_kubeconfig.is_some()
        || crate::collect::cluster::access::discover_here(None).is_some()
}

/// What `job` will run, given whether a cluster is reachable by configuration (`cluster`).
pub fn coverage(job: &Job, cluster: bool) -> Coverage {
    let collect = &job.document.spec.collect;
    let engine = collect.engine;
    let mut rows: Vec<Row> = Section::ALL
        .into_iter()
        .flat_map(|section| {
            job.collection
                .section(section)
                .iter()
                .map(move |e| row(section, e, engine, cluster))
        })
        .collect();
    if collect.auto_discovery && engine == Engine::Builtin {
        // What the builtin engine adds (clusterInfo, clusterResources, logs), first.
        let added = crate::collect::cluster::plan_entries(&job.collection.collectors, true)
            .into_iter()
            .filter(|p| p.entry.loc.line == 0)
            .map(|p| Row {
                automatic: true,
                ..row(Section::Collectors, &p.entry, engine, cluster)
            });
        rows.splice(0..0, added);
    }
    rows.extend(job.collection.dropped.iter().map(dropped));
    Coverage { engine, rows }
}

fn row(section: Section, entry: &Entry, engine: Engine, cluster: bool) -> Row {
    let reason = if entry.exclude {
        Some(Reason::Excluded)
    } else if engine == Engine::SupportBundle {
        // The troubleshoot CLI runs every type itself.
        None
    } else if !builtin_supports(section, &entry.kind) {
        Some(Reason::NotInThisBuild)
    } else if section == Section::Collectors && !cluster && needs_cluster(&entry.kind) {
        Some(Reason::NoCluster)
    } else {
        None
    };
    let state = match reason {
        None => State::Runs,
        Some(Reason::NoCluster) => State::Fails,
        Some(_) => State::Skipped,
    };
    Row {
        section,
        kind: entry.kind.clone(),
        name: entry.collector_name.clone(),
        file: entry.file.clone(),
        line: entry.loc.line,
        column: entry.loc.column,
        state,
        reason,
        why: reason.map(Reason::text),
        automatic: false,
    }
}

fn dropped(d: &crate::spec::Dropped) -> Row {
    Row {
        section: d.section,
        kind: d.kind.clone().unwrap_or_else(|| "-".into()),
        name: None,
        file: d.file.clone(),
        line: d.loc.line,
        column: d.loc.column,
        state: State::Ignored,
        reason: Some(Reason::IgnoredLikeTroubleshoot),
        why: Some(d.why.text()),
        automatic: false,
    }
}

/// In-cluster collectors that talk to the Kubernetes API (`data` writes a file, `http` calls
/// a URL from this host).
fn needs_cluster(kind: &str) -> bool {
    !matches!(kind, "data" | "http")
}

/// The rows as an aligned text table, one line per entry.
pub fn render_text(coverage: &Coverage) -> String {
    let header = ["LIST", "TYPE", "NAME", "STATE", "AT", "WHY"];
    let cells: Vec<[String; 6]> = coverage
        .rows
        .iter()
        .map(|r| {
            [
                r.section.to_string(),
                r.kind.clone(),
                r.name.clone().unwrap_or_else(|| "-".into()),
                match r.state {
                    State::Runs => "runs",
                    State::Skipped => "skipped",
                    State::Fails => "fails",
                    State::Ignored => "ignored",
                }
                .to_string(),
                if r.automatic {
                    "(autoDiscovery)".to_string()
                } else {
                    format!("{}:{}:{}", r.file.display(), r.line, r.column)
                },
                r.why.unwrap_or("").to_string(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |row: &[String]| {
        let mut out = String::new();
        for (i, (c, w)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:w$}  "));
            }
        }
        out.trim_end().to_string()
    };
    let mut out = line(&header.map(String::from));
    for row in &cells {
        out.push('\n');
        out.push_str(&line(row));
    }
    out
}
