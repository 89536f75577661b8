//! `journald`: `journalctl` output for a filter, with the run info JSON.

use super::process::ExecSpec;
use super::run::{RunInfo, Target, resolve_program, run_and_record};
use super::{Ctx, Error};
use std::time::Duration;

/// Upstream's default when `timeout` is not set.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The journalctl arguments for a spec body (always `--no-pager`).
pub fn journalctl_args(ctx: &Ctx<'_>) -> Vec<String> {
    let mut args = Vec::new();
    if ctx.bool("system") {
        args.push("--system".to_string());
    }
    if ctx.bool("dmesg") {
        args.push("--dmesg".to_string());
    }
    for unit in ctx.strings("units") {
        args.push("-u".into());
        args.push(unit);
    }
    for (key, flag) in [
        ("since", "--since"),
        ("until", "--until"),
        ("output", "--output"),
    ] {
        if let Some(v) = ctx.str(key).filter(|v| !v.is_empty()) {
            args.push(flag.into());
            args.push(v.into());
        }
    }
    if let Some(n) = ctx.int("lines").filter(|n| *n > 0) {
        args.push("-n".into());
        args.push(n.to_string());
    }
    if ctx.bool("reverse") {
        args.push("--reverse".into());
    }
    if ctx.bool("utc") {
        args.push("--utc".into());
    }
    args.push("--no-pager".into());
    args
}

/// The `journald` host collector.
pub async fn journald(ctx: &Ctx<'_>) -> Result<(), Error> {
    let name = ctx
        .name
        .ok_or_else(|| Error::Spec("journald: `collectorName` is required".into()))?;
    let timeout = ctx.duration("timeout")?.unwrap_or(DEFAULT_TIMEOUT);
    let args = journalctl_args(ctx);
    let mut command = resolve_program("journalctl");
    for a in &args {
        command.push(' ');
        command.push_str(a);
    }
    let info = RunInfo {
        command,
        exit_code: "0".into(),
        ..RunInfo::default()
    };
    let spec = ExecSpec {
        program: "journalctl",
        args: &args,
        env: None,
        cwd: None,
        timeout: Some(timeout),
        cap: ctx.opts.run_output_cap,
        limits: ctx.opts.child_limits(),
    };
    let target = Target {
        dir: "journald",
        name,
    };
    let info = run_and_record(ctx, &target, &spec, info).await?;
    // journalctl exits 0 with "No journal files were found." when there is no journal at all
    // (no systemd-journald, as in most containers); an empty result would look like "no logs",
    // so this is reported as a failure.
    if info.error.is_empty() && info.exit_code == "0" {
        let stderr_rel = format!(
            "host-collectors/journald/{}-stderr.txt",
            super::sanitize_component(name)
        );
        let stderr = tokio::fs::read_to_string(ctx.out.root().join(&stderr_rel))
            .await
            .unwrap_or_default();
        if stderr.contains("No journal files were found") {
            return Err(Error::Other(
                "journald: no journal files were found on this host (is systemd-journald running?)"
                    .into(),
            ));
        }
    } else if info.exit_code != "0" && info.exit_code != super::run::TIMEOUT_EXIT_CODE {
        return Err(Error::Other(format!(
            "journalctl exited with {}: {}",
            info.exit_code,
            info.error.trim()
        )));
    }
    Ok(())
}
