//! One-shot jobs (`spec.at`), jobs without a schedule (triggers or `after` only) and
//! `spec.activeWindow`, through the real agent with its clock shifted to the instants that
//! matter (no waiting for wall-clock minutes).

use crate::support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::daemon::{Daemon, Dirs, dirs, record_ids, wait_until};

const RUN_WAIT: Duration = Duration::from_secs(30);

/// A job file `name.yaml` with `spec_lines` (two-space indented under `spec:`) and a quick
/// host collector.
fn job(d: &Path, name: &str, spec_lines: &[&str]) -> PathBuf {
    let mut text = format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: {name}\nspec:\n"
    );
    for line in spec_lines {
        text.push_str(&format!("  {line}\n"));
    }
    text.push_str("  collect:\n    supportBundle:\n      hostCollectors:\n        - cpu: {}\n");
    let path = d.join(format!("{name}.yaml"));
    std::fs::write(&path, text).expect("write job file");
    path
}

fn cli_text(d: &Daemon, args: &[&str]) -> String {
    let out = d.cli().args(args).output().expect("run the CLI");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{args:?}: {text}");
    text
}

/// The `status` table row of `job`.
fn status_row(d: &Daemon, job: &str) -> String {
    let text = cli_text(d, &["status"]);
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(job))
        .unwrap_or_else(|| panic!("no row for {job}:\n{text}"))
        .to_string()
}

fn start(dd: &Dirs, at: &str) -> Daemon {
    Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .clock_at(at)
        .start()
}

#[test]
fn an_at_instant_runs_exactly_once_and_stays_done_across_a_restart() {
    let dd = dirs();
    job(&dd.jobs, "once", &["at: \"2030-01-01T01:00:00Z\""]);
    let d = start(&dd, "2030-01-01T00:59:57Z");
    let before = d.job("once").expect("job");
    assert_eq!(before["nextRun"], "2030-01-01T01:00:00Z", "{before}");
    assert_eq!(before["at"], "2030-01-01T01:00:00Z", "{before}");
    assert_eq!(before["phase"], "scheduled", "{before}");
    assert!(before.get("schedule").is_none(), "{before}");
    let r = d.wait_run("once", "20300101T010000Z", RUN_WAIT);
    assert_eq!(
        (&r["status"], &r["trigger"]),
        (&"succeeded".into(), &"schedule".into()),
        "{r}"
    );
    let done = d.wait_job("once", "done", RUN_WAIT, |j| j["phase"] == "done");
    assert!(done.get("nextRun").is_none(), "{done}");
    assert_eq!(
        d.metric("troubleshoot_scheduler_next_run{job=\"once\"}"),
        None,
        "a done job has no next fire"
    );
    let row = status_row(&d, "once");
    assert!(row.contains("done (ran 2030-01-01 01:00)"), "{row}");
    let history = cli_text(&d, &["history", "once"]);
    assert!(
        history.contains("one-shot at 2030-01-01 01:00:00 UTC: done (ran 2030-01-01 01:00)"),
        "{history}"
    );
    let stopped = d.stop();
    assert!(stopped.status.success(), "{stopped:?}");

    // Ten minutes later, well within startingDeadline (1h): the record says it ran.
    let d = start(&dd, "2030-01-01T01:10:00Z");
    let j = d.job("once").expect("job");
    assert_eq!(j["phase"], "done", "done from the records: {j}");
    assert!(j.get("nextRun").is_none(), "{j}");
    assert_eq!(record_ids(&dd.state, "once"), ["20300101T010000Z"]);
    // A reload does not disturb it either.
    let (code, _) = d.reload();
    assert_eq!(code, 200);
    assert_eq!(d.job("once").expect("job")["phase"], "done");
    assert_eq!(record_ids(&dd.state, "once"), ["20300101T010000Z"]);
    // Moving `at` makes a new one-shot: the plan says so, and it runs at the new instant.
    job(&dd.jobs, "once", &["at: \"2030-01-01T01:10:03Z\""]);
    let plan = cli_text(&d, &["plan"]);
    assert!(plan.contains("spec.at"), "{plan}");
    assert!(plan.contains("→ 2030-01-01T01:10:03Z"), "{plan}");
    let (code, _) = d.reload();
    assert_eq!(code, 200);
    let r = d.wait_run("once", "20300101T011003Z", RUN_WAIT);
    assert_eq!(r["status"], "succeeded", "{r}");
    assert_eq!(
        record_ids(&dd.state, "once"),
        ["20300101T010000Z", "20300101T011003Z"]
    );
}

