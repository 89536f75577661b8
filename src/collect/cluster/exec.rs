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
use serde_json::{Map, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes of stderr kept per command (the rest is dropped: it is a diagnostic, not data).
const STDERR_CAP: usize = 1024 * 1024;
/// Bytes of the kube client's pipes between the websocket and us.
const PIPE_BUF: usize = 64 * 1024;

/// The parts of a pod `exec` and `copy` need.
pub(super) struct PodRef {
    pub(super) namespace: String,
    pub(super) name: String,
    pub(super) containers: Vec<String>,
    pub(super) phase: String,
}

/// Where a copy's tar stream goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sink {
    /// Unpacked under the destination folder.
    Extract,
    /// Kept as `archive.tar` in the destination folder (copyFromHost without `extractArchive`).
    Archive,
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
async fn select_pods(
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

/// Runs one `copy` collector: `containerPath` out of every matching pod.
pub(super) async fn copy(
    ctx: &Ctx,
    body: &Value,
    collector_name: Option<&str>,
) -> Result<(), Error> {
    let container_path = body["containerPath"]
        .as_str()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::Spec("`containerPath` is required".into()))?
        .to_string();
    let (dir, base) = split_container_path(&container_path).ok_or_else(|| {
        Error::Spec(format!(
            "`containerPath`: {container_path:?} names no file or folder"
        ))
    })?;
    let pods = select_pods(ctx, body, collector_name).await?;
    let spec_container = body["containerName"].as_str().unwrap_or("").to_string();
    let command: Vec<String> = ["tar", "-C", &dir, "-cf", "-", &base]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut jobs: Vec<super::Task<'_, ()>> = Vec::new();
    for pod in &pods {
        let (command, spec_container, container_path, dir) =
            (&command, &spec_container, &container_path, &dir);
        jobs.push(Box::pin(async move {
            let mut base_parts = safe_relative(body["name"].as_str().unwrap_or(""));
            base_parts.push(sanitize_component(&pod.namespace));
            base_parts.push(sanitize_component(&pod.name));
            base_parts.extend(safe_relative(spec_container));
            let errors = copy_one(
                ctx,
                pod,
                spec_container,
                command,
                &base_parts,
                dir,
                Sink::Extract,
            )
            .await;
            if !errors.is_empty() {
                let mut obj = Map::new();
                for (key, message) in errors {
                    obj.insert(
                        format!("{}/{key}", container_path.trim_end_matches('/')),
                        Value::String(message),
                    );
                }
                let mut rel = base_parts.clone();
                let mut path_parts = safe_relative(container_path);
                if let Some(last) = path_parts.pop() {
                    rel.extend(path_parts);
                    rel.push(format!("{last}-errors.json"));
                }
                if let Err(e) = ctx.write(&rel.join("/"), &pretty(&Value::Object(obj))) {
                    tracing::warn!("copy: {e}");
                }
            }
        }));
    }
    super::run_bounded(jobs, ctx.opts.max_parallel).await;
    Ok(())
}

/// `/var/log/app` → (`/var/log`, `app`); `app` → (`.`, `app`).
fn split_container_path(p: &str) -> Option<(String, String)> {
    let trimmed = p.trim_end_matches('/');
    let (dir, base) = match trimmed.rsplit_once('/') {
        Some(("", b)) => ("/".to_string(), b.to_string()),
        Some((d, b)) => (d.to_string(), b.to_string()),
        None => (".".to_string(), trimmed.to_string()),
    };
    (!base.is_empty()).then_some((dir, base))
}

/// Copies out of one pod; returns the errors keyed as troubleshoot does (`error`, `stderr`).
pub(super) async fn copy_one(
    ctx: &Ctx,
    pod: &PodRef,
    spec_container: &str,
    command: &[String],
    base_parts: &[String],
    dir: &str,
    sink: Sink,
) -> Vec<(String, String)> {
    let container = if spec_container.is_empty() {
        pod.containers.first().cloned().unwrap_or_default()
    } else {
        spec_container.to_string()
    };
    let mut process = match start(ctx, pod, &container, command).await {
        Ok(p) => p,
        Err(e) => return vec![("error".into(), e.to_string())],
    };
    let status = process.take_status();
    let (Some(stdout), Some(stderr)) = (process.stdout(), process.stderr()) else {
        return vec![("error".into(), "the exec stream has no stdout".into())];
    };
    // Files land under <name>/<ns>/<pod>/<containerName>/<dirname(containerPath)>/.
    let mut dest_parts = base_parts.to_vec();
    dest_parts.extend(safe_relative(dir));
    let dest_rel = dest_parts.join("/");
    let dest = ctx.path(&dest_rel);
    let cap = ctx.opts.copy_size_cap;
    let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let extractor = tokio::task::spawn_blocking(move || {
        let reader = ChannelReader {
            rx,
            buf: Vec::new(),
            pos: 0,
        };
        match sink {
            Sink::Extract => extract(reader, &dest, cap),
            Sink::Archive => keep_archive(reader, &dest, cap),
        }
    });
    // No byte for this long: the archive stream is stuck (troubleshoot has no copy timeout; the
    // per-call timeout keeps one silent container from holding the run).
    let pump = pump(stdout, tx, ctx.api.timeout());
    let stderr_task = tokio::spawn(read_capped(stderr, STDERR_CAP));
    let (stopped_early, extracted) = tokio::join!(pump, extractor);
    let stderr_wait = if stopped_early.is_some() {
        // Nobody reads stdout any more: the exec cannot finish, so end it. Its pipes are then
        // never closed, so stderr gets a short grace instead of an end of stream.
        process.abort();
        Duration::from_secs(2)
    } else {
        ctx.api.timeout()
    };
    let stderr = match tokio::time::timeout(stderr_wait, stderr_task).await {
        Ok(Ok(bytes)) => bytes,
        _ => Vec::new(),
    };
    let mut errors = Vec::new();
    match extracted {
        Ok(x) => {
            for rel in &x.files {
                ctx.record(&format!("{dest_rel}/{rel}"));
            }
            if !x.problems.is_empty() {
                add_error(&mut errors, x.problems.join("; "));
            }
        }
        Err(e) => add_error(&mut errors, format!("extracting the archive: {e}")),
    }
    if let Some(Some(stalled)) = &stopped_early {
        add_error(&mut errors, stalled.clone());
    }
    if stopped_early.is_none() {
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        if let Some(message) = exit_error(status) {
            add_error(&mut errors, message);
        }
    }
    // Only with an error, as troubleshoot: tar's warnings on a good copy are not kept.
    if !errors.is_empty() && !stderr.is_empty() {
        errors.push((
            "stderr".into(),
            String::from_utf8_lossy(&stderr).into_owned(),
        ));
    }
    errors
}

/// Feeds the archive stream to the extractor. `None` when the stream ended; `Some(Some(why))`
/// when it stalled; `Some(None)` when the extractor stopped taking data (size cap, bad archive).
async fn pump<R: tokio::io::AsyncRead + Unpin>(
    mut stdout: R,
    tx: tokio::sync::mpsc::Sender<Vec<u8>>,
    stall: Duration,
) -> Option<Option<String>> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(stall, stdout.read(&mut buf)).await {
            Err(_) => {
                return Some(Some(format!(
                    "the archive stream stalled: no data for {}s",
                    stall.as_secs()
                )));
            }
            Ok(Ok(0)) => return None,
            Ok(Ok(n)) => {
                // The extractor stopped (size cap, bad archive): stop reading the stream.
                if tx.send(buf[..n].to_vec()).await.is_err() {
                    return Some(None);
                }
            }
            Ok(Err(e)) => {
                tracing::debug!("copy stdout: {e}");
                return None;
            }
        }
    }
}

