//! Webhook notifications end to end: a real agent run (the foreground `trigger` path and the
//! daemon) calls a real local HTTP server (axum on 127.0.0.1), which records what it received.

use crate::support;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::daemon::{Daemon, wait_until};
use support::{JobFile, agent, dirs, stderr, stdout};

/// One request the server received.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Value,
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    /// Requests to `/hold` wait until this is set.
    released: tokio::sync::watch::Sender<bool>,
}

/// The webhook receiver: `/ok/...` answers 204, `/slow` answers after 60 s (past any client
/// timeout here), `/fail` answers 503, `/hold` answers once the test releases it.
struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Receiver {
    fn start() -> Receiver {
        let shared = Arc::new(Shared::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let state = shared.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = axum::Router::new().fallback(handle).with_state(state);
                let _ = axum::serve(listener, app).await;
            });
        });
        Receiver { addr, shared }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("lock").clone()
    }

    fn release(&self) {
        self.shared.released.send_replace(true);
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let path = uri.path().to_string();
    let body = serde_json::from_slice(&body).unwrap_or_else(|e| {
        Value::String(format!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        ))
    });
    shared.received.lock().expect("lock").push(Received {
        path: path.clone(),
        headers,
        body,
    });
    match path.as_str() {
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::NO_CONTENT
        }
        "/fail" => StatusCode::SERVICE_UNAVAILABLE,
        "/hold" => {
            let mut rx = shared.released.subscribe();
            let _ = rx.wait_for(|r| *r).await;
            StatusCode::NO_CONTENT
        }
        _ => StatusCode::NO_CONTENT,
    }
}

/// Runs `job` in the foreground (no agent listens on port 1); returns the output and its record.
fn trigger(
    jobs: &Path,
    state: &Path,
    job: &str,
    env: &[(&str, &str)],
) -> (std::process::Output, Value) {
    let mut cmd = agent(state);
    cmd.args(["--listen", "127.0.0.1:1", "--jobs-dir"])
        .arg(jobs)
        .args(["--output", "json", "trigger", job]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("runs");
    let printed: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| {
        panic!(
            "trigger printed no record ({e}); stdout:\n{}\nstderr:\n{}",
            stdout(&out),
            stderr(&out)
        )
    });
    let run_id = printed["runId"].as_str().expect("runId").to_string();
    (out, record(state, job, &run_id))
}

fn record_path(state: &Path, job: &str, run_id: &str) -> PathBuf {
    state.join(format!("jobs/{job}/runs/{run_id}.json"))
}

fn record(state: &Path, job: &str, run_id: &str) -> Value {
    let path = record_path(state, job, run_id);
    let text = std::fs::read_to_string(&path).expect("record");
    serde_json::from_str(&text).expect("record json")
}

fn webhook(url: &str, on: &str, extra: &str) -> String {
    format!("  - webhook: {{url: \"{url}\", on: [{on}]{extra}}}")
}

fn job_with_hooks(name: &str, hooks: &[String]) -> JobFile {
    let mut job = JobFile::new(name).spec_line("notify:");
    for h in hooks {
        job = job.spec_line(h);
    }
    job
}

