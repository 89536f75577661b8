//! `event`: whether an event with `reason` (and `kind`, and a message matching `regex`) exists in
//! `namespace` (default `default`); `when` is `"true"`/`"false"` and is required; the message is a
//! template over the matched event, falling back to a fixed text when it does not render.

use super::super::outcome;
use super::super::template::{self, Missing};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use super::{items, text};
use serde_json::Value;

const ICON: Icon = Icon(
    "kubernetes_event",
    "https://troubleshoot.sh/images/analyzer-icons/kubernetes.svg?w=16&h=16",
);

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

pub(super) fn event(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<AnalyzeResult, AnalyzerError> {
    let reason = text(body, "reason");
    if reason.is_empty() {
        return Err(AnalyzerError::spec("reason is required"));
    }
    let outcomes = outcome::parse(body)?;
    let mut namespace = text(body, "namespace");
    if namespace.is_empty() {
        namespace = "default".into();
    }
    let path = format!("cluster-resources/events/{namespace}.json");
    let list = ctx.json(&path)?;
    let kind = text(body, "kind");
    let pattern = text(body, "regex");
    // An invalid message regex matches no event (troubleshoot logs it and carries on).
    let re = if pattern.is_empty() {
        None
    } else {
        match regex::Regex::new(&pattern) {
            Ok(re) => Some(re),
            Err(e) => {
                tracing::warn!("event analyzer: invalid regex {pattern:?}: {e}");
                return judge(None, &outcomes, meta, body);
            }
        }
    };
    let found = items(&list, &path)?.iter().find(|e| {
        str_at(e, "/reason").eq_ignore_ascii_case(&reason)
            && (kind.is_empty() || str_at(e, "/involvedObject/kind").eq_ignore_ascii_case(&kind))
            && re
                .as_ref()
                .is_none_or(|re| re.is_match(str_at(e, "/message")))
    });
    judge(found, &outcomes, meta, body)
}

fn judge(
    event: Option<&Value>,
    outcomes: &[outcome::Outcome],
    meta: &Meta,
    body: &Value,
) -> Result<AnalyzeResult, AnalyzerError> {
    let title = meta.title({
        let collector = text(body, "collectorName");
        if collector.is_empty() {
            "Event".to_string()
        } else {
            collector
        }
    });
    let mut r = AnalyzeResult::new(title, ICON);
    for o in outcomes {
        let Some(severity) = o.severity else { continue };
        let want = outcome::parse_bool(&o.when).ok_or_else(|| {
            AnalyzerError::spec(format!(
                "{}.when {:?}: must be \"true\" or \"false\" (it is required here)",
                severity.key(),
                o.when
            ))
        })?;
        if want == event.is_some() {
            r.severity = Some(severity);
            r.uri = o.uri.clone();
            r.message = match event {
                None => o.message.clone(),
                Some(e) => template::render(&o.message, e, Missing::Empty)
                    .map(|m| m.trim().to_string())
                    .unwrap_or_else(|_| {
                        format!(
                            "Event matched. Reason: {} Name: {} Message: {}",
                            str_at(e, "/reason"),
                            str_at(e, "/involvedObject/name"),
                            str_at(e, "/message")
                        )
                    }),
            };
            break;
        }
    }
    Ok(r)
}
