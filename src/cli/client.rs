//! The CLI's connection to a running agent: its control socket `<stateDir>/agent.sock` first
//! (every endpoint; the agent allows writes to root and its own user), else its TCP `listen`
//! address (reads; trigger and reload with the `apiTokenFile` bearer token).
//!
//! A small HTTP/1.1 client (one request per connection, no TLS, no proxies): the agent is on
//! this host, and the CLI stays synchronous.

use crate::agent::listeners::SOCKET_FILE;
use crate::settings::Settings;
use anyhow::{Context as _, bail};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A response: status code and body.
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Body text.
    pub body: String,
}

/// Which of the agent's locations the user named on the command line (a named one is asked first).
#[derive(Clone, Copy, Debug, Default)]
pub struct Named {
    /// `--state-dir` was given.
    pub state_dir: bool,
    /// `--listen` was given.
    pub listen: bool,
}

/// How the CLI reaches a running agent.
#[derive(Clone, Debug)]
pub enum Agent {
    /// Its control socket.
    Socket(PathBuf),
    /// Its TCP address; writes send the token from `token_file`.
    Tcp {
        /// The address.
        addr: SocketAddr,
        /// `apiTokenFile` / `--token-file`.
        token_file: Option<PathBuf>,
    },
}

/// What connecting to the control socket found.
#[derive(Debug, PartialEq, Eq)]
enum SocketProbe {
    /// An agent answers.
    Live,
    /// No socket, or a stale one (no agent runs for this state directory).
    Absent,
    /// The socket is there but not for this user (root-only).
    Denied,
}

/// Finds the agent running for `settings`: the control socket in the state directory, else the
/// `listen` address (asked first when only `--listen` was named). An agent found on TCP while
/// the user named a state directory whose socket is absent must serve that state directory.
pub fn locate(settings: &Settings, named: Named) -> anyhow::Result<Option<Agent>> {
    let socket = settings.state_dir.join(SOCKET_FILE);
    let probe = probe_socket(&socket)?;
    let tcp_first = named.listen && !named.state_dir;
    if probe == SocketProbe::Live && !tcp_first {
        return Ok(Some(Agent::Socket(socket)));
    }
    let tcp = reach(&settings.listen)?.map(|addr| Agent::Tcp {
        addr,
        token_file: settings.api_token_file.clone(),
    });
    match (tcp, probe) {
        (Some(agent), SocketProbe::Absent) if named.state_dir && !named.listen => {
            // An agent listens on the default address: it is ours only if it uses our state dir.
            Ok(serves(&agent, &settings.state_dir)?.then_some(agent))
        }
        (Some(agent), _) => Ok(Some(agent)),
        (None, SocketProbe::Live) => Ok(Some(Agent::Socket(socket))),
        (None, SocketProbe::Denied) => bail!(
            "an agent runs for {} but its control socket {} is only for root (permission denied) and nothing answers at {}; run the command as root, or give the agent's --listen address",
            settings.state_dir.display(),
            socket.display(),
            settings.listen
        ),
        (None, SocketProbe::Absent) => Ok(None),
    }
}

fn probe_socket(path: &Path) -> anyhow::Result<SocketProbe> {
    match UnixStream::connect(path) {
        Ok(_) => Ok(SocketProbe::Live),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            Ok(SocketProbe::Absent)
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(SocketProbe::Denied),
        Err(e) => Err(e).with_context(|| format!("cannot connect to {}", path.display())),
    }
}

/// Resolves `addr` and checks whether something listens there (connection refused: nothing).
fn reach(addr: &str) -> anyhow::Result<Option<SocketAddr>> {
    let target = addr
        .to_socket_addrs()
        .with_context(|| format!("`{addr}` is not an address"))?
        .next()
        .with_context(|| format!("`{addr}` resolves to nothing"))?;
    match TcpStream::connect_timeout(&target, Duration::from_secs(2)) {
        Ok(_) => Ok(Some(target)),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot reach the agent at {addr}")),
    }
}

/// Whether the agent's status names `state_dir` as its state directory.
fn serves(agent: &Agent, state_dir: &Path) -> anyhow::Result<bool> {
    let response = agent.request("GET", "/api/v1/status", Duration::from_secs(30))?;
    let status: serde_json::Value = serde_json::from_str(&response.body).unwrap_or_default();
    let Some(theirs) = status["stateDir"].as_str() else {
        return Ok(false);
    };
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    Ok(canonical(Path::new(theirs)) == canonical(state_dir))
}

