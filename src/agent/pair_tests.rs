//! Two whole agents in one process ([`super::run`], twice, on one runtime), each with its own
//! jobs and state directories: nothing of one may show in the other (records, bundles, metrics,
//! upload queue), as nothing of the agent is process-global. (A unit test: the library keeps
//! the agent's entry crate-private; the binary is its public entry.)
//!
//! The test reruns itself alone in a child process: it ends both agents with a SIGTERM to its
//! own process, and the agents' signal handlers must not catch a signal meant for other tests.

use super::AgentOptions;
use super::clock::Clock;
use crate::settings::Settings;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Set in the child that runs the test's body.
const CHILD: &str = "TSA_AGENT_PAIR_CHILD";
const NAME: &str = "agent::pair_tests::two_agents_in_one_process_keep_to_their_own_state";

/// In the parent: runs the test alone in a child process and checks it passed (`true`).
fn rerun_alone() -> bool {
    if std::env::var_os(CHILD).is_some() {
        return false;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = std::process::Command::new(exe)
        .args(["--exact", NAME, "--test-threads=1", "--nocapture"])
        .env(CHILD, "1")
        .output()
        .expect("run the test alone");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the test failed alone in a child process ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// Polls `probe` until it returns `Ok`, at most `timeout`; panics with the last `Err` otherwise.
fn wait_until<T>(timeout: Duration, what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}; last observed: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// An HTTP answer.
struct Response {
    status: u16,
    body: String,
}

/// One HTTP/1.1 request over the agent's Unix socket.
fn http_unix(socket: &Path, method: &str, path: &str) -> std::io::Result<Response> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let status = (text.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {text}")))?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // The agent's answers are small; a chunked body is one chunk.
    let body = if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut lines = body.splitn(2, "\r\n");
        lines.next();
        let rest = lines.next().unwrap_or("");
        rest.rsplit_once("\r\n0\r\n")
            .map_or(rest, |(b, _)| b)
            .to_string()
    } else {
        body.to_string()
    };
    Ok(Response { status, body })
}

/// Fresh temp `jobs/` and `state/` directories.
fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().expect("tempdir");
    let (jobs, state) = (root.path().join("jobs"), root.path().join("state"));
    std::fs::create_dir(&jobs).expect("mkdir jobs");
    std::fs::create_dir(&state).expect("mkdir state");
    (root, jobs, state)
}

/// An upload target that resets every connection: each upload fails (retryably) and stays
/// in its agent's queue.
fn resetting_target() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            drop(conn);
        }
    });
    addr
}

/// One agent's directories and its job's name.
struct Side {
    job: &'static str,
    _root: tempfile::TempDir,
    jobs: PathBuf,
    state: PathBuf,
}

