//! No secret of the agent leaks, through the real CLI, real processes and real servers:
//! collectors get a clean environment, every secret the agent resolved for a job is removed
//! literally from its bundle, upload error bodies reach records cut and redacted, and `-vvv` does
//! not log the AWS session token.

use crate::support;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::ports::ClosedPort;
use support::servers::{AWS_ENV, Moto};
use support::{agent, dirs, stderr, stdout};

const CANARY: &str = "s3cr3t-value-123";
const ENV_SECRET: &str = "innocuous-label-9f8e7d6c5b";
const FILE_SECRET: &str = "file-token-ABCDEF1234567890";

/// The headers of each request a server saw (names lowercased).
type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// A tiny HTTP/1.1 server answering every request with `status` and a body made by `body` from
/// the request's headers; it keeps the headers it saw.
struct Server {
    addr: SocketAddr,
    seen: Seen,
}

impl Server {
    fn start(status: u16, body: fn(&[(String, String)]) -> String) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let log = log.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, status, body, &log);
                });
            }
        });
        Server { addr, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

fn serve(
    conn: std::net::TcpStream,
    status: u16,
    body: fn(&[(String, String)]) -> String,
    log: &Seen,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let length: u64 = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    std::io::copy(&mut (&mut reader).take(length), &mut std::io::sink())?;
    let text = body(&headers);
    log.lock().unwrap().push(headers);
    let mut w = conn;
    write!(
        w,
        "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )?;
    w.flush()
}

/// The whole decompressed tar stream of a bundle: every file's name and content.
fn archive_bytes(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn job(name: &str, collectors: &str, upload: &str) -> String {
    format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: {name}}}\nspec:\n  schedule: \"0 2 * * *\"\n  collect:\n    supportBundle:\n      hostCollectors:\n{collectors}  upload:\n{upload}"
    )
}

#[test]
fn collectors_get_a_clean_environment_and_resolved_secrets_never_reach_the_bundle() {
    let server = Server::start(201, |_| String::new());
    let d = dirs();
    let token_file = d.root.path().join("upload-token");
    std::fs::write(&token_file, format!("{FILE_SECRET}\n")).unwrap();
    // A secret file must be readable by its owner only (the agent refuses it otherwise).
    std::fs::set_permissions(
        &token_file,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
    )
    .unwrap();
    let collectors = format!(
        "        - run: {{collectorName: whole-env, command: env}}\n\
         \x20       - run: {{collectorName: named, command: printenv, args: [BUILD_LABEL], inheritEnvs: [BUILD_LABEL]}}\n\
         \x20       - run: {{collectorName: token-file, command: cat, args: [\"{}\"]}}\n",
        token_file.display()
    );
    let upload = format!(
        "    - http:\n        url: \"{}\"\n        headers:\n          X-Build-Label: {{fromEnv: BUILD_LABEL}}\n        bearerToken: {{fromFile: {}}}\n",
        server.url("/in/{runId}"),
        token_file.display()
    );
    std::fs::write(d.jobs.join("job.yaml"), job("leaky", &collectors, &upload)).unwrap();
    let out = support::trigger_foreground(
        &d.jobs,
        &d.state,
        "leaky",
        &[("TSA_LEAK_CANARY", CANARY), ("BUILD_LABEL", ENV_SECRET)],
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    for secret in [CANARY, ENV_SECRET, FILE_SECRET] {
        assert!(!text.contains(secret), "{secret} in the record: {text}");
    }
    let record: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(record["uploads"][0]["status"], "succeeded", "{record:#}");
    // The upload itself carried the secrets: they were resolved.
    let seen = server.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|h| h.contains(&("authorization".to_string(), format!("Bearer {FILE_SECRET}"))))
    );
    assert!(
        seen.iter()
            .any(|h| h.contains(&("x-build-label".to_string(), ENV_SECRET.to_string())))
    );

    let bundle = archive_bytes(Path::new(record["bundle"]["path"].as_str().unwrap()));
    // The collectors ran and wrote their output...
    assert!(contains(&bundle, "host-collectors/run-host/whole-env.txt"));
    assert!(
        contains(&bundle, "PATH="),
        "env printed the clean environment"
    );
    // ...without the agent's environment, and with every resolved secret masked.
    assert!(
        !contains(&bundle, "TSA_LEAK_CANARY"),
        "an uninherited variable name"
    );
    for secret in [CANARY, ENV_SECRET, FILE_SECRET] {
        assert!(!contains(&bundle, secret), "{secret} is in the bundle");
    }
    assert!(contains(&bundle, "***HIDDEN***"));
    let totals = &record["redaction"]["totals"];
    let literal: u64 = totals
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("agent-secrets.literal."))
        .map(|(_, v)| v.as_u64().unwrap())
        .sum();
    // printenv's value and cat's token: at least one each.
    assert!(literal >= 2, "{record:#}");
    assert_eq!(
        record["redaction"]["agentSecrets"]["values"], 2,
        "{record:#}"
    );
}

