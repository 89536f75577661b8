//! Which in-cluster collectors a job runs, in which order, under which titles: the job's entries
//! with clusterResources merged, clusterInfo folded and the automatic collectors added.

use crate::spec::Entry;
use serde_json::Value;
use std::path::PathBuf;

/// One collector to run: its entry and the title it is recorded under.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The spec entry (synthesized for automatic collectors).
    pub entry: Entry,
    /// troubleshoot's collector name, e.g. `cluster-resources`, `logs/app`.
    pub title: String,
}

/// The entries to run: the job's, with clusterResources merged into one (namespace lists
/// united, an empty list meaning all), identical clusterInfo entries folded, and
/// clusterInfo/clusterResources/logs added by auto-discovery when missing.
pub fn plan_entries(entries: &[Entry], auto_discovery: bool) -> Vec<Planned> {
    let mut out: Vec<Planned> = Vec::new();
    let mut resources: Option<Entry> = None;
    let mut info = false;
    for e in entries {
        match e.kind.as_str() {
            "clusterResources" if !e.exclude => {
                resources = Some(match resources.take() {
                    None => e.clone(),
                    Some(mut merged) => {
                        merge_namespaces(&mut merged.body, &e.body);
                        if e.body["ignoreRBAC"] == true {
                            merged.body["ignoreRBAC"] = Value::Bool(true);
                        }
                        merged
                    }
                });
            }
            "clusterInfo" if !e.exclude => {
                if !info {
                    info = true;
                    out.push(planned(e.clone()));
                }
            }
            _ => out.push(planned(e.clone())),
        }
    }
    if auto_discovery {
        if !info {
            out.insert(0, planned(synthetic("clusterInfo")));
        }
        if resources.is_none() {
            resources = Some(synthetic("clusterResources"));
        }
        if !out.iter().any(|p| p.entry.kind == "logs") {
            let mut logs = synthetic("logs");
            logs.body = serde_json::json!({"name": "logs"});
            logs.collector_name = None;
            out.push(planned(logs));
        }
    }
    if let Some(r) = resources {
        out.insert(0, planned(r));
    }
    out
}

fn merge_namespaces(into: &mut Value, from: &Value) {
    let list =
        |v: &Value| -> Vec<Value> { v["namespaces"].as_array().cloned().unwrap_or_default() };
    let (a, b) = (list(into), list(from));
    // An empty or absent list means all namespaces, which wins the union.
    let merged = if a.is_empty() || b.is_empty() {
        Vec::new()
    } else {
        let mut m = a;
        for ns in b {
            if !m.contains(&ns) {
                m.push(ns);
            }
        }
        m
    };
    if let Some(obj) = into.as_object_mut() {
        obj.insert("namespaces".into(), Value::Array(merged));
    }
}

fn synthetic(kind: &str) -> Entry {
    Entry {
        kind: kind.to_string(),
        body: serde_json::json!({}),
        file: PathBuf::from("<autoDiscovery>"),
        loc: crate::yaml::Loc::default(),
        collector_name: None,
        exclude: false,
    }
}

fn planned(entry: Entry) -> Planned {
    let title = title_of(&entry);
    Planned { entry, title }
}

/// troubleshoot's collector name: `<type>[/<collectorName or selector>]`.
pub fn title_of(entry: &Entry) -> String {
    let base = match entry.kind.as_str() {
        "clusterInfo" => "cluster-info",
        "clusterResources" => "cluster-resources",
        "configMap" => "configmap",
        "runPod" => "run-pod",
        "runDaemonSet" => "run-daemonset",
        "copyFromHost" => "copy-from-host",
        "customMetrics" => "custom-metrics",
        "registryImages" => "registry-images",
        "nodeMetrics" => "node-metrics",
        "supportBundleMetadata" => "support-bundle-metadata",
        other => other,
    };
    let named = !matches!(
        entry.kind.as_str(),
        "clusterInfo"
            | "clusterResources"
            | "certificates"
            | "helm"
            | "goldpinger"
            | "sonobuoy"
            | "nodeMetrics"
            | "dns"
            | "etcd"
    );
    let name = entry
        .collector_name
        .clone()
        .filter(|n| !n.is_empty() && named);
    let selector = entry.body["selector"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        })
        .filter(|s| !s.is_empty() && named);
    match (name, selector) {
        (Some(n), _) => format!("{base}/{n}"),
        (None, Some(s)) => format!("{base}/{s}"),
        (None, None) => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(kind: &str, body: Value) -> Entry {
        let mut e = synthetic(kind);
        e.collector_name = body["collectorName"].as_str().map(str::to_string);
        e.body = body;
        e
    }

    #[test]
    fn cluster_resources_entries_merge_and_go_first() {
        let plan = plan_entries(
            &[
                entry("logs", json!({"name": "app"})),
                entry("clusterResources", json!({"namespaces": ["a"]})),
                entry("clusterResources", json!({"namespaces": ["b", "a"]})),
            ],
            false,
        );
        let kinds: Vec<&str> = plan.iter().map(|p| p.entry.kind.as_str()).collect();
        assert_eq!(kinds, ["clusterResources", "logs"]);
        assert_eq!(plan[0].entry.body["namespaces"], json!(["a", "b"]));
        let all = plan_entries(
            &[
                entry("clusterResources", json!({"namespaces": ["a"]})),
                entry("clusterResources", json!({})),
            ],
            false,
        );
        assert_eq!(all[0].entry.body["namespaces"], json!([]));
    }

    #[test]
    fn auto_discovery_adds_the_foundation_once() {
        let plan = plan_entries(&[], true);
        let kinds: Vec<&str> = plan.iter().map(|p| p.entry.kind.as_str()).collect();
        assert_eq!(kinds, ["clusterResources", "clusterInfo", "logs"]);
        let plan = plan_entries(&[entry("clusterInfo", json!({}))], true);
        assert_eq!(plan.len(), 3);
        assert!(plan_entries(&[], false).is_empty());
    }

    #[test]
    fn titles_follow_troubleshoot() {
        assert_eq!(
            title_of(&entry("clusterResources", json!({}))),
            "cluster-resources"
        );
        assert_eq!(
            title_of(&entry("secret", json!({"collectorName": "foo"}))),
            "secret/foo"
        );
        assert_eq!(
            title_of(&entry("logs", json!({"selector": ["app=a", "tier=b"]}))),
            "logs/app=a,tier=b"
        );
        assert_eq!(title_of(&entry("configMap", json!({}))), "configmap");
    }
}
