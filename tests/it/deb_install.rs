//! Issue 18: the Debian package, installed with dpkg into a throwaway Debian root (debootstrap's
//! minbase, cached under the target directory), validates its example job, runs the agent on it
//! (un-suspended), collects a bundle on `trigger`, and `dpkg --purge` removes the state directory.
//!
//! Each command in the root runs through `unshare --mount --fork chroot ROOT sh -c 'mount -t proc
//! ...'`: /proc is mounted in a private mount namespace, so nothing is left mounted on the host.
//! The package is built from the debug binary the tests already use (`scripts/build-deb
//! --no-build`); scripts/test installs debootstrap and cargo-deb on a fresh machine.

use std::io::Read as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The longest the agent may take to report READY=1 (a bound on a wait, not a timed assertion).
const READY_BOUND: Duration = Duration::from_secs(120);

#[test]
fn the_deb_installs_into_debian_and_collects_a_bundle() {
    let target = target_dir();
    let deb = build_deb(&target);
    let cache = debian_root_cache(&target);
    let work = tempfile::tempdir_in(&target).expect("tempdir in the target directory");
    let root = work.path().join("root");
    run_ok(
        Command::new("cp").arg("-a").arg(&cache).arg(&root),
        "copy the Debian root",
    );

    std::fs::copy(&deb, root.join("tmp/troubleshoot-agent.deb")).expect("copy the .deb");
    in_root(&root, "dpkg -i /tmp/troubleshoot-agent.deb");
    check_installed_files(&root);

    let validated = in_root(
        &root,
        "troubleshoot-agent -v validate /etc/troubleshoot/jobs.d",
    );
    let stdout = String::from_utf8_lossy(&validated.stdout);
    assert!(
        stdout.contains("ok      /etc/troubleshoot/jobs.d/example.yaml (example)")
            && stdout.contains("valid: 1 file, 1 job, 0 errors"),
        "validate passes the example job: {stdout}"
    );

    // What an operator does: edit the example (here: un-suspend it) and start the agent.
    let example = root.join("etc/troubleshoot/jobs.d/example.yaml");
    let text = std::fs::read_to_string(&example).expect("example job");
    assert!(
        text.contains("suspend: true"),
        "the example ships suspended"
    );
    std::fs::write(&example, text.replace("suspend: true", "suspend: false")).expect("edit");
    let agent = Agent::start(&root, &work.path().join("agent.log"));
    let triggered = in_root(&root, "troubleshoot-agent trigger example");
    let stdout = String::from_utf8_lossy(&triggered.stdout);
    let stderr = String::from_utf8_lossy(&triggered.stderr);
    // "run ... started" comes from the agent's answer (a run in the foreground has none).
    assert!(
        stderr.contains("example: run ") && stderr.contains(" started"),
        "trigger went through the running agent: {stderr}"
    );
    assert!(stdout.contains(": succeeded"), "trigger: {stdout}");
    let bundles = root.join("var/lib/troubleshoot-agent/jobs/example/bundles");
    let names: Vec<String> = std::fs::read_dir(&bundles)
        .unwrap_or_else(|e| panic!("{}: {e}", bundles.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.ends_with(".tar.gz")),
        "a bundle in {}: {names:?}",
        bundles.display()
    );
    let bundle = bundles.join(
        names
            .iter()
            .find(|n| n.ends_with(".tar.gz"))
            .expect("bundle"),
    );
    let listing = run_ok(Command::new("tar").arg("-tzf").arg(&bundle), "tar -tzf");
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.contains("version.yaml") && listing.contains("host-collectors/"),
        "the bundle holds the example's host collection: {listing}"
    );
    agent.stop();

    // `remove` keeps the state and the (edited) conffile; `purge` takes both.
    in_root(&root, "dpkg --remove troubleshoot-agent");
    assert!(!root.join("usr/bin/troubleshoot-agent").exists());
    assert!(bundles.is_dir(), "remove keeps the bundles");
    assert!(example.exists(), "remove keeps the conffile");
    in_root(&root, "dpkg --purge troubleshoot-agent");
    assert!(
        !root.join("var/lib/troubleshoot-agent").exists(),
        "purge removes the state"
    );
    assert!(!example.exists(), "purge removes the conffile");
}

/// The files Debian expects, where it expects them.
fn check_installed_files(root: &Path) {
    for path in [
        "usr/bin/troubleshoot-agent",
        "etc/troubleshoot/jobs.d/example.yaml",
        "usr/share/bash-completion/completions/troubleshoot-agent",
        "usr/share/zsh/vendor-completions/_troubleshoot-agent",
        "usr/share/fish/vendor_completions.d/troubleshoot-agent.fish",
        "usr/share/man/man1/troubleshoot-agent.1.gz",
        "usr/share/man/man1/troubleshoot-agent-run.1.gz",
        "usr/share/doc/troubleshoot-agent/copyright",
    ] {
        assert!(root.join(path).is_file(), "the package installs /{path}");
    }
    let unit = ["lib", "usr/lib"]
        .iter()
        .map(|d| {
            root.join(d)
                .join("systemd/system/troubleshoot-agent.service")
        })
        .find(|p| p.is_file())
        .expect("the package installs the systemd unit");
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/systemd/troubleshoot-agent.service"
    ))
    .expect("unit");
    assert_eq!(std::fs::read_to_string(unit).expect("unit"), shipped);
    let conffiles =
        std::fs::read_to_string(root.join("var/lib/dpkg/info/troubleshoot-agent.conffiles"))
            .expect("dpkg lists the package's conffiles");
    assert!(
        conffiles.contains("/etc/troubleshoot/jobs.d/example.yaml"),
        "{conffiles}"
    );
    // Enabled for the next boot (the postinst's deb-systemd-helper), and nothing created beyond
    // what the package lists: the state directory is systemd's (StateDirectory=) or the agent's.
    // (An absolute link into the root: read it, do not follow it on the host.)
    let wants = root.join("etc/systemd/system/multi-user.target.wants/troubleshoot-agent.service");
    let link = std::fs::read_link(&wants).expect("the unit is enabled (multi-user.target.wants)");
    assert!(
        link.ends_with("systemd/system/troubleshoot-agent.service"),
        "{}",
        link.display()
    );
    assert!(
        !root.join("var/lib/troubleshoot-agent").exists(),
        "no state before the agent runs"
    );
}