#[test]
fn upload_error_bodies_reach_the_record_cut_and_redacted() {
    // The server answers 400 with a body that echoes the request's key header, holds a token of
    // its own, and is far longer than what a record keeps.
    let server = Server::start(400, |headers| {
        let key = headers
            .iter()
            .find(|(k, _)| k == "x-api-key")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        format!(
            "bad request; you sent x-api-key {key}; debug: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.c2VydmVyLWNhbmFyeQ.sig password=server-canary-pw {}",
            "x".repeat(4000)
        )
    });
    let d = dirs();
    let upload = format!(
        "    - http:\n        url: \"{}\"\n        headers:\n          X-Api-Key: {{fromEnv: UPLOAD_KEY}}\n",
        server.url("/in")
    );
    std::fs::write(
        d.jobs.join("job.yaml"),
        job(
            "bodies",
            "        - run: {collectorName: hello, command: echo, args: [hi]}\n",
            &upload,
        ),
    )
    .unwrap();
    let out = support::trigger_foreground(
        &d.jobs,
        &d.state,
        "bodies",
        &[("UPLOAD_KEY", "upload-key-canary-42")],
        Duration::from_secs(120),
    );
    let text = stdout(&out);
    let record: Value = serde_json::from_str(&text).expect("a record");
    let error = record["uploads"][0]["error"].as_str().unwrap();
    assert!(error.contains("HTTP 400"), "{error}");
    assert!(
        error.contains("bad request"),
        "the body's start is kept: {error}"
    );
    let closed = ClosedPort::new();
    let history = agent(&d.state)
        .arg("--jobs-dir")
        .arg(&d.jobs)
        .arg("--listen")
        .arg(closed.addr())
        .args(["--output", "json", "history", "bodies"])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(history.status.success(), "{}", stderr(&history));
    let history = stdout(&history);
    assert!(history.contains("HTTP 400"), "{history}");
    for (what, text) in [("record", &text), ("history", &history)] {
        for secret in [
            "upload-key-canary-42",
            "c2VydmVyLWNhbmFyeQ",
            "server-canary-pw",
        ] {
            assert!(!text.contains(secret), "{secret} in the {what}: {text}");
        }
        assert!(
            !text.contains(&"x".repeat(600)),
            "the body is cut in the {what}"
        );
    }
}

#[test]
fn trace_logging_does_not_print_the_aws_session_token() {
    const TOKEN: &str = "SessionTokenCanary0123456789abcdef";
    let moto = Moto::start();
    moto.create_bucket("logs");
    let d = dirs();
    std::fs::write(
        d.jobs.join("job.yaml"),
        job(
            "traced",
            "        - run: {collectorName: hello, command: echo, args: [hi]}\n",
            &format!(
                "    - s3: {{bucket: logs, region: us-east-1, endpoint: \"{}\", forcePathStyle: true}}\n",
                moto.endpoint()
            ),
        ),
    )
    .unwrap();
    let closed = ClosedPort::new();
    let run = |extra: &[(&str, &str)]| {
        let mut cmd = agent(&d.state);
        cmd.arg("--jobs-dir")
            .arg(&d.jobs)
            .arg("--listen")
            .arg(closed.addr())
            .args(["-vvv", "--output", "json", "trigger", "traced"]);
        for (k, v) in AWS_ENV.iter().chain(extra) {
            cmd.env(k, v);
        }
        cmd.env("AWS_SESSION_TOKEN", TOKEN);
        cmd.timeout(Duration::from_secs(180)).output().unwrap()
    };
    let out = run(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let record: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(record["uploads"][0]["status"], "succeeded", "{record:#}");
    let log = stderr(&out);
    assert!(
        !log.contains(TOKEN),
        "the session token is in the log {} times",
        log.matches(TOKEN).count()
    );
    // The same run with the SDK's crates named explicitly does print it: the check above can fail.
    let named = run(&[(
        "TROUBLESHOOT_AGENT_LOG",
        "trace,aws_smithy_runtime=trace,aws_sigv4=trace,aws_smithy_http=trace,hyper=trace",
    )]);
    assert!(
        stderr(&named).contains(TOKEN),
        "the SDK's dumps hold the token"
    );
}
