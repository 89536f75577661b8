//! HTTP delivery against a real HTTP server started by the test (std only): secrets from env and
//! files, placeholders in the URL, create-only PUT, troubleshoot's `afterCollection`
//! convention (`uploadResultsTo` + `callback`), 401 failing fast and 503 retried from the queue.

use crate::support;

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::daemon::{Daemon, wait_until};
use support::servers::{file_sha256, hex};
use support::{agent, dirs, stderr, stdout};

/// One request the server saw.
#[derive(Clone, Debug)]
struct Received {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    size: u64,
    sha256: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A small HTTP/1.1 server: records every request (body hashed as it streams in) and answers
/// with the status currently set.
struct Server {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start(status: u16) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(status));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s, st) = (received.clone(), status.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (r, s) = (r.clone(), s.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &r, &s);
                });
            }
        });
        Server {
            addr,
            received,
            status,
            stop,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

fn serve(
    conn: std::net::TcpStream,
    received: &Mutex<Vec<Received>>,
    status: &AtomicU16,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let length: u64 = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut (&mut reader).take(length), &mut hasher)?;
    let code = status.load(Ordering::SeqCst);
    received.lock().unwrap().push(Received {
        method,
        path,
        headers,
        size,
        sha256: hex(&hasher.finalize()),
    });
    let mut w = conn;
    write!(
        w,
        "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    w.flush()
}

fn job(name: &str, extra_collect: &str, upload: &str) -> String {
    format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: {name}}}\nspec:\n  schedule: \"0 2 * * *\"\n  collect:\n    supportBundle:\n      hostCollectors:\n        - run: {{collectorName: hello, command: sh, args: [\"-c\", \"echo hello\"]}}\n{extra_collect}{upload}"
    )
}

fn trigger(jobs: &Path, state: &Path, job: &str, env: &[(&str, &str)]) -> std::process::Output {
    support::trigger_foreground(jobs, state, job, env, Duration::from_secs(120))
}

#[test]
fn a_put_carries_secret_headers_the_digest_and_fills_the_url() {
    let server = Server::start(201);
    let d = dirs();
    let key_file = d.root.path().join("api-key");
    std::fs::write(&key_file, "key-from-file\n").unwrap();
    // Secret files must be private, or the job is refused.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        d.jobs.join("job.yaml"),
        job(
            "web",
            "",
            &format!(
                "  upload:\n    - http:\n        url: \"{}\"\n        method: PUT\n        bearerToken: {{fromEnv: BUNDLE_TOKEN}}\n        headers:\n          X-Api-Key: {{fromFile: {}}}\n",
                server.url("/bundles/{job}/{runId}.tar.gz"),
                key_file.display()
            ),
        ),
    )
    .unwrap();
    let env = [("BUNDLE_TOKEN", "tok-s3cret")];
    let out = trigger(&d.jobs, &d.state, "web", &env);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(!stdout(&out).contains("tok-s3cret") && !stdout(&out).contains("key-from-file"));
    let record: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let run_id = record["runId"].as_str().unwrap();
    let upload = &record["uploads"][0];
    assert_eq!(upload["status"], "succeeded", "{record:#}");
    assert_eq!(
        upload["url"],
        server.url(&format!("/bundles/web/{run_id}.tar.gz"))
    );
    let puts: Vec<Received> = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 1, "{puts:?}");
    let put = &puts[0];
    assert_eq!(put.path, format!("/bundles/web/{run_id}.tar.gz"));
    assert_eq!(put.header("authorization"), Some("Bearer tok-s3cret"));
    assert_eq!(put.header("x-api-key"), Some("key-from-file"));
    assert_eq!(put.header("if-none-match"), Some("*"));
    let bundle = Path::new(record["bundle"]["path"].as_str().unwrap());
    assert_eq!(put.sha256, file_sha256(bundle));
    assert_eq!(put.size, std::fs::metadata(bundle).unwrap().len());
    assert!(
        put.header("repr-digest")
            .is_some_and(|v| v.starts_with("sha-256=:"))
    );

    let mut cmd = agent(&d.state);
    cmd.arg("--jobs-dir")
        .arg(&d.jobs)
        .args(["trigger", "--check-targets", "web"]);
    cmd.env("BUNDLE_TOKEN", "tok-s3cret");
    let out = cmd.timeout(Duration::from_secs(60)).output().unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(server.requests().iter().any(|r| r.method == "HEAD"));
}