/// The target directory the tests' binary lives in (`<target>/debug/troubleshoot-agent`).
fn target_dir() -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_troubleshoot-agent"));
    bin.parent()
        .and_then(Path::parent)
        .expect("<target>/debug/troubleshoot-agent")
        .to_path_buf()
}

/// `scripts/build-deb --no-build`: the .deb of the debug binary; the script prints its path.
fn build_deb(target: &Path) -> PathBuf {
    let out = run_ok(
        Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/build-deb"))
            .arg("--no-build")
            .env("CARGO_TARGET_DIR", target),
        "scripts/build-deb --no-build",
    );
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(path.is_file(), "build-deb printed {}", path.display());
    path
}

/// A minbase Debian root of this host's release (the binary links this host's libc) with the
/// package's dependencies beyond minbase (ca-certificates), made once by debootstrap and kept in
/// `<target>/debootstrap/<codename>-minbase-ca`; each test copies it. (The test itself reaches no
/// network: dpkg installs the .deb.)
fn debian_root_cache(target: &Path) -> PathBuf {
    let os = std::fs::read_to_string("/etc/os-release").expect("/etc/os-release");
    let codename = os
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|c| c.trim_matches('"').to_string())
        .expect("VERSION_CODENAME in /etc/os-release (a Debian host)");
    let dir = target.join("debootstrap");
    let codename_key = format!("{codename}-minbase-ca");
    let root = dir.join(&codename_key);
    let done = dir.join(format!("{codename_key}.complete"));
    if done.exists() {
        return root;
    }
    let debootstrap = Path::new("/usr/sbin/debootstrap");
    assert!(
        debootstrap.exists(),
        "debootstrap is missing: install Debian's `debootstrap` package (scripts/test does)"
    );
    let partial = dir.join(format!("{codename_key}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&dir).expect("create the cache directory");
    run_ok(
        Command::new(debootstrap)
            .args(["--variant=minbase", "--include=ca-certificates", &codename])
            .arg(&partial),
        "debootstrap",
    );
    std::fs::rename(&partial, &root).expect("rename the finished root");
    std::fs::write(&done, "").expect("mark the root complete");
    root
}

/// The chroot command line around `script` (run by the root's /bin/sh, with /proc mounted).
fn chroot(root: &Path, script: &str) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--fork", "chroot"])
        .arg(root)
        .args(["/bin/sh", "-c"])
        .arg(format!("set -e; mount -t proc proc /proc; {script}"))
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LANG", "C.UTF-8");
    cmd
}

/// Runs `script` in the root; panics with its output unless it exits 0.
fn in_root(root: &Path, script: &str) -> Output {
    run_ok(&mut chroot(root, script), script)
}

fn run_ok(cmd: &mut Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `troubleshoot-agent run` in the root, as systemd would start it (Type=notify: it is up when it
/// sends READY=1 to $NOTIFY_SOCKET, which the test listens on).
struct Agent {
    child: Child,
    pid: i32,
    log: PathBuf,
}

impl Agent {
    /// Starts the agent, its stderr in `log`, and waits for READY=1.
    fn start(root: &Path, log: &Path) -> Agent {
        let socket = root.join("run/test-notify.sock");
        let _ = std::fs::remove_file(&socket);
        let notify = UnixDatagram::bind(&socket).expect("bind the notify socket");
        notify.set_read_timeout(Some(READY_BOUND)).expect("timeout");
        // `echo $$` then exec: the agent's pid, to stop it with SIGTERM as systemd does.
        let mut child = chroot(
            root,
            "echo $$; exec troubleshoot-agent --listen 127.0.0.1:0 run",
        )
        .env("NOTIFY_SOCKET", "/run/test-notify.sock")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("agent log"))
        .spawn()
        .expect("start the agent");
        let mut buf = [0u8; 4096];
        loop {
            match notify.recv(&mut buf) {
                Ok(n) if buf[..n].starts_with(b"READY=1") => break,
                Ok(_) => continue,
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "no READY=1 from the agent within {READY_BOUND:?} ({e}); stderr:\n{}",
                        std::fs::read_to_string(log).unwrap_or_default()
                    );
                }
            }
        }
        let mut line = String::new();
        let mut stdout = child.stdout.take().expect("stdout");
        let mut byte = [0u8; 1];
        while stdout.read(&mut byte).expect("read the pid") == 1 && byte[0] != b'\n' {
            line.push(byte[0] as char);
        }
        let pid = line.trim().parse().expect("the agent's pid");
        Agent {
            child,
            pid,
            log: log.to_path_buf(),
        }
    }

    /// SIGTERM, then the agent's clean exit (0).
    fn stop(mut self) {
        // SAFETY: kill(2) on the pid of our own child's exec'd process.
        assert_eq!(unsafe { libc::kill(self.pid, libc::SIGTERM) }, 0, "SIGTERM");
        let status = self.child.wait().expect("wait for the agent");
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        // Waited for: Drop must not signal a pid that may be reused by now.
        std::mem::forget(self);
        assert!(status.success(), "the agent stopped with {status}: {log}");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // A failed assertion: leave no agent running in the root.
        // SAFETY: as in stop.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}
