//! `networkNamespaceConnectivity`: can the host route traffic between two network namespaces?
//! As troubleshoot: a namespace per CIDR, each joined to the host by a veth pair (the host end
//! takes the CIDR's last usable address and is the namespace's default gateway, the namespace end
//! the first), a UDP and a TCP echo server in the `to` namespace, probed from the `from` one.
//!
//! Namespaces and links are made with iproute2's `ip` at a fixed path; the sockets are opened
//! natively by short-lived threads that enter a namespace (`setns`) and never leave it, so no
//! thread of the agent's runtime ever changes namespace. Names are unique per run (a random tag),
//! so parallel runs never collide, and [`Created`] removes everything on every exit path,
//! panics included.
//!
//! Output: `host-collectors/system/<collectorName|networkNamespaceConnectivity>.json`.

use super::output::{file_name, go_json};
use super::{Ctx, Error};
use serde::Serialize;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Where iproute2's `ip` may be; the first that exists is used. Never looked up in PATH.
const IP_PATHS: &[&str] = &["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];
const DEFAULT_PORT: u16 = 8080;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often waits look at the run's cancellation.
const SLICE: Duration = Duration::from_millis(100);

/// troubleshoot's `NetworkNamespaceConnectivityErrors`.
#[derive(Debug, Default, Serialize)]
pub struct Errors {
    from_cidr_creation: String,
    to_cidr_creation: String,
    udp_client: String,
    udp_server: String,
    tcp_client: String,
    tcp_server: String,
}

#[derive(Debug, Default, Serialize)]
struct Output {
    logs: Vec<String>,
}

/// troubleshoot's `NetworkNamespaceConnectivityInfo`.
#[derive(Debug, Default, Serialize)]
pub struct Info {
    from_cidr: String,
    to_cidr: String,
    errors: Errors,
    output: Output,
    success: bool,
}

impl Info {
    fn log(&mut self, msg: impl AsRef<str>) {
        let ts = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.output.logs.push(format!("[{ts}] {}", msg.as_ref()));
    }
}

/// An IPv4 CIDR's addresses as the namespaces use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The namespace end's address (first usable).
    pub internal: Ipv4Addr,
    /// The host end's address (last usable), the namespace's gateway.
    pub external: Ipv4Addr,
    /// The prefix length.
    pub bits: u8,
}

/// Parses an IPv4 CIDR into the namespace's addresses; `None` when it is not one.
pub fn plan(cidr: &str) -> Option<Plan> {
    let (ip, bits) = cidr.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok().filter(|b| *b <= 30)?;
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(bits))
    };
    let first = u32::from(ip) & mask;
    let last = first | !mask;
    Some(Plan {
        internal: Ipv4Addr::from(first + 1),
        external: Ipv4Addr::from(last - 1),
        bits,
    })
}

/// The probe's settings, checked.
struct Settings {
    from: (String, Plan),
    to: (String, Plan),
    port: u16,
    timeout: Duration,
}

fn settings(ctx: &Ctx<'_>) -> Result<Settings, Error> {
    let from = ctx.str("fromCIDR").unwrap_or("");
    let to = ctx.str("toCIDR").unwrap_or("");
    if from.is_empty() || to.is_empty() {
        return Err(Error::Spec("fromCIDR and toCIDR must be provided".into()));
    }
    if from == to {
        return Err(Error::Spec("fromCIDR and toCIDR must be different".into()));
    }
    let parse = |c: &str| {
        plan(c).map(|p| (c.to_string(), p)).ok_or_else(|| {
            Error::Spec(format!(
                "{c} is not a valid cidr: expected an IPv4 network such as 10.0.0.0/24 (prefix at most /30)"
            ))
        })
    };
    let port = match ctx.int("port") {
        None | Some(0) => DEFAULT_PORT,
        Some(p) => u16::try_from(p)
            .map_err(|_| Error::Spec(format!("port {p} is not a port number (1-65535)")))?,
    };
    let timeout = match ctx.str("timeout") {
        None | Some("") => DEFAULT_TIMEOUT,
        Some(t) => super::parse_go_duration(t)
            .ok_or_else(|| Error::Spec(format!("invalid timeout {t}")))?,
    };
    Ok(Settings {
        from: parse(from)?,
        to: parse(to)?,
        port,
        timeout,
    })
}

/// Everything a probe created; dropping it deletes all of it (links first: deleting either end
/// of a veth deletes the pair, then the namespaces).
struct Created {
    ip: PathBuf,
    links: Vec<String>,
    namespaces: Vec<String>,
}

impl Drop for Created {
    fn drop(&mut self) {
        for link in self.links.drain(..).rev() {
            // Already gone with its namespace is fine.
            let _ = run_ip(&self.ip, &["link", "del", &link]);
        }
        for ns in self.namespaces.drain(..).rev() {
            if let Err(e) = run_ip(&self.ip, &["netns", "del", &ns]) {
                tracing::warn!(
                    "networkNamespaceConnectivity: could not delete namespace {ns}: {e}"
                );
            }
        }
    }
}

