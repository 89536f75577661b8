//! `schema`, settings precedence and the shipped examples, through the real binary.

use crate::support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use support::{JobFile, agent, stderr, stdout};
use tempfile::TempDir;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn schema_file() -> PathBuf {
    repo().join("schemas/support-bundle-schedule.schema.json")
}

fn examples() -> PathBuf {
    repo().join("config.example.d")
}

fn printed_schema(state: &Path) -> String {
    let out = agent(state).arg("schema").output().expect("run schema");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn schema_matches_the_committed_file() {
    let state = tempfile::tempdir().expect("tempdir");
    let printed = printed_schema(state.path());
    let committed = std::fs::read_to_string(schema_file()).unwrap_or_default();
    assert!(
        printed == committed,
        "schema is stale: run `cargo run -- schema > schemas/support-bundle-schedule.schema.json`"
    );
    let _: Value = serde_json::from_str(&printed).expect("the schema is JSON");
}

#[test]
fn schema_requires_the_top_level_keys_the_examples_have() {
    let state = tempfile::tempdir().expect("tempdir");
    let document: Value = serde_json::from_str(&printed_schema(state.path())).expect("JSON");
    // A document is a job or a set of jobs; both have the four top-level keys.
    let members: Vec<&str> = (document["anyOf"].as_array().expect("anyOf[]").iter())
        .map(|m| m["$ref"].as_str().expect("$ref"))
        .collect();
    assert_eq!(members, ["#/$defs/JobDocument", "#/$defs/SetDocument"]);
    for def in ["JobDocument", "SetDocument"] {
        let required: Vec<&str> = document["$defs"][def]["required"]
            .as_array()
            .expect("required[]")
            .iter()
            .map(|v| v.as_str().expect("key name"))
            .collect();
        for key in ["apiVersion", "kind", "metadata", "spec"] {
            assert!(
                required.contains(&key),
                "{def}: `{key}` not required: {required:?}"
            );
        }
    }
    let schema = &document["$defs"]["JobDocument"];
    let properties = schema["properties"].as_object().expect("properties");
    let closed = schema["additionalProperties"] == Value::Bool(false);
    let mut checked = 0;
    for entry in std::fs::read_dir(examples()).expect("config.example.d") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read example");
        let docs = troubleshoot_agent::yaml::parse_documents(&text).expect("example is YAML");
        for doc in &docs {
            let keys: Vec<&str> = doc
                .as_map()
                .expect("a mapping")
                .iter()
                .map(|(k, _)| k.as_str().expect("string key"))
                .collect();
            for key in ["apiVersion", "kind", "metadata", "spec"] {
                assert!(keys.contains(&key), "{}: missing `{key}`", path.display());
            }
            if closed {
                for key in &keys {
                    assert!(
                        properties.contains_key(*key),
                        "{}: `{key}` is not in the schema",
                        path.display()
                    );
                }
            }
            assert_eq!(
                doc.get("apiVersion").and_then(|n| n.as_str()),
                Some("troubleshoot.sh/v1beta3")
            );
            assert_eq!(
                doc.get("kind").and_then(|n| n.as_str()),
                Some("SupportBundleSchedule")
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "the two example jobs");
}

/// Three jobs dirs, each with one job named after it.
struct Setup {
    _root: TempDir,
    state: PathBuf,
    config: PathBuf,
    from_file: PathBuf,
    from_env: PathBuf,
    from_flag: PathBuf,
}

fn setup() -> Setup {
    let root = tempfile::tempdir().expect("tempdir");
    let state = root.path().join("state");
    std::fs::create_dir(&state).expect("mkdir");
    let mk = |name: &str| {
        let dir = root.path().join(name);
        std::fs::create_dir(&dir).expect("mkdir");
        JobFile::new(name).write(&dir);
        dir
    };
    let (from_file, from_env, from_flag) = (mk("from-file"), mk("from-env"), mk("from-flag"));
    let config = root.path().join("agent.yaml");
    std::fs::write(&config, format!("jobsDir: {}\n", from_file.display())).expect("write");
    Setup {
        _root: root,
        state,
        config,
        from_file,
        from_env,
        from_flag,
    }
}

/// The job names `validate` (no PATH: the jobs dir) reads with `cmd`'s settings.
fn jobs_read(mut cmd: assert_cmd::Command) -> Vec<String> {
    let out = cmd
        .arg("--output")
        .arg("json")
        .arg("validate")
        .output()
        .expect("validate");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    report["jobs"]
        .as_array()
        .expect("jobs[]")
        .iter()
        .map(|j| j.as_str().expect("name").to_string())
        .collect()
}

#[test]
fn settings_precedence_file_then_env_then_flag() {
    let s = setup();
    let mut cmd = agent(&s.state);
    cmd.arg("--config").arg(&s.config);
    assert_eq!(jobs_read(cmd), ["from-file"]);

    let mut cmd = agent(&s.state);
    cmd.arg("--config")
        .arg(&s.config)
        .env("TROUBLESHOOT_AGENT_JOBS_DIR", &s.from_env);
    assert_eq!(jobs_read(cmd), ["from-env"]);

    let mut cmd = agent(&s.state);
    cmd.arg("--config")
        .arg(&s.config)
        .env("TROUBLESHOOT_AGENT_JOBS_DIR", &s.from_env)
        .arg("--jobs-dir")
        .arg(&s.from_flag);
    assert_eq!(jobs_read(cmd), ["from-flag"]);

    assert!(s.from_file.is_dir() && s.from_env.is_dir() && s.from_flag.is_dir());
}

#[test]
fn log_filter_variable_is_not_a_setting() {
    // TROUBLESHOOT_AGENT_LOG shares the settings prefix; it must not be read as a `log` setting.
    let s = setup();
    let mut cmd = agent(&s.state);
    cmd.arg("--config")
        .arg(&s.config)
        .env("TROUBLESHOOT_AGENT_LOG", "warn");
    assert_eq!(jobs_read(cmd), ["from-file"]);
}

#[test]
fn missing_config_file_fails_naming_it() {
    let s = setup();
    let missing = s.config.with_file_name("nope.yaml");
    let out = agent(&s.state)
        .arg("--config")
        .arg(&missing)
        .arg("validate")
        .output()
        .expect("validate");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: cannot load agent settings: settings file {} does not exist\n",
            missing.display()
        )
    );
}

