//! The agent never follows a symlink inside its state directory. Symlinks are planted where a
//! restore from backup or an operator's mistake would leave them (the state directory is root's
//! and 0700, so that is how they get there), and real runs, `plan`, `history` and retention must
//! neither write, read nor delete through them, and must say which path is a symlink.

use crate::support;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::{JobFile, agent, stderr, stdout};

/// A jobs dir, a state dir, settings, and a directory outside the state dir that planted
/// symlinks point to.
struct Setup {
    _root: tempfile::TempDir,
    jobs: PathBuf,
    state: PathBuf,
    config: PathBuf,
    outside: PathBuf,
}

fn setup() -> Setup {
    let root = tempfile::tempdir().expect("tempdir");
    let jobs = root.path().join("jobs");
    let state = root.path().join("state");
    let outside = root.path().join("outside");
    for d in [&jobs, &state, &outside] {
        std::fs::create_dir(d).expect("mkdir");
    }
    let config = root.path().join("agent.yaml");
    std::fs::write(&config, "listen: 127.0.0.1:1\nminFreeDisk: 0\n").expect("config");
    Setup {
        _root: root,
        jobs,
        state,
        config,
        outside,
    }
}

impl Setup {
    fn trigger(&self, job: &str) -> Output {
        agent(&self.state)
            .arg("--config")
            .arg(&self.config)
            .arg("--jobs-dir")
            .arg(&self.jobs)
            .args(["--output", "json", "trigger", job])
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .expect("trigger runs")
    }

    /// Everything under the outside directory, relative, sorted.
    fn outside_tree(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.outside, &self.outside, &mut out);
        out.sort();
        out
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).expect("ls") {
        let path = e.expect("entry").path();
        out.push(
            path.strip_prefix(root)
                .expect("under root")
                .display()
                .to_string(),
        );
        if path.is_dir() && !path.is_symlink() {
            walk(root, &path, out);
        }
    }
}

fn record(out: &Output) -> Value {
    serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("no record on stdout ({e}):\n{}", stderr(out)))
}

/// `text` names `path` and says it is a symlink.
fn assert_names_symlink(text: &str, path: &Path) {
    assert!(
        text.contains(&format!("{} is a symlink", path.display())),
        "expected `{} is a symlink` in:\n{text}",
        path.display()
    );
}

#[test]
fn a_symlinked_bundles_directory_fails_the_run_and_nothing_lands_outside() {
    let s = setup();
    JobFile::new("web").write(&s.jobs);
    let bundles = s.state.join("jobs/web/bundles");
    std::fs::create_dir_all(bundles.parent().expect("parent")).expect("mkdir");
    symlink(&s.outside, &bundles).expect("plant symlink");
    let out = s.trigger("web");
    let rec = record(&out);
    assert_eq!(rec["status"], "failed", "{rec:#}");
    assert_eq!(out.status.code(), Some(1));
    assert!(rec["bundle"].is_null(), "{rec:#}");
    assert_names_symlink(&rec.to_string(), &bundles);
    assert!(s.outside_tree().is_empty(), "{:?}", s.outside_tree());
    // The staged files did not stay behind either.
    let staging = s.state.join("jobs/web/staging");
    assert!(!staging.exists() || std::fs::read_dir(&staging).expect("ls").next().is_none());
}

#[test]
fn a_symlinked_runs_directory_gets_no_record_and_says_so() {
    let s = setup();
    JobFile::new("web").write(&s.jobs);
    let runs = s.state.join("jobs/web/runs");
    std::fs::create_dir_all(runs.parent().expect("parent")).expect("mkdir");
    symlink(&s.outside, &runs).expect("plant symlink");
    let out = s.trigger("web");
    assert_names_symlink(&stderr(&out), &runs);
    assert!(s.outside_tree().is_empty(), "{:?}", s.outside_tree());
    // The bundle itself went where it belongs.
    let rec = record(&out);
    let bundle = rec["bundle"]["path"].as_str().expect("a bundle");
    assert!(Path::new(bundle).starts_with(s.state.join("jobs/web/bundles")));
}

#[test]
fn a_symlinked_job_directory_is_never_written_through() {
    let s = setup();
    JobFile::new("web").write(&s.jobs);
    let job_dir = s.state.join("jobs/web");
    std::fs::create_dir_all(s.state.join("jobs")).expect("mkdir");
    symlink(&s.outside, &job_dir).expect("plant symlink");
    let out = s.trigger("web");
    let rec = record(&out);
    assert_eq!(rec["status"], "failed", "{rec:#}");
    assert_names_symlink(&rec.to_string(), &job_dir);
    assert_names_symlink(&stderr(&out), &job_dir);
    assert!(s.outside_tree().is_empty(), "{:?}", s.outside_tree());
}

#[test]
fn a_symlinked_applied_file_is_neither_read_nor_replaced() {
    let s = setup();
    JobFile::new("web").write(&s.jobs);
    let secret = s.outside.join("secret.json");
    std::fs::write(&secret, "{\"version\": 1}\n").expect("write");
    let applied = s.state.join("applied.json");
    symlink(&secret, &applied).expect("plant symlink");
    let out = agent(&s.state)
        .arg("--config")
        .arg(&s.config)
        .arg("--jobs-dir")
        .arg(&s.jobs)
        .arg("plan")
        .output()
        .expect("plan runs");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_names_symlink(&stderr(&out), &applied);
    assert_eq!(
        std::fs::read_to_string(&secret).expect("read"),
        "{\"version\": 1}\n"
    );
}

