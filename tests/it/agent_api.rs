//! The control API's security model through the real agent: trigger and reload only on the 0600
//! control socket (root or the agent's user) or with the `apiTokenFile` bearer token on TCP; no
//! off-host listener without a token; the trigger rate limit; the CLI finding the agent from the
//! state directory alone and learning a run's outcome from the API, even when its record cannot
//! be written.

use crate::support;

use serde_json::Value;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::JobFile;
use support::daemon::{Daemon, dirs, http_unix, record_ids, wait_until};

const CLI: &str = env!("CARGO_BIN_EXE_troubleshoot-agent");
/// A CLI command that has not ended after this long is hanging.
const CLI_LIMIT: Duration = Duration::from_secs(120);
const TOKEN: &str = "9f2c4e6a8b0d1f3e5a7c9b1d3f5e7a9c";
/// The burst of `src/agent/trigger_limit.rs`.
const BURST: usize = 5;
/// And its refill interval, in seconds.
const REFILL_SECS: u64 = 10;

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `cmd` and returns its output; panics if it is still running after [`CLI_LIMIT`].
fn finish(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the CLI");
    let deadline = Instant::now() + CLI_LIMIT;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("reap");
            panic!("the CLI hung for {CLI_LIMIT:?}:\n{}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// The CLI with a clean environment (no settings file, no TROUBLESHOOT_AGENT_* variables).
fn cli(args: &[&str]) -> Command {
    let mut cmd = Command::new(CLI);
    scrub(&mut cmd);
    cmd.args(args);
    cmd
}

/// The CLI as uid/gid 65534 (nobody), with no supplementary groups.
fn cli_as_nobody(args: &[&str]) -> Command {
    let mut cmd = Command::new("setpriv");
    scrub(&mut cmd);
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", CLI])
        .args(args);
    cmd
}

fn scrub(cmd: &mut Command) {
    for (key, _) in std::env::vars() {
        if key.starts_with("TROUBLESHOOT_AGENT_")
            || key == "STATE_DIRECTORY"
            || key == "CONFIGURATION_DIRECTORY"
        {
            cmd.env_remove(key);
        }
    }
}

/// A token file, 0600, owned by root (the tests run as root).
fn token_file(dir: &Path, mode: u32) -> PathBuf {
    let path = dir.join("api.token");
    std::fs::write(&path, format!("{TOKEN}\n")).expect("write token");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn tcp_is_read_only_without_a_token_and_nobody_cannot_write() {
    let dd = dirs();
    JobFile::new("j").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();

    let meta = std::fs::symlink_metadata(d.socket()).expect("the control socket exists");
    assert!(meta.file_type().is_socket(), "{meta:?}");
    assert_eq!(meta.mode() & 0o777, 0o600, "the socket is 0600");
    assert_eq!(meta.uid(), 0, "owned by the agent's user (root)");

    assert_eq!(
        d.get("/api/v1/status").status,
        200,
        "reads stay open on TCP"
    );
    for path in ["/api/v1/jobs/j/trigger", "/-/reload"] {
        for headers in [
            vec![],
            vec!["Authorization: Bearer some-token-the-agent-never-had"],
        ] {
            let r = d.post_tcp(path, &headers);
            assert_eq!(r.status, 403, "POST {path} {headers:?} on TCP: {}", r.body);
            assert!(
                r.body.contains("agent.sock") && r.body.contains("apiTokenFile"),
                "the refusal says where to go: {}",
                r.body
            );
        }
    }

    // uid 65534 cannot reach the socket (the state directory is 0700) and TCP refuses it,
    // whether the CLI is told the state directory or only the address.
    let (state, listen) = (s(&dd.state), d.listen());
    for args in [
        vec!["--state-dir", state, "--listen", &listen, "trigger", "j"],
        vec!["--state-dir", state, "--listen", &listen, "reload"],
        vec!["--listen", &listen, "trigger", "j"],
    ] {
        let out = finish(cli_as_nobody(&args));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("HTTP 403"),
            "{args:?}: {}",
            text(&out)
        );
    }
    assert!(
        record_ids(&dd.state, "j").is_empty(),
        "no run was started: {:?}",
        record_ids(&dd.state, "j")
    );
}

#[test]
fn the_socket_checks_the_callers_uid_even_when_its_mode_is_wrong() {
    let dd = dirs();
    JobFile::new("j").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    // A mis-set mode: everyone may connect to the socket.
    let open = |p: &Path, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    open(dd.state.parent().expect("parent"), 0o755);
    open(&dd.state, 0o755);
    open(&d.socket(), 0o666);

    let state = s(&dd.state);
    let out = finish(cli_as_nobody(&[
        "--state-dir",
        state,
        "--output",
        "json",
        "status",
    ]));
    assert_eq!(out.status.code(), Some(0), "reads are open: {}", text(&out));
    let status: Value = serde_json::from_slice(&out.stdout).expect("JSON status");
    assert_eq!(status["agentRunning"], true, "{status}");

    for args in [vec!["trigger", "j"], vec!["reload"]] {
        let mut full = vec!["--state-dir", state];
        full.extend(&args);
        let out = finish(cli_as_nobody(&full));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("HTTP 403") && err.contains("uid 65534"),
            "{args:?}: {}",
            text(&out)
        );
    }
    assert!(record_ids(&dd.state, "j").is_empty(), "no run was started");
}

#[test]
fn a_token_opens_trigger_and_reload_on_tcp() {
    let dd = dirs();
    JobFile::new("j").write(&dd.jobs);
    let secrets = tempfile::tempdir().expect("tempdir");
    let token = token_file(secrets.path(), 0o600);
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("apiTokenFile", token.display())
        .start();
    let path = "/api/v1/jobs/j/trigger";
    assert_eq!(d.post_tcp(path, &[]).status, 401);
    let wrong = format!("Authorization: Bearer {TOKEN}0");
    assert_eq!(d.post_tcp(path, &[&wrong]).status, 401);
    assert_eq!(d.post_tcp(path, &["Authorization: Bearer "]).status, 401);
    let right = format!("Authorization: Bearer {TOKEN}");
    let r = d.post_tcp(path, &[&right]);
    assert_eq!(r.status, 202, "{}", r.body);
    let run = r.json()["runId"].as_str().expect("runId").to_string();
    d.wait_run("j", &run, Duration::from_secs(60));
    let r = d.post_tcp("/-/reload", &[&right]);
    assert_eq!(r.status, 200, "{}", r.body);

    // `trigger --listen ADDR` without --state-dir: started and followed through the API.
    let listen = d.listen();
    let out = finish(cli(&[
        "--listen",
        &listen,
        "--token-file",
        s(&token),
        "trigger",
        "j",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("succeeded"),
        "{}",
        text(&out)
    );
    // A wrong token: the CLI says why, at once.
    let wrong_file = secrets.path().join("wrong.token");
    std::fs::write(&wrong_file, "not-the-token-0123456789").expect("write");
    let out = finish(cli(&[
        "--listen",
        &listen,
        "--token-file",
        s(&wrong_file),
        "trigger",
        "j",
    ]));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("HTTP 401"),
        "{}",
        text(&out)
    );
    // No token at all: the agent names its state directory, and root uses the socket there.
    let out = finish(cli(&["--listen", &listen, "trigger", "j"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(d.runs("j").len(), 3, "the API run and two CLI runs");
}

#[test]
fn the_agent_refuses_an_exposed_listener_and_a_token_file_others_can_touch() {
    let dd = dirs();
    let stopped = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .listen_host("0.0.0.0")
        .start_expecting_exit(Duration::from_secs(30));
    assert_eq!(stopped.status.code(), Some(1), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains("refusing to listen on 0.0.0.0:")
            && stopped.stderr.contains("apiTokenFile"),
        "{}",
        stopped.stderr
    );
    assert!(
        !dd.state.join("agent.sock").exists(),
        "nothing is served after the refusal"
    );

    let secrets = tempfile::tempdir().expect("tempdir");
    let readable = token_file(secrets.path(), 0o644);
    let stopped = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("apiTokenFile", readable.display())
        .start_expecting_exit(Duration::from_secs(30));
    assert_eq!(stopped.status.code(), Some(1), "{}", stopped.stderr);
    assert!(stopped.stderr.contains("chmod 600"), "{}", stopped.stderr);

    let foreign = token_file(secrets.path(), 0o600);
    std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).expect("chown to nobody");
    let stopped = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("apiTokenFile", foreign.display())
        .start_expecting_exit(Duration::from_secs(30));
    assert_eq!(stopped.status.code(), Some(1), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains("owned by uid 65534"),
        "{}",
        stopped.stderr
    );
}

#[test]
fn commands_find_the_agent_from_the_state_dir_alone() {
    let dd = dirs();
    JobFile::new("j").write(&dd.jobs);
    // The agent listens on a port of its own, not the default the CLI would try.
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let state = s(&dd.state);

    let out = finish(cli(&["--state-dir", state, "--output", "json", "status"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let status: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(status["agentRunning"], true, "{status}");

    let out = finish(cli(&["--state-dir", state, "trigger", "j"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("succeeded"),
        "{}",
        text(&out)
    );
    let out = finish(cli(&[
        "--state-dir",
        state,
        "--output",
        "json",
        "history",
        "j",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "{runs}");
    let out = finish(cli(&["--state-dir", state, "reload"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let stopped = d.stop();
    assert!(stopped.status.success(), "{}", stopped.stderr);
    assert!(
        std::fs::symlink_metadata(dd.state.join("agent.sock")).is_err(),
        "the socket is removed at a clean stop"
    );
    let out = finish(cli(&["--state-dir", state, "--output", "json", "status"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let status: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(status["agentRunning"], false, "{status}");
}

#[test]
fn a_stale_socket_or_a_planted_symlink_is_replaced_never_followed() {
    let dd = dirs();
    JobFile::new("j").write(&dd.jobs);
    std::fs::create_dir_all(&dd.state).expect("state dir");
    let socket = dd.state.join("agent.sock");
    // A dead agent's socket: nothing answers on it.
    drop(std::os::unix::net::UnixListener::bind(&socket).expect("bind"));
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let r = http_unix(&socket, "GET", "/healthz").expect("the new socket answers");
    assert_eq!(r.status, 200);
    d.stop();

    let target = dd.state.parent().expect("parent").join("target");
    std::fs::write(&target, "keep").expect("target");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::os::unix::fs::symlink(&target, &socket).expect("symlink");
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let meta = std::fs::symlink_metadata(&socket).expect("socket");
    assert!(
        meta.file_type().is_socket(),
        "the link was replaced: {meta:?}"
    );
    let kept = std::fs::symlink_metadata(&target).expect("target");
    assert!(kept.is_file() && kept.mode() & 0o777 == 0o644, "{kept:?}");
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep");
    drop(d);
}

#[test]
fn three_hundred_triggers_write_a_handful_of_records() {
    let dd = dirs();
    JobFile::new("burst")
        .sleep(60)
        .spec_line("concurrencyPolicy: Forbid")
        .write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let started = Instant::now();
    let mut accepted = 0;
    for _ in 0..300 {
        let r = d.post("/api/v1/jobs/burst/trigger");
        match r.status {
            202 => accepted += 1,
            429 => assert!(r.body.contains("too often"), "{}", r.body),
            other => panic!("HTTP {other}: {}", r.body),
        }
    }
    // The bucket holds BURST triggers and gains one every REFILL_SECS: the bound follows from
    // how long the 300 requests took, whatever the machine's speed.
    let refills = started.elapsed().as_secs() / REFILL_SECS + 1;
    let bound = BURST + usize::try_from(refills).expect("small");
    assert!(
        (BURST..=bound).contains(&accepted),
        "{accepted} of 300 triggers accepted; at most {bound} may be"
    );
    // One started, the rest skipped under Forbid: one record each, none for the refused.
    wait_until(
        Duration::from_secs(30),
        "a record per accepted trigger",
        || {
            let ids = record_ids(&dd.state, "burst");
            if ids.len() == accepted {
                Ok(())
            } else {
                Err(format!("{} records: {ids:?}", ids.len()))
            }
        },
    );
}

#[test]
fn a_trigger_while_a_run_is_queued_coalesces_into_it() {
    let dd = dirs();
    JobFile::new("hog").sleep(60).write(&dd.jobs);
    JobFile::new("q").write(&dd.jobs);
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("maxConcurrentRuns", 1)
        .start();
    assert_eq!(d.trigger("hog")["state"], "started");
    let first = d.trigger("q");
    assert_eq!(first["state"], "queued", "{first}");
    for _ in 0..50 {
        let again = d.trigger("q");
        assert_eq!(again["state"], "coalesced", "{again}");
        assert_eq!(again["runId"], first["runId"], "{again}");
    }
    assert_eq!(d.status()["queuedRuns"], 1);
    let run = first["runId"].as_str().expect("runId");
    let r = d.get(&format!("/api/v1/jobs/q/runs/{run}"));
    assert_eq!(
        (r.status, r.json()["state"].clone()),
        (200, "queued".into())
    );
}

/// Unmounts a tmpfs when the test ends, pass or fail (after the agent on it is gone).
struct Mounted(PathBuf);
impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Mounts a 4 MiB tmpfs at `dir`, if this machine lets the test.
fn small_tmpfs(dir: &Path) -> Result<Mounted, String> {
    std::fs::create_dir_all(dir).expect("mount point");
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(Mounted(dir.to_path_buf()))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// Fills the file system of `dir` to the last byte.
fn fill(dir: &Path) {
    use std::io::Write as _;
    let mut file = std::fs::File::create(dir.join("filler")).expect("filler");
    let block = vec![0x5a_u8; 64 << 10];
    while file.write_all(&block).is_ok() {}
    while file.write_all(&[0x5a]).is_ok() {}
}

#[test]
fn trigger_exits_1_with_the_reason_when_the_disk_is_full() {
    let dd = dirs();
    JobFile::new("j").write(&dd.jobs);
    // The state directory on a small tmpfs, filled once the agent runs; where mounting is not
    // allowed, the job's runs directory is replaced by a file (record writes fail the same way).
    let mnt = dd.state.parent().expect("parent").join("mnt");
    let mounted = small_tmpfs(&mnt);
    let state = match &mounted {
        Ok(_) => mnt.join("state"),
        Err(_) => dd.state.clone(),
    };
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&state)
        .setting("minFreeDisk", 0)
        .start();
    let reason = match &mounted {
        Ok(_) => {
            fill(&mnt);
            "No space left on device"
        }
        Err(why) => {
            println!("tmpfs not mounted ({why}); a file replaces the runs directory instead");
            let runs = state.join("jobs/j/runs");
            let _ = std::fs::remove_dir_all(&runs);
            std::fs::create_dir_all(runs.parent().expect("job dir")).expect("job dir");
            std::fs::write(&runs, "").expect("a file where the runs go");
            "runs"
        }
    };

    let mut trigger = d.cli();
    trigger.args(["trigger", "j"]);
    let out = finish(trigger);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("its record could not be written") && err.contains(reason),
        "{}",
        text(&out)
    );
    // The agent tells the same to any client asking for the run.
    let run = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .expect("`j <run-id>: <status>`")
        .trim_end_matches(':')
        .to_string();
    let r = d.get(&format!("/api/v1/jobs/j/runs/{run}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json()["recordError"]
            .as_str()
            .is_some_and(|e| e.contains(reason)),
        "{}",
        r.body
    );
    drop(d);
}

#[test]
fn tcp_history_hides_webhook_and_upload_credentials() {
    let dd = dirs();
    JobFile::new("j").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let run = d.trigger("j")["runId"].as_str().expect("runId").to_string();
    let mut record = d.wait_run("j", &run, Duration::from_secs(60));
    // As a run with a webhook and an HTTP upload would have recorded them.
    record["notifications"] = serde_json::json!([{
        "url": "http://127.0.0.1:9/hooks/T0/B0/SECRET1",
        "events": ["succeeded"], "attempts": 1, "status": "failed",
        "error": "error sending request for url (http://127.0.0.1:9/hooks/T0/B0/SECRET1)",
    }]);
    record["uploads"] = serde_json::json!([{
        "target": "http:upload", "url": "http://user:SECRET2@127.0.0.1:9/b/k.tar.gz?sig=SECRET3",
        "size": 1, "attempts": 1, "status": "failed",
    }]);
    std::fs::write(d.record_path("j", &run), record.to_string()).expect("rewrite the record");

    for path in [
        "/api/v1/jobs/j/runs".to_string(),
        format!("/api/v1/jobs/j/runs/{run}"),
    ] {
        let r = d.get(&path);
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(!r.body.contains("SECRET"), "TCP {path}: {}", r.body);
        assert!(
            r.body.contains("http://127.0.0.1:9/b/k.tar.gz"),
            "{}",
            r.body
        );
        let local = http_unix(&d.socket(), "GET", &path).expect("socket");
        assert!(
            local.body.contains("SECRET1"),
            "the socket serves the record as written"
        );
    }
}