#[test]
fn a_401_fails_fast_and_the_check_says_so() {
    let server = Server::start(401);
    let d = dirs();
    std::fs::write(
        d.jobs.join("job.yaml"),
        job(
            "denied",
            "",
            &format!(
                "  upload:\n    - http: {{url: \"{}\", method: POST}}\n",
                server.url("/in")
            ),
        ),
    )
    .unwrap();
    let out = trigger(&d.jobs, &d.state, "denied", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let record: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let upload = &record["uploads"][0];
    assert_eq!(upload["status"], "failed", "{record:#}");
    assert_eq!(upload["attempts"], 1);
    assert!(
        upload["error"].as_str().unwrap().contains("HTTP 401"),
        "{record:#}"
    );
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.method == "POST")
            .count(),
        1
    );

    let mut cmd = agent(&d.state);
    cmd.arg("--jobs-dir")
        .arg(&d.jobs)
        .args(["trigger", "--check-targets", "denied"]);
    let out = cmd.timeout(Duration::from_secs(60)).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("FAILED  http:127.0.0.1"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn troubleshoot_upload_results_to_and_callback_work_unchanged() {
    let server = Server::start(200);
    let d = dirs();
    let upload_uri =
        server.url("/upload/abc?Content-Type=application%2Ftar%2Bgzip&X-Signature=zzz");
    let after = format!(
        "      afterCollection:\n        - uploadResultsTo: {{uri: \"{upload_uri}\", method: PUT}}\n        - callback: {{uri: \"{}\", method: POST}}\n",
        server.url("/callback/abc")
    );
    std::fs::write(d.jobs.join("job.yaml"), job("vendor", &after, "")).unwrap();
    let out = trigger(&d.jobs, &d.state, "vendor", &[]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        !text.contains("X-Signature"),
        "the presigned query must not be recorded: {text}"
    );
    let record: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(record["uploads"][0]["status"], "succeeded", "{record:#}");
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].method, "PUT");
    assert!(requests[0].path.starts_with("/upload/abc?"));
    assert_eq!(
        requests[0].header("content-type"),
        Some("application/tar+gzip")
    );
    assert_eq!(
        requests[0].sha256,
        file_sha256(Path::new(record["bundle"]["path"].as_str().unwrap()))
    );
    assert_eq!(
        (requests[1].method.as_str(), requests[1].path.as_str()),
        ("POST", "/callback/abc")
    );
    assert_eq!(requests[1].size, 0);
}

/// 503 is transient: the run leaves the upload queued; the restarted agent delivers it.
#[test]
fn a_503_is_retried_from_the_queue() {
    let server = Server::start(503);
    let d = dirs();
    std::fs::write(
        d.jobs.join("job.yaml"),
        job(
            "busy",
            "",
            &format!(
                "  upload:\n    - http: {{url: \"{}\"}}\n",
                server.url("/in/{runId}")
            ),
        ),
    )
    .unwrap();
    let first = Daemon::builder().jobs(&d.jobs).state(&d.state).start();
    let run_id = first.trigger("busy")["runId"].as_str().unwrap().to_string();
    let record = first.wait_run("busy", &run_id, Duration::from_secs(120));
    assert_eq!(record["uploads"][0]["status"], "pending", "{record:#}");
    assert_eq!(record["uploads"][0]["attempts"], 3, "{record:#}");
    assert!(
        record["uploads"][0]["error"]
            .as_str()
            .unwrap()
            .contains("HTTP 503")
    );
    first.stop();
    server.status.store(200, Ordering::SeqCst);
    let second = Daemon::builder().jobs(&d.jobs).state(&d.state).start();
    let record = wait_until(Duration::from_secs(60), "the queued upload", || {
        let text = std::fs::read_to_string(second.record_path("busy", &run_id))
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        if v["uploads"][0]["status"] == "succeeded" {
            Ok(v)
        } else {
            Err(text)
        }
    });
    assert_eq!(record["uploads"][0]["attempts"], 4, "{record:#}");
    let ok = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .count();
    assert_eq!(ok, 4);
    // The queue's driver counts the upload it delivered.
    assert_eq!(
        second.metric(&format!(
            "troubleshoot_scheduler_uploads_total{{target=\"http:{}\",status=\"succeeded\"}}",
            server.addr
        )),
        Some(1.0)
    );
    second.stop();
}

