//! `dns`: the cluster's DNS as a pod sees it. A pod in `default` prints its resolv.conf and
//! resolves `kubernetes` and a name that must not resolve; with the kube-dns pods, service,
//! endpoints and the CoreDNS/KubeDNS configuration this becomes `dns/debug.txt` (text) and
//! `dns/debug.json` (troubleshoot's DNSTroubleshootResult). The pod is always deleted.

use super::api::ApiError;
use super::podrun::{create, log_bytes, wait_done, with_cleanup};
use super::{Ctx, Error};
use serde::Serialize;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::time::Duration;

/// troubleshoot's image with `dig`.
pub const DEFAULT_IMAGE: &str = "registry.k8s.io/e2e-test-images/agnhost:2.39";
/// The name that must not resolve, unless the spec names one.
const NON_RESOLVABLE: &str = "*";
/// The whole collector's time, as troubleshoot.
const TIMEOUT: Duration = Duration::from_secs(60);

/// `dns/debug.json`, fields in troubleshoot's order.
#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DebugResult {
    /// `default/kubernetes`'s cluster IP.
    #[serde(rename = "kubernetesClusterIP")]
    pub kubernetes_cluster_ip: String,
    /// The pod's /etc/resolv.conf.
    pub pod_resolv_conf: String,
    /// What the two lookups answered.
    pub query: Queries,
    /// Running kube-dns pods (`[""]` when none, as troubleshoot's split of an empty string).
    #[serde(rename = "kubeDNSPods")]
    pub kube_dns_pods: Vec<String>,
    /// The kube-dns service's cluster IP.
    #[serde(rename = "kubeDNSService")]
    pub kube_dns_service: String,
    /// `ip:port` of the kube-dns endpoints.
    #[serde(rename = "kubeDNSEndpoints")]
    pub kube_dns_endpoints: String,
}

/// The two lookups.
#[derive(Debug, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Queries {
    /// `kubernetes`.
    pub kubernetes: Query,
    /// The name that must not resolve.
    pub non_resolvable_domain: Query,
}

/// One lookup: the name and the last answer line.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Query {
    /// The name looked up.
    pub name: String,
    /// The address answered (empty when none).
    pub address: String,
}

/// The script the pod runs (troubleshoot's, indentation and all).
pub fn script(non_resolvable: &str) -> String {
    format!(
        "\n\t\techo \"=== /etc/resolv.conf ===\"\n\t\tcat /etc/resolv.conf\n\t\techo \"=== dig kubernetes ===\"\n\t\tdig +search +short kubernetes\n\t\techo \"=== dig non-existent-domain ===\"\n\t\tdig +search +short {non_resolvable}\n\t\texit 0\n\t"
    )
}

/// Fills the resolv.conf and the lookups from the pod's log.
pub fn parse_pod_log(log: &str, out: &mut DebugResult) {
    let mut section = "";
    for line in log.lines() {
        if line.contains("=== /etc/resolv.conf ===") {
            section = "resolv";
        } else if line.contains("=== dig kubernetes ===") {
            section = "kubernetes";
        } else if line.contains("=== dig non-existent-domain ===") {
            section = "nonresolvable";
        } else {
            match section {
                "resolv" => {
                    out.pod_resolv_conf.push_str(line);
                    out.pod_resolv_conf.push('\n');
                }
                "kubernetes" => {
                    out.query.kubernetes.name = "kubernetes".into();
                    out.query.kubernetes.address = line.to_string();
                }
                "nonresolvable" => out.query.non_resolvable_domain.address = line.to_string(),
                _ => {}
            }
        }
    }
}

/// Runs one `dns` collector.
pub(super) async fn collect(ctx: &Ctx, body: &Value) -> Result<(), Error> {
    debug(ctx, body, tokio::time::Instant::now() + TIMEOUT).await
}