impl Side {
    fn new(job: &'static str, upload_to: SocketAddr) -> Side {
        let (root, jobs, state) = dirs();
        let text = format!(
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: {job}}}\nspec:\n  schedule: \"0 2 1 1 *\"\n  collect:\n    supportBundle:\n      hostCollectors:\n        - run: {{collectorName: hello, command: echo, args: [\"{job}\"]}}\n  upload:\n    - http: {{url: \"http://{upload_to}/{{job}}/{{runId}}.tar.gz\", method: PUT}}\n"
        );
        std::fs::write(jobs.join(format!("{job}.yaml")), text).expect("job file");
        Side {
            job,
            jobs,
            state,
            _root: root,
        }
    }

    fn options(&self) -> AgentOptions {
        let mut settings = Settings::defaults(&|_| None);
        settings.jobs_dir = self.jobs.clone();
        settings.state_dir = self.state.clone();
        settings.listen = "127.0.0.1:0".into();
        AgentOptions {
            watch_mode: settings.watch_mode,
            settings,
            strict: false,
            host: format!("host-{}", self.job),
            host_identity: format!("host-{}", self.job),
            max_concurrent_runs: 4,
            shutdown_grace: Duration::from_secs(10),
            debounce: Duration::from_millis(100),
            rescan_interval: Duration::from_secs(3600),
            clock: Clock::default(),
            election: None,
        }
    }

    fn socket(&self) -> PathBuf {
        self.state.join("agent.sock")
    }

    fn get(&self, path: &str) -> String {
        let r = http_unix(&self.socket(), "GET", path).expect("GET");
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.body
    }

    /// Run `id` ended, and this agent's records, bundles, upload queue, metrics and status hold
    /// its own job only.
    fn check_own_state(&self, id: &str) {
        let other = if self.job == "alpha" { "beta" } else { "alpha" };
        let record = self.ended(id);
        assert_eq!(record["job"], self.job);
        assert_eq!(record["host"], format!("host-{}", self.job));
        let status = record["status"].as_str().expect("status");
        // Its records and bundles, under its own state directory and named by its job.
        assert_eq!(names(&self.state.join("jobs")), [self.job]);
        let bundle = PathBuf::from(record["bundle"]["path"].as_str().expect("bundle"));
        assert_eq!(
            bundle.parent(),
            Some(&*self.state.join(format!("jobs/{}/bundles", self.job)))
        );
        let bundle_name = bundle.file_name().expect("name").to_string_lossy();
        assert!(
            bundle_name.starts_with(&format!("{}-", self.job)),
            "{bundle_name}"
        );
        // Its upload, failed in the run, waits in its own queue only.
        let queued = wait_until(Duration::from_secs(60), "the queued upload", || {
            let q = names(&self.state.join("uploads"));
            if q.is_empty() {
                Err("no entry".into())
            } else {
                Ok(q)
            }
        });
        assert!(
            queued
                .iter()
                .all(|n| n.starts_with(&format!("{}__{id}__", self.job))),
            "{queued:?}"
        );
        // Its metrics count its own run and job only. The run book counts a run when the run's
        // task returns, which is after its final record is written (and its retention applied).
        let metrics = wait_until(Duration::from_secs(30), "the run counted", || {
            let m = self.get("/metrics");
            if m.contains("troubleshoot_scheduler_jobs_active 0") {
                Ok(m)
            } else {
                Err(m)
            }
        });
        assert!(
            metrics.contains(&format!("job=\"{}\"", self.job)),
            "{metrics}"
        );
        assert!(!metrics.contains(&format!("job=\"{other}\"")), "{metrics}");
        let executions: Vec<&str> = metrics
            .lines()
            .filter(|l| l.starts_with("troubleshoot_scheduler_executions_total{"))
            .collect();
        assert_eq!(
            executions,
            [format!(
                "troubleshoot_scheduler_executions_total{{status=\"{status}\"}} 1"
            )],
            "{metrics}"
        );
        let status: Value = serde_json::from_str(&self.get("/api/v1/status")).expect("status");
        let jobs: Vec<&str> = (status["jobs"].as_array().expect("jobs").iter())
            .filter_map(|j| j["name"].as_str())
            .collect();
        assert_eq!(jobs, [self.job], "{status}");
    }

    /// The record of run `id`, once it has ended.
    fn ended(&self, id: &str) -> Value {
        let path = self.state.join(format!("jobs/{}/runs/{id}.json", self.job));
        wait_until(Duration::from_secs(120), "the run's final record", || {
            let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            let record: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            match record["status"].as_str() {
                Some("running") | None => Err(text),
                Some(_) => Ok(record),
            }
        })
    }
}

/// Names of the entries of `dir` (none when it does not exist).
fn names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn two_agents_in_one_process_keep_to_their_own_state() {
    if rerun_alone() {
        return;
    }
    let target = resetting_target();
    let sides = [Side::new("alpha", target), Side::new("beta", target)];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let agents: Vec<_> = sides
        .iter()
        .map(|s| runtime.spawn(super::run(s.options())))
        .collect();
    for s in &sides {
        wait_until(
            Duration::from_secs(60),
            "the agent to be ready",
            || match http_unix(&s.socket(), "GET", "/readyz") {
                Ok(r) if r.status == 200 => Ok(()),
                Ok(r) => Err(format!("{} {}", r.status, r.body)),
                Err(e) => Err(e.to_string()),
            },
        );
    }

    // Each agent knows its own job only.
    for (s, other) in [(&sides[0], "beta"), (&sides[1], "alpha")] {
        let path = format!("/api/v1/jobs/{other}/trigger");
        let unknown = http_unix(&s.socket(), "POST", &path).expect("POST");
        assert_eq!(unknown.status, 404, "{}", unknown.body);
    }
    let ids: Vec<String> = sides
        .iter()
        .map(|s| {
            let path = format!("/api/v1/jobs/{}/trigger", s.job);
            let r = http_unix(&s.socket(), "POST", &path).expect("trigger");
            assert!(r.status < 300, "{path}: {} {}", r.status, r.body);
            let accepted: Value = serde_json::from_str(&r.body).expect("JSON");
            assert_eq!(accepted["state"], "started", "{accepted}");
            accepted["runId"].as_str().expect("runId").to_string()
        })
        .collect();

    for (s, id) in sides.iter().zip(&ids) {
        s.check_own_state(id);
    }

    // One SIGTERM: both agents hear it and stop cleanly.
    // SAFETY: kill(2) on this process's own pid with a signal its handlers catch.
    assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGTERM) }, 0);
    for agent in agents {
        let stopped =
            runtime.block_on(async { tokio::time::timeout(Duration::from_secs(60), agent).await });
        let result = stopped.expect("the agent stops").expect("agent task");
        assert!(result.is_ok(), "{result:?}");
    }
    runtime.shutdown_timeout(Duration::from_secs(5));
}
