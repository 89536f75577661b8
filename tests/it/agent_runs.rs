//! Runs through the real daemon: concurrency policies, timeout, retries, the global limit,
//! scheduled fires (via the hidden clock offset), catch-up and `missed` after downtime.

use crate::support;

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use support::JobFile;
use support::daemon::{Daemon, dirs, read_json, record_ids, wait_until};

const RUN_WAIT: Duration = Duration::from_secs(30);

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("instant")
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap_or_else(|e| panic!("not a time ({e}): {v}"))
}

/// Waits for a run record to appear and leave `running`.
fn wait_record(state: &Path, job: &str, run_id: &str) -> Value {
    let path = state
        .join("jobs")
        .join(job)
        .join("runs")
        .join(format!("{run_id}.json"));
    wait_until(RUN_WAIT, &format!("record {job}/{run_id}"), || {
        let v = read_json(&path)
            .map_err(|e| format!("{e}; records so far: {:?}", record_ids(state, job)))?;
        if v["status"] == "running" {
            Err(format!("still running: {v}"))
        } else {
            Ok(v)
        }
    })
}

fn wait_running(d: &Daemon, job: &str, run_id: &str) {
    wait_until(
        Duration::from_secs(10),
        &format!("{job}/{run_id} to be running"),
        || {
            let v = read_json(&d.record_path(job, run_id))?;
            if v["status"] == "running" {
                Ok(())
            } else {
                Err(v.to_string())
            }
        },
    );
}

#[test]
fn forbid_skips_a_second_trigger_and_names_the_running_run() {
    let dd = dirs();
    JobFile::new("forbid")
        .sleep(4)
        .spec_line("concurrencyPolicy: Forbid")
        .write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let first = d.trigger("forbid");
    assert_eq!(first["state"], "started", "{first}");
    let first_id = first["runId"].as_str().expect("runId").to_string();
    let second = d.trigger("forbid");
    assert_eq!(second["state"], "skipped", "{second}");
    let second_id = second["runId"].as_str().expect("runId").to_string();
    let skipped = d.wait_run("forbid", &second_id, RUN_WAIT);
    assert_eq!(skipped["status"], "skipped", "{skipped}");
    let reason = skipped["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&first_id) && reason.contains("Forbid"),
        "the reason must name the running run {first_id}: {skipped}"
    );
    let done = d.wait_run("forbid", &first_id, RUN_WAIT);
    assert_eq!(done["status"], "succeeded", "{done}");
}

