//! A non-root agent on a Kubernetes volume: the kubelet creates the state directory's volume
//! owned by root with mode 0777, the agent runs as 65532. Without help it must say clearly what
//! is wrong and what to do; `prepare-state`, run as root holding only CAP_CHOWN and CAP_FOWNER
//! (as the documented init container does), must hand the volume over so that the agent, run as
//! 65532 through setpriv, works on it; and it must refuse what it cannot do safely.

use crate::support;

use assert_cmd::Command;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;
use support::{JobFile, stderr, stdout};

const AGENT_USER: &str = "65532";
const OWNER: &str = "65532:65532";
/// Bounds a command that should end by itself, so a regression cannot hang the suite.
const GUARD: Duration = Duration::from_secs(120);

fn setpriv() -> PathBuf {
    let path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("setpriv"))
        .find(|p| p.is_file());
    path.unwrap_or_else(|| {
        panic!("setpriv (util-linux) is not installed: these tests run the agent as uid 65532 through it; install util-linux")
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

/// The agent binary through setpriv with `setpriv_args`, a clean environment and `--state-dir`.
fn agent_via(setpriv_args: &[&str], state: &Path) -> Command {
    assert!(
        is_root(),
        "these tests run as root (as CI does): they hand a root-owned volume over and switch users with setpriv"
    );
    let mut cmd = Command::new(setpriv());
    cmd.args(setpriv_args)
        .arg(assert_cmd::cargo::cargo_bin("troubleshoot-agent"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TROUBLESHOOT_AGENT_")
            || key == "STATE_DIRECTORY"
            || key == "CONFIGURATION_DIRECTORY"
        {
            cmd.env_remove(key);
        }
    }
    cmd.arg("--state-dir").arg(state).timeout(GUARD);
    cmd
}

/// The agent as its image's user, 65532, with no supplementary groups.
fn as_agent_user(state: &Path) -> Command {
    agent_via(
        &[
            &format!("--reuid={AGENT_USER}"),
            &format!("--regid={AGENT_USER}"),
            "--clear-groups",
        ],
        state,
    )
}

/// Root with only CAP_CHOWN and CAP_FOWNER, as the documented init container runs
/// (`capabilities: {drop: [ALL], add: [CHOWN, FOWNER]}`).
fn as_init_container(state: &Path) -> Command {
    agent_via(&["--bounding-set=-all,+chown,+fowner"], state)
}

/// A temp dir others can enter (0755), a root-owned jobs directory with one host job, and `vol`,
/// root-owned 0777: a fresh emptyDir.
struct Pod {
    root: tempfile::TempDir,
    jobs: PathBuf,
    vol: PathBuf,
}

fn pod() -> Pod {
    let root = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let jobs = root.path().join("jobs");
    let vol = root.path().join("vol");
    std::fs::create_dir(&jobs).expect("mkdir jobs");
    std::fs::create_dir(&vol).expect("mkdir vol");
    std::fs::set_permissions(&vol, std::fs::Permissions::from_mode(0o777)).expect("chmod 0777");
    JobFile::new("host").write(&jobs);
    Pod { root, jobs, vol }
}

impl Pod {
    /// `trigger host` in the foreground as 65532 (no agent listens on the closed port).
    fn trigger_as_agent_user(&self, state: &Path) -> Output {
        let closed = support::ports::ClosedPort::new();
        as_agent_user(state)
            .arg("--jobs-dir")
            .arg(&self.jobs)
            .arg("--listen")
            .arg(closed.addr())
            .args(["trigger", "host"])
            .output()
            .expect("trigger")
    }
}

fn owner_and_mode(path: &Path) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(path).expect("stat");
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

#[test]
fn a_non_root_agent_on_a_root_owned_volume_says_what_to_do() {
    let p = pod();
    let expected = format!(
        "{vol} is owned by uid 0 (gid 0, mode 0777), and the agent runs as uid 65532: only the owner can make it private (mode 0700), and the agent keeps its state only in a directory of its own. Give it to the agent's user: `chown 65532:65532 {vol} && chmod 0700 {vol}`; in Kubernetes, where a volume starts out owned by root, run `troubleshoot-agent prepare-state --owner 65532:65532 --state-dir {vol}` in an init container",
        vol = p.vol.display()
    );
    // The one-shot run and the daemon both stop at once, with the documented exit code 1.
    let out = p.trigger_as_agent_user(&p.vol);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
    assert!(!stderr(&out).contains("os error"), "{}", stderr(&out));
    let out = as_agent_user(&p.vol)
        .arg("--jobs-dir")
        .arg(&p.jobs)
        .args(["--listen", "127.0.0.1:0", "run"])
        .output()
        .expect("run");
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("state directory: {expected}")),
        "{}",
        stderr(&out)
    );
    assert_eq!(owner_and_mode(&p.vol), (0, 0, 0o777), "left as it was");
    assert_eq!(
        std::fs::read_dir(&p.vol).expect("ls").count(),
        0,
        "nothing written"
    );
}

#[test]
fn prepare_state_hands_the_volume_to_the_agent_which_then_runs_on_it() {
    let p = pod();
    let out = as_init_container(&p.vol)
        .args(["prepare-state", "--owner", OWNER])
        .output()
        .expect("prepare-state");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!(
            "prepared {}: owner 0:0, mode 0777 -> owner 65532:65532, mode 0700",
            p.vol.display()
        )
    );
    assert_eq!(owner_and_mode(&p.vol), (65532, 65532, 0o700));

    let out = p.trigger_as_agent_user(&p.vol);
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains(": succeeded"), "{}", stdout(&out));
    let runs: Vec<PathBuf> = std::fs::read_dir(p.vol.join("jobs/host/runs"))
        .expect("the run's records are in the volume")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(owner_and_mode(&runs[0]), (65532, 65532, 0o600));
    let bundles = std::fs::read_dir(p.vol.join("jobs/host/bundles"))
        .expect("bundles")
        .count();
    assert_eq!(bundles, 1);

    // The next pod start runs the init container again: root without CAP_DAC_READ_SEARCH cannot
    // even list the agent's 0700 directory now, and nothing needs doing.
    let out = as_init_container(&p.vol)
        .args(["prepare-state", "--owner", OWNER, "-o", "json"])
        .output()
        .expect("prepare-state again");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["changed"], false, "{report}");
    assert_eq!(report["created"], false, "{report}");
    assert_eq!(
        report["after"],
        serde_json::json!({"uid": 65532, "gid": 65532, "mode": "0700"})
    );
    // A mode loosened since is tightened through the descriptor, still unreadable to it.
    std::fs::set_permissions(&p.vol, std::fs::Permissions::from_mode(0o750)).expect("chmod");
    let out = as_init_container(&p.vol)
        .args(["prepare-state", "--owner", OWNER])
        .output()
        .expect("prepare-state on 0750");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(owner_and_mode(&p.vol), (65532, 65532, 0o700));
    let out = p.trigger_as_agent_user(&p.vol);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        std::fs::read_dir(p.vol.join("jobs/host/runs"))
            .expect("runs")
            .count(),
        2,
        "the earlier run's state is kept"
    );
}

