//! The daemon's life: crashes, a second agent, SIGTERM with and without enough grace, a busy
//! port, damaged state, a jobs dir that comes and goes, clock jumps, and the CLI beside it.

use crate::support;

use serde_json::Value;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;
use support::JobFile;
use support::daemon::{Daemon, Dirs, children_of, dirs, read_json, record_ids, wait_until};

const RUN_WAIT: Duration = Duration::from_secs(30);

fn run_id(answer: &Value) -> String {
    answer["runId"].as_str().expect("runId").to_string()
}

fn wait_running(d: &Daemon, job: &str, id: &str) {
    wait_until(
        Duration::from_secs(10),
        &format!("{job}/{id} running"),
        || {
            let v = read_json(&d.record_path(job, id))?;
            if v["status"] == "running" {
                Ok(())
            } else {
                Err(v.to_string())
            }
        },
    );
}

fn text(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn kill_9_during_a_run_is_marked_interrupted_at_the_next_start() {
    let dd = dirs();
    JobFile::new("long").sleep(30).write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let id = run_id(&d.trigger("long"));
    wait_running(&d, "long", &id);
    let path = d.record_path("long", &id);
    d.kill9();
    assert_eq!(
        read_json(&path).expect("record")["status"],
        "running",
        "a crash leaves the record running"
    );
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let r = read_json(&path).expect("record");
    assert_interrupted_by_crash(&r, "long");
    assert!(r["endedAt"].is_string(), "{r}");
    let last = &d.job("long").expect("job")["lastRun"];
    assert_eq!(last["status"], "interrupted", "{last}");
}

/// Collector processes (`sleep`) the agent has started.
fn collectors_of(d: &Daemon) -> usize {
    children_of(d.pid())
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep")
        })
        .count()
}

#[test]
fn kill_9_during_a_burst_of_same_second_fires_leaves_every_collecting_run_recorded() {
    const JOBS: usize = 20;
    let dd = dirs();
    let names: Vec<String> = (0..JOBS).map(|i| format!("burst-{i:02}")).collect();
    for name in &names {
        JobFile::new(name)
            .schedule("* * * * *")
            .sleep(120)
            .write(&dd.jobs);
    }
    // The agent's clock 3 s before a minute: all the jobs fire together once it is up.
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("maxConcurrentRuns", JOBS)
        .clock_offset_to_second(57)
        .start();
    // Killed as soon as the first run collects, while the others may still be starting. (A
    // start-up slower than 3 s misses that minute; the next one fires them all the same.)
    wait_until(
        Duration::from_secs(150),
        "a run to start collecting",
        || match collectors_of(&d) {
            0 => Err("no collector process yet".to_string()),
            n => Ok(n),
        },
    );
    let collecting = collectors_of(&d);
    d.kill9();
    let recorded: Vec<(String, String)> = names
        .iter()
        .flat_map(|name| {
            record_ids(&dd.state, name)
                .into_iter()
                .map(move |id| (name.clone(), id))
        })
        .collect();
    assert!(
        recorded.len() >= collecting,
        "{collecting} runs were collecting but only {} have a record: {recorded:?}",
        recorded.len()
    );
    assert_eq!(
        recorded.len(),
        JOBS,
        "every fire of the burst has its record once any run collects: {recorded:?}"
    );
    let _d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    for (job, id) in &recorded {
        let path = dd
            .state
            .join("jobs")
            .join(job)
            .join("runs")
            .join(format!("{id}.json"));
        let r = read_json(&path).expect("record");
        assert_interrupted_by_crash(&r, &format!("{job}/{id}"));
    }
    for job in &names {
        let runs = dd.state.join("jobs").join(job).join("runs");
        let leftovers: Vec<_> = std::fs::read_dir(&runs)
            .expect("runs dir")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".json"))
            .collect();
        assert!(leftovers.is_empty(), "{job}: {leftovers:?}");
    }
}

#[test]
fn a_second_agent_on_the_same_state_dir_names_the_holder_and_exits_1() {
    let dd = dirs();
    JobFile::new("a").write(&dd.jobs);
    let first = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let second = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .start_expecting_exit(Duration::from_secs(20));
    assert_eq!(second.status.code(), Some(1), "{second:?}");
    assert!(
        second.stderr.contains(&format!("pid {}", first.pid())),
        "the message names the holder's pid {}: {}",
        first.pid(),
        second.stderr
    );
    assert_eq!(
        first.get("/readyz").status,
        200,
        "the first agent is unaffected"
    );
}

