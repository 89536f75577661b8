//! Running a child process with a timeout, cancellation and capped, streamed output.

use super::limits::ChildLimits;
use super::{Ctx, Error};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

/// Where one output stream goes.
pub enum Sink {
    /// Streamed to a file (never held in memory).
    File(tokio::fs::File),
    /// Kept in memory (for small outputs we parse).
    Mem(Vec<u8>),
}

/// One stream after the process ended.
pub struct Captured {
    /// The sink, holding what was kept.
    pub sink: Sink,
    /// Bytes kept (at most the cap).
    pub written: u64,
    /// Whether output beyond the cap was discarded.
    pub truncated: bool,
    /// A write error on the sink, if any (reading goes on so the child never blocks).
    pub error: Option<std::io::Error>,
}

impl Captured {
    /// The in-memory bytes (empty for a file sink).
    pub fn bytes(&self) -> &[u8] {
        match &self.sink {
            Sink::Mem(v) => v,
            Sink::File(_) => &[],
        }
    }
}

/// What a command should run with.
pub struct ExecSpec<'a> {
    /// The program (a name looked up in PATH, or a path).
    pub program: &'a str,
    /// Its arguments.
    pub args: &'a [String],
    /// The whole environment of the child. `None` is the clean base ([`super::env::base`]): a child
    /// never inherits the agent's environment, which holds upload secrets.
    pub env: Option<&'a [(String, String)]>,
    /// Working directory.
    pub cwd: Option<&'a Path>,
    /// Kill the process after this long.
    pub timeout: Option<Duration>,
    /// Cap per stream, in bytes.
    pub cap: u64,
    /// Resource limits the child applies to itself before exec.
    pub limits: Option<ChildLimits>,
}

/// How the command ended.
pub struct ExecResult {
    /// The exit status (`None` only if waiting failed after a kill).
    pub status: Option<ExitStatus>,
    /// Whether the timeout killed it.
    pub timed_out: bool,
    /// Its stdout.
    pub stdout: Captured,
    /// Its stderr.
    pub stderr: Captured,
}

/// Why a command could not be run at all.
#[derive(Debug)]
pub enum ExecError {
    /// Spawning failed (not found, not executable, ...).
    Spawn(std::io::Error),
    /// The run was cancelled; the process group was killed.
    Cancelled,
}

impl From<ExecError> for Error {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Spawn(e) => Error::Other(format!("failed to run: {e}")),
            ExecError::Cancelled => Error::Cancelled,
        }
    }
}

