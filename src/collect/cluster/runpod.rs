//! `runPod` and the deprecated `run` (TROUBLESHOOT-FORMAT.md §1.7): create a pod, wait for it to
//! complete, keep its log, its object and its events, and delete it — always, also when the run
//! is cancelled or times out.

use super::api::{Api, ApiError, encode};
use super::jsonout::pretty;
use super::logs::{Limits, fetch, link};
use super::{Ctx, Error};
use crate::collect::host::{parse_go_duration, safe_relative, sanitize_component};
use serde_json::{Value, json};
use std::time::Duration;

/// How often the pod's phase is read while waiting (troubleshoot polls every second).
const POLL: Duration = Duration::from_millis(500);

/// Deletes the pod when dropped without [`PodGuard::delete`] having run: the last resort when
/// the collector's future is dropped (the explicit paths delete and wait for the answer). It is
/// armed before the create call, so a drop while the create is in flight loses no pod either.
struct PodGuard {
    api: Api,
    path: String,
    armed: bool,
}

impl PodGuard {
    /// Forgets the pod (the create failed: whatever has that name is not ours).
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl PodGuard {
    /// Deletes the pod now and disarms the guard.
    async fn delete(mut self) -> Result<(), ApiError> {
        self.armed = false;
        delete(&self.api, &self.path).await
    }
}

impl Drop for PodGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (api, path) = (self.api.clone(), self.path.clone());
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    // Dropped maybe before the create answered: only a pod of ours is deleted.
                    match api.get(&path).await {
                        Ok(pod)
                            if pod["metadata"]["labels"]["troubleshoot-role"]
                                == "run-collector" =>
                        {
                            if let Err(e) = delete(&api, &path).await {
                                tracing::warn!("runPod: deleting the pod failed: {e}");
                            }
                        }
                        Ok(_) => {}
                        Err(e) if e.is_not_found() => {}
                        Err(e) => tracing::warn!("runPod: cannot delete {path}: {e}"),
                    }
                });
            }
            Err(_) => tracing::warn!("runPod: cannot delete {path}: no runtime left"),
        }
    }
}

/// Deletes the pod at `path`; one already gone is fine.
async fn delete(api: &Api, path: &str) -> Result<(), ApiError> {
    match api.delete(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// What is wrong with a runPod body, or why its pod can never run.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum RunPodError {
    /// No `podSpec`.
    #[error("`podSpec` is required")]
    NoPodSpec,
    /// `podSpec` is not a mapping.
    #[error("`podSpec` must be a PodSpec object, not {0}")]
    PodSpecNotObject(Value),
    /// No containers to run.
    #[error("`podSpec.containers` needs at least one container")]
    NoContainers,
    /// A pull secret the run would have to create.
    #[error(
        "`imagePullSecret.data` (a secret created for the run): {}; reference an existing secret by `name` instead",
        super::NOT_YET
    )]
    InlinePullSecret,
    /// The image cannot be pulled and retries are off.
    #[error("run pod aborted after getting pod status 'ImagePullBackOff'")]
    ImagePullBackOff,
}

/// The pod troubleshoot creates for a runPod body (or a converted `run` body).
pub fn pod_object(
    body: &Value,
    collector_name: Option<&str>,
) -> Result<(String, Value), RunPodError> {
    let namespace = body["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
        .to_string();
    let name = collector_name
        .filter(|n| !n.is_empty())
        .or_else(|| body["name"].as_str().filter(|n| !n.is_empty()))
        .unwrap_or("run-pod")
        .to_string();
    let mut spec = match &body["podSpec"] {
        Value::Object(m) => Value::Object(m.clone()),
        Value::Null => return Err(RunPodError::NoPodSpec),
        other => return Err(RunPodError::PodSpecNotObject(other.clone())),
    };
    if spec["containers"].as_array().is_none_or(Vec::is_empty) {
        return Err(RunPodError::NoContainers);
    }
    match &body["imagePullSecret"] {
        Value::Null => {}
        s if !s["data"].is_null() => {
            return Err(RunPodError::InlinePullSecret);
        }
        s => {
            if let Some(n) = s["name"].as_str().filter(|n| !n.is_empty()) {
                let list = spec["imagePullSecrets"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let mut list = list;
                list.push(json!({"name": n}));
                spec["imagePullSecrets"] = Value::Array(list);
            }
        }
    }
    let mut metadata = json!({
        "name": name,
        "namespace": namespace,
        "labels": {"troubleshoot-role": "run-collector"},
    });
    if let Some(a) = body["annotations"].as_object().filter(|a| !a.is_empty()) {
        metadata["annotations"] = Value::Object(a.clone());
    }
    Ok((
        namespace,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}),
    ))
}

