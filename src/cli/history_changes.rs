//! `history JOB --changes`: per run, what changed since the job's previous completed run (the
//! record's `changes` summary; `jobs/<job>/changes/<run-id>.json` has every change).

use super::args::Output;
use super::{exit, human, print_json};
use crate::state::records::RunRecord;
use serde_json::json;

/// Prints the runs' change summaries, newest first.
pub fn print(output: Output, runs: &[RunRecord]) -> anyhow::Result<u8> {
    match output {
        Output::Json => {
            let rows: Vec<serde_json::Value> = runs
                .iter()
                .map(|r| {
                    json!({
                        "runId": r.run_id,
                        "startedAt": r.started_at,
                        "status": r.status.as_str(),
                        "changes": r.changes,
                    })
                })
                .collect();
            print_json(&rows)?;
        }
        out @ (Output::Text | Output::Wide) => {
            let wide = out == Output::Wide;
            let now = chrono::Utc::now();
            let mut table = human::table(
                &["RUN", "STARTED", "STATUS", "SINCE", "CHANGES"],
                super::style::stdout_colour(),
            );
            for r in runs {
                let (since, summary) = match &r.changes {
                    Some(c) => (
                        c.since.clone().unwrap_or_else(|| "-".into()),
                        c.summary.clone(),
                    ),
                    // The job's first comparable run, or a run that produced no bundle.
                    None => ("-".into(), "-".into()),
                };
                table.add_row(human::row(
                    vec![
                        r.run_id.clone().into(),
                        human::when(r.started_at, now).into(),
                        human::status_cell(r.status.as_str().to_string(), Some(r.status)),
                        since.into(),
                        summary.into(),
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
