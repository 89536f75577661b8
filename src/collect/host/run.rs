//! `run` (host): runs a command, streams its output into the bundle, records an info JSON.

use super::env;
use super::output::file_name;
use super::output::safe_relative;
use super::process::{ExecError, ExecSpec, Sink, exec, exit_code_string};
use super::{Ctx, Error};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upstream has no limit when `timeout` is absent; an agent that runs unattended on a schedule
/// must not hang forever on one command, so this build stops it after 30 minutes.
pub const SAFETY_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Exit code recorded when a timeout killed the command (the convention of coreutils `timeout`,
/// and what troubleshoot's journald collector writes).
pub const TIMEOUT_EXIT_CODE: &str = "124";

/// `<name>-info.json`: troubleshoot's `HostRunInfo` fields in its order, plus `truncated`.
#[derive(Serialize, Default)]
pub struct RunInfo {
    /// The command line (resolved program path and arguments, space-separated like Go's `cmd.String()`).
    pub command: String,
    /// The exit code as a string; `""` when it never started, `"124"` on timeout.
    #[serde(rename = "exitCode")]
    pub exit_code: String,
    /// Stderr on a non-zero exit, or why it failed/timed out.
    pub error: String,
    /// The spec's `outputDir` (upstream leaves this empty by mistake; we record it).
    #[serde(rename = "outputDir")]
    pub output_dir: String,
    /// The input directory given as TS_INPUT_DIR, when `input` was set.
    pub input: String,
    /// The environment the command ran with (`null` when none was set, as Go's nil slice).
    pub env: Option<Vec<String>>,
    /// Present (true) only when stdout or stderr hit the size cap; our addition.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// Where a command's stdout/stderr/info go: `host-collectors/<dir>/<name>{.txt,-stderr.txt,-info.json}`.
pub struct Target<'a> {
    /// The folder under `host-collectors/`, e.g. `run-host`.
    pub dir: &'a str,
    /// The file stem (the collector name).
    pub name: &'a str,
}

/// [`run_streamed`], then `<dir>/<name>-info.json` whatever happened (except cancellation), so
/// even a command that could not start leaves its info beside the error file.
pub async fn run_and_record(
    ctx: &Ctx<'_>,
    target: &Target<'_>,
    spec: &ExecSpec<'_>,
    info: RunInfo,
) -> Result<RunInfo, Error> {
    let (info, err) = match run_streamed(ctx, target, spec, info).await {
        Ok(info) => (info, None),
        Err((_, Error::Cancelled)) => return Err(Error::Cancelled),
        Err((info, e)) => (info, Some(e)),
    };
    ctx.out
        .write_json(
            &[
                "host-collectors",
                target.dir,
                &file_name(target.name, "-info.json"),
            ],
            &info,
        )
        .await?;
    err.map_or(Ok(info), Err)
}

/// Runs `spec`, streaming stdout to `<name>.txt` and stderr to `<name>-stderr.txt` (removed when
/// empty), and returns the info to write. Spawn failures come back as `Err((info, error))`, with
/// the info already filled, so the caller can still write it.
pub async fn run_streamed(
    ctx: &Ctx<'_>,
    target: &Target<'_>,
    spec: &ExecSpec<'_>,
    mut info: RunInfo,
) -> Result<RunInfo, (RunInfo, Error)> {
    let stdout_name = file_name(target.name, ".txt");
    let stderr_name = file_name(target.name, "-stderr.txt");
    let open = |name: String| async move {
        let (abs, rel) = ctx
            .out
            .prepare(&["host-collectors", target.dir, &name])
            .await?;
        let f = tokio::fs::File::create(&abs)
            .await
            .map_err(|e| Error::io(format!("create {}", abs.display()), e))?;
        Ok::<_, Error>((f, abs, rel))
    };
    let (out_f, _, out_rel) = match open(stdout_name).await {
        Ok(v) => v,
        Err(e) => return Err((info, e)),
    };
    let (err_f, err_abs, err_rel) = match open(stderr_name).await {
        Ok(v) => v,
        Err(e) => return Err((info, e)),
    };
    let result = exec(spec, Sink::File(out_f), Sink::File(err_f), ctx.cancel).await;
    let r = match result {
        Ok(r) => r,
        Err(ExecError::Cancelled) => return Err((info, Error::Cancelled)),
        Err(ExecError::Spawn(e)) => {
            // Nothing was produced: drop the empty files so only the info JSON and the error remain.
            let _ = tokio::fs::remove_file(&err_abs).await;
            ctx.out.record(out_rel);
            info.exit_code = String::new();
            info.error = format!("failed to run {}: {e}", spec.program);
            let msg = info.error.clone();
            return Err((info, Error::Other(msg)));
        }
    };
    ctx.out.record(out_rel);
    if r.stderr.written > 0 {
        ctx.out.record(err_rel);
    } else {
        let _ = tokio::fs::remove_file(&err_abs).await;
    }
    info.truncated = r.stdout.truncated || r.stderr.truncated;
    if r.timed_out {
        info.exit_code = TIMEOUT_EXIT_CODE.into();
        info.error = format!(
            "command timed out after {}",
            go_duration_string(spec.timeout.unwrap_or_default())
        );
    } else {
        info.exit_code = exit_code_string(r.status);
        if !r.status.is_some_and(|s| s.success()) && r.stderr.written > 0 {
            // Upstream puts stderr in `error` on a non-zero exit; keep at most 64 KiB of it here.
            info.error = read_head(&err_abs, 64 * 1024).await;
        }
    }
    for (which, c) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
        if let Some(e) = &c.error {
            return Err((info, Error::Other(format!("writing {which}: {e}"))));
        }
    }
    Ok(info)
}

