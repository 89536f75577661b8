//! `kind: SupportBundleScheduleSet`: a matrix renders one job per value; under a running agent a
//! growing and shrinking matrix adds and removes exactly the affected jobs, leaving the others'
//! schedules alone; `validate` and `plan` show the generated jobs like any other.

use crate::support;
use std::path::Path;
use std::time::Duration;
use support::daemon::{Daemon, wait_until};

fn write_set(jobs: &Path, namespaces: &[&str]) {
    let list = namespaces.join(", ");
    let text = format!(
        "apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleScheduleSet
metadata: {{name: ns}}
spec:
  matrix:
    namespace: [{list}]
  template:
    schedule: \"0 2 * * *\"
    jitter: 30m
    collect:
      namespaces: [\"${{matrix.namespace}}\"]
      supportBundle:
        hostCollectors:
          - run: {{collectorName: \"echo-${{matrix.namespace}}\", command: /bin/echo, args: [\"${{matrix.namespace}}\"]}}
"
    );
    // Replaced atomically, as config management does.
    let tmp = jobs.join(".set.yaml.tmp");
    std::fs::write(&tmp, text).expect("write set");
    std::fs::rename(&tmp, jobs.join("set.yaml")).expect("rename set");
}

fn job_names(d: &Daemon) -> Vec<String> {
    let mut names: Vec<String> = (d.status()["jobs"].as_array().cloned().unwrap_or_default())
        .iter()
        .filter_map(|j| j["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

#[test]
fn a_growing_and_shrinking_matrix_adds_and_removes_exactly_the_affected_jobs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs.d");
    std::fs::create_dir(&jobs).expect("jobs dir");
    write_set(&jobs, &["prod", "staging"]);

    let validate = support::agent(&dir.path().join("state"))
        .args(["validate"])
        .arg(&jobs)
        .output()
        .expect("validate");
    assert_eq!(
        validate.status.code(),
        Some(0),
        "{}",
        support::stderr(&validate)
    );

    let d = Daemon::builder().jobs(&jobs).start();
    assert_eq!(job_names(&d), ["ns-prod", "ns-staging"]);
    let prod = d.job("ns-prod").expect("ns-prod");
    let staging = d.job("ns-staging").expect("ns-staging");
    // Each jittered on its own name.
    assert_ne!(prod["nextRun"], staging["nextRun"], "{prod} {staging}");

    write_set(&jobs, &["prod", "staging", "dev"]);
    let plan = d.cli().args(["plan"]).output().expect("plan");
    let plan_text = support::stdout(&plan);
    assert!(plan_text.contains("ns-dev"), "{plan_text}");
    assert!(
        plan_text.contains("Plan: 1 to add, 0 to change, 0 to remove"),
        "{plan_text}"
    );
    let (code, outcome) = d.reload();
    assert_eq!(code, 200, "{outcome}");
    assert_eq!(job_names(&d), ["ns-dev", "ns-prod", "ns-staging"]);
    assert_eq!(
        d.job("ns-prod").expect("ns-prod")["nextRun"],
        prod["nextRun"]
    );

    write_set(&jobs, &["dev"]);
    let (code, outcome) = d.reload();
    assert_eq!(code, 200, "{outcome}");
    wait_until(Duration::from_secs(10), "prod and staging removed", || {
        let names = job_names(&d);
        (names == ["ns-dev"])
            .then_some(())
            .ok_or(format!("{names:?}"))
    });

    // A generated job runs like any other, with its value substituted.
    let accepted = d.trigger("ns-dev");
    let run_id = accepted["runId"].as_str().expect("run id").to_string();
    let record = d.wait_run("ns-dev", &run_id, Duration::from_secs(60));
    assert_eq!(record["status"], "succeeded", "{record}");
    let collectors = record["collectors"].to_string();
    assert!(collectors.contains("echo-dev"), "{collectors}");
}

#[test]
fn a_broken_set_is_rejected_with_every_finding_located() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs.d");
    std::fs::create_dir(&jobs).expect("jobs dir");
    std::fs::write(
        jobs.join("set.yaml"),
        "apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleScheduleSet
metadata: {name: ns}
spec:
  matrix:
    namespace: [prod, prod]
  template:
    schedule: \"0 2 * * *\"
    colect: {}
    collect: {namespaces: [\"${matrix.nmespace}\"]}
",
    )
    .expect("write");
    let out = support::agent(&dir.path().join("state"))
        .args(["validate"])
        .arg(&jobs)
        .output()
        .expect("validate");
    assert_eq!(out.status.code(), Some(1));
    let err = support::stderr(&out);
    for needle in [
        "set.yaml:6:",
        "`prod` is listed twice",
        "set.yaml:10:",
        "`${matrix.nmespace}` names no key",
        "set.yaml:9:",
        "unknown field `colect`",
    ] {
        assert!(err.contains(needle), "{needle} missing in:\n{err}");
    }
}