/// The deprecated `run` collector as troubleshoot converts it: a runPod with one container named
/// `collector`, in `default` unless the spec names a namespace, with the `default` service account.
pub fn run_as_run_pod(body: &Value) -> Value {
    let mut container = json!({"name": "collector", "image": body["image"]});
    for key in ["command", "args", "env", "imagePullPolicy"] {
        if !body[key].is_null() {
            container[key] = body[key].clone();
        }
    }
    let mut out = json!({
        "name": body["name"],
        "namespace": body["namespace"].as_str().filter(|n| !n.is_empty()).unwrap_or("default"),
        "podSpec": {
            "containers": [container],
            "restartPolicy": "Never",
            "serviceAccountName": "default",
        },
    });
    for key in ["timeout", "imagePullSecret"] {
        if !body[key].is_null() {
            out[key] = body[key].clone();
        }
    }
    out
}

/// Whether the pod is done: it succeeded or failed, or (restartPolicy Always) its first container
/// has terminated once. `Err` when it can never start (ImagePullBackOff without retries).
fn finished(pod: &Value, allow_pull_retries: bool) -> Result<bool, RunPodError> {
    let status = &pod["status"];
    match status["phase"].as_str() {
        Some("Succeeded" | "Failed") => return Ok(true),
        Some("Pending") if !allow_pull_retries => {
            for cs in status["containerStatuses"].as_array().into_iter().flatten() {
                if cs["state"]["waiting"]["reason"] == "ImagePullBackOff" {
                    return Err(RunPodError::ImagePullBackOff);
                }
            }
        }
        _ => {}
    }
    let first = &status["containerStatuses"][0];
    Ok(!first["state"]["terminated"].is_null()
        || (!first["lastState"]["terminated"].is_null()
            && first["restartCount"].as_u64().unwrap_or(0) > 0))
}