/// Puts `message` first in the `error` entry (one entry: the file is an object keyed by it).
fn add_error(errors: &mut Vec<(String, String)>, message: String) {
    match errors.iter_mut().find(|(k, _)| k == "error") {
        Some((_, m)) => *m = format!("{message}; {m}"),
        None => errors.insert(0, ("error".into(), message)),
    }
}

/// A blocking reader over chunks sent from the async side (bounded channel: bounded memory).
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            match self.rx.blocking_recv() {
                Some(chunk) => {
                    self.buf = chunk;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Writes the tar stream as `archive.tar` under `dest` (a fresh file: an existing symlink there
/// is replaced, never followed), at most `cap` bytes.
fn keep_archive(mut reader: impl Read, dest: &Path, cap: u64) -> Extracted {
    let mut out = Extracted::default();
    let target = dest.join("archive.tar");
    let written = std::fs::create_dir_all(dest)
        .and_then(|()| match std::fs::remove_file(&target) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .and_then(|()| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)?;
            std::io::copy(&mut (&mut reader).take(cap), &mut file)
        });
    match written {
        Ok(n) => {
            out.files.push("archive.tar".into());
            if n >= cap && reader.read(&mut [0u8; 1]).is_ok_and(|m| m > 0) {
                out.problems.push(format!(
                    "archive.tar: stopped at the copy size cap of {cap} bytes"
                ));
            }
        }
        Err(e) => out.problems.push(format!("{}: {e}", target.display())),
    }
    out
}

/// What unpacking an archive gave.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Files written, relative to the destination.
    pub files: Vec<String>,
    /// Entries refused or skipped, and read errors, worded for the errors file.
    pub problems: Vec<String>,
}

/// Unpacks the tar stream `reader` under `dest`: regular files and folders only, no entry outside
/// `dest` (absolute paths and `..` are refused, links are not created, no existing symlink is
/// followed), at most `cap` bytes of file data in all.
pub fn extract(reader: impl Read, dest: &Path, cap: u64) -> Extracted {
    let mut out = Extracted::default();
    let mut archive = tar::Archive::new(reader);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            out.problems.push(format!("reading the archive: {e}"));
            return out;
        }
    };
    let mut total = 0u64;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.problems.push(format!("reading the archive: {e}"));
                break;
            }
        };
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let parts = match entry_parts(&raw) {
            Ok(p) => p,
            Err(why) => {
                out.problems.push(format!("refused {raw:?}: {why}"));
                continue;
            }
        };
        if parts.is_empty() {
            continue;
        }
        let kind = entry.header().entry_type();
        let target = parts.iter().fold(dest.to_path_buf(), |p, c| p.join(c));
        let rel = parts.join("/");
        if kind.is_dir() {
            if let Err(e) = safe_create_dirs(dest, &parts) {
                out.problems.push(format!("{rel}: {e}"));
            }
            continue;
        }
        if kind.is_symlink() || kind.is_hard_link() {
            let link = entry
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default();
            out.problems.push(format!(
                "refused {raw:?}: a link (to {link:?}); links are not copied"
            ));
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            out.problems
                .push(format!("skipped {raw:?}: not a regular file ({kind:?})"));
            continue;
        }
        if let Err(e) = safe_create_dirs(dest, &parts[..parts.len() - 1]) {
            out.problems.push(format!("{rel}: {e}"));
            continue;
        }
        let remaining = cap.saturating_sub(total);
        match write_entry(&mut entry, &target, remaining) {
            Ok((n, complete)) => {
                total += n;
                out.files.push(rel.clone());
                if !complete {
                    out.problems.push(format!(
                        "{rel}: truncated: the copy size cap of {cap} bytes was reached; the rest of the archive was not read"
                    ));
                    break;
                }
            }
            Err(e) => out.problems.push(format!("{rel}: {e}")),
        }
    }
    out
}