#[test]
fn sigterm_lets_a_run_finish_within_the_grace_period() {
    let dd = dirs();
    JobFile::new("short").sleep(3).write(&dd.jobs);
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("shutdownGracePeriod", "30s")
        .start();
    let id = run_id(&d.trigger("short"));
    wait_running(&d, "short", &id);
    let path = d.record_path("short", &id);
    let stopped = d.stop();
    assert_eq!(stopped.status.code(), Some(0), "{}", stopped.stderr);
    let r = read_json(&path).expect("record");
    assert_eq!(r["status"], "succeeded", "{r}");
}

#[test]
fn sigterm_after_a_short_grace_interrupts_the_run_and_keeps_what_it_had() {
    let dd = dirs();
    JobFile::new("long").sleep(30).write(&dd.jobs);
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("shutdownGracePeriod", "1s")
        .start();
    let id = run_id(&d.trigger("long"));
    wait_running(&d, "long", &id);
    let path = d.record_path("long", &id);
    let started = std::time::Instant::now();
    let stopped = d.stop();
    assert_eq!(stopped.status.code(), Some(0), "{}", stopped.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "the 30s run was cut off after the 1s grace, took {:?}",
        started.elapsed()
    );
    let r = read_json(&path).expect("record");
    assert_eq!(r["status"], "interrupted", "{r}");
    assert!(
        r["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("shut down"),
        "{r}"
    );
    assert_eq!(r["bundle"]["partial"], true, "{r}");
    assert!(
        Path::new(r["bundle"]["path"].as_str().expect("bundle")).is_file(),
        "{r}"
    );
}

#[test]
fn a_port_in_use_exits_1_with_a_clear_message() {
    let dd = dirs();
    JobFile::new("a").write(&dd.jobs);
    let busy = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port();
    let out = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .port(port)
        .start_expecting_exit(Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("in use"), "{}", out.stderr);
    drop(busy);
}

#[test]
fn a_corrupt_applied_json_is_set_aside_and_the_agent_starts() {
    let dd = dirs();
    JobFile::new("a").write(&dd.jobs);
    std::fs::create_dir_all(&dd.state).expect("state dir");
    let applied = dd.state.join("applied.json");
    std::fs::write(&applied, "{not json").expect("write");
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    assert!(d.job("a").is_some());
    let aside = dd.state.join("applied.json.corrupt");
    assert_eq!(
        std::fs::read_to_string(&aside).expect("set aside"),
        "{not json"
    );
    let fresh = read_json(&applied).expect("a new applied.json");
    assert!(fresh["jobs"]["a"].is_object(), "{fresh}");
}

#[test]
fn a_corrupt_run_record_is_set_aside_and_never_fatal() {
    let dd = dirs();
    JobFile::new("a").write(&dd.jobs);
    let runs = dd.state.join("jobs/a/runs");
    std::fs::create_dir_all(&runs).expect("runs dir");
    std::fs::write(runs.join("20250101T000000Z.json"), "{").expect("write");
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    assert!(runs.join("20250101T000000Z.json.corrupt").is_file());
    assert!(!runs.join("20250101T000000Z.json").exists());
    assert!(d.runs("a").is_empty());
    let id = run_id(&d.trigger("a"));
    assert_eq!(d.wait_run("a", &id, RUN_WAIT)["status"], "succeeded");
    let out = d
        .cli()
        .args(["history", "a", "--output", "json"])
        .output()
        .expect("history");
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn records_that_cannot_be_written_make_readyz_fail_while_the_agent_keeps_serving() {
    // Tests run as root, so permissions do not stop writes: a FILE where the runs directory
    // belongs makes every record write fail for real.
    let dd = dirs();
    JobFile::new("a").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let job_dir = dd.state.join("jobs/a");
    std::fs::create_dir_all(&job_dir).expect("job dir");
    std::fs::write(job_dir.join("runs"), "not a directory").expect("write");
    d.trigger("a");
    let body = wait_until(RUN_WAIT, "/readyz 503", || {
        let r = d.get("/readyz");
        if r.status == 503 {
            Ok(r.body)
        } else {
            Err(format!("HTTP {} {}", r.status, r.body))
        }
    });
    assert!(body.contains("cannot write run records"), "{body}");
    assert_eq!(d.get("/healthz").status, 200);
    assert!(d.job("a").is_some(), "status is still served");
    // Fixed: the next run writes its record and the agent is ready again.
    std::fs::remove_file(job_dir.join("runs")).expect("remove");
    let id = run_id(&d.trigger("a"));
    assert_eq!(d.wait_run("a", &id, RUN_WAIT)["status"], "succeeded");
    wait_until(Duration::from_secs(10), "/readyz 200 again", || {
        let r = d.get("/readyz");
        if r.status == 200 {
            Ok(())
        } else {
            Err(format!("HTTP {} {}", r.status, r.body))
        }
    });
}

#[test]
fn a_jobs_dir_that_disappears_keeps_its_jobs_and_changes_apply_when_it_returns() {
    let dd = dirs();
    JobFile::new("a").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let away = dd.jobs.with_file_name("jobs.away");
    std::fs::rename(&dd.jobs, &away).expect("move the jobs dir away");
    let (code, outcome) = d.reload();
    assert_eq!(code, 422, "{outcome}");
    assert!(outcome["error"].is_string(), "{outcome}");
    assert_eq!(
        d.metric("troubleshoot_scheduler_config_last_reload_successful"),
        Some(0.0)
    );
    let job = d.job("a").expect("job a stays while the directory is gone");
    assert_eq!(job["schedule"], "0 2 * * *");
    JobFile::new("a").schedule("0 3 * * *").write(&away);
    std::fs::rename(&away, &dd.jobs).expect("bring it back");
    wait_until(Duration::from_secs(15), "the edit to apply", || {
        let job = d.job("a").ok_or("job a gone")?;
        if job["schedule"] == "0 3 * * *" {
            Ok(())
        } else {
            Err(job.to_string())
        }
    });
    assert_eq!(
        d.metric("troubleshoot_scheduler_config_last_reload_successful"),
        Some(1.0)
    );
}

/// Runs an hourly job at 2030-01-01T01:00Z, stops the agent, returns the record.
fn fire_at_one(dd: &Dirs) -> Value {
    JobFile::new("hourly").schedule("0 * * * *").write(&dd.jobs);
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .clock_at("2030-01-01T00:59:57Z")
        .start();
    let r = d.wait_run("hourly", "20300101T010000Z", RUN_WAIT);
    assert_eq!(r["status"], "succeeded", "{r}");
    let stopped = d.stop();
    assert!(stopped.status.success(), "{stopped:?}");
    r
}

#[test]
fn a_clock_set_back_never_fires_the_same_slot_twice() {
    let dd = dirs();
    let before = fire_at_one(&dd);
    // The clock is set back to before the slot that already ran.
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .clock_at("2030-01-01T00:59:58Z")
        .start();
    let job = d.job("hourly").expect("job");
    assert_eq!(
        job["nextRun"], "2030-01-01T02:00:00Z",
        "01:00 was handled: {job}"
    );
    wait_until(
        Duration::from_secs(10),
        "the agent's clock to pass 01:00:02",
        || {
            if d.now()
                > "2030-01-01T01:00:02Z"
                    .parse::<chrono::DateTime<chrono::Utc>>()
                    .expect("t")
            {
                Ok(())
            } else {
                Err(d.now().to_string())
            }
        },
    );
    assert_eq!(
        d.job("hourly").expect("job")["nextRun"],
        "2030-01-01T02:00:00Z"
    );
    let after = read_json(&d.record_path("hourly", "20300101T010000Z")).expect("record");
    assert_eq!(before, after, "the 01:00 run was not run again");
    assert_eq!(record_ids(&dd.state, "hourly"), ["20300101T010000Z"]);
    assert_eq!(
        d.metric("troubleshoot_scheduler_jobs_active"),
        Some(0.0),
        "nothing runs"
    );
}

#[test]
fn a_clock_jumping_forward_follows_the_catch_up_rules() {
    let dd = dirs();
    fire_at_one(&dd);
    // Two days later, 30 s after a slot: one catch-up for it, the 47 before it missed.
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .clock_at("2030-01-03T01:00:30Z")
        .start();
    let r = d.wait_run("hourly", "20300103T010000Z", RUN_WAIT);
    assert_eq!(r["trigger"], "catch-up", "{r}");
    let missed = d.wait_run("hourly", "20300103T000000Z-missed", RUN_WAIT);
    assert_eq!(missed["status"], "missed", "{missed}");
    assert_eq!(missed["missed"]["count"], 47, "{missed}");
    assert_eq!(
        missed["missed"]["first"], "2030-01-01T02:00:00Z",
        "{missed}"
    );
    assert_eq!(missed["missed"]["last"], "2030-01-03T00:00:00Z", "{missed}");
    assert_eq!(
        record_ids(&dd.state, "hourly"),
        [
            "20300101T010000Z",
            "20300103T000000Z-missed",
            "20300103T010000Z"
        ]
    );
}

#[test]
fn trigger_cli_waits_for_the_run_and_exits_0_on_success_and_1_on_failure() {
    let dd = dirs();
    JobFile::new("good").write(&dd.jobs);
    JobFile::new("bad").engine("support-bundle").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let out = d.cli().args(["trigger", "good"]).output().expect("trigger");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("succeeded"),
        "{}",
        text(&out)
    );
    let out = d.cli().args(["trigger", "bad"]).output().expect("trigger");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("failed"),
        "{}",
        text(&out)
    );
    // Both went through the agent: their records are in its history.
    assert_eq!(d.runs("good").len(), 1);
    assert_eq!(d.runs("bad").len(), 1);
}

