//! The external engine (`collect.engine: support-bundle`): runs the troubleshoot CLI
//! non-interactively with the job's specs and takes its archive as the run's bundle.

use super::host::process::{self, ExecSpec, Sink};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The troubleshoot CLI's program name, looked up on PATH when no path is configured.
pub const PROGRAM: &str = "support-bundle";

/// One invocation.
#[derive(Clone, Debug)]
pub struct Request {
    /// The CLI.
    pub binary: PathBuf,
    /// Spec files, in order.
    pub specs: Vec<PathBuf>,
    /// `--namespace`.
    pub namespace: Option<String>,
    /// `--since` (the CLI takes Go durations: whole hours, minutes and seconds).
    pub since: Option<Duration>,
    /// `--redact=false` when off.
    pub redact: bool,
    /// `--redactors`.
    pub redactors: Vec<PathBuf>,
    /// `-o`: the archive path without `.tar.gz` (the CLI always appends it).
    pub output: PathBuf,
    /// Kill the CLI after this long.
    pub timeout: Duration,
    /// Resource limits the CLI process runs under.
    pub limits: Option<super::host::limits::ChildLimits>,
}

/// What the CLI produced.
#[derive(Clone, Debug)]
pub struct Response {
    /// The archive (`archivePath` of its JSON, else `<output>.tar.gz`).
    pub archive: Option<PathBuf>,
    /// The CLI's exit code.
    pub exit_code: Option<i32>,
    /// Its analyzer results (`analyzerResults`), when it printed them.
    pub analyzer_results: Option<serde_json::Value>,
    /// The end of its stderr, for the record.
    pub stderr_tail: String,
    /// Whether the timeout killed it.
    pub timed_out: bool,
}

/// Why the CLI could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    /// Not installed.
    #[error(
        "the troubleshoot CLI `{0}` was not found; install it (https://troubleshoot.sh) or set `supportBundlePath` in the agent settings"
    )]
    NotFound(String),
    /// Spawning failed.
    #[error("cannot run {path}: {source}")]
    Spawn {
        /// The binary.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Cancelled (timeout of the job, shutdown).
    #[error("cancelled")]
    Cancelled,
}

/// Finds the CLI: `configured` if set, else `support-bundle` on PATH.
pub fn locate(configured: Option<&Path>) -> Result<PathBuf, ExternalError> {
    if let Some(path) = configured {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(ExternalError::NotFound(path.display().to_string()))
        };
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(PROGRAM))
        .find(|p| p.is_file())
        .ok_or_else(|| ExternalError::NotFound(PROGRAM.to_string()))
}

/// The command line for `req` (without the program).
pub fn arguments(req: &Request) -> Vec<String> {
    let mut args = vec![
        "--interactive=false".to_string(),
        "--auto-update=false".to_string(),
        // A spec's `uri:` would make the CLI fetch and run whatever the URL serves, host
        // collectors included: jobs with this engine never follow it (see `followSpecURI`).
        "--no-uri".to_string(),
        "-o".to_string(),
        req.output.display().to_string(),
    ];
    if let Some(ns) = &req.namespace {
        args.push(format!("--namespace={ns}"));
    }
    if let Some(since) = req.since {
        args.push(format!("--since={}", go_duration(since)));
    }
    if !req.redact {
        args.push("--redact=false".to_string());
    }
    if !req.redactors.is_empty() {
        let list: Vec<String> = req
            .redactors
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        args.push(format!("--redactors={}", list.join(",")));
    }
    args.extend(req.specs.iter().map(|p| p.display().to_string()));
    args
}

/// A duration as Go's `time.ParseDuration` reads it (no `d` unit).
fn go_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

/// Runs the CLI and reads its result.
pub async fn run(req: &Request, cancel: &CancellationToken) -> Result<Response, ExternalError> {
    let args = arguments(req);
    let program = req.binary.display().to_string();
    // The clean base plus what the CLI needs to reach a cluster; never the agent's secrets.
    let env = super::host::env::with_vars(super::host::env::EXTERNAL_ENGINE_VARS);
    let spec = ExecSpec {
        program: &program,
        args: &args,
        env: Some(&env),
        cwd: req.output.parent(),
        timeout: Some(req.timeout),
        cap: 16 * 1024 * 1024,
        limits: req.limits,
    };
    let result = process::exec(&spec, Sink::Mem(Vec::new()), Sink::Mem(Vec::new()), cancel)
        .await
        .map_err(|e| match e {
            process::ExecError::Spawn(source) => ExternalError::Spawn {
                path: req.binary.clone(),
                source,
            },
            process::ExecError::Cancelled => ExternalError::Cancelled,
        })?;
    let stdout = String::from_utf8_lossy(result.stdout.bytes());
    let parsed: Option<serde_json::Value> = serde_json::from_str(stdout.trim()).ok();
    let default_archive = PathBuf::from(format!("{}.tar.gz", req.output.display()));
    let archive = parsed
        .as_ref()
        .and_then(|v| v.get("archivePath"))
        .and_then(|v| v.as_str())
        .map(PathBuf::from)
        .or(Some(default_archive))
        .filter(|p| p.is_file());
    let stderr = String::from_utf8_lossy(result.stderr.bytes());
    let tail: String = stderr
        .lines()
        .rev()
        .take(20)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Response {
        archive,
        exit_code: result.status.and_then(|s| s.code()),
        analyzer_results: parsed.and_then(|v| v.get("analyzerResults").cloned()),
        stderr_tail: tail,
        timed_out: result.timed_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_documented_command_line() {
        let req = Request {
            binary: "support-bundle".into(),
            specs: vec!["/etc/a.yaml".into(), "/etc/b.yaml".into()],
            namespace: Some("prod".into()),
            since: Some(Duration::from_secs(86400 + 90)),
            redact: false,
            redactors: vec!["/etc/r.yaml".into()],
            output: "/state/jobs/x/bundles/x-2025".into(),
            timeout: Duration::from_secs(60),
            limits: None,
        };
        assert_eq!(
            arguments(&req),
            [
                "--interactive=false",
                "--auto-update=false",
                "--no-uri",
                "-o",
                "/state/jobs/x/bundles/x-2025",
                "--namespace=prod",
                "--since=24h1m30s",
                "--redact=false",
                "--redactors=/etc/r.yaml",
                "/etc/a.yaml",
                "/etc/b.yaml"
            ]
        );
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }

    #[test]
    fn a_missing_cli_says_how_to_fix_it() {
        let err = locate(Some(Path::new("/nonexistent/support-bundle"))).expect_err("missing");
        assert!(err.to_string().contains("supportBundlePath"), "{err}");
    }
}
