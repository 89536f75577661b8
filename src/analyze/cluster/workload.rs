//! `deploymentStatus`, `statefulsetStatus` and `replicasetStatus`.
//!
//! With `name`: one result titled `<name> Status` (troubleshoot ignores `checkName` here), judged
//! by `<op> <int>` on `readyReplicas`, or `absent`; a missing object with any other `when` is a
//! fail "The deployment "x" was not found". A missing namespace file gives no result at all.
//! Without `name`: one fail per object that is not fully up, in every namespace given (or all).

use super::super::outcome::{self, Op, Outcome, Severity};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon};
use super::{items, labels, meta_str, text};
use serde_json::Value;
use std::collections::HashMap;
use std::rc::Rc;

/// The three kinds and their differences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Deployment,
    StatefulSet,
    ReplicaSet,
}

const DEPLOYMENT_ICON: Icon = Icon(
    "kubernetes_deployment_status",
    "https://troubleshoot.sh/images/analyzer-icons/deployment-status.svg?w=17&h=17",
);
const STATEFULSET_ICON: Icon = Icon(
    "kubernetes_statefulset_status",
    "https://troubleshoot.sh/images/analyzer-icons/statefulset-status.svg?w=23&h=14",
);

impl Kind {
    fn dir(self) -> &'static str {
        match self {
            Kind::Deployment => "deployments",
            Kind::StatefulSet => "statefulsets",
            Kind::ReplicaSet => "replicasets",
        }
    }
    fn word(self) -> &'static str {
        match self {
            Kind::Deployment => "deployment",
            Kind::StatefulSet => "statefulset",
            Kind::ReplicaSet => "replicaset",
        }
    }
    fn title_word(self) -> &'static str {
        match self {
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "Statefulset",
            Kind::ReplicaSet => "ReplicaSet",
        }
    }
    fn icon(self) -> Icon {
        match self {
            Kind::StatefulSet => STATEFULSET_ICON,
            // Replica sets borrow the deployment icon upstream.
            Kind::Deployment | Kind::ReplicaSet => DEPLOYMENT_ICON,
        }
    }
}