/// HTTPS with a private CA (`caFile`) and a client certificate (`clientCertFile`/`clientKeyFile`)
/// against Python's `ssl` server that requires one; without `caFile` the server is refused for
/// good. Certificates are made by the `openssl` command.
#[test]
fn https_with_a_private_ca_and_a_client_certificate() {
    let d = dirs();
    let dir = d.root.path();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the `openssl` command (Debian package openssl)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(dir.join("san.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    std::fs::write(dir.join("client.cnf"), "extendedKeyUsage=clientAuth\n").unwrap();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
    ]);
    for name in ["server", "client"] {
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ]);
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            "",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "",
            "-days",
            "2",
        ];
        let csr = format!("{name}.csr");
        let pem = format!("{name}.pem");
        args[3] = &csr;
        args[10] = &pem;
        // Extensions make them X.509 v3 certificates (webpki refuses v1).
        args.extend([
            "-extfile",
            if name == "server" {
                "san.cnf"
            } else {
                "client.cnf"
            },
        ]);
        openssl(&args);
    }
    let server_py = r#"
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_PUT(self):
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n)
        cn = dict(x[0] for x in self.connection.getpeercert()["subject"])["commonName"]
        print(f"PUT {self.path} {len(body)} {cn}", flush=True)
        self.send_response(201); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("server.pem", "server.key")
ctx.load_verify_locations("ca.pem")
ctx.verify_mode = ssl.CERT_REQUIRED
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("ready", srv.server_address[1], flush=True)
srv.serve_forever()
"#;
    /// Kills the server however the test ends (it holds the test's stderr open).
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut server = Killed(
        std::process::Command::new(support::servers::python())
            .args(["-c", server_py])
            .current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python TLS server"),
    );
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    // It binds port 0 and prints the port it got.
    let ready = lines.next().unwrap().unwrap();
    let port: u16 = ready
        .strip_prefix("ready ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("expected `ready PORT`, got {ready:?}"));
    let write_job = |with_ca: bool| {
        let ca = if with_ca {
            format!("        caFile: {}\n", dir.join("ca.pem").display())
        } else {
            String::new()
        };
        std::fs::write(
            d.jobs.join("job.yaml"),
            job(
                "tls",
                "",
                &format!(
                    "  upload:\n    - http:\n        url: \"https://127.0.0.1:{port}/in/{{runId}}\"\n{ca}        clientCertFile: {}\n        clientKeyFile: {}\n",
                    dir.join("client.pem").display(),
                    dir.join("client.key").display()
                ),
            ),
        )
        .unwrap();
    };
    write_job(true);
    let out = trigger(&d.jobs, &d.state, "tls", &[]);
    let record: Value = serde_json::from_str(&stdout(&out)).unwrap_or_default();
    assert!(out.status.success(), "{record:#}\n{}", stderr(&out));
    assert_eq!(record["uploads"][0]["status"], "succeeded", "{record:#}");
    let seen = lines.next().unwrap().unwrap();
    assert_eq!(
        seen,
        format!(
            "PUT /in/{} {} client",
            record["runId"].as_str().unwrap(),
            record["bundle"]["size"]
        )
    );

    write_job(false);
    let out = trigger(&d.jobs, &d.state, "tls", &[]);
    assert_eq!(out.status.code(), Some(1));
    let record: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let upload = &record["uploads"][0];
    assert_eq!(upload["status"], "failed", "{record:#}");
    assert_eq!(upload["attempts"], 1, "{record:#}");
    assert!(
        upload["error"].as_str().unwrap().contains("caFile"),
        "{record:#}"
    );
}