#[test]
fn a_symlinked_record_is_reported_by_history_not_read() {
    let s = setup();
    JobFile::new("web").write(&s.jobs);
    let first = record(&s.trigger("web"));
    assert_eq!(first["status"], "succeeded", "{first:#}");
    // A record file elsewhere, well-formed, linked in under a newer run id.
    let foreign = s.outside.join("foreign.json");
    let mut planted = first.clone();
    planted["runId"] = "29990101T000000Z".into();
    planted["reason"] = "planted".into();
    std::fs::write(&foreign, planted.to_string()).expect("write");
    let link = s.state.join("jobs/web/runs/29990101T000000Z.json");
    symlink(&foreign, &link).expect("plant symlink");
    let out = agent(&s.state)
        .args(["--output", "json", "history", "web"])
        .output()
        .expect("history runs");
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!text.contains("planted"), "{text}");
    assert_names_symlink(&text, &link);
    assert_eq!(
        std::fs::read_to_string(&foreign).expect("the foreign file stays"),
        planted.to_string()
    );
}

#[test]
fn retention_never_removes_a_file_a_record_names_outside_bundles() {
    let s = setup();
    JobFile::new("web")
        .spec_line("retention: {keepLast: 1}")
        .write(&s.jobs);
    let first = record(&s.trigger("web"));
    assert_eq!(first["status"], "succeeded", "{first:#}");
    // An older record naming a file outside the state directory, with an archive's name.
    let victim = s.outside.join("web-2000-01-01T00_00_00.tar.gz");
    std::fs::write(&victim, b"not yours").expect("write");
    let mut planted = first.clone();
    planted["runId"] = "20000101T000000Z".into();
    planted["startedAt"] = "2000-01-01T00:00:00Z".into();
    planted["bundle"]["path"] = victim.to_str().expect("utf-8").into();
    std::fs::write(
        s.state.join("jobs/web/runs/20000101T000000Z.json"),
        planted.to_string(),
    )
    .expect("write record");
    // A bundle that is a symlink to a file elsewhere, named by an older record too.
    let precious = s.outside.join("precious");
    std::fs::write(&precious, b"keep").expect("write");
    let link = s
        .state
        .join("jobs/web/bundles/web-2000-01-02T00_00_00.tar.gz");
    symlink(&precious, &link).expect("plant symlink");
    planted["runId"] = "20000102T000000Z".into();
    planted["startedAt"] = "2000-01-02T00:00:00Z".into();
    planted["bundle"]["path"] = link.to_str().expect("utf-8").into();
    std::fs::write(
        s.state.join("jobs/web/runs/20000102T000000Z.json"),
        planted.to_string(),
    )
    .expect("write record");

    let second = record(&s.trigger("web"));
    assert_eq!(second["status"], "succeeded", "{second:#}");
    assert_eq!(
        std::fs::read(&victim).expect("the outside file stays"),
        b"not yours"
    );
    assert_eq!(std::fs::read(&precious).expect("the target stays"), b"keep");
    assert!(link.is_symlink(), "the link itself stays too");
    // The job's own older bundle did go (keepLast: 1).
    let first_bundle = first["bundle"]["path"].as_str().expect("path");
    assert!(!Path::new(first_bundle).exists());
    assert!(Path::new(second["bundle"]["path"].as_str().expect("path")).exists());
}

/// A one-shot HTTP server answering every request with 201 after reading its body.
fn http_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                let mut length = 0u64;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end().to_ascii_lowercase();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let _ = std::io::copy(&mut reader.take(length), &mut std::io::sink());
                let mut w = conn;
                let _ = w.write_all(
                    b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_symlinked_upload_queue_is_not_written_through() {
    let s = setup();
    let url = http_server();
    JobFile::new("web")
        .spec_line(&format!(
            "upload:\n    - http: {{url: \"{url}/b/{{runId}}.tar.gz\", method: PUT}}"
        ))
        .write(&s.jobs);
    let uploads = s.state.join("uploads");
    symlink(&s.outside, &uploads).expect("plant symlink");
    let out = s.trigger("web");
    let rec = record(&out);
    assert_eq!(rec["uploads"][0]["status"], "succeeded", "{rec:#}");
    assert_names_symlink(&stderr(&out), &uploads);
    assert!(s.outside_tree().is_empty(), "{:?}", s.outside_tree());
}

#[test]
fn the_agent_does_not_start_over_a_symlinked_jobs_directory() {
    let s = setup();
    JobFile::new("web").write(&s.jobs);
    std::fs::create_dir_all(s.outside.join("web/runs")).expect("mkdir");
    let planted = s.outside.join("web/runs/20000101T000000Z.json");
    std::fs::write(&planted, "{}").expect("write");
    let jobs_link = s.state.join("jobs");
    symlink(&s.outside, &jobs_link).expect("plant symlink");
    let out = agent(&s.state)
        .arg("--config")
        .arg(&s.config)
        .arg("--jobs-dir")
        .arg(&s.jobs)
        .args(["--listen", "127.0.0.1:0", "run"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_names_symlink(&stderr(&out), &jobs_link);
    // Start-up recovery neither set the unreadable record aside nor rewrote it.
    assert_eq!(std::fs::read_to_string(&planted).expect("read"), "{}");
    assert_eq!(
        s.outside_tree(),
        ["web", "web/runs", "web/runs/20000101T000000Z.json"]
    );
}

#[test]
fn a_symlinked_lock_file_stops_a_foreground_run() {
    let s = setup();
    JobFile::new("web").write(&s.jobs);
    let target = s.outside.join("target");
    std::fs::write(&target, "keep\n").expect("write");
    let lock = s.state.join("agent.lock");
    symlink(&target, &lock).expect("plant symlink");
    let out = s.trigger("web");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert_names_symlink(&stderr(&out), &lock);
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep\n");
    assert!(!s.state.join("jobs").exists(), "nothing ran");
}
