//! Notifications about finished runs: which events a run record raises, the JSON payload that
//! describes it, and delivery to the job's webhooks ([`webhook`]). The first two are pure
//! functions of the record; delivery never changes a run's outcome.

pub mod target;
pub mod webhook;

use crate::state::records::{NotificationRecord, PhaseStatus, RunRecord, RunStatus};
use crate::state::records::{NotificationStatus, UploadStatus};
use serde_json::{Value, json};
use target::{NotifyEvent, NotifyTarget};

/// Version of the payload's shape (`payloadVersion`); bumped on an incompatible change.
pub const PAYLOAD_VERSION: u32 = 1;

/// The name an event has in job files, payloads and records.
pub fn event_name(event: NotifyEvent) -> &'static str {
    match event {
        NotifyEvent::Failed => "failed",
        NotifyEvent::Succeeded => "succeeded",
        NotifyEvent::SucceededWithErrors => "succeededWithErrors",
        NotifyEvent::TimedOut => "timedOut",
        NotifyEvent::Missed => "missed",
        NotifyEvent::UploadFailed => "uploadFailed",
        NotifyEvent::AnalysisFailed => "analysisFailed",
        NotifyEvent::AnalysisWarned => "analysisWarned",
        NotifyEvent::Changed => "changed",
    }
}

/// Analyzer outcomes of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AnalysisCounts {
    /// Outcomes that passed.
    pub pass: u64,
    /// Warnings.
    pub warn: u64,
    /// Failures.
    pub fail: u64,
}

/// Counts the record's analysis, which is either counts (`{"pass": n, "warn": n, "fail": n}`) or
/// troubleshoot's result list (`analysis.json` / the CLI's `analyzerResults`: `severity` `error`,
/// `warn` or `debug`, or the older `isFail` / `isWarn` / `isPass` flags).
pub fn analysis_counts(analysis: &Value) -> Option<AnalysisCounts> {
    match analysis {
        Value::Object(map) => {
            let get = |k: &str| map.get(k).and_then(Value::as_u64);
            if get("pass").is_none() && get("warn").is_none() && get("fail").is_none() {
                return None;
            }
            Some(AnalysisCounts {
                pass: get("pass").unwrap_or(0),
                warn: get("warn").unwrap_or(0),
                fail: get("fail").unwrap_or(0),
            })
        }
        Value::Array(results) => {
            let mut counts = AnalysisCounts::default();
            for r in results {
                let flag = |k: &str| r.get(k).and_then(Value::as_bool).unwrap_or(false);
                match r.get("severity").and_then(Value::as_str) {
                    Some("error") => counts.fail += 1,
                    Some("warn") => counts.warn += 1,
                    Some("debug") => counts.pass += 1,
                    _ if flag("isFail") => counts.fail += 1,
                    _ if flag("isWarn") => counts.warn += 1,
                    _ if flag("isPass") => counts.pass += 1,
                    _ => {}
                }
            }
            Some(counts)
        }
        _ => None,
    }
}

/// Every event a finished (or missed) run raises, in a fixed order: the status event first.
/// `skipped`, `interrupted` and `running` records raise no status event.
pub fn events(record: &RunRecord) -> Vec<NotifyEvent> {
    let mut out = Vec::new();
    match record.status {
        RunStatus::Succeeded => out.push(NotifyEvent::Succeeded),
        RunStatus::SucceededWithErrors => out.push(NotifyEvent::SucceededWithErrors),
        RunStatus::Failed => out.push(NotifyEvent::Failed),
        RunStatus::TimedOut => out.push(NotifyEvent::TimedOut),
        RunStatus::Missed => out.push(NotifyEvent::Missed),
        RunStatus::Running | RunStatus::Skipped | RunStatus::Interrupted => {}
        // Its analysis events below say what failed.
        RunStatus::AnalysisFailed => {}
    }
    let upload_failed = record
        .uploads
        .iter()
        .any(|u| u.status == UploadStatus::Failed)
        || record
            .phases
            .iter()
            .any(|p| p.name == "upload" && p.status == PhaseStatus::Failed);
    if upload_failed {
        out.push(NotifyEvent::UploadFailed);
    }
    if let Some(counts) = record.analysis.as_ref().and_then(analysis_counts) {
        if counts.fail > 0 {
            out.push(NotifyEvent::AnalysisFailed);
        }
        if counts.warn > 0 {
            out.push(NotifyEvent::AnalysisWarned);
        }
    }
    if record
        .changes
        .as_ref()
        .is_some_and(|c| !c.counts.is_empty())
    {
        out.push(NotifyEvent::Changed);
    }
    out
}

/// Whether the record's changes include a kind `changed_only` names (any kind when it is empty).
pub fn changes_match(record: &RunRecord, changed_only: &[crate::changes::Category]) -> bool {
    let Some(changes) = &record.changes else {
        return false;
    };
    changed_only.is_empty()
        || changed_only
            .iter()
            .any(|c| changes.counts.get(c.as_str()).is_some_and(|n| *n > 0))
}

