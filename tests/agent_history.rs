//! Run record limits (`spec.history`, the `history` setting) through the real agent, and what
//! `history` shows about bundles retention removed.

mod support;

use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use support::JobFile;
use support::daemon::{Daemon, dirs, record_ids, wait_until};

/// Writes a finished record as the agent would have, for a run that started at `started`.
fn seed_record(state: &Path, job: &str, run_id: &str, started: &str, status: &str) {
    let runs = state.join("jobs").join(job).join("runs");
    std::fs::create_dir_all(&runs).expect("runs dir");
    let record = json!({
        "version": 1,
        "runId": run_id,
        "job": job,
        "specHash": "seeded",
        "trigger": "schedule",
        "attempt": 1,
        "scheduledAt": started,
        "startedAt": started,
        "endedAt": started,
        "status": status,
        "reason": "seeded by the test",
        "host": "test",
    });
    std::fs::write(
        runs.join(format!("{run_id}.json")),
        serde_json::to_vec_pretty(&record).expect("json"),
    )
    .expect("write record");
}

fn wait_ids(state: &Path, job: &str, want: &[&str]) {
    wait_until(
        Duration::from_secs(30),
        &format!("records of {job} to be {want:?}"),
        || {
            let ids = record_ids(state, job);
            if ids == want {
                Ok(())
            } else {
                Err(format!("records: {ids:?}"))
            }
        },
    );
}

#[test]
fn records_beyond_keep_last_are_pruned_at_start_up_and_after_a_run_keeping_the_newest_success() {
    let dd = dirs();
    JobFile::new("busy")
        .schedule("0 0 1 1 *")
        .spec_line("history: {keepLast: 3}")
        .write(&dd.jobs);
    // The oldest is the only success: it stays although keepLast would remove it.
    seed_record(
        &dd.state,
        "busy",
        "20300101T000000Z",
        "2030-01-01T00:00:00Z",
        "succeeded",
    );
    for day in 2..=6 {
        let id = format!("2030010{day}T000000Z");
        let at = format!("2030-01-0{day}T00:00:00Z");
        seed_record(&dd.state, "busy", &id, &at, "failed");
    }
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .clock_at("2030-01-07T00:00:00Z")
        .start();
    wait_ids(
        &dd.state,
        "busy",
        &[
            "20300101T000000Z",
            "20300104T000000Z",
            "20300105T000000Z",
            "20300106T000000Z",
        ],
    );
    // A run that succeeds is the newest success now: the old one goes.
    let run = d.trigger("busy");
    let run_id = run["runId"].as_str().expect("run id").to_string();
    let record = d.wait_run("busy", &run_id, Duration::from_secs(30));
    assert_eq!(record["status"], "succeeded", "{record}");
    wait_ids(
        &dd.state,
        "busy",
        &["20300105T000000Z", "20300106T000000Z", run_id.as_str()],
    );
    let stopped = d.stop();
    assert!(
        stopped
            .stderr
            .contains("run records removed by the history limits"),
        "{}",
        stopped.stderr
    );
}

#[test]
fn the_history_setting_is_the_default_and_max_age_removes_old_records() {
    let dd = dirs();
    JobFile::new("aged").schedule("0 0 1 1 *").write(&dd.jobs);
    for day in 1..=4 {
        let id = format!("2030010{day}T000000Z");
        let at = format!("2030-01-0{day}T00:00:00Z");
        seed_record(&dd.state, "aged", &id, &at, "failed");
    }
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("history", "{keepLast: 100, maxAge: 2d}")
        .clock_at("2030-01-04T12:00:00Z")
        .start();
    wait_ids(&dd.state, "aged", &["20300103T000000Z", "20300104T000000Z"]);
    let _: Value = d.status();
}
