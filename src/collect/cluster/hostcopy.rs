//! `copyFromHost` and `collectd` (a copyFromHost of the collectd RRD folder): a DaemonSet
//! mounting the host path runs on every node, the path is copied out of each of its pods with
//! `tar` to `<name or hostPath>/<node>/` (`archive.tar`, or unpacked with `extractArchive`), and
//! the DaemonSet is always deleted.

use super::copy::{Sink, copy_one};
use super::daemonset::{self, control_plane_tolerations, node_of, pull_secret_name};
use super::exec::pod_refs;
use super::podrun::{bounded, timeout_of, with_cleanup};
use super::{Ctx, Error, namespace_of};
use crate::collect::host::safe_relative;
use serde_json::{Value, json};
use std::time::Duration;

/// How long the DaemonSet may take to be available on every node (image pulls included); the
/// collector's own `timeout` covers the copy only, as in troubleshoot.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// Which collector type runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flavor {
    /// `copyFromHost`: a missing host path is retried (the pod waits for it).
    CopyFromHost,
    /// `collectd`: output under `collectd/rrd`; a missing host path fails at once.
    Collectd,
}

/// The folder mounted at `/host` and the name copied from it: `/var/lib/x` → (`/var/lib`, `x`);
/// a path right under `/` is mounted itself and copied as `.`.
pub fn host_dir_and_name(host_path: &str) -> (String, String) {
    let clean = clean_path(host_path);
    let (dir, base) = match clean.rsplit_once('/') {
        Some(("", b)) => ("/".to_string(), b.to_string()),
        Some((d, b)) => (d.to_string(), b.to_string()),
        None => (".".to_string(), clean.clone()),
    };
    if dir == "/" || dir == "." {
        (clean, ".".to_string())
    } else {
        (dir, base)
    }
}

/// Lexical cleaning as Go's `filepath.Clean` does for absolute paths (no `.`, `..`, `//`).
fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The `tar` command the pod runs: `/host/<name>` split into its folder and base, as troubleshoot.
pub fn tar_command(file_name: &str) -> Vec<String> {
    let container_path = clean_path(&format!("/host/{file_name}"));
    let (dir, base) = match container_path.rsplit_once('/') {
        Some(("", b)) => ("/".to_string(), b.to_string()),
        Some((d, b)) => (d.to_string(), b.to_string()),
        None => ("/".to_string(), container_path.clone()),
    };
    ["tar", "-C", &dir, "-cf", "-", &base]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// The DaemonSet troubleshoot creates (the run label is added by [`daemonset::create`]).
fn daemonset_object(body: &Value, host_dir: &str) -> Result<Value, Error> {
    let image = body["image"]
        .as_str()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| Error::Spec("`image` is required".into()))?;
    let pull_policy = body["imagePullPolicy"]
        .as_str()
        .filter(|p| !p.is_empty())
        .unwrap_or("IfNotPresent");
    let labels = json!({
        "app.kubernetes.io/managed-by": "troubleshoot.sh",
        "troubleshoot.sh/collector": "copyfromhost",
    });
    let mut spec = json!({
        "restartPolicy": "Always",
        "containers": [{
            "image": image,
            "imagePullPolicy": pull_policy,
            "name": "collector",
            "command": ["sleep"],
            "args": ["1000000"],
            "volumeMounts": [{"name": "host", "mountPath": "/host"}],
        }],
        "tolerations": control_plane_tolerations(),
        "volumes": [{"name": "host", "hostPath": {"path": host_dir, "type": "Directory"}}],
    });
    if let Some(n) = pull_secret_name(body)? {
        spec["imagePullSecrets"] = json!([{"name": n}]);
    }
    Ok(json!({
        "metadata": {"generateName": "troubleshoot-copyfromhost-", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        },
    }))
}

/// Available on every node it is scheduled to (and scheduled somewhere).
fn available(status: &Value) -> bool {
    let desired = status["desiredNumberScheduled"].as_u64().unwrap_or(0);
    desired != 0 && status["numberAvailable"].as_u64() == Some(desired)
}

