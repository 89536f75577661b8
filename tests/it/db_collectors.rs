//! The database collectors against real servers from Debian's packages (PostgreSQL with TLS
//! required, MariaDB for the MySQL protocol, Redis with a password), each started by its test in
//! a temporary directory on a loopback port as `nobody`: the version collected, a wrong password,
//! a closed port, TLS required and verified, and the existing analyzers over the bundle the run
//! wrote. The password never reaches the bundle or the run record.

use crate::support;
use crate::support::kube_api;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::ports::{ClosedPort, listening_port};
use support::triggered::Triggered;

const PASSWORD: &str = "Sekr1t-pw-4-tests";

/// A server process, killed on drop (its temporary directory removed after it).
struct Server {
    child: Child,
    port: u16,
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

fn require(program: &str, package: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"] {
        let p = Path::new(dir).join(program);
        if p.is_file() {
            return p;
        }
    }
    panic!("{program} is missing: apt-get install -y {package} (scripts/test installs it)");
}

/// A test CA and a certificate for 127.0.0.1/localhost it signed, plus an unrelated CA.
struct Certs {
    ca: String,
    other_ca: String,
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
fn postgres() -> (Server, Certs) {
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
fn mariadb() -> Server {
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
fn redis() -> Server {
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

/// Runs one job whose spec has `collectors` and `analyzers` (YAML list items, 4-space indent),
/// with the default redaction.
fn run_spec(collectors: &str, analyzers: &str) -> Triggered {
    run_spec_in(collectors, analyzers, None)
}

/// [`run_spec`] with the cluster of `kubeconfig`.
fn run_spec_in(collectors: &str, analyzers: &str, kubeconfig: Option<&str>) -> Triggered {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs");
    let mut job = String::from(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: kube\nspec:\n  schedule: \"0 2 * * *\"\n  analyze: {failOn: never}\n  collect:\n    supportBundle:\n      collectors:\n",
    );
    for line in collectors.lines() {
        job.push_str(&format!("        {line}\n"));
    }
    job.push_str("      analyzers:\n");
    if let Some(kc) = kubeconfig {
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, kc).expect("kubeconfig");
        job = job.replace(
            "  collect:\n",
            &format!("  collect:\n    kubeconfig: {}\n", path.display()),
        );
    }
    for line in analyzers.lines() {
        job.push_str(&format!("        {line}\n"));
    }
    std::fs::write(jobs.join("kube.yaml"), &job).expect("job");
    Triggered::run(dir, &[], Duration::from_secs(300))
}

/// The connection file of `<kind>/<name>.json`.
fn connection(run: &Triggered, kind: &str, name: &str) -> Value {
    run.json(&format!("{kind}/{name}.json"))
}

/// The analysis.json result titled `title`: (pass, warn or fail; message).
fn verdict(run: &Triggered, title: &str) -> (String, String) {
    let analysis = run.json("analysis.json");
    let r = analysis
        .as_array()
        .and_then(|a| a.iter().find(|r| r["insight"]["primary"] == title))
        .unwrap_or_else(|| panic!("no result {title:?} in {analysis:#}"));
    // analysis.json's severities are troubleshoot's: `error` for a fail, `debug` for a pass.
    let severity = match r["severity"].as_str().unwrap_or("") {
        "error" => "fail",
        "debug" => "pass",
        other => other,
    };
    (
        severity.to_string(),
        r["insight"]["detail"].as_str().unwrap_or("").to_string(),
    )
}

/// The password is nowhere in the bundle's files nor in the run record.
fn assert_no_password(run: &Triggered) {
    for rel in run.paths() {
        let bytes = std::fs::read(run.bundle.join(&rel)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(PASSWORD),
            "{rel} holds the password"
        );
    }
    assert!(
        !run.record.to_string().contains(PASSWORD),
        "the run record holds the password"
    );
}

/// A `fail when not connected / pass when connected` analyzer for `kind`'s collector `name`.
fn analyzer(kind: &str, name: &str) -> String {
    format!(
        "- {kind}:\n    checkName: {name}\n    collectorName: {name}\n    outcomes:\n      - fail: {{when: connected == false, message: cannot connect}}\n      - pass: {{when: connected == true, message: connected}}\n"
    )
}

#[test]
fn postgres_with_tls_required() {
    let (pg, certs) = postgres();
    let base = format!("postgresql://tsa:{PASSWORD}@127.0.0.1:{}/postgres", pg.port);
    let wrong = format!("postgresql://tsa:wrong-pw@127.0.0.1:{}/postgres", pg.port);
    let indent = |pem: &str| {
        pem.lines()
            .map(|l| format!("          {l}\n"))
            .collect::<String>()
    };
    let collectors = format!(
        "- postgres: {{collectorName: prefer, uri: \"{base}\"}}\n\
         - postgres: {{collectorName: wrong-password, uri: \"{wrong}\"}}\n\
         - postgres: {{collectorName: plain, uri: \"{base}?sslmode=disable\"}}\n\
         - postgres:\n    collectorName: verified\n    uri: \"{base}?sslmode=verify-full\"\n    tls:\n      cacert: |\n{}\
         - postgres:\n    collectorName: other-ca\n    uri: \"{base}?sslmode=verify-full\"\n    tls:\n      cacert: |\n{}\
         - postgres: {{collectorName: closed, uri: \"postgresql://tsa:{PASSWORD}@127.0.0.1:{}/postgres\"}}\n\
         - postgres:\n    collectorName: ca-from-secret\n    uri: \"{base}?sslmode=verify-full\"\n    tls: {{secret: {{name: pg-ca, namespace: default}}}}\n",
        indent(&certs.ca),
        indent(&certs.other_ca),
        ClosedPort::new().port,
    );
    let analyzers = ["prefer", "wrong-password", "verified", "closed"]
        .map(|n| analyzer("postgres", n))
        .concat();
    // `tls.secret`: the CA from a Secret of the (test) cluster, keys as troubleshoot reads them.
    let mut cluster = kube_api::Cluster::baseline();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&certs.ca);
    cluster
        .insert_value(
            serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pg-ca", "namespace": "default"}, "data": {"cacert": b64}}),
            None,
        )
        .expect("secret");
    let api = kube_api::KubeApiServer::start(cluster);
    let run = run_spec_in(&collectors, &analyzers, Some(&api.kubeconfig("default")));
    assert_eq!(
        run.collector("title", "postgres/prefer")["status"],
        "succeeded",
        "{:#}",
        run.record
    );

    let ok = connection(&run, "postgres", "prefer");
    assert_eq!(ok["isConnected"], true, "{ok}");
    let version = ok["version"].as_str().expect("version");
    assert!(
        version.starts_with(|c: char| c.is_ascii_digit()) && version.contains('.'),
        "{ok}"
    );
    assert_eq!(
        ok.as_object().map(|o| o.len()),
        Some(2),
        "only isConnected and version: {ok}"
    );
    for name in ["verified", "ca-from-secret"] {
        assert_eq!(
            connection(&run, "postgres", name),
            serde_json::json!({"isConnected": true, "version": version}),
            "{name}"
        );
    }

    let bad = connection(&run, "postgres", "wrong-password");
    assert_eq!(bad["isConnected"], false);
    assert!(
        bad["error"]
            .as_str()
            .unwrap_or("")
            .contains("password authentication failed"),
        "{bad}"
    );
    // pg_hba only has `hostssl`: a connection without TLS is refused by the server, clearly.
    let plain = connection(&run, "postgres", "plain");
    assert_eq!(plain["isConnected"], false);
    assert!(
        plain["error"]
            .as_str()
            .unwrap_or("")
            .contains("no encryption"),
        "{plain}"
    );
    let other = connection(&run, "postgres", "other-ca");
    assert_eq!(other["isConnected"], false);
    assert!(
        other["error"]
            .as_str()
            .unwrap_or("")
            .to_lowercase()
            .contains("certificate"),
        "{other}"
    );
    let closed = connection(&run, "postgres", "closed");
    assert_eq!(closed["isConnected"], false);
    assert!(
        closed["error"]
            .as_str()
            .unwrap_or("")
            .to_lowercase()
            .contains("refused"),
        "{closed}"
    );

    assert_eq!(verdict(&run, "prefer"), ("pass".into(), "connected".into()));
    assert_eq!(verdict(&run, "verified").0, "pass");
    // postgres appends the connection error to a fail's message, as troubleshoot does.
    let (sev, msg) = verdict(&run, "wrong-password");
    assert_eq!(sev, "fail");
    assert!(
        msg.starts_with("cannot connect ") && msg.contains("password authentication failed"),
        "{msg}"
    );
    assert_eq!(verdict(&run, "closed").0, "fail");
    assert_no_password(&run);
    drop(pg);
}

#[test]
fn mysql_against_mariadb() {
    let db = mariadb();
    let dsn = |pw: &str| format!("tsa:{pw}@tcp(127.0.0.1:{})/mysql", db.port);
    let collectors = format!(
        "- mysql:\n    collectorName: ok\n    uri: \"{}\"\n    parameters: [max_connections, version_comment, no_such_variable]\n\
         - mysql: {{collectorName: wrong-password, uri: \"{}\"}}\n\
         - mysql: {{collectorName: closed, uri: \"tsa:{PASSWORD}@tcp(127.0.0.1:{})/mysql\"}}\n",
        dsn(PASSWORD),
        dsn("wrong-pw"),
        ClosedPort::new().port
    );
    let analyzers = ["ok", "wrong-password", "closed"]
        .map(|n| analyzer("mysql", n))
        .concat()
        + "- mysql:\n    checkName: new enough\n    collectorName: ok\n    outcomes:\n      - fail: {when: version < 10.0.0, message: too old}\n      - pass: {message: new enough}\n";
    let run = run_spec(&collectors, &analyzers);
    let ok = connection(&run, "mysql", "ok");
    assert_eq!(ok["isConnected"], true, "{ok}");
    assert!(
        ok["version"].as_str().unwrap_or("").contains("MariaDB"),
        "{ok}"
    );
    let vars = ok["variables"].as_object().expect("variables");
    assert_eq!(
        vars.keys().collect::<Vec<_>>(),
        ["max_connections", "version_comment"],
        "{ok}"
    );
    let bad = connection(&run, "mysql", "wrong-password");
    assert_eq!(bad["isConnected"], false);
    assert!(
        bad["error"]
            .as_str()
            .unwrap_or("")
            .contains("Access denied"),
        "{bad}"
    );
    let closed = connection(&run, "mysql", "closed");
    assert_eq!(closed["isConnected"], false, "{closed}");
    assert!(
        !closed["error"].as_str().unwrap_or("").is_empty(),
        "{closed}"
    );

    assert_eq!(verdict(&run, "ok").0, "pass");
    assert_eq!(
        verdict(&run, "new enough"),
        ("pass".into(), "new enough".into())
    );
    // mysql does not append the error, as in troubleshoot.
    assert_eq!(
        verdict(&run, "wrong-password"),
        ("fail".into(), "cannot connect".into())
    );
    assert_eq!(verdict(&run, "closed").0, "fail");
    assert_no_password(&run);
    drop(db);
}

#[test]
fn redis_with_a_password() {
    let r = redis();
    let collectors = format!(
        "- redis: {{collectorName: ok, uri: \"redis://:{PASSWORD}@127.0.0.1:{port}/0\"}}\n\
         - redis: {{collectorName: wrong-password, uri: \"redis://:wrong-pw@127.0.0.1:{port}\"}}\n\
         - redis: {{collectorName: no-password, uri: \"redis://127.0.0.1:{port}\"}}\n\
         - redis: {{collectorName: closed, uri: \"redis://127.0.0.1:{closed}\"}}\n",
        port = r.port,
        closed = ClosedPort::new().port,
    );
    let analyzers = ["ok", "wrong-password", "no-password", "closed"]
        .map(|n| analyzer("redis", n))
        .concat();
    let run = run_spec(&collectors, &analyzers);
    let ok = connection(&run, "redis", "ok");
    assert_eq!(ok["isConnected"], true, "{ok}");
    let out = Command::new(require("redis-server", "redis-server"))
        .arg("--version")
        .output()
        .expect("redis-server --version");
    let version = ok["version"].as_str().expect("version");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("v={version} ")),
        "{ok}"
    );
    let bad = connection(&run, "redis", "wrong-password");
    assert_eq!(bad["isConnected"], false);
    let e = bad["error"].as_str().unwrap_or("");
    assert!(
        e.contains("WRONGPASS") || e.contains("invalid password"),
        "{bad}"
    );
    let none = connection(&run, "redis", "no-password");
    assert!(
        none["error"].as_str().unwrap_or("").starts_with("NOAUTH"),
        "{none}"
    );
    let closed = connection(&run, "redis", "closed");
    assert!(
        closed["error"].as_str().unwrap_or("").contains("refused"),
        "{closed}"
    );
    assert_eq!(verdict(&run, "ok"), ("pass".into(), "connected".into()));
    for name in ["wrong-password", "no-password", "closed"] {
        assert_eq!(
            verdict(&run, name),
            ("fail".into(), "cannot connect".into()),
            "{name}"
        );
    }
    assert_no_password(&run);
    drop(r);
}

