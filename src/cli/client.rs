//! The CLI's connection to a running agent: its control socket `<stateDir>/agent.sock` first
//! (every endpoint; the agent allows writes to root and its own user), else its TCP `listen`
//! address (reads; trigger and reload with the `apiTokenFile` bearer token).
//!
//! Requests go through reqwest (over the Unix socket or TCP; no TLS, no proxies: the agent is on
//! this host); the CLI stays synchronous, so each request runs on a small runtime of its own.

use crate::agent::listeners::SOCKET_FILE;
use crate::settings::Settings;
use anyhow::{Context as _, bail};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A response: status code and body.
#[derive(Debug)]
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
    /// `timeout` bounds the wait for each read of the answer (a `?wait=` request is answered
    /// when the run changes).
    pub fn request(&self, method: &str, path: &str, timeout: Duration) -> anyhow::Result<Response> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .with_context(|| format!("`{method}` is not an HTTP method"))?;
        // No proxy, ever: the agent is on this host, and a proxy from the environment
        // (HTTP_PROXY) would see the bearer token.
        let builder = reqwest::Client::builder()
            .no_proxy()
            .read_timeout(timeout)
            .connect_timeout(Duration::from_secs(5));
        let (builder, url, token) = match self {
            Agent::Socket(socket) => (
                builder.unix_socket(socket.as_path()),
                format!("http://localhost{path}"),
                None,
            ),
            Agent::Tcp { addr, token_file } => {
                let token = match token_file {
                    Some(file) if method != reqwest::Method::GET => Some(read_token(file)?),
                    _ => None,
                };
                (builder, format!("http://{addr}{path}"), token)
            }
        };
        let client = builder.build().context("cannot set up the HTTP client")?;
        // The CLI is synchronous: one small runtime per request, on this thread.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the HTTP client's runtime")?;
        let exchange = async {
            let mut request = client.request(method.clone(), &url);
            if let Some(token) = &token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>(Response {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        };
        runtime.block_on(exchange).map_err(|e| {
            let cause = anyhow::Error::new(e);
            match self {
                Agent::Socket(socket) if is_connect(&cause) => cause.context(format!(
                    "cannot connect to the agent's control socket {}",
                    socket.display()
                )),
                Agent::Tcp { addr, .. } if is_connect(&cause) => {
                    cause.context(format!("cannot connect to the agent at {addr}"))
                }
                _ => cause.context(format!(
                    "no answer from the agent at {self} for {method} {path}"
                )),
            }
        })
    }
}

/// Whether the request failed before it reached the agent.
fn is_connect(e: &anyhow::Error) -> bool {
    e.downcast_ref::<reqwest::Error>()
        .is_some_and(reqwest::Error::is_connect)
}

fn read_token(file: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the API token file {}", file.display()))?;
    Ok(text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Serves one connection: reads the request head, answers `answer`, returns the head.
    fn serve_once(mut stream: impl std::io::Read + std::io::Write, answer: &[u8]) -> String {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut byte).expect("read the request");
            assert_eq!(n, 1, "the request ended early: {head:?}");
            head.push(byte[0]);
        }
        stream.write_all(answer).expect("answer");
        String::from_utf8(head).expect("utf-8 head")
    }

    #[test]
    fn reads_a_chunked_answer_over_the_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(SOCKET_FILE);
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            serve_once(
                stream,
                b"HTTP/1.1 422 X\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            )
        });
        let agent = Agent::Socket(path);
        let r = agent
            .request("POST", "/-/reload", Duration::from_secs(30))
            .expect("request");
        assert_eq!((r.status, r.body.as_str()), (422, "abcde"));
        let head = server.join().expect("server");
        assert!(head.starts_with("POST /-/reload HTTP/1.1\r\n"), "{head}");
        assert!(
            !head.to_ascii_lowercase().contains("authorization"),
            "{head}"
        );
    }

    #[test]
    fn tcp_writes_carry_the_token_and_reads_do_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, "s3cret\n").expect("token");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let mut heads = Vec::new();
            for _ in 0..2 {
                let (stream, _) = listener.accept().expect("accept");
                heads.push(serve_once(
                    stream,
                    b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                ));
            }
            heads
        });
        let agent = Agent::Tcp {
            addr,
            token_file: Some(token_file),
        };
        for method in ["POST", "GET"] {
            let r = agent
                .request(method, "/api/v1/jobs/a/trigger", Duration::from_secs(30))
                .expect("request");
            assert_eq!((r.status, r.body.as_str()), (202, "ok"));
        }
        let heads = server.join().expect("server");
        assert!(
            heads[0].contains("authorization: Bearer s3cret\r\n"),
            "{}",
            heads[0]
        );
        assert!(
            !heads[1].to_ascii_lowercase().contains("authorization"),
            "{}",
            heads[1]
        );
    }

    #[test]
    fn a_dead_socket_says_which_socket_and_a_silent_agent_times_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(SOCKET_FILE);
        let err = Agent::Socket(path.clone())
            .request("GET", "/api/v1/status", Duration::from_secs(30))
            .expect_err("no agent");
        let text = format!("{err:#}");
        assert!(
            text.contains("cannot connect to the agent's control socket"),
            "{text}"
        );
        assert!(text.contains(&path.display().to_string()), "{text}");

        // An agent that accepts and never answers: the read timeout ends the wait.
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let held = std::thread::spawn(move || listener.accept().map(|(s, _)| s));
        let err = Agent::Socket(path)
            .request("GET", "/api/v1/status", Duration::from_millis(200))
            .expect_err("silent agent");
        let text = format!("{err:#}");
        assert!(text.contains("no answer from the agent at"), "{text}");
        drop(held.join());
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
