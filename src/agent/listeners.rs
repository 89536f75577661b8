//! Where the API is served: the control socket `<stateDir>/agent.sock` (0600; every endpoint,
//! writes for root and the agent's user) and the `listen` TCP address (reads; writes only with
//! the `apiTokenFile` bearer token). See README "Security".

use super::AgentError;
use super::access::{Peer, Surface, TcpWriteGuard};
use super::api_token::ApiToken;
use super::http::{self, Shared};
use crate::settings::Settings;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinHandle;
use tracing::warn;

/// The control socket's file name in the state directory.
pub const SOCKET_FILE: &str = "agent.sock";

/// Both listeners, bound.
pub struct Bound {
    tcp: TcpListener,
    unix: UnixListener,
    socket: PathBuf,
    token: Option<Arc<ApiToken>>,
    agent_uid: u32,
}

/// The running servers; [`Servers::stop`] ends them and removes the socket.
pub struct Servers {
    tasks: Vec<JoinHandle<()>>,
    socket: PathBuf,
}

/// The agent's effective uid.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Loads the token, checks that an address off this host is protected by it, and binds both
/// listeners. Call with the state directory's lock held: the socket of a dead agent is replaced.
pub async fn bind(settings: &Settings) -> Result<Bound, AgentError> {
    let agent_uid = effective_uid();
    let token = match &settings.api_token_file {
        Some(path) => Some(Arc::new(ApiToken::load(
            path,
            super::api_token::TokenSetting::ApiTokenFile,
            agent_uid,
        )?)),
        None => None,
    };
    let addr: SocketAddr = settings
        .listen
        .parse()
        .map_err(|e: std::net::AddrParseError| AgentError::Listen {
            addr: settings.listen.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
        })?;
    if !addr.ip().is_loopback() && token.is_none() {
        return Err(AgentError::ExposedListen {
            addr: settings.listen.clone(),
        });
    }
    let socket = settings.state_dir.join(SOCKET_FILE);
    let unix = bind_socket(&settings.state_dir, &socket)?;
    let tcp = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(source) => {
            let _ = std::fs::remove_file(&socket);
            return Err(AgentError::Listen {
                addr: settings.listen.clone(),
                source,
            });
        }
    };
    Ok(Bound {
        tcp,
        unix,
        socket,
        token,
        agent_uid,
    })
}

/// Binds the socket under a temp name, makes it 0600 and renames it over `path`: the socket is
/// never reachable with a wider mode, and whatever was at `path` (the socket of a dead agent, or
/// a symlink someone planted) is replaced, never followed.
fn bind_socket(state_dir: &Path, path: &Path) -> Result<UnixListener, AgentError> {
    let err = |source: std::io::Error| {
        let hint = if source.kind() == std::io::ErrorKind::InvalidInput {
            " (a Unix socket path has at most 107 bytes: use a shorter state directory path)"
        } else {
            ""
        };
        AgentError::Socket {
            path: path.to_path_buf(),
            source,
            hint,
        }
    };
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "a directory is in the way; remove it",
        )));
    }
    // The `.…tmp-<pid>` name is what start-up recovery removes if the agent dies right here.
    let temp = state_dir.join(format!(".{SOCKET_FILE}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let listener = UnixListener::bind(&temp).map_err(err)?;
    let placed = std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&temp);
        return Err(err(e));
    }
    Ok(listener)
}

impl Bound {
    /// Serves the socket (every endpoint) and TCP (reads; writes with the token).
    pub fn serve(self, shared: Shared) -> Servers {
        let socket_router = http::router(
            shared.clone(),
            Surface::Socket {
                agent_uid: self.agent_uid,
            },
        );
        let tcp_router = http::router(
            shared,
            Surface::Tcp(TcpWriteGuard {
                token: self.token,
                socket: self.socket.clone(),
            }),
        );
        let unix = tokio::spawn(async move {
            let service = socket_router.into_make_service_with_connect_info::<Peer>();
            if let Err(e) = axum::serve(self.unix, service).await {
                warn!("control socket server stopped: {e}");
            }
        });
        let tcp = tokio::spawn(async move {
            if let Err(e) = axum::serve(self.tcp, tcp_router).await {
                warn!("HTTP server stopped: {e}");
            }
        });
        Servers {
            tasks: vec![unix, tcp],
            socket: self.socket,
        }
    }
}

impl Servers {
    /// Stops serving and removes the control socket (the state lock is still held, so it is ours).
    pub fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Err(e) = std::fs::remove_file(&self.socket)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            warn!(path = %self.socket.display(), "cannot remove the control socket: {e}");
        }
    }
}