#[test]
fn an_at_that_passed_runs_within_starting_deadline_and_is_missed_beyond() {
    let dd = dirs();
    job(&dd.jobs, "late", &["at: \"2030-01-01T01:00:00Z\""]);
    job(
        &dd.jobs,
        "too-late",
        &["at: \"2030-01-01T01:00:00+00:00\"", "startingDeadline: 10m"],
    );
    // The agent first sees both jobs half an hour after their instant.
    let d = start(&dd, "2030-01-01T01:30:00Z");
    let r = d.wait_run("late", "20300101T010000Z", RUN_WAIT);
    assert_eq!(
        (&r["status"], &r["trigger"]),
        (&"succeeded".into(), &"catch-up".into()),
        "{r}"
    );
    let missed = d.wait_run("too-late", "20300101T010000Z-missed", RUN_WAIT);
    assert_eq!(missed["status"], "missed", "{missed}");
    assert_eq!(missed["missed"]["count"], 1, "{missed}");
    d.wait_job("too-late", "done", RUN_WAIT, |j| j["phase"] == "done");
    d.wait_job("late", "done", RUN_WAIT, |j| j["phase"] == "done");
    let row = status_row(&d, "too-late");
    assert!(row.contains("done (missed)"), "{row}");
    let stopped = d.stop();
    assert!(stopped.status.success(), "{stopped:?}");
    // A restart decides nothing again.
    let d = start(&dd, "2030-01-01T01:31:00Z");
    assert_eq!(d.job("late").expect("job")["phase"], "done");
    assert_eq!(d.job("too-late").expect("job")["phase"], "done");
    assert_eq!(record_ids(&dd.state, "late"), ["20300101T010000Z"]);
    assert_eq!(
        record_ids(&dd.state, "too-late"),
        ["20300101T010000Z-missed"]
    );
    // Its file removed and put back (a reload adds it again): its records still say done.
    let file = dd.jobs.join("late.yaml");
    let text = std::fs::read(&file).expect("read");
    let record = std::fs::read(d.record_path("late", "20300101T010000Z")).expect("record");
    std::fs::remove_file(&file).expect("rm");
    assert_eq!(d.reload().0, 200);
    assert!(d.job("late").is_none());
    std::fs::write(&file, text).expect("write back");
    assert_eq!(d.reload().0, 200);
    assert_eq!(d.job("late").expect("job")["phase"], "done");
    assert_eq!(record_ids(&dd.state, "late"), ["20300101T010000Z"]);
    let after = std::fs::read(d.record_path("late", "20300101T010000Z")).expect("record");
    assert!(record == after, "the run was not run again");
}

#[test]
fn jobs_without_a_schedule_are_never_fired_by_the_clock_but_run_by_hand() {
    let dd = dirs();
    job(&dd.jobs, "parent", &["schedule: \"0 0 1 1 *\""]);
    job(&dd.jobs, "follower", &["after: [{job: parent}]"]);
    job(
        &dd.jobs,
        "on-alert",
        &["triggers: [{alertmanager: {matchers: ['alertname=\"Disk\"']}}]"],
    );
    let d = start(&dd, "2030-01-01T00:00:00Z");
    for name in ["follower", "on-alert"] {
        let j = d.job(name).expect("job");
        assert_eq!(j["phase"], "triggerOnly", "{j}");
        assert!(
            j.get("nextRun").is_none() && j.get("schedule").is_none(),
            "{j}"
        );
        let row = status_row(&d, name);
        assert!(
            row.contains("triggers only") && row.contains("on trigger"),
            "{row}"
        );
    }
    assert_eq!(
        d.metric("troubleshoot_scheduler_next_run{job=\"follower\"}"),
        None
    );
    let plan = cli_text(&d, &["plan", "--show-next", "3"]);
    assert!(!plan.contains("error"), "{plan}");
    // By hand, and through its parent.
    let id = d.trigger("parent")["runId"]
        .as_str()
        .expect("id")
        .to_string();
    d.wait_run("parent", &id, RUN_WAIT);
    wait_until(RUN_WAIT, "the follower's chained run", || {
        let runs = d.runs("follower");
        match runs.first() {
            Some(r) if r["status"] == "succeeded" && r["trigger"] == "after" => Ok(()),
            _ => Err(format!("{runs:?}")),
        }
    });
    let id = d.trigger("on-alert")["runId"]
        .as_str()
        .expect("id")
        .to_string();
    let r = d.wait_run("on-alert", &id, RUN_WAIT);
    assert_eq!(r["status"], "succeeded", "{r}");
    assert_eq!(d.runs("on-alert").len(), 1, "only the manual run");
}

