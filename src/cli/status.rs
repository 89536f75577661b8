//! `status`: jobs, next runs and last results; from the running agent, else the state directory.

use super::args::{GlobalArgs, Output};
use super::{agent_host, exit, find_agent, human, print_json, settings};
use crate::agent::StatusSnapshot;
use crate::agent::status::{JobStatus, LastRun};
use crate::plan::{PlanOptions, upcoming};
use crate::schedule::Phase;
use crate::state::records::{self, RunStatus};
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// Runs `status`.
pub fn run(global: &GlobalArgs) -> anyhow::Result<u8> {
    let settings = settings(global)?;
    let (snapshot, live) = match find_agent(global, &settings)? {
        Some(agent) => {
            let response = agent.request("GET", "/api/v1/status", Duration::from_secs(30))?;
            let snapshot: StatusSnapshot = serde_json::from_str(&response.body)
                .with_context(|| format!("unexpected answer from {agent}: {}", response.body))?;
            (snapshot, true)
        }
        None => (offline(&settings)?, false),
    };
    match global.output {
        Output::Json => print_json(&serde_json::json!({"agentRunning": live, "status": snapshot}))?,
        out @ (Output::Text | Output::Wide) => print!(
            "{}",
            render(
                &snapshot,
                live,
                Utc::now(),
                human::terminal_width(),
                out == Output::Wide,
                super::style::stdout_colour(),
            )
        ),
    }
    Ok(exit::OK)
}

/// What the state directory says when no agent runs: the applied jobs, their next fire (from
/// their last recorded fire) and their last run.
fn offline(settings: &crate::settings::Settings) -> anyhow::Result<StatusSnapshot> {
    if !settings.state_dir.is_dir() {
        anyhow::bail!(
            "no agent is running and the state directory {} does not exist: start the agent, or name its state directory with --state-dir",
            settings.state_dir.display()
        );
    }
    let applied = crate::plan::read_applied(&settings.state_dir)?;
    let options = PlanOptions {
        strict: false,
        now: Utc::now(),
        host_identity: settings.host_identity_or(&agent_host(settings)),
        show_next: 1,
    };
    let mut jobs = Vec::new();
    for (name, job) in &applied.jobs {
        let definition = job.definition.value();
        let spec = definition.get("spec");
        let text = |key: &str| {
            spec.and_then(|s| s.get(key))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let timing = job.timing();
        let next_run = timing
            .as_ref()
            .and_then(|(timeline, jitter, suspended)| {
                upcoming(timeline, *jitter, *suspended, name, &options, 1)
                    .into_iter()
                    .next()
            })
            .map(|f| f.at);
        let last_run = records::history(&settings.state_dir, name, 1)
            .ok()
            .and_then(|(mut r, _)| r.pop())
            .map(|r| LastRun {
                run_id: r.run_id,
                status: r.status,
                started_at: r.started_at,
                ended_at: r.ended_at,
                analysis: r.analysis,
            });
        // Without the agent, its last recorded slot stands for what it handled.
        let handled = records::last_fire(&settings.state_dir, name).ok().flatten();
        let phase = (timing.as_ref())
            .map(|(timeline, ..)| {
                timeline.phase(handled.unwrap_or(DateTime::<Utc>::MIN_UTC), options.now)
            })
            .unwrap_or_default();
        jobs.push(JobStatus {
            name: name.clone(),
            schedule: Some(text("schedule")).filter(|s| !s.is_empty()),
            at: timing.as_ref().and_then(|(timeline, ..)| timeline.once()),
            phase,
            time_zone: text("timeZone"),
            suspended: timing.as_ref().is_some_and(|t| t.2),
            next_run,
            running: Vec::new(),
            last_run,
            source: job.source.clone(),
            stale: false,
        });
    }
    Ok(StatusSnapshot {
        jobs_dir: settings.jobs_dir.clone(),
        state_dir: settings.state_dir.clone(),
        jobs,
        ..StatusSnapshot::default()
    })
}

/// Cluster mode: who leads, as this replica knows it.
fn cluster_line(c: &crate::agent::status::ClusterStatus) -> String {
    let role = match (c.leading, c.leader.as_deref()) {
        (true, _) => "leads: it starts the runs".to_string(),
        (false, Some(leader)) => format!("standby: the leader is {leader}"),
        (false, None) => "standby: no replica leads yet".to_string(),
    };
    let error = c
        .error
        .as_deref()
        .map(|e| format!(" ({e})"))
        .unwrap_or_default();
    format!(
        "  cluster mode: replica {} {role}; lease {}{error}\n",
        c.identity, c.lease
    )
}

/// The running agent's lines above the table: pid, readiness, cluster role, problems, the last
/// reload and each rejected file with the first line of each of its errors.
fn agent_lines(s: &StatusSnapshot, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "agent pid {} ({}), {} job(s), {}\n",
        s.pid,
        if s.ready { "ready" } else { "not ready" },
        s.jobs.len(),
        if s.watching {
            "watching the jobs directory"
        } else {
            "polling the jobs directory"
        }
    ));
    if let Some(c) = &s.cluster {
        out.push_str(&cluster_line(c));
    }
    for p in &s.problems {
        out.push_str(&format!("  problem: {p}\n"));
    }
    if let Some(r) = &s.last_reload {
        out.push_str(&format!(
            "  last reload {}: {}\n",
            human::when(r.at, now),
            r.summary
        ));
    }
    for f in &s.rejected_files {
        out.push_str(&format!(
            "  rejected: {} ({} error(s))\n",
            f.path.display(),
            f.errors.len()
        ));
        // What to fix, not only how much: the first line of each error.
        for e in &f.errors {
            let text = e.to_string();
            out.push_str(&format!(
                "    {}\n",
                text.lines().next().unwrap_or_default()
            ));
        }
    }
    out
}

