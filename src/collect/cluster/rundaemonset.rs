//! `runDaemonSet`: the spec's pod runs on every node as a DaemonSet; each pod's log (its first
//! container, once it completed) lands in `<name>/<node>.log`, and the DaemonSet is always deleted.

use super::daemonset::{self, node_of, pull_secret_name};
use super::podrun::{WaitError, bounded, log_bytes, timeout_of, wait_done, with_cleanup};
use super::{Ctx, Error};
use crate::collect::host::{safe_relative, sanitize_component};
use serde_json::{Value, json};
use std::time::Duration;

/// troubleshoot's timeout when the spec gives none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The DaemonSet troubleshoot creates for a runDaemonSet body (the run label is added by
/// [`daemonset::create`]).
pub fn daemonset_object(body: &Value) -> Result<(String, Value), Error> {
    let name = body["name"].as_str().unwrap_or("");
    let namespace = body["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
        .to_string();
    let spec = match &body["podSpec"] {
        Value::Object(m) => Value::Object(m.clone()),
        Value::Null => return Err(Error::Spec("`podSpec` is required".into())),
        other => {
            return Err(Error::Spec(format!(
                "`podSpec` must be a PodSpec object, not {other}"
            )));
        }
    };
    if spec["containers"].as_array().is_none_or(Vec::is_empty) {
        return Err(Error::Spec(
            "`podSpec.containers` needs at least one container".into(),
        ));
    }
    let mut spec = spec;
    if let Some(n) = pull_secret_name(body)? {
        let mut list = spec["imagePullSecrets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        list.push(json!({"name": n}));
        spec["imagePullSecrets"] = Value::Array(list);
    }
    let labels = json!({"troubleshoot-role": "run-daemonset-collector"});
    Ok((
        namespace.clone(),
        json!({
            "metadata": {"generateName": format!("run-daemonset-{name}-"), "labels": labels},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"namespace": namespace, "labels": labels}, "spec": spec},
            },
        }),
    ))
}

/// Every pod it should have is scheduled.
fn scheduled(status: &Value) -> bool {
    status["desiredNumberScheduled"].as_u64().is_some()
        && status["desiredNumberScheduled"] == status["currentNumberScheduled"]
}

/// Runs one `runDaemonSet` collector.
pub(super) async fn collect(ctx: &Ctx, body: &Value) -> Result<(), Error> {
    let timeout = timeout_of(body)?
        .filter(|t| !t.is_zero())
        .unwrap_or(DEFAULT_TIMEOUT);
    let (ns, object) = daemonset_object(body)?;
    let created = daemonset::create(ctx, &ns, object)
        .await
        .map_err(|e| Error::Other(format!("failed to create DaemonSet: {e}")))?;
    let work = async {
        created
            .wait(ctx, scheduled, false)
            .await
            .map_err(|e| Error::Other(format!("failed to wait for DaemonSet pods: {e}")))?;
        let pods = created
            .pods(ctx)
            .await
            .map_err(|e| Error::Other(format!("failed to list pods: {e}")))?;
        let name = body["name"].as_str().unwrap_or("");
        let mut jobs: Vec<super::Task<'_, ()>> = Vec::new();
        for pod in &pods {
            jobs.push(Box::pin(async move {
                let (node, text) = node_log(ctx, pod).await;
                let mut rel = safe_relative(name);
                rel.push(format!("{}.log", sanitize_component(&node)));
                let rel = rel.join("/");
                if let Err(e) = write_bytes(ctx, &rel, &text) {
                    tracing::warn!("runDaemonSet: {e}");
                }
            }));
        }
        super::run_bounded(jobs, ctx.opts.max_parallel).await;
        Ok(())
    };
    let result = bounded(
        ctx,
        Some(timeout),
        || {
            format!(
                "failed to wait for DaemonSet pods: DaemonSet {}/{} did not finish within {}",
                created.namespace,
                created.name,
                body["timeout"].as_str().unwrap_or("60s")
            )
        },
        work,
    )
    .await;
    let deleted = created.guard.delete().await;
    with_cleanup(result, deleted, "DaemonSet")
}

/// The node of a pod and its log once it completed; on failure `unknown-node-<pod>` (when the
/// wait failed) and the error as the text, as troubleshoot.
async fn node_log(ctx: &Ctx, pod: &Value) -> (String, Vec<u8>) {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    let container = pod["spec"]["containers"][0]["name"].as_str().unwrap_or("");
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}",
        super::api::encode(ns),
        super::api::encode(name)
    );
    match wait_done(&ctx.api, &path).await {
        Err(e) => {
            let e = match e {
                WaitError::ImagePullBackOff => {
                    "wait for pod aborted after getting pod status 'ImagePullBackOff'".to_string()
                }
                other => other.to_string(),
            };
            (
                format!("unknown-node-{name}"),
                format!("Failed to get node name/wait for pod {name} to complete: {e}")
                    .into_bytes(),
            )
        }
        Ok(done) => {
            let node = node_of(&done);
            match log_bytes(&ctx.api, ns, name, container).await {
                Ok(log) => (node, log),
                Err(e) => (
                    node,
                    format!("Failed to get log from pod {name}: {e}").into_bytes(),
                ),
            }
        }
    }
}

fn write_bytes(ctx: &Ctx, rel: &str, data: &[u8]) -> Result<(), Error> {
    ctx.write(rel, &String::from_utf8_lossy(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemonset_runs_the_spec_pod() {
        let (ns, ds) = daemonset_object(&json!({"name": "n", "podSpec": {"containers": [{"name": "c", "image": "i"}]}, "imagePullSecret": {"name": "reg"}})).expect("ds");
        assert_eq!(ns, "default");
        assert_eq!(ds["metadata"]["generateName"], "run-daemonset-n-");
        assert_eq!(
            ds["spec"]["template"]["metadata"]["labels"]["troubleshoot-role"],
            "run-daemonset-collector"
        );
        assert_eq!(
            ds["spec"]["template"]["spec"]["imagePullSecrets"],
            json!([{"name": "reg"}])
        );
        assert!(daemonset_object(&json!({"podSpec": {"containers": []}})).is_err());
        assert!(daemonset_object(&json!({})).is_err());
        assert!(scheduled(
            &json!({"desiredNumberScheduled": 2, "currentNumberScheduled": 2})
        ));
        assert!(!scheduled(
            &json!({"desiredNumberScheduled": 2, "currentNumberScheduled": 1})
        ));
    }
}