#[test]
fn replace_interrupts_the_running_run_and_keeps_its_partial_bundle() {
    let dd = dirs();
    JobFile::new("replace")
        .sleep(4)
        .spec_line("concurrencyPolicy: Replace")
        .write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let first = d.trigger("replace")["runId"]
        .as_str()
        .expect("runId")
        .to_string();
    wait_running(&d, "replace", &first);
    let second = d.trigger("replace");
    assert_eq!(second["state"], "started", "{second}");
    let replaced = d.wait_run("replace", &first, RUN_WAIT);
    assert_eq!(replaced["status"], "interrupted", "{replaced}");
    assert!(
        replaced["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("Replace"),
        "{replaced}"
    );
    assert_eq!(replaced["bundle"]["partial"], true, "{replaced}");
    let bundle = replaced["bundle"]["path"].as_str().expect("bundle path");
    assert!(
        Path::new(bundle).is_file(),
        "partial bundle {bundle} is kept"
    );
    let newer = d.wait_run("replace", second["runId"].as_str().expect("id"), RUN_WAIT);
    assert_eq!(newer["status"], "succeeded", "{newer}");
}

#[test]
fn allow_runs_both() {
    let dd = dirs();
    JobFile::new("allow")
        .sleep(3)
        .spec_line("concurrencyPolicy: Allow")
        .write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let a = d.trigger("allow");
    let b = d.trigger("allow");
    assert_eq!(
        (&a["state"], &b["state"]),
        (&"started".into(), &"started".into())
    );
    let a = d.wait_run("allow", a["runId"].as_str().expect("id"), RUN_WAIT);
    let b = d.wait_run("allow", b["runId"].as_str().expect("id"), RUN_WAIT);
    assert_eq!(
        (&a["status"], &b["status"]),
        (&"succeeded".into(), &"succeeded".into())
    );
    assert!(
        time(&b["startedAt"]) < time(&a["endedAt"]),
        "the runs overlap: {a} {b}"
    );
}

#[test]
fn a_run_over_its_timeout_is_timed_out_and_keeps_a_partial_bundle() {
    let dd = dirs();
    JobFile::new("slow")
        .sleep(10)
        .spec_line("timeout: 2s")
        .write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let id = d.trigger("slow")["runId"]
        .as_str()
        .expect("runId")
        .to_string();
    let r = d.wait_run("slow", &id, RUN_WAIT);
    assert_eq!(r["status"], "timed-out", "{r}");
    assert_eq!(r["bundle"]["partial"], true, "{r}");
    assert!(
        Path::new(r["bundle"]["path"].as_str().expect("bundle path")).is_file(),
        "{r}"
    );
    let took = time(&r["endedAt"]) - time(&r["startedAt"]);
    assert!(
        took < chrono::Duration::seconds(9),
        "cancelled at the 2s timeout, not after the 10s command: {took}"
    );
}

#[test]
fn a_failed_scheduled_run_is_retried_with_backoff_up_to_the_limit() {
    let dd = dirs();
    // The external engine is not in this build: the run fails for real, quickly.
    JobFile::new("flaky")
        .schedule("* * * * *")
        .engine("support-bundle")
        .spec_line("retry: {limit: 2, backoff: 1s}")
        .write(&dd.jobs);
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .clock_at("2030-01-01T00:00:57Z")
        .start();
    let base = "20300101T000100Z";
    let first = wait_record(&d.state_dir, "flaky", base);
    let r1 = wait_record(&d.state_dir, "flaky", &format!("{base}-retry1"));
    let r2 = wait_record(&d.state_dir, "flaky", &format!("{base}-retry2"));
    for (r, trigger, attempt) in [
        (&first, "schedule", 1),
        (&r1, "retry", 2),
        (&r2, "retry", 3),
    ] {
        assert_eq!(r["status"], "failed", "{r}");
        assert_eq!(r["trigger"], trigger, "{r}");
        assert_eq!(r["attempt"], attempt, "{r}");
        assert_eq!(r["scheduledAt"], "2030-01-01T00:01:00Z", "{r}");
    }
    // Backoff 1s, then doubled.
    assert!(
        time(&r1["startedAt"]) - time(&first["endedAt"]) >= chrono::Duration::milliseconds(900),
        "{first} {r1}"
    );
    assert!(
        time(&r2["startedAt"]) - time(&r1["endedAt"]) >= chrono::Duration::milliseconds(1900),
        "{r1} {r2}"
    );
    assert_eq!(
        record_ids(&d.state_dir, "flaky"),
        [
            base.to_string(),
            format!("{base}-retry1"),
            format!("{base}-retry2")
        ]
    );
}

#[test]
fn max_concurrent_runs_queues_fires_in_order() {
    let dd = dirs();
    for name in ["qa", "qb", "qc"] {
        JobFile::new(name).sleep(2).write(&dd.jobs);
    }
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("maxConcurrentRuns", 1)
        .start();
    let mut ids = Vec::new();
    for (job, want) in [("qa", "started"), ("qb", "queued"), ("qc", "queued")] {
        let a = d.trigger(job);
        assert_eq!(a["state"], want, "{job}: {a}");
        ids.push((job, a["runId"].as_str().expect("id").to_string()));
    }
    let status = d.status();
    assert_eq!(status["queuedRuns"], 2, "two runs wait: {status}");
    let records: Vec<Value> = ids
        .iter()
        .map(|(job, id)| d.wait_run(job, id, RUN_WAIT))
        .collect();
    for r in &records {
        assert_eq!(r["status"], "succeeded", "{r}");
    }
    for pair in records.windows(2) {
        assert!(
            time(&pair[1]["startedAt"]) >= time(&pair[0]["endedAt"]),
            "one at a time, in trigger order: {} then {}",
            pair[0],
            pair[1]
        );
    }
}

#[test]
fn a_schedule_fires_at_the_minute() {
    let dd = dirs();
    JobFile::new("minutely")
        .schedule("* * * * *")
        .write(&dd.jobs);
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .clock_at("2030-01-01T00:00:57Z")
        .start();
    let job = d.job("minutely").expect("job in status");
    assert_eq!(job["nextRun"], "2030-01-01T00:01:00Z", "{job}");
    let r = wait_record(&d.state_dir, "minutely", "20300101T000100Z");
    assert_eq!(r["trigger"], "schedule", "{r}");
    assert_eq!(r["scheduledAt"], "2030-01-01T00:01:00Z", "{r}");
    assert_eq!(r["status"], "succeeded", "{r}");
    assert!(time(&r["startedAt"]) >= t("2030-01-01T00:01:00Z"), "{r}");
    let job = d.job("minutely").expect("job in status");
    assert_eq!(job["nextRun"], "2030-01-01T00:02:00Z", "{job}");
}

#[test]
fn a_schedule_fires_at_the_next_minute_of_the_shifted_real_clock() {
    let dd = dirs();
    JobFile::new("everyminute")
        .schedule("* * * * *")
        .write(&dd.jobs);
    // "now" a few seconds before a minute boundary of today's clock, not a fixed date.
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .clock_offset_to_second(57)
        .start();
    let job = d.job("everyminute").expect("job in status");
    let next = time(&job["nextRun"]);
    assert_eq!(next.timestamp() % 60, 0, "{job}");
    assert!(
        next > d.now() && next - d.now() <= chrono::Duration::seconds(4),
        "the next minute is seconds away: {job} (agent now {})",
        d.now()
    );
    let id = next.format("%Y%m%dT%H%M%SZ").to_string();
    let r = wait_record(&d.state_dir, "everyminute", &id);
    assert_eq!(r["trigger"], "schedule", "{r}");
    assert_eq!(time(&r["scheduledAt"]), next, "{r}");
    assert_eq!(r["status"], "succeeded", "{r}");
}

/// Runs an hourly job once at 2030-01-01T01:00Z and stops the agent.
fn fire_once_at_one_oclock(dd: &support::daemon::Dirs, deadline: Option<&str>) {
    let mut job = JobFile::new("hourly").schedule("0 * * * *");
    if let Some(deadline) = deadline {
        job = job.spec_line(&format!("startingDeadline: {deadline}"));
    }
    job.write(&dd.jobs);
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .clock_at("2030-01-01T00:59:57Z")
        .start();
    let r = wait_record(&dd.state, "hourly", "20300101T010000Z");
    assert_eq!(r["status"], "succeeded", "{r}");
    let stopped = d.stop();
    assert!(stopped.status.success(), "{stopped:?}");
}

#[test]
fn after_downtime_the_latest_slot_catches_up_and_the_rest_are_missed() {
    let dd = dirs();
    fire_once_at_one_oclock(&dd, None);
    // Three hours later: 02:00, 03:00 and 04:00 passed; 04:00 is 10 minutes old, within the
    // default startingDeadline of 1h.
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .clock_at("2030-01-01T04:10:00Z")
        .start();
    let catch_up = wait_record(&dd.state, "hourly", "20300101T040000Z");
    assert_eq!(catch_up["trigger"], "catch-up", "{catch_up}");
    assert_eq!(
        catch_up["scheduledAt"], "2030-01-01T04:00:00Z",
        "{catch_up}"
    );
    assert_eq!(catch_up["status"], "succeeded", "{catch_up}");
    let missed = wait_record(&dd.state, "hourly", "20300101T030000Z-missed");
    assert_eq!(missed["status"], "missed", "{missed}");
    assert_eq!(missed["missed"]["count"], 2, "{missed}");
    assert_eq!(
        missed["missed"]["first"], "2030-01-01T02:00:00Z",
        "{missed}"
    );
    assert_eq!(missed["missed"]["last"], "2030-01-01T03:00:00Z", "{missed}");
    assert_eq!(
        d.metric("troubleshoot_scheduler_missed_runs_total{job=\"hourly\"}"),
        Some(2.0)
    );
    assert_eq!(
        record_ids(&dd.state, "hourly"),
        [
            "20300101T010000Z",
            "20300101T030000Z-missed",
            "20300101T040000Z"
        ]
    );
    d.wait_job("hourly", "next run at 05:00", Duration::from_secs(5), |j| {
        j["nextRun"] == "2030-01-01T05:00:00Z"
    });
}

#[test]
fn after_downtime_longer_than_the_deadline_everything_is_missed() {
    let dd = dirs();
    fire_once_at_one_oclock(&dd, Some("5m"));
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .clock_at("2030-01-01T04:10:00Z")
        .start();
    let missed = wait_record(&dd.state, "hourly", "20300101T040000Z-missed");
    assert_eq!(missed["status"], "missed", "{missed}");
    assert_eq!(missed["missed"]["count"], 3, "{missed}");
    assert_eq!(
        missed["missed"]["first"], "2030-01-01T02:00:00Z",
        "{missed}"
    );
    assert_eq!(missed["missed"]["last"], "2030-01-01T04:00:00Z", "{missed}");
    d.wait_job("hourly", "next run at 05:00", Duration::from_secs(5), |j| {
        j["nextRun"] == "2030-01-01T05:00:00Z"
    });
    assert_eq!(
        record_ids(&dd.state, "hourly"),
        ["20300101T010000Z", "20300101T040000Z-missed"],
        "no catch-up run outside startingDeadline"
    );
}

/// The per-job alerting metrics: the latest outcome of each job (1 for it, 0 for the other
/// outcomes) and the end of its latest success, also after a restart, where they come from the
/// records; "no success in 2 intervals" is then one PromQL expression over them.
#[test]
fn last_outcome_and_last_success_are_exported_per_job_and_survive_a_restart() {
    let dd = dirs();
    JobFile::new("good").write(&dd.jobs);
    // The external engine is not in this build: its runs fail for real, quickly.
    JobFile::new("bad").engine("support-bundle").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let good = d.trigger("good");
    let good = d.wait_run("good", good["runId"].as_str().expect("id"), RUN_WAIT);
    let bad = d.trigger("bad");
    let bad = d.wait_run("bad", bad["runId"].as_str().expect("id"), RUN_WAIT);
    assert_eq!(
        (&good["status"], &bad["status"]),
        (&"succeeded".into(), &"failed".into())
    );
    let ended = time(&good["endedAt"]).timestamp_millis() as f64 / 1000.0;
    let check = |d: &Daemon| {
        let outcome = |job: &str, outcome: &str| {
            d.metric(&format!(
                "troubleshoot_scheduler_last_run_outcome{{job=\"{job}\",outcome=\"{outcome}\"}}"
            ))
        };
        assert_eq!(outcome("good", "succeeded"), Some(1.0));
        assert_eq!(outcome("good", "failed"), Some(0.0));
        assert_eq!(outcome("bad", "failed"), Some(1.0));
        assert_eq!(outcome("bad", "succeeded"), Some(0.0));
        let last = d
            .metric("troubleshoot_scheduler_last_success_timestamp_seconds{job=\"good\"}")
            .expect("good's last success");
        assert!((last - ended).abs() < 0.002, "{last} vs {ended}");
        assert_eq!(
            d.metric("troubleshoot_scheduler_last_success_timestamp_seconds{job=\"bad\"}"),
            None
        );
    };
    check(&d);
    d.stop();
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    check(&d);
    // A removed job's series go with it.
    std::fs::remove_file(dd.jobs.join("good.yaml")).expect("remove good.yaml");
    let (code, _) = d.reload();
    assert_eq!(code, 200);
    assert_eq!(
        d.metric("troubleshoot_scheduler_last_run_outcome{job=\"good\",outcome=\"succeeded\"}"),
        None
    );
}

/// Without `-v` the agent says what it does, one line each: its start, a rejected file with its
/// first error, a run's start and end (outcome, duration, bundle size); plain text, as stderr is
/// a file here (colour only on a terminal). `-q` keeps only warnings.
#[test]
fn the_agent_logs_start_reloads_and_runs_at_info_by_default_without_colour() {
    let dd = dirs();
    JobFile::new("logged").write(&dd.jobs);
    std::fs::write(dd.jobs.join("broken.yaml"), "kind: [").expect("write broken.yaml");
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let run = d.trigger("logged");
    d.wait_run("logged", run["runId"].as_str().expect("id"), RUN_WAIT);
    let log = wait_until(Duration::from_secs(10), "the run's end in the log", || {
        let log = d.stderr();
        log.contains("run finished")
            .then_some(log.clone())
            .ok_or(log)
    });
    for needle in [
        "agent starting",
        "job file rejected",
        "broken.yaml",
        "invalid YAML",
        "run started",
        "run finished",
        "status=\"succeeded\"",
        "duration_s=",
        "bundle_bytes=",
    ] {
        assert!(log.contains(needle), "`{needle}` not in the log:\n{log}");
    }
    assert!(
        !log.contains('\x1b'),
        "escape codes in a log file:\n{log:?}"
    );
    d.stop();

    let q = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .arg("-q")
        .start();
    let run = q.trigger("logged");
    q.wait_run("logged", run["runId"].as_str().expect("id"), RUN_WAIT);
    let log = q.stderr();
    assert!(!log.contains("run started"), "{log}");
    assert!(log.contains("job file rejected"), "warnings stay: {log}");
}
