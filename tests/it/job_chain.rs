//! Job chaining (`spec.after`) through the real daemon and `validate`: children start when
//! their parent's run ends with a listed outcome, carry the parent's identity, and bad chains
//! (unknown parents, cycles) are located errors.

use crate::support;

use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use support::JobFile;
use support::daemon::{Daemon, dirs, read_json, record_ids, wait_until};

const RUN_WAIT: Duration = Duration::from_secs(60);

/// The one finished record of `job` (waits for it).
fn only_record(d: &Daemon, job: &str) -> Value {
    wait_until(RUN_WAIT, &format!("a finished run of {job}"), || {
        let ids = record_ids(&d.state_dir, job);
        let [id] = ids.as_slice() else {
            return Err(format!("records: {ids:?}"));
        };
        let v = read_json(&d.record_path(job, id))?;
        if v["status"] == "running" {
            Err(format!("still running: {v}"))
        } else {
            Ok(v)
        }
    })
}

fn after(parent: &str, on: &str) -> String {
    format!("after: [{{job: {parent}, on: [{on}]}}]")
}

/// Lines of the daemon's log that say a chained run starts.
fn chain_starts(d: &Daemon) -> Vec<String> {
    (d.stderr().lines())
        .filter(|l| l.contains("starting run after"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_chain_of_three_runs_in_order_and_records_each_parent() {
    let dd = dirs();
    JobFile::new("first").write(&dd.jobs);
    (JobFile::new("second").spec_line(&after("first", "succeeded"))).write(&dd.jobs);
    (JobFile::new("third").spec_line(&after("second", "any"))).write(&dd.jobs);
    // Named to sort first: were it chosen, its start would be logged before `second`'s.
    (JobFile::new("a-on-failure").spec_line(&after("first", "failed"))).write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let first = d.trigger("first");
    let first_id = first["runId"].as_str().expect("runId").to_string();
    let parent = d.wait_run("first", &first_id, RUN_WAIT);
    assert_eq!(parent["status"], "succeeded", "{parent}");
    let second = only_record(&d, "second");
    assert_eq!(second["status"], "succeeded", "{second}");
    assert_eq!(second["trigger"], "after", "{second}");
    assert_eq!(second["parent"]["job"], "first", "{second}");
    assert_eq!(second["parent"]["runId"], first_id.as_str(), "{second}");
    assert_eq!(second["parent"]["status"], "succeeded", "{second}");
    let third = only_record(&d, "third");
    assert_eq!(third["trigger"], "after", "{third}");
    assert_eq!(third["parent"]["job"], "second", "{third}");
    assert_eq!(third["parent"]["runId"], second["runId"], "{third}");
    let starts = chain_starts(&d);
    assert_eq!(starts.len(), 2, "only second and third start: {starts:?}");
    assert!(
        record_ids(&d.state_dir, "a-on-failure").is_empty(),
        "a child on [failed] must not run after a success"
    );
}

#[test]
fn a_failure_starts_only_the_children_on_failed() {
    let dd = dirs();
    // The external engine is not in this build: the run fails for real, quickly.
    JobFile::new("broken")
        .engine("support-bundle")
        .write(&dd.jobs);
    (JobFile::new("a-on-success").spec_line(&after("broken", "succeeded"))).write(&dd.jobs);
    (JobFile::new("on-failure").spec_line(&after("broken", "failed"))).write(&dd.jobs);
    (JobFile::new("on-anything").spec_line(&after("broken", "any"))).write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let id = d.trigger("broken")["runId"]
        .as_str()
        .expect("runId")
        .to_string();
    let parent = d.wait_run("broken", &id, RUN_WAIT);
    assert_eq!(parent["status"], "failed", "{parent}");
    for child in ["on-failure", "on-anything"] {
        let r = only_record(&d, child);
        assert_eq!(r["parent"]["status"], "failed", "{r}");
        assert_eq!(r["parent"]["runId"], id.as_str(), "{r}");
    }
    let starts = chain_starts(&d);
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert!(
        record_ids(&d.state_dir, "a-on-success").is_empty(),
        "a child on [succeeded] must not run after a failure"
    );
}

#[test]
fn a_parent_removed_while_it_runs_starts_nothing_and_says_so() {
    let dd = dirs();
    let parent_file = JobFile::new("slow").sleep(3).write(&dd.jobs);
    (JobFile::new("kid").spec_line(&after("slow", "any"))).write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let id = d.trigger("slow")["runId"]
        .as_str()
        .expect("runId")
        .to_string();
    std::fs::remove_file(&parent_file).expect("remove parent");
    let (code, body) = d.reload();
    assert!(code < 500, "reload: {code} {body}");
    d.wait_run("slow", &id, RUN_WAIT);
    wait_until(RUN_WAIT, "the log to say the chain stops", || {
        let log = d.stderr();
        if log.contains("job was removed while it ran") {
            Ok(())
        } else {
            Err(log)
        }
    });
    assert!(record_ids(&d.state_dir, "kid").is_empty());
    assert!(d.status().is_object(), "the daemon still answers");
}

/// A job whose first run times out (its command waits past `timeout: 5s`) and whose later runs
/// succeed at once (the first left `mark` behind), retried once after 1s; `extra` goes under `spec:`.
fn fails_once(dir: &Path, name: &str, mark: &Path, extra: &str) {
    let text = format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: {name}\nspec:\n  schedule: \"0 2 * * *\"\n  {extra}\n  timeout: 5s\n  retry: {{limit: 1, backoff: 1s}}\n  collect:\n    supportBundle:\n      hostCollectors:\n        - run: {{collectorName: once, command: sh, args: [\"-c\", \"test -e {m} || {{ touch {m}; exec sleep 60; }}\"]}}\n",
        m = mark.display()
    );
    std::fs::write(dir.join(format!("{name}.yaml")), text).expect("job file");
}

#[test]
fn a_retried_parent_starts_its_children_once_after_its_final_attempt() {
    let dd = dirs();
    let scratch = tempfile::tempdir().expect("tempdir");
    JobFile::new("origin").write(&dd.jobs);
    fails_once(
        &dd.jobs,
        "flaky",
        &scratch.path().join("mark"),
        &after("origin", "succeeded"),
    );
    // Named to sort first: started after the first attempt, they would be there first.
    (JobFile::new("a-on-failure").spec_line(&after("flaky", "failed"))).write(&dd.jobs);
    (JobFile::new("a-on-any").spec_line(&after("flaky", "any"))).write(&dd.jobs);
    (JobFile::new("on-success").spec_line(&after("flaky", "succeeded"))).write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let origin = d.trigger("origin")["runId"]
        .as_str()
        .expect("runId")
        .to_string();
    d.wait_run("origin", &origin, RUN_WAIT);
    let ok = only_record(&d, "on-success");
    let ids = record_ids(&d.state_dir, "flaky");
    let [first, retry] = ids.as_slice() else {
        panic!("one run of flaky and its retry: {ids:?}");
    };
    let first = d.wait_run("flaky", first, RUN_WAIT);
    let retry = d.wait_run("flaky", retry, RUN_WAIT);
    assert_eq!(first["status"], "timed-out", "{first}");
    assert_eq!(first["trigger"], "after", "{first}");
    // The retry keeps the first attempt's cause: its parent, and what started it.
    assert_eq!(retry["status"], "succeeded", "{retry}");
    assert_eq!(retry["trigger"], "retry", "{retry}");
    assert_eq!(retry["attempt"], 2, "{retry}");
    assert_eq!(retry["firstTrigger"], "after", "{retry}");
    assert_eq!(retry["parent"], first["parent"], "{retry}");
    assert_eq!(retry["parent"]["runId"], origin.as_str(), "{retry}");
    // Children start once, after the final attempt, and see how it ended.
    for child in [&ok, &only_record(&d, "a-on-any")] {
        assert_eq!(child["parent"]["job"], "flaky", "{child}");
        assert_eq!(child["parent"]["runId"], retry["runId"], "{child}");
        assert_eq!(child["parent"]["status"], "succeeded", "{child}");
    }
    assert!(
        record_ids(&d.state_dir, "a-on-failure").is_empty(),
        "a failure that was retried into a success starts no child on [failed]"
    );
    let starts = chain_starts(&d);
    assert_eq!(
        starts.len(),
        3,
        "flaky, then on-success and a-on-any: {starts:?}"
    );
}

/// `validate DIR`: (exit code, stdout + stderr).
fn validate(dir: &Path, state: &Path) -> (i32, String) {
    let out = support::agent(state)
        .arg("validate")
        .arg(dir)
        .output()
        .expect("run validate");
    let text = format!("{}{}", support::stdout(&out), support::stderr(&out));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_cycle_is_an_error_naming_it_at_each_after_entry() {
    let dd = dirs();
    (JobFile::new("ping").spec_line(&after("pong", "any"))).write(&dd.jobs);
    (JobFile::new("pong").spec_line(&after("ping", "succeeded"))).write(&dd.jobs);
    JobFile::new("fine").write(&dd.jobs);
    let (code, text) = validate(&dd.jobs, &dd.state);
    assert_ne!(code, 0, "{text}");
    assert!(
        text.contains("`after` forms a cycle: `ping` runs after `pong` runs after `ping`"),
        "{text}"
    );
    // `spec:` is line 5 and the builder's extra lines follow the schedule: line 7, column 11.
    for file in ["ping.yaml", "pong.yaml"] {
        let at = format!("{}:7:11", dd.jobs.join(file).display());
        assert!(text.contains(&at), "the error is located at {at}:\n{text}");
    }
}

#[test]
fn an_unknown_parent_is_a_located_error() {
    let dd = dirs();
    (JobFile::new("orphan").spec_line(&after("nobody-home", "any"))).write(&dd.jobs);
    let (code, text) = validate(&dd.jobs, &dd.state);
    assert_ne!(code, 0, "{text}");
    let at = format!("{}:7:11", dd.jobs.join("orphan.yaml").display());
    assert!(
        text.contains("`after` names job `nobody-home`, which is not defined")
            && text.contains(&at),
        "{text}"
    );
}
