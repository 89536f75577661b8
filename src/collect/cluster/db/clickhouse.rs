//! `clickhouse`: clickhouse-go's DSN. `http://` and `https://` (with `secure=true`, as
//! clickhouse-go requires) are spoken here over ClickHouse's HTTP interface: `SELECT version()`.
//! `clickhouse://` and `tcp://` mean ClickHouse's native protocol (port 9000), which this build
//! does not speak: the collector fails with [`Unsupported`], and no connection file is written.

use super::tls::{self, Roots, TlsError, TlsParams, Verify};
use super::{AddressError, Probe, Report, Unsupported, host_port, percent_decode};

/// Why a DSN does not parse (clickhouse-go's words).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum DsnError {
    #[error("parse dsn address failed")]
    Address,
    #[error(transparent)]
    HostPort(#[from] AddressError),
    #[error("clickhouse [dsn parse]:{key}: {value:?} is not a boolean")]
    Bool { key: String, value: String },
    #[error("clickhouse [dsn parse]: http with TLS specify")]
    HttpWithTls,
    #[error("clickhouse [dsn parse]: https without TLS")]
    HttpsWithoutTls,
}

/// Why the server gave no version.
#[derive(Debug, thiserror::Error)]
enum AskError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("HTTP client: {0}")]
    Client(reqwest::Error),
    /// The request, with the causes reqwest keeps apart (the URL carries no credentials).
    #[error("{}", describe(.0))]
    Http(reqwest::Error),
    #[error("clickhouse [HTTP {status}]: {text}")]
    Status { status: u16, text: String },
}

/// What the DSN says.
#[derive(Debug, PartialEq, Eq)]
struct Dsn {
    base: String,
    user: String,
    password: String,
    database: String,
    skip_verify: bool,
}

fn parse(uri: &str) -> Result<Result<Dsn, DsnError>, Unsupported> {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Ok(Err(DsnError::Address));
    };
    let https = match scheme {
        "http" => false,
        "https" => true,
        _ => {
            return Err(Unsupported {
                what: "ClickHouse",
                why: format!(
                    "`{scheme}://` is ClickHouse's native protocol, which this build does not speak; \
                     give the HTTP interface's URI instead (http://HOST:8123/DB, or \
                     https://HOST:8443/DB?secure=true)"
                ),
            });
        }
    };
    Ok(parse_http(https, rest))
}

fn parse_http(https: bool, rest: &str) -> Result<Dsn, DsnError> {
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, addr) = match authority.rsplit_once('@') {
        Some((u, a)) => (u, a),
        None => ("", authority),
    };
    if addr.is_empty() {
        return Err(DsnError::Address);
    }
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (host, port) = host_port(addr, if https { 8443 } else { 8123 })?;
    let mut secure = false;
    let mut skip_verify = false;
    let mut http_path = String::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let flag = |v: &str| match v {
            "" | "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
            other => Err(DsnError::Bool {
                key: k.to_string(),
                value: other.to_string(),
            }),
        };
        match k {
            "secure" => secure = flag(v)?,
            "skip_verify" => skip_verify = flag(v)?,
            "http_path" => {
                let p = percent_decode(v);
                http_path = if p.starts_with('/') || p.is_empty() {
                    p
                } else {
                    format!("/{p}")
                };
            }
            _ => {}
        }
    }
    match (https, secure) {
        (false, true) => return Err(DsnError::HttpWithTls),
        (true, false) => return Err(DsnError::HttpsWithoutTls),
        _ => {}
    }
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    let scheme = if https { "https" } else { "http" };
    let user = percent_decode(user);
    Ok(Dsn {
        base: format!("{scheme}://{host}:{port}{http_path}/"),
        user: if user.is_empty() {
            "default".into()
        } else {
            user
        },
        password: percent_decode(password),
        database: percent_decode(path.trim_matches('/')),
        skip_verify,
    })
}

pub(super) async fn probe(p: &Probe<'_>) -> Result<Report, Unsupported> {
    if p.uri.is_empty() {
        return Ok(Report::failed("clickhouse uri cannot be empty"));
    }
    let dsn = match parse(p.uri)? {
        Ok(d) => d,
        Err(e) => {
            return Ok(Report::failed(format!(
                "failed to create clickhouse connection config: couldn't parse clickhouse URI: {e}"
            )));
        }
    };
    Ok(match ask(&dsn, p.tls).await {
        Ok(version) => Report {
            is_connected: true,
            version,
            ..Report::default()
        },
        Err(e) => Report::failed(e.to_string()),
    })
}

async fn ask(dsn: &Dsn, params: Option<&TlsParams>) -> Result<String, AskError> {
    let config = match params {
        Some(params) => tls::go_config(params),
        None if dsn.skip_verify => tls::config(
            &TlsParams::default(),
            Verify::Nothing,
            Roots::SystemAndCa,
            false,
        ),
        None => tls::config(
            &TlsParams::default(),
            Verify::Full,
            Roots::SystemAndCa,
            false,
        ),
    }?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .tls_backend_preconfigured((*config).clone())
        .build()
        .map_err(AskError::Client)?;
    let mut req = client
        .post(&dsn.base)
        .basic_auth(&dsn.user, Some(&dsn.password))
        .body("SELECT version()");
    if !dsn.database.is_empty() {
        req = req.query(&[("database", dsn.database.as_str())]);
    }
    let answer = req.send().await.map_err(AskError::Http)?;
    let status = answer.status();
    let text = answer.text().await.map_err(AskError::Http)?;
    if !status.is_success() {
        return Err(AskError::Status {
            status: status.as_u16(),
            text: text.trim().to_string(),
        });
    }
    Ok(text.trim().to_string())
}

/// reqwest's error with its causes (the URL it names carries no credentials).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsns_as_clickhouse_go_reads_them() {
        let d = parse("http://bob:s%3Dcret@ch:8124/logs")
            .expect("http")
            .expect("parses");
        assert_eq!(
            d,
            Dsn {
                base: "http://ch:8124/".into(),
                user: "bob".into(),
                password: "s=cret".into(),
                database: "logs".into(),
                skip_verify: false
            }
        );
        let d = parse("https://ch?secure=true&skip_verify=true")
            .expect("https")
            .expect("parses");
        assert_eq!(
            (d.base.as_str(), d.user.as_str(), d.skip_verify),
            ("https://ch:8443/", "default", true)
        );
        assert_eq!(
            parse("https://ch").expect("https").unwrap_err().to_string(),
            "clickhouse [dsn parse]: https without TLS"
        );
        let native = parse("clickhouse://u:p@ch:9000/db").expect_err("native");
        assert!(
            native
                .to_string()
                .starts_with("this build cannot connect to ClickHouse"),
            "{native}"
        );
        assert!(!native.to_string().contains("u:p"), "{native}");
    }
}
