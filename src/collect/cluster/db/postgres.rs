//! `postgres`: pgx's URIs (`postgres://` URLs and `key=value` strings) over tokio-postgres, then
//! `select version()` and the number after `PostgreSQL `.
//!
//! TLS follows pgx: `sslmode` (default `prefer`) decides, the collector's `tls` gives the CA and
//! client certificate (troubleshoot passes them to pgx as `PGSSLROOTCERT`/`PGSSLCERT`/`PGSSLKEY`),
//! and `sslrootcert`/`sslcert`/`sslkey` in the URI name files instead. `prefer` and `require`
//! without a CA check nothing, `require` with one and `verify-ca` check the chain, `verify-full`
//! the name too.

use super::tls::{self, Roots, TlsError, TlsParams, Verify};
use super::{Probe, Report, percent_decode};
use rustls::ClientConfig;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// A URI with the TLS settings taken out (tokio-postgres knows none but `sslmode`'s first three).
#[derive(Debug, PartialEq, Eq)]
struct Split {
    rest: String,
    mode: Mode,
    root_cert: Option<String>,
    cert: Option<String>,
    key: Option<String>,
}

/// Why PostgreSQL gave no version (pgx's words where it has them).
#[derive(Debug, thiserror::Error)]
enum PgError {
    #[error("sslmode is invalid: {0:?}")]
    SslMode(String),
    #[error("failed to parse postgres config: {0}")]
    Config(tokio_postgres::Error),
    #[error("unable to read {what} {path:?}: {source}")]
    ReadFile {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("both \"sslcert\" and \"sslkey\" are required")]
    CertWithoutKey,
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The connection or the server's refusal.
    #[error("{}", describe(.0))]
    Server(tokio_postgres::Error),
    #[error("no sslmode to try")]
    NoMode,
}

fn split(uri: &str) -> Result<Split, PgError> {
    let mut out = Split {
        rest: String::new(),
        mode: Mode::Prefer,
        root_cert: None,
        cert: None,
        key: None,
    };
    let mut take = |k: &str, v: String| -> Result<bool, PgError> {
        match k {
            "sslmode" => {
                out.mode = match v.as_str() {
                    "disable" => Mode::Disable,
                    "allow" => Mode::Allow,
                    "prefer" => Mode::Prefer,
                    "require" => Mode::Require,
                    "verify-ca" => Mode::VerifyCa,
                    "verify-full" => Mode::VerifyFull,
                    other => return Err(PgError::SslMode(other.to_string())),
                }
            }
            "sslrootcert" => out.root_cert = Some(v),
            "sslcert" => out.cert = Some(v),
            "sslkey" => out.key = Some(v),
            "sslpassword" | "sslsni" | "sslnegotiation" => {}
            _ => return Ok(false),
        }
        Ok(true)
    };
    let rest = if uri.starts_with("postgres://") || uri.starts_with("postgresql://") {
        let (base, query) = uri.split_once('?').unwrap_or((uri, ""));
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(&percent_decode(k), percent_decode(v))? {
                kept.push(pair);
            }
        }
        if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        }
    } else {
        let mut kept = Vec::new();
        for word in uri.split_whitespace() {
            let (k, v) = word.split_once('=').unwrap_or((word, ""));
            if !take(k, v.trim_matches('\'').to_string())? {
                kept.push(word);
            }
        }
        kept.join(" ")
    };
    out.rest = rest;
    Ok(out)
}

pub(super) async fn probe(p: &Probe<'_>) -> Report {
    if p.uri.is_empty() {
        return Report::failed("postgres uri cannot be empty");
    }
    let version = match connect_and_ask(p).await {
        Ok(v) => v,
        Err(e) => return Report::failed(e.to_string()),
    };
    Report::connected("postgres", &version, version_of(&version))
}