fn json_of(cmd: &mut std::process::Command) -> Value {
    let out = cmd.output().expect("run the CLI");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)))
}

#[test]
fn status_and_history_json_with_and_without_an_agent() {
    let dd = dirs();
    JobFile::new("a").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let id = run_id(&d.trigger("a"));
    assert_eq!(d.wait_run("a", &id, RUN_WAIT)["status"], "succeeded");
    wait_until(Duration::from_secs(5), "lastRun in status", || {
        let job = d.job("a").ok_or("no job")?;
        if job["lastRun"]["runId"] == id.as_str() {
            Ok(())
        } else {
            Err(job.to_string())
        }
    });
    let live = json_of(d.cli().args(["status", "--output", "json"]));
    assert_eq!(live["agentRunning"], true, "{live}");
    assert_eq!(live["status"]["pid"], d.pid(), "{live}");
    assert_eq!(live["status"]["jobs"][0]["name"], "a", "{live}");
    assert_eq!(
        live["status"]["jobs"][0]["lastRun"]["runId"],
        id.as_str(),
        "{live}"
    );
    let history_live = json_of(d.cli().args(["history", "a", "--output", "json"]));
    assert_eq!(history_live[0]["runId"], id.as_str(), "{history_live}");

    // The same settings, dirs and address once nothing listens there any more.
    let mut d = d;
    let stopped = d.stop_within(Duration::from_secs(45));
    assert!(stopped.status.success(), "{stopped:?}");
    let offline = json_of(d.cli().args(["status", "--output", "json"]));
    assert_eq!(offline["agentRunning"], false, "{offline}");
    assert_eq!(offline["status"]["jobs"][0]["name"], "a", "{offline}");
    assert_eq!(
        offline["status"]["jobs"][0]["lastRun"]["runId"],
        id.as_str(),
        "{offline}"
    );
    assert!(
        offline["status"]["jobs"][0]["nextRun"].is_string(),
        "{offline}"
    );
    let history_offline = json_of(d.cli().args(["history", "a", "--output", "json"]));
    assert_eq!(history_offline, history_live);
}

