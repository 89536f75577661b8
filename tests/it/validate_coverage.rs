//! `validate`'s per-job table of collectors and analyzers (text and JSON) and lenient spec
//! loading through the real binary: a vendor spec with typos and empty entries validates, with
//! each oddity located; the daemon logs those warnings once per load.

use crate::support;

use serde_json::Value;
use std::path::Path;
use support::daemon::Daemon;
use support::{agent, dirs, stderr, stdout};
use troubleshoot_agent::collect::capabilities::builtin_supports;
use troubleshoot_agent::spec::Section;

/// `sonobuoy`'s row (state, reason, start of why): not in this build today; once a collector
/// is added for it, an in-cluster collector that fails here for want of a cluster.
fn sonobuoy() -> (&'static str, &'static str, &'static str) {
    if builtin_supports(Section::Collectors, "sonobuoy") {
        ("fails", "noCluster", "needs a cluster")
    } else {
        ("skipped", "notInThisBuild", "not available in this build")
    }
}

const VENDOR: &str = "apiVersion: troubleshoot.sh/v1beta2
kind: SupportBundle
metadata:
  name: vendor
spec:
  collectors:
    - logs:
        selectors: [app=api]
        comtainerNames: [api]
    - sonobuoy: {}
    - data: {name: x.txt, data: hi}
    - secret: {name: s, exclude: true}
    - goldpinger:
  hostCollectors:
    - cpu: {}
    - {}
  analyzers:
    - clusterVersion:
        checkName: k8s
        outcomes:
          - pass: {message: ok}
";

fn job(name: &str, spec: &Path, extra: &str) -> String {
    format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: {name}\nspec:\n  schedule: \"@daily\"\n  collect:\n    specs: [{}]\n{extra}",
        spec.display()
    )
}

/// The vendor spec, beside (not in) the jobs directory.
fn write_spec(root: &Path) -> std::path::PathBuf {
    let dir = root.join("specs");
    std::fs::create_dir_all(&dir).expect("specs dir");
    let spec = dir.join("vendor.yaml");
    std::fs::write(&spec, VENDOR).expect("spec");
    spec
}

/// `validate` with no cluster configuration anywhere (HOME and KUBECONFIG point at nothing).
fn validate(jobs: &Path, state: &Path, json: bool) -> std::process::Output {
    let mut cmd = agent(state);
    cmd.env("HOME", state).env_remove("KUBECONFIG");
    if json {
        cmd.args(["--output", "json"]);
    }
    cmd.arg("validate")
        .arg(jobs)
        .output()
        .expect("run validate")
}

fn write_jobs(d: &support::Dirs) -> std::path::PathBuf {
    let spec = write_spec(d.root.path());
    std::fs::write(d.jobs.join("app.yaml"), job("vendor-app", &spec, "")).expect("job");
    std::fs::write(
        d.jobs.join("cli.yaml"),
        job("vendor-cli", &spec, "    engine: support-bundle\n"),
    )
    .expect("job");
    spec
}

#[test]
fn table_says_what_runs_and_why_the_rest_does_not() {
    let d = dirs();
    let spec = write_jobs(&d);
    let out = validate(&d.jobs, &d.state, false);
    let (text, err) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
    let at = |line: u32| format!("{}:{line}:7", spec.display());
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let app: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("job vendor-app"))
        .take(7)
        .map(|l| l.split_whitespace().take(5).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        app,
        [
            "job vendor-app (engine builtin): 3".to_string(),
            "LIST TYPE NAME STATE AT".to_string(),
            format!("collectors logs - fails {}", at(7)),
            format!("collectors sonobuoy - {} {}", sonobuoy().0, at(10)),
            format!("collectors data - runs {}", at(11)),
            format!("collectors secret - skipped {}", at(12)),
            format!("hostCollectors cpu - runs {}", at(15)),
        ],
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "job vendor-app (engine builtin): 3 run, {} skipped, {} fail, 2 ignored",
            if sonobuoy().0 == "skipped" { 2 } else { 1 },
            if sonobuoy().0 == "fails" { 2 } else { 1 },
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "job vendor-cli (engine support-bundle): 5 run, 1 skipped, 0 fail, 2 ignored"
        ),
        "{text}"
    );
    let app_lines: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("job vendor-app"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    let why = |kind: &str| {
        let row = app_lines
            .iter()
            .find(|l| l.split_whitespace().nth(1) == Some(kind));
        row.map(|l| l.to_string()).unwrap_or_default()
    };
    assert!(why("sonobuoy").contains(sonobuoy().2), "{text}");
    if sonobuoy().0 == "skipped" {
        assert!(
            why("sonobuoy").ends_with(
                "not available in this build (`collect.engine: support-bundle` runs it)"
            )
        );
    }
    assert!(why("secret").ends_with("excluded by the spec (`exclude: true`)"));
    assert!(why("logs").contains("needs a cluster"));
    assert!(
        rows.iter()
            .any(|r| r[..4] == ["analyzers", "clusterVersion", "k8s", "runs"])
    );

    // The spec's oddities are located warnings with a suggestion, never errors.
    for (line, column, message, hint) in [
        (
            8,
            9,
            "unknown field `selectors` in `logs` is ignored",
            "did you mean `selector`?",
        ),
        (
            9,
            9,
            "unknown field `comtainerNames` in `logs` is ignored",
            "did you mean `containerNames`?",
        ),
        (
            13,
            7,
            "`goldpinger` has no body, so troubleshoot skips it",
            "write `goldpinger: {}`",
        ),
        (
            16,
            7,
            "empty host collector (no type key) is ignored",
            "remove it",
        ),
    ] {
        let head = format!("{}:{line}:{column}: warning: {message}", spec.display());
        let found = err.split("\n").position(|l| l.starts_with(&head));
        let i = found.unwrap_or_else(|| panic!("no `{head}` in:\n{err}"));
        let hint_line = err
            .lines()
            .skip(i)
            .find(|l| l.trim_start().starts_with("hint:"))
            .unwrap_or_default();
        assert!(hint_line.contains(hint), "{head}: {hint_line}");
    }
}

