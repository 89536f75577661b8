//! `helm`: release history decoded from Helm's release Secrets (`sh.helm.release.v1.<name>.v<N>`,
//! labelled `owner=helm`; their `release` key is base64 of gzipped JSON) → `helm/<ns>.json`, or
//! `helm/<ns>/<releaseName>.json` for one release; failures in `helm/errors.json`.
//!
//! Only what troubleshoot writes leaves the Secret: names, chart, versions, dates, statuses, and
//! the values only with `collectValues: true`. Manifests, hooks and notes never do.

use super::api::encode;
use super::jsonout::pretty;
use super::{Ctx, Error};
use crate::collect::host::output::go_escape;
use crate::collect::host::sanitize_component;
use base64::Engine;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::Read;

/// Decoded releases larger than this are refused (a release is a few hundred KiB at most).
const MAX_RELEASE: u64 = 64 << 20;

/// One decoded release revision: the fields troubleshoot reports.
#[derive(Clone, Debug, PartialEq)]
pub struct Release {
    /// Release name.
    pub name: String,
    /// Release namespace.
    pub namespace: String,
    /// Revision number.
    pub version: i64,
    /// `info.status` (`deployed`, `superseded`, `pending-upgrade`...).
    pub status: String,
    /// `info.last_deployed` as sent (RFC 3339).
    pub last_deployed: String,
    /// Chart name, version and appVersion.
    pub chart: (String, String, String),
    /// Chart defaults overlaid with the user's values (only kept when asked for).
    pub values: Option<Value>,
}

/// Why a release Secret's `release` key cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The API's base64 layer.
    #[error("not base64: {0}")]
    ApiBase64(base64::DecodeError),
    /// Helm's own base64 layer.
    #[error("the release is not base64: {0}")]
    Base64(base64::DecodeError),
    /// The gzip layer.
    #[error("the release is not gzip: {0}")]
    Gzip(std::io::Error),
    /// The JSON inside.
    #[error("the release is not JSON: {0}")]
    Json(serde_json::Error),
}

/// Decodes the `release` key of a release Secret as the API returns it (base64 of Helm's own
/// base64 of gzipped JSON); `keep_values` keeps the merged values.
pub fn decode(api_value: &str, keep_values: bool) -> Result<Release, ReleaseError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let inner = b64
        .decode(api_value.trim())
        .map_err(ReleaseError::ApiBase64)?;
    let raw = b64
        .decode(inner.trim_ascii())
        .map_err(ReleaseError::Base64)?;
    let json_bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(MAX_RELEASE)
            .read_to_end(&mut out)
            .map_err(ReleaseError::Gzip)?;
        out
    } else {
        raw
    };
    let rel: Value = serde_json::from_slice(&json_bytes).map_err(ReleaseError::Json)?;
    let s = |p: &str| {
        rel.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let values = keep_values.then(|| {
        let mut merged = rel.pointer("/chart/values").cloned().unwrap_or(json!({}));
        merge(&mut merged, rel.get("config").unwrap_or(&Value::Null));
        sort_keys(merged)
    });
    Ok(Release {
        name: s("/name"),
        namespace: s("/namespace"),
        version: rel["version"].as_i64().unwrap_or(0),
        status: s("/info/status"),
        last_deployed: s("/info/last_deployed"),
        chart: (
            s("/chart/metadata/name"),
            s("/chart/metadata/version"),
            s("/chart/metadata/appVersion"),
        ),
        values,
    })
}

/// Overlays user values on chart defaults as Helm does: maps merge, a `null` deletes.
fn merge(base: &mut Value, over: &Value) {
    let (Some(b), Some(o)) = (base.as_object_mut(), over.as_object()) else {
        if !over.is_null() {
            *base = over.clone();
        }
        return;
    };
    for (k, v) in o {
        match (b.get_mut(k), v) {
            (_, Value::Null) => {
                b.shift_remove(k);
            }
            (Some(existing), Value::Object(_)) if existing.is_object() => merge(existing, v),
            _ => {
                b.insert(k.clone(), v.clone());
            }
        }
    }
}