#[test]
fn one_jobs_broken_runs_dir_at_start_does_not_keep_the_agent_down() {
    let dd = dirs();
    JobFile::new("fine").write(&dd.jobs);
    JobFile::new("broken").write(&dd.jobs);
    let job_dir = dd.state.join("jobs/broken");
    std::fs::create_dir_all(&job_dir).expect("job dir");
    std::fs::write(job_dir.join("runs"), "not a directory").expect("write");
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    assert!(
        d.stderr().contains("jobs/broken/runs"),
        "the problem is logged: {}",
        d.stderr()
    );
    let id = run_id(&d.trigger("fine"));
    assert_eq!(d.wait_run("fine", &id, RUN_WAIT)["status"], "succeeded");
    d.trigger("broken");
    let body = wait_until(RUN_WAIT, "/readyz 503", || {
        let r = d.get("/readyz");
        if r.status == 503 {
            Ok(r.body)
        } else {
            Err(format!("HTTP {} {}", r.status, r.body))
        }
    });
    assert!(body.contains("cannot write run records"), "{body}");
}

/// A run record the restart marked `interrupted` because the agent was killed during it.
fn assert_interrupted_by_crash(record: &serde_json::Value, what: &str) {
    assert_eq!(record["status"], "interrupted", "{what}: {record}");
    assert!(
        record["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("crash or kill"),
        "{what}: {record}"
    );
}
