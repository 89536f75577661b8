//! `copy` (TROUBLESHOOT-FORMAT.md §1.7): runs `tar -C <dir> -cf - <base>` in the container over
//! the exec protocol (`super::exec`) and hands the stream, as it arrives, to `super::untar` on a
//! blocking thread (never the whole archive in memory). `copyFromHost` copies through here too.

use super::exec::{PodRef, STDERR_CAP, exit_error, read_capped, select_pods, start};
use super::jsonout::pretty;
use super::untar::{extract, keep_archive};
use super::{Ctx, Error};
use crate::collect::host::{safe_relative, sanitize_component};
use serde_json::{Map, Value};
use std::io::Read;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Where a copy's tar stream goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sink {
    /// Unpacked under the destination folder.
    Extract,
    /// Kept as `archive.tar` in the destination folder (copyFromHost without `extractArchive`).
    Archive,
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
}
