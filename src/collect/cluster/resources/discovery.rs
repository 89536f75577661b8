//! `namespaces.json`, `auth-cani-list/`, and API discovery (`groups.json`, `resources.json`).

use super::kinds::base_path;
use super::sink::{OneFile, Sink, blocking, stream};
use super::{write_errors_array, write_errors_object};
use crate::collect::cluster::api::{ApiError, Page};
use crate::collect::cluster::jsonout::pretty;
use crate::collect::cluster::namespaces::Selection;
use crate::collect::cluster::{Ctx, Task, rbac, run_bounded};
use crate::collect::host::sanitize_component;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// `namespaces.json` in the shape of the selection; returns the namespace names.
pub(super) async fn namespaces_file(ctx: &Ctx, selection: &Selection) -> Vec<String> {
    let rel = "cluster-resources/namespaces.json";
    let mut errors = Vec::new();
    let names = match selection {
        Selection::All => {
            struct Names<'a> {
                inner: OneFile<'a>,
                names: Vec<String>,
            }
            impl Sink for Names<'_> {
                fn start(&mut self, page: &Page) {
                    self.inner.start(page);
                }
                fn item(&mut self, item: Value) -> std::io::Result<()> {
                    if let Some(n) = item["metadata"]["name"].as_str() {
                        self.names.push(n.to_string());
                    }
                    self.inner.item(item)
                }
            }
            let mut sink = Names {
                inner: OneFile {
                    ctx,
                    rel: rel.into(),
                    item_kind: "Namespace",
                    api_version: "v1".into(),
                    file: None,
                    crds: None,
                },
                names: Vec::new(),
            };
            let result = stream(ctx, "/api/v1/namespaces", &mut sink).await;
            if let Some(f) = sink.inner.file.take()
                && let Err(e) = blocking(|| f.finish())
            {
                errors.push(e.to_string());
            }
            match result {
                Ok(_) => sink.names,
                Err((e, _)) => {
                    errors.push(e.to_string());
                    Vec::new()
                }
            }
        }
        Selection::One(ns) => {
            match ctx.api.get(&format!("/api/v1/namespaces/{ns}")).await {
                Ok(obj) => {
                    if let Err(e) = ctx.write(rel, &pretty(&obj)) {
                        errors.push(e.to_string());
                    }
                }
                Err(e) => errors.push(e.to_string()),
            }
            vec![ns.clone()]
        }
        Selection::Listed(list) => {
            let mut objects = Vec::new();
            for ns in list {
                match ctx.api.get(&format!("/api/v1/namespaces/{ns}")).await {
                    Ok(obj) => objects.push(obj),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            if let Err(e) = ctx.write(rel, &pretty(&Value::Array(objects))) {
                errors.push(e.to_string());
            }
            list.clone()
        }
    };
    write_errors_array(ctx, "cluster-resources/namespaces-errors.json", &errors);
    names
}

/// `auth-cani-list/<ns>.json` for every namespace; returns whether each may list or get pods.
pub(super) async fn auth_cani(ctx: &Ctx, names: &[String]) -> HashMap<String, bool> {
    type Review = (String, Option<bool>, Option<String>);
    let mut jobs: Vec<Task<'_, Review>> = Vec::new();
    for ns in names {
        jobs.push(Box::pin(async move {
            match ctx.rules(ns).await {
                Ok(rules) => {
                    let rel = format!(
                        "cluster-resources/auth-cani-list/{}.json",
                        sanitize_component(ns)
                    );
                    let text = pretty(&Value::Array(rules.as_ref().clone()));
                    let write = ctx.write(&rel, &text).err().map(|e| e.to_string());
                    let pods = rbac::allows(&rules, "list", "", "pods")
                        || rbac::allows(&rules, "get", "", "pods");
                    (ns.clone(), Some(pods), write)
                }
                Err(e) => (ns.clone(), None, Some(e.to_string())),
            }
        }));
    }
    let results = run_bounded(jobs, ctx.opts.max_parallel).await;
    let mut errors = BTreeMap::new();
    let mut readable = HashMap::new();
    for (ns, pods, err) in results {
        if let Some(p) = pods {
            readable.insert(ns.clone(), p);
        }
        if let Some(e) = err {
            errors.insert(ns, e);
        }
    }
    write_errors_object(ctx, "cluster-resources/auth-cani-list-errors.json", &errors);
    readable
}

/// `groups.json` and `resources.json` (discovery), errors in `groups-resources-errors.json`.
pub(super) async fn discovery(ctx: &Ctx) {
    let mut errors = Vec::new();
    let mut groups = Vec::new();
    let mut versions: Vec<String> = Vec::new();
    match ctx.api.get("/api").await {
        Ok(core) => {
            let list: Vec<String> = core["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            if let Some(first) = list.first() {
                let entries: Vec<Value> = list
                    .iter()
                    .map(|v| serde_json::json!({"groupVersion": v, "version": v}))
                    .collect();
                groups.push(serde_json::json!({
                    "name": "",
                    "versions": entries,
                    "preferredVersion": {"groupVersion": first, "version": first},
                }));
            }
            versions.extend(list);
        }
        Err(e) => errors.push(e.to_string()),
    }
    match ctx.api.get("/apis").await {
        Ok(list) => {
            for g in list["groups"].as_array().into_iter().flatten() {
                for v in g["versions"].as_array().into_iter().flatten() {
                    if let Some(gv) = v["groupVersion"].as_str() {
                        versions.push(gv.to_string());
                    }
                }
                let mut g = g.clone();
                if let Some(o) = g.as_object_mut() {
                    o.shift_remove("kind");
                    o.shift_remove("apiVersion");
                }
                groups.push(g);
            }
        }
        Err(e) => errors.push(e.to_string()),
    }
    type Answer = (usize, String, Result<Value, ApiError>);
    let mut jobs: Vec<Task<'_, Answer>> = Vec::new();
    for (i, gv) in versions.iter().enumerate() {
        jobs.push(Box::pin(async move {
            (i, gv.clone(), ctx.api.get(&base_path(gv)).await)
        }));
    }
    let mut answers = run_bounded(jobs, ctx.opts.max_parallel).await;
    answers.sort_by_key(|(i, _, _)| *i);
    let mut resources = Vec::new();
    let mut failed = Vec::new();
    for (_, gv, answer) in answers {
        match answer {
            Ok(mut list) => {
                if let Some(o) = list.as_object_mut() {
                    o.shift_remove("kind");
                    o.shift_remove("apiVersion");
                }
                resources.push(list);
            }
            Err(e) => failed.push(format!("{gv}: {e}")),
        }
    }
    if !failed.is_empty() {
        errors.push(format!(
            "unable to retrieve the complete list of server APIs: {}",
            failed.join(", ")
        ));
    }
    for (rel, v) in [
        ("cluster-resources/groups.json", Value::Array(groups)),
        ("cluster-resources/resources.json", Value::Array(resources)),
    ] {
        if let Err(e) = ctx.write(rel, &pretty(&v)) {
            errors.push(e.to_string());
        }
    }
    write_errors_array(
        ctx,
        "cluster-resources/groups-resources-errors.json",
        &errors,
    );
}
