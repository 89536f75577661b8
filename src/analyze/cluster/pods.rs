//! `clusterPodStatuses`: one result per pod (the first outcome that matches it), judged by
//! `= <phase|reason|Healthy>` or `!= ...`; title and message are templates over the pod.
//!
//! A pod's reason is derived as `kubectl get pods` shows it (init containers, waiting and
//! terminated containers, `Terminating`); its message falls back to the pod's Warning events,
//! joined with `. `, then `None`.

use super::super::outcome::{self, Op};
use super::super::template::{self, Missing};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta, ObjectRef};
use super::{into_items, items, meta_str};
use serde_json::Value;
use std::collections::HashMap;
use std::rc::Rc;

const NO_ICON: Icon = Icon("", "");

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

fn int_at(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn list<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `(reason, message)` of a pod, as kubectl derives the STATUS column.
pub(crate) fn status_reason(pod: &Value) -> (String, String) {
    let mut reason = str_at(pod, "/status/phase").to_string();
    let mut message = String::new();
    let own = str_at(pod, "/status/reason");
    if !own.is_empty() {
        reason = own.to_string();
    }
    let init_specs = list(pod, "/spec/initContainers");
    let mut initializing = false;
    for (i, c) in list(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        let terminated = c.pointer("/state/terminated").filter(|t| !t.is_null());
        let waiting_reason = str_at(c, "/state/waiting/reason");
        let sidecar = init_specs
            .get(i)
            .is_some_and(|s| str_at(s, "/restartPolicy") == "Always");
        match terminated {
            Some(t) if int_at(t, "/exitCode") == 0 => continue,
            Some(t) => {
                let r = str_at(t, "/reason");
                reason = if !r.is_empty() {
                    format!("Init:{r}")
                } else if int_at(t, "/signal") != 0 {
                    format!("Init:Signal:{}", int_at(t, "/signal"))
                } else {
                    format!("Init:ExitCode:{}", int_at(t, "/exitCode"))
                };
            }
            None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                reason = format!("Init:{waiting_reason}");
            }
            None if sidecar && c.pointer("/state/running").is_some_and(|r| !r.is_null()) => {
                continue;
            }
            None => reason = format!("Init:{i}/{}", init_specs.len()),
        }
        initializing = true;
        message.push_str(str_at(c, "/lastState/terminated/message"));
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in list(pod, "/status/containerStatuses").iter().rev() {
            let waiting = str_at(c, "/state/waiting/reason");
            let terminated = c.pointer("/state/terminated").filter(|t| !t.is_null());
            if !waiting.is_empty() {
                reason = waiting.to_string();
                if let Some(last) = c.pointer("/lastState/terminated").filter(|t| !t.is_null()) {
                    let m = str_at(last, "/message");
                    if m.is_empty() {
                        message.push_str(&format!("ExitCode:{}", int_at(last, "/exitCode")));
                    } else {
                        message.push_str(m);
                    }
                }
            } else if let Some(t) = terminated {
                let r = str_at(t, "/reason");
                if !r.is_empty() {
                    reason = r.to_string();
                    message.push_str(&format!("ExitCode:{}", int_at(t, "/exitCode")));
                } else if int_at(t, "/signal") != 0 {
                    reason = format!("Signal:{}", int_at(t, "/signal"));
                } else {
                    reason = format!("ExitCode:{}", int_at(t, "/exitCode"));
                }
            } else if c.get("ready").and_then(Value::as_bool) == Some(true)
                && c.pointer("/state/running").is_some_and(|r| !r.is_null())
            {
                has_running = true;
            }
        }
        let conditions = list(pod, "/status/conditions");
        if reason == "Completed" && has_running {
            let ready = conditions
                .iter()
                .any(|c| str_at(c, "/type") == "Ready" && str_at(c, "/status") == "True");
            reason = if ready { "Running" } else { "NotReady" }.to_string();
        }
        for c in conditions {
            if str_at(c, "/type") == "PodScheduled" && str_at(c, "/status") == "False" {
                message.push_str(str_at(c, "/message"));
            }
        }
    }
    if pod
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|d| !d.is_null())
    {
        reason = if own == "NodeLost" {
            "Unknown"
        } else {
            "Terminating"
        }
        .to_string();
    }
    (reason, message)
}

/// Whether a pod is unhealthy: Failed, Pending or Unknown; a derived reason other than
/// Completed or Running; or a container not ready.
pub(crate) fn is_unhealthy(pod: &Value) -> bool {
    if matches!(
        str_at(pod, "/status/phase"),
        "Failed" | "Pending" | "Unknown"
    ) {
        return true;
    }
    match status_reason(pod).0.as_str() {
        "Completed" => false,
        "Running" => list(pod, "/status/containerStatuses")
            .iter()
            .any(|c| c.get("ready").and_then(Value::as_bool) != Some(true)),
        _ => true,
    }
}

