//! The `logs` collector (TROUBLESHOOT-FORMAT.md §1.5) and the pod-log download it shares with
//! clusterResources' unhealthy-pod logs.

use super::api::{ApiError, encode};
use super::podstatus::containers;
use super::{Ctx, Error};
use crate::collect::host::{parse_go_duration, safe_relative, sanitize_component};
use futures_util::AsyncReadExt;
use serde_json::Value;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The whole `logs` collector stops after this (troubleshoot's timeout).
const COLLECTOR_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_MAX_LINES: u64 = 10_000;
const DEFAULT_MAX_BYTES: u64 = 5_000_000;

/// The log request's limits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// `tailLines`.
    pub tail_lines: Option<u64>,
    /// `limitBytes` (also enforced while writing).
    pub limit_bytes: Option<u64>,
    /// `sinceSeconds`.
    pub since_seconds: Option<u64>,
    /// `sinceTime` (RFC 3339).
    pub since_time: Option<String>,
    /// `timestamps`.
    pub timestamps: bool,
}

/// A `limits` value that is not what troubleshoot reads.
#[derive(Debug, thiserror::Error)]
pub enum LimitsError {
    /// `maxAge` is not a Go duration.
    #[error("`limits.maxAge`: {0:?} is not a duration such as 720h")]
    MaxAge(String),
    /// `maxLines`/`maxBytes` is not a number; the value as written.
    #[error("`limits.{key}`: {value} is not a number")]
    NotANumber {
        /// The key under `limits`.
        key: String,
        /// The value (a string quoted, as troubleshoot's messages show it).
        value: String,
    },
}

/// troubleshoot's limit rules: no `limits` → last 10,000 lines; the run's `since` (the CLI's
/// `--since`) or `limits.sinceTime`/`maxAge` → a start time and no caps; otherwise `maxLines`
/// (default 10,000) and `maxBytes` (default 5,000,000).
pub fn limits_for(body: &Value, since: Option<Duration>) -> Result<Limits, LimitsError> {
    let timestamps = body["timestamps"].as_bool() == Some(true);
    let l = &body["limits"];
    if let Some(since) = since {
        return Ok(Limits {
            since_seconds: Some(since.as_secs().max(1)),
            timestamps,
            ..Limits::default()
        });
    }
    if l.is_null() {
        return Ok(Limits {
            tail_lines: Some(DEFAULT_MAX_LINES),
            timestamps,
            ..Limits::default()
        });
    }
    if let Some(t) = l["sinceTime"].as_str().filter(|t| !t.is_empty()) {
        return Ok(Limits {
            since_time: Some(t.to_string()),
            timestamps,
            ..Limits::default()
        });
    }
    if let Some(age) = l["maxAge"].as_str().filter(|a| !a.is_empty()) {
        let d = parse_go_duration(age).ok_or_else(|| LimitsError::MaxAge(age.to_string()))?;
        return Ok(Limits {
            since_seconds: Some(d.as_secs().max(1)),
            timestamps,
            ..Limits::default()
        });
    }
    let num = |key: &str, default: u64| -> Result<u64, LimitsError> {
        let not_a_number = |value: String| LimitsError::NotANumber {
            key: key.to_string(),
            value,
        };
        match &l[key] {
            Value::Null => Ok(default),
            Value::Number(n) => n.as_u64().filter(|n| *n > 0).map_or(Ok(default), Ok),
            Value::String(s) => s.parse::<u64>().map_err(|_| not_a_number(format!("{s:?}"))),
            other => Err(not_a_number(other.to_string())),
        }
    };
    Ok(Limits {
        tail_lines: Some(num("maxLines", DEFAULT_MAX_LINES)?),
        limit_bytes: Some(num("maxBytes", DEFAULT_MAX_BYTES)?),
        timestamps,
        ..Limits::default()
    })
}

/// The log URL of one container.
pub fn log_path(ns: &str, pod: &str, container: &str, limits: &Limits, previous: bool) -> String {
    let mut q = format!(
        "/api/v1/namespaces/{}/pods/{}/log?container={}",
        encode(ns),
        encode(pod),
        encode(container)
    );
    if let Some(n) = limits.tail_lines {
        q.push_str(&format!("&tailLines={n}"));
    }
    if let Some(n) = limits.limit_bytes {
        q.push_str(&format!("&limitBytes={n}"));
    }
    if let Some(n) = limits.since_seconds {
        q.push_str(&format!("&sinceSeconds={n}"));
    }
    if let Some(t) = &limits.since_time {
        q.push_str(&format!("&sinceTime={}", encode(t)));
    }
    if limits.timestamps {
        q.push_str("&timestamps=true");
    }
    if previous {
        q.push_str("&previous=true");
    }
    q
}