/// Everything but the pod is one call each, bounded by the per-call timeout; the pod's wait ends
/// at `deadline` (troubleshoot's 60 s for the whole collector).
async fn debug(ctx: &Ctx, body: &Value, deadline: tokio::time::Instant) -> Result<(), Error> {
    let mut text = String::new();
    let mut result = DebugResult::default();
    match ctx
        .api
        .get("/api/v1/namespaces/default/services/kubernetes")
        .await
    {
        Ok(svc) => {
            let ip = svc["spec"]["clusterIP"].as_str().unwrap_or("").to_string();
            let _ = writeln!(text, "=== Kubernetes Cluster IP from API Server: {ip}");
            result.kubernetes_cluster_ip = ip;
        }
        Err(e) => {
            let _ = writeln!(text, "=== Failed to detect Kubernetes Cluster IP: {e}");
        }
    }
    let domain = body["nonResolvable"]
        .as_str()
        .filter(|d| !d.is_empty())
        .unwrap_or(NON_RESOLVABLE);
    result.query.non_resolvable_domain.name = domain.to_string();
    let image = body["image"]
        .as_str()
        .filter(|i| !i.is_empty())
        .unwrap_or(DEFAULT_IMAGE);
    let log = match run_pod(ctx, image, domain, deadline).await {
        Ok(log) => {
            let _ = writeln!(text, "=== Test DNS resolution in pod {image}: ");
            text.push_str(&log);
            log
        }
        Err(Error::Cancelled) => return Err(Error::Cancelled),
        Err(e) => {
            let _ = writeln!(text, "=== Failed to run commands from pod: {e}");
            String::new()
        }
    };
    parse_pod_log(&log, &mut result);
    let pods = running_dns_pods(ctx).await;
    let _ = writeln!(text, "=== Running kube-dns pods: {pods}");
    result.kube_dns_pods = pods.split(", ").map(str::to_string).collect();
    let service = get_or_empty(ctx, "services/kube-dns")
        .await
        .map(|s| s["spec"]["clusterIP"].as_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let _ = writeln!(text, "=== Running kube-dns service: {service}");
    result.kube_dns_service = service;
    let endpoints = get_or_empty(ctx, "endpoints/kube-dns")
        .await
        .map(|e| endpoint_list(&e))
        .unwrap_or_default();
    let _ = writeln!(text, "=== kube-dns endpoints: {endpoints}");
    result.kube_dns_endpoints = endpoints;
    if let Some(cm) = get_or_empty(ctx, "configmaps/coredns").await {
        text.push_str("=== CoreDNS config: \n");
        text.push_str(cm["data"]["Corefile"].as_str().unwrap_or(""));
    }
    if let Some(cm) = get_or_empty(ctx, "configmaps/kube-dns").await {
        text.push_str("=== KubeDNS config: \n");
        text.push_str(&kube_dns_config(&cm["data"]));
    }
    ctx.write("dns/debug.txt", &text)?;
    let json = crate::collect::host::output::go_json(&result, None)
        .map_err(|e| Error::Other(format!("failed to marshal DNS troubleshooting data: {e}")))?;
    ctx.write("dns/debug.json", &json)
}

/// The KubeDNS ConfigMap's data as Go marshals a map: compact, keys sorted.
fn kube_dns_config(data: &Value) -> String {
    match data.as_object() {
        Some(m) => {
            let sorted: std::collections::BTreeMap<&String, &Value> = m.iter().collect();
            crate::collect::host::output::go_json(&sorted, None).unwrap_or_default()
        }
        None => String::new(),
    }
}

/// `kube-system/<what>`, or `None` when it cannot be read (troubleshoot logs and goes on).
async fn get_or_empty(ctx: &Ctx, what: &str) -> Option<Value> {
    match ctx
        .api
        .get(&format!("/api/v1/namespaces/kube-system/{what}"))
        .await
    {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::debug!("dns: kube-system/{what}: {e}");
            None
        }
    }
}

/// `ip:port` of every address of every subset that has a port.
pub fn endpoint_list(endpoints: &Value) -> String {
    let mut out = Vec::new();
    for subset in endpoints["subsets"].as_array().into_iter().flatten() {
        let Some(port) = subset["ports"][0]["port"].as_i64() else {
            continue;
        };
        for address in subset["addresses"].as_array().into_iter().flatten() {
            out.push(format!("{}:{port}", address["ip"].as_str().unwrap_or("")));
        }
    }
    out.join(", ")
}

