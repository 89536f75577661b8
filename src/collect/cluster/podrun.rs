//! Helper pods a collector creates for one run (`sysctl`, `dns`, `etcd`): named by us before the
//! create (so a drop mid-create loses nothing), waited for, and always deleted — on success,
//! failure, timeout and cancellation alike.

use super::api::{Api, ApiError, encode};
use super::{Ctx, Error};
use futures_util::AsyncReadExt;
use serde_json::Value;
use std::time::Duration;

/// How often a pod's phase is read while waiting.
pub(super) const POLL: Duration = Duration::from_millis(500);
/// The label every object this agent creates for a run carries; its value is unique to the run.
pub(super) const RUN_LABEL: &str = "troubleshoot-agent/run";
/// Bytes of a helper pod's log kept (its output is a diagnostic of known, small size).
const LOG_CAP: usize = 16 * 1024 * 1024;

/// A name suffix unique to this process and moment: 10 lowercase base-36 characters.
pub(super) fn unique_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS and differs on every call: no state of our own needed.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    let mut n = h.finish();
    let mut out = String::new();
    for _ in 0..10 {
        let d = (n % 36) as u8;
        out.push(char::from(if d < 10 { b'0' + d } else { b'a' + d - 10 }));
        n /= 36;
    }
    out
}

/// Deletes the pod when dropped without [`Guard::delete`]: the last resort when the collector's
/// future is dropped. Only a pod carrying our run label is deleted.
pub(super) struct Guard {
    api: Api,
    path: String,
    run_id: String,
    armed: bool,
}

impl Guard {
    /// Deletes the pod now (one already gone is fine) and disarms the guard.
    pub(super) async fn delete(mut self) -> Result<(), ApiError> {
        self.armed = false;
        delete_pod(&self.api, &self.path).await
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (api, path, id) = (self.api.clone(), self.path.clone(), self.run_id.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    match api.get(&path).await {
                        Ok(pod) if pod["metadata"]["labels"][RUN_LABEL] == id.as_str() => {
                            if let Err(e) = delete_pod(&api, &path).await {
                                tracing::warn!("deleting helper pod {path} failed: {e}");
                            }
                        }
                        Ok(_) => {}
                        Err(e) if e.is_not_found() => {}
                        Err(e) => tracing::warn!("cannot delete helper pod {path}: {e}"),
                    }
                });
            }
            Err(_) => tracing::warn!("cannot delete helper pod {path}: no runtime left"),
        }
    }
}