async fn read_head(path: &Path, max: usize) -> String {
    use tokio::io::AsyncReadExt;
    let Ok(f) = tokio::fs::File::open(path).await else {
        return String::new();
    };
    let mut buf = Vec::new();
    let _ = f.take(max as u64).read_to_end(&mut buf).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// Formats a duration the way Go's `Duration.String()` does for whole units (`30s`, `5m0s`, `1h0m0s`).
pub fn go_duration_string(d: Duration) -> String {
    let total = d.as_secs();
    let ms = d.subsec_millis();
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    let secs = if ms > 0 {
        format!("{s}.{ms:03}").trim_end_matches('0').to_string() + "s"
    } else {
        format!("{s}s")
    };
    if h > 0 {
        format!("{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{m}m{secs}")
    } else if total == 0 && ms > 0 {
        format!("{ms}ms")
    } else {
        secs
    }
}

/// Resolves a program like `exec.LookPath` for the recorded command line.
pub fn resolve_program(program: &str) -> String {
    if program.contains('/') {
        return std::path::absolute(program)
            .map_or_else(|_| program.to_string(), |p| p.display().to_string());
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(program))
                .find(|p| p.is_file())
        })
        .map_or_else(|| program.to_string(), |p| p.display().to_string())
}

/// The environment as written to the info JSON. Upstream writes every variable with its value;
/// an unattended agent's environment holds upload tokens and cloud credentials, so inherited
/// variables are listed by name only and values appear only for what the spec itself set.
fn recorded_env(env: &[(String, String)], spec_env: &[String]) -> Vec<String> {
    env.iter()
        .map(|(k, v)| {
            let from_spec = spec_env
                .iter()
                .any(|item| item.split_once('=').is_some_and(|(sk, _)| sk == k));
            if from_spec || k == "TS_OUTPUT_DIR" || k == "TS_INPUT_DIR" {
                format!("{k}={v}")
            } else {
                k.clone()
            }
        })
        .collect()
}