/// SQL Server and ClickHouse have no Debian package: a closed port gives a clear not-connected
/// file; ClickHouse's native protocol, which this build does not speak, fails the collector with
/// the reason and writes no connection file (no false "not connected").
#[test]
fn mssql_and_clickhouse_without_a_server() {
    let closed = ClosedPort::new().port;
    let collectors = format!(
        "- mssql: {{collectorName: closed, uri: \"sqlserver://sa:{PASSWORD}@127.0.0.1:{closed}?database=master\"}}\n\
         - clickhouse: {{collectorName: http, uri: \"http://default:{PASSWORD}@127.0.0.1:{closed}/default\"}}\n\
         - clickhouse: {{collectorName: native, uri: \"clickhouse://default:{PASSWORD}@127.0.0.1:{closed}/default\"}}\n"
    );
    let analyzers = analyzer("mssql", "closed") + &analyzer("clickhouse", "http");
    let run = run_spec(&collectors, &analyzers);
    let m = connection(&run, "mssql", "closed");
    assert_eq!(m["isConnected"], false);
    assert!(m["error"].as_str().unwrap_or("").contains("refused"), "{m}");
    let h = connection(&run, "clickhouse", "http");
    assert_eq!(h["isConnected"], false);
    assert!(!h["error"].as_str().unwrap_or("").is_empty(), "{h}");
    let native = run.collector("title", "clickhouse/native");
    assert_eq!(native["status"], "failed", "{native}");
    let e = native["error"].as_str().unwrap_or("");
    assert!(
        e.starts_with("this build cannot connect to ClickHouse") && e.contains("http://"),
        "{e}"
    );
    assert!(!run.exists("clickhouse/native.json"));
    assert!(
        run.exists("collector-errors/clickhouse/native-error.json"),
        "{:#?}",
        run.paths()
    );
    assert_eq!(verdict(&run, "closed").0, "fail");
    assert_eq!(verdict(&run, "http").0, "fail");
    assert_no_password(&run);
}

