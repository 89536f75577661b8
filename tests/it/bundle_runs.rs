//! Bundles across runs: retention prunes the oldest and says so in their records; a run is
//! skipped, not started, when the state directory's file system is below `minFreeDisk`.

use crate::support;

use std::path::Path;
use support::{JobFile, agent, stdout};

fn trigger(state: &Path, jobs: &Path, config: &Path, job: &str) -> serde_json::Value {
    let out = agent(state)
        .arg("--config")
        .arg(config)
        .arg("--jobs-dir")
        .arg(jobs)
        .args(["--output", "json", "trigger", job])
        .output()
        .expect("trigger runs");
    serde_json::from_str(&stdout(&out)).expect("record")
}

#[test]
fn keep_last_prunes_the_oldest_bundles_and_notes_it_in_their_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(&jobs).expect("jobs dir");
    JobFile::new("keep")
        .spec_line("retention: {keepLast: 2}")
        .write(&jobs);
    let config = dir.path().join("agent.yaml");
    std::fs::write(&config, "listen: 127.0.0.1:1\nminFreeDisk: 0\n").expect("config");
    let state = dir.path().join("state");
    let records: Vec<serde_json::Value> = (0..3)
        .map(|_| trigger(&state, &jobs, &config, "keep"))
        .collect();
    for r in &records {
        assert_eq!(r["status"], "succeeded", "{r:#}");
    }
    let bundles: Vec<_> = std::fs::read_dir(state.join("jobs/keep/bundles"))
        .expect("bundles dir")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(bundles.len(), 2, "keepLast 2");
    let first = records[0]["bundle"]["path"].as_str().expect("path");
    assert!(!Path::new(first).exists(), "the oldest bundle is removed");
    for r in &records[1..] {
        assert!(Path::new(r["bundle"]["path"].as_str().expect("path")).exists());
    }
    let run_id = records[0]["runId"].as_str().expect("run id");
    let stored: serde_json::Value = serde_json::from_slice(
        &std::fs::read(state.join(format!("jobs/keep/runs/{run_id}.json"))).expect("record file"),
    )
    .expect("json");
    assert_eq!(stored["bundle"]["prunedBy"], "keepLast");
    assert!(stored["bundle"]["prunedAt"].is_string());
}

#[test]
fn below_min_free_disk_the_run_is_skipped_with_the_free_space() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(&jobs).expect("jobs dir");
    JobFile::new("tight").write(&jobs);
    let config = dir.path().join("agent.yaml");
    std::fs::write(&config, "listen: 127.0.0.1:1\nminFreeDisk: 1000TiB\n").expect("config");
    let state = dir.path().join("state");
    let record = trigger(&state, &jobs, &config, "tight");
    assert_eq!(record["status"], "skipped", "{record:#}");
    let reason = record["reason"].as_str().expect("reason");
    assert!(
        reason.contains("bytes free") && reason.contains("minFreeDisk"),
        "{reason}"
    );
    assert!(record["bundle"].is_null());
    assert!(
        !state.join("jobs/tight/bundles").exists()
            || std::fs::read_dir(state.join("jobs/tight/bundles"))
                .expect("dir")
                .next()
                .is_none()
    );
}

#[test]
fn a_run_with_a_failed_collector_succeeds_with_errors_and_its_summary_tells_the_truth_about_redaction()
 {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(&jobs).expect("jobs dir");
    std::fs::write(
        jobs.join("mixed.yaml"),
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: mixed\n\
         spec:\n  schedule: \"0 2 * * *\"\n  collect:\n    supportBundle:\n      hostCollectors:\n\
         \x20       - cpu: {}\n\
         \x20       - run: {collectorName: greeting, command: echo, args: [\"password=hunter2secret\"]}\n\
         \x20       - run: {collectorName: broken, command: /nonexistent/command}\n",
    )
    .expect("job file");
    let config = dir.path().join("agent.yaml");
    std::fs::write(&config, "listen: 127.0.0.1:1\nminFreeDisk: 0\n").expect("config");
    let state = dir.path().join("state");
    let r = trigger(&state, &jobs, &config, "mixed");
    assert_eq!(r["status"], "succeeded-with-errors", "{r:#}");
    assert_eq!(r["reason"], "1 of 3 collectors failed: broken", "{r:#}");
    let bundle = r["bundle"]["path"].as_str().expect("a bundle");
    let out = std::process::Command::new("tar")
        .args([
            "-xzOf",
            bundle,
            "--wildcards",
            "*/execution-data/summary.txt",
        ])
        .output()
        .expect("tar");
    let summary = stdout(&out);
    assert!(!summary.contains("No redactors executed"), "{summary}");
    assert!(
        summary.contains("Redactors: troubleshoot defaults ("),
        "{summary}"
    );
    assert!(summary.contains("Replacements: "), "{summary}");
}