/// Why a log could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The API refused or failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The log file could not be created.
    #[error("{}: {source}", .path.display())]
    Create {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// No data for the API timeout.
    #[error("{pod}/{container}: the log stream stalled")]
    Stalled {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
    },
    /// Reading the stream or writing the file failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Streams one container's log into bundle-relative `rel` (never more than `limit_bytes`).
pub async fn fetch(
    ctx: &Ctx,
    ns: &str,
    pod: &str,
    container: &str,
    limits: &Limits,
    previous: bool,
    rel: &str,
) -> Result<u64, LogError> {
    let mut body = ctx
        .api
        .stream(&log_path(ns, pod, container, limits, previous))
        .await?;
    let path = ctx.path(rel);
    // tokio::fs: a log can be large, and a slow disk must not stall the runtime's workers.
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await?;
    }
    let file = tokio::fs::File::create(&path)
        .await
        .map_err(|source| LogError::Create {
            path: path.clone(),
            source,
        })?;
    let mut file = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    ctx.record(rel);
    let cap = limits.limit_bytes.unwrap_or(u64::MAX);
    let mut written = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match tokio::time::timeout(ctx.api.timeout(), body.read(&mut buf)).await {
            Err(_) => {
                return Err(LogError::Stalled {
                    pod: pod.to_string(),
                    container: container.to_string(),
                });
            }
            Ok(Err(e)) => return Err(LogError::Io(e)),
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => n,
        };
        let take = (cap - written).min(n as u64) as usize;
        file.write_all(&buf[..take]).await?;
        written += take as u64;
        if written >= cap {
            break;
        }
    }
    file.flush().await?;
    Ok(written)
}

