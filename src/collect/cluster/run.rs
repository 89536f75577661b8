//! Collectors that need no cluster call: `data` and `http` (from the agent's host).

use super::jsonout::pretty;
use super::{Ctx, Error};
use crate::collect::host::http::{HttpError, Request, request, result_json};
use crate::collect::host::{parse_go_duration, safe_relative};
use serde_json::Value;
use std::time::Duration;

/// `data`: the literal `data` at `<name>/<collectorName>`.
pub(super) fn data(ctx: &Ctx, body: &Value, collector_name: Option<&str>) -> Result<(), Error> {
    let mut parts = safe_relative(body["name"].as_str().unwrap_or(""));
    parts.extend(safe_relative(collector_name.unwrap_or("")));
    if parts.is_empty() {
        return Err(Error::Spec(
            "`data` needs `name` or `collectorName` for its file".into(),
        ));
    }
    let text = match &body["data"] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    ctx.write(&parts.join("/"), &text)
}

/// `http`: one request from the agent; the result (or the transport error) is the document
/// `<name>/<collectorName or result>.json`.
pub(super) async fn http(
    ctx: &Ctx,
    body: &Value,
    collector_name: Option<&str>,
) -> Result<(), Error> {
    let (method, spec) = ["get", "post", "put"]
        .iter()
        .find_map(|m| {
            body.get(*m)
                .filter(|v| v.is_object())
                .map(|s| (m.to_uppercase(), s))
        })
        .ok_or_else(|| Error::Spec("one of `get`, `post` or `put` is required".into()))?;
    let url = spec["url"]
        .as_str()
        .ok_or_else(|| Error::Spec("`url` is required".into()))?;
    let headers: Vec<(String, String)> = spec["headers"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            )
        })
        .collect();
    let timeout = match spec["timeout"].as_str().filter(|t| !t.is_empty()) {
        Some(t) => parse_go_duration(t)
            .ok_or_else(|| Error::Spec(format!("`timeout`: {t:?} is not a duration")))?,
        None => Duration::from_secs(30),
    };
    let payload = spec["body"].as_str().unwrap_or("");
    let result = match super::db::tls_params(ctx, spec).await {
        Ok(tls) => {
            // Only `insecureSkipVerify` skips verification, as in troubleshoot (not `tls.skipVerify`).
            let mut tls = tls.unwrap_or_default();
            tls.skip_verify = spec["insecureSkipVerify"].as_bool().unwrap_or(false);
            request(&Request {
                method: &method,
                url,
                headers: &headers,
                body: payload.as_bytes(),
                timeout,
                tls: &tls,
            })
            .await
        }
        Err(e) => Err(HttpError::TlsOptions(e.to_string())),
    };
    let mut parts = safe_relative(body["name"].as_str().unwrap_or(""));
    let file = collector_name.filter(|n| !n.is_empty()).unwrap_or("result");
    parts.push(crate::collect::host::output::file_name(file, ".json"));
    ctx.write(&parts.join("/"), &pretty(&result_json(&result)))
}