async fn connect_and_ask(p: &Probe<'_>) -> Result<String, PgError> {
    let s = split(p.uri)?;
    let mut config: tokio_postgres::Config = s.rest.parse().map_err(PgError::Config)?;
    let params = certs(&s, p.tls)?;
    let (modes, verify) = match s.mode {
        Mode::Disable => (vec![SslMode::Disable], Verify::Nothing),
        Mode::Allow => (vec![SslMode::Disable, SslMode::Require], Verify::Nothing),
        Mode::Prefer => (vec![SslMode::Require, SslMode::Disable], Verify::Nothing),
        Mode::Require if params.ca_cert.is_empty() => (vec![SslMode::Require], Verify::Nothing),
        Mode::Require | Mode::VerifyCa => (vec![SslMode::Require], Verify::Chain),
        Mode::VerifyFull => (vec![SslMode::Require], Verify::Full),
    };
    let tls = tls::config(&params, verify, Roots::CaElseSystem, false)?;
    let mut first_error = None;
    for mode in modes {
        config.ssl_mode(mode);
        match ask(&config, &tls).await {
            Ok(v) => return Ok(v),
            // A refusal from the server itself (a password, pg_hba) is final, as in pgx.
            Err(e) if e.as_db_error().is_some() => return Err(PgError::Server(e)),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.map_or(PgError::NoMode, PgError::Server))
}

/// The CA and client certificate: URI files first, then the collector's `tls`.
fn certs(s: &Split, tls: Option<&TlsParams>) -> Result<TlsParams, PgError> {
    let read = |what: &'static str, path: &str| {
        std::fs::read_to_string(path).map_err(|source| PgError::ReadFile {
            what,
            path: path.to_string(),
            source,
        })
    };
    let base = tls.cloned().unwrap_or_default();
    let params = TlsParams {
        skip_verify: false,
        ca_cert: match &s.root_cert {
            Some(p) => read("sslrootcert", p)?,
            None => base.ca_cert,
        },
        client_cert: match &s.cert {
            Some(p) => read("sslcert", p)?,
            None => base.client_cert,
        },
        client_key: match &s.key {
            Some(p) => read("sslkey", p)?,
            None => base.client_key,
        },
    };
    if params.client_cert.is_empty() != params.client_key.is_empty() {
        return Err(PgError::CertWithoutKey);
    }
    Ok(params)
}

async fn ask(
    config: &tokio_postgres::Config,
    tls: &Arc<ClientConfig>,
) -> Result<String, tokio_postgres::Error> {
    let (client, connection) = config.connect(MakeRustls(tls.clone())).await?;
    // The connection is driven here, not spawned: when the timeout drops this future, the
    // socket goes with it.
    let query = client.query_one("select version()", &[]);
    tokio::pin!(connection);
    tokio::select! {
        row = query => row?.try_get(0),
        done = &mut connection => match done {
            Err(e) => Err(e),
            Ok(()) => client.query_one("select 1", &[]).await?.try_get(0),
        },
    }
}

/// The server's own words for its refusals (as pgx gives them: `FATAL: ... (SQLSTATE 28P01)`),
/// else the error with its causes (tokio-postgres's text alone is only "db error").
fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!(
            "server error: {}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(&format!(": {more}"));
        }
        source = s.source();
    }
    text
}

/// `PostgreSQL ([0-9.]*)` of the `version()` text.
fn version_of(text: &str) -> Option<String> {
    let at = text.find("PostgreSQL ")?;
    let rest = &text[at + "PostgreSQL ".len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

/// tokio-postgres's TLS over rustls.
struct MakeRustls(Arc<ClientConfig>);

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTls<S>;
    type TlsConnect = ConnectRustls;
    type Error = tls::TlsError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<ConnectRustls, tls::TlsError> {
        Ok(ConnectRustls {
            config: self.0.clone(),
            name: tls::server_name(domain)?,
        })
    }
}

struct ConnectRustls {
    config: Arc<ClientConfig>,
    name: rustls::pki_types::ServerName<'static>,
}

impl<S> TlsConnect<S> for ConnectRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = PgTls<S>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<PgTls<S>, std::io::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let connector = tokio_rustls::TlsConnector::from(self.config);
        Box::pin(async move { connector.connect(self.name, stream).await.map(PgTls) })
    }
}

struct PgTls<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for PgTls<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for PgTls<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for PgTls<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_come_out_of_the_uri() {
        let s = split("postgresql://u:p@h:5433/db?sslmode=verify-full&application_name=x&sslrootcert=%2Ftmp%2Fca")
            .expect("splits");
        assert_eq!(s.rest, "postgresql://u:p@h:5433/db?application_name=x");
        assert_eq!(s.mode, Mode::VerifyFull);
        assert_eq!(s.root_cert.as_deref(), Some("/tmp/ca"));
        let s = split("host=h user=u sslmode=disable dbname=d").expect("splits");
        assert_eq!(
            (s.rest.as_str(), s.mode),
            ("host=h user=u dbname=d", Mode::Disable)
        );
        assert_eq!(split("postgres://h/d").expect("splits").mode, Mode::Prefer);
        assert!(
            split("postgres://h/d?sslmode=always")
                .unwrap_err()
                .to_string()
                .contains("always")
        );
    }

    #[test]
    fn version_as_troubleshoot_reads_it() {
        let v = "PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu";
        assert_eq!(version_of(v).as_deref(), Some("15.18"));
        assert_eq!(version_of("CockroachDB CCL v23"), None);
    }
}