fn render(
    s: &StatusSnapshot,
    live: bool,
    now: DateTime<Utc>,
    width: Option<u16>,
    wide: bool,
    colour: bool,
) -> String {
    let mut out = String::new();
    if live {
        out.push_str(&agent_lines(s, now));
    } else {
        out.push_str(&format!(
            "no agent is running; from the state directory {}\n",
            s.state_dir.display()
        ));
    }
    let mut table = human::table(
        &[
            "JOB", "SCHEDULE", "ZONE", "NEXT RUN", "LAST RUN", "RESULT", "ANALYSIS",
        ],
        colour,
    );
    for j in &s.jobs {
        let next = next_cell(j, now);
        let analysis = human::analysis_cell(j.last_run.as_ref().and_then(|r| r.analysis.as_ref()));
        let (last, result) = match (&j.last_run, j.running.is_empty()) {
            (_, false) => (
                "now".to_string(),
                human::status_cell(format!("running ({})", j.running.join(", ")), None),
            ),
            (Some(r), true) => (
                human::when(r.started_at, now),
                human::status_cell(r.status.as_str().to_string(), Some(r.status)),
            ),
            (None, true) => ("-".into(), "-".into()),
        };
        let name = if j.stale {
            format!("{} (last good)", j.name)
        } else {
            j.name.clone()
        };
        table.add_row(human::row(
            vec![
                name.into(),
                schedule_cell(j).into(),
                j.time_zone.clone().into(),
                next.into(),
                last.into(),
                result,
                analysis.into(),
            ],
            wide,
        ));
    }
    human::fit(&mut table, width, wide);
    out.push_str(&table.to_string());
    out.push('\n');
    out
}

/// The SCHEDULE column: the cron expression, the one-shot instant, or `triggers only`.
fn schedule_cell(j: &JobStatus) -> String {
    match (&j.schedule, j.at) {
        (Some(expr), _) => expr.clone(),
        (None, Some(at)) => format!("at {}", at.format("%Y-%m-%d %H:%M:%SZ")),
        (None, None) => "triggers only".to_string(),
    }
}

/// The NEXT RUN column: when, or why never (suspended, done, expired, started by triggers).
fn next_cell(j: &JobStatus, now: DateTime<Utc>) -> String {
    if j.suspended {
        return "suspended".to_string();
    }
    match j.phase {
        Phase::Done => {
            // The one-shot's own record, when it is the last run.
            let own = (j.last_run.as_ref())
                .filter(|r| r.run_id.instant().is_some() && r.run_id.instant() == j.at);
            match own {
                Some(r) if r.status == RunStatus::Missed => "done (missed)".to_string(),
                Some(r) => format!("done (ran {})", r.started_at.format("%Y-%m-%d %H:%M")),
                None => "done".to_string(),
            }
        }
        Phase::Expired => "expired (activeWindow ended)".to_string(),
        Phase::TriggerOnly if j.next_run.is_none() => "on trigger".to_string(),
        _ => j
            .next_run
            .map_or_else(|| "-".into(), |t| human::when(t, now)),
    }
}