fn int_at(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The namespace files: `namespace`, then `namespaces`, or all.
fn patterns(kind: Kind, body: &Value) -> Vec<String> {
    let mut namespaces: Vec<String> = Vec::new();
    let ns = text(body, "namespace");
    if !ns.is_empty() {
        namespaces.push(ns);
    }
    if let Some(list) = body.get("namespaces").and_then(Value::as_array) {
        namespaces.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
    }
    if namespaces.is_empty() {
        namespaces.push("*".to_string());
    }
    namespaces
        .iter()
        .map(|ns| format!("cluster-resources/{}/{ns}.json", kind.dir()))
        .collect()
}

pub(super) fn status(
    ctx: &Ctx<'_>,
    kind: Kind,
    body: &Value,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let name = text(body, "name");
    if name.is_empty() {
        return all(ctx, kind, body, &outcomes);
    }
    let path = format!(
        "cluster-resources/{}/{}.json",
        kind.dir(),
        text(body, "namespace")
    );
    if ctx.view.glob(&path)?.is_empty() {
        return Ok(Vec::new());
    }
    let needs_object =
        kind == Kind::ReplicaSet || (outcomes.is_empty() && kind == Kind::StatefulSet);
    if !needs_object {
        let index = ready_replicas(ctx, &path);
        if let Some(index) = index.as_ref() {
            let ready = index.get(&name).copied();
            return Ok(vec![common(
                kind,
                &name,
                &outcomes,
                ready.unwrap_or(0),
                ready.is_some(),
            )?]);
        }
    }
    let list = ctx.json(&path)?;
    let object = items(&list, &path)?
        .iter()
        .rev()
        .find(|o| meta_str(o, "name") == name);
    if kind == Kind::ReplicaSet {
        return Ok(replicaset_one(kind, &name, object, &outcomes)?
            .into_iter()
            .collect());
    }
    if outcomes.is_empty() && kind == Kind::StatefulSet {
        return Ok(match object {
            Some(o) => default_result(kind, o).into_iter().collect(),
            None => vec![not_found(kind, &name, "")],
        });
    }
    let ready = object.map_or(0, |o| int_at(o, "/status/readyReplicas"));
    Ok(vec![common(
        kind,
        &name,
        &outcomes,
        ready,
        object.is_some(),
    )?])
}

/// `readyReplicas` by object name in the List file `path` (the last object of a name wins, as
/// in the lookup above), made once per analysis: a spec names every deployment, and parsing the
/// namespace's file for each would parse it once per deployment in it. `None` when the file
/// does not read as a List, so that the lookup above reports the error.
fn ready_replicas(ctx: &Ctx<'_>, path: &str) -> Rc<Option<HashMap<String, i64>>> {
    ctx.memo(&format!("readyReplicas {path}"), || {
        let list = ctx.json(path).ok()?;
        let objects = items(&list, path).ok()?;
        Some(
            objects
                .iter()
                .map(|o| {
                    (
                        meta_str(o, "name").to_string(),
                        int_at(o, "/status/readyReplicas"),
                    )
                })
                .collect(),
        )
    })
}

fn not_found(kind: Kind, name: &str, uri: &str) -> AnalyzeResult {
    let title = if kind == Kind::ReplicaSet {
        format!("{name} ReplicaSet Status")
    } else {
        format!("{name} Status")
    };
    let mut r = AnalyzeResult::new(title, kind.icon());
    r.severity = Some(Severity::Fail);
    r.message = format!("The {} {name:?} was not found", kind.word());
    r.uri = uri.to_string();
    r
}

/// The shared walk of deployments and statefulsets.
fn common(
    kind: Kind,
    name: &str,
    outcomes: &[Outcome],
    ready: i64,
    exists: bool,
) -> Result<AnalyzeResult, AnalyzerError> {
    let r = AnalyzeResult::new(format!("{name} Status"), kind.icon());
    for o in outcomes {
        if o.severity.is_none() {
            continue;
        }
        let absent = o.when == "absent";
        if !exists && !absent {
            return Ok(not_found(kind, name, &o.uri));
        }
        if o.is_else() || (absent && !exists) {
            return Ok(r.with(o));
        }
        if absent {
            continue;
        }
        if compare_int(&o.when, ready)? {
            return Ok(r.with(o));
        }
    }
    Ok(r)
}

/// `<op> <int>` against `actual`.
pub(super) fn compare_int(when: &str, actual: i64) -> Result<bool, AnalyzerError> {
    let parts: Vec<&str> = when.trim().split(' ').collect();
    let [op, value] = parts.as_slice() else {
        return Err(AnalyzerError::spec(format!(
            "when {when:?}: expected `<op> <number>` (e.g. `< 2`) or `absent`"
        )));
    };
    let value: i64 = value.parse().map_err(|_| {
        AnalyzerError::spec(format!("when {when:?}: {value:?} is not a whole number"))
    })?;
    match Op::parse(op) {
        Some(op) if op != Op::Ne => Ok(op.holds(actual, value)),
        _ => Err(AnalyzerError::spec(format!(
            "when {when:?}: unknown comparator {op:?}"
        ))),
    }
}

/// The fail result of an object that is not fully up, or `None`.
fn default_result(kind: Kind, o: &Value) -> Option<AnalyzeResult> {
    let replicas = int_at(o, "/status/replicas");
    let ready = int_at(o, "/status/readyReplicas");
    let (ns, name) = (meta_str(o, "namespace"), meta_str(o, "name"));
    let up = match kind {
        Kind::Deployment => replicas == int_at(o, "/status/availableReplicas"),
        Kind::StatefulSet => replicas == ready,
        Kind::ReplicaSet => {
            let available = int_at(o, "/status/availableReplicas");
            match o.pointer("/spec/replicas").and_then(Value::as_i64) {
                None => available == 1,
                Some(want) => want == available,
            }
        }
    };
    if up {
        return None;
    }
    let mut r = AnalyzeResult::new(
        format!("{ns}/{name} {} Status", kind.title_word()),
        kind.icon(),
    );
    r.severity = Some(Severity::Fail);
    r.message = if kind == Kind::ReplicaSet {
        format!("The replicaset {ns}/{name} is not ready")
    } else {
        format!(
            "The {} {ns}/{name} has {ready}/{replicas} replicas",
            kind.word()
        )
    };
    Some(r)
}

fn all(
    ctx: &Ctx<'_>,
    kind: Kind,
    body: &Value,
    outcomes: &[Outcome],
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let selector: Vec<String> = body
        .get("selector")
        .and_then(Value::as_array)
        .map(|s| {
            s.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let mut results = Vec::new();
    for pattern in patterns(kind, body) {
        for path in ctx.view.glob(&pattern)? {
            let list = ctx.json(&path)?;
            for o in items(&list, &path)? {
                if kind == Kind::ReplicaSet {
                    let labels = o.pointer("/metadata/labels").cloned().unwrap_or_default();
                    if !labels::string_selector_matches(&selector, &labels)? {
                        continue;
                    }
                    if !outcomes.is_empty() {
                        results.push(replicaset_outcomes(o, outcomes)?);
                        continue;
                    }
                }
                results.extend(default_result(kind, o));
            }
        }
    }
    Ok(results)
}

fn replicaset_one(
    kind: Kind,
    name: &str,
    object: Option<&Value>,
    outcomes: &[Outcome],
) -> Result<Option<AnalyzeResult>, AnalyzerError> {
    let Some(o) = object else {
        return Ok(Some(not_found(kind, name, "")));
    };
    if outcomes.is_empty() {
        return Ok(default_result(kind, o));
    }
    replicaset_outcomes(o, outcomes).map(Some)
}

/// Replica sets: `ready|available <op> <int>`, first match wins.
fn replicaset_outcomes(o: &Value, outcomes: &[Outcome]) -> Result<AnalyzeResult, AnalyzerError> {
    let r = AnalyzeResult::new(format!("{} Status", meta_str(o, "name")), DEPLOYMENT_ICON);
    let hit = outcome::first_match(outcomes, |when| {
        let parts: Vec<&str> = when.split(' ').collect();
        let [field, op, value] = parts.as_slice() else {
            return Err(AnalyzerError::spec(format!(
                "when {when:?}: expected `ready|available <op> <number>`"
            )));
        };
        let actual = match *field {
            "ready" => int_at(o, "/status/readyReplicas"),
            "available" => int_at(o, "/status/availableReplicas"),
            other => {
                return Err(AnalyzerError::spec(format!(
                    "when {when:?}: unknown field {other:?}"
                )));
            }
        };
        compare_int(&format!("{op} {value}"), actual)
    })?;
    Ok(match hit {
        Some(hit) => r.with(hit),
        None => r,
    })
}