/// A server that accepts and never answers: each collector gives up at `kubeRequestTimeout` with
/// a clear not-connected file, and the run goes on.
#[test]
fn a_silent_server_is_bounded_by_the_request_timeout() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let stop = Arc::new(AtomicBool::new(false));
    let holder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => held.push(s),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            held.len()
        })
    };
    let collectors = format!(
        "- postgres: {{collectorName: silent, uri: \"postgresql://tsa:{PASSWORD}@127.0.0.1:{port}/db\"}}\n\
         - mysql: {{collectorName: silent, uri: \"tsa:{PASSWORD}@tcp(127.0.0.1:{port})/db\"}}\n\
         - redis: {{collectorName: silent, uri: \"redis://:{PASSWORD}@127.0.0.1:{port}\"}}\n"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs");
    let mut job = String::from(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: kube\nspec:\n  schedule: \"0 2 * * *\"\n  collect:\n    supportBundle:\n      collectors:\n",
    );
    for line in collectors.lines() {
        job.push_str(&format!("        {line}\n"));
    }
    std::fs::write(jobs.join("kube.yaml"), &job).expect("job");
    let run = Triggered::run(
        dir,
        &[("TROUBLESHOOT_AGENT_KUBE_REQUEST_TIMEOUT", "1s")],
        Duration::from_secs(300),
    );
    stop.store(true, Ordering::Relaxed);
    assert!(
        holder.join().expect("holder") >= 3,
        "each collector connected"
    );
    for kind in ["postgres", "mysql", "redis"] {
        let c = connection(&run, kind, "silent");
        assert_eq!(c["isConnected"], false, "{kind}: {c}");
        assert_eq!(
            c["error"],
            format!("no answer from the {kind} server within 1s"),
            "{kind}"
        );
        assert_eq!(
            run.collector("title", &format!("{kind}/silent"))["status"],
            "succeeded"
        );
    }
    assert_no_password(&run);
}