#[test]
fn prepare_state_creates_a_missing_state_directory_below_a_trusted_one() {
    let p = pod();
    let state = p.root.path().join("state");
    let out = as_init_container(&state)
        .args(["prepare-state", "--owner", OWNER])
        .output()
        .expect("prepare-state");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        format!("created {} (owner 65532:65532, mode 0700)", state.display())
    );
    assert_eq!(owner_and_mode(&state), (65532, 65532, 0o700));
    // Below the world-writable volume it is refused: the agent would refuse it too.
    let below = p.vol.join("state");
    let out = as_init_container(&below)
        .args(["prepare-state", "--owner", OWNER])
        .output()
        .expect("prepare-state");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains(&format!(
            "the directories above {} are not trusted: {} is world-writable (mode 0777)",
            below.display(),
            p.vol.display()
        )),
        "{}",
        stderr(&out)
    );
    assert!(!below.exists());
}

#[test]
fn prepare_state_refuses_symlinks_files_and_other_users_files() {
    let p = pod();
    let link = p.root.path().join("link");
    symlink(&p.vol, &link).expect("symlink");
    let out = as_init_container(&link)
        .args(["prepare-state", "--owner", OWNER])
        .output()
        .expect("prepare-state");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains(&format!(
            "{} is a symlink; the state directory is prepared only as a real directory",
            link.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(owner_and_mode(&p.vol), (0, 0, 0o777), "not followed");

    let file = p.root.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    let out = as_init_container(&file)
        .args(["prepare-state", "--owner", OWNER])
        .output()
        .expect("prepare-state");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("is a regular file, not a directory"),
        "{}",
        stderr(&out)
    );
    assert_eq!(owner_and_mode(&file), (0, 0, 0o644));

    // An earlier deployment's state, written as nobody.
    let stale = p.vol.join("applied.json");
    std::fs::write(&stale, b"{}").expect("write");
    std::os::unix::fs::chown(&stale, Some(65534), Some(65534)).expect("chown");
    let out = as_init_container(&p.vol)
        .args(["prepare-state", "--owner", OWNER])
        .output()
        .expect("prepare-state");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains(&format!(
            "{} holds files of other users than the agent's (uid 65532): {} (uid 65534)",
            p.vol.display(),
            stale.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(owner_and_mode(&p.vol), (0, 0, 0o777), "left as it was");
    assert_eq!(owner_and_mode(&stale).0, 65534);
}

#[test]
fn prepare_state_needs_root_and_says_which_capability_is_missing() {
    let p = pod();
    let out = as_agent_user(&p.vol)
        .args(["prepare-state", "--owner", OWNER])
        .output()
        .expect("prepare-state as 65532");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains(
            "preparing the state directory needs root, and this process runs as uid 65532"
        ),
        "{}",
        stderr(&out)
    );
    assert_eq!(owner_and_mode(&p.vol), (0, 0, 0o777));

    let out = agent_via(&["--bounding-set=-all,+fowner"], &p.vol)
        .args(["prepare-state", "--owner", OWNER])
        .output()
        .expect("prepare-state without CAP_CHOWN");
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("(the process lacks CAP_CHOWN: an init container that drops ALL capabilities must add CHOWN)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(owner_and_mode(&p.vol).0, 0);

    let out = as_init_container(&p.vol)
        .args(["prepare-state", "--owner", "troubleshoot"])
        .output()
        .expect("prepare-state with a name");
    assert_eq!(code(&out), 2, "a usage error");
    assert!(
        stderr(&out).contains("`troubleshoot` is not UID:GID"),
        "{}",
        stderr(&out)
    );
}
