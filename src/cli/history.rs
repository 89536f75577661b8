//! `history JOB`: recent runs, newest first, from the run records.

use super::args::{GlobalArgs, HistoryArgs, Output};
use super::{agent_error, exit, find_agent, human, print_json, settings};
use crate::state::records::{self, RunRecord};
use anyhow::{Context as _, bail};
use std::time::Duration;

/// Runs `history`.
pub fn run(global: &GlobalArgs, args: &HistoryArgs) -> anyhow::Result<u8> {
    let settings = settings(global)?;
    if let Some(problem) = crate::jobs::name_problem(&args.job) {
        anyhow::bail!("invalid job name: {problem}");
    }
    let (runs, problems) = match find_agent(global, &settings)? {
        Some(agent) => from_agent(&agent, &args.job, args.limit)?,
        // Records are written atomically, so reading them is safe even while an agent starts.
        None => {
            let (runs, problems) = records::history(&settings.state_dir, &args.job, args.limit)?;
            (runs, problems.iter().map(ToString::to_string).collect())
        }
    };
    for p in &problems {
        eprintln!("warning: {p} (set aside with a .corrupt suffix)");
    }
    if runs.is_empty() && !crate::state::records::job_dir(&settings.state_dir, &args.job).is_dir() {
        bail!(
            "no job `{}` in the state directory {}: it has never run here (check the name; `status` lists the jobs)",
            args.job,
            settings.state_dir.display()
        );
    }
    if args.changes {
        return super::history_changes::print(global.output, &runs);
    }
    match global.output {
        Output::Json => print_json(&runs)?,
        out @ (Output::Text | Output::Wide) => {
            let (wide, now) = (out == Output::Wide, chrono::Utc::now());
            if runs.is_empty() {
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
            for r in &runs {
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
                table.add_row(human::row(
                    vec![
                        r.run_id.clone().into(),
                        format!("{:?}", r.trigger).to_lowercase().into(),
                        r.scheduled_at
                            .map_or_else(
                                || "-".into(),
                                |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                            )
                            .into(),
                        human::when(r.started_at, now).into(),
                        duration.into(),
                        human::status_cell(r.status.as_str().to_string(), Some(r.status)),
                        human::analysis_cell(r.analysis.as_ref()).into(),
                        detail.into(),
                    ],
                    wide,
                ));
            }
            human::fit(&mut table, human::terminal_width(), wide);
            println!("{table}");
        }
    }
    Ok(exit::OK)
}

/// The job's newest runs as the running agent serves them.
fn from_agent(
    agent: &super::client::Agent,
    job: &str,
    limit: usize,
) -> anyhow::Result<(Vec<RunRecord>, Vec<String>)> {
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
    }
    let answer: Answer = serde_json::from_str(&response.body)
        .with_context(|| format!("unexpected answer from the agent at {agent}"))?;
    Ok((answer.runs, answer.problems))
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
