//! Who may use the write endpoints (trigger, reload): on the control socket, root or the agent's
//! own user (checked from the connection's peer credentials, in case the socket's mode was
//! changed); on TCP, only a request with the `apiTokenFile` bearer token, and nobody when no
//! token is configured. Read endpoints are open on both.

use super::api_token::ApiToken;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Json, Response};
use axum::serve::IncomingStream;
use std::sync::Arc;
use tokio::net::UnixListener;

/// Where a router is served.
#[derive(Clone)]
pub enum Surface {
    /// `<stateDir>/agent.sock`: the agent's effective uid may write too, besides root.
    Socket {
        /// The agent's effective uid.
        agent_uid: u32,
    },
    /// The `listen` address.
    Tcp(TcpWriteGuard),
}

/// The peer of a control socket connection (SO_PEERCRED at connect time).
#[derive(Clone, Copy, Debug)]
pub struct Peer {
    /// Its effective uid, when the kernel told.
    pub uid: Option<u32>,
}

impl Connected<IncomingStream<'_, UnixListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, UnixListener>) -> Self {
        Peer {
            uid: stream.io().peer_cred().ok().map(|c| c.uid()),
        }
    }
}

/// Middleware of the write routes on the control socket.
pub async fn socket_writer(
    State(agent_uid): State<u32>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    request: Request,
    next: Next,
) -> Response {
    match peer.uid {
        Some(uid) if uid == 0 || uid == agent_uid => next.run(request).await,
        Some(uid) => refuse(
            StatusCode::FORBIDDEN,
            format!(
                "uid {uid} may not trigger runs or reload: only root (or the agent's user, uid {agent_uid}) may"
            ),
        ),
        None => refuse(
            StatusCode::FORBIDDEN,
            "the caller's credentials are unknown".to_string(),
        ),
    }
}

/// What the TCP write middleware needs.
#[derive(Clone)]
pub struct TcpWriteGuard {
    /// `apiTokenFile`, when set.
    pub token: Option<Arc<ApiToken>>,
    /// The control socket, named in the refusal.
    pub socket: std::path::PathBuf,
}

/// Middleware of the write routes on TCP.
pub async fn tcp_writer(
    State(guard): State<TcpWriteGuard>,
    request: Request,
    next: Next,
) -> Response {
    let Some(token) = &guard.token else {
        return refuse(
            StatusCode::FORBIDDEN,
            format!(
                "the TCP listener is read-only: trigger and reload through the control socket {} (the CLI uses it when run as root), or set apiTokenFile and send `Authorization: Bearer <token>`",
                guard.socket.display()
            ),
        );
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if token.accepts(given) {
        return next.run(request).await;
    }
    let mut response = refuse(
        StatusCode::UNAUTHORIZED,
        "a valid `Authorization: Bearer <token>` (the content of apiTokenFile) is required"
            .to_string(),
    );
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, "Bearer".parse().expect("static"));
    response
}

fn refuse(code: StatusCode, message: String) -> Response {
    (code, Json(serde_json::json!({"error": message}))).into_response()
}