async fn delete_pod(api: &Api, path: &str) -> Result<(), ApiError> {
    match api.delete(&format!("{path}?gracePeriodSeconds=0")).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// A created helper pod.
pub(super) struct Created {
    /// Deletes it.
    pub guard: Guard,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its API path.
    pub path: String,
}

/// Creates `pod` in `ns` under `<prefix><suffix>`, labelled with the run label.
pub(super) async fn create(
    ctx: &Ctx,
    ns: &str,
    prefix: &str,
    mut pod: Value,
) -> Result<Created, ApiError> {
    let id = unique_suffix();
    let name = format!("{prefix}{}", &id[..5]);
    pod["apiVersion"] = "v1".into();
    pod["kind"] = "Pod".into();
    pod["metadata"]["name"] = name.clone().into();
    pod["metadata"]["namespace"] = ns.into();
    pod["metadata"]["labels"][RUN_LABEL] = id.clone().into();
    let pods = format!("/api/v1/namespaces/{}/pods", encode(ns));
    let path = format!("{pods}/{}", encode(&name));
    let mut guard = Guard {
        api: ctx.api.clone(),
        path: path.clone(),
        run_id: id,
        armed: true,
    };
    if let Err(e) = ctx.api.post(&pods, &pod).await {
        // Refused: nothing of ours exists. No answer: it may, and the guard looks.
        if !e.is_unreachable() {
            guard.armed = false;
        }
        return Err(e);
    }
    Ok(Created {
        guard,
        namespace: ns.to_string(),
        name,
        path,
    })
}

/// Why waiting for a helper pod ended without it.
#[derive(Debug, thiserror::Error)]
pub(super) enum WaitError {
    /// The image cannot be pulled.
    #[error("wait for pod aborted after getting pod status 'ImagePullBackOff'")]
    ImagePullBackOff,
    /// The pod failed (when a success was needed).
    #[error("pod {0} failed")]
    Failed(String),
    /// Reading the pod failed.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<WaitError> for Error {
    fn from(e: WaitError) -> Self {
        match e {
            WaitError::Api(a) => Error::Api(a),
            other => Error::Other(other.to_string()),
        }
    }
}

fn pull_backoff(pod: &Value) -> bool {
    pod["status"]["phase"] == "Pending"
        && pod["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|cs| cs["state"]["waiting"]["reason"] == "ImagePullBackOff")
}

/// Waits until the pod at `path` completed (Succeeded or Failed, or its first container
/// restarted once); returns the pod.
pub(super) async fn wait_done(api: &Api, path: &str) -> Result<Value, WaitError> {
    loop {
        let pod = api.get(path).await?;
        let phase = pod["status"]["phase"].as_str().unwrap_or("");
        let restarted = pod["status"]["containerStatuses"][0]["restartCount"]
            .as_u64()
            .is_some_and(|n| n > 0);
        if matches!(phase, "Succeeded" | "Failed") || restarted {
            return Ok(pod);
        }
        if pull_backoff(&pod) {
            return Err(WaitError::ImagePullBackOff);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the pod at `path` is Running.
pub(super) async fn wait_running(api: &Api, path: &str) -> Result<(), WaitError> {
    loop {
        let pod = api.get(path).await?;
        match pod["status"]["phase"].as_str().unwrap_or("") {
            "Running" => return Ok(()),
            "Succeeded" | "Failed" => {
                let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
                return Err(WaitError::Failed(name));
            }
            _ if pull_backoff(&pod) => return Err(WaitError::ImagePullBackOff),
            _ => tokio::time::sleep(POLL).await,
        }
    }
}

/// The whole log of `container` (at most [`LOG_CAP`] bytes).
pub(super) async fn log_bytes(
    api: &Api,
    ns: &str,
    pod: &str,
    container: &str,
) -> Result<Vec<u8>, ApiError> {
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}/log?container={}",
        encode(ns),
        encode(pod),
        encode(container)
    );
    let body = api.stream(&path).await?;
    let mut out = Vec::new();
    let read = tokio::time::timeout(
        api.timeout(),
        body.take(LOG_CAP as u64).read_to_end(&mut out),
    )
    .await;
    match read {
        Ok(Ok(_)) => Ok(out),
        Ok(Err(e)) => Err(ApiError::Decode {
            what: path,
            message: e.to_string(),
        }),
        Err(_) => Err(ApiError::Timeout {
            what: path,
            after: api.timeout(),
        }),
    }
}

/// Runs `result` then the deletion, folding a failed delete into the outcome.
pub(super) fn with_cleanup(
    result: Result<(), Error>,
    deleted: Result<(), ApiError>,
    what: &str,
) -> Result<(), Error> {
    match (result, deleted) {
        (r, Ok(())) => r,
        (Ok(()), Err(d)) => Err(Error::Other(format!("deleting the {what} failed: {d}"))),
        (Err(e), Err(d)) => Err(Error::Other(format!(
            "{e}; deleting the {what} failed: {d}"
        ))),
    }
}

/// Waits for `work`, bounded by `timeout` and the run's cancellation.
pub(super) async fn bounded<T>(
    ctx: &Ctx,
    timeout: Option<Duration>,
    timeout_message: impl FnOnce() -> String,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let timed = async {
        match timeout {
            Some(t) => tokio::time::timeout(t, work)
                .await
                .unwrap_or_else(|_| Err(Error::Other(timeout_message()))),
            None => work.await,
        }
    };
    tokio::select! {
        r = timed => r,
        () = ctx.cancel.cancelled() => Err(Error::Cancelled),
    }
}

/// The `timeout` field of a body, as a duration (`None` when absent or empty).
pub(super) fn timeout_of(body: &Value) -> Result<Option<Duration>, Error> {
    match body["timeout"].as_str().filter(|t| !t.is_empty()) {
        Some(t) => crate::collect::host::parse_go_duration(t)
            .map(Some)
            .ok_or_else(|| Error::Spec(format!("`timeout`: {t:?} is not a duration such as 30s"))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_are_dns_labels_and_differ() {
        let a = unique_suffix();
        let b = unique_suffix();
        assert_ne!(a, b);
        assert_eq!(a.len(), 10);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        );
    }
}
