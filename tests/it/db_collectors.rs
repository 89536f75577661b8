//! The database collectors against real servers from Debian's packages (PostgreSQL with TLS
//! required, MariaDB for the MySQL protocol, Redis with a password), each started by its test in
//! a temporary directory on a loopback port as `nobody`: the version collected, a wrong password,
//! a closed port, TLS required and verified, and the existing analyzers over the bundle the run
//! wrote. The password never reaches the bundle or the run record. ClickHouse and SQL Server have
//! no Debian package: ClickHouse's HTTP interface is played by a stand-in, SQL Server is only
//! tested unreachable.

use crate::support;
use crate::support::kube_api;

use serde_json::Value;
use servers::{mariadb, postgres, redis, require};
use std::process::Command;
use std::time::Duration;
use support::ports::ClosedPort;
use support::triggered::Triggered;

mod servers;

const PASSWORD: &str = "Sekr1t-pw-4-tests";

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

/// The test cluster with Secret `default/pg-ca` holding `ca` under `cacert`, the key troubleshoot
/// reads for a collector's `tls.secret`.
fn cluster_with_ca_secret(ca: &str) -> kube_api::KubeApiServer {
    use base64::Engine;
    let mut cluster = kube_api::Cluster::baseline();
    let b64 = base64::engine::general_purpose::STANDARD.encode(ca);
    let secret = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "pg-ca", "namespace": "default"},
        "data": {"cacert": b64},
    });
    cluster.insert_value(secret, None).expect("secret");
    kube_api::KubeApiServer::start(cluster)
}

/// The postgres collectors of [`postgres_with_tls_required`]: TLS unverified (`prefer`), a wrong
/// password, no TLS, verified with the right CA, the wrong CA and the CA from a Secret, a closed port.
fn postgres_collectors(port: u16, certs: &servers::Certs, closed: u16) -> String {
    let base = format!("postgresql://tsa:{PASSWORD}@127.0.0.1:{}/postgres", port);
    let wrong = format!("postgresql://tsa:wrong-pw@127.0.0.1:{}/postgres", port);
    let indent = |pem: &str| {
        pem.lines()
            .map(|l| format!("          {l}\n"))
            .collect::<String>()
    };
    format!(
        "- postgres: {{collectorName: prefer, uri: \"{base}\"}}\n\
         - postgres: {{collectorName: wrong-password, uri: \"{wrong}\"}}\n\
         - postgres: {{collectorName: plain, uri: \"{base}?sslmode=disable\"}}\n\
         - postgres:\n    collectorName: verified\n    uri: \"{base}?sslmode=verify-full\"\n    tls:\n      cacert: |\n{}\
         - postgres:\n    collectorName: other-ca\n    uri: \"{base}?sslmode=verify-full\"\n    tls:\n      cacert: |\n{}\
         - postgres: {{collectorName: closed, uri: \"postgresql://tsa:{PASSWORD}@127.0.0.1:{}/postgres\"}}\n\
         - postgres:\n    collectorName: ca-from-secret\n    uri: \"{base}?sslmode=verify-full\"\n    tls: {{secret: {{name: pg-ca, namespace: default}}}}\n",
        indent(&certs.ca),
        indent(&certs.other_ca),
        closed,
    )
}

