//! The real servers of the database collector tests, each in a temporary directory `nobody` owns,
//! on a loopback port, killed on drop.

use super::PASSWORD;
use crate::support::ports::listening_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process, killed on drop (its temporary directory removed after it).
pub(super) struct Server {
    child: Child,
    pub(super) port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A working directory `nobody` owns (the servers refuse root, or should not run as root).
fn nobody_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    chown_nobody(dir.path());
    dir
}

fn chown_nobody(path: &Path) {
    std::os::unix::fs::chown(path, Some(65534), Some(65534)).expect("chown to nobody");
}

/// `program args` as `nobody`.
fn as_nobody(program: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(program)
        .env("HOME", "/nonexistent");
    cmd
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A port to try: servers here cannot bind port 0, so a busy port is detected (the server exits)
/// and another is tried.
fn candidate_port(attempt: u32) -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mix = (nanos ^ std::process::id().wrapping_mul(2_654_435_761)).wrapping_add(attempt * 7919);
    20_000 + (mix % 40_000) as u16
}

/// Starts `start(port)` until one listens on its port (up to 5 ports), within 60 s each.
fn start_listening(what: &str, dir: tempfile::TempDir, start: impl Fn(u16) -> Command) -> Server {
    for attempt in 0..5 {
        let port = candidate_port(attempt);
        let log =
            std::fs::File::create(dir.path().join(format!("server-{port}.log"))).expect("log");
        let mut child = start(port)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if listening_port(child.id()) == Some(port) {
                return Server {
                    child,
                    port,
                    _dir: dir,
                };
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not listen on {port} within 60 s: {}",
                log_of(dir.path(), port)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "{what} did not start on port {port}: {}",
            log_of(dir.path(), port)
        );
    }
    panic!("{what} did not start on any of 5 ports");
}

fn log_of(dir: &Path, port: u16) -> String {
    std::fs::read_to_string(dir.join(format!("server-{port}.log"))).unwrap_or_default()
}

/// The newest PostgreSQL's binaries (`postgresql` installs them under /usr/lib/postgresql/N/bin).
fn pg_bin(name: &str) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is missing: apt-get install -y postgresql (scripts/test installs it)")
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join(name).is_file())
        .collect();
    dirs.sort();
    dirs.pop()
        .unwrap_or_else(|| {
            panic!("no {name} under /usr/lib/postgresql/*/bin: apt-get install -y postgresql")
        })
        .join(name)
}

pub(super) fn require(program: &str, package: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(program);
        if p.is_file() {
            return p;
        }
    }
    panic!("{program} is missing: apt-get install -y {package} (scripts/test installs it)");
}

/// A test CA and a certificate for 127.0.0.1/localhost it signed, plus an unrelated CA.
pub(super) struct Certs {
    pub(super) ca: String,
    pub(super) other_ca: String,
    cert: PathBuf,
    key: PathBuf,
}

fn make_certs(dir: &Path) -> Certs {
    let openssl = require("openssl", "openssl");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    for name in ["ca", "other-ca"] {
        run_ok(
            Command::new(&openssl)
                .args(["req", "-x509"])
                .args(ec)
                .args(["-days", "2", "-subj", &format!("/CN=tsa {name}")])
                .arg("-keyout")
                .arg(dir.join(format!("{name}.key")))
                .arg("-out")
                .arg(dir.join(format!("{name}.crt"))),
            "openssl CA",
        );
    }
    run_ok(
        Command::new(&openssl)
            .arg("req")
            .args(ec)
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(dir.join("server.key"))
            .arg("-out")
            .arg(dir.join("server.csr")),
        "openssl server key",
    );
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext");
    run_ok(
        Command::new(&openssl)
            .args(["x509", "-req", "-days", "2", "-in"])
            .arg(dir.join("server.csr"))
            .arg("-CA")
            .arg(dir.join("ca.crt"))
            .arg("-CAkey")
            .arg(dir.join("ca.key"))
            .args(["-CAcreateserial", "-extfile"])
            .arg(dir.join("ext"))
            .arg("-out")
            .arg(dir.join("server.crt")),
        "openssl sign",
    );
    for f in ["server.key", "server.crt"] {
        chown_nobody(&dir.join(f));
    }
    std::fs::set_permissions(
        dir.join("server.key"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("chmod");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("cert");
    Certs {
        ca: read("ca.crt"),
        other_ca: read("other-ca.crt"),
        cert: dir.join("server.crt"),
        key: dir.join("server.key"),
    }
}

/// PostgreSQL that accepts only TLS connections (`hostssl`), user `tsa` with [`PASSWORD`].
pub(super) fn postgres() -> (Server, Certs) {
    let dir = nobody_dir();
    let certs = make_certs(dir.path());
    let pw = dir.path().join("pw");
    std::fs::write(&pw, PASSWORD).expect("pwfile");
    chown_nobody(&pw);
    let data = dir.path().join("data");
    run_ok(
        as_nobody(&pg_bin("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "tsa",
                "--auth=scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
                "--pwfile",
            ])
            .arg(&pw),
        "initdb",
    );
    std::fs::write(
        data.join("pg_hba.conf"),
        "hostssl all all 127.0.0.1/32 scram-sha-256\n",
    )
    .expect("pg_hba");
    let socket_dir = dir.path().to_path_buf();
    let server = start_listening("postgres", dir, |port| {
        let mut cmd = as_nobody(&pg_bin("postgres"));
        cmd.arg("-D")
            .arg(&data)
            .args([
                "-p",
                &port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "ssl=on",
                "-c",
                "fsync=off",
            ])
            .arg("-c")
            .arg(format!("ssl_cert_file={}", certs.cert.display()))
            .arg("-c")
            .arg(format!("ssl_key_file={}", certs.key.display()))
            .arg("-c")
            .arg(format!("unix_socket_directories={}", socket_dir.display()));
        cmd
    });
    (server, certs)
}

/// MariaDB with user `tsa`@`%` identified by [`PASSWORD`].
pub(super) fn mariadb() -> Server {
    let dir = nobody_dir();
    let data = dir.path().join("data");
    run_ok(
        as_nobody(&require("mariadb-install-db", "mariadb-server"))
            .args([
                "--no-defaults",
                "--skip-test-db",
                "--auth-root-authentication-method=normal",
            ])
            .arg(format!("--datadir={}", data.display())),
        "mariadb-install-db",
    );
    let init = dir.path().join("init.sql");
    std::fs::write(
        &init,
        format!("CREATE USER IF NOT EXISTS 'tsa'@'%' IDENTIFIED BY '{PASSWORD}';\nGRANT ALL ON *.* TO 'tsa'@'%';\n"),
    )
    .expect("init.sql");
    chown_nobody(&init);
    let base = dir.path().to_path_buf();
    start_listening("mariadbd", dir, |port| {
        let mut cmd = as_nobody(&require("mariadbd", "mariadb-server"));
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", base.join("sock").display()))
            .arg(format!("--pid-file={}", base.join("pid").display()))
            .arg(format!("--init-file={}", init.display()))
            .args([
                &format!("--port={port}"),
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
            ]);
        cmd
    })
}

/// Redis with `requirepass` [`PASSWORD`].
pub(super) fn redis() -> Server {
    let dir = nobody_dir();
    let base = dir.path().to_path_buf();
    start_listening("redis-server", dir, |port| {
        let mut cmd = as_nobody(&require("redis-server", "redis-server"));
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--requirepass",
            PASSWORD,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
        ])
        .arg(&base);
        cmd
    })
}