impl std::fmt::Display for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Agent::Socket(path) => write!(f, "{}", path.display()),
            Agent::Tcp { addr, .. } => write!(f, "{addr}"),
        }
    }
}

impl Agent {
    /// The agent to send trigger and reload to: a TCP agent without a token is asked for its
    /// state directory, and its control socket is used when this user can connect to it (the
    /// TCP listener refuses writes without a token).
    pub fn for_writes(self) -> Agent {
        let Agent::Tcp {
            token_file: None, ..
        } = &self
        else {
            return self;
        };
        let state_dir = self
            .request("GET", "/api/v1/status", Duration::from_secs(30))
            .ok()
            .and_then(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok())
            .and_then(|v| v["stateDir"].as_str().map(PathBuf::from));
        match state_dir.map(|d| d.join(SOCKET_FILE)) {
            Some(socket) if matches!(probe_socket(&socket), Ok(SocketProbe::Live)) => {
                Agent::Socket(socket)
            }
            _ => self,
        }
    }

    /// Sends one request and reads the whole response. Writes over TCP carry the bearer token.
    pub fn request(&self, method: &str, path: &str, timeout: Duration) -> anyhow::Result<Response> {
        let what = || format!("no answer from the agent at {self} for {method} {path}");
        let raw = match self {
            Agent::Socket(socket) => {
                let stream = UnixStream::connect(socket).with_context(|| {
                    format!(
                        "cannot connect to the agent's control socket {}",
                        socket.display()
                    )
                })?;
                stream.set_read_timeout(Some(timeout))?;
                stream.set_write_timeout(Some(Duration::from_secs(10)))?;
                exchange(stream, method, path, "localhost", None).with_context(what)?
            }
            Agent::Tcp { addr, token_file } => {
                let token = match token_file {
                    Some(file) if method != "GET" => Some(read_token(file)?),
                    _ => None,
                };
                let stream = TcpStream::connect_timeout(addr, Duration::from_secs(5))
                    .with_context(|| format!("cannot connect to the agent at {addr}"))?;
                stream.set_read_timeout(Some(timeout))?;
                stream.set_write_timeout(Some(Duration::from_secs(10)))?;
                exchange(stream, method, path, &addr.to_string(), token.as_deref())
                    .with_context(what)?
            }
        };
        parse(&raw)
    }
}

fn read_token(file: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the API token file {}", file.display()))?;
    Ok(text.trim().to_string())
}

fn exchange(
    mut stream: impl Read + Write,
    method: &str,
    path: &str,
    host: &str,
    token: Option<&str>,
) -> std::io::Result<Vec<u8>> {
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    Ok(raw)
}

fn parse(raw: &[u8]) -> anyhow::Result<Response> {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        bail!("malformed HTTP response from the agent");
    };
    let head = String::from_utf8_lossy(&raw[..split]);
    let status: u16 = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .context("malformed HTTP status line from the agent")?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let body = &raw[split + 4..];
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Ok(Response {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = body.windows(2).position(|w| w == b"\r\n") else {
            bail!("malformed chunked body from the agent");
        };
        let size_text = String::from_utf8_lossy(&body[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .context("malformed chunk size")?;
        body = &body[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if body.len() < size {
            bail!("truncated chunked body from the agent");
        }
        out.extend_from_slice(&body[..size]);
        body = body.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_bodies() {
        let r = parse(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").expect("plain");
        assert_eq!((r.status, r.body.as_str()), (200, "ok"));
        let r = parse(
            b"HTTP/1.1 422 X\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .expect("chunked");
        assert_eq!((r.status, r.body.as_str()), (422, "abcde"));
        assert!(parse(b"garbage").is_err());
    }

    #[test]
    fn a_stale_socket_is_no_agent_and_a_live_one_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(SOCKET_FILE);
        assert_eq!(probe_socket(&path).expect("probe"), SocketProbe::Absent);
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        assert_eq!(probe_socket(&path).expect("probe"), SocketProbe::Live);
        drop(listener);
        assert!(path.exists(), "the dead agent's socket file stays");
        assert_eq!(probe_socket(&path).expect("probe"), SocketProbe::Absent);
    }
}
