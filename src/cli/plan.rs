//! `plan`: the jobs directory against what is applied.

use super::args::{GlobalArgs, Output, OutputFormat, PlanArgs};
use super::{agent_host, eprint_diagnostics, exit, print_json, settings_with};
use crate::jobs;
use crate::pipeline::{RedactionPlan, redaction_plan};
use crate::plan::{self, PlanOptions};
use anyhow::{Context as _, bail};
use chrono::{DateTime, NaiveDateTime, Utc};

/// Runs `plan`.
pub fn run(global: &GlobalArgs, args: &PlanArgs) -> anyhow::Result<u8> {
    let settings = settings_with(
        global,
        crate::settings::Overrides {
            mode: args.mode.map(Into::into),
            ..Default::default()
        },
    )?;
    let now = match &args.from {
        Some(text) => parse_instant(text)?,
        None => Utc::now(),
    };
    let ctx = settings.jobs_context();
    let desired = jobs::load_dir(&settings.jobs_dir, &ctx)?;
    // An applied definition whose hash is the desired job's is that job's definition: it is
    // shared instead of parsed again.
    let known = |name: &str, stored_hash: &str| {
        desired
            .jobs
            .get(name)
            .filter(|job| job.spec_hash == *stored_hash)
            .map(|job| std::sync::Arc::clone(&job.definition))
    };
    let applied = plan::read_applied_reusing(&settings.state_dir, &known)
        .context("cannot read what the agent has applied")?;
    let options = PlanOptions {
        strict: args.strict,
        now,
        host_identity: settings.host_identity_or(&agent_host(&settings)),
        // Adds and changes always show their next fire; --show-next asks for more, and for all jobs.
        show_next: args.show_next.max(1),
    };
    let mut plan = plan::plan(&desired, &applied, &options);
    for r in &mut plan.remove {
        r.kept_until = Some(crate::state::removed::kept_until(
            now,
            settings.removed_job_grace_period.0,
        ));
    }
    if args.graph {
        print_graph(global, &desired, &applied, &plan, now)?;
    } else {
        print_plan(global, args, &settings, &desired, &plan, now)?;
    }
    let code = if !plan.rejected.is_empty() {
        exit::FAILURE
    } else if args.detailed_exitcode && plan.has_changes() {
        exit::CHANGES
    } else {
        exit::OK
    };
    // The process is about to exit: freeing every job one by one would only cost time.
    super::leak_at_exit((desired, applied, plan));
    Ok(code)
}

/// `plan --graph`: the job chains with what the plan does to them (the findings on stderr, the
/// summary last), as DOT with `-o dot`, as nodes and edges with `-o json`.
fn print_graph(
    global: &GlobalArgs,
    desired: &jobs::Desired,
    applied: &plan::Applied,
    plan: &plan::Plan,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let graph = plan::graph::build(&plan::graph::planned_jobs(desired, applied, plan));
    if global.output_format == OutputFormat::Dot {
        eprint_diagnostics(desired.diagnostics());
        print!("{}", plan::render_dot(&graph));
    } else if global.output == Output::Json {
        let (errors, warnings): (Vec<_>, Vec<_>) =
            desired.diagnostics().partition(|d| d.is_error());
        print_json(&serde_json::json!({
            "summary": plan.summary(),
            "from": now,
            "graph": graph,
            "rejected": plan.rejected,
            "errors": errors,
            "warnings": warnings,
        }))?;
    } else {
        eprint_diagnostics(desired.diagnostics());
        print!("{}", plan::render_tree(&graph));
        println!("{}", plan.summary());
    }
    Ok(())
}

/// The plan itself, as text (with the detail lines) or JSON.
fn print_plan(
    global: &GlobalArgs,
    args: &PlanArgs,
    settings: &crate::settings::Settings,
    desired: &jobs::Desired,
    plan: &plan::Plan,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    // What each desired job will redact: the same summary `validate` shows.
    let redaction: std::collections::BTreeMap<&str, RedactionPlan> = desired
        .jobs
        .values()
        .map(|job| (job.name.as_str(), redaction_plan(job)))
        .collect();
    match global.output {
        Output::Json => {
            // Every finding the text shows: the errors of rejected files are in `plan.rejected`,
            // the warnings (which the text prints on stderr) here.
            let (errors, warnings): (Vec<_>, Vec<_>) =
                desired.diagnostics().partition(|d| d.is_error());
            print_json(&serde_json::json!({
                "summary": plan.summary(),
                "from": now,
                "plan": plan,
                "redaction": redaction,
                "errors": errors,
                "warnings": warnings,
            }))?
        }
        Output::Text | Output::Wide => {
            eprint_diagnostics(desired.diagnostics().filter(|d| !d.is_error()));
            // Only the jobs the plan adds or changes get detail lines: only theirs are read.
            let shown = (plan.add.iter().map(|a| a.name.as_str()))
                .chain(plan.change.iter().map(|c| c.name.as_str()));
            let prunes = next_prunes(desired, shown, &settings.state_dir, now);
            let detail = |name: &str| {
                let mut lines: Vec<String> = (redaction.get(name))
                    .map(|r| vec![format!("redact: {}", r.summary())])
                    .unwrap_or_default();
                if let Some((n, bytes)) = prunes.get(name) {
                    lines.push(format!(
                        "retention: the next prune would remove {n} bundle(s) ({}); `retention --dry-run {name}` lists them",
                        super::human::size(*bytes)
                    ));
                }
                lines
            };
            print!(
                "{}",
                plan::render_text_with(plan, args.show_next > 0, &detail)
            );
        }
    }
    Ok(())
}

/// RFC 3339, or a naive `YYYY-MM-DDTHH:MM[:SS]` taken as UTC.
fn parse_instant(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc());
        }
    }
    bail!(
        "--from `{text}` is not a time; use RFC 3339 such as 2025-03-08T12:00:00-05:00, or 2025-03-08T17:00 (UTC)"
    )
}

/// For each of the `names`d desired jobs whose bundles on disk its (new) retention would thin:
/// how many bundles and bytes the next prune would remove. A state directory that cannot be
/// read shows nothing here (a fresh host has none yet).
fn next_prunes<'a>(
    desired: &jobs::Desired,
    names: impl Iterator<Item = &'a str>,
    state_dir: &std::path::Path,
    now: DateTime<Utc>,
) -> std::collections::BTreeMap<String, (usize, u64)> {
    names
        .filter_map(|name| desired.jobs.get(name))
        .filter_map(|job| {
            let policy = job.retention_policy();
            let d = crate::state::retention::preview(state_dir, &job.name, &policy, now).ok()?;
            let gone: Vec<_> = d.iter().filter(|d| d.removed.is_some()).collect();
            let bytes = gone.iter().map(|d| d.bundle.size).sum();
            (!gone.is_empty()).then(|| (job.name.clone(), (gone.len(), bytes)))
        })
        .collect()
}
