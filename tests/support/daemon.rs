//! The real agent as a child process: spawned from the built binary against temp dirs, listening
//! on a port it picks (`127.0.0.1:0`, read back from /proc), driven through its HTTP API (reads on TCP, trigger and reload on the control socket
//! `<state>/agent.sock`, as the CLI does), signals and files, and always killed when the test ends.
//!
//! Every wait is bounded and fails with what was last seen, never a sleep-and-hope.

use chrono::{DateTime, Timelike, Utc};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long an agent gets to answer /readyz after it was spawned.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `stop` waits for the process after SIGTERM (the grace period is added).
const STOP_TIMEOUT: Duration = Duration::from_secs(45);

/// Polls `probe` until it returns `Ok`, at most `timeout`; panics with `what` and the last
/// observed state (the `Err` text) otherwise.
pub fn wait_until<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(v) => return v,
            Err(last) => {
                if Instant::now() >= deadline {
                    panic!("timed out after {timeout:?} waiting for {what}; last observed: {last}");
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The offset (ms) that puts the agent's clock at `target` now.
pub fn offset_to(target: DateTime<Utc>) -> i64 {
    (target - Utc::now()).num_milliseconds()
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body text.
    pub body: String,
}

impl Response {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): HTTP {} {}", self.status, self.body))
    }
}

/// One HTTP/1.1 request with `Connection: close`; std only.
pub fn http(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<Response> {
    http_with(addr, method, path, &[])
}

/// [`http`] with extra header lines (`Name: value`).
pub fn http_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[&str],
) -> std::io::Result<Response> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    exchange(stream, &addr.to_string(), method, path, headers)
}

/// One HTTP/1.1 request over a Unix socket.
pub fn http_unix(socket: &Path, method: &str, path: &str) -> std::io::Result<Response> {
    let stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    exchange(stream, "localhost", method, path, &[])
}

fn exchange(
    mut stream: impl Read + Write,
    host: &str,
    method: &str,
    path: &str,
    headers: &[&str],
) -> std::io::Result<Response> {
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let eol = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| bad("bad chunk"))?;
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16)
                .map_err(|_| bad("bad chunk size"))?;
            rest = &rest[eol + 2..];
            if size == 0 || rest.len() < size {
                break;
            }
            out.extend_from_slice(&rest[..size]);
            rest = rest.get(size + 2..).unwrap_or_default();
        }
        body = out;
    }
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// How a stopped agent ended.
#[derive(Debug)]
pub struct Stopped {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

/// Builds and starts an agent.
pub struct DaemonBuilder {
    jobs: Option<PathBuf>,
    state: Option<PathBuf>,
    settings: Vec<(String, String)>,
    clock_offset_ms: i64,
    strict: bool,
    port: Option<u16>,
    listen_host: Option<String>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    wrapper: Vec<String>,
}

/// A running agent; killed (SIGKILL) on drop if still alive.
pub struct Daemon {
    child: Option<Child>,
    /// `127.0.0.1:PORT`, once known (see [`Daemon::addr`]).
    addr: std::sync::OnceLock<SocketAddr>,
    /// Jobs directory.
    pub jobs_dir: PathBuf,
    /// State directory.
    pub state_dir: PathBuf,
    /// The agent's clock offset from the real clock.
    pub clock_offset_ms: i64,
    config: PathBuf,
    stderr_path: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Daemon {
    /// A builder; without `.jobs()` / `.state()` the agent gets fresh temp dirs.
    pub fn builder() -> DaemonBuilder {
        DaemonBuilder {
            jobs: None,
            state: None,
            settings: Vec::new(),
            clock_offset_ms: 0,
            strict: false,
            port: None,
            listen_host: None,
            env: Vec::new(),
            args: Vec::new(),
            wrapper: Vec::new(),
        }
    }
}

impl DaemonBuilder {
    /// A global flag before `run` (e.g. `-q`).
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_string());
        self
    }

    /// Starts the agent as the last argument of `wrapper` (e.g. `unshare`), which must exec it so
    /// that the pid stays the agent's.
    pub fn wrapper(mut self, wrapper: &[&str]) -> Self {
        self.wrapper = wrapper.iter().map(|s| s.to_string()).collect();
        self
    }

    /// `--jobs-dir`.
    pub fn jobs(mut self, dir: &Path) -> Self {
        self.jobs = Some(dir.to_path_buf());
        self
    }

    /// `--state-dir`.
    pub fn state(mut self, dir: &Path) -> Self {
        self.state = Some(dir.to_path_buf());
        self
    }

    /// A key of the settings file (`--config`), written as a YAML plain scalar.
    pub fn setting(mut self, key: &str, value: impl std::fmt::Display) -> Self {
        self.settings.push((key.to_string(), value.to_string()));
        self
    }

