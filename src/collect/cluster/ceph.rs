//! `ceph`: troubleshoot's fixed list of `ceph`/`rbd`/`radosgw-admin` commands run in the
//! rook-ceph tools pod (else the operator pod) → `[<collectorName>/][<ns>/]ceph/<id>.<json|txt>`,
//! with `<id>-stderr.txt`, `<id>-errors.json` and `<id>.<format>-error` beside them.

use super::capture;
use super::exec::pod_refs;
use super::jsonout::pretty;
use super::logs::list_pods;
use super::{Ctx, Error};
use crate::collect::host::{parse_go_duration, safe_relative};
use serde_json::Value;
use std::time::Duration;

/// rook's default namespace.
pub const DEFAULT_NAMESPACE: &str = "rook-ceph";

/// Bytes of output kept per command (ceph prints kilobytes; `auth ls` of a big cluster more).
const OUTPUT_CAP: usize = 32 << 20;

/// One command: its id (file name), argv, output format and default timeout in seconds.
type Command = (&'static str, &'static [&'static str], &'static str, u64);

/// troubleshoot v0.133's `CephCommands`, in its order.
const COMMANDS: &[Command] = &[
    (
        "status",
        &["ceph", "status", "-f", "json-pretty"],
        "json",
        30,
    ),
    ("status-txt", &["ceph", "status"], "txt", 30),
    (
        "fs",
        &["ceph", "fs", "status", "-f", "json-pretty"],
        "json",
        30,
    ),
    ("fs-txt", &["ceph", "fs", "status"], "txt", 30),
    (
        "fs-ls",
        &["ceph", "fs", "ls", "-f", "json-pretty"],
        "json",
        30,
    ),
    (
        "osd-status",
        &["ceph", "osd", "status", "-f", "json-pretty"],
        "json",
        30,
    ),
    (
        "osd-tree",
        &["ceph", "osd", "tree", "-f", "json-pretty"],
        "json",
        30,
    ),
    (
        "osd-pool",
        &["ceph", "osd", "pool", "ls", "detail", "-f", "json-pretty"],
        "json",
        30,
    ),
    (
        "health",
        &["ceph", "health", "detail", "-f", "json-pretty"],
        "json",
        30,
    ),
    (
        "auth",
        &["ceph", "auth", "ls", "-f", "json-pretty"],
        "json",
        30,
    ),
    (
        "rgw-stats",
        &[
            "radosgw-admin",
            "bucket",
            "stats",
            "--rgw-cache-enabled=false",
        ],
        "json",
        30,
    ),
    (
        "rbd-du-txt",
        &["rbd", "du", "--pool=replicapool"],
        "txt",
        60,
    ),
    ("df", &["ceph", "df", "-f", "json-pretty"], "json", 30),
    ("df-txt", &["ceph", "df"], "txt", 30),
    (
        "osd-df",
        &["ceph", "osd", "df", "-f", "json-pretty"],
        "json",
        30,
    ),
    ("osd-df-txt", &["ceph", "osd", "df"], "txt", 30),
];

/// troubleshoot's output folder: `[<collectorName>/][<ns>/]ceph` (the namespace only when it is not
/// rook's default).
pub fn folder(collector_name: Option<&str>, ns: &str) -> String {
    let mut parts = Vec::new();
    if let Some(n) = collector_name.filter(|n| !n.is_empty()) {
        parts.extend(safe_relative(n));
    }
    if !ns.is_empty() && ns != DEFAULT_NAMESPACE {
        parts.extend(safe_relative(ns));
    }
    parts.push("ceph".to_string());
    parts.join("/")
}

/// Runs `ceph`: nothing is written when neither tools nor operator pod exists.
pub(super) async fn collect(
    ctx: &Ctx,
    body: &Value,
    collector_name: Option<&str>,
) -> Result<(), Error> {
    let ns = body["namespace"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_NAMESPACE);
    let timeout = match body["timeout"].as_str().filter(|s| !s.is_empty()) {
        Some(t) => Some(parse_go_duration(t).ok_or_else(|| {
            Error::Spec(format!("`timeout`: {t:?} is not a duration such as 30s"))
        })?),
        None => None,
    };
    let mut pod = None;
    for selector in ["app=rook-ceph-tools", "app=rook-ceph-operator"] {
        let pods = list_pods(ctx, ns, selector).await?;
        if let Some(p) = pod_refs(pods).into_iter().next() {
            pod = Some(p);
            break;
        }
    }
    let Some(pod) = pod else {
        tracing::info!("ceph: no rook-ceph tools or operator pod in namespace {ns}");
        return Ok(());
    };
    let container = pod.containers.first().cloned().unwrap_or_default();
    let dir = folder(collector_name, ns);
    for (id, argv, format, default_secs) in COMMANDS {
        let command: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        let limit = timeout.unwrap_or(Duration::from_secs(*default_secs));
        match capture::run(ctx, &pod, &container, &command, OUTPUT_CAP, limit).await {
            Err(e) => ctx.write(
                &format!("{dir}/{id}.{format}-error"),
                &format!("failed to exec command: {e}"),
            )?,
            Ok(out) => {
                if !out.stdout.is_empty() {
                    ctx.write(
                        &format!("{dir}/{id}.{format}"),
                        &String::from_utf8_lossy(&out.stdout),
                    )?;
                }
                if !out.stderr.is_empty() {
                    ctx.write(
                        &format!("{dir}/{id}-stderr.txt"),
                        &String::from_utf8_lossy(&out.stderr),
                    )?;
                }
                if let Some(e) = out.error {
                    ctx.write(
                        &format!("{dir}/{id}-errors.json"),
                        &pretty(&Value::from(vec![e])),
                    )?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_follow_troubleshoot() {
        assert_eq!(folder(None, DEFAULT_NAMESPACE), "ceph");
        assert_eq!(folder(Some("st"), "rook"), "st/rook/ceph");
        assert_eq!(COMMANDS.len(), 16);
    }
}
