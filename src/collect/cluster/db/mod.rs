//! The database collectors `postgres`, `mysql`, `mssql`, `redis` and `clickhouse`: the agent
//! connects with the collector's `uri` (and `tls`), runs troubleshoot's version query and writes
//! `<type>/<collectorName or type>.json` with troubleshoot's fields (`isConnected`, `error`,
//! `version`, `variables`).
//!
//! As in troubleshoot, a connection that fails is data, not a collector failure: the file says
//! `isConnected: false` and why, for the analyzers. Only what this build cannot do at all (the
//! ClickHouse native protocol) fails the collector, and then no connection file is written.
//!
//! The URI carries a password: it is never logged, and every message that reaches the bundle or
//! the run record passes through [`Secrets::scrub`] first.

mod clickhouse;
mod mssql;
mod mysql;
mod postgres;
mod redis;
#[cfg(test)]
mod tests;
pub(crate) mod tls;

use super::{Ctx, Error, namespace_of};
use crate::collect::host::output::{file_name, go_json};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
pub(crate) use tls::TlsParams;

/// One database collector type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Db {
    /// PostgreSQL (pgx URIs and key/value strings).
    Postgres,
    /// MySQL and MariaDB (go-sql-driver DSNs).
    Mysql,
    /// SQL Server (go-mssqldb URLs and ADO strings).
    Mssql,
    /// Redis (go-redis URLs).
    Redis,
    /// ClickHouse (clickhouse-go DSNs; this build speaks its HTTP interface).
    Clickhouse,
}

impl Db {
    /// The collector type for a spec key.
    pub fn from_kind(kind: &str) -> Option<Db> {
        Some(match kind {
            "postgres" => Db::Postgres,
            "mysql" => Db::Mysql,
            "mssql" => Db::Mssql,
            "redis" => Db::Redis,
            "clickhouse" => Db::Clickhouse,
            _ => return None,
        })
    }

    /// The spec key, also the output folder and the default collector name.
    pub fn key(self) -> &'static str {
        match self {
            Db::Postgres => "postgres",
            Db::Mysql => "mysql",
            Db::Mssql => "mssql",
            Db::Redis => "redis",
            Db::Clickhouse => "clickhouse",
        }
    }
}

/// Whether a database collector entry needs no Kubernetes API: a `tls.secret` or a v1beta3
/// `valueFrom` does.
pub fn runs_locally(kind: &str, body: &Value) -> bool {
    let from_cluster = |v: &Value| v.get("valueFrom").is_some();
    Db::from_kind(kind).is_some()
        && !body["tls"]["secret"].is_object()
        && !from_cluster(&body["uri"])
        && !["cacert", "clientCert", "clientKey"]
            .iter()
            .any(|k| from_cluster(&body["tls"][*k]))
}

/// A v1beta3 `StringOrValueFrom` as troubleshoot resolves it: a string; `{value: ...}`; or
/// `{valueFrom: {secretKeyRef | configMapKeyRef: {name, key, namespace, optional}}}` read from
/// the cluster (the namespace defaults to the collector's). An absent object or key is `""` when
/// `optional`, else an error, worded as troubleshoot's.
async fn resolve(ctx: &Ctx, body: &Value, field: &str, v: &Value) -> Result<String, Error> {
    let (from, kind) = match v {
        Value::String(s) => return Ok(s.clone()),
        Value::Null => return Ok(String::new()),
        Value::Object(o) if o.get("value").is_some_and(Value::is_string) => {
            return Ok(o["value"].as_str().unwrap_or_default().to_string());
        }
        Value::Object(o) => {
            let from = o.get("valueFrom").unwrap_or(&Value::Null);
            if from["secretKeyRef"].is_object() {
                (&from["secretKeyRef"], "secret")
            } else if from["configMapKeyRef"].is_object() {
                (&from["configMapKeyRef"], "configmap")
            } else {
                return Ok(String::new());
            }
        }
        _ => {
            return Err(Error::Spec(format!(
                "`{field}` must be a string or a `valueFrom`"
            )));
        }
    };
    let name = from["name"].as_str().unwrap_or_default();
    let key = from["key"].as_str().unwrap_or_default();
    let optional = from["optional"].as_bool().unwrap_or(false);
    let ns = from["namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map_or_else(|| namespace_of(ctx, body), str::to_string);
    let plural = if kind == "secret" {
        "secrets"
    } else {
        "configmaps"
    };
    let path = format!(
        "/api/v1/namespaces/{}/{plural}/{}",
        super::api::encode(&ns),
        super::api::encode(name)
    );
    let object = match ctx.api.get(&path).await {
        Ok(o) => o,
        Err(_) if optional => return Ok(String::new()),
        Err(e) => {
            return Err(Error::Other(format!(
                "failed to get {kind} {ns}/{name}: {e}"
            )));
        }
    };
    let value = object["data"][key].as_str().and_then(|raw| {
        if kind == "configmap" {
            return Some(raw.to_string());
        }
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
        String::from_utf8(bytes).ok()
    });
    match value {
        Some(v) => Ok(v),
        None if optional => Ok(String::new()),
        None => Err(Error::Other(format!(
            "key \"{key}\" not found in {kind} {ns}/{name}"
        ))),
    }
}

/// troubleshoot's `DatabaseConnection`, field for field (Go `omitempty` where it has it).
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Report {
    #[serde(rename = "isConnected")]
    pub is_connected: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(skip_serializing_if = "variables_empty")]
    pub variables: Option<BTreeMap<String, String>>,
}

