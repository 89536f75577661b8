//! `trigger JOB`: through the running agent (so its concurrency policy and history apply), else
//! in the foreground under the state directory's lock. Either way the run's phases are shown on
//! stderr as they happen (`progress`), then its outcome on stdout.

use super::args::{GlobalArgs, Output, TriggerArgs};
use super::client::Agent;
use super::progress::Watch;
use super::{agent_error, agent_host, exit, find_agent, print_json, settings};
use crate::agent::clock::Clock;
use crate::agent::runs::{self, RunSpec};
use crate::jobs;
use crate::pipeline::progress::{self, LivePhase};
use crate::pipeline::{Cancel, Progress};
use crate::state::records::{NotificationStatus, UploadStatus};
use crate::state::records::{RunRecord, Trigger};
use crate::state::{self, RunId, StateLock};
use crate::upload::queue::UploadQueue;
use anyhow::{Context as _, bail};
use chrono::Utc;
use std::time::Duration;

/// Runs `trigger`.
pub fn run(global: &GlobalArgs, args: &TriggerArgs) -> anyhow::Result<u8> {
    if args.check_targets {
        return super::check_targets::run(global, &args.job);
    }
    let settings = settings(global)?;
    let (record, record_error) = match find_agent(global, &settings)? {
        Some(agent) => {
            let agent = agent.for_writes();
            let response = agent.request(
                "POST",
                &format!("/api/v1/jobs/{}/trigger", args.job),
                Duration::from_secs(60),
            )?;
            if response.status != 202 {
                bail!("{}", agent_error(&response));
            }
            let answer: serde_json::Value = serde_json::from_str(&response.body)
                .with_context(|| format!("unexpected answer from the agent: {}", response.body))?;
            let run_id = answer["runId"].as_str().unwrap_or_default().to_string();
            eprintln!(
                "{}: run {run_id} {}",
                args.job,
                answer["state"].as_str().unwrap_or("accepted")
            );
            if args.no_wait {
                if global.output == Output::Json {
                    println!("{answer}");
                }
                return Ok(exit::OK);
            }
            wait_for(&agent, &args.job, &run_id)?
        }
        None => foreground(&settings, &args.job)?,
    };
    match global.output {
        Output::Json => print_json(&record)?,
        Output::Text | Output::Wide => {
            println!(
                "{} {}: {}",
                record.job,
                record.run_id,
                record.status.as_str()
            );
            if let Some(reason) = &record.reason {
                println!("  {reason}");
            }
            for p in &record.phases {
                println!(
                    "  {:8} {:?}{}",
                    p.name,
                    p.status,
                    p.error
                        .as_ref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                );
            }
            if let Some(b) = &record.bundle {
                println!(
                    "  bundle {} ({} bytes, sha256 {})",
                    b.path.display(),
                    b.size,
                    b.sha256
                );
            }
            for u in &record.uploads {
                println!(
                    "  upload {} {}: {} after {} attempt(s){}",
                    u.target,
                    u.url,
                    u.status,
                    u.attempts,
                    u.error
                        .as_ref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                );
            }
        }
    }
    if let Some(e) = &record_error {
        eprintln!(
            "error: run {} ended {}, but its record could not be written: {e}",
            record.run_id,
            record.status.as_str()
        );
    }
    // A pending upload is queued (the agent delivers it); one that failed for good fails the command.
    let upload_failed = record
        .uploads
        .iter()
        .any(|u| u.status == UploadStatus::Failed);
    Ok(
        if record.status.is_success() && !upload_failed && record_error.is_none() {
            exit::OK
        } else {
            exit::FAILURE
        },
    )
}

/// How long one request for a running run's phases waits for a change.
const WAIT_SECS: u64 = 10;

