//! Reloads of the real daemon: the watcher (drop, edit, break, fix, delete, rename-over-write,
//! ConfigMap symlink swaps), SIGHUP, concurrent `POST /-/reload`, and reloads that must leave
//! other jobs alone.

use crate::support;

use serde_json::Value;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;
use support::JobFile;
use support::daemon::{Daemon, dirs, read_json, wait_until};

/// The bound: a file change shows in `status` within 2 s.
const APPLY: Duration = Duration::from_secs(2);
const LAST_RELOAD_OK: &str = "troubleshoot_scheduler_config_last_reload_successful";
const RELOADS_OK: &str = "troubleshoot_scheduler_config_reloads_total{result=\"success\"}";

/// Waits (2 s) until job `name` is in status and `check` accepts it.
fn wait_job(d: &Daemon, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    d.wait_job(name, what, APPLY, check)
}

fn wait_gone(d: &Daemon, name: &str) {
    wait_until(APPLY, &format!("{name} to be removed"), || {
        match d.job(name) {
            None => Ok(()),
            Some(job) => Err(job.to_string()),
        }
    });
}

fn wait_metric(d: &Daemon, name: &str, want: f64) {
    wait_until(APPLY, &format!("{name} = {want}"), || {
        match d.metric(name) {
            Some(v) if v == want => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
}

/// Writes `text` to `path` as editors and Ansible do: a temp file beside it, renamed over it.
fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("yaml.tmp");
    std::fs::write(&tmp, text).expect("write temp");
    std::fs::rename(&tmp, path).expect("rename over");
}

fn plan_exit(d: &Daemon) -> (Option<i32>, String) {
    let out = d
        .cli()
        .args(["plan", "--detailed-exitcode"])
        .output()
        .expect("plan");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn a_dropped_job_file_appears_in_status_within_2s() {
    let d = Daemon::builder().start();
    assert!(d.status()["watching"] == true, "inotify is in use");
    JobFile::new("dropped").write(&d.jobs_dir);
    let job = wait_job(&d, "dropped", "in status", |_| true);
    assert_eq!(job["schedule"], "0 2 * * *");
    assert_eq!(job["stale"], false);
}

#[test]
fn an_edit_applies_and_plan_then_shows_no_changes() {
    let dd = dirs();
    let path = JobFile::new("edited").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    assert_eq!(plan_exit(&d).0, Some(0));
    std::fs::write(
        &path,
        JobFile::new("edited").schedule("30 4 * * *").render(),
    )
    .expect("edit");
    let job = wait_job(&d, "edited", "the new schedule", |j| {
        j["schedule"] == "30 4 * * *"
    });
    assert!(
        job["nextRun"]
            .as_str()
            .unwrap_or_default()
            .ends_with("T04:30:00Z"),
        "{job}"
    );
    let (code, out) = plan_exit(&d);
    assert_eq!(
        code,
        Some(0),
        "plan shows no changes after the reload:\n{out}"
    );
}

#[test]
fn a_broken_file_keeps_the_last_good_version_until_it_is_fixed() {
    let dd = dirs();
    let path = JobFile::new("fragile").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    assert_eq!(d.metric(LAST_RELOAD_OK), Some(1.0));
    std::fs::write(
        &path,
        JobFile::new("fragile")
            .schedule("0 3 * * *")
            .spec_line("schedul: oops")
            .render(),
    )
    .expect("break");
    let job = wait_job(&d, "fragile", "marked stale", |j| j["stale"] == true);
    assert_eq!(job["schedule"], "0 2 * * *", "the last good version runs");
    assert!(job["nextRun"].is_string(), "{job}");
    wait_metric(&d, LAST_RELOAD_OK, 0.0);
    let status = d.status();
    let rejected = status["rejectedFiles"].to_string();
    assert!(rejected.contains("fragile.yaml"), "{status}");
    std::fs::write(
        &path,
        JobFile::new("fragile").schedule("0 3 * * *").render(),
    )
    .expect("fix");
    let job = wait_job(&d, "fragile", "fixed", |j| {
        j["stale"] == false && j["schedule"] == "0 3 * * *"
    });
    assert!(job["nextRun"].is_string(), "{job}");
    wait_metric(&d, LAST_RELOAD_OK, 1.0);
}

#[test]
fn a_deleted_file_removes_its_job() {
    let dd = dirs();
    let path = JobFile::new("doomed").write(&dd.jobs);
    JobFile::new("kept").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    assert!(d.job("doomed").is_some());
    std::fs::remove_file(&path).expect("delete");
    wait_gone(&d, "doomed");
    assert!(d.job("kept").is_some());
    assert!(
        d.metric("troubleshoot_scheduler_next_run_timestamp_seconds{job=\"doomed\"}")
            .is_none()
    );
}

#[test]
fn a_rename_over_write_is_picked_up() {
    let dd = dirs();
    let path = JobFile::new("renamed").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    replace_file(
        &path,
        &JobFile::new("renamed").schedule("15 5 * * *").render(),
    );
    wait_job(&d, "renamed", "the renamed-over version", |j| {
        j["schedule"] == "15 5 * * *"
    });
    // A second round: the watch is on the directory, so the new inode is watched too.
    replace_file(
        &path,
        &JobFile::new("renamed").schedule("45 6 * * *").render(),
    );
    wait_job(&d, "renamed", "the second renamed-over version", |j| {
        j["schedule"] == "45 6 * * *"
    });
}

#[test]
fn a_configmap_symlink_swap_is_picked_up() {
    let dd = dirs();
    let jobs = &dd.jobs;
    // The kubelet's layout: versioned dirs, `..data` -> current one, visible names -> ..data/.
    let v1 = jobs.join("..2024_01_01_00_00_00.000000001");
    std::fs::create_dir(&v1).expect("v1");
    std::fs::write(v1.join("job.yaml"), JobFile::new("cm").render()).expect("v1 job");
    symlink("..2024_01_01_00_00_00.000000001", jobs.join("..data")).expect("..data");
    symlink("..data/job.yaml", jobs.join("job.yaml")).expect("job.yaml");
    let d = Daemon::builder().jobs(jobs).state(&dd.state).start();
    assert_eq!(d.job("cm").expect("cm")["schedule"], "0 2 * * *");
    assert_eq!(
        d.status()["jobs"].as_array().map(Vec::len),
        Some(1),
        "the versioned dir and ..data are not read as job files"
    );
    let v2 = jobs.join("..2024_01_02_00_00_00.000000002");
    std::fs::create_dir(&v2).expect("v2");
    std::fs::write(
        v2.join("job.yaml"),
        JobFile::new("cm").schedule("0 7 * * *").render(),
    )
    .expect("v2 job");
    symlink("..2024_01_02_00_00_00.000000002", jobs.join("..data_tmp")).expect("..data_tmp");
    std::fs::rename(jobs.join("..data_tmp"), jobs.join("..data")).expect("atomic swap");
    std::fs::remove_dir_all(&v1).expect("remove v1");
    let job = wait_job(&d, "cm", "the swapped version", |j| {
        j["schedule"] == "0 7 * * *"
    });
    assert_eq!(job["stale"], false, "{job}");
}

#[test]
fn sighup_reloads_when_nothing_else_would() {
    let dd = dirs();
    JobFile::new("a").write(&dd.jobs);
    // Polling only, a rescan far away, and no file changes: only the signal can reload.
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("watchMode", "poll")
        .setting("rescanInterval", "1h")
        .start();
    let before = d.status();
    assert_eq!(before["watching"], false, "{before}");
    let count = d.metric(RELOADS_OK).expect("startup reload counted");
    d.signal(libc::SIGHUP);
    wait_metric(&d, RELOADS_OK, count + 1.0);
    let after = d.status();
    assert_ne!(
        before["lastReload"]["at"], after["lastReload"]["at"],
        "status shows the new reload: {after}"
    );
    assert_eq!(after["lastReload"]["successful"], true, "{after}");
    assert_eq!(d.get("/readyz").status, 200);
}

#[test]
fn concurrent_reload_requests_all_get_an_outcome_and_none_is_lost() {
    let dd = dirs();
    JobFile::new("base").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let socket = d.socket();
    let jobs = dd.jobs.clone();
    // Each client writes its own job file and then asks for a reload: whatever pass answers it
    // must have read the directory after the file was written.
    let answers: Vec<(String, u16, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let jobs = jobs.clone();
                let socket = socket.clone();
                s.spawn(move || {
                    let name = format!("c{i}");
                    // Written as config management writes (temp file, then rename): another
                    // client's reload may read the directory at any moment, and must never see
                    // this file half-written.
                    let tmp = jobs.join(format!(".{name}.yaml.tmp"));
                    std::fs::write(&tmp, JobFile::new(&name).render()).expect("write temp");
                    std::fs::rename(&tmp, jobs.join(format!("{name}.yaml"))).expect("rename");
                    let r = support::daemon::http_unix(&socket, "POST", "/-/reload").expect("POST");
                    let v: Value = serde_json::from_str(&r.body).expect("JSON outcome");
                    (name, r.status, v)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect()
    });
    for (name, code, outcome) in &answers {
        assert_eq!(*code, 200, "{outcome}");
        assert_eq!(outcome["successful"], true, "{outcome}");
        let plan = &outcome["plan"];
        let seen = ["add", "unchanged", "change"].iter().any(|k| {
            plan[k]
                .as_array()
                .is_some_and(|a| a.iter().any(|j| j["name"] == name.as_str()))
        });
        assert!(seen, "the reload answering {name} saw its file: {outcome}");
    }
    let status = d.status();
    assert_eq!(status["jobs"].as_array().map(Vec::len), Some(9), "{status}");
}

#[test]
fn reloading_a_changed_job_leaves_another_jobs_run_and_next_fire_alone() {
    let dd = dirs();
    JobFile::new("a").sleep(5).write(&dd.jobs);
    let b = JobFile::new("b").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let next_a = d.job("a").expect("a")["nextRun"].clone();
    let hash_a = {
        let applied = read_json(&dd.state.join("applied.json")).expect("applied");
        applied["jobs"]["a"]["specHash"].clone()
    };
    let run = d.trigger("a")["runId"].as_str().expect("runId").to_string();
    std::fs::write(&b, JobFile::new("b").schedule("0 9 * * *").render()).expect("edit b");
    wait_job(&d, "b", "the new schedule", |j| {
        j["schedule"] == "0 9 * * *"
    });
    let a = d.job("a").expect("a");
    assert_eq!(a["nextRun"], next_a, "a's timer is untouched: {a}");
    assert!(
        a["running"]
            .as_array()
            .is_some_and(|r| r.iter().any(|id| *id == run.as_str())),
        "a's run goes on: {a}"
    );
    let record = d.wait_run("a", &run, Duration::from_secs(30));
    assert_eq!(record["status"], "succeeded", "{record}");
    assert_eq!(record["specHash"], hash_a, "{record}");
    assert_eq!(d.job("a").expect("a")["nextRun"], next_a);
}

#[test]
fn reload_cli_exits_1_when_a_file_is_rejected() {
    let dd = dirs();
    JobFile::new("ok").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let out = d.cli().arg("reload").output().expect("reload");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    std::fs::write(dd.jobs.join("broken.yaml"), "spec: [").expect("broken");
    let out = d.cli().arg("reload").output().expect("reload");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("broken.yaml"), "{text}");
    let (code, outcome) = d.reload();
    assert_eq!(code, 422, "{outcome}");
    assert!(d.job("ok").is_some());
}

#[test]
fn after_a_restart_a_rejected_file_keeps_its_jobs_at_the_last_good_version() {
    let dd = dirs();
    let specs = dd.jobs.with_file_name("specs");
    std::fs::create_dir_all(&specs).expect("specs dir");
    let spec = specs.join("host.yaml");
    std::fs::write(
        &spec,
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {name: host}\nspec:\n  hostCollectors:\n    - cpu: {}\n",
    )
    .expect("spec");
    let with_spec = JobFile::new("referencing")
        .schedule("15 4 * * 1-5")
        .time_zone("Europe/Berlin")
        .spec_file("../specs/host.yaml");
    let with_spec_path = with_spec.write(&dd.jobs);
    let inline_path = JobFile::new("inline").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let before = wait_job(&d, "referencing", "loaded", |j| j["nextRun"].is_string());
    d.stop();

    // Both files break while the agent is stopped.
    for path in [&with_spec_path, &inline_path] {
        let text = std::fs::read_to_string(path).expect("read");
        std::fs::write(path, text.replace("schedule:", "schedul:")).expect("break");
    }
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let job = wait_job(&d, "referencing", "kept", |j| j["stale"] == true);
    assert_eq!(job["schedule"], "15 4 * * 1-5", "{job}");
    assert_eq!(job["timeZone"], "Europe/Berlin", "{job}");
    assert_eq!(
        job["nextRun"], before["nextRun"],
        "scheduled as before: {job}"
    );
    let inline = wait_job(&d, "inline", "kept", |j| j["stale"] == true);
    assert!(inline["nextRun"].is_string(), "{inline}");
    assert_eq!(d.metric(LAST_RELOAD_OK), Some(0.0));
    // It runs, as the version that was applied.
    let applied = read_json(&dd.state.join("applied.json")).expect("applied.json");
    let run = d.trigger("referencing");
    let record = d.wait_run(
        "referencing",
        run["runId"].as_str().expect("run id"),
        Duration::from_secs(60),
    );
    assert_eq!(record["status"], "succeeded", "{record}");
    assert_eq!(
        record["specHash"], applied["jobs"]["referencing"]["specHash"],
        "{record}"
    );
    d.stop();

    // The spec file changes too: the applied version can no longer be rebuilt, and the
    // agent says so rather than running something that was never applied.
    std::fs::write(
        &spec,
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {name: host}\nspec:\n  hostCollectors:\n    - memory: {}\n",
    )
    .expect("edit spec");
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    wait_job(&d, "inline", "still kept", |j| j["stale"] == true);
    assert!(d.job("referencing").is_none(), "{}", d.status());
    let stderr = d.stderr();
    assert!(
        stderr.contains("cannot be reproduced") && stderr.contains("referencing"),
        "{stderr}"
    );
}

#[test]
fn a_watcher_pass_handles_a_name_clash_with_an_untouched_file() {
    let dd = dirs();
    for i in 0..40 {
        JobFile::new(&format!("job{i:02}")).write(&dd.jobs);
    }
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    assert_eq!(d.metric(LAST_RELOAD_OK), Some(1.0));
    // job20.yaml now defines job07, which the untouched job07.yaml defines too: both files are
    // rejected and both keep their jobs at the last good version.
    let edited = dd.jobs.join("job20.yaml");
    replace_file(
        &edited,
        &JobFile::new("job07").schedule("0 5 * * *").render(),
    );
    wait_metric(&d, LAST_RELOAD_OK, 0.0);
    let job07 = wait_job(&d, "job07", "stale", |j| j["stale"] == true);
    assert_eq!(job07["schedule"], "0 2 * * *", "{job07}");
    wait_job(&d, "job20", "stale", |j| j["stale"] == true);
    let rejected = d.status()["rejectedFiles"].to_string();
    assert!(
        rejected.contains("job07.yaml") && rejected.contains("job20.yaml"),
        "{rejected}"
    );
    assert!(
        rejected.contains("is also defined in"),
        "the clash is the reason: {rejected}"
    );
    // The edit was read by a pass over the changed entries, not the whole directory.
    let log = d.stderr();
    assert!(
        log.lines()
            .any(|l| l.contains("reload: Plan") && l.contains("changed entries")),
        "{log}"
    );
    // Ending the clash frees both, and the result is what a whole pass finds.
    replace_file(
        &edited,
        &JobFile::new("job20").schedule("0 6 * * *").render(),
    );
    wait_metric(&d, LAST_RELOAD_OK, 1.0);
    wait_job(&d, "job20", "changed", |j| {
        j["stale"] == false && j["schedule"] == "0 6 * * *"
    });
    wait_job(&d, "job07", "valid again", |j| j["stale"] == false);
    let (code, text) = plan_exit(&d);
    assert_eq!(code, Some(0), "plan shows no changes: {text}");
    // A delete and a rename, one after the other.
    std::fs::remove_file(dd.jobs.join("job30.yaml")).expect("rm");
    wait_gone(&d, "job30");
    std::fs::rename(dd.jobs.join("job31.yaml"), dd.jobs.join("moved.yaml")).expect("mv");
    wait_job(&d, "job31", "moved", |j| {
        j["source"]
            .as_str()
            .is_some_and(|s| s.ends_with("moved.yaml"))
    });
    let (code, text) = plan_exit(&d);
    assert_eq!(code, Some(0), "plan shows no changes: {text}");
}

#[test]
fn with_strict_a_pass_after_a_blocked_one_applies_everything_pending() {
    let dd = dirs();
    let a = JobFile::new("alpha").write(&dd.jobs);
    let b = JobFile::new("beta").write(&dd.jobs);
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .strict()
        .start();
    // beta breaks: with --strict nothing is applied, including alpha's change after it.
    std::fs::write(&b, JobFile::new("beta").spec_line("schedul: oops").render()).expect("break");
    wait_metric(&d, LAST_RELOAD_OK, 0.0);
    replace_file(&a, &JobFile::new("alpha").schedule("0 4 * * *").render());
    wait_until(APPLY, "alpha's edit to be seen and refused", || {
        let log = d.stderr();
        if log.matches("Nothing is applied (--strict)").count() >= 2 {
            Ok(())
        } else {
            Err(log)
        }
    });
    assert_eq!(d.job("alpha").expect("alpha")["schedule"], "0 2 * * *");
    // Fixing beta applies alpha's pending change too, though only beta.yaml changed now.
    replace_file(&b, &JobFile::new("beta").render());
    wait_metric(&d, LAST_RELOAD_OK, 1.0);
    wait_job(&d, "alpha", "the pending change applied", |j| {
        j["schedule"] == "0 4 * * *"
    });
    let (code, text) = plan_exit(&d);
    assert_eq!(code, Some(0), "plan shows no changes: {text}");
}
