//! The analyze phase end to end: a real run writes `analysis.json` into its bundle, records the
//! analysis and is judged by `analyze.failOn`; `analyze BUNDLE` on any bundle, with
//! troubleshoot's exit codes.

use crate::support;

use std::path::{Path, PathBuf};
use support::{agent, compat_dir, dirs, stderr, stdout};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/analyze")
        .join(name)
}

/// `analyze ARGS...` with a throwaway state directory.
fn analyze(args: &[&std::ffi::OsStr]) -> std::process::Output {
    let state = tempfile::tempdir().expect("tempdir");
    agent(&state.path().join("s"))
        .arg("analyze")
        .args(args)
        .output()
        .expect("analyze runs")
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

#[test]
fn analyze_reproduces_the_legacy_bundles_analysis_json_and_exits_3_on_a_fail() {
    let bundle = compat_dir().join("bundles/legacy-v0.50.tar.gz");
    let spec = data("legacy-v0.50-spec.yaml");
    let out = analyze(&[
        bundle.as_os_str(),
        os("--spec"),
        spec.as_os_str(),
        os("-o"),
        os("json"),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // The archive's own analysis.json, written by troubleshoot v0.50 from this spec.
    let extracted = tempfile::tempdir().expect("tempdir");
    let tar = std::process::Command::new("tar")
        .arg("xzf")
        .arg(&bundle)
        .arg("-C")
        .arg(extracted.path())
        .output()
        .expect("tar");
    assert!(tar.status.success());
    let root = extracted.path().join("support-bundle");
    let expected = std::fs::read_to_string(root.join("analysis.json")).expect("analysis.json");
    assert_eq!(stdout(&out), format!("{expected}\n"));
    // The extracted directory gives the same, as a table.
    let out = analyze(&[extracted.path().as_os_str(), os("--spec"), spec.as_os_str()]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.contains("3 passed, 0 warned, 7 failed"), "{table}");
    assert!(
        table.contains("The deployment \"api\" was not found"),
        "{table}"
    );
}

#[test]
fn analyze_exit_codes_pass_warn_spec_problem_and_unreadable_bundle() {
    let bundle = compat_dir().join("bundles/legacy-v0.50.tar.gz");
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write spec");
        path
    };
    // No spec: troubleshoot's default analyzers (the cluster, v1.24, passes).
    let out = analyze(&[bundle.as_os_str()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("Required Kubernetes Version"));
    // An `Analyzer` document whose only outcome warns: 4, and YAML on request.
    let warn = spec(
        "warn.yaml",
        "apiVersion: troubleshoot.sh/v1beta2\nkind: Analyzer\nmetadata: {name: w}\nspec:\n  analyzers:\n    - clusterVersion:\n        outcomes:\n          - warn: {when: \"< 1.25.0\", message: upgrade soon}\n",
    );
    let out = analyze(&[
        bundle.as_os_str(),
        os("--spec"),
        warn.as_os_str(),
        os("--format"),
        os("yaml"),
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("detail: upgrade soon"),
        "{}",
        stdout(&out)
    );
    // A `when` that is not a semver range: a spec problem.
    let bad_when = spec(
        "bad-when.yaml",
        "apiVersion: troubleshoot.sh/v1beta2\nkind: Analyzer\nmetadata: {name: b}\nspec:\n  analyzers:\n    - clusterVersion:\n        outcomes:\n          - fail: {when: \"~> 1.2\", message: x}\n",
    );
    let out = analyze(&[bundle.as_os_str(), os("--spec"), bad_when.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("when \"~> 1.2\""), "{}", stderr(&out));
    // An invalid spec file (not YAML), a missing one: 2, with the file named.
    let broken = spec("broken.yaml", "spec: [\n");
    let out = analyze(&[bundle.as_os_str(), os("--spec"), broken.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("broken.yaml"), "{}", stderr(&out));
    let missing = dir.path().join("missing.yaml");
    let out = analyze(&[bundle.as_os_str(), os("--spec"), missing.as_os_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // A bundle that does not exist, or is not a tar.gz: 1.
    let out = analyze(&[dir.path().join("nope.tar.gz").as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = analyze(&[warn.as_os_str()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

/// A job whose host `run` collector says hello, with a textAnalyze that warns on it.
fn judged_job(jobs: &Path, fail_on: &str) {
    let text = format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: judged\nspec:\n  schedule: \"0 2 * * *\"\n  analyze: {{failOn: {fail_on}}}\n  collect:\n    supportBundle:\n      hostCollectors:\n        - run: {{collectorName: greeting, command: echo, args: [\"hello world\"]}}\n      analyzers:\n        - textAnalyze:\n            checkName: Greeting\n            collectorName: host-collectors/run-host\n            fileName: greeting.txt\n            regex: hello\n            outcomes:\n              - warn: {{when: \"true\", message: it said hello}}\n              - pass: {{when: \"false\", message: silent}}\n"
    );
    std::fs::write(jobs.join("judged.yaml"), text).expect("job file");
}

fn trigger(dd: &support::Dirs) -> (std::process::Output, serde_json::Value) {
    let out = support::trigger_foreground(
        &dd.jobs,
        &dd.state,
        "judged",
        &[],
        std::time::Duration::from_secs(120),
    );
    let record = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)));
    (out, record)
}

#[test]
fn a_run_whose_analysis_warns_under_fail_on_warn_is_analysis_failed_and_keeps_its_bundle() {
    let dd = dirs();
    judged_job(&dd.jobs, "warn");
    let (out, record) = trigger(&dd);
    assert_eq!(record["status"], "analysisFailed", "{record:#}");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let reason = record["reason"].as_str().expect("reason");
    assert!(
        reason.contains("1 warned") && reason.contains("Greeting"),
        "{reason}"
    );
    let analysis = &record["analysis"];
    assert_eq!(analysis["warn"], 1, "{analysis:#}");
    assert_eq!(analysis["fail"], 0);
    assert_eq!(
        analysis["warnings"],
        serde_json::json!([{"title": "Greeting", "message": "it said hello"}])
    );
    let phase = record["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .find(|p| p["name"] == "analyze")
        .expect("analyze phase");
    assert_eq!(phase["status"], "succeeded", "{phase}");
    // The bundle is archived with analysis.json at its root, as troubleshoot writes it.
    let bundle = record["bundle"]["path"].as_str().expect("bundle path");
    let listing = std::process::Command::new("tar")
        .args(["xzOf", bundle, "--wildcards", "*/analysis.json"])
        .output()
        .expect("tar");
    assert!(listing.status.success(), "{listing:?}");
    let written: serde_json::Value =
        serde_json::from_slice(&listing.stdout).expect("analysis.json is JSON");
    assert_eq!(written[0]["insight"]["primary"], "Greeting");
    assert_eq!(written[0]["severity"], "warn");
    assert!(
        String::from_utf8_lossy(&listing.stdout)
            .starts_with("[\n    {\n        \"name\": \"greeting\""),
        "4-space indent: {}",
        String::from_utf8_lossy(&listing.stdout)
    );
    // `analyze` on the archive the run wrote, with the same analyzers, agrees (4: a warn).
    let spec = dd.root.path().join("spec.yaml");
    std::fs::write(
        &spec,
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {name: s}\nspec:\n  analyzers:\n    - textAnalyze:\n        checkName: Greeting\n        collectorName: host-collectors/run-host\n        fileName: greeting.txt\n        regex: hello\n        outcomes:\n          - warn: {when: \"true\", message: it said hello}\n          - pass: {when: \"false\", message: silent}\n",
    )
    .expect("spec");
    let out = analyze(&[os(bundle), os("--spec"), spec.as_os_str()]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

#[test]
fn the_default_fail_on_lets_a_warning_run_succeed_with_its_analysis_recorded() {
    let dd = dirs();
    judged_job(&dd.jobs, "fail");
    let (out, record) = trigger(&dd);
    assert_eq!(record["status"], "succeeded", "{record:#}");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(record["analysis"]["warn"], 1, "{record:#}");
}

/// Copies `src` into `dst`, recursively.
fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for entry in std::fs::read_dir(src).expect("read_dir") {
        let entry = entry.expect("entry");
        let to = dst.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).expect("copy");
        }
    }
}

/// troubleshoot v0.133.0's own `analyze` on its pkg/analyze fixtures (see
/// tests/data/analyze/PROVENANCE.md): clusterPodStatuses, deploymentStatus (all and by name),
/// statefulsetStatus, replicasetStatus, jobStatus, nodeResources (sum, filters, template) and
/// distribution give the same elements (compared as parsed JSON, in any order).
#[test]
fn analyze_agrees_with_troubleshoot_v0_133_on_its_fixtures() {
    let bundle = tempfile::tempdir().expect("tempdir");
    let root = bundle.path().join("b");
    copy_tree(
        &compat_dir().join("cluster-resources"),
        &root.join("cluster-resources"),
    );
    std::fs::remove_dir_all(root.join("cluster-resources/support-bundle")).expect("rm");
    std::fs::write(
        root.join("version.yaml"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  versionNumber: test\n",
    )
    .expect("version.yaml");
    let spec = data("fixtures-v0.133/spec.yaml");
    let out = analyze(&[
        bundle.path().as_os_str(),
        os("--spec"),
        spec.as_os_str(),
        os("-o"),
        os("json"),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let elements = |text: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(text).expect("JSON array");
        let mut all: Vec<String> = v
            .as_array()
            .expect("array")
            .iter()
            .map(|e| serde_json::to_string(e).expect("json"))
            .collect();
        // troubleshoot reads the pod files in random (Go map) order.
        all.sort();
        all
    };
    let expected =
        std::fs::read_to_string(data("fixtures-v0.133/expected.json")).expect("expected.json");
    assert_eq!(elements(&stdout(&out)), elements(&expected));
}

#[test]
fn the_agent_exports_the_latest_analysis_per_job() {
    let dd = dirs();
    judged_job(&dd.jobs, "warn");
    let d = support::daemon::Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .start();
    let id = d.trigger("judged")["runId"]
        .as_str()
        .expect("run id")
        .to_string();
    let record = d.wait_run("judged", &id, std::time::Duration::from_secs(120));
    assert_eq!(record["status"], "analysisFailed", "{record:#}");
    let series = |name: &str| d.metric(&format!("troubleshoot_scheduler_{name}"));
    for (severity, count) in [("pass", 0.0), ("warn", 1.0), ("fail", 0.0), ("error", 0.0)] {
        let name = format!("analysis_results{{job=\"judged\",severity=\"{severity}\"}}");
        assert_eq!(series(&name), Some(count), "{name}");
    }
    assert_eq!(series("last_analysis_outcome{job=\"judged\"}"), Some(1.0));
    assert_eq!(
        series("last_run_outcome{job=\"judged\",outcome=\"analysisFailed\"}"),
        Some(1.0)
    );
    // `status` and `history` show the analysis column; JSON has the record's analysis object.
    let cli = |args: &[&str]| {
        let out = d
            .cli()
            .env("COLUMNS", "250")
            .args(args)
            .output()
            .expect("cli");
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let status = cli(&["status"]);
    assert!(status.contains("ANALYSIS"), "{status}");
    assert!(status.contains("pass 0 warn 1 fail 0"), "{status}");
    let status: serde_json::Value =
        serde_json::from_str(&cli(&["-o", "json", "status"])).expect("json");
    let last = &status["status"]["jobs"][0]["lastRun"];
    assert_eq!(last["analysis"]["warn"], 1, "{status:#}");
    assert_eq!(
        last["analysis"]["warnings"][0]["title"], "Greeting",
        "{status:#}"
    );
    let history = cli(&["history", "judged"]);
    assert!(history.contains("ANALYSIS"), "{history}");
    assert!(history.contains("pass 0 warn 1 fail 0"), "{history}");
    let history: serde_json::Value =
        serde_json::from_str(&cli(&["-o", "json", "history", "judged"])).expect("json");
    assert_eq!(history[0]["analysis"]["warn"], 1, "{history:#}");
    d.stop();
}

/// A job without analyzers shows `-` in the analysis column.
#[test]
fn history_shows_a_dash_when_no_analyzers_ran() {
    let dd = dirs();
    support::JobFile::new("plain").write(&dd.jobs);
    let out = support::trigger_foreground(
        &dd.jobs,
        &dd.state,
        "plain",
        &[],
        std::time::Duration::from_secs(120),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = agent(&dd.state)
        .env("COLUMNS", "250")
        .args(["--listen", "127.0.0.1:1", "history", "plain"])
        .output()
        .expect("history");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let header = text.lines().next().expect("header");
    let row = text.lines().nth(1).expect("row");
    let at = header.find("ANALYSIS").expect("ANALYSIS column");
    assert!(row[at..].starts_with("- "), "{text}");
}

/// `collect.specs` with a `kind: Analyzer` document and `analyze.specs` with another: both are
/// applied, and summary.txt lists each analyzer with its outcome and duration.
fn layered_job(dd: &support::Dirs) {
    std::fs::write(
        dd.jobs.join("collect.yaml.txt"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {name: c}\nspec:\n  hostCollectors:\n    - run: {collectorName: greeting, command: echo, args: [\"hello world\"]}\n---\napiVersion: troubleshoot.sh/v1beta2\nkind: Analyzer\nmetadata: {name: a}\nspec:\n  analyzers:\n    - textAnalyze:\n        checkName: From the Analyzer document\n        collectorName: host-collectors/run-host\n        fileName: greeting.txt\n        regex: hello\n        outcomes:\n          - warn: {when: \"true\", message: said hello}\n          - pass: {when: \"false\", message: silent}\n",
    )
    .expect("collect spec");
    std::fs::write(
        dd.jobs.join("extra.yaml.txt"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: Analyzer\nmetadata: {name: e}\nspec:\n  analyzers:\n    - textAnalyze:\n        checkName: From analyze.specs\n        collectorName: host-collectors/run-host\n        fileName: greeting.txt\n        regex: world\n        outcomes:\n          - pass: {when: \"true\", message: found the world}\n          - fail: {when: \"false\", message: no world}\n    - textAnalyze:\n        checkName: Skipped\n        exclude: true\n        collectorName: host-collectors/run-host\n        fileName: greeting.txt\n        regex: x\n        outcomes: [{pass: {message: x}}]\n",
    )
    .expect("extra spec");
    std::fs::write(
        dd.jobs.join("layered.yaml"),
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {name: layered}\nspec:\n  schedule: \"0 2 * * *\"\n  analyze:\n    specs: [extra.yaml.txt]\n  collect:\n    specs: [collect.yaml.txt]\n",
    )
    .expect("job");
}

#[test]
fn analyzers_of_analyze_specs_and_analyzer_documents_run_and_summary_txt_lists_them() {
    let dd = dirs();
    layered_job(&dd);
    let out = support::trigger_foreground(
        &dd.jobs,
        &dd.state,
        "layered",
        &[],
        std::time::Duration::from_secs(120),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let record: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("record");
    let analysis = &record["analysis"];
    assert_eq!(
        (&analysis["pass"], &analysis["warn"], &analysis["fail"]),
        (&1.into(), &1.into(), &0.into()),
        "{analysis:#}"
    );
    assert_eq!(
        analysis["warnings"][0]["title"],
        "From the Analyzer document"
    );
    let bundle = record["bundle"]["path"].as_str().expect("bundle path");
    let summary = std::process::Command::new("tar")
        .args([
            "xzOf",
            bundle,
            "--wildcards",
            "*/execution-data/summary.txt",
        ])
        .output()
        .expect("tar");
    assert!(summary.status.success(), "{summary:?}");
    let summary = String::from_utf8_lossy(&summary.stdout).into_owned();
    let section: Vec<&str> = summary
        .lines()
        .skip_while(|l| !l.contains("Analyzers summary"))
        .skip(3)
        .take_while(|l| !l.is_empty())
        .collect();
    let mut labels: Vec<&str> = section
        .iter()
        .map(|l| l.split(" : ").next().expect("label").trim_end())
        .collect();
    labels.sort_unstable();
    assert_eq!(
        labels,
        [
            "From analyze.specs (S)",
            "From the Analyzer document (S)",
            "Skipped (X)"
        ],
        "{summary}"
    );
    assert!(section.iter().all(|l| l.ends_with("ms")), "{summary}");
}

#[test]
fn validate_checks_analyze_specs_and_analyzer_documents_with_locations() {
    let dd = dirs();
    layered_job(&dd);
    let validate = |file: &str| {
        let out = agent(&dd.state)
            .arg("validate")
            .arg(dd.jobs.join(file))
            .output()
            .expect("validate");
        (
            out.status.code(),
            format!("{}{}", stdout(&out), stderr(&out)),
        )
    };
    let (code, text) = validate("layered.yaml");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("0 warnings"), "{text}");
    // The `kind: Analyzer` document of collect.specs is read and checked (it was ignored): a
    // misspelt analyzer type there is a warning at its line and column (troubleshoot ignores
    // it, so the job stays valid).
    let path = dd.jobs.join("collect.yaml.txt");
    let good = std::fs::read_to_string(&path).expect("read");
    std::fs::write(&path, format!("{good}    - weaveReprt: {{}}\n")).expect("write");
    let (code, text) = validate("layered.yaml");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("collect.yaml.txt:21:7"), "{text}");
    assert!(text.contains("weaveReport"), "the suggestion: {text}");
    std::fs::write(&path, good).expect("write");

    // A located error inside the analyze.specs file points there, and at the reference.
    std::fs::write(
        dd.jobs.join("extra.yaml.txt"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: Analyzer\nmetadata: {name: e}\nspec:\n  analyzers:\n    - textAnalyze: 5\n",
    )
    .expect("write");
    let (code, text) = validate("layered.yaml");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("extra.yaml.txt:6:"), "{text}");
    assert!(text.contains("layered.yaml:7:"), "{text}");

    // A missing file is an error at the reference; a file another user owns is refused.
    std::fs::remove_file(dd.jobs.join("extra.yaml.txt")).expect("rm");
    let (code, text) = validate("layered.yaml");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("layered.yaml:7:") && text.contains("extra.yaml.txt"),
        "{text}"
    );
    std::fs::write(
        dd.jobs.join("extra.yaml.txt"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: Analyzer\nmetadata: {name: e}\nspec:\n  analyzers: []\n",
    )
    .expect("write");
    std::os::unix::fs::chown(dd.jobs.join("extra.yaml.txt"), Some(65534), Some(65534))
        .expect("chown to nobody");
    let (code, text) = validate("layered.yaml");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("65534") || text.contains("nobody"), "{text}");
}
