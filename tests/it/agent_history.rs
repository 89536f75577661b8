//! Run record limits (`spec.history`, the `history` setting) through the real agent, and what
//! `history` shows about bundles retention removed.

use crate::support;

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

#[test]
fn a_removed_jobs_state_stays_for_the_grace_period_across_a_restart_then_goes() {
    let dd = dirs();
    let file = JobFile::new("gone").schedule("0 0 1 1 *").write(&dd.jobs);
    JobFile::new("stays").schedule("0 0 1 1 *").write(&dd.jobs);
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("removedJobGracePeriod", "2d")
        // `plan` below must see the removal before the agent applies it: no watcher reload
        // in between, however slow the machine (the test reloads explicitly).
        .setting("watchDebounce", "60s")
        .clock_at("2030-01-01T00:00:00Z")
        .start();
    let run = d.trigger("gone");
    let run_id = run["runId"].as_str().expect("run id").to_string();
    d.wait_run("gone", &run_id, Duration::from_secs(30));
    std::fs::remove_file(&file).expect("remove job file");
    // `plan` says what the removal keeps, and until when (from the CLI's own clock).
    let out = d.cli().arg("plan").output().expect("plan");
    let text = support::stdout(&out);
    let until = (chrono::Utc::now() + chrono::Duration::days(2)).format("%Y-%m-%d");
    assert!(
        text.contains("- remove   gone")
            && text.contains(&format!("bundles and records kept until {until}")),
        "{text}"
    );
    let (code, outcome) = d.reload();
    assert_eq!(code, 200, "{outcome}");
    let marker = dd.state.join("jobs/gone/removed-at");
    let at = wait_until(Duration::from_secs(10), "the removal mark", || {
        std::fs::read_to_string(&marker).map_err(|e| e.to_string())
    });
    assert!(at.starts_with("2030-01-01T00:0"), "{at}");
    let stopped = d.stop();
    assert!(stopped.status.success(), "{stopped:?}");
    // A day later, after a restart: still within the grace period.
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("removedJobGracePeriod", "2d")
        .clock_at("2030-01-02T00:00:00Z")
        .start();
    let _: Value = d.status();
    assert!(
        dd.state
            .join("jobs/gone/runs")
            .join(format!("{run_id}.json"))
            .is_file()
    );
    let stopped = d.stop();
    assert!(stopped.status.success(), "{stopped:?}");
    // After it: the directory goes, and the log names the job.
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("removedJobGracePeriod", "2d")
        // The mark is at 2030-01-01T00:0x (asserted above): ten minutes past two days is after
        // the grace period however long the first agent took under load.
        .clock_at("2030-01-03T00:10:00Z")
        .start();
    wait_until(Duration::from_secs(10), "jobs/gone to be removed", || {
        if dd.state.join("jobs/gone").exists() {
            Err("still there".to_string())
        } else {
            Ok(())
        }
    });
    let stopped = d.stop();
    assert!(
        stopped
            .stderr
            .contains("removed job's grace period is over")
            && stopped.stderr.contains("gone"),
        "{}",
        stopped.stderr
    );
    assert!(!dd.state.join("jobs/stays/removed-at").exists());
}

#[test]
fn history_shows_a_bundle_retention_removed_as_pruned_with_when_and_the_rule() {
    let dd = dirs();
    JobFile::new("kept")
        .schedule("0 0 1 1 *")
        .spec_line("retention: {keepLast: 1}")
        .write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let first = d.trigger("kept")["runId"]
        .as_str()
        .expect("run id")
        .to_string();
    let record = d.wait_run("kept", &first, Duration::from_secs(30));
    let bundle = record["bundle"]["path"]
        .as_str()
        .expect("bundle")
        .to_string();
    let second = d.trigger("kept")["runId"]
        .as_str()
        .expect("run id")
        .to_string();
    d.wait_run("kept", &second, Duration::from_secs(30));
    let pruned = wait_until(Duration::from_secs(30), "the first bundle pruned", || {
        let out = d
            .cli()
            .args(["history", "kept", "--output", "json"])
            .output()
            .map_err(|e| e.to_string())?;
        let runs: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        let run = runs
            .as_array()
            .and_then(|a| a.iter().find(|r| r["runId"] == first.as_str()))
            .cloned()
            .ok_or("no first run")?;
        if run["bundle"]["prunedAt"].is_string() {
            Ok(run)
        } else {
            Err(run.to_string())
        }
    });
    assert_eq!(pruned["bundle"]["prunedBy"], "keepLast", "{pruned}");
    assert!(!Path::new(&bundle).exists());
    let out = d.cli().args(["history", "kept"]).output().expect("history");
    let text = support::stdout(&out);
    let line = text
        .lines()
        .find(|l| l.contains(&first))
        .unwrap_or_else(|| panic!("no line for {first}: {text}"));
    assert!(
        line.contains("pruned 20") && line.contains("by keepLast") && line.contains(&bundle),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.contains(&second))
        .unwrap_or_else(|| panic!("no line for {second}: {text}"));
    assert!(!line.contains("pruned"), "{text}");
}

