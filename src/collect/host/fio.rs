//! `filesystemPerformance`: write latency measured with `fio` (fdatasync after each write).

use super::output::file_name;
use super::process::{ExecSpec, Sink, exec};
use super::{Ctx, Error};
use std::time::Duration;

/// Parses sizes like `22Mi`, `10M`, `4096` into bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: u64 = s[..split].parse().ok()?;
    let mult: u64 = match &s[split..] {
        "" => 1,
        "k" | "K" => 1000,
        "M" => 1000 * 1000,
        "G" => 1000 * 1000 * 1000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// Keeps the parts of fio's JSON report troubleshoot's analyzer reads: `"fio version"` and `jobs`.
pub fn subset(report: &serde_json::Value) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for key in ["fio version", "jobs"] {
        if let Some(v) = report.get(key) {
            out.insert(key.to_string(), v.clone());
        }
    }
    serde_json::Value::Object(out)
}

/// fio's arguments for the collector's `fileSize`, `operationSize` (troubleshoot's JSON name of its
/// `OperationSizeBytes` field; the `operationSizeBytes` some shipped specs write is ignored, as
/// troubleshoot ignores it) and `datasync`: sequential
/// synchronous writes of `file`, each followed by `fdatasync` (`fsync` with `datasync: false`).
fn fio_args(ctx: &Ctx<'_>, file: &std::path::Path) -> Result<Vec<String>, Error> {
    let size = match ctx.str("fileSize") {
        Some(s) => {
            parse_size(s).ok_or_else(|| Error::Spec(format!("`fileSize`: {s:?} is not a size")))?
        }
        None => 10 << 20,
    };
    let bs = ctx.int("operationSize").filter(|n| *n > 0).unwrap_or(1024);
    let mut args = vec![
        "--name=fsperf".to_string(),
        format!("--filename={}", file.display()),
        "--rw=write".into(),
        "--ioengine=sync".into(),
        format!("--size={size}"),
        format!("--bs={bs}"),
        "--output-format=json".into(),
    ];
    if ctx.bool("datasync") || !ctx.body.get("datasync").is_some_and(|v| v.is_boolean()) {
        args.push("--fdatasync=1".into());
    } else {
        args.push("--fsync=1".into());
    }
    Ok(args)
}

/// The `filesystemPerformance` host collector. The directory must already exist (upstream creates
/// it; creating e.g. /var/lib/etcd on a host as a side effect of diagnostics is surprising). The
/// background IOPS options are not implemented by this build.
pub async fn filesystem_performance(ctx: &Ctx<'_>) -> Result<(), Error> {
    let dir = ctx.required("directory")?;
    let md = tokio::fs::metadata(dir)
        .await
        .map_err(|e| Error::io(format!("directory {dir}"), e))?;
    if !md.is_dir() {
        return Err(Error::Other(format!("{dir} is not a directory")));
    }
    // fio writes into a per-run file under `directory` and we remove it afterwards.
    let file =
        std::path::Path::new(dir).join(format!("troubleshoot-agent-fsperf-{}", std::process::id()));
    let args = fio_args(ctx, &file)?;
    let timeout = ctx.duration("timeout")?.unwrap_or(Duration::from_secs(120));
    let scratch = super::run::ScratchDir::new("fio")?;
    let spec = ExecSpec {
        program: "fio",
        args: &args,
        env: None,
        cwd: Some(&scratch.0),
        timeout: Some(timeout),
        cap: 64 * 1024 * 1024,
        limits: ctx.opts.child_limits(),
    };
    let r = exec(
        &spec,
        Sink::Mem(Vec::new()),
        Sink::Mem(Vec::new()),
        ctx.cancel,
    )
    .await;
    // Unlinking a large test file can take a while on some filesystems: not on a worker.
    let _ = tokio::fs::remove_file(&file).await;
    let r = r.map_err(|e| match e {
        super::process::ExecError::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Error::Other(
                "fio is not installed on this host (needed for filesystemPerformance)".into(),
            )
        }
        other => other.into(),
    })?;
    let name = ctx.name.unwrap_or("filesystemPerformance");
    if !r.stderr.bytes().is_empty() {
        ctx.out
            .write(
                &[
                    "host-collectors",
                    "filesystemPerformance",
                    &file_name(name, "-stderr.txt"),
                ],
                r.stderr.bytes(),
            )
            .await?;
    }
    if r.timed_out {
        return Err(Error::Other(format!(
            "fio timed out after {}",
            super::run::go_duration_string(timeout)
        )));
    }
    if !r.status.is_some_and(|s| s.success()) {
        return Err(Error::Other(format!(
            "fio failed ({}): {}",
            super::process::exit_code_string(r.status),
            String::from_utf8_lossy(r.stderr.bytes()).trim()
        )));
    }
    let report: serde_json::Value = serde_json::from_slice(r.stdout.bytes())
        .map_err(|e| Error::Other(format!("fio output is not JSON: {e}")))?;
    ctx.out
        .write_json(
            &[
                "host-collectors",
                "filesystemPerformance",
                &file_name(name, ".json"),
            ],
            &subset(&report),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("22Mi"), Some(22 << 20));
        assert_eq!(parse_size("10M"), Some(10_000_000));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("1Ti"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn fio_subset() {
        let v = serde_json::json!({"fio version": "fio-3.33", "timestamp": 1, "jobs": [{"jobname": "fsperf"}]});
        assert_eq!(
            subset(&v).to_string(),
            r#"{"fio version":"fio-3.33","jobs":[{"jobname":"fsperf"}]}"#
        );
    }
}
