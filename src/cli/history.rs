//! `history JOB`: recent runs, newest first, from the run records; in a cluster, also the runs
//! other replicas started, known from their claims (see [`Entry`]).

use super::args::{GlobalArgs, HistoryArgs, Output};
use super::{agent_error, exit, find_agent, human, print_json, settings};
use crate::lease::ClaimedRun;
use crate::state::records::{self, RunRecord};
use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;

/// One line of the history: a run this agent recorded, or (cluster mode) a run another
/// replica started, known only from its claim: who ran it, not how it went.
#[derive(Serialize)]
#[serde(untagged)]
enum Entry<'a> {
    /// This agent's record.
    Recorded(&'a RunRecord),
    /// Another replica's run.
    Elsewhere(Elsewhere<'a>),
}

/// A run known from its claim; its record is on the replica that ran it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Elsewhere<'a> {
    #[serde(flatten)]
    claim: &'a ClaimedRun,
    /// Always [`Unknown::Unknown`]: never a status this replica did not see.
    status: Unknown,
    /// Where the entry comes from.
    known_from: KnownFrom,
}

#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Unknown {
    Unknown,
}

#[derive(Clone, Copy, Serialize)]
#[serde(rename_all = "kebab-case")]
enum KnownFrom {
    Claim,
}

impl Entry<'_> {
    /// Where it sorts: when the run started (or its slot was claimed).
    fn when(&self) -> DateTime<Utc> {
        match self {
            Entry::Recorded(r) => r.started_at,
            Entry::Elsewhere(e) => e.claim.claimed_at.unwrap_or(e.claim.scheduled_at),
        }
    }
}

/// The records and the other replicas' runs, newest first, at most `limit`.
fn merged<'a>(runs: &'a [RunRecord], others: &'a [ClaimedRun], limit: usize) -> Vec<Entry<'a>> {
    let mut entries: Vec<Entry> = (runs.iter().map(Entry::Recorded))
        .chain(others.iter().map(|claim| {
            Entry::Elsewhere(Elsewhere {
                claim,
                status: Unknown::Unknown,
                known_from: KnownFrom::Claim,
            })
        }))
        .collect();
    // Stable: records keep their order among themselves.
    entries.sort_by_key(|e| std::cmp::Reverse(e.when()));
    entries.truncate(limit);
    entries
}

/// Runs `history`.
pub fn run(global: &GlobalArgs, args: &HistoryArgs) -> anyhow::Result<u8> {
    let settings = settings(global)?;
    if let Some(problem) = crate::jobs::name_problem(&args.job) {
        anyhow::bail!("invalid job name: {problem}");
    }
    let (runs, problems, others) = match find_agent(global, &settings)? {
        Some(agent) => from_agent(&agent, &args.job, args.limit)?,
        // Records are written atomically, so reading them is safe even while an agent starts.
        None => {
            let (runs, problems) = records::history(&settings.state_dir, &args.job, args.limit)?;
            let problems = problems.iter().map(ToString::to_string).collect();
            (runs, problems, Vec::new())
        }
    };
    for p in &problems {
        eprintln!("warning: {p} (set aside with a .corrupt suffix)");
    }
    if runs.is_empty()
        && others.is_empty()
        && !crate::state::records::job_dir(&settings.state_dir, &args.job).is_dir()
    {
        bail!(
            "no job `{}` in the state directory {}: it has never run here (check the name; `status` lists the jobs)",
            args.job,
            settings.state_dir.display()
        );
    }
    if args.changes {
        return super::history_changes::print(global.output, &runs);
    }
    let entries = merged(&runs, &others, args.limit);
    match global.output {
        Output::Json => print_json(&entries)?,
        out @ (Output::Text | Output::Wide) => {
            let (wide, now) = (out == Output::Wide, chrono::Utc::now());
            if entries.is_empty() {
                println!(
                    "no runs recorded for `{}` in {}",
                    args.job,
                    settings.state_dir.display()
                );
                return Ok(exit::OK);
            }
            let mut table = human::table(
                &[
                    "RUN",
                    "TRIGGER",
                    "SCHEDULED",
                    "STARTED",
                    "DURATION",
                    "STATUS",
                    "ANALYSIS",
                    "BUNDLE / REASON",
                ],
                super::style::stdout_colour(),
            );
            for entry in &entries {
                let cells = match entry {
                    Entry::Recorded(r) => recorded_row(r, now),
                    Entry::Elsewhere(e) => elsewhere_row(e.claim, now),
                };
                table.add_row(human::row(cells, wide));
            }
            human::fit(&mut table, human::terminal_width(), wide);
            println!("{table}");
            if let Some(line) = one_shot_line(&settings.state_dir, &args.job, &runs) {
                println!("{line}");
            }
        }
    }
    Ok(exit::OK)
}

