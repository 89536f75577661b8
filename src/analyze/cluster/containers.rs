//! `clusterContainerStatuses`: containers whose state or last termination has a `reason`
//! (`when: "== OOMKilled"`, `!= ...`, case-insensitive), among the pods of `namespaces` with at
//! least `restartCount` restarts.
//!
//! Every outcome with a `when` is evaluated and adds one result per matching pod; the first
//! outcome without a `when` ends the walk, and stands only when nothing matched before it. As in
//! troubleshoot v0.133.0: only a pod's first container with enough restarts is looked at; all the
//! results of one outcome carry the same message, rendered for the first matching pod (a
//! template over `Namespace`, `PodName`, `ContainerName`, `Ready`, `RestartCount`, `Message`;
//! one that does not render falls back to a fixed text). Pods are taken in file and list order
//! (troubleshoot's order is random).

use super::super::outcome::{self, Op};
use super::super::template::{self, Missing};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use super::{items, meta_str, struct_template_ok};
use serde_json::{Value, json};

const ICON: Icon = Icon(
    "kubernetes_container_statuses",
    "https://troubleshoot.sh/images/analyzer-icons/kubernetes.svg?w=16&h=16",
);

/// The fields a message template may name (Go errors on any other).
const FIELDS: &[&str] = &[
    ".Namespace",
    ".PodName",
    ".ContainerName",
    ".Ready",
    ".RestartCount",
    ".Message",
];

/// A pod and the container status judged for it.
struct Candidate {
    namespace: String,
    pod: String,
    status: Value,
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The restart threshold: a number, or a number written as text.
fn restart_count(body: &Value) -> Result<i64, AnalyzerError> {
    match body.get("restartCount") {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| AnalyzerError::spec(format!("restartCount {n} is not a whole number"))),
        Some(Value::String(s)) => s
            .trim()
            .parse()
            .map_err(|_| AnalyzerError::spec(format!("restartCount {s:?} is not a whole number"))),
        Some(other) => Err(AnalyzerError::spec(format!(
            "restartCount {other} is not a whole number"
        ))),
    }
}

fn candidates(
    ctx: &Ctx<'_>,
    body: &Value,
    threshold: i64,
) -> Result<Vec<Candidate>, AnalyzerError> {
    let namespaces: Vec<&str> = body
        .get("namespaces")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out: Vec<Candidate> = Vec::new();
    let mut seen_uids: Vec<String> = Vec::new();
    for path in ctx.view.glob("cluster-resources/pods/*.json")? {
        let ns = path
            .rsplit('/')
            .next()
            .and_then(|f| f.strip_suffix(".json"))
            .unwrap_or("");
        if !namespaces.is_empty() && !namespaces.contains(&ns) {
            continue;
        }
        let file = ctx.json(&path)?;
        for pod in items(&file, &path)? {
            let statuses = pod
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            let Some(status) = statuses
                .iter()
                .find(|c| c.get("restartCount").and_then(Value::as_i64).unwrap_or(0) >= threshold)
            else {
                continue;
            };
            // Pods are told apart by UID: two with the same (or no) UID count once.
            let uid = meta_str(pod, "uid").to_string();
            if seen_uids.contains(&uid) {
                continue;
            }
            seen_uids.push(uid);
            out.push(Candidate {
                namespace: meta_str(pod, "namespace").to_string(),
                pod: meta_str(pod, "name").to_string(),
                status: status.clone(),
            });
        }
    }
    Ok(out)
}

/// Whether the container's last termination, termination or waiting reason is `reason`, and the
/// template data for it.
fn matches(c: &Candidate, reason: &str) -> (bool, Value) {
    let s = &c.status;
    let terminated = |p: &str| s.pointer(p).filter(|t| !t.is_null());
    let hit = |p: &str| {
        terminated(p)
            .map(|t| str_at(t, "/reason"))
            .filter(|r| r.eq_ignore_ascii_case(reason))
            .is_some()
    };
    let message = if hit("/lastState/terminated") {
        Some(str_at(s, "/lastState/terminated/message"))
    } else if hit("/state/terminated") {
        Some(str_at(s, "/state/terminated/message"))
    } else if hit("/state/waiting") {
        Some(str_at(s, "/state/waiting/message"))
    } else {
        None
    };
    let data = json!({
        "Namespace": c.namespace,
        "PodName": c.pod,
        "ContainerName": str_at(s, "/name"),
        "Ready": s.get("ready").and_then(Value::as_bool).unwrap_or(false),
        "RestartCount": s.get("restartCount").and_then(Value::as_i64).unwrap_or(0),
        "Message": message.unwrap_or(""),
    });
    (message.is_some(), data)
}

fn render(message: &str, data: &Value) -> String {
    let fallback = || {
        format!(
            "Container matched. Container: {}, Namespace: {}, Pod: {}",
            str_at(data, "/ContainerName"),
            str_at(data, "/Namespace"),
            str_at(data, "/PodName")
        )
    };
    if !struct_template_ok(message, FIELDS) {
        return fallback();
    }
    template::render(message, data, Missing::Empty)
        .map(|m| m.trim().to_string())
        .unwrap_or_else(|_| fallback())
}

/// `(reason, equal)` of `== <reason>` / `!= <reason>`.
fn parse_when(when: &str) -> Result<(&str, bool), AnalyzerError> {
    let parts: Vec<&str> = when.trim().split(' ').collect();
    let [op, reason] = parts.as_slice() else {
        return Err(AnalyzerError::spec(format!(
            "when {when:?}: expected `== <reason>` or `!= <reason>` (e.g. `== OOMKilled`)"
        )));
    };
    match Op::parse(op) {
        Some(Op::Eq) => Ok((reason, true)),
        Some(Op::Ne) => Ok((reason, false)),
        _ => Err(AnalyzerError::spec(format!(
            "when {when:?}: unexpected operator {op:?} (use == or !=)"
        ))),
    }
}

pub(super) fn container_statuses(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let threshold = restart_count(body)?;
    let pods = candidates(ctx, body, threshold)?;
    let title = meta.title("Cluster Container Status");
    let mut results = Vec::new();
    for o in &outcomes {
        // An item with no severity is passed over (troubleshoot logs it).
        if o.severity.is_none() {
            continue;
        }
        let r = AnalyzeResult::new(title.clone(), ICON).with(o);
        if o.is_else() {
            if results.is_empty() {
                results.push(r);
            }
            return Ok(results);
        }
        let (reason, equal) = parse_when(&o.when)?;
        let mut message = o.message.clone();
        let mut count = 0;
        for pod in &pods {
            let (matched, data) = matches(pod, reason);
            if matched != equal {
                continue;
            }
            // troubleshoot renders the already rendered message again for each later pod.
            message = render(&message, &data);
            count += 1;
        }
        let mut r = r;
        r.message = message;
        results.extend(std::iter::repeat_n(r, count));
    }
    Ok(results)
}