/// The environment of a `run` collector. Upstream hands the command the agent's whole environment
/// unless `ignoreParentEnvs` or `inheritEnvs` is set; the agent's environment holds upload secrets,
/// so here the start is always the clean base ([`env::base`]) plus KUBECONFIG (which upstream
/// guarantees too). `inheritEnvs` adds the variables it names, and only those (an error when one is
/// not set, as upstream; ignored with `ignoreParentEnvs`, as upstream); `env` entries come last.
pub fn build_env(
    ignore_parent: bool,
    inherit: &[String],
    extra: &[String],
) -> Result<Vec<(String, String)>, Error> {
    let mut env = env::with_vars(&["KUBECONFIG"]);
    if !ignore_parent {
        for key in inherit {
            let v = std::env::var(key)
                .map_err(|_| Error::Spec(format!("inherit env variable is not found: {key}")))?;
            env::set(&mut env, key, v);
        }
    }
    for item in extra {
        match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => env::set(&mut env, k, v.to_string()),
            _ => {
                return Err(Error::Spec(format!(
                    "env variable entry is missing '=' : {item}"
                )));
            }
        }
    }
    Ok(env)
}

/// A private scratch directory, removed on drop.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    /// Creates `<tmp>/tsa-<prefix>-<pid>-<n>` with mode 0700.
    pub fn new(prefix: &str) -> Result<Self, Error> {
        use std::os::unix::fs::DirBuilderExt;
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "tsa-{}-{}-{n}-{nanos}",
            super::sanitize_component(prefix),
            std::process::id()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|e| Error::io(format!("create {}", path.display()), e))?;
        Ok(ScratchDir(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `run` host collector.
pub async fn run(ctx: &Ctx<'_>) -> Result<(), Error> {
    let name = ctx.name.unwrap_or("run-host");
    let program = ctx.required("command")?;
    let args = ctx.strings("args");
    let timeout = ctx.duration("timeout")?.unwrap_or(SAFETY_TIMEOUT);
    let mut env = build_env(
        ctx.bool("ignoreParentEnvs"),
        &ctx.strings("inheritEnvs"),
        &ctx.strings("env"),
    )?;
    let work = ScratchDir::new(name)?;
    let output_dir = ctx.str("outputDir").unwrap_or("");
    let out_parts = safe_relative(output_dir);
    let mut cmd_output = None;
    if !output_dir.is_empty() {
        let mut dir = work.0.clone();
        dir.extend(&out_parts);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        env.push(("TS_OUTPUT_DIR".into(), dir.display().to_string()));
        cmd_output = Some(dir);
    }
    let mut input_dir = String::new();
    if let Some(input) = ctx.body.get("input").and_then(|v| v.as_object()) {
        let dir = work.0.join("input");
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        for (file, content) in input {
            if file.contains('/') || file.is_empty() || file == "." || file == ".." {
                return Err(Error::Spec(format!(
                    "input file name {file:?} must be a plain file name"
                )));
            }
            let text = content
                .as_str()
                .map_or_else(|| content.to_string(), str::to_string);
            tokio::fs::write(dir.join(file), text)
                .await
                .map_err(|e| Error::io(format!("write input file {file}"), e))?;
        }
        input_dir = dir.display().to_string();
        env.push(("TS_INPUT_DIR".into(), input_dir.clone()));
    }
    let mut command = resolve_program(program);
    for a in &args {
        command.push(' ');
        command.push_str(a);
    }
    let info = RunInfo {
        command,
        exit_code: "0".into(),
        output_dir: output_dir.to_string(),
        input: input_dir,
        env: Some(recorded_env(&env, &ctx.strings("env"))),
        ..RunInfo::default()
    };
    let spec = ExecSpec {
        program,
        args: &args,
        env: Some(&env),
        cwd: Some(&work.0),
        timeout: Some(timeout),
        cap: ctx.opts.run_output_cap,
        limits: ctx.opts.child_limits(),
    };
    let target = Target {
        dir: "run-host",
        name,
    };
    let info = run_and_record(ctx, &target, &spec, info).await?;
    if let Some(dir) = cmd_output {
        let mut dest: Vec<String> = vec!["host-collectors".into(), "run-host".into(), name.into()];
        dest.extend(out_parts);
        let mut notes = Vec::new();
        super::copy::copy_tree(ctx, &dir, &dest, &mut notes).await?;
        if !notes.is_empty() {
            tracing::warn!("run {name}: outputDir: {}", notes.join("; "));
        }
    }
    ended_under_limits(ctx, &info)
}

/// Under resource limits, a command that did not exit 0 is a failed collector in the run record
/// (its output and info JSON stay in the bundle as upstream writes them): a limit it hit shows
/// only as a failure of the program (`MemoryError`, `Cannot allocate memory`, a signal), so the
/// record names the limits that were in force.
fn ended_under_limits(ctx: &Ctx<'_>, info: &RunInfo) -> Result<(), Error> {
    match &ctx.opts.limits {
        Some(plan) if info.exit_code != "0" && !info.error.starts_with("command timed out") => {
            Err(Error::Other(format!(
                "the command ended with {} under the job's resource limits ({}); it may have hit one",
                if info.exit_code.is_empty() {
                    "no exit code".to_string()
                } else {
                    format!("exit code {}", info.exit_code)
                },
                super::limits::summary(plan)
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_strings() {
        assert_eq!(go_duration_string(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration_string(Duration::from_secs(300)), "5m0s");
        assert_eq!(go_duration_string(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration_string(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration_string(Duration::from_millis(200)), "200ms");
    }

    #[test]
    fn inherited_values_stay_out_of_the_info_json() {
        let env = vec![
            ("SUPPORT_TOKEN".to_string(), "s3cr3t".to_string()),
            ("A".to_string(), "1".to_string()),
            ("TS_OUTPUT_DIR".to_string(), "/tmp/x".to_string()),
        ];
        let recorded = recorded_env(&env, &["A=1".into()]);
        assert_eq!(recorded, ["SUPPORT_TOKEN", "A=1", "TS_OUTPUT_DIR=/tmp/x"]);
    }

    #[test]
    fn env_rules() {
        // SAFETY: tests of this module set only this variable, which nothing else reads.
        unsafe { std::env::set_var("TSA_RUN_ENV_RULES_CANARY", "leak") };
        let allowed = |k: &str| env::BASE_VARS.contains(&k) || ["KUBECONFIG", "A"].contains(&k);
        let env = build_env(true, &["TSA_RUN_ENV_RULES_CANARY".into()], &["A=1".into()]).unwrap();
        assert!(env.iter().all(|(k, _)| allowed(k)), "{env:?}");
        assert!(env.contains(&("A".into(), "1".into())));
        // Nothing asked for: still clean, never the agent's whole environment.
        let plain = build_env(false, &[], &["B=x=y".into()]).unwrap();
        assert!(
            plain.iter().all(|(k, _)| allowed(k) || k == "B"),
            "{plain:?}"
        );
        assert!(plain.contains(&("B".into(), "x=y".into())));
        // Named explicitly: inherited.
        let named = build_env(false, &["TSA_RUN_ENV_RULES_CANARY".into()], &[]).unwrap();
        assert!(named.contains(&("TSA_RUN_ENV_RULES_CANARY".into(), "leak".into())));
        assert!(build_env(false, &["TSA_SURELY_NOT_SET_X".into()], &[]).is_err());
        assert!(build_env(false, &[], &["NOEQUALS".into()]).is_err());
        // The spec's env wins over the base.
        let over = build_env(false, &[], &["PATH=/opt/x".into()]).unwrap();
        assert_eq!(over.iter().filter(|(k, _)| k == "PATH").count(), 1);
        assert!(over.contains(&("PATH".into(), "/opt/x".into())));
    }
}