#[test]
fn unknown_settings_key_fails_naming_it() {
    let s = setup();
    std::fs::write(&s.config, "jobsDri: /srv/jobs\n").expect("write");
    let out = agent(&s.state)
        .arg("--config")
        .arg(&s.config)
        .arg("validate")
        .output()
        .expect("validate");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: cannot load agent settings: invalid settings: `jobsDri`: "),
        "{err}"
    );
    assert!(err.contains("unknown field"), "{err}");
    assert!(err.contains(&s.config.display().to_string()), "{err}");
}

#[test]
fn shipped_examples_validate_without_errors() {
    let state = tempfile::tempdir().expect("tempdir");
    let out = agent(state.path())
        .arg("--jobs-dir")
        .arg(examples())
        .arg("--output")
        .arg("json")
        .arg("validate")
        .output()
        .expect("validate");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["valid"], Value::Bool(true));
    assert_eq!(report["errors"], Value::Array(Vec::new()), "{report:#}");
    // Nothing the build does not run is enabled in the examples (issue 15).
    assert_eq!(report["warnings"], Value::Array(Vec::new()), "{report:#}");
    assert_eq!(report["files"], 2);
    assert_eq!(
        report["jobs"],
        serde_json::json!(["host-daily", "host-hourly"])
    );
}

#[test]
fn shipped_examples_plan_as_two_adds() {
    let state = tempfile::tempdir().expect("tempdir");
    let out = agent(state.path())
        .arg("--jobs-dir")
        .arg(examples())
        .arg("plan")
        .output()
        .expect("plan");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let dir = examples();
    for name in ["host-daily", "host-hourly"] {
        let line = format!(
            "+ add      {name} ({})",
            dir.join(format!("{name}.yaml")).display()
        );
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }
    assert_eq!(
        text.lines().last(),
        Some("Plan: 2 to add, 0 to change, 0 to remove, 0 files rejected.")
    );
}

#[test]
fn a_spec_shared_by_many_jobs_reports_each_problem_once_and_order_is_stable() {
    // 100 jobs (enough to load on several threads) share one spec with a field troubleshoot
    // ignores (a warning).
    let jobs = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let spec = jobs.path().join("shared.spec");
    std::fs::write(
        &spec,
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {name: s}\nspec:\n  hostCollectors:\n    - cpu: {bogusField: 1}\n",
    )
    .expect("spec");
    for i in 0..100 {
        support::JobFile::new(&format!("job-{i:03}"))
            .spec_file(spec.to_str().expect("utf-8"))
            .write(jobs.path());
    }
    let out = support::agent(state.path())
        .args(["--output", "json", "validate"])
        .arg(jobs.path())
        .output()
        .expect("runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let warnings = report["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("`bogusField`"))
    );
    let names: Vec<&str> = report["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names.len(), 100);
    assert_eq!(
        names, sorted,
        "job order follows the file names whatever thread read them"
    );
}

/// `-o` is `--output`; `history` of a job that never ran here and `status` without an agent or a
/// state directory fail with a message instead of printing an empty answer; `--help` lists the
/// environment and each command's exit codes.
#[test]
fn short_output_flag_missing_things_fail_and_help_lists_environment_and_exit_codes() {
    let root = tempfile::tempdir().expect("tempdir");
    let state = root.path().join("state");
    let out = agent(&state)
        .args(["-o", "json", "schema"])
        .output()
        .expect("schema");
    assert!(out.status.success(), "{}", stderr(&out));

    let missing = root.path().join("no-such-state");
    let out = agent(&missing).arg("status").output().expect("status");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("does not exist") && stderr(&out).contains("no-such-state"),
        "{}",
        stderr(&out)
    );

    std::fs::create_dir_all(&state).expect("state dir");
    let out = agent(&state)
        .args(["history", "nosuchjob"])
        .output()
        .expect("history");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("no job `nosuchjob`"),
        "{}",
        stderr(&out)
    );

    let help = agent(&state).arg("--help").output().expect("--help");
    let text = stdout(&help);
    for needle in [
        "Environment:",
        "TROUBLESHOOT_AGENT_LOG",
        "NO_COLOR",
        "Exit codes:",
    ] {
        assert!(text.contains(needle), "`{needle}` not in --help:\n{text}");
    }
    let help = agent(&state)
        .args(["plan", "--help"])
        .output()
        .expect("plan --help");
    assert!(
        stdout(&help).contains("2 changes with --detailed-exitcode"),
        "{}",
        stdout(&help)
    );
}