/// Runs `spec` with stdin closed, its own process group, stdout/stderr streamed into the sinks with
/// the cap; on timeout or cancellation the whole process group is killed.
pub async fn exec(
    spec: &ExecSpec<'_>,
    stdout: Sink,
    stderr: Sink,
    cancel: &CancellationToken,
) -> Result<ExecResult, ExecError> {
    let mut cmd = tokio::process::Command::new(spec.program);
    cmd.args(spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Dropping the future (e.g. the caller is aborted) must not leave the child running.
        .kill_on_drop(true)
        // A group of its own lets a timeout kill `sh -c` grandchildren that hold the pipes open.
        .process_group(0)
        .env_clear();
    match spec.env {
        Some(env) => cmd.envs(env.iter().map(|(k, v)| (k, v))),
        None => cmd.envs(super::env::base()),
    };
    if let Some(dir) = spec.cwd {
        cmd.current_dir(dir);
    }
    if let Some(limits) = spec.limits {
        // SAFETY: the hook runs in the forked child before exec; it makes only async-signal-safe
        // system calls (setrlimit, setpriority, ioprio_set) on plain copied values.
        unsafe {
            cmd.pre_exec(move || limits.apply_to_self());
        }
    }
    let mut child = cmd.spawn().map_err(ExecError::Spawn)?;
    let pid = child.id();
    let out_task = child
        .stdout
        .take()
        .map(|r| tokio::spawn(pump(r, stdout, spec.cap)));
    let err_task = child
        .stderr
        .take()
        .map(|r| tokio::spawn(pump(r, stderr, spec.cap)));

    enum End {
        Exited(std::io::Result<ExitStatus>),
        TimedOut,
        Cancelled,
    }
    let deadline = async {
        match spec.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let end = tokio::select! {
        st = child.wait() => End::Exited(st),
        () = deadline => End::TimedOut,
        () = cancel.cancelled() => End::Cancelled,
    };
    let (status, timed_out, cancelled) = match end {
        End::Exited(st) => (st.ok(), false, false),
        End::TimedOut | End::Cancelled => {
            kill_group(pid);
            let _ = child.start_kill();
            let st = child.wait().await.ok();
            (
                st,
                matches!(end, End::TimedOut),
                matches!(end, End::Cancelled),
            )
        }
    };
    // Grandchildren that left the process group could keep a pipe open forever; stop reading
    // after a grace period rather than hang.
    let stdout = finish(out_task).await;
    let stderr = finish(err_task).await;
    if cancelled {
        return Err(ExecError::Cancelled);
    }
    Ok(ExecResult {
        status,
        timed_out,
        stdout,
        stderr,
    })
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: kill(2) with a negative pid signals the process group we created for this child
        // (process_group(0) made its pgid equal its pid); it has no memory-safety preconditions.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

async fn finish(task: Option<tokio::task::JoinHandle<Captured>>) -> Captured {
    let empty = || Captured {
        sink: Sink::Mem(Vec::new()),
        written: 0,
        truncated: false,
        error: None,
    };
    let Some(mut task) = task else {
        return empty();
    };
    match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
        Ok(Ok(c)) => c,
        Ok(Err(_)) => empty(),
        Err(_) => {
            task.abort();
            let mut c = empty();
            c.error = Some(std::io::Error::other(
                "output pipe still open 5s after the process ended; stopped reading",
            ));
            c
        }
    }
}

async fn pump<R: AsyncRead + Unpin>(mut reader: R, mut sink: Sink, cap: u64) -> Captured {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut written, mut truncated, mut error) = (0u64, false, None);
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        // Past the cap we keep reading and discarding, so the child never blocks on a full pipe
        // and its exit code stays meaningful; memory stays at one buffer.
        let room = cap.saturating_sub(written);
        let keep = usize::try_from(room).unwrap_or(usize::MAX).min(n);
        if keep < n {
            truncated = true;
        }
        if keep > 0 && error.is_none() {
            let res = match &mut sink {
                Sink::File(f) => f.write_all(&buf[..keep]).await,
                Sink::Mem(v) => {
                    v.extend_from_slice(&buf[..keep]);
                    Ok(())
                }
            };
            match res {
                Ok(()) => written += keep as u64,
                Err(e) => error = Some(e),
            }
        }
    }
    if let Sink::File(f) = &mut sink
        && let Err(e) = f.flush().await
    {
        error.get_or_insert(e);
    }
    Captured {
        sink,
        written,
        truncated,
        error,
    }
}

/// Runs a small helper tool (lsblk, sysctl, systemctl...) under the run's limits and returns its
/// output in memory.
pub(crate) async fn capture(
    program: &str,
    args: &[&str],
    timeout: Duration,
    ctx: &Ctx<'_>,
) -> Result<ExecResult, Error> {
    let args: Vec<String> = args.iter().map(|s| (*s).to_string()).collect();
    let spec = ExecSpec {
        program,
        args: &args,
        env: None,
        cwd: None,
        timeout: Some(timeout),
        cap: 32 * 1024 * 1024,
        limits: ctx.opts.child_limits(),
    };
    exec(
        &spec,
        Sink::Mem(Vec::new()),
        Sink::Mem(Vec::new()),
        ctx.cancel,
    )
    .await
    .map_err(|e| match e {
        ExecError::Spawn(e) => Error::Other(format!("failed to execute {program}: {e}")),
        ExecError::Cancelled => Error::Cancelled,
    })
}

/// Like [`capture`], but a timeout or non-zero exit is an error (with stderr in the message).
pub(crate) async fn capture_ok(
    program: &str,
    args: &[&str],
    timeout: Duration,
    ctx: &Ctx<'_>,
) -> Result<ExecResult, Error> {
    let r = capture(program, args, timeout, ctx).await?;
    if r.timed_out {
        return Err(Error::Other(format!(
            "{program} timed out after {}s",
            timeout.as_secs()
        )));
    }
    match r.status {
        Some(st) if st.success() => Ok(r),
        st => {
            let stderr = String::from_utf8_lossy(r.stderr.bytes()).trim().to_string();
            Err(Error::Other(format!(
                "failed to execute {program}: {}{}",
                st.map_or_else(|| "unknown status".to_string(), |s| s.to_string()),
                if stderr.is_empty() {
                    String::new()
                } else {
                    format!(": {stderr}")
                }
            )))
        }
    }
}

/// The exit code as troubleshoot writes it: the number, or `""` when killed by a signal.
pub fn exit_code_string(status: Option<ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(s) => match s.code() {
            Some(c) => c.to_string(),
            None => s
                .signal()
                .map_or_else(String::new, |sig| format!("signal: {sig}")),
        },
        None => String::new(),
    }
}
