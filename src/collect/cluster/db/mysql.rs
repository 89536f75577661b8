//! `mysql`: go-sql-driver's DSN (`user:password@tcp(host:port)/db?tls=...`) over mysql_async,
//! then `select version()` and, when `parameters` are listed, those of `SHOW VARIABLES`.

use super::tls::{TlsError, TlsParams};
use super::{AddressError, Probe, Report, host_port, percent_decode};
use mysql_async::prelude::Queryable;
use mysql_async::{ClientIdentity, Conn, OptsBuilder, SslOpts};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::collections::BTreeMap;

/// What the DSN says.
#[derive(Debug, Default, PartialEq, Eq)]
struct Dsn {
    user: String,
    password: String,
    host: String,
    port: u16,
    db: String,
    /// The `tls` parameter.
    tls: String,
}

/// Why a DSN cannot be used (go-sql-driver's words where it has them).
#[derive(Debug, thiserror::Error)]
enum DsnError {
    #[error("invalid DSN: missing the slash separating the database name")]
    NoSlash,
    #[error("invalid DSN: network address not terminated (missing closing brace)")]
    Unterminated,
    #[error("this build connects to MySQL over TCP only, not a unix socket")]
    Unix,
    #[error("unknown network {0}")]
    Network(String),
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(
        "invalid value / unknown config name: {0} (custom TLS configurations are registered in Go code; use the collector's `tls`)"
    )]
    TlsName(String),
}

/// go-sql-driver's `ParseDSN`: `[user[:password]@][net[(addr)]]/dbname[?params]`.
fn parse(dsn: &str) -> Result<Dsn, DsnError> {
    let slash = dsn.rfind('/').ok_or(DsnError::NoSlash)?;
    let (head, tail) = (&dsn[..slash], &dsn[slash + 1..]);
    let (userinfo, net_addr) = match head.rfind('@') {
        Some(at) => (&head[..at], &head[at + 1..]),
        None => ("", head),
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (net, addr) = match net_addr.split_once('(') {
        Some((net, rest)) => (net, rest.strip_suffix(')').ok_or(DsnError::Unterminated)?),
        None => (net_addr, ""),
    };
    match net {
        "" | "tcp" | "tcp4" | "tcp6" => {}
        "unix" => return Err(DsnError::Unix),
        other => return Err(DsnError::Network(other.to_string())),
    }
    let (host, port) = host_port(if addr.is_empty() { "127.0.0.1" } else { addr }, 3306)?;
    let (db, query) = tail.split_once('?').unwrap_or((tail, ""));
    let mut out = Dsn {
        user: user.to_string(),
        password: password.to_string(),
        host,
        port,
        db: percent_decode(db),
        tls: String::new(),
    };
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "tls" {
            out.tls = percent_decode(v);
        }
    }
    Ok(out)
}

/// TLS as go-sql-driver's `tls` parameter, or troubleshoot's `tls` when the collector has one.
fn ssl_opts(dsn: &Dsn, tls: Option<&TlsParams>) -> Result<Option<SslOpts>, DsnError> {
    if let Some(t) = tls {
        if t.skip_verify {
            return Ok(Some(
                SslOpts::default().with_danger_accept_invalid_certs(true),
            ));
        }
        let ca = t.ca_cert.as_bytes().to_vec();
        if CertificateDer::pem_slice_iter(&ca)
            .filter_map(Result::ok)
            .count()
            == 0
        {
            return Err(TlsError::NoCa.into());
        }
        let mut opts = SslOpts::default().with_root_certs(vec![ca.into()]);
        if !(t.client_cert.is_empty() && t.client_key.is_empty()) {
            opts = opts.with_client_identity(Some(ClientIdentity::new(
                t.client_cert.as_bytes().to_vec().into(),
                t.client_key.as_bytes().to_vec().into(),
            )));
        }
        return Ok(Some(opts));
    }
    Ok(match dsn.tls.as_str() {
        "" | "false" => None,
        "true" => Some(SslOpts::default()),
        "skip-verify" | "preferred" => {
            Some(SslOpts::default().with_danger_accept_invalid_certs(true))
        }
        other => return Err(DsnError::TlsName(other.to_string())),
    })
}

pub(super) async fn probe(p: &Probe<'_>) -> Report {
    if p.uri.is_empty() {
        return Report::failed("mysql uri cannot be empty");
    }
    let opts = match parse(p.uri).and_then(|d| Ok((ssl_opts(&d, p.tls)?, d))) {
        Ok((ssl, d)) => OptsBuilder::default()
            .ip_or_hostname(d.host)
            .tcp_port(d.port)
            .user((!d.user.is_empty()).then_some(d.user))
            .pass((!d.password.is_empty()).then_some(d.password))
            .db_name((!d.db.is_empty()).then_some(d.db))
            // Never swap the TCP connection for a local socket the server names.
            .prefer_socket(false)
            .ssl_opts(ssl),
        Err(e) => return Report::failed(e.to_string()),
    };
    let mut conn = match Conn::new(opts).await {
        Ok(c) => c,
        Err(e) => return Report::failed(e.to_string()),
    };
    let mut report = Report::default();
    match conn.query_first::<String, _>("select version()").await {
        Ok(Some(v)) => {
            report.is_connected = true;
            report.version = v;
        }
        Ok(None) => report.error = "sql: no rows in result set".into(),
        Err(e) => report.error = e.to_string(),
    }
    if !p.parameters.is_empty() {
        match conn
            .query::<(String, Option<String>), _>("SHOW VARIABLES")
            .await
        {
            Ok(rows) => {
                let all: BTreeMap<String, String> = rows
                    .into_iter()
                    .map(|(k, v)| (k, v.unwrap_or_default()))
                    .collect();
                let picked = p
                    .parameters
                    .iter()
                    .filter_map(|k| all.get(k).map(|v| (k.clone(), v.clone())))
                    .collect();
                report.variables = Some(picked);
            }
            Err(e) => report.error = e.to_string(),
        }
    }
    // The server may already be gone; the answers are in.
    let _ = conn.disconnect().await;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsns_as_go_sql_driver_reads_them() {
        let d = parse("user:p@ss:w@tcp(db.example:3307)/app?tls=skip-verify&timeout=5s")
            .expect("parses");
        assert_eq!(
            d,
            Dsn {
                user: "user".into(),
                password: "p@ss:w".into(),
                host: "db.example".into(),
                port: 3307,
                db: "app".into(),
                tls: "skip-verify".into(),
            }
        );
        let d = parse("root@/").expect("parses");
        assert_eq!(
            (d.host.as_str(), d.port, d.db.as_str()),
            ("127.0.0.1", 3306, "")
        );
        let err = |r: Result<_, DsnError>| r.map(|_: Dsn| ()).unwrap_err().to_string();
        assert!(err(parse("localhost:3306")).contains("missing the slash"));
        assert!(err(parse("u@tcp(h:1/db")).contains("closing brace"));
        assert!(err(parse("u@unix(/run/mysqld.sock)/db")).contains("TCP only"));
        let d = parse("u:p@tcp(h)/db?tls=custom").expect("parses");
        assert!(
            ssl_opts(&d, None)
                .unwrap_err()
                .to_string()
                .contains("custom")
        );
    }
}