/// The components of an archive entry name, or why it is refused.
fn entry_parts(raw: &str) -> Result<Vec<String>, &'static str> {
    if raw.starts_with('/') {
        return Err("an absolute path");
    }
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("a path leaving the copy's folder"),
            c if c.contains('\0') => return Err("a NUL in the name"),
            c => parts.push(c.to_string()),
        }
    }
    Ok(parts)
}

/// Creates `dest/parts...`, refusing to go through anything that is not a real folder.
fn safe_create_dirs(dest: &Path, parts: &[String]) -> std::io::Result<()> {
    std::fs::create_dir_all(dest)?;
    let mut p: PathBuf = dest.to_path_buf();
    for c in parts {
        p.push(c);
        match std::fs::symlink_metadata(&p) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => {
                return Err(std::io::Error::other(format!(
                    "{} exists and is not a folder",
                    p.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(&p)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes one file entry (never through a symlink); returns the bytes written and whether the
/// whole entry fit under `cap`.
fn write_entry(entry: &mut impl Read, target: &Path, cap: u64) -> std::io::Result<(u64, bool)> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(target)?;
    let mut limited = entry.take(cap);
    let n = std::io::copy(&mut limited, &mut file)?;
    if n < cap {
        return Ok((n, true));
    }
    let mut probe = [0u8; 1];
    let more = limited.into_inner().read(&mut probe)?;
    Ok((n, more == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_split_like_dirname_and_basename() {
        assert_eq!(
            split_container_path("/var/log/app/"),
            Some(("/var/log".into(), "app".into()))
        );
        assert_eq!(
            split_container_path("/etc"),
            Some(("/".into(), "etc".into()))
        );
        assert_eq!(
            split_container_path("data"),
            Some((".".into(), "data".into()))
        );
        assert_eq!(split_container_path("/"), None);
    }

    #[test]
    fn entry_names_leaving_the_folder_are_refused() {
        assert_eq!(entry_parts("./a/b.txt").expect("ok"), ["a", "b.txt"]);
        assert!(entry_parts("/etc/passwd").is_err());
        assert!(entry_parts("a/../../x").is_err());
        assert!(entry_parts("..").is_err());
    }

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