/// The Warning event messages about `pod`, joined with `. `.
fn warning_messages(ctx: &Ctx<'_>, pod: &Value) -> String {
    let ns = meta_str(pod, "namespace");
    let by_pod = warnings_by_pod(ctx, ns);
    by_pod
        .get(meta_str(pod, "name"))
        .map(|messages| messages.join(". "))
        .unwrap_or_default()
}

/// The messages of the Warning events about each pod of namespace `ns`, in event order; made
/// once per namespace and analysis, not once per pod.
fn warnings_by_pod(ctx: &Ctx<'_>, ns: &str) -> Rc<HashMap<String, Vec<String>>> {
    let path = format!("cluster-resources/events/{ns}.json");
    ctx.memo(&format!("pod warnings {path}"), || {
        let mut by_pod: HashMap<String, Vec<String>> = HashMap::new();
        let Ok(events) = ctx.json(&path) else {
            return by_pod;
        };
        let Ok(events) = items(&events, &path) else {
            return by_pod;
        };
        for e in events {
            if str_at(e, "/involvedObject/kind") == "Pod"
                && str_at(e, "/involvedObject/namespace") == ns
                && str_at(e, "/type") == "Warning"
                && !str_at(e, "/message").is_empty()
            {
                by_pod
                    .entry(str_at(e, "/involvedObject/name").to_string())
                    .or_default()
                    .push(str_at(e, "/message").to_string());
            }
        }
        by_pod
    })
}

pub(super) fn pod_statuses(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let namespaces: Vec<&str> = body
        .get("namespaces")
        .and_then(Value::as_array)
        .map(|l| l.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut results = Vec::new();
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
        items(&file, &path)?;
        // Each pod is judged on its own copy (its status is filled in); taking the file's pods
        // saves a copy of every pod.
        for pod in into_items(file) {
            results.extend(judge_pod(ctx, pod, &outcomes, meta)?);
        }
    }
    Ok(results)
}

fn judge_pod(
    ctx: &Ctx<'_>,
    mut pod: Value,
    outcomes: &[outcome::Outcome],
    meta: &Meta,
) -> Result<Option<AnalyzeResult>, AnalyzerError> {
    if str_at(&pod, "/status/reason").is_empty() {
        let (reason, message) = status_reason(&pod);
        set_status(&mut pod, "reason", reason);
        set_status(&mut pod, "message", message);
    }
    if str_at(&pod, "/status/message").is_empty() {
        let message = warning_messages(ctx, &pod);
        set_status(&mut pod, "message", message);
    }
    let phase = str_at(&pod, "/status/phase").to_string();
    let reason = str_at(&pod, "/status/reason").to_string();
    for o in outcomes {
        if o.severity.is_none() {
            continue;
        }
        if !o.is_else() {
            let parts: Vec<&str> = o.when.trim().split(' ').collect();
            let (Some(op), Some(want)) = (parts.first(), parts.get(1)) else {
                // troubleshoot skips a malformed `when` (with a log), not the analyzer.
                tracing::warn!("clusterPodStatuses: invalid when {:?}", o.when);
                continue;
            };
            let matched = match Op::parse(op) {
                Some(Op::Eq) if *want == "Healthy" => !is_unhealthy(&pod),
                Some(Op::Eq) => *want == phase || *want == reason,
                Some(Op::Ne) if *want == "Healthy" => is_unhealthy(&pod),
                Some(Op::Ne) => *want != phase && *want != reason,
                _ => false,
            };
            if !matched {
                continue;
            }
        }
        if str_at(&pod, "/status/message").is_empty() {
            set_status(&mut pod, "message", "None".to_string());
        }
        let title = meta.title("Pod {{ .Namespace }}/{{ .Name }} status");
        let message = if o.message.is_empty() {
            "Pod {{ .Namespace }}/{{ .Name }} status is {{ .Status.Reason }}. Message is: {{ .Status.Message }}"
        } else {
            o.message.as_str()
        };
        let mut r = AnalyzeResult::new(template::render(&title, &pod, Missing::Empty)?, NO_ICON);
        r.severity = o.severity;
        r.uri = o.uri.clone();
        r.message = template::render(message, &pod, Missing::Empty)?
            .trim()
            .to_string();
        r.involved_object = Some(ObjectRef {
            kind: "Pod".into(),
            namespace: meta_str(&pod, "namespace").into(),
            name: meta_str(&pod, "name").into(),
            api_version: "v1".into(),
            ..ObjectRef::default()
        });
        return Ok(Some(r));
    }
    Ok(None)
}

fn set_status(pod: &mut Value, field: &str, text: String) {
    if let Some(status) = pod.as_object_mut().map(|o| {
        o.entry("status")
            .or_insert_with(|| Value::Object(Default::default()))
    }) && let Some(status) = status.as_object_mut()
    {
        status.insert(field.to_string(), Value::String(text));
    }
}
