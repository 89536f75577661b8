//! `redis`: go-redis v7's URL (`redis://[:password@]host[:port][/db]`, `rediss://` for TLS), then
//! `INFO server` and its `redis_version`. RESP is small enough to speak here: `AUTH`, `SELECT`
//! and `INFO` are one request and one reply each.

use super::tls::{self, TlsError, TlsParams};
use super::{AddressError, Probe, Report, host_port, percent_decode};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpStream;

/// The longest status line or bulk reply read (an `INFO server` reply is about 1 KiB).
const MAX_REPLY: usize = 1 << 20;

/// What the URL says.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    password: String,
    db: u32,
    tls: bool,
}

/// Why a Redis probe got no `INFO` (go-redis's words where it has them).
#[derive(Debug, thiserror::Error)]
enum RedisError {
    #[error("invalid redis URL: no scheme (redis:// or rediss://)")]
    NoScheme,
    #[error("invalid redis URL scheme: {0}")]
    Scheme(String),
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error("invalid redis database number: {0:?}")]
    Database(String),
    #[error("dial tcp {host}:{port}: {source}")]
    Dial {
        host: String,
        port: u16,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("tls: {0}")]
    Handshake(std::io::Error),
    #[error("write: {0}")]
    Write(std::io::Error),
    #[error("read: {0}")]
    Read(std::io::Error),
    #[error("EOF: the server closed the connection")]
    Eof,
    /// A `-` reply: the server's own words.
    #[error("{0}")]
    Server(String),
    #[error("bad reply from the server: {0:?}")]
    BadReply(String),
    #[error("nil reply")]
    Nil,
    #[error("reply of {0} bytes is too long")]
    TooLong(usize),
}

/// go-redis v7's `ParseURL`.
fn parse(uri: &str) -> Result<Target, RedisError> {
    let (scheme, rest) = uri.split_once("://").ok_or(RedisError::NoScheme)?;
    let tls = match scheme {
        "redis" => false,
        "rediss" => true,
        other => return Err(RedisError::Scheme(other.to_string())),
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.split(['?', '#']).next().unwrap_or("");
    let (userinfo, addr) = match authority.rsplit_once('@') {
        Some((u, a)) => (Some(u), a),
        None => (None, authority),
    };
    let password = userinfo
        .and_then(|u| u.split_once(':'))
        .map(|(_, p)| percent_decode(p))
        .unwrap_or_default();
    let (host, port) = host_port(addr, 6379)?;
    let db = match path.trim_matches('/') {
        "" => 0,
        d => d.parse().map_err(|_| RedisError::Database(d.to_string()))?,
    };
    Ok(Target {
        host,
        port,
        password,
        db,
        tls,
    })
}

pub(super) async fn probe(p: &Probe<'_>) -> Report {
    match connect_and_ask(p).await {
        Ok(info) => Report {
            is_connected: true,
            version: server_version(&info),
            ..Report::default()
        },
        Err(e) => Report::failed(e.to_string()),
    }
}

async fn connect_and_ask(p: &Probe<'_>) -> Result<String, RedisError> {
    let t = parse(p.uri)?;
    let tcp = TcpStream::connect((t.host.as_str(), t.port))
        .await
        .map_err(|source| RedisError::Dial {
            host: t.host.clone(),
            port: t.port,
            source,
        })?;
    let config = match (p.tls, t.tls) {
        (Some(params), _) => Some(tls::go_config(params)?),
        // rediss:// without `tls`: go-redis verifies against the system's roots.
        (None, true) => Some(tls::config(
            &TlsParams::default(),
            tls::Verify::Full,
            tls::Roots::SystemAndCa,
            false,
        )?),
        (None, false) => None,
    };
    match config {
        None => session(BufReader::new(tcp), &t).await,
        Some(config) => {
            let name = tls::server_name(&t.host)?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(RedisError::Handshake)?;
            session(BufReader::new(stream), &t).await
        }
    }
}

async fn session<S: AsyncBufRead + AsyncWrite + Unpin>(
    mut s: S,
    t: &Target,
) -> Result<String, RedisError> {
    if !t.password.is_empty() {
        command(&mut s, &["AUTH", &t.password]).await?;
    }
    if t.db != 0 {
        command(&mut s, &["SELECT", &t.db.to_string()]).await?;
    }
    command(&mut s, &["INFO", "server"]).await
}

/// Sends one command; its reply as text, a `-` reply as the error (as go-redis gives it).
async fn command<S: AsyncBufRead + AsyncWrite + Unpin>(
    s: &mut S,
    args: &[&str],
) -> Result<String, RedisError> {
    let mut req = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        req.extend_from_slice(a.as_bytes());
        req.extend_from_slice(b"\r\n");
    }
    s.write_all(&req).await.map_err(RedisError::Write)?;
    s.flush().await.map_err(RedisError::Write)?;
    reply(s).await
}

async fn reply<S: AsyncBufRead + Unpin>(s: &mut S) -> Result<String, RedisError> {
    let line = read_line(s).await?;
    let (kind, rest) = line.split_at(1.min(line.len()));
    match kind {
        "+" | ":" => Ok(rest.to_string()),
        "-" => Err(RedisError::Server(rest.to_string())),
        "$" => {
            let len: i64 = rest
                .parse()
                .map_err(|_| RedisError::BadReply(line.clone()))?;
            let len = usize::try_from(len).map_err(|_| RedisError::Nil)?;
            if len > MAX_REPLY {
                return Err(RedisError::TooLong(len));
            }
            let mut body = vec![0; len + 2];
            s.read_exact(&mut body).await.map_err(RedisError::Read)?;
            body.truncate(len);
            Ok(String::from_utf8_lossy(&body).into_owned())
        }
        _ => Err(RedisError::BadReply(line)),
    }
}

async fn read_line<S: AsyncRead + AsyncBufRead + Unpin>(s: &mut S) -> Result<String, RedisError> {
    let mut buf = Vec::new();
    let n = s
        .take(MAX_REPLY as u64)
        .read_until(b'\n', &mut buf)
        .await
        .map_err(RedisError::Read)?;
    if n == 0 {
        return Err(RedisError::Eof);
    }
    let text = String::from_utf8_lossy(&buf);
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

/// `redis_version` from an `INFO` reply.
fn server_version(info: &str) -> String {
    info.lines()
        .filter_map(|l| l.trim().split_once(':'))
        .find(|(k, v)| *k == "redis_version" && !v.contains(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_go_redis_reads_them() {
        let t = parse("redis://:p%40ss@cache:6380/2").expect("parses");
        assert_eq!(
            t,
            Target {
                host: "cache".into(),
                port: 6380,
                password: "p@ss".into(),
                db: 2,
                tls: false
            }
        );
        let t = parse("rediss://localhost").expect("parses");
        assert_eq!((t.port, t.db, t.tls), (6379, 0, true));
        assert!(
            parse("http://x")
                .unwrap_err()
                .to_string()
                .contains("scheme: http")
        );
        assert!(
            parse("redis://x/abc")
                .unwrap_err()
                .to_string()
                .contains("database number")
        );
        assert!(parse("localhost:6379").is_err());
    }

    #[test]
    fn version_from_info() {
        let info = "# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:00000000\r\n";
        assert_eq!(server_version(info), "7.0.15");
        assert_eq!(server_version("# Server\r\n"), "");
    }
}