/// A step of the probe that failed; the text lands in the output's errors (troubleshoot's words
/// where it has them).
#[derive(Debug, thiserror::Error)]
enum ProbeError {
    /// `ip` could not be started.
    #[error("run {}: {source}", path.display())]
    RunIp {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `ip` failed; its stderr.
    #[error("ip {args}: {stderr}")]
    Ip { args: String, stderr: String },
    /// The namespace file could not be opened.
    #[error("error joining namespace: open {}: {source}", path.display())]
    OpenNamespace {
        path: PathBuf,
        source: std::io::Error,
    },
    /// `setns` failed.
    #[error("error joining namespace: {0}")]
    JoinNamespace(std::io::Error),
    /// A socket step (`what`: troubleshoot's "error reading from udp socket" and the like).
    #[error("{what}: {source}")]
    Socket {
        what: &'static str,
        source: IoFailure,
    },
    /// A probe thread panicked.
    #[error("probe thread panicked")]
    Panicked,
}

/// Why a socket step ended without its data.
#[derive(Debug, thiserror::Error)]
enum IoFailure {
    #[error("cancelled")]
    Cancelled,
    #[error("i/o timeout")]
    Timeout,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A socket step's error, for `map_err`.
fn socket<E: Into<IoFailure>>(what: &'static str) -> impl FnOnce(E) -> ProbeError {
    move |e| ProbeError::Socket {
        what,
        source: e.into(),
    }
}

/// Runs `ip args` with an empty environment; its stderr is the error.
fn run_ip(ip: &Path, args: &[&str]) -> Result<(), ProbeError> {
    let out = Command::new(ip)
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .map_err(|source| ProbeError::RunIp {
            path: ip.to_path_buf(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ProbeError::Ip {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// A random tag for this run's names (8 hex digits: link names stay under 16 bytes).
fn run_tag() -> String {
    let mut b = [0u8; 4];
    // SAFETY: getrandom writes at most `b.len()` bytes into the buffer it is given.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != 4 {
        // Unique enough without the kernel's randomness: pid and clock.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        b = (t ^ std::process::id().rotate_left(16)).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Creates one namespace `ns` joined to the host by the veth pair `inner`/`outer`.
fn create_side(
    ip: &Path,
    created: &mut Created,
    names: (&str, &str, &str),
    p: Plan,
    info: &mut Info,
) -> Result<(), ProbeError> {
    let (ns, inner, outer) = names;
    let (int, ext) = (
        format!("{}/{}", p.internal, p.bits),
        format!("{}/{}", p.external, p.bits),
    );
    info.log(format!(
        "creating network namespace {ns:?}: address range {:?} - {:?}",
        p.internal, p.external
    ));
    info.log(format!("creating interface pair {inner:?} and {outer:?}"));
    run_ip(
        ip,
        &["link", "add", inner, "type", "veth", "peer", "name", outer],
    )?;
    created.links.push(outer.to_string());
    run_ip(ip, &["addr", "add", &ext, "dev", outer])?;
    run_ip(ip, &["link", "set", outer, "up"])?;
    run_ip(ip, &["netns", "add", ns])?;
    created.namespaces.push(ns.to_string());
    info.log(format!("attaching interface {inner:?} to namespace {ns:?}"));
    run_ip(ip, &["link", "set", inner, "netns", ns])?;
    run_ip(ip, &["-n", ns, "addr", "add", &int, "dev", inner])?;
    run_ip(ip, &["-n", ns, "link", "set", "lo", "up"])?;
    run_ip(ip, &["-n", ns, "link", "set", inner, "up"])?;
    info.log(format!(
        "setting default gateway {:?} for namespace {ns:?}",
        p.external.to_string()
    ));
    run_ip(
        ip,
        &[
            "-n",
            ns,
            "route",
            "add",
            "default",
            "via",
            &p.external.to_string(),
        ],
    )?;
    Ok(())
}

/// Runs `f` on a new thread that has entered network namespace `ns` (and dies with it there).
fn in_namespace<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> Result<T, ProbeError> + Send + 'static,
) -> std::thread::JoinHandle<Result<T, ProbeError>> {
    let path = Path::new("/run/netns").join(ns);
    std::thread::spawn(move || {
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(source) => return Err(ProbeError::OpenNamespace { path, source }),
        };
        // SAFETY: setns on a namespace file we hold open; it changes only this thread, which
        // exits when `f` returns.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(ProbeError::JoinNamespace(std::io::Error::last_os_error()));
        }
        f()
    })
}

/// Waits until `fd` is readable, the deadline passes or the run is cancelled.
fn wait_readable(fd: i32, deadline: Instant, cancel: &CancellationToken) -> Result<(), IoFailure> {
    loop {
        if cancel.is_cancelled() {
            return Err(IoFailure::Cancelled);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(IoFailure::Timeout);
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(left.min(SLICE).as_millis()).unwrap_or(100);
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&raw mut pfd, 1, ms) };
        if n > 0 {
            return Ok(());
        }
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(IoFailure::Io(e));
            }
        }
    }
}

/// The echo servers of the `to` namespace, listening once `ready` says so; each result says
/// whether it answered one client.
struct Servers {
    udp: std::thread::JoinHandle<Result<(), ProbeError>>,
    tcp: std::thread::JoinHandle<Result<(), ProbeError>>,
}

fn start_servers(
    ns: &str,
    addr: SocketAddr,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Servers {
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let (c1, c2) = (cancel.clone(), cancel.clone());
    let tx2 = ready_tx.clone();
    let udp = in_namespace(ns, move || {
        let sock = UdpSocket::bind(addr).map_err(socket("error starting udp server"));
        let _ = ready_tx.send(());
        drop(ready_tx);
        let sock = sock?;
        let deadline = Instant::now() + timeout;
        wait_readable(sock.as_raw_fd(), deadline, &c1)
            .map_err(socket("error reading from udp socket"))?;
        let mut buf = [0u8; 1024];
        let (_, source) = sock
            .recv_from(&mut buf)
            .map_err(socket("error reading from udp socket"))?;
        sock.send_to(b"echo", source)
            .map_err(socket("error writing to udp socket"))?;
        Ok(())
    });
    let tcp = in_namespace(ns, move || {
        let listener = TcpListener::bind(addr).map_err(socket("error starting tcp server"));
        let _ = tx2.send(());
        drop(tx2);
        let listener = listener?;
        let deadline = Instant::now() + timeout;
        wait_readable(listener.as_raw_fd(), deadline, &c2)
            .map_err(socket("error accepting connection"))?;
        let (mut conn, _) = listener
            .accept()
            .map_err(socket("error accepting connection"))?;
        conn.write_all(b"echo\n")
            .map_err(socket("error writing to tcp socket"))?;
        Ok(())
    });
    // Both have bound (or failed to) before any client sends; a thread that could not even
    // enter the namespace drops its sender, which ends the wait too.
    for _ in 0..2 {
        let _ = ready_rx.recv_timeout(timeout);
    }
    Servers { udp, tcp }
}

fn ping_udp(
    ns: &str,
    dst: SocketAddr,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), ProbeError> {
    let cancel = cancel.clone();
    join(in_namespace(ns, move || {
        let sock = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
            .and_then(|s| s.connect(dst).map(|()| s))
            .map_err(socket("error dialing udp"))?;
        sock.send(b"echo")
            .map_err(socket("error writing to udp socket"))?;
        wait_readable(sock.as_raw_fd(), Instant::now() + timeout, &cancel)
            .map_err(socket("error reading from udp socket"))?;
        let mut buf = [0u8; 6];
        sock.recv(&mut buf)
            .map_err(socket("error reading from udp socket"))?;
        Ok(())
    }))
}

fn ping_tcp(
    ns: &str,
    dst: SocketAddr,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), ProbeError> {
    let cancel = cancel.clone();
    join(in_namespace(ns, move || {
        let mut conn =
            TcpStream::connect_timeout(&dst, timeout).map_err(socket("error dialing tcp"))?;
        conn.write_all(b"echo")
            .map_err(socket("error writing to tcp socket"))?;
        wait_readable(conn.as_raw_fd(), Instant::now() + timeout, &cancel)
            .map_err(socket("error reading from tcp socket"))?;
        let mut buf = [0u8; 6];
        conn.read(&mut buf)
            .map_err(socket("error reading from tcp socket"))?;
        Ok(())
    }))
}

fn join(h: std::thread::JoinHandle<Result<(), ProbeError>>) -> Result<(), ProbeError> {
    h.join().unwrap_or(Err(ProbeError::Panicked))
}

/// The whole probe (blocking): create, probe, and (through [`Created`]) remove.
fn probe(ip: PathBuf, s: &Settings, cancel: &CancellationToken) -> Info {
    let mut info = Info {
        from_cidr: s.from.0.clone(),
        to_cidr: s.to.0.clone(),
        ..Info::default()
    };
    let tag = run_tag();
    let mut created = Created {
        ip: ip.clone(),
        links: Vec::new(),
        namespaces: Vec::new(),
    };
    let from_ns = format!("tsa-{tag}-from");
    let to_ns = format!("tsa-{tag}-to");
    let (fi, fo, ti, to) = (
        format!("t{tag}fi"),
        format!("t{tag}fo"),
        format!("t{tag}ti"),
        format!("t{tag}to"),
    );
    if s.timeout != DEFAULT_TIMEOUT {
        info.log(format!(
            "using user provided timeout of {:?}",
            format!("{:?}", s.timeout)
        ));
    }
    // troubleshoot files a failure of the `from` side under `to_cidr_creation` and the reverse
    // (a swap in its collector); we file each under its own side.
    if let Err(e) = create_side(&ip, &mut created, (&from_ns, &fi, &fo), s.from.1, &mut info) {
        info.errors.from_cidr_creation = format!("error creating network namespace: {e}");
        return info;
    }
    if let Err(e) = create_side(&ip, &mut created, (&to_ns, &ti, &to), s.to.1, &mut info) {
        info.errors.to_cidr_creation = format!("error creating network namespace: {e}");
        return info;
    }
    info.success = exchange(&mut info, (&from_ns, &to_ns), s, cancel);
    info.log("network namespace connectivity test finished");
    drop(created);
    info
}

/// The echo exchanges between the namespaces (blocking): UDP, then TCP; true when both worked.
fn exchange(
    info: &mut Info,
    (from_ns, to_ns): (&str, &str),
    s: &Settings,
    cancel: &CancellationToken,
) -> bool {
    let dst = SocketAddr::from((s.to.1.internal, s.port));
    let (to_ip, from_ip) = (s.to.1.internal.to_string(), s.from.1.internal.to_string());
    info.log(format!(
        "starting udp and tcp echo servers on namespace {to_ns:?}({dst})"
    ));
    let servers = start_servers(to_ns, dst, s.timeout, cancel);
    let mut success = true;
    info.log(format!("reaching to {to_ip:?} from {from_ip:?} with udp"));
    if let Err(e) = ping_udp(from_ns, dst, s.timeout, cancel) {
        info.errors.udp_client = e.to_string();
        success = false;
    }
    match join(servers.udp) {
        Ok(()) => info.log(format!("received udp packet on {to_ip:?}")),
        Err(e) => {
            info.errors.udp_server = e.to_string();
            success = false;
        }
    }
    // The TCP dial below waits up to the timeout whatever happens; a cancelled run stops here
    // (the TCP server notices the cancellation by itself).
    if cancel.is_cancelled() {
        let _ = join(servers.tcp);
        return false;
    }
    info.log(format!("reaching to {to_ip:?} from {from_ip:?} with tcp"));
    if let Err(e) = ping_tcp(from_ns, dst, s.timeout, cancel) {
        info.errors.tcp_client = e.to_string();
        success = false;
    }
    match join(servers.tcp) {
        Ok(()) => info.log(format!("received tcp packet on {to_ip:?}")),
        Err(e) => {
            info.errors.tcp_server = e.to_string();
            success = false;
        }
    }
    success
}

/// The `networkNamespaceConnectivity` host collector.
pub async fn connectivity(ctx: &Ctx<'_>) -> Result<(), Error> {
    let s = settings(ctx)?;
    let ip = IP_PATHS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Other(format!(
                "networkNamespaceConnectivity needs iproute2's ip, not found at {}: install iproute2",
                IP_PATHS.join(", ")
            ))
        })?;
    let cancel = ctx.cancel.clone();
    // Not cancelled from outside: the probe watches `cancel` itself and must always get to
    // removing what it created.
    let info = tokio::task::spawn_blocking(move || probe(ip, &s, &cancel))
        .await
        .map_err(|e| Error::Other(format!("network namespace probe failed: {e}")))?;
    if ctx.cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let json = go_json(&info, Some(2))?;
    let file = file_name(ctx.name.unwrap_or("networkNamespaceConnectivity"), ".json");
    ctx.out
        .write(&["host-collectors", "system", &file], json.as_bytes())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_use_the_first_and_last_usable_addresses() {
        assert_eq!(
            plan("10.0.0.0/8"),
            Some(Plan {
                internal: Ipv4Addr::new(10, 0, 0, 1),
                external: Ipv4Addr::new(10, 255, 255, 254),
                bits: 8
            })
        );
        assert_eq!(
            plan("192.168.7.9/24").map(|p| (p.internal, p.external)),
            Some((
                Ipv4Addr::new(192, 168, 7, 1),
                Ipv4Addr::new(192, 168, 7, 254)
            ))
        );
        for bad in ["10.0.0.0", "10.0.0.0/31", "fd00::/64", "x/8", "10.0.0.0/-1"] {
            assert_eq!(plan(bad), None, "{bad}");
        }
    }

    #[test]
    fn tags_fit_interface_names() {
        let (a, b) = (run_tag(), run_tag());
        assert_eq!(a.len(), 8);
        assert_ne!(a, b);
        assert!(format!("t{a}fi").len() < 16);
    }
}
