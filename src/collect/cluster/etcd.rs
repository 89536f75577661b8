//! `etcd`: `etcdctl` health, status, members, alarms and version as JSON in `etcd/<command>.json`
//! (stderr in `etcd/<command>-stderr.json`). On kURL the commands run in the static etcd pod; on
//! k0s and embedded-cluster (etcd is a host process there) in a host-network client pod created
//! for the run, which is always deleted.

use super::capture;
use super::exec::{PodRef, pod_refs};
use super::podrun::{bounded, create, wait_running, with_cleanup};
use super::{Ctx, Error};
use serde_json::{Value, json};
use std::time::Duration;

/// The commands run, in order.
pub const COMMANDS: [&str; 5] = [
    "etcdctl endpoint health",
    "etcdctl endpoint status",
    "etcdctl member list",
    "etcdctl alarm list",
    "etcdctl version",
];
/// The client pod's image unless the spec names one.
const DEFAULT_IMAGE: &str = "quay.io/coreos/etcd:latest";
/// How long the client pod may take to run.
const READY_WITHIN: Duration = Duration::from_secs(60);
/// Bytes kept of each command's output.
const OUTPUT_CAP: usize = 16 * 1024 * 1024;

/// The Kubernetes distributions the collector runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distribution {
    /// kURL (kubeadm): a static etcd pod.
    Kurl,
    /// k0s: etcd runs as a host process.
    K0s,
    /// Replicated embedded-cluster (k0s-based).
    EmbeddedCluster,
}

impl Distribution {
    /// Whether etcd runs outside pods, so a client pod is needed.
    fn ephemeral(self) -> bool {
        matches!(self, Distribution::K0s | Distribution::EmbeddedCluster)
    }

    /// The host folder of etcd's client certificates, and the CA, cert and key in it.
    fn certs(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Distribution::K0s | Distribution::EmbeddedCluster => {
                ("/var/lib/k0s/pki/etcd", "ca.crt", "peer.crt", "peer.key")
            }
            Distribution::Kurl => (
                "/etc/kubernetes/pki/etcd",
                "ca.crt",
                "healthcheck-client.crt",
                "healthcheck-client.key",
            ),
        }
    }

    /// The arguments every `etcdctl` command gets.
    pub fn args(self) -> Vec<String> {
        let (dir, ca, cert, key) = self.certs();
        [
            "--cacert".to_string(),
            format!("{dir}/{ca}"),
            "--cert".into(),
            format!("{dir}/{cert}"),
            "--key".into(),
            format!("{dir}/{key}"),
            "--write-out".into(),
            "json".into(),
            "--endpoints".into(),
            "https://127.0.0.1:2379".into(),
        ]
        .to_vec()
    }
}

/// The distribution from the nodes' labels, as troubleshoot detects it.
pub fn distribution(nodes: &[Value]) -> Option<Distribution> {
    for node in nodes {
        for (k, v) in node["metadata"]["labels"].as_object().into_iter().flatten() {
            if k == "kurl.sh/cluster" && v == "true" {
                return Some(Distribution::Kurl);
            }
            if k == "node.k0sproject.io/role" {
                return Some(Distribution::K0s);
            }
            if k == "kots.io/embedded-cluster-role" {
                return Some(Distribution::EmbeddedCluster);
            }
        }
    }
    None
}

/// `etcdctl endpoint health` → `endpoint-health`.
pub fn file_stem(command: &str) -> String {
    command
        .split_whitespace()
        .skip(1)
        .collect::<Vec<_>>()
        .join("-")
}