async fn running_dns_pods(ctx: &Ctx) -> String {
    match super::logs::list_pods(ctx, "kube-system", "k8s-app=kube-dns").await {
        Ok(pods) => pods
            .iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .filter_map(|p| p["metadata"]["name"].as_str())
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => {
            tracing::debug!("dns: listing the kube-dns pods: {e}");
            String::new()
        }
    }
}

/// Runs the lookup pod in `default`; its log, once it succeeded. The pod is always deleted.
async fn run_pod(
    ctx: &Ctx,
    image: &str,
    domain: &str,
    deadline: tokio::time::Instant,
) -> Result<String, Error> {
    let pod = json!({
        "metadata": {"labels": {"troubleshoot-role": "dns-collector"}},
        "spec": {
            "containers": [{"name": "troubleshoot-dns", "image": image, "command": ["/bin/sh", "-c", script(domain)]}],
            "restartPolicy": "Never",
        },
    });
    let created = create(ctx, "default", "troubleshoot-dns-", pod)
        .await
        .map_err(|e| Error::Other(format!("failed to run troubleshoot DNS pod: {e}")))?;
    let work = async {
        let done = wait_done(&ctx.api, &created.path).await?;
        if done["status"]["phase"] == "Failed" {
            return Err(Error::Other("troubleshoot DNS pod failed".into()));
        }
        let log = log_bytes(&ctx.api, "default", &created.name, "troubleshoot-dns")
            .await
            .map_err(|e: ApiError| Error::Other(format!("failed to get pod logs: {e}")))?;
        Ok(String::from_utf8_lossy(&log).into_owned())
    };
    // The guard is not part of `work`: on a timeout or a cancellation the pod is deleted here,
    // before the collector returns.
    let timed = async {
        tokio::time::timeout_at(deadline, work)
            .await
            .unwrap_or_else(|_| {
                Err(Error::Other(
                    "the DNS pod did not complete within 60s".into(),
                ))
            })
    };
    let result = tokio::select! {
        r = timed => r,
        () = ctx.cancel.cancelled() => Err(Error::Cancelled),
    };
    let deleted = created.guard.delete().await;
    match result {
        Ok(log) => with_cleanup(Ok(()), deleted, "pod").map(|()| log),
        Err(e) => with_cleanup(Err(e), deleted, "pod").map(|()| String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_log_fills_the_debug_result() {
        let mut r = DebugResult::default();
        parse_pod_log(
            "=== /etc/resolv.conf ===\nsearch default.svc.cluster.local\nnameserver 10.43.0.10\n=== dig kubernetes ===\n10.43.0.1\n=== dig non-existent-domain ===\n",
            &mut r,
        );
        assert_eq!(
            r.pod_resolv_conf,
            "search default.svc.cluster.local\nnameserver 10.43.0.10\n"
        );
        assert_eq!(r.query.kubernetes.name, "kubernetes");
        assert_eq!(r.query.kubernetes.address, "10.43.0.1");
        assert_eq!(r.query.non_resolvable_domain.address, "");
        let json = serde_json::to_string(&r).expect("json");
        assert!(
            json.starts_with("{\"kubernetesClusterIP\":\"\",\"podResolvConf\":"),
            "{json}"
        );
        assert!(json.contains("\"query\":{\"kubernetes\":{\"name\":\"kubernetes\",\"address\":\"10.43.0.1\"},\"nonResolvableDomain\":{"), "{json}");
        assert!(
            json.ends_with("\"kubeDNSPods\":[],\"kubeDNSService\":\"\",\"kubeDNSEndpoints\":\"\"}"),
            "{json}"
        );
    }

    #[test]
    fn endpoints_are_ip_and_first_port() {
        let e = json!({"subsets": [{"addresses": [{"ip": "10.42.0.2"}, {"ip": "10.42.0.3"}], "ports": [{"port": 53}, {"port": 9153}]}, {"addresses": [{"ip": "x"}]}]});
        assert_eq!(endpoint_list(&e), "10.42.0.2:53, 10.42.0.3:53");
        assert_eq!(
            kube_dns_config(&json!({"b": "1", "a": "<2>"})),
            "{\"a\":\"\\u003c2\\u003e\",\"b\":\"1\"}"
        );
    }
}
