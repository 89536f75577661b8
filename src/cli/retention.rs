//! `retention --dry-run JOB`: what the next prune of a job's bundles would remove and why each
//! other bundle stays, under the job's current definition in the jobs directory.

use super::args::{GlobalArgs, Output, RetentionArgs};
use super::{exit, human, print_json, settings};
use crate::jobs;
use crate::state::retention::{self, Decision, Removed};
use anyhow::{Context as _, bail};
use chrono::Utc;

/// Runs `retention`.
pub fn run(global: &GlobalArgs, args: &RetentionArgs) -> anyhow::Result<u8> {
    if !args.dry_run {
        // The agent prunes after each run of the job, under the state lock: a second writer
        // here could race it. This command only looks.
        bail!(
            "retention is applied by the agent after each run of `{}`; this command only previews it: add --dry-run",
            args.job
        );
    }
    if let Some(problem) = jobs::name_problem(&args.job) {
        bail!("invalid job name: {problem}");
    }
    let settings = settings(global)?;
    let desired = jobs::load_dir(&settings.jobs_dir, &settings.jobs_context())?;
    let Some(job) = desired.jobs.get(&args.job) else {
        bail!(
            "no valid job `{}` in {} (`validate` shows why a file is rejected; `plan` lists the jobs)",
            args.job,
            settings.jobs_dir.display()
        );
    };
    let policy = job.retention_policy();
    let now = Utc::now();
    let decisions = retention::preview(&settings.state_dir, &job.name, &policy, now)
        .with_context(|| format!("cannot read the bundles of `{}`", job.name))?;
    match global.output {
        Output::Json => print_json(&serde_json::json!({
            "job": job.name,
            "at": now,
            "bundles": decisions.iter().map(json).collect::<Vec<_>>(),
        }))?,
        Output::Text | Output::Wide => print_text(&job.name, &decisions, now),
    }
    Ok(exit::OK)
}

fn verdict(d: &Decision) -> String {
    match d.removed {
        None => "keep".into(),
        Some(Removed::NotKept) => "remove (no keep rule keeps it)".into(),
        Some(Removed::MaxAge) => "remove (maxAge)".into(),
        Some(Removed::MaxTotalSize) => "remove (maxTotalSize)".into(),
    }
}

fn json(d: &Decision) -> serde_json::Value {
    serde_json::json!({
        "path": d.bundle.path,
        "created": d.bundle.created,
        "size": d.bundle.size,
        "remove": d.removed.is_some(),
        "removedBy": d.removed.map(|r| match r {
            Removed::NotKept => "keepRules",
            Removed::MaxAge => "maxAge",
            Removed::MaxTotalSize => "maxTotalSize",
        }),
        "keptBy": d.kept_by.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn print_text(job: &str, decisions: &[Decision], now: chrono::DateTime<Utc>) {
    if decisions.is_empty() {
        println!("`{job}` has no bundles on disk: nothing to prune");
        return;
    }
    let mut table = human::table(
        &["BUNDLE", "CREATED", "SIZE", "VERDICT", "KEPT BY"],
        super::style::stdout_colour(),
    );
    for d in decisions {
        let name = (d.bundle.path.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let kept_by: Vec<String> = d.kept_by.iter().map(ToString::to_string).collect();
        table.add_row(vec![
            name,
            human::when(d.bundle.created, now),
            human::size(d.bundle.size),
            verdict(d),
            kept_by.join(", "),
        ]);
    }
    println!("{table}");
    let (gone, bytes) = (decisions.iter().filter(|d| d.removed.is_some()))
        .fold((0, 0), |(n, b), d| (n + 1, b + d.bundle.size));
    println!(
        "the next prune would remove {gone} of {} bundle(s) ({}); nothing was changed",
        decisions.len(),
        human::size(bytes)
    );
}