    /// `run --strict`.
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    /// An environment variable of the agent process.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// A fixed port (default: 0, the agent picks one).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// `--listen HOST:PORT` instead of 127.0.0.1 (for agents expected to refuse it).
    pub fn listen_host(mut self, host: &str) -> Self {
        self.listen_host = Some(host.to_string());
        self
    }

    /// Shifts the agent's clock by `ms`.
    pub fn clock_offset_ms(mut self, ms: i64) -> Self {
        self.clock_offset_ms = ms;
        self
    }

    /// Shifts the agent's clock so that "now" (at spawn) is at `second` of a minute, 0..60 s ahead.
    pub fn clock_offset_to_second(mut self, second: u32) -> Self {
        let now = Utc::now();
        let in_minute = i64::from(now.second()) * 1000 + i64::from(now.nanosecond() / 1_000_000);
        self.clock_offset_ms = (i64::from(second) * 1000 - in_minute).rem_euclid(60_000);
        self
    }

    /// Puts the agent's clock at `target` (at spawn).
    pub fn clock_at(mut self, target: &str) -> Self {
        let target: DateTime<Utc> = target.parse().expect("RFC 3339 instant");
        self.clock_offset_ms = offset_to(target);
        self
    }

    fn spawn(self) -> Daemon {
        let tmp = tempfile::tempdir().expect("tempdir");
        let jobs_dir = self.jobs.unwrap_or_else(|| {
            let d = tmp.path().join("jobs.d");
            std::fs::create_dir_all(&d).expect("jobs dir");
            d
        });
        let state_dir = self.state.unwrap_or_else(|| tmp.path().join("state"));
        let port = self.port.unwrap_or(0);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let known = std::sync::OnceLock::new();
        if port != 0 && self.listen_host.is_none() {
            known.set(addr).expect("unset");
        }
        // Tests set what they need; otherwise the defaults apply (the reload bounds the tests
        // check hold with the default debounce), except a small minFreeDisk so runs do not
        // depend on the machine's free space.
        let mut settings = vec![("minFreeDisk".to_string(), "1Mi".to_string())];
        for (k, v) in self.settings {
            settings.retain(|(key, _)| *key != k);
            settings.push((k, v));
        }
        let config = tmp.path().join("agent.yaml");
        let text: String = settings
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect();
        std::fs::write(&config, text).expect("write settings");
        let stderr_path = tmp.path().join("agent.stderr");
        let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
        let binary = env!("CARGO_BIN_EXE_troubleshoot-agent");
        let mut cmd = match self.wrapper.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(binary);
                cmd
            }
            None => Command::new(binary),
        };
        clean_env(&mut cmd);
        // `run` logs at info by default: what the tests read in the log.
        cmd.args(&self.args)
            .arg("--config")
            .arg(&config)
            .arg("--jobs-dir")
            .arg(&jobs_dir)
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("--listen")
            .arg(match &self.listen_host {
                Some(host) => format!("{host}:{port}"),
                None => addr.to_string(),
            })
            .arg("run")
            .arg(format!("--clock-offset-ms={}", self.clock_offset_ms));
        if self.strict {
            cmd.arg("--strict");
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr));
        let child = cmd.spawn().expect("spawn the agent");
        Daemon {
            child: Some(child),
            addr: known,
            jobs_dir,
            state_dir,
            clock_offset_ms: self.clock_offset_ms,
            config,
            stderr_path,
            _tmp: tmp,
        }
    }

    /// Starts the agent and waits until /readyz says ready.
    pub fn start(self) -> Daemon {
        let mut d = self.spawn();
        d.wait_http(START_TIMEOUT, "/readyz", 200);
        d
    }

    /// Starts the agent and waits until it serves /healthz (ready or not).
    pub fn start_serving(self) -> Daemon {
        let mut d = self.spawn();
        d.wait_http(START_TIMEOUT, "/healthz", 200);
        d
    }

    /// Starts the agent expecting it to exit on its own within `timeout`.
    pub fn start_expecting_exit(self, timeout: Duration) -> Stopped {
        let mut d = self.spawn();
        let status = d.wait_exit(timeout).unwrap_or_else(|| {
            panic!(
                "the agent was expected to exit within {timeout:?} but still runs; stderr:\n{}",
                d.stderr()
            )
        });
        Stopped {
            status,
            stderr: d.stderr(),
        }
    }
}

/// No settings file, no TROUBLESHOOT_AGENT_* variables from the test's environment.
fn clean_env(cmd: &mut Command) {
    for (key, _) in std::env::vars() {
        if key.starts_with("TROUBLESHOOT_AGENT_")
            || key == "STATE_DIRECTORY"
            || key == "CONFIGURATION_DIRECTORY"
        {
            cmd.env_remove(key);
        }
    }
}

