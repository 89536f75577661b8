//! A throwaway root for the Ansible and Puppet tests (`deploy/ansible`, `deploy/puppet`): the
//! agent binary copied to `<root>/usr/bin` (the .deb's install is the package's own test), the
//! jobs directory at `<root>/etc/troubleshoot/jobs.d`, and a real agent reading it that applies
//! the directory only when the tool's handler asks (its watcher and rescan are pushed an hour
//! out), so "the agent picked it up" proves the handler ran.

use super::daemon::Daemon;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Fails (never skips) when `program` is not on PATH, naming the Debian package.
pub fn require_tool(program: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{program} is not installed: `apt-get install -y {package}` (scripts/test does it)"
    );
}

/// The root, its agent and the handler's trace.
pub struct Root {
    /// The temp dir everything lives in.
    pub tmp: tempfile::TempDir,
    /// `<root>/usr/bin/troubleshoot-agent`.
    pub binary: PathBuf,
    /// `<root>/etc/troubleshoot/jobs.d`.
    pub jobs: PathBuf,
    /// The running agent.
    pub agent: Daemon,
    /// One line per time the reload handler ran.
    pub reloads_log: PathBuf,
}

impl Root {
    /// A root whose jobs directory holds `base.yaml` (job `base`), and its agent, started.
    pub fn new() -> Root {
        let tmp = tempfile::tempdir().expect("tempdir");
        let bin_dir = tmp.path().join("usr/bin");
        std::fs::create_dir_all(&bin_dir).expect("mkdir usr/bin");
        let binary = bin_dir.join("troubleshoot-agent");
        std::fs::copy(env!("CARGO_BIN_EXE_troubleshoot-agent"), &binary).expect("copy binary");
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let jobs = tmp.path().join("etc/troubleshoot/jobs.d");
        std::fs::create_dir_all(&jobs).expect("mkdir jobs.d");
        super::JobFile::new("base").write(&jobs);
        let agent = Daemon::builder()
            .jobs(&jobs)
            .state(&tmp.path().join("var/lib/troubleshoot-agent"))
            .setting("watchDebounce", "1h")
            .setting("rescanInterval", "1h")
            .start();
        assert!(agent.job("base").is_some(), "{}", agent.status());
        let reloads_log = tmp.path().join("reloads.log");
        Root {
            tmp,
            binary,
            jobs,
            agent,
            reloads_log,
        }
    }

    /// The handler's command: SIGHUP to the agent (what `systemctl reload` ends in), and a line
    /// in [`Root::reloads_log`].
    pub fn reload_command(&self) -> String {
        format!(
            "sh -c 'echo reload >> {} && kill -HUP {}'",
            self.reloads_log.display(),
            self.agent.pid()
        )
    }

    /// How many times the handler ran.
    pub fn reloads(&self) -> usize {
        std::fs::read_to_string(&self.reloads_log)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    }

    /// A file under the root (created parents).
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.tmp.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, text).expect("write");
        path
    }

    /// `<jobs>/<name>.yaml`'s text.
    pub fn job_file(&self, name: &str) -> String {
        let path = self.jobs.join(format!("{name}.yaml"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The entries of the jobs directory, sorted (to see that no temp file was left).
    pub fn job_dir_entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.jobs)
            .expect("read jobs dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }

    /// Waits until the agent runs job `name` with `schedule`.
    pub fn wait_schedule(&self, name: &str, schedule: &str) {
        self.agent.wait_job(
            name,
            &format!("schedule {schedule}"),
            std::time::Duration::from_secs(30),
            |j| j["schedule"] == schedule,
        );
    }
}

/// A job file whose schedule comes from the tool's templating: `{schedule}` is inserted as is.
pub fn job_text(name: &str, schedule: &str) -> String {
    format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: {name}\nspec:\n  schedule: \"{schedule}\"\n  collect:\n    supportBundle:\n      hostCollectors:\n        - cpu: {{}}\n"
    )
}

/// Output of a finished command, both streams, for failure messages.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "exit {}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `path` relative to the crate root.
pub fn crate_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}
