//! `collect.engine: support-bundle` runs the troubleshoot CLI. The CLI is not installable here, so
//! these tests use `tests/support/fake-support-bundle`, a stand-in script that takes the documented
//! flags, writes a troubleshoot-layout archive at `-o`, prints the documented JSON and exits with
//! the documented codes.

use crate::support;

use std::path::{Path, PathBuf};
use support::{agent, stdout};

fn fake_cli() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake-support-bundle")
}

struct Setup {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    jobs: PathBuf,
    state: PathBuf,
    config: PathBuf,
    engine: PathBuf,
}

fn setup(engine_path: &Path) -> Setup {
    let jobs_dir = tempfile::tempdir().expect("tempdir");
    let state_dir = tempfile::tempdir().expect("tempdir");
    let jobs = jobs_dir.path().to_path_buf();
    std::fs::write(
        jobs.join("spec.yaml.txt"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {name: x}\nspec:\n  collectors: [{clusterInfo: {}}]\n",
    )
    .expect("spec");
    std::fs::write(
        jobs.join("ext.yaml"),
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {name: ext}\nspec:\n  schedule: \"0 2 * * *\"\n  timeout: 5s\n  collect:\n    engine: support-bundle\n    specs: [spec.yaml.txt]\n    namespaces: [prod]\n    since: 24h\n",
    )
    .expect("job");
    let config = state_dir.path().join("agent.yaml");
    Setup {
        jobs,
        state: state_dir.path().join("state"),
        config,
        engine: engine_path.to_path_buf(),
        _dirs: (jobs_dir, state_dir),
    }
}

/// The CLI the agent is configured with. The agent gives the CLI a clean environment (never its
/// own), so the stand-in's switches reach it through a wrapper script, which also saves the
/// environment the CLI got to `<args_log>.env`.
fn configure(s: &Setup, mode: &str, args_log: &Path) {
    let engine = if s.engine.is_file() {
        use std::os::unix::fs::PermissionsExt;
        let wrapper = s.config.with_file_name("support-bundle-wrapper");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nenv > '{log}.env'\nexport FAKE_SB_MODE='{mode}' FAKE_SB_ARGS_LOG='{log}'\nexec '{}' \"$@\"\n",
                s.engine.display(),
                log = args_log.display()
            ),
        )
        .expect("wrapper");
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        wrapper
    } else {
        s.engine.clone()
    };
    std::fs::write(
        &s.config,
        format!(
            "supportBundlePath: {}\nlisten: 127.0.0.1:1\n",
            engine.display()
        ),
    )
    .expect("config");
}

fn trigger(s: &Setup, mode: &str, args_log: &Path) -> (std::process::Output, serde_json::Value) {
    configure(s, mode, args_log);
    let out = agent(&s.state)
        .arg("--config")
        .arg(&s.config)
        .arg("--jobs-dir")
        .arg(&s.jobs)
        .args(["--output", "json", "trigger", "ext"])
        .env("TSA_LEAK_CANARY", "s3cr3t-value-123")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .expect("runs");
    let record = serde_json::from_str(&stdout(&out)).unwrap_or(serde_json::Value::Null);
    (out, record)
}

#[test]
fn a_successful_cli_run_records_its_archive() {
    let s = setup(&fake_cli());
    let log = s.state.with_extension("args");
    let (out, record) = trigger(&s, "ok", &log);
    assert_eq!(out.status.code(), Some(0), "{record}");
    assert_eq!(record["status"], "succeeded");
    let bundle = record["bundle"]["path"].as_str().expect("bundle path");
    assert!(
        bundle.ends_with(".tar.gz") && Path::new(bundle).is_file(),
        "{bundle}"
    );
    assert!(bundle.starts_with(s.state.join("jobs/ext/bundles").to_str().expect("utf-8")));
    let (sha, size) = troubleshoot_agent::digest::sha256_file(Path::new(bundle)).expect("hash");
    assert_eq!(record["bundle"]["sha256"], sha.as_str());
    assert_eq!(record["bundle"]["size"], size);
    assert_eq!(record["analysis"], serde_json::json!([]));
    // The CLI got the clean environment plus KUBECONFIG, not the agent's.
    let env = std::fs::read_to_string(log.with_extension("args.env")).expect("env log");
    assert!(!env.contains("TSA_LEAK_CANARY"), "{env}");
    assert!(env.contains("KUBECONFIG=/nonexistent/kubeconfig"), "{env}");
    assert!(env.lines().any(|l| l.starts_with("PATH=")), "{env}");
    let args = std::fs::read_to_string(&log).expect("args log");
    for flag in [
        "--interactive=false",
        "--namespace=prod",
        "--since=24h",
        "spec.yaml.txt",
    ] {
        assert!(args.contains(flag), "missing {flag} in {args}");
    }
    let listing = std::process::Command::new("tar")
        .arg("tzf")
        .arg(bundle)
        .output()
        .expect("tar");
    assert!(String::from_utf8_lossy(&listing.stdout).contains("/version.yaml"));
}

