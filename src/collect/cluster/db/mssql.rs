//! `mssql`: go-mssqldb's `sqlserver://user:password@host:port?database=...` URLs (and ADO
//! `server=...;user id=...` strings) over tiberius, then `select @@VERSION` and the version
//! after `SQL ... - `. troubleshoot's `tls` field is not used for SQL Server (nor by
//! troubleshoot): the URL's `encrypt`, `TrustServerCertificate` and `certificate` decide, with
//! go-mssqldb's defaults (no `encrypt`: the login encrypted, the certificate trusted).

use super::{Probe, Report, host_port, percent_decode};
use tiberius::{AuthMethod, Client, Config, EncryptionLevel};
use tokio::net::TcpStream;
use tokio_util::compat::TokioAsyncWriteCompatExt;

/// go-mssqldb's URL, as a tiberius configuration.
fn config(uri: &str) -> Result<Config, String> {
    let Some(rest) = uri.strip_prefix("sqlserver://") else {
        return Config::from_ado_string(uri).map_err(|e| format!("invalid connection string: {e}"));
    };
    let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, instance) = authority.split_once('/').unwrap_or((authority, ""));
    let (userinfo, addr) = match authority.rsplit_once('@') {
        Some((u, a)) => (u, a),
        None => ("", authority),
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (host, port) = host_port(addr, 1433)?;
    if !instance.trim_matches('/').is_empty() && !addr.contains(':') {
        return Err(format!(
            "named instance {:?}: this build does not ask the SQL Server Browser for its port: give host:port in the URI",
            percent_decode(instance)
        ));
    }
    let mut c = Config::new();
    c.host(host);
    c.port(port);
    c.authentication(AuthMethod::sql_server(
        percent_decode(user),
        percent_decode(password),
    ));
    let mut encrypt = None;
    let mut trust = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k).to_ascii_lowercase(), percent_decode(v));
        match k.as_str() {
            "database" => c.database(v),
            "app name" => c.application_name(v),
            "encrypt" => encrypt = Some(v.to_ascii_lowercase()),
            "trustservercertificate" => {
                trust = Some(parse_bool(&v).ok_or_else(|| {
                    format!("invalid trust server certificate '{v}': not a boolean")
                })?);
            }
            "certificate" => c.trust_cert_ca(v),
            "hostnameincertificate" => c.hostname_in_certificate(v),
            _ => {}
        }
    }
    let level = match encrypt.as_deref() {
        None => EncryptionLevel::Off,
        Some("mandatory" | "yes" | "1" | "t" | "true") => EncryptionLevel::Required,
        Some("disable") => EncryptionLevel::NotSupported,
        Some("strict") => EncryptionLevel::Strict,
        Some("optional" | "no" | "0" | "f" | "false") => EncryptionLevel::Off,
        Some(other) => return Err(format!("invalid encrypt '{other}'")),
    };
    c.encryption(level);
    // go-mssqldb trusts the server's certificate when `encrypt` is not given, and never in
    // strict mode.
    let trusted = trust.unwrap_or(encrypt.is_none()) && level != EncryptionLevel::Strict;
    if trusted {
        c.trust_cert();
    }
    Ok(c)
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Some(true),
        "0" | "f" | "false" => Some(false),
        _ => None,
    }
}

pub(super) async fn probe(p: &Probe<'_>) -> Report {
    let version = match ask(p.uri).await {
        Ok(v) => v,
        Err(e) => return Report::failed(e),
    };
    match version_of(&version) {
        Some(v) => Report {
            is_connected: true,
            version: v,
            ..Report::default()
        },
        None => Report {
            is_connected: true,
            version: "Unknown".into(),
            error: format!("mssql version did not match regex: {version:?}"),
            ..Report::default()
        },
    }
}

async fn ask(uri: &str) -> Result<String, String> {
    let config = config(uri)?;
    let tcp = TcpStream::connect(config.get_addr()).await.map_err(|e| {
        format!(
            "unable to open tcp connection with host '{}': {e}",
            config.get_addr()
        )
    })?;
    let _ = tcp.set_nodelay(true);
    let mut client = Client::connect(config, tcp.compat_write())
        .await
        .map_err(|e| e.to_string())?;
    let row = client
        .simple_query("select @@VERSION as version")
        .await
        .map_err(|e| e.to_string())?
        .into_row()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("sql: no rows in result set")?;
    let version: Option<&str> = row.try_get(0).map_err(|e| e.to_string())?;
    let version = version.unwrap_or_default().to_string();
    let _ = client.close().await;
    Ok(version)
}

/// `.*SQL.*-\s+([0-9.]+)` of the `@@VERSION` text: the number after the last `SQL ... - `.
fn version_of(text: &str) -> Option<String> {
    let sql = text.find("SQL")?;
    // Go's greedy `.*-` takes the last dash after `SQL` that whitespace and a number follow.
    text[sql..].match_indices('-').rev().find_map(|(i, _)| {
        let after = &text[sql + i + 1..];
        let trimmed = after.trim_start();
        if trimmed.len() == after.len() {
            return None;
        }
        let end = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(trimmed.len());
        (end > 0).then(|| trimmed[..end].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_as_troubleshoot_reads_them() {
        let v =
            "Microsoft SQL Server 2019 (RTM-CU15) (KB5008996) - 15.0.4198.2 (X64) \n\tJan 12 2022";
        assert_eq!(version_of(v).as_deref(), Some("15.0.4198.2"));
        assert_eq!(version_of("PostgreSQL 15"), None);
    }

    #[test]
    fn urls_as_go_mssqldb_reads_them() {
        let c = config("sqlserver://sa:p%40ss@db:1444?database=app&encrypt=true").expect("parses");
        assert_eq!(c.get_addr(), "db:1444");
        assert!(
            config("sqlserver://sa:x@db?encrypt=sometimes")
                .unwrap_err()
                .contains("sometimes")
        );
        assert!(
            config("sqlserver://sa:x@db/SQLEXPRESS")
                .unwrap_err()
                .contains("named instance")
        );
        assert!(config("sqlserver://sa:x@db:1433?TrustServerCertificate=maybe").is_err());
        assert!(config("server=tcp:db,1433;user id=sa;password=x").is_ok());
    }
}
