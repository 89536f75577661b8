//! CustomResourceDefinitions and the objects of each (`custom-resources/`).

use super::kinds::CRDS;
use super::sink::{Failure, RawFile, blocking, cluster_scoped, stream};
use super::splitter::{Shape, Splitter};
use super::{write_errors_array, write_errors_object};
use crate::collect::cluster::{Ctx, Task, run_bounded};
use crate::collect::host::sanitize_component;
use serde_json::Value;
use std::collections::BTreeMap;

/// The CRD list (`custom-resource-definitions.json`) and every CRD's objects.
pub(super) async fn collect(ctx: &Ctx, all: bool, names: &[String]) {
    let (crds, error) = cluster_scoped(ctx, &CRDS, true).await;
    if let Some(e) = error {
        write_errors_array(
            ctx,
            "cluster-resources/custom-resource-definitions-errors.json",
            &[e],
        );
    }
    custom_resources(ctx, &crds.unwrap_or_default(), all, names).await;
}

/// What a CRD says about listing its objects.
#[derive(Clone, Debug, PartialEq)]
pub struct Crd {
    /// `metadata.name`, e.g. `addons.k3s.cattle.io`.
    pub name: String,
    /// API group.
    pub group: String,
    /// Resource plural.
    pub plural: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// The served version with the highest Kubernetes version priority.
    pub version: String,
}