#[test]
fn a_templated_v1beta3_spec_reaches_the_cli_rendered_with_the_jobs_values() {
    let s = setup(&fake_cli());
    std::fs::write(
        s.jobs.join("spec.yaml.txt"),
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundle\nmetadata: {name: x}\nspec:\n  collectors:\n    - logs:\n        namespace: {{ .Values.ns }}\n        name: {{ .Values.name | quote }}\n",
    )
    .expect("spec");
    let job = std::fs::read_to_string(s.jobs.join("ext.yaml")).expect("job");
    std::fs::write(
        s.jobs.join("ext.yaml"),
        job.replace(
            "    specs: [spec.yaml.txt]\n",
            "    specs: [spec.yaml.txt]\n    set: {ns: payments, name: api-logs}\n",
        ),
    )
    .expect("job");
    let log = s.state.with_extension("args");
    let (out, record) = trigger(&s, "ok", &log);
    assert_eq!(out.status.code(), Some(0), "{record}");
    assert_eq!(record["status"], "succeeded", "{record}");
    // The CLI got a rendered copy from the run's staging directory, not the template.
    let args = std::fs::read_to_string(&log).expect("args log");
    let given = (args.lines())
        .find(|l| l.ends_with("spec.yaml.txt"))
        .unwrap_or_else(|| panic!("no spec in {args}"));
    assert!(
        given.starts_with(s.state.join("jobs/ext").to_str().expect("utf-8"))
            && given.contains("rendered-0-spec.yaml.txt"),
        "{given}"
    );
    assert!(
        !Path::new(given).exists(),
        "the rendered copy goes with the staging directory"
    );
    // The stand-in copies the specs it was given into the bundle.
    let bundle = record["bundle"]["path"].as_str().expect("bundle path");
    let top = Path::new(bundle)
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".tar.gz"))
        .expect("name");
    let text = std::process::Command::new("tar")
        .args(["xzOf", bundle, &format!("{top}/rendered-0-spec.yaml.txt")])
        .output()
        .expect("tar");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("namespace: payments\n") && text.contains("name: \"api-logs\"\n"),
        "{text}"
    );
}

#[test]
fn exit_1_keeps_the_archive_and_fails_the_run() {
    let s = setup(&fake_cli());
    let (out, record) = trigger(&s, "partial", &s.state.with_extension("args"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(record["status"], "failed");
    assert!(
        record["reason"]
            .as_str()
            .is_some_and(|r| r.contains("exited with 1") && r.contains("insufficient permissions")),
        "{record}"
    );
    assert_eq!(record["bundle"]["partial"], true);
}

#[test]
fn spec_errors_and_a_missing_cli_fail_clearly() {
    let s = setup(&fake_cli());
    let (out, record) = trigger(&s, "spec-error", &s.state.with_extension("args"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        record["reason"]
            .as_str()
            .is_some_and(|r| r.contains("exited with 2") && r.contains("failed to load spec")),
        "{record}"
    );
    assert!(record["bundle"].is_null());

    let missing = setup(Path::new("/nonexistent/support-bundle"));
    let (out, record) = trigger(&missing, "ok", &missing.state.with_extension("args"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        record["reason"]
            .as_str()
            .is_some_and(|r| r.contains("supportBundlePath")),
        "{record}"
    );
}

#[test]
fn a_hanging_cli_is_killed_at_the_job_timeout() {
    let s = setup(&fake_cli());
    let (out, record) = trigger(&s, "hang", &s.state.with_extension("args"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(record["status"], "timed-out", "{record}");
}

#[test]
fn the_agents_secrets_are_removed_from_the_clis_archive() {
    const SECRET: &str = "upload-secret-for-cli-77";
    let s = setup(&fake_cli());
    // The stand-in copies the spec into its archive: a secret the spec prints ends up there.
    std::fs::write(
        s.jobs.join("spec.yaml.txt"),
        format!(
            "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {{name: x}}\nspec:\n  collectors: [{{clusterInfo: {{}}}}]\n# printed: {SECRET}\n"
        ),
    )
    .expect("spec");
    let job = std::fs::read_to_string(s.jobs.join("ext.yaml")).expect("job");
    std::fs::write(
        s.jobs.join("ext.yaml"),
        format!(
            "{job}  upload:\n    - http: {{url: \"http://127.0.0.1:1/in\", headers: {{X-Key: {{fromEnv: CLI_UPLOAD_TOKEN}}}}}}\n"
        ),
    )
    .expect("job");
    let log = s.state.with_extension("args");
    configure(&s, "ok", &log);
    let out = agent(&s.state)
        .arg("--config")
        .arg(&s.config)
        .arg("--jobs-dir")
        .arg(&s.jobs)
        .args(["--output", "json", "trigger", "ext"])
        .env("CLI_UPLOAD_TOKEN", SECRET)
        .output()
        .expect("runs");
    let record: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("record");
    assert_eq!(record["status"], "succeeded", "{record:#}");
    let bundle = record["bundle"]["path"].as_str().expect("bundle path");
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(bundle).expect("bundle")),
        &mut bytes,
    )
    .expect("gunzip");
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("# printed: ***HIDDEN***"),
        "the spec is in the archive"
    );
    assert!(!text.contains(SECRET));
    let (sha, _) = troubleshoot_agent::digest::sha256_file(Path::new(bundle)).expect("hash");
    assert_eq!(
        record["bundle"]["sha256"],
        sha.as_str(),
        "hashed after redaction"
    );
    assert_eq!(
        record["redaction"]["agentSecrets"]["values"], 1,
        "{record:#}"
    );
}