/// Asks the agent how the run goes until it has ended (the agent's answer, not a file: the CLI
/// may not see the agent's state directory), showing its phases as they change. Returns the final
/// record and, when the agent could not write it, why. Ends with an error as soon as the agent is
/// gone or does not know the run.
fn wait_for(agent: &Agent, job: &str, run_id: &str) -> anyhow::Result<(RunRecord, Option<String>)> {
    let mut watch = Watch::for_stderr();
    let mut pause = Duration::from_millis(100);
    let mut seen = 0;
    loop {
        let path = format!("/api/v1/jobs/{job}/runs/{run_id}?wait={WAIT_SECS}&since={seen}");
        let response = agent
            .request("GET", &path, Duration::from_secs(60))
            .with_context(|| {
                format!(
                    "lost the agent while waiting for run {run_id} (if it stopped, its next start marks the run interrupted)"
                )
            })?;
        if response.status != 200 {
            bail!("{}", agent_error(&response));
        }
        let answer: serde_json::Value = serde_json::from_str(&response.body)
            .with_context(|| format!("unexpected answer from the agent: {}", response.body))?;
        let record = || -> anyhow::Result<RunRecord> {
            serde_json::from_value(answer["record"].clone())
                .with_context(|| format!("unexpected run record from the agent: {answer}"))
        };
        let live = &answer["progress"];
        match answer["state"].as_str().unwrap_or_default() {
            "running" if live["version"].as_u64().is_some_and(|v| v != seen) => {
                // The agent answers as soon as the phases change: ask again at once.
                seen = live["version"].as_u64().unwrap_or_default();
                let phases: Vec<LivePhase> = serde_json::from_value(live["phases"].clone())
                    .with_context(|| format!("unexpected phases from the agent: {answer}"))?;
                watch.show(&phases);
            }
            "queued" | "running" => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            "finished" => {
                let error = answer["recordError"].as_str().map(str::to_string);
                let record = record()?;
                watch.finish(&progress::from_record(&record));
                return Ok((record, error));
            }
            "lost" => {
                let error = "the agent is not running it, yet its record says running (cut off by a crash?)";
                let record = record()?;
                watch.finish(&progress::from_record(&record));
                return Ok((record, Some(error.to_string())));
            }
            other => bail!("unexpected run state `{other}` from the agent: {answer}"),
        }
    }
}

/// The same view as through the agent, from the foreground run's own progress, until `end`.
fn show_foreground(
    mut phases: tokio::sync::watch::Receiver<progress::Phases>,
    mut end: tokio::sync::oneshot::Receiver<()>,
) -> Watch {
    let handle = tokio::runtime::Handle::current();
    let mut watch = Watch::for_stderr();
    loop {
        let changed = handle.block_on(async {
            tokio::select! {
                changed = phases.changed() => changed.is_ok(),
                _ = &mut end => false,
            }
        });
        if !changed {
            return watch;
        }
        let view = phases.borrow_and_update().view(std::time::Instant::now());
        watch.show(&view);
    }
}

/// No agent runs: take the state directory's lock (so none starts meanwhile) and run here.
/// Returns the record and, when it could not be written, why.
fn foreground(
    settings: &crate::settings::Settings,
    name: &str,
) -> anyhow::Result<(RunRecord, Option<String>)> {
    state::prepare(&settings.state_dir)?;
    crate::trust::check_state_dir(&settings.state_dir, &settings.trust_policy())?;
    let _lock = StateLock::acquire(&settings.state_dir)?;
    let ctx = settings.jobs_context();
    let desired = jobs::load_dir(&settings.jobs_dir, &ctx)?;
    let Some(job) = desired.jobs.get(name).cloned() else {
        let rejected = desired
            .rejected()
            .find(|f| f.job_names.iter().any(|n| n == name));
        match rejected {
            Some(f) => bail!(
                "job `{name}` is defined in {}, which has errors; run `troubleshoot-agent validate`",
                f.path.display()
            ),
            None => bail!("no job named `{name}` in {}", settings.jobs_dir.display()),
        }
    };
    let run_id = RunId::new_manual(&settings.state_dir, name, Utc::now(), &mut 1);
    let spec = RunSpec {
        job: job.clone(),
        run_id,
        trigger: Trigger::Manual,
        attempt: 1,
        first_trigger: None,
        scheduled_at: None,
        alert: None,
        parent: None,
    };
    eprintln!(
        "no agent is running for {}; running `{name}` in the foreground",
        settings.state_dir.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // A foreground run has its own upload queue: what it leaves pending waits for the agent.
    let env = runs::AgentEnv::new(
        settings,
        agent_host(settings),
        Clock::default(),
        UploadQueue::default(),
        Default::default(),
    );
    let (progress, phases) = Progress::new();
    let (mut record, persist_error) = runtime.block_on(async {
        let (ended, end) = tokio::sync::oneshot::channel();
        let shown = tokio::task::spawn_blocking(move || show_foreground(phases, end));
        let ran = runs::execute(
            spec,
            &env,
            Cancel::default(),
            progress,
            Clock::default().now(),
        )
        .await;
        let _ = ended.send(());
        if let Ok(mut watch) = shown.await {
            watch.finish(&progress::from_record(&ran.0));
        }
        ran
    });
    record.notifications = runtime.block_on(runs::notify(&job, &record, &env));
    for n in record
        .notifications
        .iter()
        .filter(|n| n.status != NotificationStatus::Delivered)
    {
        eprintln!(
            "warning: notification to {} failed after {} attempt(s): {}",
            n.url,
            n.attempts,
            n.error.as_deref().unwrap_or("unknown error")
        );
    }
    Ok((record, persist_error))
}
