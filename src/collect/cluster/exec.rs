//! `exec` and `copy` (TROUBLESHOOT-FORMAT.md §1.7): commands in running containers over the
//! Kubernetes exec websocket protocol (`v5.channel.k8s.io`/`v4.channel.k8s.io`, through kube).
//!
//! `copy` runs `tar -C <dir> -cf - <base>` in the container and unpacks the stream as it arrives
//! (never the whole archive in memory), refusing entries that would land outside the copy's folder.

use super::api::{ApiError, convert};
use super::jsonout::pretty;
use super::logs::list_pods;
use super::{Ctx, Error};
use crate::collect::host::{parse_go_duration, safe_relative, sanitize_component};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{AttachParams, AttachedProcess};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes of stderr kept per command (the rest is dropped: it is a diagnostic, not data).
pub(super) const STDERR_CAP: usize = 1024 * 1024;
/// Bytes of the kube client's pipes between the websocket and us.
const PIPE_BUF: usize = 64 * 1024;

/// The parts of a pod `exec` and `copy` need.
pub(super) struct PodRef {
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) containers: Vec<String>,
    pub(super) phase: String,
}

pub(super) fn pod_refs(pods: Vec<Value>) -> Vec<PodRef> {
    pods.into_iter()
        .map(|p| PodRef {
            namespace: p["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            name: p["metadata"]["name"].as_str().unwrap_or("").to_string(),
            containers: p["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["name"].as_str().map(str::to_string))
                .collect(),
            phase: p["status"]["phase"].as_str().unwrap_or("").to_string(),
        })
        .collect()
}

fn strings(body: &Value, key: &str) -> Vec<String> {
    body[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn timeout_of(body: &Value) -> Result<Option<Duration>, Error> {
    match body["timeout"].as_str().filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => parse_go_duration(t)
            .map(Some)
            .ok_or_else(|| Error::Spec(format!("`timeout`: {t:?} is not a duration such as 10s"))),
    }
}

/// troubleshoot's file for pod listing errors: `<name>-errors.json`, else
/// `<collectorName>-errors.json`, else `errors.json`.
fn listing_errors_file(body: &Value, collector_name: Option<&str>) -> String {
    let name = body["name"].as_str().filter(|n| !n.is_empty());
    match name.or(collector_name.filter(|n| !n.is_empty())) {
        Some(n) => {
            let mut parts = safe_relative(n);
            match parts.pop() {
                Some(last) => {
                    parts.push(format!("{last}-errors.json"));
                    parts.join("/")
                }
                None => "errors.json".to_string(),
            }
        }
        None => "errors.json".to_string(),
    }
}

/// The pods a collector runs in: its selector in its namespace (every namespace when empty).
/// Listing errors and an empty selection are written to the listing errors file.
pub(super) async fn select_pods(
    ctx: &Ctx,
    body: &Value,
    collector_name: Option<&str>,
) -> Result<Vec<PodRef>, Error> {
    let selector = strings(body, "selector").join(",");
    let ns = body["namespace"].as_str().unwrap_or("");
    let errors_file = listing_errors_file(body, collector_name);
    match list_pods(ctx, ns, &selector).await {
        Ok(pods) if pods.is_empty() => {
            // troubleshoot writes nothing here; a line saying why there is no output is kinder.
            let scope = if ns.is_empty() {
                "any namespace".to_string()
            } else {
                format!("namespace {ns:?}")
            };
            let message = format!("no pod in {scope} matches the selector {selector:?}");
            ctx.write(&errors_file, &pretty(&serde_json::json!([message])))?;
            Ok(Vec::new())
        }
        Ok(pods) => Ok(pod_refs(pods)),
        Err(e) => {
            ctx.write(&errors_file, &pretty(&serde_json::json!([e.to_string()])))?;
            Err(Error::Api(e))
        }
    }
}

/// Starts `command` in `container` of `pod` (stdout and stderr attached, no stdin).
pub(super) async fn start(
    ctx: &Ctx,
    pod: &PodRef,
    container: &str,
    command: &[String],
) -> Result<AttachedProcess, ApiError> {
    if !pod.containers.iter().any(|c| c == container) {
        return Err(ApiError::Status {
            code: 400,
            message: format!("container {container} is not valid for pod {}", pod.name),
        });
    }
    // The API answers these with a 400 that the websocket upgrade reports without its message.
    if matches!(pod.phase.as_str(), "Succeeded" | "Failed") {
        return Err(ApiError::Status {
            code: 400,
            message: format!(
                "cannot exec into a container in a completed pod ({}/{} is {})",
                pod.namespace, pod.name, pod.phase
            ),
        });
    }
    let api: kube::Api<Pod> = kube::Api::namespaced(ctx.api.client(), &pod.namespace);
    let params = AttachParams::default()
        .container(container)
        .stdin(false)
        .stdout(true)
        .stderr(true)
        .max_stdout_buf_size(PIPE_BUF)
        .max_stderr_buf_size(PIPE_BUF);
    let what = format!("exec {:?} in {}/{}", command, pod.namespace, pod.name);
    match tokio::time::timeout(
        ctx.api.timeout(),
        api.exec(&pod.name, command.to_vec(), &params),
    )
    .await
    {
        Err(_) => Err(ApiError::Timeout {
            what,
            after: ctx.api.timeout(),
        }),
        Ok(Ok(p)) => Ok(p),
        Ok(Err(e)) => Err(convert(what, e)),
    }
}

/// How a command ended, from the Status on the error channel.
pub(super) fn exit_error(
    status: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>,
) -> Option<String> {
    match status {
        None => Some("the exec stream ended without an exit status".to_string()),
        Some(s) if s.status.as_deref() == Some("Success") => None,
        Some(s) => Some(
            s.message
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| format!("command failed: {}", s.reason.unwrap_or_default())),
        ),
    }
}

/// Reads all of `r` into memory, keeping at most `cap` bytes.
pub(super) async fn read_capped(mut r: impl tokio::io::AsyncRead + Unpin, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => {
                let take = n.min(cap.saturating_sub(out.len()));
                out.extend_from_slice(&buf[..take]);
            }
        }
    }
}