/// For a one-shot job (`spec.at`, as applied): whether its instant is done, from its records.
fn one_shot_line(state_dir: &std::path::Path, job: &str, runs: &[RunRecord]) -> Option<String> {
    let applied = crate::plan::read_applied(state_dir).ok()?;
    let (timeline, ..) = applied.jobs.get(job)?.timing()?;
    let at = timeline.once()?;
    let when = at.format("%Y-%m-%d %H:%M:%S UTC");
    let own = runs.iter().find(|r| r.run_id.instant() == Some(at));
    Some(match own {
        Some(r) if r.status == records::RunStatus::Missed => {
            format!("one-shot at {when}: done (missed)")
        }
        Some(r) => format!(
            "one-shot at {when}: done (ran {})",
            r.started_at.format("%Y-%m-%d %H:%M")
        ),
        None => format!("one-shot at {when}: not run yet"),
    })
}

fn slot_cell(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "-".into(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

fn trigger_cell(trigger: records::Trigger) -> String {
    format!("{trigger:?}").to_lowercase()
}

/// The cells of a run this agent recorded.
fn recorded_row(r: &RunRecord, now: DateTime<Utc>) -> Vec<comfy_table::Cell> {
    let duration = r
        .ended_at
        .map(|e| {
            format!(
                "{:.1}s",
                (e - r.started_at).num_milliseconds() as f64 / 1000.0
            )
        })
        .unwrap_or_else(|| "-".into());
    let detail = match (&r.bundle, &r.reason) {
        (Some(b), _) => bundle_detail(b),
        (None, Some(reason)) => reason.clone(),
        (None, None) => String::new(),
    };
    vec![
        r.run_id.clone().into(),
        trigger_cell(r.trigger).into(),
        slot_cell(r.scheduled_at).into(),
        human::when(r.started_at, now).into(),
        duration.into(),
        human::status_cell(r.status.as_str().to_string(), Some(r.status)),
        human::analysis_cell(r.analysis.as_ref()).into(),
        detail.into(),
    ]
}

/// The cells of a run another replica started: what its claim says, and that it says no more.
fn elsewhere_row(c: &ClaimedRun, now: DateTime<Utc>) -> Vec<comfy_table::Cell> {
    vec![
        c.run_id.clone().into(),
        trigger_cell(c.trigger).into(),
        slot_cell(Some(c.scheduled_at)).into(),
        c.claimed_at
            .map_or_else(|| "-".into(), |t| human::when(t, now))
            .into(),
        "-".into(),
        human::status_cell("unknown".into(), None),
        "-".into(),
        format!(
            "ran on replica {} (known from its claim; its record is on that replica)",
            c.replica
        )
        .into(),
    ]
}

/// The job's newest runs as the running agent serves them.
fn from_agent(
    agent: &super::client::Agent,
    job: &str,
    limit: usize,
) -> anyhow::Result<(Vec<RunRecord>, Vec<String>, Vec<ClaimedRun>)> {
    let response = agent.request(
        "GET",
        &format!("/api/v1/jobs/{job}/runs?limit={limit}"),
        Duration::from_secs(60),
    )?;
    if response.status != 200 {
        bail!("{}", agent_error(&response));
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        runs: Vec<RunRecord>,
        #[serde(default)]
        problems: Vec<String>,
        /// Cluster mode: runs of the other replicas.
        #[serde(default, rename = "otherReplicas")]
        other_replicas: Vec<ClaimedRun>,
    }
    let answer: Answer = serde_json::from_str(&response.body)
        .with_context(|| format!("unexpected answer from the agent at {agent}"))?;
    Ok((answer.runs, answer.problems, answer.other_replicas))
}

/// A bundle as `history` shows it: on disk, or pruned (when, by which retention rule).
fn bundle_detail(b: &records::BundleRecord) -> String {
    match b.pruned_at {
        Some(at) => format!(
            "pruned {} by {} (was {}, {} bytes)",
            at.format("%Y-%m-%d %H:%M:%S"),
            b.pruned_by.as_deref().unwrap_or("retention"),
            b.path.display(),
            b.size
        ),
        None => format!("{} ({} bytes)", b.path.display(), b.size),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::records::{RunStatus, Trigger};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn other_replicas_runs_interleave_by_time_and_say_their_status_is_unknown() {
        let own = |id: &str, at: &str| RunRecord {
            started_at: t(at),
            ..RunRecord::for_test("j", id, RunStatus::Succeeded)
        };
        let runs = [
            own("20250101T000300Z", "2025-01-01T00:03:01Z"),
            own("20250101T000100Z", "2025-01-01T00:01:01Z"),
        ];
        let others = [ClaimedRun {
            job: "j".into(),
            scheduled_at: t("2025-01-01T00:02:00Z"),
            run_id: "20250101T000200Z".into(),
            trigger: Trigger::Schedule,
            replica: "replica-b".into(),
            claimed_at: Some(t("2025-01-01T00:02:01Z")),
        }];
        let entries = merged(&runs, &others, 10);
        let json = serde_json::to_value(&entries).expect("json");
        let ids: Vec<&str> = (json.as_array().expect("list").iter())
            .map(|e| e["runId"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            ids,
            ["20250101T000300Z", "20250101T000200Z", "20250101T000100Z"]
        );
        assert_eq!(json[1]["status"], "unknown");
        assert_eq!(json[1]["knownFrom"], "claim");
        assert_eq!(json[1]["replica"], "replica-b");
        assert_eq!(json[0]["status"], "succeeded");
        assert_eq!(merged(&runs, &others, 2).len(), 2, "the limit holds");
    }
}