/// A relative symlink at `link_rel` pointing to `target_rel` (both bundle-relative).
pub fn link(ctx: &Ctx, link_rel: &str, target_rel: &str) -> std::io::Result<()> {
    let depth = link_rel.matches('/').count();
    let target = format!("{}{target_rel}", "../".repeat(depth));
    let path = ctx.path(link_rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let _ = std::fs::remove_file(&path);
    std::os::unix::fs::symlink(target, &path)?;
    ctx.record(link_rel);
    Ok(())
}

/// Runs one `logs` collector.
pub(super) async fn collect(
    ctx: &Ctx,
    body: &Value,
    collector_name: Option<&str>,
) -> Result<(), Error> {
    let limits = limits_for(body, ctx.opts.since)?;
    let name_parts = safe_relative(body["name"].as_str().unwrap_or(""));
    let errors_dir: Vec<String> = if !name_parts.is_empty() {
        name_parts.clone()
    } else {
        safe_relative(collector_name.unwrap_or(""))
    };
    let selector: Vec<&str> = body["selector"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let only: Vec<String> = body["containerNames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let ns = body["namespace"].as_str().unwrap_or("");
    let work = async {
        let pods = match list_pods(ctx, ns, &selector.join(",")).await {
            Ok(p) => p,
            Err(e) => {
                let rel = join(&errors_dir, "errors.json");
                ctx.write(
                    &rel,
                    &super::jsonout::pretty(&serde_json::json!([e.to_string()])),
                )?;
                return Err(Error::Api(e));
            }
        };
        let (name_parts, limits) = (&name_parts, &limits);
        let mut jobs: Vec<super::Task<'_, ()>> = Vec::new();
        for pod in &pods {
            let pod_ns = pod["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let pod_name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
            for c in containers(pod, &only) {
                let (pod_ns, pod_name) = (pod_ns.clone(), pod_name.clone());
                jobs.push(Box::pin(async move {
                    one_container(ctx, name_parts, &pod_ns, &pod_name, &c, limits).await;
                }));
            }
        }
        super::run_bounded(jobs, ctx.opts.max_parallel).await;
        Ok(())
    };
    match tokio::time::timeout(COLLECTOR_TIMEOUT, work).await {
        Ok(r) => r,
        Err(_) => Err(Error::Spec(format!(
            "logs collection did not finish within {}s",
            COLLECTOR_TIMEOUT.as_secs()
        ))),
    }
}

fn join(dir: &[String], file: &str) -> String {
    if dir.is_empty() {
        file.to_string()
    } else {
        format!("{}/{file}", dir.join("/"))
    }
}

async fn one_container(
    ctx: &Ctx,
    name_parts: &[String],
    ns: &str,
    pod: &str,
    c: &super::podstatus::ContainerRef,
    limits: &Limits,
) {
    let (ns_c, pod_c, cont) = (
        sanitize_component(ns),
        sanitize_component(pod),
        sanitize_component(&c.name),
    );
    let real_dir = format!("cluster-resources/pods/logs/{ns_c}/{pod_c}");
    let link_dir = join(name_parts, &pod_c);
    let mut errors = Vec::new();
    let real = format!("{real_dir}/{cont}.log");
    match fetch(ctx, ns, pod, &c.name, limits, false, &real).await {
        Ok(_) => {
            if let Err(e) = link(ctx, &format!("{link_dir}/{cont}.log"), &real) {
                errors.push(e.to_string());
            }
        }
        Err(e) => errors.push(e.to_string()),
    }
    if c.restarted {
        let prev = format!("{real_dir}/{cont}-previous.log");
        match fetch(ctx, ns, pod, &c.name, limits, true, &prev).await {
            Ok(_) => {
                if let Err(e) = link(ctx, &format!("{link_dir}/{cont}-previous.log"), &prev) {
                    errors.push(e.to_string());
                }
            }
            Err(e) => errors.push(format!("previous: {e}")),
        }
    }
    if !errors.is_empty() {
        let v: Vec<Value> = errors.into_iter().map(Value::String).collect();
        let _ = ctx.write(
            &format!("{link_dir}/{cont}-errors.json"),
            &super::jsonout::pretty(&Value::Array(v)),
        );
    }
}

/// Pods matching `selector` in `ns` (every namespace when empty), read page by page.
pub async fn list_pods(ctx: &Ctx, ns: &str, selector: &str) -> Result<Vec<Value>, ApiError> {
    let mut path = if ns.is_empty() {
        "/api/v1/pods".to_string()
    } else {
        format!("/api/v1/namespaces/{}/pods", encode(ns))
    };
    if !selector.is_empty() {
        path.push_str(&format!("?labelSelector={}", encode(selector)));
    }
    let mut out = Vec::new();
    ctx.api
        .list_each(&path, ctx.opts.page_size, |items| {
            // Only what log collection needs is kept, so a large selection stays small in memory.
            out.extend(items.into_iter().map(|p| {
                serde_json::json!({
                    "metadata": {"name": p["metadata"]["name"], "namespace": p["metadata"]["namespace"]},
                    "spec": {"initContainers": p["spec"]["initContainers"], "containers": p["spec"]["containers"]},
                    "status": {"phase": p["status"]["phase"], "initContainerStatuses": p["status"]["initContainerStatuses"], "containerStatuses": p["status"]["containerStatuses"]},
                })
            }));
        })
        .await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limits_follow_troubleshoot_rules() {
        assert_eq!(
            limits_for(&json!({}), None).expect("ok"),
            Limits {
                tail_lines: Some(10_000),
                ..Limits::default()
            }
        );
        assert_eq!(
            limits_for(&json!({"limits": {}}), None).expect("ok"),
            Limits {
                tail_lines: Some(10_000),
                limit_bytes: Some(5_000_000),
                ..Limits::default()
            }
        );
        assert_eq!(
            limits_for(&json!({"limits": {"maxLines": 20, "maxBytes": 300}}), None).expect("ok"),
            Limits {
                tail_lines: Some(20),
                limit_bytes: Some(300),
                ..Limits::default()
            }
        );
        assert_eq!(
            limits_for(&json!({"limits": {"maxAge": "2h", "maxLines": 5}}), None)
                .expect("ok")
                .since_seconds,
            Some(7200)
        );
        let since = limits_for(
            &json!({"limits": {"maxLines": 5}}),
            Some(Duration::from_secs(60)),
        )
        .expect("ok");
        assert_eq!((since.since_seconds, since.tail_lines), (Some(60), None));
        assert!(limits_for(&json!({"limits": {"maxAge": "3 days"}}), None).is_err());
    }

    #[test]
    fn log_path_carries_every_limit() {
        let l = Limits {
            tail_lines: Some(5),
            limit_bytes: Some(10),
            since_seconds: None,
            since_time: Some("2025-01-01T00:00:00Z".into()),
            timestamps: true,
        };
        assert_eq!(
            log_path("ns", "p", "c", &l, true),
            "/api/v1/namespaces/ns/pods/p/log?container=c&tailLines=5&limitBytes=10&sinceTime=2025-01-01T00%3A00%3A00Z&timestamps=true&previous=true"
        );
    }
}