/// The events of `raised` that a webhook listening `on` these wants, in `raised`'s order.
pub fn wanted(raised: &[NotifyEvent], on: &[NotifyEvent]) -> Vec<NotifyEvent> {
    raised.iter().copied().filter(|e| on.contains(e)).collect()
}

/// The JSON body sent for `record` carrying `events` (documented in README.md, "Notifications").
pub fn payload(record: &RunRecord, events: &[NotifyEvent], agent_version: &str) -> Value {
    let names: Vec<&str> = events.iter().map(|e| event_name(*e)).collect();
    let duration_ms = record
        .ended_at
        .map(|end| u64::try_from((end - record.started_at).num_milliseconds()).unwrap_or(0));
    let error = match record.status {
        RunStatus::Succeeded => None,
        _ => record.reason.clone(),
    };
    let phases: Vec<Value> = record
        .phases
        .iter()
        .map(|p| {
            let mut v = json!({
                "name": p.name,
                "status": serde_json::to_value(p.status).unwrap_or(Value::Null),
                "durationMs": p.duration_ms,
            });
            if let Some(e) = &p.error {
                v["error"] = json!(e);
            }
            v
        })
        .collect();
    let uploads: Vec<Value> = record
        .uploads
        .iter()
        .map(|u| {
            let mut v = json!({
                "target": u.target,
                "url": u.url,
                "status": u.status,
                "attempts": u.attempts,
                "size": u.size,
            });
            if let Some(e) = &u.error {
                v["error"] = json!(e);
            }
            v
        })
        .collect();
    let mut body = json!({
        "payloadVersion": PAYLOAD_VERSION,
        "event": names.first().copied(),
        "events": names,
        "job": record.job,
        "runId": record.run_id,
        "trigger": serde_json::to_value(record.trigger).unwrap_or(Value::Null),
        "attempt": record.attempt,
        "status": record.status.as_str(),
        "reason": record.reason,
        "error": error,
        "scheduledAt": record.scheduled_at,
        "startedAt": record.started_at,
        "endedAt": record.ended_at,
        "durationMs": duration_ms,
        "phases": phases,
        "bundle": record.bundle.as_ref().map(|b| json!({
            "path": b.path,
            "size": b.size,
            "sha256": b.sha256,
            "partial": b.partial,
        })),
        "uploads": uploads,
        "host": {
            "name": record.host,
            "agentVersion": agent_version,
        },
    });
    if let Some(counts) = record.analysis.as_ref().and_then(analysis_counts) {
        body["analysis"] = json!({"pass": counts.pass, "warn": counts.warn, "fail": counts.fail});
        // The builtin analyzers' record names what failed and warned (title and message).
        for key in ["fails", "warnings"] {
            if let Some(list) = record.analysis.as_ref().and_then(|a| a.get(key)) {
                body["analysis"][key] = list.clone();
            }
        }
    }
    if let Some(c) = &record.changes {
        body["changes"] = json!({"summary": c.summary, "counts": c.counts, "since": c.since});
    }
    if let Some(m) = &record.missed {
        body["missed"] = json!({
            "count": m.count,
            "first": m.first,
            "last": m.last,
            "capped": m.capped,
        });
    }
    body
}

/// Tells every target of a job about `record` (those whose `on:` matches an event it raises),
/// one target after another; returns what happened to each call. Never fails: a failed call is
/// logged and recorded.
pub async fn deliver(
    targets: &[NotifyTarget],
    record: &RunRecord,
    agent_version: &str,
) -> Vec<NotificationRecord> {
    let raised = events(record);
    let mut out = Vec::new();
    for target in targets {
        let NotifyTarget::Webhook(hook) = target;
        let mut events = wanted(&raised, &hook.on);
        events.retain(|e| *e != NotifyEvent::Changed || changes_match(record, &hook.changed_only));
        if events.is_empty() {
            continue;
        }
        let body = payload(record, &events, agent_version);
        let seed = webhook::seed(&record.job, &record.run_id, &hook.url);
        let result = webhook::send(hook, &body, seed).await;
        let names: Vec<String> = events.iter().map(|e| event_name(*e).to_string()).collect();
        let shown = webhook::display_url(&hook.url);
        match &result.error {
            None => {
                tracing::info!(job = %record.job, run = %record.run_id, url = %shown, events = ?names, attempts = result.attempts, "notification delivered")
            }
            Some(e) => {
                tracing::warn!(job = %record.job, run = %record.run_id, url = %shown, events = ?names, attempts = result.attempts, "notification failed (the run's outcome is unchanged): {e}")
            }
        }
        out.push(NotificationRecord {
            url: shown,
            events: names,
            attempts: result.attempts,
            status: if result.error.is_none() {
                NotificationStatus::Delivered
            } else {
                NotificationStatus::Failed
            },
            http_status: result.http_status,
            error: result.error,
        });
    }
    out
}

#[cfg(test)]
mod tests;
