//! Alert-triggered runs through the real agent: Alertmanager posts its webhook notification to
//! `POST /api/v1/alerts/alertmanager` with the `alertmanager.tokenFile` bearer token; a firing
//! alert matching a job's `spec.triggers` starts it once per cooldown (across restarts and
//! crashes, and for each job of a grouped notification); resolved alerts start nothing; a retry
//! keeps its alert; the receiver is off (404) without the setting; bodies are bounded (413).

use crate::support;

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::JobFile;
use support::daemon::{Daemon, DaemonBuilder, dirs, read_json, record_ids, wait_until};

const TOKEN: &str = "4b7d1e9a2c6f8e0b3d5a7c9e1f3b5d7a";
const PATH: &str = "/api/v1/alerts/alertmanager";

fn token_file(dir: &Path, mode: u32) -> PathBuf {
    let path = dir.join("alertmanager.token");
    std::fs::write(&path, format!("{TOKEN}\n")).expect("write token");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

/// One POST with `body` (`Content-Length` is `length`, which may exceed what is sent).
fn post(addr: SocketAddr, auth: Option<&str>, body: &[u8], length: usize) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "POST {PATH} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    .expect("write head");
    stream.write_all(body).expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read answer");
    answer(&raw)
}

/// An HTTP/1.1 answer's status and body.
fn answer(raw: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(raw).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

/// POSTs `size` bytes of a JSON-looking body in 64 KiB chunks (`Transfer-Encoding: chunked`, no
/// length up front), stopping early if the server answers and closes.
fn post_chunked(addr: SocketAddr, auth: &str, size: usize) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write!(
        stream,
        "POST {PATH} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .expect("write head");
    // Read while writing: the answer arrives before the rest of the body, and a reset caused by
    // the unread rest must not discard it.
    let mut clone = stream.try_clone().expect("clone");
    let reader = std::thread::spawn(move || {
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = clone.read(&mut buf) {
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        raw
    });
    let chunk = vec![b' '; 64 << 10];
    let mut sent = 0;
    while sent < size {
        let head = format!("{:x}\r\n", chunk.len());
        let ok = stream.write_all(head.as_bytes()).is_ok()
            && stream.write_all(&chunk).is_ok()
            && stream.write_all(b"\r\n").is_ok();
        if !ok {
            break;
        }
        sent += chunk.len();
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let raw = reader.join().expect("reader");
    assert!(!raw.is_empty(), "no answer after {sent} bytes");
    answer(&raw)
}

fn send(d: &Daemon, alerts: Value) -> Value {
    let body = json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"KubePodCrashLooping\"}",
        "status": "firing",
        "receiver": "troubleshoot",
        "alerts": alerts,
    })
    .to_string();
    let bearer = format!("Bearer {TOKEN}");
    let (status, answer) = post(d.addr(), Some(&bearer), body.as_bytes(), body.len());
    assert_eq!(status, 200, "{answer}");
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

fn alert(status: &str, name: &str, namespace: &str, fingerprint: &str) -> Value {
    json!({
        "status": status,
        "labels": {"alertname": name, "namespace": namespace, "pod": "web-0"},
        "annotations": {"summary": "crash looping"},
        "startsAt": "2026-12-07T10:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": fingerprint,
    })
}

fn jobs(dir: &Path) {
    JobFile::new("pods")
        .spec_line(
            r#"triggers: [{alertmanager: {matchers: ['alertname=~"KubePod.*"', 'namespace="prod"'], cooldown: 30m}}]"#,
        )
        .write(dir);
    JobFile::new("quiet").write(dir);
}

#[test]
fn firing_alerts_start_a_matching_job_once_per_cooldown() {
    let dd = dirs();
    jobs(&dd.jobs);
    let secrets = tempfile::tempdir().expect("tempdir");
    let token = token_file(secrets.path(), 0o600);
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting(
            "alertmanager",
            format!("{{tokenFile: {}}}", token.display()),
        )
        .start();

    // Resolved, and firing but not matching (wrong namespace; regex anchored): nothing starts.
    let answer = send(
        &d,
        json!([
            alert("resolved", "KubePodCrashLooping", "prod", "aaa"),
            alert("firing", "KubePodCrashLooping", "dev", "bbb"),
            alert("firing", "XKubePodCrashLooping", "prod", "ccc"),
        ]),
    );
    assert_eq!(answer["started"], json!([]), "{answer}");

    // A group of several matching alerts: one run, recording the first.
    let answer = send(
        &d,
        json!([
            alert("firing", "KubePodCrashLooping", "prod", "f1"),
            alert("firing", "KubePodNotReady", "prod", "f2"),
        ]),
    );
    let started = answer["started"].as_array().expect("started");
    assert_eq!(started.len(), 1, "{answer}");
    assert_eq!(started[0]["job"], "pods", "{answer}");
    let run_id = started[0]["accepted"]["runId"]
        .as_str()
        .unwrap_or_else(|| panic!("no run: {answer}"))
        .to_string();
    let done = d.wait_run("pods", &run_id, Duration::from_secs(60));
    let record = &done;
    assert_eq!(record["trigger"], "alert", "{done}");
    assert_eq!(record["alert"]["fingerprint"], "f1", "{done}");
    assert_eq!(
        record["alert"]["labels"]["alertname"], "KubePodCrashLooping",
        "{done}"
    );
    assert_eq!(
        record["alert"]["startsAt"], "2026-12-07T10:00:00Z",
        "{done}"
    );

    // The same alert again within the cooldown: no second run.
    let answer = send(
        &d,
        json!([alert("firing", "KubePodCrashLooping", "prod", "f1")]),
    );
    let started = answer["started"].as_array().expect("started");
    assert_eq!(started.len(), 1, "{answer}");
    assert!(started[0]["accepted"].is_null(), "{answer}");
    assert!(
        started[0]["refused"]
            .as_str()
            .is_some_and(|r| r.contains("cooldown")),
        "{answer}"
    );
    assert_eq!(record_ids(&dd.state, "pods").len(), 1, "one run in all");
    assert!(
        record_ids(&dd.state, "quiet").is_empty(),
        "no trigger: no run"
    );
}

#[test]
fn the_receiver_wants_the_token_and_a_bounded_body() {
    let dd = dirs();
    jobs(&dd.jobs);
    let secrets = tempfile::tempdir().expect("tempdir");
    let token = token_file(secrets.path(), 0o600);
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting(
            "alertmanager",
            format!("{{tokenFile: {}}}", token.display()),
        )
        .start();
    let body =
        json!({"version": "4", "alerts": [alert("firing", "KubePodCrashLooping", "prod", "f")]})
            .to_string();
    let b = body.as_bytes();
    let wrong = format!("Bearer {TOKEN}x");
    assert_eq!(post(d.addr(), None, b, b.len()).0, 401);
    assert_eq!(post(d.addr(), Some(&wrong), b, b.len()).0, 401);
    assert_eq!(post(d.addr(), Some("Bearer "), b, b.len()).0, 401);
    // Oversized: refused from its length before it is read.
    let right = format!("Bearer {TOKEN}");
    let (status, answer) = post(d.addr(), Some(&right), b"", 2 << 20);
    assert_eq!(status, 413, "{answer}");
    // Oversized without a declared length (chunked): cut off at the limit while read.
    let (status, answer) = post_chunked(d.addr(), &right, 3 << 19);
    assert_eq!(status, 413, "{answer}");
    let (status, answer) = post(d.addr(), Some(&right), b"{\"version\": \"3\"}", 16);
    assert_eq!(status, 400, "{answer}");
    assert!(record_ids(&dd.state, "pods").is_empty(), "nothing started");
}

#[test]
fn the_receiver_is_off_without_the_setting_and_refuses_a_readable_token() {
    let dd = dirs();
    jobs(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let body =
        json!({"version": "4", "alerts": [alert("firing", "KubePodCrashLooping", "prod", "f")]})
            .to_string();
    let right = format!("Bearer {TOKEN}");
    let (status, answer) = post(d.addr(), Some(&right), body.as_bytes(), body.len());
    assert_eq!(status, 404, "{answer}");
    assert!(answer.contains("alertmanager"), "{answer}");
    drop(d);

    let secrets = tempfile::tempdir().expect("tempdir");
    let readable = token_file(secrets.path(), 0o644);
    let stopped = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting(
            "alertmanager",
            format!("{{tokenFile: {}}}", readable.display()),
        )
        .start_expecting_exit(Duration::from_secs(30));
    assert_eq!(stopped.status.code(), Some(1), "{}", stopped.stderr);
    assert!(stopped.stderr.contains("chmod 600"), "{}", stopped.stderr);
    // The error names the setting it is about, not the API token's.
    assert!(
        stopped.stderr.contains(&format!(
            "alertmanager.tokenFile {} has mode 0644",
            readable.display()
        )),
        "{}",
        stopped.stderr
    );
    assert!(
        !stopped.stderr.contains("apiTokenFile"),
        "{}",
        stopped.stderr
    );
}

fn receiver(d: DaemonBuilder, token: &Path) -> DaemonBuilder {
    d.setting(
        "alertmanager",
        format!("{{tokenFile: {}}}", token.display()),
    )
}

/// The runs of `job` each `started` entry accepted.
fn accepted(answer: &Value, job: &str) -> Vec<String> {
    (answer["started"].as_array().expect("started").iter())
        .filter(|s| s["job"] == job)
        .map(|s| {
            s["accepted"]["runId"]
                .as_str()
                .unwrap_or_else(|| panic!("{job} refused: {answer}"))
                .to_string()
        })
        .collect()
}

#[test]
fn a_grouped_notification_starts_each_matched_job_once() {
    let dd = dirs();
    jobs(&dd.jobs);
    JobFile::new("nodes")
        .spec_line(r#"triggers: [{alertmanager: {matchers: ['alertname="KubeNodeNotReady"']}}]"#)
        .write(&dd.jobs);
    let secrets = tempfile::tempdir().expect("tempdir");
    let token = token_file(secrets.path(), 0o600);
    let d = receiver(Daemon::builder().jobs(&dd.jobs).state(&dd.state), &token).start();
    // `pods` is matched by two alerts, `nodes` by one, `quiet` by none; a resolved alert that
    // would match `nodes` changes nothing.
    let answer = send(
        &d,
        json!([
            alert("resolved", "KubeNodeNotReady", "", "r0"),
            alert("firing", "KubePodCrashLooping", "prod", "p1"),
            alert("firing", "KubeNodeNotReady", "", "n1"),
            alert("firing", "KubePodNotReady", "prod", "p2"),
        ]),
    );
    assert_eq!(
        answer["started"].as_array().map(Vec::len),
        Some(2),
        "{answer}"
    );
    let (pods, nodes) = (accepted(&answer, "pods"), accepted(&answer, "nodes"));
    assert_eq!((pods.len(), nodes.len()), (1, 1), "{answer}");
    let pods = d.wait_run("pods", &pods[0], Duration::from_secs(60));
    let nodes = d.wait_run("nodes", &nodes[0], Duration::from_secs(60));
    assert_eq!(pods["alert"]["fingerprint"], "p1", "{pods}");
    assert_eq!(nodes["alert"]["fingerprint"], "n1", "{nodes}");
    assert_eq!(record_ids(&dd.state, "pods").len(), 1);
    assert_eq!(record_ids(&dd.state, "nodes").len(), 1);
    assert!(record_ids(&dd.state, "quiet").is_empty());
}

#[test]
fn a_retry_keeps_its_alert_and_the_cooldown_outlives_a_crash() {
    let dd = dirs();
    let scratch = tempfile::tempdir().expect("tempdir");
    let mark = scratch.path().join("mark");
    // The first run times out (5s), its retry (after 1s) succeeds.
    std::fs::write(
        dd.jobs.join("pods.yaml"),
        format!(
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: pods\nspec:\n  schedule: \"0 2 * * *\"\n  triggers: [{{alertmanager: {{matchers: ['alertname=~\"KubePod.*\"'], cooldown: 30m}}}}]\n  timeout: 5s\n  retry: {{limit: 1, backoff: 1s}}\n  collect:\n    supportBundle:\n      hostCollectors:\n        - run: {{collectorName: once, command: sh, args: [\"-c\", \"test -e {m} || {{ touch {m}; exec sleep 60; }}\"]}}\n",
            m = mark.display()
        ),
    )
    .expect("job file");
    let secrets = tempfile::tempdir().expect("tempdir");
    let token = token_file(secrets.path(), 0o600);
    let d = receiver(Daemon::builder().jobs(&dd.jobs).state(&dd.state), &token).start();
    let answer = send(
        &d,
        json!([alert("firing", "KubePodCrashLooping", "prod", "f1")]),
    );
    let first = accepted(&answer, "pods");
    let first = d.wait_run("pods", &first[0], Duration::from_secs(60));
    assert_eq!(first["status"], "timed-out", "{first}");
    let retry_id = format!("{}-retry1", first["runId"].as_str().expect("runId"));
    let retry = wait_until(Duration::from_secs(60), "the retry to finish", || {
        let r = read_json(&d.record_path("pods", &retry_id))?;
        if r["status"] == "running" {
            Err(r.to_string())
        } else {
            Ok(r)
        }
    });
    assert_eq!(retry["status"], "succeeded", "{retry}");
    assert_eq!(retry["trigger"], "retry", "{retry}");
    assert_eq!(retry["firstTrigger"], "alert", "{retry}");
    assert_eq!(retry["alert"], first["alert"], "{retry}");
    assert_eq!(retry["alert"]["fingerprint"], "f1", "{retry}");

    // A crash (SIGKILL), then Alertmanager's repeat of the still-firing alert: the records
    // say the job is in its cooldown.
    drop(d);
    let d = receiver(Daemon::builder().jobs(&dd.jobs).state(&dd.state), &token).start();
    let answer = send(
        &d,
        json!([alert("firing", "KubePodCrashLooping", "prod", "f1")]),
    );
    let started = answer["started"].as_array().expect("started");
    assert_eq!(started.len(), 1, "{answer}");
    assert!(started[0]["accepted"].is_null(), "{answer}");
    let refused = started[0]["refused"].as_str().unwrap_or_default();
    assert!(
        refused.contains("cooldown") && refused.contains("alert f1"),
        "{answer}"
    );
    assert_eq!(
        record_ids(&dd.state, "pods").len(),
        2,
        "the run and its retry only"
    );
}