/// Runs one `runPod` (or converted `run`) collector.
pub(super) async fn collect(
    ctx: &Ctx,
    body: &Value,
    collector_name: Option<&str>,
) -> Result<(), Error> {
    let timeout = match body["timeout"].as_str().filter(|t| !t.is_empty()) {
        Some(t) => Some(parse_go_duration(t).ok_or_else(|| {
            Error::Spec(format!("`timeout`: {t:?} is not a duration such as 30s"))
        })?),
        None => None,
    };
    let (namespace, pod) = pod_object(body, collector_name)?;
    let pods_path = format!("/api/v1/namespaces/{}/pods", encode(&namespace));
    let pod_name = pod["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let pod_path = format!("{pods_path}/{}", encode(&pod_name));
    let guard = PodGuard {
        api: ctx.api.clone(),
        path: pod_path.clone(),
        armed: true,
    };
    if let Err(e) = ctx.api.post(&pods_path, &pod).await {
        // Refused: no pod of ours. No answer: it may exist, so the guard looks and cleans up.
        if !e.is_unreachable() {
            guard.disarm();
        }
        return Err(e.into());
    }
    let container = pod["spec"]["containers"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let allow_retries = body["allowImagePullRetries"].as_bool() == Some(true);
    let work = async {
        loop {
            let current = ctx.api.get(&pod_path).await?;
            if finished(&current, allow_retries)? {
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        save(ctx, body, &namespace, &pod_name, &container, &pod_path).await
    };
    let result = tokio::select! {
        r = async {
            match timeout {
                Some(t) => tokio::time::timeout(t, work).await.unwrap_or_else(|_| {
                    Err(Error::Spec(format!(
                        "timeout: pod {namespace}/{pod_name} did not complete within {}",
                        body["timeout"].as_str().unwrap_or("")
                    )))
                }),
                None => work.await,
            }
        } => r,
        () = ctx.cancel.cancelled() => Err(Error::Cancelled),
    };
    // Always deleted, on success, failure, timeout and cancellation alike.
    let deleted = guard.delete().await;
    match (result, deleted) {
        (Ok(()), Ok(())) => Ok(()),
        (Ok(()), Err(d)) => Err(Error::Spec(format!("deleting the pod failed: {d}"))),
        (Err(e), Ok(())) => Err(e),
        (Err(e), Err(d)) => Err(Error::Spec(format!("{e}; deleting the pod failed: {d}"))),
    }
}

/// The log (`cluster-resources/pods/logs/<ns>/<pod>/<container>.log` with a link at
/// `<name>/<pod>.log`), the pod object `<name>/<name>.json` and its events `<name>/<name>-events.json`.
async fn save(
    ctx: &Ctx,
    body: &Value,
    ns: &str,
    pod: &str,
    container: &str,
    pod_path: &str,
) -> Result<(), Error> {
    let name_parts = safe_relative(body["name"].as_str().unwrap_or(""));
    let in_name = |file: String| -> String {
        let mut p = name_parts.clone();
        p.push(file);
        p.join("/")
    };
    let limits = Limits {
        tail_lines: Some(10_000),
        limit_bytes: Some(5_000_000),
        ..Limits::default()
    };
    let real = format!(
        "cluster-resources/pods/logs/{}/{}/{}.log",
        sanitize_component(ns),
        sanitize_component(pod),
        sanitize_component(container)
    );
    fetch(ctx, ns, pod, container, &limits, false, &real)
        .await
        .map_err(|e| Error::Spec(format!("failed to get pod logs: {e}")))?;
    let link_rel = in_name(format!("{}.log", sanitize_component(pod)));
    link(ctx, &link_rel, &real).map_err(|e| Error::write(&ctx.path(&link_rel), e))?;

    // Named after `name` (the pod's name when the spec has none).
    let file_stem = name_parts
        .last()
        .cloned()
        .unwrap_or_else(|| sanitize_component(pod));
    let object = ctx.api.get(pod_path).await?;
    ctx.write(
        &in_name(format!("{file_stem}.json")),
        &pretty(&without_type_meta(object)),
    )?;
    let events_path = format!(
        "/api/v1/namespaces/{}/events?fieldSelector={}",
        encode(ns),
        encode(&format!("involvedObject.name={pod}"))
    );
    let mut events = ctx.api.get(&events_path).await?;
    if let Some(items) = events["items"].as_array_mut() {
        for item in items.iter_mut() {
            *item = without_type_meta(std::mem::take(item));
        }
    }
    ctx.write(
        &in_name(format!("{file_stem}-events.json")),
        &pretty(&without_type_meta(events)),
    )?;
    Ok(())
}

/// client-go's typed objects drop `kind`/`apiVersion` on decode, so troubleshoot's files have none.
fn without_type_meta(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.shift_remove("kind");
        m.shift_remove("apiVersion");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_is_named_and_labelled_as_troubleshoot_does() {
        let body = json!({"name": "n", "podSpec": {"containers": [{"name": "c", "image": "i"}]}, "annotations": {"a": "b"}, "imagePullSecret": {"name": "regcred"}});
        let (ns, pod) = pod_object(&body, Some("cn")).expect("pod");
        assert_eq!(ns, "default");
        assert_eq!(pod["metadata"]["name"], "cn");
        assert_eq!(
            pod["metadata"]["labels"]["troubleshoot-role"],
            "run-collector"
        );
        assert_eq!(pod["metadata"]["annotations"]["a"], "b");
        assert_eq!(
            pod["spec"]["imagePullSecrets"],
            json!([{"name": "regcred"}])
        );
        let (_, pod) =
            pod_object(&json!({"podSpec": {"containers": [{"name": "c"}]}}), None).expect("pod");
        assert_eq!(pod["metadata"]["name"], "run-pod");
        assert!(pod_object(&json!({"podSpec": {}}), None).is_err());
        assert!(pod_object(&json!({"podSpec": {"containers": [{"name": "c"}]}, "imagePullSecret": {"data": {".dockerconfigjson": "e30="}}}), None).is_err());
    }

    #[test]
    fn run_converts_to_a_collector_container() {
        let body = run_as_run_pod(
            &json!({"name": "r", "image": "busybox", "command": ["echo"], "args": ["hi"]}),
        );
        assert_eq!(body["namespace"], "default");
        assert_eq!(body["podSpec"]["containers"][0]["name"], "collector");
        assert_eq!(body["podSpec"]["containers"][0]["args"], json!(["hi"]));
        assert_eq!(body["podSpec"]["serviceAccountName"], "default");
    }

    #[test]
    fn completion_and_image_pull_backoff() {
        let done = json!({"status": {"phase": "Succeeded"}});
        assert_eq!(finished(&done, false), Ok(true));
        let pending = json!({"status": {"phase": "Pending", "containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        assert_eq!(finished(&pending, false), Ok(false));
        let backoff = json!({"status": {"phase": "Pending", "containerStatuses": [{"state": {"waiting": {"reason": "ImagePullBackOff"}}}]}});
        assert!(finished(&backoff, false).is_err());
        assert_eq!(finished(&backoff, true), Ok(false));
        let restarted = json!({"status": {"phase": "Running", "containerStatuses": [{"state": {"running": {}}, "lastState": {"terminated": {"exitCode": 0}}, "restartCount": 1}]}});
        assert_eq!(finished(&restarted, false), Ok(true));
    }
}
