//! `mssql`: go-mssqldb's `sqlserver://user:password@host:port?database=...` URLs (and ADO
//! `server=...;user id=...` strings) over tiberius, then `select @@VERSION` and the version
//! after `SQL ... - `. troubleshoot's `tls` field is not used for SQL Server (nor by
//! troubleshoot): the URL's `encrypt`, `TrustServerCertificate` and `certificate` decide, with
//! go-mssqldb's defaults (no `encrypt`: the login encrypted, the certificate trusted).

use super::{AddressError, Probe, Report, host_port, percent_decode};
use tiberius::{AuthMethod, Client, Config, EncryptionLevel};
use tokio::net::TcpStream;
use tokio_util::compat::TokioAsyncWriteCompatExt;

/// Why SQL Server gave no version (go-mssqldb's words where it has them).
#[derive(Debug, thiserror::Error)]
enum MssqlError {
    #[error("invalid connection string: {0}")]
    Ado(tiberius::error::Error),
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error(
        "named instance {0:?}: this build does not ask the SQL Server Browser for its port: give host:port in the URI"
    )]
    NamedInstance(String),
    #[error("invalid trust server certificate '{0}': not a boolean")]
    Trust(String),
    #[error("invalid encrypt '{0}'")]
    Encrypt(String),
    #[error("unable to open tcp connection with host '{addr}': {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    /// The driver's error (a login refusal is the server's own words).
    #[error(transparent)]
    Driver(#[from] tiberius::error::Error),
    #[error("sql: no rows in result set")]
    NoRows,
}

/// go-mssqldb's URL, as a tiberius configuration.
fn config(uri: &str) -> Result<Config, MssqlError> {
    let Some(rest) = uri.strip_prefix("sqlserver://") else {
        return Config::from_ado_string(uri).map_err(MssqlError::Ado);
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
        return Err(MssqlError::NamedInstance(percent_decode(instance)));
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
                trust = Some(parse_bool(&v).ok_or_else(|| MssqlError::Trust(v.clone()))?);
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
        Some(other) => return Err(MssqlError::Encrypt(other.to_string())),
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
        Err(e) => return Report::failed(e.to_string()),
    };
    Report::connected("mssql", &version, version_of(&version))
}

async fn ask(uri: &str) -> Result<String, MssqlError> {
    let config = config(uri)?;
    let tcp = TcpStream::connect(config.get_addr())
        .await
        .map_err(|source| MssqlError::Connect {
            addr: config.get_addr().to_string(),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    let mut client = Client::connect(config, tcp.compat_write()).await?;
    let row = client
        .simple_query("select @@VERSION as version")
        .await?
        .into_row()
        .await?
        .ok_or(MssqlError::NoRows)?;
    let version: Option<&str> = row.try_get(0)?;
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
                .to_string()
                .contains("sometimes")
        );
        assert!(
            config("sqlserver://sa:x@db/SQLEXPRESS")
                .unwrap_err()
                .to_string()
                .contains("named instance")
        );
        assert!(config("sqlserver://sa:x@db:1433?TrustServerCertificate=maybe").is_err());
        assert!(config("server=tcp:db,1433;user id=sa;password=x").is_ok());
    }
}