#[test]
fn postgres_with_tls_required() {
    let (pg, certs) = postgres();
    let closed = ClosedPort::new();
    let collectors = postgres_collectors(pg.port, &certs, closed.port);
    let analyzers = ["prefer", "wrong-password", "verified", "closed"]
        .map(|n| analyzer("postgres", n))
        .concat();
    let api = cluster_with_ca_secret(&certs.ca);
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
    let closed = ClosedPort::new();
    let dsn = |pw: &str| format!("tsa:{pw}@tcp(127.0.0.1:{})/mysql", db.port);
    let collectors = format!(
        "- mysql:\n    collectorName: ok\n    uri: \"{}\"\n    parameters: [max_connections, version_comment, no_such_variable]\n\
         - mysql: {{collectorName: wrong-password, uri: \"{}\"}}\n\
         - mysql: {{collectorName: closed, uri: \"tsa:{PASSWORD}@tcp(127.0.0.1:{})/mysql\"}}\n",
        dsn(PASSWORD),
        dsn("wrong-pw"),
        closed.port
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
    let closed = ClosedPort::new();
    let collectors = format!(
        "- redis: {{collectorName: ok, uri: \"redis://:{PASSWORD}@127.0.0.1:{port}/0\"}}\n\
         - redis: {{collectorName: wrong-password, uri: \"redis://:wrong-pw@127.0.0.1:{port}\"}}\n\
         - redis: {{collectorName: no-password, uri: \"redis://127.0.0.1:{port}\"}}\n\
         - redis: {{collectorName: closed, uri: \"redis://127.0.0.1:{closed}\"}}\n",
        port = r.port,
        closed = closed.port,
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
    let held = ClosedPort::new();
    let closed = held.port;
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

/// A stand-in for ClickHouse's HTTP interface (ClickHouse has no Debian package): `SELECT
/// version()` for user `default` with [`PASSWORD`] answers a version, other credentials get
/// ClickHouse's 403 and message. Returns the port, the stop flag and the requests' texts.
fn fake_clickhouse() -> (
    u16,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<Vec<String>>,
) {
    use base64::Engine;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("default:{PASSWORD}"))
    );
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            stream.set_nonblocking(false).expect("blocking");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let body = String::from_utf8_lossy(&body).into_owned();
            let authorized = head.lines().any(|l| {
                l.split_once(':').is_some_and(|(k, v)| {
                    k.eq_ignore_ascii_case("authorization") && v.trim() == auth
                })
            });
            let ok = authorized && body == "SELECT version()";
            let (status, text) = if ok {
                ("200 OK", "24.8.4.13\n")
            } else {
                (
                    "403 Forbidden",
                    "Code: 516. DB::Exception: default: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)\n",
                )
            };
            let mut out = stream;
            let _ = write!(
                out,
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            );
            seen.push(format!("{head}\n{body}"));
        }
        seen
    });
    (port, stop, handle)
}

#[test]
fn clickhouse_over_its_http_interface() {
    let (port, stop, handle) = fake_clickhouse();
    let collectors = format!(
        "- clickhouse: {{collectorName: ok, uri: \"http://default:{PASSWORD}@127.0.0.1:{port}/default\"}}\n\
         - clickhouse: {{collectorName: wrong-password, uri: \"http://default:wrong-pw@127.0.0.1:{port}/default\"}}\n"
    );
    let analyzers = ["ok", "wrong-password"]
        .map(|n| analyzer("clickhouse", n))
        .concat()
        + "- clickhouse:\n    checkName: recent\n    collectorName: ok\n    outcomes:\n      - fail: {when: version < 23.x, message: too old}\n      - pass: {message: recent}\n";
    let run = run_spec(&collectors, &analyzers);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let requests = handle.join().expect("fake clickhouse");
    assert_eq!(
        connection(&run, "clickhouse", "ok"),
        serde_json::json!({"isConnected": true, "version": "24.8.4.13"})
    );
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with("POST /?database=default HTTP/1.1\r\n")),
        "{requests:#?}"
    );
    let bad = connection(&run, "clickhouse", "wrong-password");
    assert_eq!(bad["isConnected"], false);
    assert!(
        bad["error"]
            .as_str()
            .unwrap_or("")
            .contains("AUTHENTICATION_FAILED"),
        "{bad}"
    );
    assert_eq!(verdict(&run, "ok").0, "pass");
    assert_eq!(verdict(&run, "recent"), ("pass".into(), "recent".into()));
    // clickhouse appends the error to a fail's message, as troubleshoot does.
    let (sev, msg) = verdict(&run, "wrong-password");
    assert_eq!(sev, "fail");
    assert!(
        msg.starts_with("cannot connect clickhouse [HTTP 403]"),
        "{msg}"
    );
    assert_no_password(&run);
}