/// A file created on the first byte written (troubleshoot writes no empty stdout/stderr file).
struct LazyFile<'a> {
    ctx: &'a Ctx,
    rel: String,
    file: Option<tokio::io::BufWriter<tokio::fs::File>>,
}

impl<'a> LazyFile<'a> {
    fn new(ctx: &'a Ctx, rel: String) -> Self {
        LazyFile {
            ctx,
            rel,
            file: None,
        }
    }

    // tokio::fs: command output can be large, and a slow disk must not stall the runtime.
    async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            let path = self.ctx.path(&self.rel);
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            let file = tokio::fs::File::create(&path).await?;
            self.file = Some(tokio::io::BufWriter::new(file));
            self.ctx.record(&self.rel);
        }
        match &mut self.file {
            Some(f) => f.write_all(data).await,
            None => Ok(()),
        }
    }

    async fn finish(self) -> std::io::Result<()> {
        match self.file {
            Some(mut f) => f.flush().await,
            None => Ok(()),
        }
    }
}

/// Streams `r` into a [`LazyFile`] at `rel`.
async fn stream_to(
    ctx: &Ctx,
    rel: String,
    mut r: impl tokio::io::AsyncRead + Unpin,
) -> Vec<String> {
    let mut file = LazyFile::new(ctx, rel);
    let mut errors = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut failed = false;
    loop {
        match r.read(&mut buf).await {
            Ok(0) => break,
            // After a write error the stream is still drained: the command cannot finish (and
            // report its exit) while one of its outputs is not read.
            Ok(_) if failed => {}
            Ok(n) => {
                if let Err(e) = file.write(&buf[..n]).await {
                    errors.push(format!("{}: {e}", file.rel));
                    failed = true;
                }
            }
            Err(e) => {
                errors.push(e.to_string());
                break;
            }
        }
    }
    if let Err(e) = file.finish().await {
        errors.push(e.to_string());
    }
    errors
}

/// Runs one `exec` collector: the command in the first matching pod.
pub(super) async fn exec(
    ctx: &Ctx,
    body: &Value,
    collector_name: Option<&str>,
) -> Result<(), Error> {
    let timeout = timeout_of(body)?;
    let mut command = strings(body, "command");
    command.extend(strings(body, "args"));
    if command.is_empty() {
        return Err(Error::Spec("`command` is required".into()));
    }
    let pods = select_pods(ctx, body, collector_name).await?;
    let Some(pod) = pods.first() else {
        return Ok(());
    };
    let container = body["containerName"]
        .as_str()
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .or_else(|| pod.containers.first().cloned())
        .unwrap_or_default();
    let prefix = sanitize_component(
        collector_name
            .filter(|n| !n.is_empty())
            .unwrap_or(&container),
    );
    let mut dir = safe_relative(body["name"].as_str().unwrap_or(""));
    dir.push(sanitize_component(&pod.namespace));
    dir.push(sanitize_component(&pod.name));
    let dir = dir.join("/");
    let run = async {
        let mut process = start(ctx, pod, &container, &command)
            .await
            .map_err(|e| vec![e.to_string()])?;
        let status = process.take_status();
        let (stdout, stderr) = (process.stdout(), process.stderr());
        let out = async {
            match stdout {
                Some(r) => stream_to(ctx, format!("{dir}/{prefix}-stdout.txt"), r).await,
                None => Vec::new(),
            }
        };
        let err = async {
            match stderr {
                Some(r) => stream_to(ctx, format!("{dir}/{prefix}-stderr.txt"), r).await,
                None => Vec::new(),
            }
        };
        let (mut errors, more) = tokio::join!(out, err);
        errors.extend(more);
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        errors.extend(exit_error(status));
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    };
    let result = match timeout {
        Some(t) => match tokio::time::timeout(t, run).await {
            Ok(r) => r,
            Err(_) => Err(vec![format!(
                "timeout: the command did not finish within {}",
                body["timeout"].as_str().unwrap_or("")
            )]),
        },
        None => run.await,
    };
    if let Err(errors) = result {
        ctx.write(
            &format!("{dir}/{prefix}-errors.json"),
            &pretty(&Value::from(errors.clone())),
        )?;
        if errors.iter().any(|e| e.starts_with("timeout:")) {
            return Err(Error::Spec(errors.join("; ")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_errors_go_next_to_the_name() {
        let b = serde_json::json!({"name": "kots/admin"});
        assert_eq!(listing_errors_file(&b, None), "kots/admin-errors.json");
        assert_eq!(
            listing_errors_file(&serde_json::json!({}), Some("x")),
            "x-errors.json"
        );
        assert_eq!(
            listing_errors_file(&serde_json::json!({}), None),
            "errors.json"
        );
    }
}
