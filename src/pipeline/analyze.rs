//! The analyze phase: the job's analyzers over the staged, redacted bundle; `analysis.json` at
//! the bundle root (before the archive is written, as troubleshoot does, so it is never
//! redacted); the summary for the run record; and the verdict of `analyze.failOn`.

use super::error::PhaseError;
use super::{RunContext, phase};
use crate::analyze::{self, Analysis, DirView};
use crate::jobs::Job;
use crate::jobs::model::FailOn;
use crate::state::records::{PhaseRecord, PhaseStatus};
use crate::state::{Create, StateDir};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// What the phase produced.
pub(crate) struct Analyzed {
    /// The phase as recorded.
    pub phase: PhaseRecord,
    /// The run record's `analysis` summary (`None` when analysis did not run).
    pub record: Option<serde_json::Value>,
    /// Why `failOn` fails the run, when it does.
    pub failed: Option<String>,
    /// Per analyzer, for the Analyzers section of `execution-data/summary.txt`.
    pub timings: Vec<crate::bundle::StepTiming>,
}

/// Runs the analyzers of `job` over the bundle staged at `root` and writes `analysis.json`.
pub(crate) async fn analyze(job: &Job, root: &Path, ctx: &RunContext) -> Analyzed {
    let t = Instant::now();
    if !job.document.spec.analyze.enabled {
        return Analyzed {
            phase: phase(
                "analyze",
                PhaseStatus::Skipped,
                t.elapsed(),
                Some("analyze.enabled: false".into()),
            ),
            record: None,
            failed: None,
            timings: Vec::new(),
        };
    }
    let spec = job.collection.clone();
    let none = spec.analyzers.is_empty() && spec.host_analyzers.is_empty();
    let state_dir = ctx.env.state_dir.clone();
    let root_dir = root.to_path_buf();
    let now = chrono::Utc::now();
    let joined = tokio::task::spawn_blocking(move || {
        // No analyzers still gives `[]`, as troubleshoot writes.
        let analysis = if none {
            Analysis::default()
        } else {
            analyze::analyze(&DirView::new(&root_dir), &spec, now)
        };
        write_analysis(
            &state_dir,
            &root_dir.join("analysis.json"),
            &analysis.to_json(),
        )
        .map(|()| analysis)
    })
    .await;
    let result = joined.unwrap_or_else(|e| Err(PhaseError::task("analyzer")(e)));
    match result {
        Err(e) => Analyzed {
            phase: phase(
                "analyze",
                PhaseStatus::Failed,
                t.elapsed(),
                Some(e.to_string()),
            ),
            record: None,
            failed: None,
            timings: Vec::new(),
        },
        Ok(_) if none => Analyzed {
            phase: phase(
                "analyze",
                PhaseStatus::Skipped,
                t.elapsed(),
                Some("no analyzers".into()),
            ),
            record: None,
            failed: None,
            timings: Vec::new(),
        },
        Ok(analysis) => {
            let failed = verdict(job.document.spec.analyze.fail_on, &analysis);
            Analyzed {
                phase: phase("analyze", PhaseStatus::Succeeded, t.elapsed(), None),
                record: Some(analysis.record()),
                failed,
                timings: analysis.timings,
            }
        }
    }
}

/// Writes `analysis.json` through the state directory handle (no symlink is followed).
fn write_analysis(state_dir: &Path, path: &Path, text: &str) -> Result<(), PhaseError> {
    let state = StateDir::open(state_dir)?;
    let mut file = state
        .create(path, Create::Truncate)
        .map_err(PhaseError::write("writing analysis.json"))?;
    file.write_all(text.as_bytes())
        .map_err(PhaseError::io_at("writing analysis.json"))
}

/// Why `fail_on` fails a run with `analysis`, naming the titles (ten at most).
pub(crate) fn verdict(fail_on: FailOn, analysis: &Analysis) -> Option<String> {
    let (_, warn, fail) = analysis.counts();
    let counted = match fail_on {
        FailOn::Never => return None,
        FailOn::Fail => fail,
        FailOn::Warn => fail + warn,
    };
    if counted == 0 {
        return None;
    }
    const NAMED: usize = 10;
    let titles: Vec<&str> = analysis
        .results
        .iter()
        .filter(|r| r.is_fail() || (fail_on == FailOn::Warn && r.is_warn()))
        .map(|r| r.title.as_str())
        .collect();
    let mut names = titles[..titles.len().min(NAMED)].join(", ");
    if titles.len() > NAMED {
        names.push_str(&format!(" and {} more", titles.len() - NAMED));
    }
    let what = match fail_on {
        FailOn::Warn => format!("{fail} failed and {warn} warned"),
        _ => format!("{fail} failed"),
    };
    Some(format!(
        "analysis: {what} (analyze.failOn: {}): {names}",
        match fail_on {
            FailOn::Warn => "warn",
            _ => "fail",
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{AnalyzeResult, Icon, Severity};

    fn analysis(severities: &[Severity]) -> Analysis {
        Analysis {
            results: severities
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let mut r = AnalyzeResult::new(format!("check {i}"), Icon("", ""));
                    r.severity = Some(*s);
                    r
                })
                .collect(),
            ..Analysis::default()
        }
    }

    #[test]
    fn fail_on_decides_which_outcomes_fail_the_run() {
        let warned = analysis(&[Severity::Pass, Severity::Warn]);
        assert_eq!(verdict(FailOn::Fail, &warned), None);
        assert_eq!(
            verdict(FailOn::Warn, &warned).as_deref(),
            Some("analysis: 0 failed and 1 warned (analyze.failOn: warn): check 1")
        );
        let failed = analysis(&[Severity::Fail, Severity::Warn]);
        assert_eq!(
            verdict(FailOn::Fail, &failed).as_deref(),
            Some("analysis: 1 failed (analyze.failOn: fail): check 0")
        );
        assert_eq!(verdict(FailOn::Never, &failed), None);
        let many = analysis(&[Severity::Fail; 12]);
        assert!(
            verdict(FailOn::Fail, &many)
                .expect("fails")
                .ends_with("check 9 and 2 more")
        );
    }
}