impl Daemon {
    fn wait_http(&mut self, timeout: Duration, path: &str, want: u16) {
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "the agent exited ({status}) before {path} answered {want}; stderr:\n{}",
                    self.stderr()
                );
            }
            match self.try_addr().map(|addr| http(addr, "GET", path)) {
                None => last = "not listening on TCP yet".to_string(),
                Some(Ok(r)) if r.status == want => return,
                Some(Ok(r)) => last = format!("HTTP {} {}", r.status, r.body),
                Some(Err(e)) => last = e.to_string(),
            }
            if Instant::now() >= deadline {
                panic!(
                    "{path} did not answer {want} within {timeout:?}; last: {last}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).expect("agent process")
    }

    /// The agent's clock now.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.clock_offset_ms)
    }

    /// The address the agent listens on, if it does yet: it binds 127.0.0.1:0 and the port it got
    /// is read from /proc.
    fn try_addr(&self) -> Option<SocketAddr> {
        if let Some(addr) = self.addr.get() {
            return Some(*addr);
        }
        let port = super::ports::listening_port(self.child.as_ref()?.id())?;
        Some(
            *self
                .addr
                .get_or_init(|| SocketAddr::from(([127, 0, 0, 1], port))),
        )
    }

    /// The address the agent listens on (waits, bounded, until it does).
    pub fn addr(&self) -> SocketAddr {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(addr) = self.try_addr() {
                return addr;
            }
            assert!(
                Instant::now() < deadline,
                "the agent did not listen on TCP within {START_TIMEOUT:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `--listen` value.
    pub fn listen(&self) -> String {
        self.addr().to_string()
    }

    /// What the agent wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// GET.
    pub fn get(&self, path: &str) -> Response {
        http(self.addr(), "GET", path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}; agent stderr:\n{}", self.stderr()))
    }

    /// POST on the control socket (trigger and reload are not served on TCP without a token).
    pub fn post(&self, path: &str) -> Response {
        http_unix(&self.socket(), "POST", path)
            .unwrap_or_else(|e| panic!("POST {path}: {e}; agent stderr:\n{}", self.stderr()))
    }

    /// POST on the TCP listener, with extra header lines.
    pub fn post_tcp(&self, path: &str, headers: &[&str]) -> Response {
        http_with(self.addr(), "POST", path, headers)
            .unwrap_or_else(|e| panic!("POST {path}: {e}; agent stderr:\n{}", self.stderr()))
    }

    /// `<state>/agent.sock`.
    pub fn socket(&self) -> PathBuf {
        self.state_dir.join("agent.sock")
    }

    /// `/api/v1/status`.
    pub fn status(&self) -> Value {
        let r = self.get("/api/v1/status");
        assert_eq!(r.status, 200, "status: {}", r.body);
        r.json()
    }

    /// One job of the status, if it is there.
    pub fn job(&self, name: &str) -> Option<Value> {
        job_in(&self.status(), name)
    }

    /// Waits up to `timeout` until job `name` is in status and `check` accepts it. The status
    /// is published after the agent's pass over due timers, so a record that pass wrote can be
    /// on disk a moment before the status shows the pass.
    pub fn wait_job(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        wait_until(timeout, &format!("{name}: {what}"), || {
            let status = self.status();
            match job_in(&status, name) {
                Some(job) if check(&job) => Ok(job),
                _ => Err(status.to_string()),
            }
        })
    }

    /// Run records of a job through the API, newest first.
    pub fn runs(&self, job: &str) -> Vec<Value> {
        let r = self.get(&format!("/api/v1/jobs/{job}/runs?limit=1000"));
        assert_eq!(r.status, 200, "runs of {job}: {}", r.body);
        r.json()["runs"].as_array().cloned().unwrap_or_default()
    }

    /// `POST /-/reload`: status code and outcome.
    pub fn reload(&self) -> (u16, Value) {
        let r = self.post("/-/reload");
        (r.status, r.json())
    }

    /// `POST /api/v1/jobs/{job}/trigger`: the answer (`runId`, `state`), asserting 202.
    pub fn trigger(&self, job: &str) -> Value {
        let r = self.post(&format!("/api/v1/jobs/{job}/trigger"));
        assert_eq!(r.status, 202, "trigger {job}: {}", r.body);
        r.json()
    }

    /// The value of a metric line whose name (with labels, exactly as exported) is `name`.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let text = self.get("/metrics").body;
        text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            (key == name).then(|| value.parse().ok()).flatten()
        })
    }

    /// Sends a signal.
    pub fn signal(&self, sig: libc::c_int) {
        let pid = libc::pid_t::try_from(self.pid()).expect("pid fits");
        // SAFETY: kill(2) on our own child's pid, with a valid signal number.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
    }

    /// Waits for a run record to leave `running` (read from its file), at most `timeout`.
    pub fn wait_run(&self, job: &str, run_id: &str, timeout: Duration) -> Value {
        let path = self.record_path(job, run_id);
        wait_until(timeout, &format!("run {job}/{run_id} to finish"), || {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let v: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
            if v["status"] == "running" {
                return Err(format!("status running: {text}"));
            }
            // The final record is written before the run tells the control loop it ended: until
            // the agent's own view says so too, a trigger of the same job could still find the
            // run in progress (and be skipped under `concurrencyPolicy: Forbid`). An agent that
            // no longer answers has nothing in progress.
            let api = format!("/api/v1/jobs/{job}/runs/{run_id}");
            match http(self.addr(), "GET", &api) {
                Ok(r)
                    if r.body.contains("\"state\":\"running\"")
                        || r.body.contains("\"state\":\"queued\"") =>
                {
                    Err(format!(
                        "agent still counts the run in progress: {}",
                        r.body
                    ))
                }
                _ => Ok(v),
            }
        })
    }

    /// `<state>/jobs/<job>/runs/<run-id>.json`.
    pub fn record_path(&self, job: &str, run_id: &str) -> PathBuf {
        self.state_dir
            .join("jobs")
            .join(job)
            .join("runs")
            .join(format!("{run_id}.json"))
    }

    /// The CLI with this agent's settings file, dirs and address.
    pub fn cli(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_troubleshoot-agent"));
        clean_env(&mut cmd);
        cmd.arg("--config")
            .arg(&self.config)
            .arg("--jobs-dir")
            .arg(&self.jobs_dir)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--listen")
            .arg(self.listen());
        cmd
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then waits (bounded) for the exit; returns the status and all of stderr.
    pub fn stop(mut self) -> Stopped {
        self.stop_within(STOP_TIMEOUT)
    }

    /// SIGTERM, then waits at most `timeout`.
    pub fn stop_within(&mut self, timeout: Duration) -> Stopped {
        self.signal(libc::SIGTERM);
        let status = self.wait_exit(timeout).unwrap_or_else(|| {
            panic!(
                "the agent did not exit within {timeout:?} of SIGTERM; stderr:\n{}",
                self.stderr()
            )
        });
        Stopped {
            status,
            stderr: self.stderr(),
        }
    }

    /// SIGKILL (a crash) and reap it; the collector processes it leaves behind are killed too.
    pub fn kill9(mut self) {
        self.kill_now();
    }

    fn kill_now(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // Stopped first, so that no child is forked between listing the children and the kill
        // (a child that escapes holds the state lock until it execs or dies).
        if let Ok(pid) = libc::pid_t::try_from(child.id()) {
            // SAFETY: kill(2) on our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGSTOP) };
        }
        let orphans = children_of(child.id());
        let _ = child.kill();
        let _ = child.wait();
        for pid in orphans {
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) with a pid that was our agent's child; it is still alive or a
                // zombie (not reaped by us), so the pid cannot have been reused.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// Job `name` in a status document.
fn job_in(status: &Value, name: &str) -> Option<Value> {
    status["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|j| j["name"] == name).cloned())
}

/// Direct children of `pid` (from /proc).
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|stat| {
                    let after = stat.rsplit_once(')')?.1;
                    after.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// A temp dir with `jobs.d/` (created) and `state/` (not created) for agents that restart.
pub struct Dirs {
    /// Jobs directory.
    pub jobs: PathBuf,
    /// State directory.
    pub state: PathBuf,
    _tmp: tempfile::TempDir,
}

/// Fresh [`Dirs`].
pub fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().expect("tempdir");
    let jobs = tmp.path().join("jobs.d");
    std::fs::create_dir_all(&jobs).expect("jobs dir");
    Dirs {
        jobs,
        state: tmp.path().join("state"),
        _tmp: tmp,
    }
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}: {text}", path.display()))
}

/// Names (without `.json`) of the run records of a job on disk, sorted.
pub fn record_ids(state: &Path, job: &str) -> Vec<String> {
    let dir = state.join("jobs").join(job).join("runs");
    let mut ids: Vec<String> = std::fs::read_dir(&dir)
        .map(|e| {
            e.filter_map(Result::ok)
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_suffix(".json")
                        .map(str::to_string)
                })
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.kill_now();
            if std::thread::panicking() {
                eprintln!(
                    "--- agent stderr ({}) ---\n{}",
                    self.stderr_path.display(),
                    self.stderr()
                );
            }
        }
    }
}

impl DaemonBuilder {
    /// Spawns the agent without waiting for it to serve (to kill it during start-up).
    pub fn spawn_unready(self) -> Daemon {
        self.spawn()
    }
}

impl Daemon {
    /// Waits (bounded) until /readyz says ready; panics with stderr if the agent exits first.
    pub fn wait_ready(&mut self) {
        self.wait_http(START_TIMEOUT, "/readyz", 200);
    }
}