fn variables_empty(v: &Option<BTreeMap<String, String>>) -> bool {
    v.as_ref().is_none_or(BTreeMap::is_empty)
}

impl Report {
    /// Connected, with the version read from the server's `text` (`None`: it did not match
    /// the driver's pattern, reported as troubleshoot does).
    pub fn connected(db: &str, text: &str, version: Option<String>) -> Report {
        match version {
            Some(v) => Report {
                is_connected: true,
                version: v,
                ..Report::default()
            },
            None => Report {
                is_connected: true,
                version: "Unknown".into(),
                error: format!("{db} version did not match regex: {text:?}"),
                ..Report::default()
            },
        }
    }

    /// Not connected, for `error`.
    pub fn failed(error: impl Into<String>) -> Report {
        Report {
            error: error.into(),
            ..Report::default()
        }
    }
}

/// What a probe could not do because this build lacks it (the collector fails, no file).
#[derive(Debug, thiserror::Error)]
#[error("this build cannot connect to {what}: {why}")]
pub(crate) struct Unsupported {
    pub what: &'static str,
    pub why: String,
}

/// Everything a probe gets.
pub(crate) struct Probe<'a> {
    pub uri: &'a str,
    pub tls: Option<&'a TlsParams>,
    /// `parameters` (mysql's `SHOW VARIABLES` filter).
    pub parameters: &'a [String],
}