#[test]
fn an_active_window_holds_back_fires_and_chained_runs_outside_it() {
    let dd = dirs();
    // Per minute, from 00:02: the 00:01 slot is not due.
    job(
        &dd.jobs,
        "windowed",
        &[
            "schedule: \"* * * * *\"",
            "activeWindow: {from: \"2030-01-01T00:02:00Z\"}",
        ],
    );
    // Its window ended long ago: nothing fires or is missed, and chained runs are skipped.
    job(&dd.jobs, "parent", &["schedule: \"0 0 1 1 *\""]);
    job(
        &dd.jobs,
        "ended",
        &[
            "schedule: \"* * * * *\"",
            "after: [{job: parent}]",
            "activeWindow: {until: \"2029-06-01T00:00:00Z\"}",
        ],
    );
    let d = start(&dd, "2030-01-01T00:00:30Z");
    let j = d.job("windowed").expect("job");
    assert_eq!(j["nextRun"], "2030-01-01T00:02:00Z", "{j}");
    let j = d.job("ended").expect("job");
    assert_eq!(j["phase"], "expired", "{j}");
    assert!(j.get("nextRun").is_none(), "{j}");
    assert!(status_row(&d, "ended").contains("expired"));
    let id = d.trigger("parent")["runId"]
        .as_str()
        .expect("id")
        .to_string();
    d.wait_run("parent", &id, RUN_WAIT);
    let skipped: Value = wait_until(RUN_WAIT, "the chained run's record", || {
        d.runs("ended")
            .first()
            .cloned()
            .ok_or_else(|| "none".to_string())
    });
    assert_eq!(skipped["status"], "skipped", "{skipped}");
    assert!(
        skipped["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("activeWindow"),
        "{skipped}"
    );
    // A manual run is not limited by the window.
    let id = d.trigger("ended")["runId"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(d.wait_run("ended", &id, RUN_WAIT)["status"], "succeeded");
}

/// `validate FILE`: (exit code, stderr).
fn validate(state: &Path, file: &Path) -> (i32, String) {
    let out = support::agent(state)
        .arg("validate")
        .arg(file)
        .output()
        .expect("run validate");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_locates_every_timing_error_with_a_hint() {
    let dd = dirs();
    let cases: [(&str, &[&str], &str, &str); 6] = [
        (
            "both",
            &["schedule: \"0 2 * * *\"", "at: \"2030-01-01T00:00:00Z\""],
            ":7:7: error: `schedule` and `at` cannot both be set",
            "keep `schedule` for a recurring job, or `at` for a one-shot",
        ),
        (
            "nothing",
            &["timeout: 5m"],
            ":6:3: error: the job has nothing that starts it",
            "`at: \"2026-12-24T02:00:00Z\"` (once)",
        ),
        (
            "naive",
            &["at: \"2030-01-01T02:00:00\""],
            ":6:7: error: \"2030-01-01T02:00:00\" has no UTC offset",
            "",
        ),
        (
            "outside",
            &[
                "at: \"2030-01-01T02:00:00Z\"",
                "activeWindow: {until: \"2030-01-01T02:00:00Z\"}",
            ],
            ":6:7: error: `at` 2030-01-01T02:00:00Z is outside the job's activeWindow",
            "move `at` inside activeWindow",
        ),
        (
            "empty-window",
            &[
                "schedule: \"0 2 * * *\"",
                "activeWindow: {from: \"2030-01-02T00:00:00Z\", until: \"2030-01-01T00:00:00Z\"}",
            ],
            ":7:55: error: activeWindow.until 2030-01-01T00:00:00Z is not after activeWindow.from",
            "`until` must be later than `from`",
        ),
        (
            "no-bound",
            &["schedule: \"0 2 * * *\"", "activeWindow: {}"],
            ":7:17: error: activeWindow needs `from`, `until` or both",
            "or remove it",
        ),
    ];
    for (name, lines, error, hint) in cases {
        let file = job(&dd.jobs, name, lines);
        let (code, err) = validate(&dd.state, &file);
        assert_eq!(code, 1, "{name}: {err}");
        let want = format!("{}{error}", file.display());
        assert!(err.contains(&want), "{name}: want {want}\n{err}");
        assert!(err.contains(hint), "{name}: hint {hint}\n{err}");
        std::fs::remove_file(&file).expect("rm");
    }
}

#[test]
fn plan_shows_the_instant_and_the_window_of_added_jobs() {
    let dd = dirs();
    job(
        &dd.jobs,
        "tonight",
        &[
            "at: \"2030-01-01T02:00:00+01:00\"",
            "activeWindow: {from: \"2029-12-31T00:00:00Z\", until: \"2030-01-02T00:00:00Z\"}",
        ],
    );
    job(&dd.jobs, "follower", &["after: [{job: tonight}]"]);
    let out = support::agent(&dd.state)
        .arg("--jobs-dir")
        .arg(&dd.jobs)
        .arg("plan")
        .output()
        .expect("run plan");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    let out = support::agent(&dd.state)
        .arg("--jobs-dir")
        .arg(&dd.jobs)
        .args(["-v", "validate"])
        .output()
        .expect("run validate");
    let valid = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{valid}");
    assert!(
        valid.contains("next    tonight: 2030-01-01T01:00:00Z"),
        "{valid}"
    );
    assert!(
        valid.contains("next    follower: none (started by triggers or `after` only)"),
        "{valid}"
    );
    for line in [
        "      once at 2030-01-01T01:00:00Z",
        "      active from 2029-12-31T00:00:00Z until 2030-01-02T00:00:00Z",
        "      at 2030-01-01T01:00:00Z (2030-01-01 01:00:00 UTC)",
        "      no schedule: started by its triggers or `after` only",
    ] {
        assert!(text.lines().any(|l| l == line), "want {line:?}:\n{text}");
    }
}