impl Crd {
    /// Reads a CRD object (v1 `versions[]`, or v1beta1's `version`).
    pub fn from_object(crd: &Value) -> Option<Crd> {
        let spec = &crd["spec"];
        let mut served: Vec<String> = spec["versions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["served"].as_bool() != Some(false))
            .filter_map(|v| v["name"].as_str().map(str::to_string))
            .collect();
        if served.is_empty()
            && let Some(v) = spec["version"].as_str()
        {
            served.push(v.to_string());
        }
        served.sort_by(|a, b| version_priority(a, b));
        Some(Crd {
            name: crd["metadata"]["name"].as_str()?.to_string(),
            group: spec["group"].as_str()?.to_string(),
            plural: spec["names"]["plural"].as_str()?.to_string(),
            namespaced: spec["scope"].as_str() != Some("Cluster"),
            version: served.into_iter().next()?,
        })
    }
}

/// Kubernetes version priority, highest first: GA, then beta, then alpha, larger numbers first;
/// versions of another form come last, alphabetically.
pub fn version_priority(a: &str, b: &str) -> std::cmp::Ordering {
    fn key(v: &str) -> (u8, i64, i64, String) {
        let parse = || -> Option<(u8, i64, i64)> {
            let rest = v.strip_prefix('v')?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let major: i64 = digits.parse().ok()?;
            let tail = &rest[digits.len()..];
            if tail.is_empty() {
                return Some((0, -major, 0));
            }
            for (level, word) in [(1u8, "beta"), (2u8, "alpha")] {
                if let Some(n) = tail.strip_prefix(word) {
                    let minor: i64 = n.parse().ok()?;
                    return Some((level, -major, -minor));
                }
            }
            None
        };
        match parse() {
            Some((l, m, n)) => (l, m, n, String::new()),
            None => (3, 0, 0, v.to_string()),
        }
    }
    key(a).cmp(&key(b))
}

fn link_yaml(ctx: &Ctx, json_rel: &str) {
    let Some(stem) = json_rel.strip_suffix(".json") else {
        return;
    };
    let yaml_rel = format!("{stem}.yaml");
    let target = json_rel.rsplit('/').next().unwrap_or(json_rel);
    let link = ctx.path(&yaml_rel);
    let _ = std::fs::remove_file(&link);
    match std::os::unix::fs::symlink(target, &link) {
        Ok(()) => ctx.record(&yaml_rel),
        Err(e) => tracing::warn!("cannot link {}: {e}", link.display()),
    }
}

async fn custom_resources(ctx: &Ctx, crds: &[Crd], all: bool, names: &[String]) {
    let mut jobs: Vec<Task<'_, BTreeMap<String, String>>> = Vec::new();
    for crd in crds {
        jobs.push(Box::pin(async move {
            let dir = format!("custom-resources/{}", sanitize_component(&crd.name));
            let mut errors: BTreeMap<String, String> = BTreeMap::new();
            let base = format!("/apis/{}/{}", crd.group, crd.version);
            if crd.namespaced {
                let mut split = Splitter::new(
                    ctx,
                    format!("cluster-resources/{dir}"),
                    Shape::Raw,
                    "",
                    names,
                );
                let mut per_ns = !all;
                if all {
                    match stream(ctx, &format!("{base}/{}", crd.plural), &mut split).await {
                        Ok(_) => {}
                        Err((Failure::Api(e), 0)) if !e.is_unreachable() => per_ns = true,
                        Err((e, _)) => {
                            errors.insert(crd.name.clone(), e.to_string());
                        }
                    }
                }
                if per_ns {
                    for ns in names {
                        let path = format!("{base}/namespaces/{ns}/{}", crd.plural);
                        if let Err((e, _)) = stream(ctx, &path, &mut split).await {
                            errors.insert(format!("{}/{ns}", crd.name), e.to_string());
                        }
                    }
                }
                let opened: Vec<String> = split
                    .paused
                    .keys()
                    .cloned()
                    .chain(split.open.as_ref().map(|(n, _)| n.clone()))
                    .collect();
                let rels: Vec<String> = opened.iter().map(|ns| split.rel(ns)).collect();
                if let Err(e) = split.finish(&[], &BTreeMap::new()) {
                    errors.insert(crd.name.clone(), e.to_string());
                }
                for rel in rels {
                    link_yaml(ctx, &rel);
                }
            } else {
                let rel = format!(
                    "cluster-resources/custom-resources/{}.json",
                    sanitize_component(&crd.name)
                );
                let mut sink = RawFile {
                    path: ctx.path(&rel),
                    file: None,
                };
                if let Err((e, _)) = stream(ctx, &format!("{base}/{}", crd.plural), &mut sink).await
                {
                    errors.insert(crd.name.clone(), e.to_string());
                }
                if let Some(f) = sink.file.take() {
                    match blocking(|| f.finish()) {
                        Ok(()) => {
                            ctx.record(&rel);
                            link_yaml(ctx, &rel);
                        }
                        Err(e) => {
                            errors.insert(crd.name.clone(), e.to_string());
                        }
                    }
                }
            }
            errors
        }));
    }
    let all_errors = run_bounded(jobs, ctx.opts.max_parallel).await;
    let merged: BTreeMap<String, String> = all_errors.into_iter().flatten().collect();
    write_errors_object(
        ctx,
        "cluster-resources/custom-resources/custom-resources-errors.json",
        &merged,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_priority_is_kubernetes_order() {
        let mut v = vec![
            "v1alpha1", "foo", "v2beta1", "v1", "v1beta2", "v2", "v10", "bar",
        ];
        v.sort_by(|a, b| version_priority(a, b));
        assert_eq!(
            v,
            [
                "v10", "v2", "v1", "v2beta1", "v1beta2", "v1alpha1", "bar", "foo"
            ]
        );
    }

    #[test]
    fn crd_picks_the_best_served_version() {
        let crd = json!({"metadata": {"name": "widgets.example.com"}, "spec": {
            "group": "example.com", "names": {"plural": "widgets"}, "scope": "Namespaced",
            "versions": [{"name": "v1beta1", "served": true}, {"name": "v1", "served": false}, {"name": "v1alpha1", "served": true}]}});
        let c = Crd::from_object(&crd).expect("crd");
        assert_eq!(c.version, "v1beta1");
        assert!(c.namespaced);
        assert_eq!(c.plural, "widgets");
    }
}
