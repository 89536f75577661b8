//! `sysctl`: a host-network pod on every ready node prints the kernel parameters under
//! `/proc/sys/net/ipv4`, `/proc/sys/net/bridge` and `/proc/sys/vm`; each node's output lands in
//! `sysctl/<node>`. Every pod is deleted, whatever happens.

use super::daemonset::{control_plane_tolerations, pull_secret_name};
use super::podrun::{bounded, create, log_bytes, timeout_of, wait_done};
use super::{Ctx, Error, namespace_of};
use crate::collect::host::sanitize_component;
use serde_json::{Value, json};
use std::time::Duration;

/// The script troubleshoot runs.
pub const SCRIPT: &str = "
find /proc/sys/net/ipv4 -type f | while read f; do v=$(cat $f 2>/dev/null); echo \"$f = $v\"; done
find /proc/sys/net/bridge -type f | while read f; do v=$(cat $f 2>/dev/null); echo \"$f = $v\"; done
find /proc/sys/vm -type f | while read f; do v=$(cat $f 2>/dev/null); echo \"$f = $v\"; done
";

/// Whether a node's `Ready` condition is `True`.
pub fn node_ready(node: &Value) -> bool {
    node["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// The pod run on `node`.
pub fn pod_object(body: &Value, node: &str) -> Result<Value, Error> {
    let image = body["image"]
        .as_str()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| Error::Spec("`image` is required".into()))?;
    let mut container = json!({"name": "run", "image": image, "command": ["sh", "-c", SCRIPT]});
    if let Some(p) = body["imagePullPolicy"].as_str().filter(|p| !p.is_empty()) {
        container["imagePullPolicy"] = p.into();
    }
    let mut spec = json!({
        "nodeSelector": {"kubernetes.io/hostname": node},
        "restartPolicy": "Never",
        "hostNetwork": true,
        "containers": [container],
        "tolerations": control_plane_tolerations(),
    });
    if let Some(n) = pull_secret_name(body)? {
        spec["imagePullSecrets"] = json!([{"name": n}]);
    }
    Ok(json!({"metadata": {}, "spec": spec}))
}

/// Runs one `sysctl` collector.
pub(super) async fn collect(ctx: &Ctx, body: &Value) -> Result<(), Error> {
    // An explicit zero means troubleshoot's one minute; no timeout means none.
    let timeout = timeout_of(body)?.map(|t| {
        if t.is_zero() {
            Duration::from_secs(60)
        } else {
            t
        }
    });
    pod_object(body, "")?;
    let ns = namespace_of(ctx, body);
    let nodes = ctx
        .api
        .get("/api/v1/nodes")
        .await
        .map_err(|e| Error::Other(format!("list nodes: {e}")))?;
    let ready: Vec<String> = nodes["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|n| node_ready(n))
        .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    let mut jobs: Vec<super::Task<'_, NodeRun>> = Vec::new();
    for node in &ready {
        let ns = &ns;
        jobs.push(Box::pin(async move {
            match pod_object(body, node) {
                Ok(pod) => run_on_node(ctx, ns, node, pod, timeout).await,
                Err(e) => NodeRun {
                    result: Err(e),
                    delete_failed: None,
                },
            }
        }));
    }
    let runs = super::run_bounded(jobs, ctx.opts.max_parallel).await;
    // A node whose pod failed is left out, as troubleshoot; cancellation and a pod left behind
    // are the collector's failure.
    let mut left_behind = Vec::new();
    let mut cancelled = false;
    for run in runs {
        match run.result {
            Err(Error::Cancelled) => cancelled = true,
            Err(e) => tracing::warn!("sysctl: {e}"),
            Ok(()) => {}
        }
        left_behind.extend(run.delete_failed);
    }
    match (cancelled, left_behind.is_empty()) {
        (_, false) => Err(Error::Other(format!(
            "deleting the pod failed: {}",
            left_behind.join("; ")
        ))),
        (true, true) => Err(Error::Cancelled),
        (false, true) => Ok(()),
    }
}

/// How one node's pod went.
struct NodeRun {
    result: Result<(), Error>,
    /// Why its pod could not be deleted.
    delete_failed: Option<String>,
}

async fn run_on_node(
    ctx: &Ctx,
    ns: &str,
    node: &str,
    pod: Value,
    timeout: Option<Duration>,
) -> NodeRun {
    let created = match create(ctx, ns, "run-pod-", pod).await {
        Ok(c) => c,
        Err(e) => {
            return NodeRun {
                result: Err(Error::Other(format!(
                    "failed to create pod on node {node}: {e}"
                ))),
                delete_failed: None,
            };
        }
    };
    let work = async {
        wait_done(&ctx.api, &created.path).await?;
        let log = log_bytes(&ctx.api, &created.namespace, &created.name, "run").await?;
        let rel = format!("sysctl/{}", sanitize_component(node));
        ctx.write(&rel, &String::from_utf8_lossy(&log))
    };
    let result = bounded(
        ctx,
        timeout,
        || format!("pod on node {node} did not complete in time"),
        work,
    )
    .await;
    let deleted = created.guard.delete().await;
    NodeRun {
        result,
        delete_failed: deleted.err().map(|e| format!("{}: {e}", created.name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_host_network_pod_per_node() {
        let pod = pod_object(&json!({"image": "busybox"}), "n1").expect("pod");
        assert_eq!(pod["spec"]["nodeSelector"]["kubernetes.io/hostname"], "n1");
        assert_eq!(pod["spec"]["hostNetwork"], true);
        assert_eq!(pod["spec"]["containers"][0]["command"][2], SCRIPT);
        assert!(pod_object(&json!({}), "n1").is_err());
        assert!(node_ready(
            &json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
        ));
        assert!(!node_ready(
            &json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}})
        ));
    }
}