/// Runs one `copyFromHost` or `collectd` collector.
pub(super) async fn collect(ctx: &Ctx, body: &Value, flavor: Flavor) -> Result<(), Error> {
    let host_path = body["hostPath"]
        .as_str()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::Spec("`hostPath` is required".into()))?;
    if !host_path.starts_with('/') {
        return Err(Error::Spec(format!(
            "`hostPath`: {host_path:?} is not an absolute path"
        )));
    }
    let timeout = timeout_of(body)?;
    let (host_dir, file_name) = host_dir_and_name(host_path);
    let object = daemonset_object(body, &host_dir)?;
    let output = match flavor {
        Flavor::Collectd => "collectd/rrd".to_string(),
        Flavor::CopyFromHost => body["name"]
            .as_str()
            .filter(|n| !n.is_empty())
            .map_or_else(|| clean_path(host_path), str::to_string),
    };
    let sink = if body["extractArchive"] == true {
        Sink::Extract
    } else {
        Sink::Archive
    };
    let ns = namespace_of(ctx, body);
    let created = daemonset::create(ctx, &ns, object)
        .await
        .map_err(|e| Error::Other(format!("create daemonset: {e}")))?;
    let work = async {
        let ready = bounded(
            ctx,
            Some(READY_WITHIN),
            || {
                format!(
                    "wait for daemonset: {}/{} was not available on every node within {}s",
                    created.namespace,
                    created.name,
                    READY_WITHIN.as_secs()
                )
            },
            created.wait(ctx, available, flavor == Flavor::Collectd),
        );
        ready.await?;
        bounded(
            ctx,
            timeout,
            || "timeout".to_string(),
            copy_all(ctx, &created, &file_name, &output, sink),
        )
        .await
    };
    let result = work.await;
    let deleted = created.guard.delete().await;
    with_cleanup(result, deleted, "DaemonSet")
}

/// Copies the path out of every pod of the DaemonSet into `<output>/<node>/`.
async fn copy_all(
    ctx: &Ctx,
    ds: &daemonset::Created,
    file_name: &str,
    output: &str,
    sink: Sink,
) -> Result<(), Error> {
    let pods = ds
        .pods(ctx)
        .await
        .map_err(|e| Error::Other(format!("list pods: {e}")))?;
    let nodes: Vec<String> = pods.iter().map(node_of).collect();
    let command = tar_command(file_name);
    let refs = pod_refs(pods);
    let mut jobs: Vec<super::Task<'_, ()>> = Vec::new();
    for (pod, node) in refs.iter().zip(nodes) {
        let command = &command;
        jobs.push(Box::pin(async move {
            let mut base = safe_relative(output);
            base.extend(safe_relative(&node));
            let errors = copy_one(ctx, pod, "collector", command, &base, "", sink).await;
            for (key, message) in errors {
                let file = if key == "stderr" {
                    "stderr.txt"
                } else {
                    "error.txt"
                };
                let rel = format!("{}/{file}", base.join("/"));
                if let Err(e) = ctx.write(&rel, &message) {
                    tracing::warn!("copyFromHost: {e}");
                }
            }
        }));
    }
    super::run_bounded(jobs, ctx.opts.max_parallel).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_split_as_troubleshoot_does() {
        assert_eq!(
            host_dir_and_name("/var/lib/collectd/"),
            ("/var/lib".into(), "collectd".into())
        );
        assert_eq!(host_dir_and_name("/etc"), ("/etc".into(), ".".into()));
        assert_eq!(
            tar_command("collectd"),
            ["tar", "-C", "/host", "-cf", "-", "collectd"]
        );
        assert_eq!(tar_command("."), ["tar", "-C", "/", "-cf", "-", "host"]);
    }

    #[test]
    fn the_daemonset_mounts_the_folder_and_sleeps() {
        let ds = daemonset_object(&json!({"image": "busybox:1"}), "/var/lib").expect("ds");
        let spec = &ds["spec"]["template"]["spec"];
        assert_eq!(spec["volumes"][0]["hostPath"]["path"], "/var/lib");
        assert_eq!(spec["containers"][0]["name"], "collector");
        assert_eq!(spec["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert!(daemonset_object(&json!({}), "/x").is_err());
        assert!(
            daemonset_object(
                &json!({"image": "i", "imagePullSecret": {"data": {"a": "b"}}}),
                "/x"
            )
            .is_err()
        );
    }
}