/// Runs one database collector.
pub(super) async fn collect(
    ctx: &Ctx,
    db: Db,
    body: &Value,
    collector_name: Option<&str>,
) -> Result<(), Error> {
    let uri = resolve(ctx, body, "uri", &body["uri"]).await?;
    let uri = uri.as_str();
    let secrets = Secrets::of(uri);
    let parameters: Vec<String> = body["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_string))
        .collect();
    let timeout = ctx.opts.call_timeout;
    let report = match tls_params(ctx, body).await {
        Err(e) => Ok(Report::failed(e.to_string())),
        Ok(tls) => {
            let probe = Probe {
                uri,
                tls: tls.as_ref(),
                parameters: &parameters,
            };
            match tokio::time::timeout(timeout, run(db, &probe)).await {
                Ok(r) => r,
                Err(_) => Ok(Report::failed(format!(
                    "no answer from the {} server within {}",
                    db.key(),
                    secs(timeout)
                ))),
            }
        }
    };
    let mut report = match report {
        Ok(r) => r,
        Err(e) => return Err(Error::Other(secrets.scrub(&e.to_string()))),
    };
    report.error = secrets.scrub(&report.error);
    let name = collector_name.filter(|n| !n.is_empty()).unwrap_or(db.key());
    let rel = format!("{}/{}", db.key(), file_name(name, ".json"));
    ctx.write(&rel, &go_json(&report, None)?)
}

async fn run(db: Db, probe: &Probe<'_>) -> Result<Report, Unsupported> {
    Ok(match db {
        Db::Postgres => postgres::probe(probe).await,
        Db::Mysql => mysql::probe(probe).await,
        Db::Mssql => mssql::probe(probe).await,
        Db::Redis => redis::probe(probe).await,
        Db::Clickhouse => clickhouse::probe(probe).await?,
    })
}

fn secs(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// Why the `tls.secret` gives no TLS parameters (troubleshoot's texts).
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsSecretError {
    /// The Secret could not be read.
    #[error("failed to get secret: {0}")]
    Get(super::api::ApiError),
    /// It has no `cacert`.
    #[error("failed to find 'cacert' key for CA cert data in secret")]
    NoCa,
    /// A v1beta3 `valueFrom` of a TLS field could not be read.
    #[error(transparent)]
    ValueFrom(Box<Error>),
}

/// The collector's `tls`, with a `secret` read from the cluster (keys `cacert`, `clientCert`,
/// `clientKey`, as troubleshoot reads them). An error is the connection file's error, as in
/// troubleshoot.
pub(crate) async fn tls_params(
    ctx: &Ctx,
    body: &Value,
) -> Result<Option<TlsParams>, TlsSecretError> {
    let tls = &body["tls"];
    if !tls.is_object() {
        return Ok(None);
    }
    let mut text = Vec::new();
    for key in ["cacert", "clientCert", "clientKey"] {
        text.push(
            resolve(ctx, body, &format!("tls.{key}"), &tls[key])
                .await
                .map_err(|e| TlsSecretError::ValueFrom(Box::new(e)))?,
        );
    }
    let mut text = text.into_iter();
    let mut params = TlsParams {
        skip_verify: tls["skipVerify"].as_bool().unwrap_or(false),
        ca_cert: text.next().unwrap_or_default(),
        client_cert: text.next().unwrap_or_default(),
        client_key: text.next().unwrap_or_default(),
    };
    let secret = &tls["secret"];
    if secret.is_object() && !params.skip_verify {
        let ns = namespace_of(ctx, secret);
        let name = secret["name"].as_str().unwrap_or("");
        let path = format!(
            "/api/v1/namespaces/{}/secrets/{}",
            super::api::encode(&ns),
            super::api::encode(name)
        );
        let found = ctx.api.get(&path).await.map_err(TlsSecretError::Get)?;
        let data = |key: &str| -> Option<String> {
            use base64::Engine;
            let b64 = found["data"][key].as_str()?;
            let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
            String::from_utf8(bytes).ok()
        };
        params.ca_cert = data("cacert").ok_or(TlsSecretError::NoCa)?;
        params.client_cert = data("clientCert").unwrap_or_default();
        params.client_key = data("clientKey").unwrap_or_default();
    }
    Ok(Some(params))
}

/// The secret parts of a URI, to be taken out of any message before it is written.
pub(crate) struct Secrets {
    words: Vec<String>,
}

impl Secrets {
    /// The URI itself and its password in every form troubleshoot's drivers accept:
    /// `scheme://user:password@`, go-sql-driver's `user:password@tcp(...)`, and
    /// `password=...` / `pwd=...` in key/value and ADO strings.
    pub fn of(uri: &str) -> Secrets {
        let mut words = Vec::new();
        let userinfo = uri.split_once("://").map_or(uri, |(_, rest)| rest);
        if let Some((auth, _)) = userinfo.rsplit_once('@')
            && let Some((_, pass)) = auth.split_once(':')
        {
            words.push(pass.to_string());
        }
        for part in uri.split([';', ' ', '&', '?']) {
            if let Some((k, v)) = part.split_once('=') {
                let k = k.trim().to_ascii_lowercase();
                if k == "password" || k == "pwd" {
                    words.push(v.trim().trim_matches(['\'', '"']).to_string());
                }
            }
        }
        let decoded: Vec<String> = words
            .iter()
            .map(|w| percent_decode(w))
            .filter(|d| !words.contains(d))
            .collect();
        words.extend(decoded);
        words.push(uri.to_string());
        words.retain(|w| !w.is_empty());
        // Longest first, so the URI goes before the password inside it.
        words.sort_by_key(|w| std::cmp::Reverse(w.len()));
        Secrets { words }
    }

    /// `message` with every secret replaced by `***`.
    pub fn scrub(&self, message: &str) -> String {
        let mut out = message.to_string();
        for w in &self.words {
            if out.contains(w.as_str()) {
                out = out.replace(w.as_str(), "***");
            }
        }
        out
    }
}

/// `%XX` decoded (invalid sequences kept as they are).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A `host:port` that does not parse.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AddressError {
    /// `[` without `]`.
    #[error("{0:?}: unclosed '['")]
    Unclosed(String),
    /// A port that is no number.
    #[error("{0:?} is not a port number")]
    Port(String),
}

/// `host:port` split, with `default` when no port is given; IPv6 literals in brackets.
pub(crate) fn host_port(addr: &str, default: u16) -> Result<(String, u16), AddressError> {
    let (host, port) = if let Some(rest) = addr.strip_prefix('[') {
        let (h, after) = rest
            .split_once(']')
            .ok_or_else(|| AddressError::Unclosed(addr.to_string()))?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match addr.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (addr.to_string(), None),
        }
    };
    let port = match port {
        None | Some("") => default,
        Some(p) => p.parse().map_err(|_| AddressError::Port(p.to_string()))?,
    };
    if host.is_empty() {
        return Ok(("localhost".into(), port));
    }
    Ok((host, port))
}