/// Map keys sorted at every level, as Go's encoder writes a map.
fn sort_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<String, Value> =
                m.into_iter().map(|(k, v)| (k, sort_keys(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// Go's `time.Time.String()` of an RFC 3339 time: `2024-05-01 10:00:00.123 +0000 UTC`.
pub fn go_time_string(rfc3339: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(rfc3339) else {
        return rfc3339.to_string();
    };
    let mut out = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = t.timestamp_subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    let offset = t.format("%z").to_string();
    // A parsed `Z` is UTC; any other offset has no zone name, which Go prints as the offset.
    let zone = if rfc3339.ends_with('Z') || rfc3339.ends_with('z') {
        "UTC".to_string()
    } else {
        offset.clone()
    };
    format!("{out} {offset} {zone}")
}

fn is_pending(status: &str) -> bool {
    matches!(
        status,
        "pending-install" | "pending-upgrade" | "pending-rollback"
    )
}

/// troubleshoot's ReleaseInfo of one release from its revisions (any order).
pub fn release_info(mut revisions: Vec<Release>) -> Value {
    revisions.sort_by_key(|r| r.version);
    let latest = revisions.last().cloned();
    let mut m = Map::new();
    if let Some(l) = &latest {
        m.insert("releaseName".into(), l.name.clone().into());
        for (key, val) in [
            ("chart", &l.chart.0),
            ("chartVersion", &l.chart.1),
            ("appVersion", &l.chart.2),
            ("namespace", &l.namespace),
        ] {
            if !val.is_empty() {
                m.insert(key.into(), val.clone().into());
            }
        }
    }
    let history: Vec<Value> = revisions
        .iter()
        .map(|r| {
            let mut h = Map::new();
            h.insert("revision".into(), r.version.to_string().into());
            h.insert("date".into(), go_time_string(&r.last_deployed).into());
            h.insert("status".into(), r.status.clone().into());
            if is_pending(&r.status) {
                h.insert("isPending".into(), true.into());
            }
            if let Some(v) = r
                .values
                .as_ref()
                .filter(|v| v.as_object().is_none_or(|o| !o.is_empty()))
            {
                h.insert("values".into(), v.clone());
            }
            Value::Object(h)
        })
        .collect();
    if !history.is_empty() {
        m.insert("releaseHistory".into(), Value::Array(history));
    }
    Value::Object(m)
}

/// Go's `MarshalIndent(v, "", "\t")`.
fn tab_json(v: &Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    let _ = serde::Serialize::serialize(v, &mut ser);
    go_escape(&String::from_utf8_lossy(&buf))
}

/// Every release revision in `ns` (all namespaces when empty), by (namespace, name).
async fn load(
    ctx: &Ctx,
    ns: &str,
    only: Option<&str>,
    keep_values: bool,
    errors: &mut Vec<String>,
) -> Result<BTreeMap<(String, String), Vec<Release>>, Error> {
    let mut selector = "owner=helm".to_string();
    if let Some(name) = only {
        selector.push_str(",name=");
        selector.push_str(name);
    }
    let base = if ns.is_empty() {
        "/api/v1/secrets".to_string()
    } else {
        format!("/api/v1/namespaces/{}/secrets", encode(ns))
    };
    let path = format!("{base}?labelSelector={}", encode(&selector));
    let mut out: BTreeMap<(String, String), Vec<Release>> = BTreeMap::new();
    let each = |items: Vec<Value>| {
        for secret in &items {
            if secret["type"] != "helm.sh/release.v1" {
                continue;
            }
            let secret_name = secret["metadata"]["name"].as_str().unwrap_or("");
            let secret_ns = secret["metadata"]["namespace"].as_str().unwrap_or("");
            match decode(
                secret["data"]["release"].as_str().unwrap_or(""),
                keep_values,
            ) {
                Ok(mut r) => {
                    if r.namespace.is_empty() {
                        r.namespace = secret_ns.to_string();
                    }
                    out.entry((r.namespace.clone(), r.name.clone()))
                        .or_default()
                        .push(r);
                }
                Err(e) => errors.push(format!("secret {secret_ns}/{secret_name}: {e}")),
            }
        }
    };
    ctx.api.list_each(&path, ctx.opts.page_size, each).await?;
    Ok(out)
}

/// Runs `helm`: with `releaseName`, that release's history; else every release whose latest
/// revision is deployed or failed (what `helm list` shows), grouped by namespace.
pub(super) async fn collect(ctx: &Ctx, body: &Value) -> Result<(), Error> {
    let ns = body["namespace"].as_str().unwrap_or("");
    let only = body["releaseName"].as_str().filter(|s| !s.is_empty());
    let keep_values = body["collectValues"].as_bool() == Some(true);
    let mut errors = Vec::new();
    let releases = match load(ctx, ns, only, keep_values, &mut errors).await {
        Ok(r) => r,
        Err(e) => {
            errors.push(e.to_string());
            BTreeMap::new()
        }
    };
    if only.is_some() && releases.is_empty() && errors.is_empty() {
        errors.push("release: not found".to_string());
    }
    if !errors.is_empty() {
        // As troubleshoot: any failure replaces the whole output with the errors.
        return ctx.write("helm/errors.json", &pretty(&Value::from(errors)));
    }
    let mut by_ns: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for ((release_ns, _), revisions) in releases {
        let latest = revisions
            .iter()
            .max_by_key(|r| r.version)
            .map(|r| r.status.clone());
        if only.is_none() && !matches!(latest.as_deref(), Some("deployed" | "failed")) {
            continue;
        }
        by_ns
            .entry(release_ns)
            .or_default()
            .push(release_info(revisions));
    }
    for (release_ns, infos) in by_ns {
        let rel = match only {
            Some(name) => format!(
                "helm/{}/{}.json",
                sanitize_component(&release_ns),
                sanitize_component(name)
            ),
            None => format!("helm/{}.json", sanitize_component(&release_ns)),
        };
        ctx.write(&rel, &tab_json(&Value::Array(infos)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A release Secret's `release` value as the API returns it.
    pub(crate) fn encoded(release: &Value) -> String {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(release.to_string().as_bytes()).expect("gzip");
        let b64 = base64::engine::general_purpose::STANDARD;
        b64.encode(b64.encode(gz.finish().expect("gzip")))
    }

    fn release(version: i64, status: &str) -> Value {
        json!({
            "name": "web", "namespace": "apps", "version": version,
            "info": {"status": status, "last_deployed": "2024-05-01T10:00:00.5Z"},
            "chart": {"metadata": {"name": "nginx", "version": "1.2.3", "appVersion": "1.25"},
                      "values": {"replicas": 1, "image": {"tag": "a", "pull": "always"}}},
            "config": {"image": {"tag": "b", "pull": null}, "password": "hunter2"},
            "manifest": "kind: Secret\ndata: {token: c2VjcmV0}"
        })
    }

    #[test]
    fn decodes_and_reports_only_what_troubleshoot_does() {
        let revs = vec![
            decode(&encoded(&release(2, "deployed")), false).expect("decode"),
            decode(&encoded(&release(1, "superseded")), false).expect("decode"),
        ];
        let info = release_info(revs);
        let text = tab_json(&info);
        assert!(
            text.starts_with("{\n\t\"releaseName\": \"web\",\n\t\"chart\": \"nginx\""),
            "{text}"
        );
        assert_eq!(info["releaseHistory"][0]["revision"], "1");
        assert_eq!(
            info["releaseHistory"][1]["date"],
            "2024-05-01 10:00:00.5 +0000 UTC"
        );
        assert!(
            !text.contains("hunter2") && !text.contains("manifest") && !text.contains("values")
        );
    }

    #[test]
    fn values_are_chart_defaults_overlaid_with_config() {
        let r = decode(&encoded(&release(1, "pending-upgrade")), true).expect("decode");
        assert_eq!(
            r.values,
            Some(json!({"image": {"tag": "b"}, "password": "hunter2", "replicas": 1}))
        );
        assert_eq!(
            release_info(vec![r])["releaseHistory"][0]["isPending"],
            true
        );
        assert!(decode("bm90IGJhc2U2NA==", false).is_err());
    }

    #[test]
    fn go_time_strings() {
        assert_eq!(
            go_time_string("2024-05-01T10:00:00Z"),
            "2024-05-01 10:00:00 +0000 UTC"
        );
        assert_eq!(
            go_time_string("2024-05-01T10:00:00.120+02:00"),
            "2024-05-01 10:00:00.12 +0200 +0200"
        );
    }
}
