//! Network checks with the `{"status","message"}` result: tcpPortStatus, udpPortStatus,
//! tcpConnect, tcpLoadBalancer.

use super::output::file_name;
use super::{Ctx, Error};
use serde::Serialize;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// `{"status","message"}`.
#[derive(Serialize, Debug, PartialEq)]
pub struct NetworkStatus {
    /// `connected`, `connection-refused`, `connection-timeout`, `address-in-use`, `error`,
    /// `bind-permission-denied` or `invalid-address`.
    pub status: &'static str,
    /// Details (empty on success).
    pub message: String,
}

impl NetworkStatus {
    /// A status with a message.
    pub fn new(status: &'static str, message: impl Into<String>) -> Self {
        NetworkStatus {
            status,
            message: message.into(),
        }
    }
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Maps a bind error to its status.
pub fn bind_status(e: &std::io::Error) -> NetworkStatus {
    match e.kind() {
        ErrorKind::AddrInUse => NetworkStatus::new("address-in-use", e.to_string()),
        ErrorKind::PermissionDenied => NetworkStatus::new("bind-permission-denied", e.to_string()),
        ErrorKind::AddrNotAvailable => NetworkStatus::new("invalid-address", e.to_string()),
        _ => NetworkStatus::new("error", e.to_string()),
    }
}

/// Maps a connect error to its status.
pub fn connect_status(e: &std::io::Error) -> NetworkStatus {
    match e.kind() {
        ErrorKind::ConnectionRefused => NetworkStatus::new("connection-refused", e.to_string()),
        ErrorKind::TimedOut => NetworkStatus::new("connection-timeout", e.to_string()),
        _ => NetworkStatus::new("error", e.to_string()),
    }
}

async fn write(ctx: &Ctx<'_>, dir: &str, default: &str, s: &NetworkStatus) -> Result<(), Error> {
    let file = file_name(ctx.name.unwrap_or(default), ".json");
    ctx.out
        .write_json(&["host-collectors", dir, &file], s)
        .await?;
    Ok(())
}

fn port(ctx: &Ctx<'_>) -> Result<u16, Error> {
    ctx.int("port")
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::Spec("`port` must be a number from 1 to 65535".into()))
}

/// Resolves `host:port` (or `http://host:port`) to socket addresses.
async fn resolve(address: &str) -> Result<Vec<SocketAddr>, std::io::Error> {
    let a = address
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/');
    Ok(tokio::net::lookup_host(a).await?.collect())
}

/// Connects with a timeout, as a status.
pub async fn connect(address: &str, timeout: Duration) -> (NetworkStatus, Option<TcpStream>) {
    let addrs = match resolve(address).await {
        Ok(a) if !a.is_empty() => a,
        Ok(_) => {
            return (
                NetworkStatus::new("invalid-address", format!("{address}: no addresses")),
                None,
            );
        }
        Err(e) => {
            return (
                NetworkStatus::new("invalid-address", format!("{address}: {e}")),
                None,
            );
        }
    };
    match tokio::time::timeout(timeout, TcpStream::connect(&addrs[..])).await {
        Ok(Ok(s)) => (NetworkStatus::new("connected", ""), Some(s)),
        Ok(Err(e)) => (connect_status(&e), None),
        Err(_) => (
            NetworkStatus::new(
                "connection-timeout",
                format!("dial tcp {address}: i/o timeout"),
            ),
            None,
        ),
    }
}

/// The `tcpConnect` host collector.
pub async fn tcp_connect(ctx: &Ctx<'_>) -> Result<(), Error> {
    let address = ctx.required("address")?;
    let timeout = ctx.duration("timeout")?.unwrap_or(DEFAULT_TIMEOUT);
    let (status, _) = connect(address, timeout).await;
    write(ctx, "connect", "connect", &status).await
}

/// The `tcpPortStatus` host collector: listens on the port, then connects to it.
pub async fn tcp_port_status(ctx: &Ctx<'_>) -> Result<(), Error> {
    let (port, ip, bind_ip) = bind_target(ctx)?;
    let status = match TcpListener::bind((bind_ip, port)).await {
        Err(e) => bind_status(&e),
        Ok(listener) => {
            let accept = tokio::spawn(async move { listener.accept().await.map(|_| ()) });
            let target = ip.unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]));
            let (s, _) = connect(&SocketAddr::new(target, port).to_string(), DEFAULT_TIMEOUT).await;
            accept.abort();
            s
        }
    };
    write(ctx, "tcpPortStatus", "tcpPortStatus", &status).await
}

/// The port of a port-status collector, its `interface`'s address if it names one, and the
/// address to bind (that one, else every address).
fn bind_target(ctx: &Ctx<'_>) -> Result<(u16, Option<std::net::IpAddr>, std::net::IpAddr), Error> {
    let port = port(ctx)?;
    let ip = ctx
        .str("interface")
        .filter(|s| !s.is_empty())
        .map(interface_ip)
        .transpose()?;
    Ok((port, ip, ip.unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))))
}

/// The first IPv4 address of a named interface.
fn interface_ip(name: &str) -> Result<std::net::IpAddr, Error> {
    super::system::interface_ipv4(name)
        .map(std::net::IpAddr::V4)
        .ok_or_else(|| Error::Other(format!("interface {name:?} has no IPv4 address")))
}

/// The `udpPortStatus` host collector: whether the port can be bound.
pub async fn udp_port_status(ctx: &Ctx<'_>) -> Result<(), Error> {
    let (port, _, bind_ip) = bind_target(ctx)?;
    let status = match UdpSocket::bind((bind_ip, port)).await {
        Ok(_) => NetworkStatus::new("connected", ""),
        Err(e) => bind_status(&e),
    };
    write(ctx, "udpPortStatus", "udpPortStatus", &status).await
}

/// The `tcpLoadBalancer` host collector: listens on `port`, connects to `address` (the load
/// balancer) and checks that a random token sent through it arrives at our listener.
pub async fn tcp_load_balancer(ctx: &Ctx<'_>) -> Result<(), Error> {
    let port = port(ctx)?;
    let address = ctx.required("address")?;
    let timeout = ctx.duration("timeout")?.unwrap_or(DEFAULT_TIMEOUT);
    let listener = match TcpListener::bind(("0.0.0.0", port)).await {
        Ok(l) => l,
        Err(e) => return write(ctx, "tcpLoadBalancer", "tcpLoadBalancer", &bind_status(&e)).await,
    };
    let token = token();
    let expect = token.clone();
    let server = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return false;
            };
            let mut buf = vec![0u8; 256];
            let n = s.read(&mut buf).await.unwrap_or(0);
            if buf[..n] == *expect.as_bytes() {
                let _ = s.write_all(expect.as_bytes()).await;
                return true;
            }
        }
    });
    let (mut status, stream) = connect(address, timeout).await;
    if let Some(mut s) = stream {
        let _ = s.write_all(token.as_bytes()).await;
        let mut buf = vec![0u8; 256];
        let echoed = tokio::time::timeout(timeout, s.read(&mut buf)).await;
        let ok = matches!(echoed, Ok(Ok(n)) if buf[..n] == *token.as_bytes());
        if !ok {
            status = NetworkStatus::new(
                "error",
                "connected, but the load balancer did not forward to this host's port",
            );
        }
    }
    server.abort();
    write(ctx, "tcpLoadBalancer", "tcpLoadBalancer", &status).await
}

/// A token unique enough to recognise our own traffic.
pub fn token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("troubleshoot-agent-{}-{nanos}", std::process::id())
}
