//! `spec.resources` and the agent's `defaultResources` limit the processes a run starts, through
//! the real daemon: a collector that allocates past `memoryMax` fails, the run record says which
//! limits were applied and how, and the agent is alive afterwards. `validate` reports values out
//! of range where they are written and warns about a limit this build cannot enforce.

use crate::support;

use std::io::Read;
use std::path::Path;
use std::time::Duration;
use support::daemon::Daemon;
use support::{agent, dirs, stderr, stdout};

fn bundle_file(bundle: &Path, suffix: &str) -> String {
    let file = std::fs::File::open(bundle).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_string_lossy().ends_with(suffix) {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            return text;
        }
    }
    panic!("{suffix} is not in {}", bundle.display());
}

#[test]
fn a_collector_past_its_memory_limit_fails_and_the_agent_lives_on() {
    let d = dirs();
    std::fs::write(
        d.jobs.join("limited.yaml"),
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {name: limited}\n\
         spec:\n  schedule: \"0 2 * * *\"\n  resources: {memoryMax: 64MiB, ioWeight: 20, cpuWeight: 50}\n\
         \x20 collect:\n    supportBundle:\n      hostCollectors:\n\
         \x20       - run: {collectorName: hog, command: python3, args: [\"-c\", \"b = bytearray(512*1024*1024)\"]}\n\
         \x20       - run: {collectorName: limits, command: sh, args: [\"-c\", \"ulimit -v; cut -d' ' -f19 /proc/self/stat; ionice -p $$\"]}\n",
    )
    .unwrap();
    // `nice` comes from the agent's defaults; the job's memoryMax wins over the default one.
    let daemon = Daemon::builder()
        .jobs(&d.jobs)
        .state(&d.state)
        .setting("defaultResources", "{nice: 5, memoryMax: 1GiB}")
        .start();
    let run_id = daemon.trigger("limited")["runId"]
        .as_str()
        .unwrap()
        .to_string();
    let record = daemon.wait_run("limited", &run_id, Duration::from_secs(120));

    let limits = &record["limits"];
    assert_eq!(limits["applied"], "rlimit+nice+ioprio", "{record:#}");
    assert_eq!(limits["requested"]["memoryMax"], 64 << 20);
    assert_eq!(limits["requested"]["nice"], 5);
    assert_eq!(limits["enforced"]["rlimitAs"], 64 << 20);
    assert_eq!(limits["enforced"]["nice"], 5);
    assert_eq!(limits["enforced"]["ioprioBestEffortLevel"], 5);
    let not_enforced = limits["notEnforced"].as_array().unwrap();
    assert!(
        not_enforced
            .iter()
            .any(|n| n.as_str().unwrap().starts_with("cpuWeight 50")),
        "{record:#}"
    );

    let collector = |title: &str| {
        record["collectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["title"] == title)
            .cloned()
            .unwrap_or_else(|| panic!("no collector {title}: {record:#}"))
    };
    let hog = collector("hog");
    assert_eq!(hog["status"], "failed", "{record:#}");
    let error = hog["error"].as_str().unwrap();
    assert!(
        error.contains("exit code 1") && error.contains("memoryMax 67108864 bytes as RLIMIT_AS"),
        "{error}"
    );
    assert_eq!(collector("limits")["status"], "succeeded", "{record:#}");

    // What the processes saw: the address-space limit in KiB, the niceness, the I/O class.
    let bundle = Path::new(record["bundle"]["path"].as_str().unwrap());
    let seen = bundle_file(bundle, "run-host/limits.txt");
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[..2], ["65536", "5"], "{seen}");
    assert!(
        lines
            .get(2)
            .is_some_and(|l| l.contains("best-effort") && l.contains('5')),
        "{seen}"
    );
    assert!(bundle_file(bundle, "run-host/hog-stderr.txt").contains("MemoryError"));

    // The agent itself was never limited: it answers and runs the next job.
    assert_eq!(daemon.get("/healthz").status, 200);
    let again = daemon.trigger("limited")["runId"]
        .as_str()
        .unwrap()
        .to_string();
    let second = daemon.wait_run("limited", &again, Duration::from_secs(120));
    assert_eq!(second["limits"]["applied"], "rlimit+nice+ioprio");
    daemon.stop();
}

#[test]
fn validate_locates_bad_limits_and_warns_about_cpu_weight() {
    let d = dirs();
    let file = d.jobs.join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {name: bad}\n\
         spec:\n  schedule: \"0 2 * * *\"\n  resources:\n    nice: 40\n    ioWeight: 0\n    cpuWeight: 50\n",
    )
    .unwrap();
    let out = agent(&d.state)
        .arg("validate")
        .arg(&file)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("bad.yaml:7:"), "nice is located: {text}");
    assert!(text.contains("nice 40 is out of range"), "{text}");
    assert!(text.contains("bad.yaml:8:"), "ioWeight is located: {text}");
    assert!(text.contains("ioWeight 0 is out of range"), "{text}");
    assert!(text.contains("cpuWeight is not enforced"), "{text}");

    // An unknown field is refused like everywhere else.
    std::fs::write(
        &file,
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {name: bad}\n\
         spec:\n  schedule: \"0 2 * * *\"\n  resources: {memoryMaxx: 1GiB}\n",
    )
    .unwrap();
    let out = agent(&d.state)
        .arg("validate")
        .arg(&file)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("memoryMax"), "{}", stderr(&out));
}