/// Runs one `etcd` collector.
pub(super) async fn collect(ctx: &Ctx, body: &Value) -> Result<(), Error> {
    let nodes = ctx
        .api
        .get("/api/v1/nodes")
        .await
        .map_err(|e| Error::Other(format!("failed to list nodes: {e}")))?;
    let nodes = nodes["items"].as_array().cloned().unwrap_or_default();
    let distro = distribution(&nodes).ok_or_else(|| {
        Error::Other("current k8s distribution does not support etcd collector".into())
    })?;
    if !distro.ephemeral() {
        let pods = super::logs::list_pods(ctx, "", "component=etcd")
            .await
            .map_err(|e| {
                Error::Other(format!(
                    "failed to list etcd pods with label component=etcd: {e}"
                ))
            })?;
        let pod = pod_refs(pods)
            .into_iter()
            .next()
            .ok_or_else(|| Error::Other("no static etcd pod found".into()))?;
        return run_commands(ctx, &pod, distro).await;
    }
    let image = body["image"]
        .as_str()
        .filter(|i| !i.is_empty())
        .unwrap_or(DEFAULT_IMAGE);
    let (dir, ..) = distro.certs();
    let pod = json!({
        "metadata": {"labels": {"troubleshoot-role": "etcd-collector"}},
        "spec": {
            "hostNetwork": true,
            "containers": [{
                "name": "etcd-client", "image": image, "command": ["sleep"], "args": ["5m"],
                "env": [{"name": "ETCDCTL_API", "value": "3"}, {"name": "ETCDCTL_INSECURE_SKIP_TLS_VERIFY", "value": "true"}],
                "volumeMounts": [{"name": "etcd-certs", "mountPath": dir, "readOnly": true}],
            }],
            "volumes": [{"name": "etcd-certs", "hostPath": {"path": dir}}],
        },
    });
    let created = create(ctx, "default", "etcd-collector-", pod)
        .await
        .map_err(|e| Error::Other(format!("failed to create etcd troubleshoot pod: {e}")))?;
    let work = async {
        bounded(
            ctx,
            Some(READY_WITHIN),
            || "timeout waiting for etcd troubleshooting pod to be running".to_string(),
            async {
                wait_running(&ctx.api, &created.path)
                    .await
                    .map_err(Error::from)
            },
        )
        .await?;
        let pod = PodRef {
            namespace: created.namespace.clone(),
            name: created.name.clone(),
            containers: vec!["etcd-client".into()],
            phase: "Running".into(),
        };
        run_commands(ctx, &pod, distro).await
    };
    let result = tokio::select! {
        r = work => r,
        () = ctx.cancel.cancelled() => Err(Error::Cancelled),
    };
    let deleted = created.guard.delete().await;
    with_cleanup(result, deleted, "pod")
}

/// Runs every command in `pod`; a command that fails is left out, as troubleshoot.
async fn run_commands(ctx: &Ctx, pod: &PodRef, distro: Distribution) -> Result<(), Error> {
    let container = pod.containers.first().cloned().unwrap_or_default();
    for command in COMMANDS {
        let mut argv: Vec<String> = command.split_whitespace().map(str::to_string).collect();
        argv.extend(distro.args());
        let run = capture::run(ctx, pod, &container, &argv, OUTPUT_CAP, ctx.api.timeout());
        let out = match run.await {
            Ok(out) if out.error.is_none() => out,
            Ok(out) => {
                tracing::debug!("etcd: {command}: {}", out.error.unwrap_or_default());
                continue;
            }
            Err(e) => {
                tracing::debug!("etcd: {command}: {e}");
                continue;
            }
        };
        let stem = file_stem(command);
        if !out.stdout.is_empty() {
            ctx.write(
                &format!("etcd/{stem}.json"),
                &String::from_utf8_lossy(&out.stdout),
            )?;
        }
        if !out.stderr.is_empty() {
            let doc = json!({"stderr": String::from_utf8_lossy(&out.stderr)});
            let text = crate::collect::host::output::go_json(&doc, None)?;
            ctx.write(&format!("etcd/{stem}-stderr.json"), &text)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_and_arguments_follow_troubleshoot() {
        let kurl = [json!({"metadata": {"labels": {"kurl.sh/cluster": "true"}}})];
        assert_eq!(distribution(&kurl), Some(Distribution::Kurl));
        let k0s = [json!({"metadata": {"labels": {"node.k0sproject.io/role": "control-plane"}}})];
        assert_eq!(distribution(&k0s), Some(Distribution::K0s));
        assert_eq!(
            distribution(&[json!({"metadata": {"labels": {"a": "b"}}})]),
            None
        );
        let args = Distribution::Kurl.args();
        assert_eq!(args[1], "/etc/kubernetes/pki/etcd/ca.crt");
        assert_eq!(args[3], "/etc/kubernetes/pki/etcd/healthcheck-client.crt");
        assert_eq!(
            args.last().map(String::as_str),
            Some("https://127.0.0.1:2379")
        );
        assert_eq!(file_stem("etcdctl endpoint health"), "endpoint-health");
        assert_eq!(file_stem("etcdctl version"), "version");
    }
}
