//! Shared fixtures for the integration tests: builder-style job files and the agent binary.
#![allow(dead_code)] // the example kube-test-server uses only kube_api

use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub mod alone;
pub mod config_mgmt;
pub mod daemon;
pub mod gcs;
pub mod kube_api;
pub mod plan;
pub mod ports;
pub mod servers;
pub mod triggered;

/// The agent binary with a clean environment: no settings file, no TROUBLESHOOT_AGENT_* variables.
pub fn agent(state_dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("troubleshoot-agent").expect("binary is built");
    for (key, _) in std::env::vars() {
        if key.starts_with("TROUBLESHOOT_AGENT_")
            || key == "STATE_DIRECTORY"
            || key == "CONFIGURATION_DIRECTORY"
        {
            cmd.env_remove(key);
        }
    }
    cmd.arg("--state-dir").arg(state_dir);
    cmd
}

/// The compat corpus shipped beside the repository (`../shared/compat`).
pub fn compat_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/compat");
    assert!(
        dir.is_dir(),
        "the compat corpus is missing at {}; the tests need ../shared/compat beside the repository",
        dir.display()
    );
    dir
}

/// A job file, built field by field.
#[derive(Clone, Debug)]
pub struct JobFile {
    name: String,
    schedule: String,
    time_zone: Option<String>,
    extra_spec: Vec<String>,
    specs: Vec<String>,
    inline: bool,
    host_collectors: Option<String>,
    engine: Option<String>,
}

impl JobFile {
    /// A valid job with an inline spec, firing daily at 02:00.
    pub fn new(name: &str) -> Self {
        JobFile {
            name: name.to_string(),
            schedule: "0 2 * * *".to_string(),
            time_zone: None,
            extra_spec: Vec::new(),
            specs: Vec::new(),
            inline: true,
            host_collectors: None,
            engine: None,
        }
    }

    /// Sets the cron expression.
    pub fn schedule(mut self, s: &str) -> Self {
        self.schedule = s.to_string();
        self
    }

    /// Sets `timeZone`.
    pub fn time_zone(mut self, tz: &str) -> Self {
        self.time_zone = Some(tz.to_string());
        self
    }

    /// Adds a raw line under `spec:` (two-space indented by the builder).
    pub fn spec_line(mut self, line: &str) -> Self {
        self.extra_spec.push(line.to_string());
        self
    }

    /// A run that takes `seconds`: one host `run` collector running `sleep`.
    pub fn sleep(mut self, seconds: u32) -> Self {
        self.host_collectors = Some(format!(
            "        - run: {{collectorName: s, command: sleep, args: [\"{seconds}\"]}}\n"
        ));
        self
    }

    /// Sets `collect.engine`.
    pub fn engine(mut self, engine: &str) -> Self {
        self.engine = Some(engine.to_string());
        self
    }

    /// References a spec file instead of the inline spec.
    pub fn spec_file(mut self, path: &str) -> Self {
        self.specs.push(path.to_string());
        self.inline = false;
        self
    }

    /// The YAML text.
    pub fn render(&self) -> String {
        let mut s = format!(
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: {}\nspec:\n  schedule: \"{}\"\n",
            self.name, self.schedule
        );
        if let Some(tz) = &self.time_zone {
            s.push_str(&format!("  timeZone: {tz}\n"));
        }
        for line in &self.extra_spec {
            s.push_str(&format!("  {line}\n"));
        }
        s.push_str("  collect:\n");
        if let Some(engine) = &self.engine {
            s.push_str(&format!("    engine: {engine}\n"));
        }
        if self.inline {
            s.push_str("    supportBundle:\n      hostCollectors:\n");
            s.push_str(
                self.host_collectors
                    .as_deref()
                    .unwrap_or("        - cpu: {}\n"),
            );
        } else {
            s.push_str("    specs:\n");
            for p in &self.specs {
                s.push_str(&format!("      - {p}\n"));
            }
        }
        s
    }

    /// Writes it to `dir/<name>.yaml` and returns the path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("{}.yaml", self.name));
        std::fs::write(&path, self.render()).expect("write job file");
        path
    }
}

/// stdout of a finished command as text.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr of a finished command as text.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A temp dir with `jobs/` and `state/` inside.
pub struct Dirs {
    /// The temp dir (removed on drop).
    pub root: tempfile::TempDir,
    /// `<root>/jobs`.
    pub jobs: PathBuf,
    /// `<root>/state`.
    pub state: PathBuf,
}

/// Fresh `jobs/` and `state/` directories.
pub fn dirs() -> Dirs {
    let root = tempfile::tempdir().expect("tempdir");
    let jobs = root.path().join("jobs");
    let state = root.path().join("state");
    std::fs::create_dir(&jobs).expect("mkdir jobs");
    std::fs::create_dir(&state).expect("mkdir state");
    Dirs { root, jobs, state }
}

/// `trigger JOB --output json` in the foreground (no agent listens on the address), with `env`
/// added, killed after `timeout`.
pub fn trigger_foreground(
    jobs: &Path,
    state: &Path,
    job: &str,
    env: &[(&str, &str)],
    timeout: std::time::Duration,
) -> std::process::Output {
    let closed = ports::ClosedPort::new();
    let mut cmd = agent(state);
    cmd.arg("--jobs-dir")
        .arg(jobs)
        .arg("--listen")
        .arg(closed.addr())
        .args(["--output", "json", "trigger", job]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.timeout(timeout).output().expect("run trigger")
}

/// A wrapper around `tests/support/fake-support-bundle` in `dir` that sets `env` for it: the agent
/// runs the troubleshoot CLI with a clean environment, never its own, so switches for the stand-in
/// cannot come through the agent's environment.
pub fn fake_support_bundle(dir: &Path, env: &[(&str, &str)]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake-support-bundle");
    let mut script = String::from("#!/bin/sh\n");
    for (k, v) in env {
        script.push_str(&format!("export {k}='{}'\n", v.replace('\'', r"'\''")));
    }
    script.push_str(&format!("exec '{}' \"$@\"\n", fake.display()));
    let wrapper = dir.join("fake-support-bundle-wrapper");
    std::fs::write(&wrapper, script).expect("write wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    wrapper
}

/// A scheduled run's record of `job` (`run_id`, started and scheduled at `started`, on host
/// `h`, nothing collected yet): tests set what they need over it (`RunRecord { .., ..this }`).
pub fn run_record(
    job: &str,
    run_id: troubleshoot_agent::state::RunId,
    started: chrono::DateTime<chrono::Utc>,
    status: troubleshoot_agent::state::records::RunStatus,
) -> troubleshoot_agent::state::records::RunRecord {
    use troubleshoot_agent::state::records::{RECORD_VERSION, RunRecord, Trigger};
    RunRecord {
        version: RECORD_VERSION,
        run_id,
        job: job.into(),
        spec_hash: "h".into(),
        trigger: Trigger::Schedule,
        alert: None,
        attempt: 1,
        first_trigger: None,
        scheduled_at: Some(started),
        started_at: started,
        ended_at: None,
        status,
        reason: None,
        host: "h".into(),
        phases: Vec::new(),
        collectors: Vec::new(),
        bundle: None,
        redaction: None,
        analysis: None,
        limits: None,
        uploads: Vec::new(),
        missed: None,
        notifications: Vec::new(),
        cluster_specs: Vec::new(),
        spec_uris: Vec::new(),
        changes: None,
        parent: None,
    }
}
