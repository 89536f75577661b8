//! `trigger --check-targets JOB`: a real, harmless reachability check of each upload target of a
//! job (S3 `HeadBucket`, HTTP `HEAD`), one line per target; exit 1 when any fails. Nothing is
//! uploaded and no run is recorded.

use super::args::{GlobalArgs, Output};
use super::{agent_host, exit, print_json, settings};
use crate::jobs;
use crate::upload::{self, UploadError, key, queue};
use anyhow::bail;
use chrono::Utc;

/// Runs the check.
pub fn run(global: &GlobalArgs, job_name: &str) -> anyhow::Result<u8> {
    let settings = settings(global)?;
    let ctx = settings.jobs_context();
    let desired = jobs::load_dir(&settings.jobs_dir, &ctx)?;
    let Some(job) = desired.jobs.get(job_name) else {
        bail!(
            "no valid job named `{job_name}` in {}; run `troubleshoot-agent validate`",
            settings.jobs_dir.display()
        );
    };
    let targets = crate::pipeline::upload_targets(job);
    if targets.is_empty() {
        eprintln!("{job_name}: no upload targets");
        return Ok(exit::OK);
    }
    let vars = key::Vars {
        job: job.name.clone(),
        run_id: "check-targets".into(),
        started_at: Utc::now(),
        hostname: agent_host(&settings),
        cluster: job.document.metadata.labels.get("cluster").cloned(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut results = Vec::new();
    for (target, fixed) in &targets {
        let label = queue::label(target);
        let url = fixed
            .clone()
            .map_or_else(|| upload::object_key(target, &vars), Ok);
        let outcome = match url {
            Ok(url) => runtime.block_on(upload::check(target, &url)),
            Err(e) => Err(UploadError::Permanent(e.to_string())),
        };
        results.push((label, outcome));
    }
    let failed = results.iter().filter(|(_, r)| r.is_err()).count();
    match global.output {
        Output::Json => print_json(&serde_json::json!({
            "job": job_name,
            "targets": results.iter().map(|(label, r)| serde_json::json!({
                "target": label,
                "ok": r.is_ok(),
                "error": r.as_ref().err().map(ToString::to_string),
                "transient": r.as_ref().err().map(UploadError::is_transient),
            })).collect::<Vec<_>>(),
        }))?,
        Output::Text | Output::Wide => {
            for (label, r) in &results {
                match r {
                    Ok(()) => println!("ok      {label}"),
                    Err(e) => println!(
                        "FAILED  {label}: {e}{}",
                        if e.is_transient() {
                            " (may be temporary)"
                        } else {
                            ""
                        }
                    ),
                }
            }
        }
    }
    Ok(if failed == 0 { exit::OK } else { exit::FAILURE })
}