#[test]
fn json_report_has_each_jobs_rows() {
    let d = dirs();
    write_jobs(&d);
    let out = validate(&d.jobs, &d.state, true);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["valid"], true);
    let app = &report["coverage"]["vendor-app"];
    assert_eq!(app["engine"], "builtin");
    let rows = app["rows"].as_array().expect("rows");
    let brief: Vec<(String, String, String, Value)> = rows
        .iter()
        .map(|r| {
            (
                r["section"].as_str().unwrap_or_default().to_string(),
                r["kind"].as_str().unwrap_or_default().to_string(),
                r["state"].as_str().unwrap_or_default().to_string(),
                r["reason"].clone(),
            )
        })
        .collect();
    let row =
        |s: &str, k: &str, st: &str, r: Value| (s.to_string(), k.to_string(), st.to_string(), r);
    assert_eq!(
        brief,
        [
            row("collectors", "logs", "fails", "noCluster".into()),
            row("collectors", "sonobuoy", sonobuoy().0, sonobuoy().1.into()),
            row("collectors", "data", "runs", Value::Null),
            row("collectors", "secret", "skipped", "excluded".into()),
            row("hostCollectors", "cpu", "runs", Value::Null),
            row("analyzers", "clusterVersion", "runs", Value::Null),
            row(
                "collectors",
                "goldpinger",
                "ignored",
                "ignoredLikeTroubleshoot".into()
            ),
            row(
                "hostCollectors",
                "-",
                "ignored",
                "ignoredLikeTroubleshoot".into()
            ),
        ]
    );
    assert_eq!(rows[0]["line"], 7);
    assert_eq!(rows[0]["column"], 7);
    assert_eq!(rows[5]["name"], "k8s");
    assert_eq!(rows[6]["why"], "no body: troubleshoot skips it");
    assert_eq!(
        (rows[7]["line"].as_u64(), rows[7]["column"].as_u64()),
        (Some(16), Some(7))
    );
    assert!(
        rows[1]["why"]
            .as_str()
            .is_some_and(|w| w.starts_with(sonobuoy().2))
    );
    let cli = report["coverage"]["vendor-cli"]["rows"]
        .as_array()
        .expect("rows");
    assert!(
        cli.iter()
            .all(|r| r["state"] == "runs" || r["state"] == "ignored" || r["reason"] == "excluded")
    );
    let warnings = report["warnings"].as_array().expect("warnings");
    assert!(warnings.iter().any(|w| {
        w["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("unknown field `comtainerNames`"))
    }));
}

#[test]
fn daemon_logs_spec_warnings_once_per_load() {
    let d = dirs();
    let spec = write_spec(d.root.path());
    std::fs::write(d.jobs.join("app.yaml"), job("vendor-app", &spec, "")).expect("job");
    let daemon = Daemon::builder().jobs(&d.jobs).state(&d.state).start();
    assert!(
        daemon.job("vendor-app").is_some(),
        "the lenient spec's job is loaded"
    );
    let log = daemon.stderr();
    let typo = "unknown field `comtainerNames` in `logs` is ignored";
    assert_eq!(log.matches(typo).count(), 1, "{log}");
    assert!(log.contains(&format!("{}:9:9", spec.display())), "{log}");
}

#[test]
fn auto_discovery_rows_are_marked_automatic() {
    let d = dirs();
    let spec = write_spec(d.root.path());
    std::fs::write(
        d.jobs.join("auto.yaml"),
        job("auto", &spec, "    autoDiscovery: true\n"),
    )
    .expect("job");
    let out = validate(&d.jobs, &d.state, true);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let rows = report["coverage"]["auto"]["rows"].as_array().expect("rows");
    let automatic: Vec<&str> = rows
        .iter()
        .filter(|r| r["automatic"] == true)
        .map(|r| r["kind"].as_str().unwrap_or_default())
        .collect();
    // The spec has `logs` already: only clusterResources and clusterInfo are added.
    assert_eq!(automatic, ["clusterResources", "clusterInfo"]);
    assert!(
        rows[..2]
            .iter()
            .all(|r| r["state"] == "fails" && r["reason"] == "noCluster")
    );
    let text = stdout(&validate(&d.jobs, &d.state, false));
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()[..]
                == [
                    "collectors",
                    "clusterInfo",
                    "-",
                    "fails",
                    "(autoDiscovery)",
                    "needs",
                    "a",
                    "cluster:",
                    "no",
                    "Kubernetes",
                    "configuration",
                    "for",
                    "this",
                    "job",
                    "or",
                    "agent"
                ]),
        "{text}"
    );
}
