//! `distribution`: which Kubernetes distribution the nodes (labels, annotations, OS image,
//! provider ID) and the API resources show; `when` is `[= | !=] <name>`, first match wins, and
//! no match warns.

use super::super::outcome::{self, Op, Severity};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use super::items;
use serde_json::Value;
use std::collections::BTreeSet;

const ICON: Icon = Icon(
    "kubernetes_distribution",
    "https://troubleshoot.sh/images/analyzer-icons/distribution.svg?w=20&h=14",
);

/// The distributions the nodes and API resources show.
fn detect(nodes: &[Value], resources: Option<&Value>) -> BTreeSet<&'static str> {
    let mut found = BTreeSet::new();
    let mut master = false;
    for node in nodes {
        let labels = node.pointer("/metadata/labels").and_then(Value::as_object);
        for (k, v) in labels.into_iter().flatten() {
            let v = v.as_str().unwrap_or("");
            let name = match (k.as_str(), v) {
                ("kurl.sh/cluster", "true") => "kurl",
                ("microk8s.io/cluster", "true") => "microk8s",
                ("node-role.kubernetes.io/master" | "node-role.kubernetes.io/control-plane", _) => {
                    master = true;
                    continue;
                }
                ("kubernetes.azure.com/role", _) => "aks",
                ("minikube.k8s.io/version", _) => "minikube",
                (
                    "node.kubernetes.io/instance-type" | "beta.kubernetes.io/instance-type",
                    "k3s",
                ) => "k3s",
                ("oci.oraclecloud.com/fault-domain", _) => "oke",
                ("node.k0sproject.io/role", _) => "k0s",
                ("kots.io/embedded-cluster-role", _) => "embeddedCluster",
                ("run.tanzu.vmware.com/kubernetesDistributionVersion", _) => "tanzu",
                _ => continue,
            };
            found.insert(name);
        }
        if node
            .pointer("/metadata/annotations/rke2.io~1node-args")
            .is_some()
        {
            found.insert("rke2");
        }
        if node
            .pointer("/status/nodeInfo/osImage")
            .and_then(Value::as_str)
            == Some("Docker Desktop")
        {
            found.insert("dockerDesktop");
        }
        let provider = node
            .pointer("/spec/providerID")
            .and_then(Value::as_str)
            .unwrap_or("");
        for (prefix, name) in [
            ("digitalocean:", "digitalOcean"),
            ("aws:", "eks"),
            ("gce:", "gke"),
            ("ibm:", "ibm"),
            ("kind:", "kind"),
        ] {
            if provider.starts_with(prefix) {
                found.insert(name);
            }
        }
    }
    // A visible control plane is not EKS (EKS hides it), whatever the provider ID says.
    if master {
        found.remove("eks");
    }
    for list in resources.and_then(Value::as_array).into_iter().flatten() {
        let gv = list
            .get("groupVersion")
            .and_then(Value::as_str)
            .unwrap_or("");
        if gv.starts_with("apps.openshift.io/") {
            found.insert("openShift");
            break;
        }
        if gv.starts_with("run.tanzu.vmware.com/") {
            found.insert("tanzu");
            break;
        }
    }
    found
}

/// The canonical name of a distribution as written in a spec, or `None` when unknown.
fn normalize(raw: &str) -> Option<&'static str> {
    Some(match raw.trim().to_lowercase().replace('-', "").as_str() {
        "microk8s" => "microk8s",
        "dockerdesktop" | "docker desktop" => "dockerDesktop",
        "eks" => "eks",
        "gke" => "gke",
        "digitalocean" => "digitalOcean",
        "openshift" => "openShift",
        "tanzu" => "tanzu",
        "kurl" => "kurl",
        "aks" => "aks",
        "ibm" | "ibmcloud" | "ibm cloud" => "ibm",
        "minikube" => "minikube",
        "rke2" => "rke2",
        "k3s" => "k3s",
        "oke" => "oke",
        "kind" => "kind",
        "k0s" => "k0s",
        "embeddedcluster" => "embeddedCluster",
        _ => return None,
    })
}

pub(super) fn distribution(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<AnalyzeResult, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let path = "cluster-resources/nodes.json";
    let nodes = ctx.json(path)?;
    let resources = match ctx.json("cluster-resources/resources.json") {
        Ok(v) => Some(v),
        Err(AnalyzerError::File(e)) if e.is_not_found() => None,
        Err(e) => return Err(e),
    };
    let found = detect(items(&nodes, path)?, resources.as_ref());
    let mut unknown = String::new();
    let hit = outcome::first_match(&outcomes, |when| {
        let parts: Vec<&str> = when.split(' ').collect();
        let (op, name) = match parts.as_slice() {
            [name] => ("=", *name),
            [op, name] => (*op, *name),
            _ => {
                return Err(AnalyzerError::spec(format!(
                    "when {when:?}: expected `[== | !=] <distribution>`"
                )));
            }
        };
        let Some(canonical) = normalize(name) else {
            unknown.push_str(&format!("- Unknown distribution: {name} "));
            return Ok(false);
        };
        let present = found.contains(canonical);
        Ok(match Op::parse(op) {
            Some(Op::Eq) => present,
            Some(Op::Ne) => !present,
            _ => false,
        })
    })?;
    let r = AnalyzeResult::new(meta.title("Kubernetes Distribution"), ICON);
    Ok(match hit {
        Some(o) => r.with(o),
        None => {
            let mut r = r;
            r.severity = Some(Severity::Warn);
            r.message = if unknown.is_empty() {
                "None of the conditionals were met".into()
            } else {
                unknown
            };
            r
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn distributions_are_detected_from_nodes_and_resources() {
        let k3s = json!({"metadata": {"labels": {"node.kubernetes.io/instance-type": "k3s",
                                                 "node-role.kubernetes.io/master": "true"}},
                         "spec": {"providerID": "aws:///x"}});
        let found = detect(&[k3s], None);
        assert_eq!(found.into_iter().collect::<Vec<_>>(), ["k3s"]);
        let eks = json!({"spec": {"providerID": "aws:///us-east-1a/i-1"}});
        let os = json!([{"groupVersion": "apps.openshift.io/v1"}]);
        let found = detect(&[eks], Some(&os));
        assert_eq!(found.into_iter().collect::<Vec<_>>(), ["eks", "openShift"]);
        assert_eq!(normalize("Docker-Desktop"), Some("dockerDesktop"));
        assert_eq!(normalize("nomad"), None);
    }
}