#[test]
fn succeeded_with_errors_is_its_own_outcome_in_metrics_and_history() {
    let dd = dirs();
    std::fs::write(
        dd.jobs.join("mixed.yaml"),
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: mixed\n\
         spec:\n  schedule: \"0 0 1 1 *\"\n  collect:\n    supportBundle:\n      hostCollectors:\n\
         \x20       - cpu: {}\n\
         \x20       - run: {collectorName: broken, command: /nonexistent/command}\n",
    )
    .expect("job file");
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let run_id = d.trigger("mixed")["runId"]
        .as_str()
        .expect("run id")
        .to_string();
    let record = d.wait_run("mixed", &run_id, Duration::from_secs(30));
    assert_eq!(record["status"], "succeeded-with-errors", "{record}");
    assert_eq!(
        record["reason"], "1 of 2 collectors failed: broken",
        "{record}"
    );
    let metric = |name: &str| {
        wait_until(Duration::from_secs(10), name, || {
            d.metric(name).ok_or_else(|| "not exported".to_string())
        })
    };
    assert_eq!(
        metric("troubleshoot_scheduler_executions_total{status=\"succeeded-with-errors\"}"),
        1.0
    );
    assert_eq!(
        metric(
            "troubleshoot_scheduler_last_run_outcome{job=\"mixed\",outcome=\"succeeded-with-errors\"}"
        ),
        1.0
    );
    assert_eq!(
        metric("troubleshoot_scheduler_last_run_outcome{job=\"mixed\",outcome=\"succeeded\"}"),
        0.0
    );
    let out = d
        .cli()
        .args(["history", "mixed"])
        .output()
        .expect("history");
    let text = support::stdout(&out);
    assert!(text.contains("succeeded-with-errors"), "{text}");
}

/// `status` and `history` for people: every time in UTC with a relative hint, a rejected file's
/// errors under it, tables cut to `COLUMNS` (`…`), and `-o wide` with every cell in full.
#[test]
fn status_and_history_fit_the_terminal_with_relative_times_and_wide_shows_everything() {
    let dd = dirs();
    let long = format!("a-{}", "long-name-".repeat(5).trim_end_matches('-'));
    JobFile::new(&long).write(&dd.jobs);
    std::fs::write(dd.jobs.join("broken.yaml"), "kind: [").expect("write broken.yaml");
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let run = d.trigger(&long);
    d.wait_run(
        &long,
        run["runId"].as_str().expect("id"),
        Duration::from_secs(30),
    );
    let text = |args: &[&str], columns: &str| {
        let out = d
            .cli()
            .env("COLUMNS", columns)
            .args(args)
            .output()
            .expect("cli");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let roomy = text(&["status"], "250");
    assert!(
        roomy.contains(" UTC (in "),
        "next run with a relative hint:\n{roomy}"
    );
    assert!(
        roomy.contains(" ago)") || roomy.contains(" UTC (now)"),
        "last run with a relative hint:\n{roomy}"
    );
    assert!(
        roomy.contains("invalid YAML"),
        "the rejected file's error:\n{roomy}"
    );
    assert!(!roomy.contains('…'), "nothing cut with room:\n{roomy}");
    let status = text(&["status"], "60");
    let table: Vec<&str> = status.lines().skip_while(|l| !l.contains("JOB")).collect();
    assert!(
        table.iter().all(|l| l.chars().count() <= 60),
        "the table fits 60 columns:\n{status}"
    );
    assert!(status.contains('…'), "long cells are cut:\n{status}");
    let wide = text(&["-o", "wide", "status"], "60");
    assert!(
        wide.contains(&long),
        "-o wide shows every cell in full:\n{wide}"
    );
    let history = text(&["history", &long], "250");
    assert!(
        history.contains(" ago)") || history.contains(" UTC (now)"),
        "{history}"
    );
    let history = text(&["history", &long], "60");
    assert!(
        history.lines().all(|l| l.chars().count() <= 60),
        "{history}"
    );
}

/// `status` (text and `-o json`) counts what the next prune would remove under the applied
/// retention, from the running agent, and removes nothing.
#[test]
fn status_shows_what_the_next_prune_would_remove() {
    let dd = dirs();
    let keep = |n: u32| {
        JobFile::new("thin")
            .spec_line(&format!("retention: {{keepLast: {n}}}"))
            .write(&dd.jobs);
    };
    keep(10);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let runs: Vec<Value> = (0..3)
        .map(|_| {
            let run = d.trigger("thin");
            d.wait_run(
                "thin",
                run["runId"].as_str().expect("id"),
                Duration::from_secs(60),
            )
        })
        .collect();
    let run = |args: &[&str]| {
        let out = d.cli().args(args).output().expect("cli");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        !run(&["status"]).contains("prune:"),
        "keepLast 10 keeps all three"
    );
    keep(1);
    let (code, body) = d.reload();
    assert!(code < 300, "reload: {code} {body}");
    let text = run(&["status"]);
    assert!(
        text.contains("prune: `thin`'s next prune would remove 2 bundle(s)"),
        "{text}"
    );
    let json: Value = serde_json::from_str(&run(&["-o", "json", "status"])).expect("json");
    let job = (json["status"]["jobs"].as_array().expect("jobs").iter())
        .find(|j| j["name"] == "thin")
        .unwrap_or_else(|| panic!("{json}"));
    let bytes = runs[0]["bundle"]["size"].as_u64().expect("size")
        + runs[1]["bundle"]["size"].as_u64().expect("size");
    assert_eq!(
        job["nextPrune"],
        json!({"bundles": 2, "bytes": bytes}),
        "{json}"
    );
    for r in &runs {
        let path = r["bundle"]["path"].as_str().expect("bundle path");
        assert!(Path::new(path).is_file(), "status removed {path}");
    }
}
