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
    // The cgroup mounts are hidden from the agent (a tmpfs over /sys/fs/cgroup in a mount
    // namespace of its own), so the per-process limits hold everything, whatever this host has.
    let daemon = Daemon::builder()
        .wrapper(&[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount -t tmpfs none /sys/fs/cgroup && exec \"$@\"",
            "sh",
        ])
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
    assert!(
        limits["host"]["cgroupUnusable"]
            .as_str()
            .is_some_and(|r| r.contains("not a cgroup2 mount")),
        "{record:#}"
    );
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
    // Where no run cgroup can be made (the cgroup mounts hidden by a tmpfs in a mount namespace
    // of its own) a CPU weight cannot be enforced, and validate says so.
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount -t tmpfs none /sys/fs/cgroup && exec \"$@\"")
        .arg("sh")
        .arg(assert_cmd::cargo::cargo_bin("troubleshoot-agent"))
        .arg("--state-dir")
        .arg(&d.state)
        .arg("validate")
        .arg(&file)
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

/// The agent in a mount namespace of its own with the cgroup2 hierarchy at /sys/fs/cgroup (the
/// layout of a cgroup-v2-only host). On this kind of machine the memory, cpu and io controllers
/// may be held by cgroup v1 hierarchies, so the test reads which ones the record says the run
/// cgroup had and checks each limit where it must then be: in the cgroup, or per process.
#[test]
fn a_run_gets_a_cgroup_of_its_own_that_holds_its_processes_and_goes_with_it() {
    let d = dirs();
    let marker = format!("tsa-cgroup-leftover-{}", std::process::id());
    std::fs::write(
        d.jobs.join("grouped.yaml"),
        format!(
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: grouped}}\n\
             spec:\n  schedule: \"0 2 * * *\"\n  resources: {{memoryMax: 64MiB, cpuWeight: 50, ioWeight: 20}}\n\
             \x20 collect:\n    supportBundle:\n      hostCollectors:\n\
             \x20       - run: {{collectorName: where, command: cat, args: [/proc/self/cgroup]}}\n\
             \x20       - run: {{collectorName: hog, command: python3, args: [\"-c\", \"b = bytearray(512*1024*1024)\"]}}\n\
             \x20       - run: {{collectorName: leaver, command: sh, args: [\"-c\", \"python3 -c 'import time; time.sleep(300)' {marker} >/dev/null 2>&1 &\"]}}\n"
        ),
    )
    .unwrap();
    let daemon = Daemon::builder()
        .jobs(&d.jobs)
        .state(&d.state)
        .wrapper(&[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount -t cgroup2 none /sys/fs/cgroup && exec \"$@\"",
            "sh",
        ])
        .start();
    let run_id = daemon.trigger("grouped")["runId"]
        .as_str()
        .unwrap()
        .to_string();
    let record = daemon.wait_run("grouped", &run_id, Duration::from_secs(120));
    let limits = &record["limits"];
    assert_eq!(limits["applied"], "cgroup-v2", "{record:#}");
    assert_eq!(limits["host"]["cgroupV2Writable"], true, "{record:#}");
    let cgroup = &limits["enforced"]["cgroup"];
    let path = cgroup["path"].as_str().expect("the cgroup's path");
    let name = path
        .strip_prefix("/sys/fs/cgroup/")
        .expect("under the mount");
    assert!(
        name.starts_with("tsa-") && name.contains("-grouped-"),
        "{path}"
    );

    // Every limit is held somewhere, by the mechanism the record names.
    let controllers: Vec<&str> = limits["host"]["cgroupControllers"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
        .unwrap_or_default();
    let hog_error = record["collectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "hog")
        .and_then(|c| c["error"].as_str())
        .unwrap_or_default()
        .to_string();
    if controllers.contains(&"memory") {
        assert_eq!(cgroup["memoryMax"], 64 << 20, "{record:#}");
        assert!(limits["enforced"]["rlimitAs"].is_null(), "{record:#}");
        assert!(hog_error.contains("memory.max"), "{hog_error}");
    } else {
        assert!(cgroup["memoryMax"].is_null(), "{record:#}");
        assert_eq!(limits["enforced"]["rlimitAs"], 64 << 20, "{record:#}");
        assert!(hog_error.contains("RLIMIT_AS"), "{hog_error}");
    }
    let cpu_noted = limits["notEnforced"].as_array().is_some_and(|n| {
        n.iter()
            .any(|n| n.as_str().unwrap().starts_with("cpuWeight 50"))
    });
    if controllers.contains(&"cpu") {
        assert_eq!(cgroup["cpuWeight"], 50, "{record:#}");
        assert!(!cpu_noted, "{record:#}");
    } else {
        assert!(cpu_noted, "{record:#}");
    }
    if controllers.contains(&"io") {
        assert_eq!(cgroup["ioWeight"], 20, "{record:#}");
    } else {
        assert_eq!(limits["enforced"]["ioprioBestEffortLevel"], 5, "{record:#}");
    }

    // The collector ran in the run's cgroup (the namespace shows cgroup paths from the mount).
    let bundle = Path::new(record["bundle"]["path"].as_str().unwrap());
    let seen = bundle_file(bundle, "run-host/where.txt");
    assert!(
        seen.lines().any(|l| l == format!("0::/{name}")),
        "collector cgroup: {seen}"
    );

    // What a collector left running died with the run, and the cgroup is gone.
    let leftovers = || -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
            })
            .collect()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !leftovers().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        leftovers(),
        Vec::<u32>::new(),
        "a leftover process survived its run"
    );
    let listing = std::process::Command::new("nsenter")
        .args([
            "-t",
            &daemon.pid().to_string(),
            "-m",
            "ls",
            "/sys/fs/cgroup",
        ])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("cgroup.procs"),
        "the namespace's mount: {listing}"
    );
    assert!(
        !listing.contains(name),
        "the run cgroup is still there: {listing}"
    );
    assert_eq!(daemon.get("/healthz").status, 200);
    daemon.stop();
}
