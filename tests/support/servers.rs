//! Real servers for the upload tests: moto's S3 server (from the test venv), a TCP proxy in front
//! of it that can be taken down and slowed down, and tiny raw HTTP helpers to look at objects.
//! Everything listens on 127.0.0.1 and is stopped on drop.

use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The test venv's Python (`$TSA_PYTHON`, else `<crate>/.venv/bin/python`).
pub fn python() -> PathBuf {
    if let Ok(path) = std::env::var("TSA_PYTHON") {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

/// A program installed in the venv beside [`python`].
pub fn venv_bin(name: &str) -> PathBuf {
    python()
        .parent()
        .map(|d| d.join(name))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Fails the test (never skips it) when `program` is not installed, saying how to install it.
pub fn require(program: &Path, package: &str) {
    assert!(
        program.is_file(),
        "{} is missing. Install the test servers in the crate root:\n    python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt\n\
         (or set TSA_PYTHON to an interpreter whose venv has `{package}`), then rerun.",
        program.display()
    );
}

/// Credentials moto accepts (it accepts any unless auth is switched on).
pub const AWS_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
    // No instance metadata lookups from tests: they would leave loopback.
    ("AWS_EC2_METADATA_DISABLED", "true"),
    ("AWS_CONFIG_FILE", "/nonexistent"),
    ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent"),
];

/// moto in server mode.
pub struct Moto {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: SocketAddr,
}

impl Moto {
    /// Starts `moto_server -H 127.0.0.1 -p 0` and waits until it answers.
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// Same, with extra environment for the server (e.g. `INITIAL_NO_AUTH_ACTION_COUNT=0`
    /// switches its IAM checks on, so unknown credentials are refused).
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let bin = venv_bin("moto_server");
        require(&bin, "moto[server]");
        let mut cmd = Command::new(&bin);
        cmd.args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn moto_server");
        // werkzeug prints " * Running on http://127.0.0.1:NNNNN" (stderr in current versions).
        let (tx, rx) = std::sync::mpsc::channel();
        for pipe in [
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Some(rest) = line.split("Running on http://").nth(1) {
                        let _ = tx.send(rest.trim().to_string());
                    }
                }
            });
        }
        let addr: SocketAddr = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("moto_server printed its address within 60 s")
            .parse()
            .expect("moto address");
        let moto = Moto { child, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        // Any answer will do: with IAM checks on, even `GET /` is refused.
        while get(moto.addr, "/").is_none_or(|r| r.0 == 0) {
            assert!(
                Instant::now() < deadline,
                "moto_server does not answer GET /"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs tests/support/s3_client.py (boto3, signed requests) and parses its JSON answer.
    fn client(&self, args: &[&str]) -> serde_json::Value {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/s3_client.py");
        let out = Command::new(python())
            .arg(script)
            .arg(self.endpoint())
            .args(args)
            .output()
            .expect("run s3_client.py");
        assert!(
            out.status.success(),
            "s3_client.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("s3_client.py JSON")
    }

    /// Creates a bucket.
    pub fn create_bucket(&self, bucket: &str) {
        self.client(&["create-bucket", bucket]);
    }

    /// Puts an object with a `sha256` metadata value.
    pub fn put_object(&self, bucket: &str, key: &str, body: &str, sha256_meta: &str) {
        self.client(&["put", bucket, key, body, sha256_meta]);
    }

    /// Object keys of a bucket.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        serde_json::from_value(self.client(&["keys", bucket])).expect("keys")
    }

    /// Size and hex sha256 of an object's content, if it exists.
    pub fn object_sha256(&self, bucket: &str, key: &str) -> Option<(u64, String)> {
        let v = self.object(bucket, key);
        (!v.is_null()).then(|| {
            (
                v["size"].as_u64().expect("size"),
                v["sha256"].as_str().expect("sha").to_string(),
            )
        })
    }

    /// The object as s3_client.py describes it (size, sha256, metadata, storageClass), or null.
    pub fn object(&self, bucket: &str, key: &str) -> serde_json::Value {
        self.client(&["object", bucket, key])
    }

    /// An object's tags.
    pub fn tagging(&self, bucket: &str, key: &str) -> serde_json::Value {
        self.client(&["tagging", bucket, key])
    }

    /// Multipart uploads not completed or aborted.
    pub fn open_multipart_uploads(&self, bucket: &str) -> u64 {
        self.client(&["open-uploads", bucket])
            .as_u64()
            .expect("count")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex sha256 of a file.
pub fn file_sha256(path: &Path) -> String {
    let mut f = std::fs::File::open(path).expect("open");
    let mut hasher = Sha256::new();
    std::io::copy(&mut f, &mut hasher).expect("read");
    hex(&hasher.finalize())
}

fn get(addr: SocketAddr, path: &str) -> Option<(u16, Vec<u8>)> {
    request(addr, "GET", path, &[], b"").ok()
}

fn head(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    write!(
        stream,
        "HEAD {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

/// One HTTP/1.1 request with a body and `Connection: close`; returns the status and body.
pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let status = String::from_utf8_lossy(&raw[..split])
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut body = raw.get(split + 4..).unwrap_or_default().to_vec();
    if String::from_utf8_lossy(&raw[..split])
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    Ok((status, body))
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).unwrap_or(0);
        rest = &rest[eol + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
    out
}

/// A TCP proxy on a fixed loopback port in front of `upstream`: it can refuse connections
/// ("the server is down") and cap throughput (so an upload is still running when a test acts).
pub struct Proxy {
    /// `127.0.0.1:PORT` the clients use.
    pub addr: SocketAddr,
    upstream: SocketAddr,
    up: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    /// Bytes per second per direction and connection; 0 = unlimited.
    rate: Arc<AtomicU64>,
    /// Bytes forwarded client → server so far.
    pub forwarded: Arc<AtomicU64>,
    listener: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Proxy {
    /// Starts forwarding to `upstream` on a free port.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        drop(listener);
        let p = Proxy {
            addr,
            upstream,
            up: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
            rate: Arc::new(AtomicU64::new(0)),
            forwarded: Arc::new(AtomicU64::new(0)),
            listener: Mutex::new(None),
        };
        p.set_up(true);
        p
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Caps throughput (bytes per second per direction and connection; 0 = no cap).
    pub fn set_rate(&self, bytes_per_second: u64) {
        self.rate.store(bytes_per_second, Ordering::SeqCst);
    }

    /// Up: accepts and forwards. Down: the port is closed (connection refused) and open
    /// connections are cut.
    pub fn set_up(&self, up: bool) {
        let mut guard = self.listener.lock().expect("proxy lock");
        if up == self.up.load(Ordering::SeqCst) {
            return;
        }
        if !up {
            self.up.store(false, Ordering::SeqCst);
            // Unblock accept() so the thread sees the flag and closes the port.
            let _ = TcpStream::connect(self.addr);
            if let Some(t) = guard.take() {
                let _ = t.join();
            }
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("re-bind proxy port {}: {e}", self.addr),
            }
        };
        self.up.store(true, Ordering::SeqCst);
        let up = self.up.clone();
        let stop = self.stop.clone();
        let rate = self.rate.clone();
        let forwarded = self.forwarded.clone();
        let upstream = self.upstream;
        *guard = Some(std::thread::spawn(move || {
            for conn in listener.incoming() {
                if !up.load(Ordering::SeqCst) || stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = conn else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                for (from, to, count) in [
                    (
                        client.try_clone(),
                        server.try_clone(),
                        Some(forwarded.clone()),
                    ),
                    (server.try_clone(), client.try_clone(), None),
                ] {
                    let (Ok(mut from), Ok(mut to)) = (from, to) else {
                        continue;
                    };
                    let up = up.clone();
                    let rate = rate.clone();
                    std::thread::spawn(move || {
                        pump(&mut from, &mut to, &up, &rate, count.as_deref());
                    });
                }
            }
        }));
    }
}

fn pump(
    from: &mut TcpStream,
    to: &mut TcpStream,
    up: &AtomicBool,
    rate: &AtomicU64,
    count: Option<&AtomicU64>,
) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(200)));
    let mut buf = vec![0u8; 64 * 1024];
    let started = Instant::now();
    let mut sent: u64 = 0;
    loop {
        if !up.load(Ordering::SeqCst) {
            break;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                continue;
            }
            Err(_) => break,
        };
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n as u64;
        if let Some(c) = count {
            c.fetch_add(n as u64, Ordering::SeqCst);
        }
        let r = rate.load(Ordering::SeqCst);
        if r > 0 {
            let due = Duration::from_secs_f64(sent as f64 / r as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
    let _ = from.shutdown(std::net::Shutdown::Both);
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.set_up(false);
    }
}