#[test]
fn a_succeeded_run_posts_its_summary_with_headers_from_the_environment() {
    let dd = dirs();
    let r = Receiver::start();
    job_with_hooks(
        "nightly",
        &[webhook(
            &r.url("/ok/team?token=abc"),
            "succeeded, failed",
            ", headers: {X-Token: {fromEnv: TSA_TEST_HOOK_TOKEN}}",
        )],
    )
    .write(&dd.jobs);
    let (out, rec) = trigger(
        &dd.jobs,
        &dd.state,
        "nightly",
        &[("TSA_TEST_HOOK_TOKEN", "s3cret-value")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(rec["status"], "succeeded");

    let got = r.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let req = &got[0];
    assert_eq!(req.path, "/ok/team");
    assert_eq!(req.headers["x-token"], "s3cret-value");
    assert_eq!(req.headers["content-type"], "application/json");
    let b = &req.body;
    assert_eq!(b["payloadVersion"], 1, "{b:#}");
    assert_eq!(b["event"], "succeeded");
    assert_eq!(b["events"], serde_json::json!(["succeeded"]));
    assert_eq!(b["job"], "nightly");
    assert_eq!(b["runId"], rec["runId"]);
    assert_eq!(b["trigger"], "manual");
    assert_eq!(b["status"], "succeeded");
    assert_eq!(b["error"], Value::Null);
    assert_eq!(b["startedAt"], rec["startedAt"]);
    assert_eq!(b["endedAt"], rec["endedAt"]);
    assert!(b["durationMs"].is_u64(), "{b:#}");
    assert_eq!(b["bundle"]["path"], rec["bundle"]["path"]);
    assert_eq!(b["bundle"]["sha256"], rec["bundle"]["sha256"]);
    assert!(
        Path::new(b["bundle"]["path"].as_str().expect("path")).is_file(),
        "{b:#}"
    );
    assert_eq!(b["host"]["name"], rec["host"]);
    assert_eq!(b["host"]["agentVersion"], env!("CARGO_PKG_VERSION"));
    let phases: Vec<&str> = b["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        phases,
        ["collect", "redact", "analyze", "archive", "upload"]
    );

    // The record says it was delivered; the query string (a token) is not kept.
    let n = &rec["notifications"];
    assert_eq!(n.as_array().map(Vec::len), Some(1), "{rec:#}");
    assert_eq!(n[0]["url"], r.url("/ok/team"));
    assert_eq!(n[0]["events"], serde_json::json!(["succeeded"]));
    assert_eq!(n[0]["status"], "delivered");
    assert_eq!(n[0]["attempts"], 1);
    assert_eq!(n[0]["httpStatus"], 204);
    assert!(
        !std::fs::read_to_string(record_path(
            &dd.state,
            "nightly",
            rec["runId"].as_str().expect("id")
        ))
        .expect("record")
        .contains("s3cret-value")
    );
}

#[test]
fn a_failed_run_posts_its_error() {
    let dd = dirs();
    let r = Receiver::start();
    // The troubleshoot CLI is not configured: the run fails for real, quickly.
    job_with_hooks("broken", &[webhook(&r.url("/ok/f"), "failed", "")])
        .engine("support-bundle")
        .write(&dd.jobs);
    let (out, rec) = trigger(&dd.jobs, &dd.state, "broken", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(rec["status"], "failed");
    let got = r.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let b = &got[0].body;
    assert_eq!(b["event"], "failed");
    assert_eq!(b["status"], "failed");
    assert_eq!(b["error"], rec["reason"]);
    assert!(b["error"].as_str().is_some_and(|e| !e.is_empty()), "{b:#}");
    assert_eq!(rec["notifications"][0]["status"], "delivered");
}

#[test]
fn only_webhooks_whose_events_happened_are_called() {
    let dd = dirs();
    let r = Receiver::start();
    job_with_hooks(
        "filtered",
        &[
            webhook(&r.url("/ok/on-failure"), "failed, timedOut", ""),
            webhook(&r.url("/ok/on-success"), "succeeded", ""),
            webhook(&r.url("/ok/on-analysis"), "analysisFailed", ""),
        ],
    )
    .write(&dd.jobs);
    let (out, rec) = trigger(&dd.jobs, &dd.state, "filtered", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let paths: Vec<String> = r.received().into_iter().map(|q| q.path).collect();
    assert_eq!(paths, ["/ok/on-success"]);
    assert_eq!(rec["notifications"].as_array().map(Vec::len), Some(1));
}

#[test]
fn analysis_outcomes_from_the_troubleshoot_cli_raise_their_events() {
    let dd = dirs();
    let r = Receiver::start();
    let config = dd.root.path().join("agent.yaml");
    let results = r#"[{"name":"k8s.version","severity":"error","insight":{"primary":"Kubernetes version","detail":"too old"}},{"name":"disk","severity":"warn"},{"name":"cpu","severity":"debug"},{"name":"mem","severity":"debug"}]"#;
    let cli =
        support::fake_support_bundle(dd.root.path(), &[("FAKE_SB_ANALYZER_RESULTS", results)]);
    std::fs::write(&config, format!("supportBundlePath: {}\n", cli.display())).expect("config");
    std::fs::write(
        dd.jobs.join("spec.yaml.txt"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {name: x}\nspec:\n  collectors: [{clusterInfo: {}}]\n",
    )
    .expect("spec");
    job_with_hooks(
        "analyzed",
        &[webhook(
            &r.url("/ok/a"),
            "analysisFailed, analysisWarned",
            "",
        )],
    )
    .engine("support-bundle")
    .spec_file("spec.yaml.txt")
    .write(&dd.jobs);
    let mut cmd = agent(&dd.state);
    let out = cmd
        .arg("--config")
        .arg(&config)
        .args(["--listen", "127.0.0.1:1", "--jobs-dir"])
        .arg(&dd.jobs)
        .args(["--output", "json", "trigger", "analyzed"])
        .output()
        .expect("runs");
    // Whether failed analysis fails the run (`analyze.failOn`) is not this test's business.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let got = r.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let b = &got[0].body;
    assert_eq!(
        b["events"],
        serde_json::json!(["analysisFailed", "analysisWarned"]),
        "{b:#}"
    );
    assert_eq!(b["event"], "analysisFailed");
    assert_eq!(
        b["analysis"],
        serde_json::json!({"pass": 2, "warn": 1, "fail": 1})
    );
}

#[test]
fn a_webhook_that_times_out_never_fails_the_run_and_the_record_says_so() {
    let dd = dirs();
    let r = Receiver::start();
    job_with_hooks(
        "patient",
        &[webhook(
            &r.url("/slow"),
            "succeeded",
            ", timeout: 1s, attempts: 2",
        )],
    )
    .write(&dd.jobs);
    let (out, rec) = trigger(&dd.jobs, &dd.state, "patient", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(rec["status"], "succeeded");
    let n = &rec["notifications"][0];
    assert_eq!(n["status"], "failed", "{rec:#}");
    assert_eq!(n["attempts"], 2, "{rec:#}");
    assert_eq!(
        n["error"], "no answer within 1s (after 2 attempts)",
        "{rec:#}"
    );
    assert_eq!(r.received().len(), 2);
    assert!(
        stderr(&out).contains("notification to")
            && stderr(&out).contains("failed after 2 attempt(s)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_refusing_webhook_is_retried_and_a_missing_secret_sends_nothing() {
    let dd = dirs();
    let r = Receiver::start();
    job_with_hooks(
        "refused",
        &[
            webhook(&r.url("/fail"), "succeeded", ", attempts: 2"),
            webhook(
                &r.url("/ok/secret"),
                "succeeded",
                ", headers: {Authorization: {fromEnv: TSA_TEST_UNSET_VARIABLE}}",
            ),
        ],
    )
    .write(&dd.jobs);
    let (out, rec) = trigger(&dd.jobs, &dd.state, "refused", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let n = &rec["notifications"];
    assert_eq!(n[0]["status"], "failed");
    assert_eq!(n[0]["attempts"], 2);
    assert_eq!(n[0]["httpStatus"], 503);
    assert_eq!(n[1]["status"], "failed");
    assert_eq!(n[1]["attempts"], 0);
    assert!(
        n[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("TSA_TEST_UNSET_VARIABLE")),
        "{rec:#}"
    );
    let paths: Vec<String> = r.received().into_iter().map(|q| q.path).collect();
    assert_eq!(paths, ["/fail", "/fail"]);
}

#[test]
fn the_daemon_finishes_runs_without_waiting_for_a_slow_webhook() {
    let dd = dirs();
    let r = Receiver::start();
    // Forbid: a run still "in progress" because of its notification would make the second
    // trigger a skipped run.
    job_with_hooks(
        "busy",
        &[webhook(
            &r.url("/hold"),
            "succeeded",
            ", timeout: 5m, attempts: 1",
        )],
    )
    .spec_line("concurrencyPolicy: Forbid")
    .write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();

    let first = d.trigger("busy");
    let first_id = first["runId"].as_str().expect("runId").to_string();
    let rec = d.wait_run("busy", &first_id, Duration::from_secs(60));
    assert_eq!(rec["status"], "succeeded", "{rec:#}");
    wait_until(Duration::from_secs(30), "the webhook to be called", || {
        let n = r.received().len();
        if n == 1 {
            Ok(())
        } else {
            Err(format!("{n} requests"))
        }
    });
    // The webhook holds its answer, and the daemon counts the run as finished all the same.
    wait_until(
        Duration::from_secs(30),
        "the daemon to see the run end",
        || {
            let job = d.job("busy").ok_or("no job")?;
            if job["running"].as_array().is_some_and(Vec::is_empty) {
                Ok(())
            } else {
                Err(job.to_string())
            }
        },
    );
    assert_eq!(r.received().len(), 1, "still the one held request");
    let second = d.trigger("busy");
    assert_eq!(second["state"], "started", "{second}");
    let second_id = second["runId"].as_str().expect("runId").to_string();
    let rec2 = d.wait_run("busy", &second_id, Duration::from_secs(60));
    assert_eq!(rec2["status"], "succeeded", "{rec2:#}");
    assert!(
        record(&dd.state, "busy", &first_id)["notifications"].is_null(),
        "the first notification is still in flight"
    );

    r.release();
    for id in [&first_id, &second_id] {
        wait_until(
            Duration::from_secs(30),
            "the notification in the record",
            || {
                let rec = record(&dd.state, "busy", id);
                if rec["notifications"][0]["status"] == "delivered" {
                    Ok(())
                } else {
                    Err(rec.to_string())
                }
            },
        );
    }
    assert_eq!(
        d.metric("troubleshoot_scheduler_notifications_total{status=\"delivered\"}"),
        Some(2.0)
    );
}

/// Waits for a record file to exist and leave `running`; returns it, or if `with` is set, waits
/// until that field is there too.
fn wait_record(state: &Path, job: &str, run_id: &str, with: Option<&str>) -> Value {
    let path = record_path(state, job, run_id);
    wait_until(Duration::from_secs(60), &format!("record {run_id}"), || {
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        match with {
            _ if v["status"] == "running" => Err(text),
            Some(field) if v.get(field).is_none() => Err(text),
            _ => Ok(v),
        }
    })
}

#[test]
fn fires_missed_during_downtime_are_notified_by_the_daemon() {
    let dd = dirs();
    let r = Receiver::start();
    job_with_hooks("hourly", &[webhook(&r.url("/ok/missed"), "missed", "")])
        .schedule("0 * * * *")
        .spec_line("startingDeadline: 5m")
        .write(&dd.jobs);
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .clock_at("2030-01-01T00:59:57Z")
        .start();
    let first = wait_record(&dd.state, "hourly", "20300101T010000Z", None);
    assert_eq!(first["status"], "succeeded", "{first}");
    assert!(d.stop().status.success());
    assert_eq!(r.received().len(), 0, "a succeeded run is not `missed`");

    // Three hours later, outside the 5m startingDeadline: 02:00, 03:00 and 04:00 are missed.
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .clock_at("2030-01-01T04:10:00Z")
        .start();
    let missed = wait_record(
        &dd.state,
        "hourly",
        "20300101T040000Z-missed",
        Some("notifications"),
    );
    assert_eq!(
        missed["notifications"][0]["status"], "delivered",
        "{missed:#}"
    );
    assert_eq!(
        missed["notifications"][0]["events"],
        serde_json::json!(["missed"])
    );
    let got = r.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let b = &got[0].body;
    assert_eq!(b["event"], "missed");
    assert_eq!(b["runId"], "20300101T040000Z-missed");
    assert_eq!(b["bundle"], Value::Null);
    assert_eq!(
        b["missed"],
        serde_json::json!({"count": 3, "first": "2030-01-01T02:00:00Z", "last": "2030-01-01T04:00:00Z", "capped": false})
    );
    drop(d);
}

#[test]
fn validate_accepts_webhooks_without_a_not_available_warning_and_refuses_zero_attempts() {
    let dd = dirs();
    job_with_hooks(
        "good",
        &[webhook(
            "https://hooks.example.com/x",
            "failed",
            ", timeout: 3s",
        )],
    )
    .write(&dd.jobs);
    let out = agent(&dd.state)
        .arg("validate")
        .arg(&dd.jobs)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains("not available"), "{all}");

    job_with_hooks(
        "bad",
        &[webhook(
            "https://hooks.example.com/x",
            "failed",
            ", attempts: 0, timeout: 0s",
        )],
    )
    .write(&dd.jobs);
    let out = agent(&dd.state)
        .arg("validate")
        .arg(&dd.jobs)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(all.contains("bad.yaml"), "{all}");
    assert!(
        all.contains("attempts counts the first request too"),
        "{all}"
    );
    assert!(
        all.contains("a zero timeout would fail every request"),
        "{all}"
    );
}

#[test]
fn a_shutdown_waits_for_notifications_in_flight() {
    let dd = dirs();
    let r = Receiver::start();
    job_with_hooks(
        "last",
        &[webhook(
            &r.url("/hold"),
            "succeeded",
            ", timeout: 5m, attempts: 1",
        )],
    )
    .write(&dd.jobs);
    let mut d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("shutdownGracePeriod", "1s")
        .start();
    let run = d.trigger("last");
    let id = run["runId"].as_str().expect("runId").to_string();
    d.wait_run("last", &id, Duration::from_secs(60));
    wait_until(Duration::from_secs(30), "the webhook to be called", || {
        let n = r.received().len();
        if n == 1 {
            Ok(())
        } else {
            Err(format!("{n} requests"))
        }
    });
    // SIGTERM while the webhook holds its answer: the agent waits for it (the rest of the grace
    // period, at least 5 s), then says what it leaves behind.
    d.signal(libc::SIGTERM);
    let status = d
        .wait_exit(Duration::from_secs(60))
        .expect("the agent exits");
    r.release();
    assert!(status.success(), "{status:?}");
    assert!(
        d.stderr()
            .contains("shutting down with notifications still being sent"),
        "{}",
        d.stderr()
    );
}
