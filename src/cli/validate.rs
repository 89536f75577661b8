//! `validate [PATH...]`: every error of every file, located, in one run.

use super::args::{GlobalArgs, Output, ValidateArgs};
use super::{eprint_diagnostics, exit, print_json, settings_with};
use crate::diagnostic::Diagnostic;
use crate::jobs;
use crate::jobs::validate_coverage::{Coverage, State, coverage, has_cluster, render_text};
use crate::pipeline::{RedactionPlan, redaction_plan, tokenization_warnings};
use serde::Serialize;
use std::path::Path;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    valid: bool,
    files: usize,
    jobs: Vec<&'a str>,
    errors: Vec<&'a Diagnostic>,
    warnings: Vec<&'a Diagnostic>,
    ignored: &'a [jobs::Ignored],
    /// The redactors each valid job applies.
    redaction: std::collections::BTreeMap<&'a str, RedactionPlan>,
    /// Each valid job's collectors and analyzers: which run, which are skipped and why.
    coverage: std::collections::BTreeMap<&'a str, Coverage>,
}

/// Runs `validate`.
pub fn run(global: &GlobalArgs, args: &ValidateArgs) -> anyhow::Result<u8> {
    let settings = settings_with(
        global,
        crate::settings::Overrides {
            mode: args.mode.map(Into::into),
            ..Default::default()
        },
    )?;
    let desired = load(&settings, args)?;
    // With --as, the directory's other files are context: only the new file's findings count.
    let counts = |d: &Diagnostic| args.as_path.as_ref().is_none_or(|at| &d.file == at);
    let setting_warnings = setting_warnings(&desired, &settings);
    let (errors, warnings): (Vec<&Diagnostic>, Vec<&Diagnostic>) = desired
        .diagnostics()
        .chain(setting_warnings.iter())
        .filter(|d| counts(d))
        .partition(|d| d.is_error());
    let valid = errors.is_empty() && (!args.strict || warnings.is_empty());
    let counted_files: Vec<&jobs::FileReport> = desired
        .files
        .iter()
        .filter(|f| args.as_path.as_ref().is_none_or(|at| &f.path == at))
        .collect();
    let names: Vec<&str> = counted_files
        .iter()
        .flat_map(|f| f.job_names.iter().map(String::as_str))
        .collect();
    let redaction: std::collections::BTreeMap<&str, RedactionPlan> = desired
        .jobs
        .values()
        .filter(|job| names.contains(&job.name.as_str()))
        .map(|job| (job.name.as_str(), redaction_plan(job)))
        .collect();
    let coverages: std::collections::BTreeMap<&str, Coverage> = desired
        .jobs
        .values()
        .filter(|job| names.contains(&job.name.as_str()))
        .map(|job| {
            let cluster = has_cluster(job, settings.kubeconfig.as_deref());
            (job.name.as_str(), coverage(job, cluster))
        })
        .collect();
    match global.output {
        Output::Json => print_json(&Report {
            valid,
            files: counted_files.len(),
            jobs: names.clone(),
            errors: errors.clone(),
            warnings: warnings.clone(),
            ignored: if args.as_path.is_some() {
                &[]
            } else {
                &desired.ignored
            },
            redaction,
            coverage: coverages,
        })?,
        Output::Text | Output::Wide => {
            eprint_diagnostics(errors.iter().chain(warnings.iter()).copied());
            print_coverage(&coverages);
            if global.verbose > 0 {
                for f in &counted_files {
                    let state = if f.is_rejected() { "invalid" } else { "ok" };
                    println!(
                        "{state:7} {} ({})",
                        f.path.display(),
                        f.job_names.join(", ")
                    );
                }
                for i in &desired.ignored {
                    println!("ignored {} ({})", i.path.display(), i.reason);
                }
                print_jobs(&desired, &redaction, &settings);
            }
            println!(
                "{}: {} file{}, {} job{}, {} error{}, {} warning{}{}",
                if valid { "valid" } else { "invalid" },
                counted_files.len(),
                s(counted_files.len()),
                names.len(),
                s(names.len()),
                errors.len(),
                s(errors.len()),
                warnings.len(),
                s(warnings.len()),
                if args.strict && !warnings.is_empty() {
                    " (--strict: warnings fail)"
                } else {
                    ""
                }
            );
        }
    }
    let code = if valid { exit::OK } else { exit::FAILURE };
    // The process is about to exit: freeing every job one by one would only cost time.
    super::leak_at_exit(desired);
    Ok(code)
}

/// `-v`: the redactors of each valid job, then when each runs next.
fn print_jobs(
    desired: &jobs::Desired,
    redaction: &std::collections::BTreeMap<&str, RedactionPlan>,
    settings: &crate::settings::Settings,
) {
    for (name, r) in redaction {
        println!("redact  {name}: {}", r.summary());
    }
    for (name, job) in &desired.jobs {
        if redaction.contains_key(name.as_str()) {
            println!("next    {name}: {}", next_fire(job, settings));
        }
    }
}

