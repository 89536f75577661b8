//! troubleshoot-specs' host/default.yaml, as a job, runs on this machine and yields one
//! troubleshoot-layout bundle holding an output or an error file for every collector.

use crate::support;

use std::collections::BTreeSet;
use support::{JobFile, agent, compat_dir, stdout};

#[test]
fn host_default_spec_as_a_job_yields_a_complete_bundle() {
    // Its `http` collectors fetch https://*.replicated.com: no lookup may leave the machine.
    let name = "host_default_spec_as_a_job_yields_a_complete_bundle";
    if support::alone::offline(module_path!(), name) {
        return;
    }
    let jobs = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let spec = compat_dir().join("specs/troubleshoot-specs/host/default.yaml");
    JobFile::new("host-default")
        .spec_file(spec.to_str().expect("utf-8"))
        .spec_line("timeout: 10m")
        .write(jobs.path());
    let out = agent(&state.path().join("s"))
        .args(["--listen", "127.0.0.1:1", "--output", "json", "--jobs-dir"])
        .arg(jobs.path())
        .args(["trigger", "host-default"])
        .output()
        .expect("trigger runs");
    let record: serde_json::Value =
        serde_json::from_str(&stdout(&out)).expect("run record on stdout");
    // Every host collector of the spec is accounted for in the record.
    let collectors = record["collectors"].as_array().expect("collectors");
    // Some collectors need tools this machine may lack: a failed one makes the run
    // `succeeded-with-errors`, still exit 0 and still a bundle.
    let failed = collectors
        .iter()
        .filter(|c| c["status"] == "failed")
        .count();
    let want = if failed == 0 {
        "succeeded"
    } else {
        "succeeded-with-errors"
    };
    // The spec's textAnalyze analyzers judge this machine (no Kubernetes here, so its API health
    // checks fail): with the default `failOn: fail` the run is `analysisFailed`, its bundle kept.
    let analysis_fails = record["analysis"]["fail"]
        .as_u64()
        .expect("analysis counts");
    // 8 textAnalyze results, plus the host analyzers': cpu, memory, 8 diskUsage (the collector
    // walks up to an existing parent, so always writes) and 8 http (a response or an error) always
    // have their file; the 2 certificates, time (D-Bus) and filesystemPerformance (fio) only where
    // this machine lets their collectors write one (a missing file gives no result).
    let results = record["analysis"]["pass"].as_u64().unwrap_or(0)
        + record["analysis"]["warn"].as_u64().unwrap_or(0)
        + analysis_fails;
    assert!(
        (26..=30).contains(&results),
        "host/default.yaml: 8 textAnalyze and 18 to 22 host results, got {results}: {record:#}"
    );
    assert!(
        record["analysis"].get("unsupported").is_none(),
        "every analyzer of host/default.yaml is implemented: {record:#}"
    );
    assert_eq!(record["analysis"]["error"], 0, "{record:#}");
    if analysis_fails > 0 {
        assert_eq!(record["status"], "analysisFailed", "{record:#}");
        assert_eq!(out.status.code(), Some(1));
        assert!(record["bundle"]["path"].is_string(), "{record:#}");
    } else {
        assert_eq!(record["status"], want, "{record:#}");
        if failed > 0 {
            let reason = record["reason"].as_str().expect("reason");
            assert!(
                reason.starts_with(&format!("{failed} of 120 collectors failed: ")),
                "{reason}"
            );
        }
        assert_eq!(out.status.code(), Some(0));
    }
    // 121 entries, `ipv4Interfaces: {}` among them twice: identical collectors run once, as
    // troubleshoot de-duplicates them.
    assert_eq!(
        collectors.len(),
        120,
        "host/default.yaml has 120 distinct host collectors"
    );
    for c in collectors {
        let status = c["status"].as_str().expect("status");
        assert!(["succeeded", "failed", "skipped"].contains(&status), "{c}");
        if status != "skipped" {
            assert!(
                c["files"].as_u64().is_some_and(|n| n > 0),
                "a collector that ran wrote nothing: {c}"
            );
        }
    }

    // The archive: one top folder named after the archive, no directory entries, version.yaml and
    // summary.txt, analysis.json, and every file a collector reported.
    let bundle = record["bundle"]["path"].as_str().expect("bundle path");
    let entries = troubleshoot_agent::bundle::list_archive(std::path::Path::new(bundle))
        .expect("archive reads");
    let top = std::path::Path::new(bundle)
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".tar.gz"))
        .expect("name");
    let names: BTreeSet<String> = entries.iter().map(|e| e.name.clone()).collect();
    assert!(
        names.iter().all(|n| n.starts_with(&format!("{top}/"))),
        "one top folder"
    );
    assert!(
        entries
            .iter()
            .all(|e| e.kind != troubleshoot_agent::bundle::EntryKind::Directory)
    );
    for required in [
        "version.yaml",
        "execution-data/summary.txt",
        "analysis.json",
        "host-collectors/system/cpu.json",
        "host-collectors/system/memory.json",
    ] {
        assert!(
            names.contains(&format!("{top}/{required}")),
            "missing {required}"
        );
    }
    let files_reported: u64 = collectors.iter().filter_map(|c| c["files"].as_u64()).sum();
    let collected = names.len() as u64 - 3; // version.yaml, summary.txt and analysis.json
    assert_eq!(
        collected, files_reported,
        "archive entries vs files the collectors reported"
    );
    let failed = collectors
        .iter()
        .filter(|c| c["status"] == "failed")
        .count();
    let error_files = names
        .iter()
        .filter(|n| n.contains("/host-collectors/errors/"))
        .count();
    assert!(
        error_files >= failed,
        "every failed collector leaves an error file ({error_files} files, {failed} failed)"
    );
}
