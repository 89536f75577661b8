//! Ports without races. A server under test binds port 0 itself and the test reads the port it
//! got (from the server's output, or here from /proc); a port that must refuse connections is held
//! bound, not listening, for as long as the test needs it. Never "bind :0, close, pass the number
//! on": another test can take the port in between.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The TCP port process `pid` listens on (the first listening socket among its descriptors), if
/// it listens yet.
pub fn listening_port(pid: u32) -> Option<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    ["tcp", "tcp6"].iter().find_map(|table| {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).ok()?;
        text.lines().skip(1).find_map(|line| {
            // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            if *state != "0A" || !inodes.iter().any(|i| i == inode) {
                return None;
            }
            u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()
        })
    })
}

/// Waits up to `timeout` until process `pid` listens; panics with `what` otherwise, or as soon
/// as `exited()` says the process is gone.
pub fn wait_listening(
    pid: u32,
    timeout: Duration,
    what: &str,
    mut exited: impl FnMut() -> Option<String>,
) -> u16 {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(port) = listening_port(pid) {
            return port;
        }
        if let Some(why) = exited() {
            panic!("{what} exited before it listened: {why}");
        }
        assert!(
            Instant::now() < deadline,
            "{what} (pid {pid}) did not listen on a TCP port within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A loopback port that refuses connections: bound (so nothing else gets it) but not listening,
/// until dropped.
pub struct ClosedPort {
    _socket: OwnedFd,
    /// The port number.
    pub port: u16,
}

impl ClosedPort {
    /// Binds a socket to 127.0.0.1:0 without listening on it.
    pub fn new() -> ClosedPort {
        // SAFETY: socket(2) with constant arguments; the descriptor is owned right away.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: fd is a fresh descriptor that nothing else owns.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        let mut addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: addr is a valid sockaddr_in and len its size, for both calls.
        let bound =
            unsafe { libc::bind(socket.as_raw_fd(), std::ptr::from_ref(&addr).cast(), len) };
        assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
        // SAFETY: as above; getsockname writes at most len bytes into addr.
        let named = unsafe {
            libc::getsockname(
                socket.as_raw_fd(),
                std::ptr::from_mut(&mut addr).cast(),
                &mut len,
            )
        };
        assert_eq!(named, 0, "getsockname: {}", std::io::Error::last_os_error());
        ClosedPort {
            _socket: socket,
            port: u16::from_be(addr.sin_port),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}