/// When `job` runs next by the clock, from now, or why it does not.
fn next_fire(job: &jobs::Job, settings: &crate::settings::Settings) -> String {
    let options = crate::plan::PlanOptions {
        strict: false,
        now: chrono::Utc::now(),
        host_identity: settings.host_identity_or(&super::agent_host(settings)),
        show_next: 1,
    };
    let spec = &job.document.spec;
    let next = crate::plan::upcoming(
        &job.timeline,
        spec.jitter,
        spec.suspend,
        &job.name,
        &options,
        1,
    );
    match (next.first(), job.timeline.rule()) {
        (Some(fire), _) => fire.at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        (None, _) if spec.suspend => "none (suspended)".to_string(),
        (None, crate::schedule::Rule::Never) => "none (started by triggers or `after` only)".into(),
        (None, crate::schedule::Rule::Once(_)) => {
            "none by the clock: `at` has passed (an agent decides it by startingDeadline)".into()
        }
        (None, crate::schedule::Rule::Cron(_)) => "none (outside activeWindow)".to_string(),
    }
}

/// The files `validate` reads: the one `--as` names (with the directory as context), the
/// paths given, or the jobs directory.
fn load(
    settings: &crate::settings::Settings,
    args: &ValidateArgs,
) -> anyhow::Result<jobs::Desired> {
    let ctx = settings.jobs_context();
    Ok(match (&args.as_path, args.paths.as_slice()) {
        (Some(at), [content]) => jobs::load_as(at, content, &ctx)?,
        (Some(_), _) => {
            anyhow::bail!(
                "--as TARGET takes exactly one file to validate: `validate --as TARGET FILE`"
            )
        }
        (None, []) => jobs::load_dir(&settings.jobs_dir, &ctx)?,
        (None, paths) => jobs::load_paths(paths, &ctx),
    })
}

/// Checks that need the agent settings as well as the job.
fn setting_warnings(
    desired: &jobs::Desired,
    settings: &crate::settings::Settings,
) -> Vec<Diagnostic> {
    (desired.jobs.values())
        .flat_map(|job| {
            let mut warnings = tokenization_warnings(
                job,
                settings.token_key_file.as_deref(),
                settings.token_map_key_file.as_deref(),
            );
            warnings.extend(missing_config_warning(job, settings.kubeconfig.as_deref()));
            warnings
        })
        .collect()
}

/// Per job: what runs, what is skipped and why (so "will this spec work here?" is one command).
fn print_coverage(coverages: &std::collections::BTreeMap<&str, Coverage>) {
    for (name, c) in coverages {
        if c.rows.is_empty() {
            continue;
        }
        let engine = match c.engine {
            jobs::model::Engine::Builtin => "builtin",
            jobs::model::Engine::SupportBundle => "support-bundle",
        };
        println!(
            "job {name} (engine {engine}): {} run, {} skipped, {} fail, {} ignored",
            c.count(State::Runs),
            c.count(State::Skipped),
            c.count(State::Fails),
            c.count(State::Ignored)
        );
        for line in render_text(c).lines() {
            println!("  {line}");
        }
    }
}

fn s(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `validate`'s warning for a job that collects from a cluster while this host has no cluster
/// configuration (offline: only files and the environment are looked at).
fn missing_config_warning(
    job: &crate::jobs::Job,
    agent_kubeconfig: Option<&Path>,
) -> Option<crate::diagnostic::Diagnostic> {
    let collect = &job.document.spec.collect;
    if collect.engine != crate::jobs::model::Engine::Builtin {
        return None;
    }
    let cluster = collect.auto_discovery
        || collect.cluster_specs.is_some()
        || job
            .collection
            .collectors
            .iter()
            .any(|e| !e.exclude && !matches!(e.kind.as_str(), "data" | "http"));
    if !cluster || collect.kubeconfig.is_some() || agent_kubeconfig.is_some() {
        return None;
    }
    if crate::collect::cluster::access::discover_here(None).is_some() {
        return None;
    }
    let loc = crate::yaml::Loc {
        line: job.source.line.max(1),
        column: 1,
    };
    Some(
        crate::diagnostic::Diagnostic::warning(
            &job.source.file,
            loc,
            format!(
                "job `{}` collects from a cluster but this agent has no Kubernetes configuration; its cluster collectors will fail with \"{}\"",
                job.name,
                crate::collect::cluster::access::NO_CONFIG
            ),
        )
        .with_hint("set `collect.kubeconfig` in the job or `kubeconfig` in the agent settings, set KUBECONFIG, or run the agent in a pod with a service account"),
    )
}