/// Period rules: `retention --dry-run` previews a tightened policy bundle by bundle (and `plan`
/// counts it) without touching anything; the agent's next run applies exactly that preview.
#[test]
fn period_rules_are_previewed_by_dry_run_and_plan_then_applied_by_the_next_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(&jobs).expect("jobs dir");
    let config = dir.path().join("agent.yaml");
    std::fs::write(&config, "listen: 127.0.0.1:1\nminFreeDisk: 0\n").expect("config");
    let state = dir.path().join("state");
    JobFile::new("spread")
        .spec_line("retention: {keepLast: 10}")
        .write(&jobs);
    let records: Vec<serde_json::Value> = (0..3)
        .map(|_| trigger(&state, &jobs, &config, "spread"))
        .collect();
    let path = |r: &serde_json::Value| r["bundle"]["path"].as_str().expect("path").to_string();
    // One year with bundles, five asked for: the newest of the year and the oldest stay.
    JobFile::new("spread")
        .spec_line("retention: {keepLast: 1, keepYearly: 5}")
        .write(&jobs);
    let cli = |args: &[&str]| {
        agent(&state)
            .arg("--config")
            .arg(&config)
            .arg("--jobs-dir")
            .arg(&jobs)
            .args(args)
            .output()
            .expect("cli runs")
    };
    let out = cli(&["--output", "json", "retention", "--dry-run", "spread"]);
    assert_eq!(out.status.code(), Some(0), "{}", support::stderr(&out));
    let preview: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    let bundles = preview["bundles"].as_array().expect("bundles");
    let removed: Vec<&str> = (bundles.iter())
        .filter(|b| b["remove"] == true)
        .map(|b| b["path"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(removed, [path(&records[1]).as_str()], "{preview:#}");
    assert_eq!(bundles[0]["keptBy"][0], "newest", "{preview:#}");
    assert_eq!(
        bundles[2]["keptBy"],
        serde_json::json!(["keepYearly oldest"])
    );
    let text = cli(&["retention", "--dry-run", "spread"]);
    assert!(
        stdout(&text).contains("the next prune would remove 1 of 3 bundle(s)"),
        "{}",
        stdout(&text)
    );
    let refused = cli(&["retention", "spread"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(support::stderr(&refused).contains("add --dry-run"));
    let plan = cli(&["plan"]);
    assert!(
        stdout(&plan).contains("retention: the next prune would remove 1 bundle(s)"),
        "{}",
        stdout(&plan)
    );
    for r in &records {
        assert!(Path::new(&path(r)).exists(), "a preview removed nothing");
    }
    // The next run applies the rules: its own bundle is now the newest of the year.
    let fourth = trigger(&state, &jobs, &config, "spread");
    let left: Vec<bool> = (records.iter().chain([&fourth]))
        .map(|r| Path::new(&path(r)).exists())
        .collect();
    assert_eq!(left, [true, false, false, true]);
    let run_id = records[1]["runId"].as_str().expect("run id");
    let stored: serde_json::Value = serde_json::from_slice(
        &std::fs::read(state.join(format!("jobs/spread/runs/{run_id}.json"))).expect("record"),
    )
    .expect("json");
    assert_eq!(stored["bundle"]["prunedBy"], "keepLast,keepYearly");
}
