//! The host collectors added last: `kubernetes`, `subnetAvailable`, `dns`,
//! `certificatesCollection`, `networkNamespaceConnectivity` and `registryImages`, each with
//! troubleshoot's paths and shapes, and our host analyzer run over what it wrote.
//!
//! Tests that need their own network (routes, a DNS server on 127.0.0.1:53, network namespaces)
//! rerun themselves alone in a child process inside fresh network and mount namespaces
//! (`unshare --net --mount`), so nothing they change reaches the machine.

use crate::support::alone;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use troubleshoot_agent::analyze::{DirView, Severity, analyze};
use troubleshoot_agent::collect::host::{self, HostOptions};
use troubleshoot_agent::collect::{CollectorOutcome, CollectorStatus};
use troubleshoot_agent::spec::parse_spec_text;

/// In the parent: reruns test `name` inside new network and mount namespaces and returns true
/// once it passed there. In that child: brings loopback up, gives it a private `/run/netns` (so
/// the named namespaces it makes are seen by no one else, and theirs not by it) and returns
/// false (run the body).
fn sandboxed(name: &str) -> bool {
    if alone::is_child(module_path!(), name) {
        ip(&["link", "set", "lo", "up"]);
        std::fs::create_dir_all("/run/netns").expect("/run/netns");
        mount(Some("tmpfs"), "/run/netns", Some("tmpfs"), 0);
        return false;
    }
    let stdout = alone::run(&mut alone::command(
        module_path!(),
        name,
        &["unshare", "--net", "--mount"],
    ));
    print!("{stdout}");
    true
}

/// Runs iproute2's `ip` (where the agent looks for it) with `args`, failing the test on error.
fn ip(args: &[&str]) -> String {
    let program = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("iproute2's ip (scripts/test installs it)");
    let out = Command::new(program).args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Collects and analyzes `spec` (a `spec:` body) into `root`; returns the collector outcomes and
/// the analyzer results as (severity, title, message).
async fn collect_and_analyze(
    spec: &str,
    root: &Path,
) -> (
    Vec<CollectorOutcome>,
    Vec<(Option<Severity>, String, String)>,
) {
    let text = format!(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {{name: more}}\nspec:\n{spec}"
    );
    let file = parse_spec_text(Path::new("more.yaml"), &text);
    assert!(!file.has_errors(), "{:?}", file.diagnostics);
    std::fs::write(root.join("version.yaml"), "kind: SupportBundle\n").expect("version");
    let cancel = CancellationToken::new();
    // A hang guard only.
    let outcomes = tokio::time::timeout(
        Duration::from_secs(300),
        host::collect(
            &file.spec.host_collectors,
            root,
            &cancel,
            &HostOptions::default(),
            chrono::Utc::now(),
        ),
    )
    .await
    .expect("host collection hung");
    let a = analyze(&DirView::new(root), &file.spec, chrono::Utc::now());
    assert!(a.errors.is_empty(), "analyzer errors: {:?}", a.errors);
    let results = a
        .results
        .iter()
        .map(|r| (r.severity, r.title.clone(), r.message.clone()))
        .collect();
    (outcomes, results)
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn read_json(root: &Path, rel: &str) -> Value {
    let text = read(root, rel);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}: {text}"))
}

fn pass(title: &str, message: &str) -> (Option<Severity>, String, String) {
    (Some(Severity::Pass), title.into(), message.into())
}

fn fail(title: &str, message: &str) -> (Option<Severity>, String, String) {
    (Some(Severity::Fail), title.into(), message.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_is_accepted_and_recorded_as_collecting_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (outcomes, _) =
        collect_and_analyze("  hostCollectors:\n    - kubernetes: {}\n", dir.path()).await;
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].title, "Kubernetes");
    assert_eq!(
        outcomes[0].status,
        CollectorStatus::Skipped {
            reason: host::KUBERNETES_REASON.into()
        }
    );
    assert!(outcomes[0].files.is_empty());
}

#[test]
fn subnet_available_reads_the_routes_and_our_analyzer_reads_it() {
    if sandboxed("subnet_available_reads_the_routes_and_our_analyzer_reads_it") {
        return;
    }
    // The only route of this network namespace besides loopback's: 10.1.0.0/16.
    ip(&["route", "add", "10.1.0.0/16", "dev", "lo"]);
    let spec = r#"  hostCollectors:
    - subnetAvailable: {collectorName: free, CIDRRangeAlloc: "10.0.0.0/15", desiredCIDR: 16}
    - subnetAvailable: {collectorName: taken, CIDRRangeAlloc: "10.1.0.0/16", desiredCIDR: 22}
    - subnetAvailable: {CIDRRangeAlloc: "10.1.0.0/16", desiredCIDR: 33}
  hostAnalyzers:
    - subnetAvailable:
        collectorName: free
        outcomes:
          - fail: {when: no-subnet-available, message: none free}
          - pass: {when: a-subnet-is-available, message: one free}
    - subnetAvailable:
        collectorName: taken
        outcomes:
          - fail: {when: no-subnet-available, message: none free}
          - pass: {when: a-subnet-is-available, message: one free}
"#;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let (outcomes, results) = runtime().block_on(collect_and_analyze(spec, root));
    assert_eq!(
        read(root, "host-collectors/subnetAvailable/free.json"),
        r#"{"CIDRRangeAlloc":"10.0.0.0/15","desiredCIDR":16,"status":"a-subnet-is-available"}"#
    );
    assert_eq!(
        read_json(root, "host-collectors/subnetAvailable/taken.json")["status"],
        "no-subnet-available"
    );
    // An impossible size is a located error, not a silent nothing.
    assert_eq!(outcomes[2].status, CollectorStatus::Failed);
    let err = read_json(root, "host-collectors/errors/Subnet Available-error.json");
    assert!(
        err["error"]
            .as_str()
            .unwrap_or("")
            .contains("33 invalid, must be between 1 and 32"),
        "{err}"
    );
    assert_eq!(
        results,
        [
            pass("Subnet Available", "one free"),
            fail("Subnet Available", "none free")
        ]
    );
}

/// A tiny DNS server on 127.0.0.1:53 of the sandbox: `db.corp.test` A, `api.search.test` A,
/// `alias.corp.test` CNAME to db (with db's A after it), `v6.corp.test` AAAA; NXDOMAIN else.
async fn dns_server(sock: tokio::net::UdpSocket) {
    let mut buf = [0u8; 512];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
            return;
        };
        let q = &buf[..n];
        // The question name, as dotted text, and its type.
        let (mut pos, mut name) = (12, String::new());
        while q[pos] != 0 {
            let l = usize::from(q[pos]);
            name.push_str(&String::from_utf8_lossy(&q[pos + 1..pos + 1 + l]));
            name.push('.');
            pos += 1 + l;
        }
        let qtype = u16::from_be_bytes([q[pos + 1], q[pos + 2]]);
        let question_end = pos + 5;
        let rr = |rtype: u16, rdata: &[u8]| {
            // The owner is the question name (a pointer to offset 12).
            let mut r = vec![0xC0, 12];
            r.extend_from_slice(&rtype.to_be_bytes());
            r.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
            r.extend_from_slice(&u16::try_from(rdata.len()).expect("len").to_be_bytes());
            r.extend_from_slice(rdata);
            r
        };
        let db_name = b"\x02db\x04corp\x04test\x00";
        let answers: Option<Vec<Vec<u8>>> = match (name.as_str(), qtype) {
            ("db.corp.test.", 1) => Some(vec![rr(1, &[10, 9, 8, 7])]),
            ("api.search.test.", 1) => Some(vec![rr(1, &[10, 1, 1, 1])]),
            ("alias.corp.test.", 1 | 5) => Some(vec![rr(5, db_name)]),
            ("v6.corp.test.", 28) => {
                let mut a = [0u8; 16];
                a[0] = 0xfd;
                a[15] = 1;
                Some(vec![rr(28, &a)])
            }
            ("db.corp.test." | "api.search.test." | "alias.corp.test." | "v6.corp.test.", _) => {
                Some(Vec::new())
            }
            _ => None,
        };
        let mut r = q[..question_end].to_vec();
        r[2] = 0x81;
        r[3] = if answers.is_some() { 0x80 } else { 0x83 };
        let answers = answers.unwrap_or_default();
        r[6..8].copy_from_slice(&u16::try_from(answers.len()).expect("count").to_be_bytes());
        for a in answers {
            r.extend_from_slice(&a);
        }
        let _ = sock.send_to(&r, peer).await;
    }
}

/// mount(2) in this (the sandbox's own) mount namespace.
fn mount(source: Option<&str>, target: &str, fstype: Option<&str>, flags: libc::c_ulong) {
    use std::ffi::CString;
    let c = |s: &str| CString::new(s).expect("no NUL");
    let (src, dst, fs) = (source.map(c), c(target), fstype.map(c));
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: C strings (or null) that live across the call.
    let rc = unsafe { libc::mount(ptr(&src), dst.as_ptr(), ptr(&fs), flags, std::ptr::null()) };
    assert_eq!(
        rc,
        0,
        "mount over {target}: {}",
        std::io::Error::last_os_error()
    );
}

/// Bind-mounts `file` over `target` in this (the sandbox's own) mount namespace.
fn bind_mount(file: &Path, target: &str) {
    mount(file.to_str(), target, None, libc::MS_BIND);
}

#[test]
fn dns_queries_every_search_name_at_every_nameserver() {
    if sandboxed("dns_queries_every_search_name_at_every_nameserver") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("resolv.conf");
    let conf_text = "nameserver 127.0.0.1\nsearch search.test\n";
    std::fs::write(&conf, conf_text).expect("resolv.conf");
    bind_mount(&conf, "/etc/resolv.conf");
    let root: PathBuf = dir.path().join("bundle");
    std::fs::create_dir(&root).expect("bundle dir");
    let spec = r#"  hostCollectors:
    - dns:
        collectorName: corp names
        hostnames: [db.corp.test, api, alias.corp.test, v6.corp.test, missing.corp.test]
    - dns: {}
"#;
    let rt = runtime();
    let (outcomes, _) = rt.block_on(async {
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:53")
            .await
            .expect("bind :53");
        let server = tokio::spawn(dns_server(sock));
        let r = collect_and_analyze(spec, &root).await;
        server.abort();
        r
    });
    assert_eq!(outcomes[0].status, CollectorStatus::Succeeded);
    assert_eq!(
        read(&root, "host-collectors/dns/corp_names/resolv.conf"),
        conf_text
    );
    let text = read(&root, "host-collectors/dns/corp_names/result.json");
    // Go's MarshalIndent with two spaces.
    assert!(
        text.starts_with("{\n  \"query\": {\n    \"alias.corp.test\": ["),
        "{text}"
    );
    let doc: Value = serde_json::from_str(&text).expect("json");
    let entry = |server: &str, search: &str, name: &str, answer: &str, record: &str| json!({"server": server, "search": search, "name": name, "answer": answer, "record": record});
    let s = "127.0.0.1:53";
    assert_eq!(
        doc,
        json!({
            "query": {
                "alias.corp.test": [
                    entry(s, "", "alias.corp.test.", "alias.corp.test.\t60\tIN\tCNAME\tdb.corp.test.", ""),
                    entry(s, "", "alias.corp.test.search.test.", "", ""),
                ],
                "api": [
                    entry(s, "search.test", "api.search.test.", "api.search.test.\t60\tIN\tA\t10.1.1.1", "10.1.1.1"),
                    entry(s, "", "api.", "", ""),
                ],
                "db.corp.test": [
                    entry(s, "", "db.corp.test.", "db.corp.test.\t60\tIN\tA\t10.9.8.7", "10.9.8.7"),
                    entry(s, "", "db.corp.test.search.test.", "", ""),
                ],
                "missing.corp.test": [
                    entry(s, "", "missing.corp.test.", "", ""),
                    entry(s, "", "missing.corp.test.search.test.", "", ""),
                ],
                "v6.corp.test": [
                    entry(s, "", "v6.corp.test.", "v6.corp.test.\t60\tIN\tAAAA\tfd00::1", "fd00::1"),
                    entry(s, "", "v6.corp.test.search.test.", "", ""),
                ],
            },
            "resolvedFromSearch": "search.test",
        })
    );
    // No hostnames: troubleshoot's error, in the error file of the default title.
    assert_eq!(outcomes[1].status, CollectorStatus::Failed);
    let err = read_json(&root, "host-collectors/errors/dns-error.json");
    assert!(
        err["error"]
            .as_str()
            .unwrap_or("")
            .contains("hostnames is required"),
        "{err}"
    );
}

/// A self-signed certificate made by openssl: `subject` (e.g. `/CN=x/O=y`), valid `days`.
fn openssl_cert(dir: &Path, stem: &str, subject: &str, days: &str) -> PathBuf {
    let cert = dir.join(format!("{stem}.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .arg("-keyout")
        .arg(dir.join(format!("{stem}.key")))
        .arg("-out")
        .arg(&cert)
        .args(["-days", days, "-subj", subject])
        .args([
            "-addext",
            "subjectAltName=DNS:a.test,DNS:b.test,IP:10.0.0.1",
        ])
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    cert
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_collection_describes_each_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).expect("certs dir");
    let long = openssl_cert(
        &certs,
        "long",
        "/C=US/O=Acme\\, Inc./OU=b/OU=a/CN=long lived/emailAddress=x@y.test",
        "3650",
    );
    openssl_cert(&certs, "soon", "/O=Acme/CN=soon", "10");
    // A chain file: two certificates, with a key block between them (skipped, as Go does).
    let chain = certs.join("chain.pem");
    let chain_text = format!(
        "{}{}{}",
        read(&certs, "long.pem"),
        read(&certs, "long.key"),
        read(&certs, "soon.pem")
    );
    std::fs::write(&chain, chain_text).expect("chain");
    let junk = certs.join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").expect("junk");
    let missing = certs.join("missing.pem");
    let spec = format!(
        r#"  hostCollectors:
    - certificatesCollection:
        paths: ["{chain}", "{missing}", "{junk}", "{dir}"]
    - certificatesCollection:
        collectorName: long
        paths: ["{long}"]
  hostAnalyzers:
    - certificatesCollection:
        collectorName: long
        outcomes:
          - fail: {{when: "notAfter < Today", message: expired}}
          - warn: {{when: "notAfter < Today + 365 days", message: expiring}}
          - pass: {{when: "notAfter > Today", message: valid}}
    - certificatesCollection:
        outcomes:
          - fail: {{when: "notAfter < Today", message: expired}}
          - warn: {{when: "notAfter < Today + 365 days", message: expiring}}
          - pass: {{when: "notAfter > Today", message: valid}}
"#,
        chain = chain.display(),
        missing = missing.display(),
        junk = junk.display(),
        dir = certs.display(),
        long = long.display(),
    );
    let root = dir.path().join("bundle");
    std::fs::create_dir(&root).expect("bundle");
    let (outcomes, results) = collect_and_analyze(&spec, &root).await;
    assert!(
        outcomes
            .iter()
            .all(|o| o.status == CollectorStatus::Succeeded),
        "{outcomes:?}"
    );
    let text = read(
        &root,
        "host-collectors/certificatesCollection/certificatesCollection.json",
    );
    // Go's MarshalIndent with a tab.
    assert!(
        text.starts_with("[\n\t{\n\t\t\"certificatePath\": "),
        "{text}"
    );
    let doc: Value = serde_json::from_str(&text).expect("json");
    let files = doc.as_array().expect("array");
    assert_eq!(files.len(), 4);
    assert_eq!(files[0]["message"], "cert-valid");
    let chain_doc = files[0]["certificateChain"].as_array().expect("chain");
    assert_eq!(chain_doc.len(), 2);
    let c = &chain_doc[0];
    let keys: Vec<&str> = c
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "certificate",
            "subject",
            "subjectAlternativeNames",
            "issuer",
            "notAfter",
            "notBefore",
            "isValid",
            "isCA"
        ]
    );
    // As troubleshoot prints names (Go's pkix.Name round trip, checked against its
    // support-bundle): known attributes in Go's order, both OUs in one RDN, emailAddress dropped.
    let subject = "CN=long lived,OU=b+OU=a,O=Acme\\, Inc.,C=US";
    assert_eq!(c["subject"], subject);
    assert_eq!(c["issuer"], subject);
    assert_eq!(c["subjectAlternativeNames"], json!(["a.test", "b.test"]));
    assert_eq!(c["isValid"], true);
    // openssl req marks self-signed certificates as CAs.
    assert_eq!(c["isCA"], true);
    assert_eq!(chain_doc[1]["subject"], "CN=soon,O=Acme");
    let no_chain = |i: usize, path: &Path, message: &str| {
        assert_eq!(
            files[i],
            json!({"certificatePath": path.display().to_string(), "message": message})
        );
    };
    no_chain(1, &missing, "cert-missing");
    no_chain(2, &junk, "cert-invalid");
    // A directory cannot be read as a file: missing, as troubleshoot says.
    no_chain(3, &certs, "cert-missing");
    let title = "Host Certificates Collection";
    let from = |p: &Path| format!("obtained from {}", p.display());
    assert_eq!(
        results,
        [
            pass(title, &format!("valid, {}", from(&long))),
            // The chain, judged as troubleshoot does: the first certificate's pass, then the
            // second's warn (it expires within a year) and its pass.
            pass(title, &format!("valid, {}", from(&chain))),
            (
                Some(Severity::Warn),
                title.to_string(),
                format!("expiring in 365 days, {}", from(&chain))
            ),
            pass(title, &format!("valid, {}", from(&chain))),
            fail(
                title,
                &format!("Certificate is missing, cannot be {}", from(&missing))
            ),
            fail(
                title,
                &format!("Certificate is missing, cannot be {}", from(&certs))
            ),
        ]
    );
}

/// A registry on 127.0.0.1 answering the v2 API with a Bearer token challenge: the token
/// endpoint wants Basic `user:secret`; `team/app:v1` exists, `team/app:v2` does not
/// (MANIFEST_UNKNOWN), `nope/*` is an unknown repository (NAME_UNKNOWN). Like Go's HTTP server,
/// it answers a TLS handshake with a plain 400. Returns its address; requests are logged.
async fn registry(log: std::sync::Arc<std::sync::Mutex<Vec<String>>>) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                    if head.first() == Some(&0x16) {
                        let _ = conn
                            .write_all(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
                            .await;
                        return;
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                let line = text.lines().next().unwrap_or("").to_string();
                let path = line.split(' ').nth(1).unwrap_or("").to_string();
                let auth = text
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("authorization: ")
                            .or_else(|| l.strip_prefix("Authorization: "))
                    })
                    .unwrap_or("")
                    .to_string();
                log.lock().expect("log").push(format!("{line} auth={auth}"));
                let challenge = format!(
                    "WWW-Authenticate: Bearer realm=\"http://{addr}/token\",service=\"test-registry\"\r\n"
                );
                let bearer = auth == "Bearer tok-123";
                let (status, extra, body): (&str, String, &str) = if path == "/v2/" {
                    if bearer {
                        ("200 OK", String::new(), "{}")
                    } else {
                        ("401 Unauthorized", challenge, "")
                    }
                } else if path.starts_with("/token?") {
                    // "user:secret"
                    if auth == "Basic dXNlcjpzZWNyZXQ="
                        && path.contains("scope=repository%3Ateam%2Fapp%3Apull")
                    {
                        ("200 OK", String::new(), r#"{"token":"tok-123"}"#)
                    } else if auth == "Basic dXNlcjpzZWNyZXQ=" {
                        ("200 OK", String::new(), r#"{"access_token":"tok-123"}"#)
                    } else {
                        ("401 Unauthorized", String::new(), "")
                    }
                } else if !bearer {
                    ("401 Unauthorized", challenge, "")
                } else if path == "/v2/team/app/manifests/v1" {
                    ("200 OK", String::new(), r#"{"schemaVersion":2}"#)
                } else if path == "/v2/team/app/manifests/v2" {
                    (
                        "404 Not Found",
                        String::new(),
                        r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                    )
                } else if path.starts_with("/v2/nope/") {
                    (
                        "404 Not Found",
                        String::new(),
                        r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#,
                    )
                } else {
                    ("500 Internal Server Error", String::new(), "")
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(resp.as_bytes()).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_images_asks_a_v2_registry_with_a_token() {
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let addr = registry(log.clone()).await;
    let spec = format!(
        r#"  hostCollectors:
    - registryImages:
        images: ["{addr}/team/app:v1", "{addr}/team/app:v2", "{addr}/nope/app:v1", "Bad:Name"]
        username: user
        password: secret
    - registryImages:
        collectorName: found-and-missing
        images: ["{addr}/team/app:v1", "{addr}/team/app:v2"]
        username: user
        password: secret
    - registryImages:
        collectorName: anonymous
        images: ["{addr}/team/app:v1"]
  hostAnalyzers:
    - registryImages:
        collectorName: found-and-missing
        outcomes:
          - fail: {{when: "errors > 0", message: "errors: {{{{ .Errors }}}}"}}
          - warn: {{when: "missing > 0", message: "missing: {{{{ .Missing }}}}"}}
          - pass: {{message: all there}}
    - registryImages:
        collectorName: anonymous
        outcomes:
          - fail: {{when: "errors > 0", message: "unverified"}}
          - pass: {{message: all there}}
"#
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let (outcomes, results) = collect_and_analyze(&spec, root).await;
    assert!(
        outcomes
            .iter()
            .all(|o| o.status == CollectorStatus::Succeeded),
        "{outcomes:?}"
    );
    let text = read(root, "host-collectors/registry-images/images.json");
    assert!(text.starts_with("{\n  \"images\": {\n"), "{text}");
    let doc: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        doc,
        json!({"images": {
            format!("{addr}/team/app:v1"): {"exists": true},
            format!("{addr}/team/app:v2"): {"exists": false},
            format!("{addr}/nope/app:v1"): {"exists": false, "error": format!(
                "failed to get image manifest: GET http://{addr}/v2/nope/app/manifests/v1: NAME_UNKNOWN: repository name not known to registry"
            )},
            "Bad:Name": {"exists": false, "error": "failed to parse image name Bad:Name: could not parse reference: Bad:Name"},
        }})
    );
    let anonymous = read_json(root, "host-collectors/registry-images/anonymous.json");
    let err = anonymous["images"][format!("{addr}/team/app:v1")]["error"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(err.contains("/token") && err.contains("401"), "{err}");
    // The password is sent to the token endpoint only, and written nowhere.
    for f in ["images.json", "found-and-missing.json", "anonymous.json"] {
        assert!(!read(root, &format!("host-collectors/registry-images/{f}")).contains("secret"));
    }
    let log = log.lock().expect("log").clone();
    assert!(
        log.iter()
            .filter(|l| l.contains("auth=Basic"))
            .all(|l| l.starts_with("GET /token?")),
        "{log:?}"
    );
    let missing = format!("missing: [{addr}/team/app:v2]");
    assert_eq!(
        results,
        [
            (Some(Severity::Warn), "Registry Images".to_string(), missing),
            fail("Registry Images", "unverified"),
        ]
    );
}

/// Network namespaces and links this agent's probes create (`tsa-<tag>-from|to`,
/// `t<tag>fi|fo|ti|to`) that still exist.
fn probe_leftovers() -> Vec<String> {
    let mut left: Vec<String> = ip(&["netns", "list"])
        .lines()
        .filter(|l| l.starts_with("tsa-"))
        .map(str::to_string)
        .collect();
    for line in ip(&["-o", "link", "show"]).lines() {
        let name = line
            .split(": ")
            .nth(1)
            .unwrap_or("")
            .split('@')
            .next()
            .unwrap_or("");
        let ours = name.len() == 11
            && name.starts_with('t')
            && ["fi", "fo", "ti", "to"].iter().any(|s| name.ends_with(s));
        if ours {
            left.push(name.to_string());
        }
    }
    left
}

fn set_ip_forward(on: bool) {
    // Per network namespace: this is the sandbox's own setting.
    std::fs::write("/proc/sys/net/ipv4/ip_forward", if on { "1" } else { "0" })
        .expect("ip_forward");
}

const NETNS_ANALYZER: &str = r#"  hostAnalyzers:
    - networkNamespaceConnectivity:
        outcomes:
          - fail: {message: "{{ .FromCIDR }} cannot reach {{ .ToCIDR }}: {{ .ErrorMessage }}"}
          - pass: {message: "{{ .FromCIDR }} reaches {{ .ToCIDR }}"}
"#;

#[test]
fn network_namespace_connectivity_probes_and_removes_what_it_made() {
    if sandboxed("network_namespace_connectivity_probes_and_removes_what_it_made") {
        return;
    }
    let rt = runtime();
    let collector = |timeout: &str| {
        format!(
            "  hostCollectors:\n    - networkNamespaceConnectivity: {{fromCIDR: 10.10.0.0/24, toCIDR: 10.20.0.0/24, port: 9090, timeout: {timeout}}}\n{NETNS_ANALYZER}"
        )
    };
    // Forwarding on: both probes get their echo.
    set_ip_forward(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let (outcomes, results) = rt.block_on(collect_and_analyze(&collector("3s"), dir.path()));
    assert_eq!(
        outcomes[0].status,
        CollectorStatus::Succeeded,
        "{outcomes:?}"
    );
    assert_eq!(outcomes[0].title, "Host Network Namespace Connectivity");
    let text = read(
        dir.path(),
        "host-collectors/system/networkNamespaceConnectivity.json",
    );
    let doc: Value = serde_json::from_str(&text).expect("json");
    let keys: Vec<&str> = doc
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["from_cidr", "to_cidr", "errors", "output", "success"]
    );
    assert_eq!(doc["success"], true, "{text}");
    assert_eq!(
        doc["errors"],
        json!({"from_cidr_creation": "", "to_cidr_creation": "", "udp_client": "", "udp_server": "", "tcp_client": "", "tcp_server": ""})
    );
    let logs = doc["output"]["logs"].as_array().expect("logs");
    assert!(
        logs.iter()
            .all(|l| l.as_str().is_some_and(|l| l.starts_with('[')))
    );
    assert_eq!(
        results,
        [pass(
            "Network Namespace Connectivity",
            "10.10.0.0/24 reaches 10.20.0.0/24"
        )]
    );
    assert_eq!(probe_leftovers(), Vec::<String>::new());

    // Forwarding off: the host does not route between them; the probe fails and says how.
    set_ip_forward(false);
    let dir = tempfile::tempdir().expect("tempdir");
    let (outcomes, results) = rt.block_on(collect_and_analyze(&collector("1s"), dir.path()));
    assert_eq!(outcomes[0].status, CollectorStatus::Succeeded);
    let doc = read_json(
        dir.path(),
        "host-collectors/system/networkNamespaceConnectivity.json",
    );
    assert_eq!(doc["success"], false);
    let errors = &doc["errors"];
    assert!(
        errors["udp_client"]
            .as_str()
            .unwrap_or("")
            .starts_with("error reading from udp socket"),
        "{errors}"
    );
    assert!(
        errors["tcp_client"]
            .as_str()
            .unwrap_or("")
            .starts_with("error dialing tcp"),
        "{errors}"
    );
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].0, Some(Severity::Fail));
    assert!(
        results[0].2.starts_with("10.10.0.0/24 cannot reach 10.20.0.0/24: UDP connection failed with: error reading from udp socket"),
        "{results:?}"
    );
    assert_eq!(probe_leftovers(), Vec::<String>::new());

    // Cancelled while the probe waits: cancelled, and still nothing left behind.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {{name: more}}\nspec:\n{}",
        collector("60s")
    );
    let file = parse_spec_text(Path::new("more.yaml"), &text);
    let cancel = CancellationToken::new();
    let outcomes = rt.block_on(async {
        let c2 = cancel.clone();
        tokio::spawn(async move {
            // Cancel once the probe has made its namespaces and waits for an answer.
            while !ip(&["netns", "list"]).contains("tsa-") {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            c2.cancel();
        });
        tokio::time::timeout(
            Duration::from_secs(50),
            host::collect(
                &file.spec.host_collectors,
                dir.path(),
                &cancel,
                &HostOptions::default(),
                chrono::Utc::now(),
            ),
        )
        .await
        .expect("a cancelled probe stops well before its 60s timeout")
    });
    assert_eq!(
        outcomes[0].status,
        CollectorStatus::Skipped {
            reason: "cancelled".into()
        }
    );
    assert_eq!(probe_leftovers(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_namespace_connectivity_rejects_bad_settings() {
    let spec = r#"  hostCollectors:
    - networkNamespaceConnectivity: {collectorName: same, fromCIDR: 10.0.0.0/24, toCIDR: 10.0.0.0/24}
    - networkNamespaceConnectivity: {collectorName: v6, fromCIDR: "fd00::/64", toCIDR: 10.0.0.0/24}
    - networkNamespaceConnectivity: {collectorName: missing, fromCIDR: 10.0.0.0/24}
    - networkNamespaceConnectivity: {collectorName: timeout, fromCIDR: 10.1.0.0/24, toCIDR: 10.0.0.0/24, timeout: soon}
"#;
    let dir = tempfile::tempdir().expect("tempdir");
    let (outcomes, _) = collect_and_analyze(spec, dir.path()).await;
    let errors: Vec<String> = outcomes
        .iter()
        .map(|o| {
            assert_eq!(o.status, CollectorStatus::Failed, "{o:?}");
            o.error.clone().unwrap_or_default()
        })
        .collect();
    assert_eq!(
        errors,
        [
            "invalid spec: fromCIDR and toCIDR must be different",
            "invalid spec: fd00::/64 is not a valid cidr: expected an IPv4 network such as 10.0.0.0/24 (prefix at most /30)",
            "invalid spec: fromCIDR and toCIDR must be provided",
            "invalid spec: invalid timeout soon",
        ]
    );
}

#[test]
fn registry_images_without_username_uses_the_agents_own_docker_config() {
    let name = "registry_images_without_username_uses_the_agents_own_docker_config";
    // The child gets its own DOCKER_CONFIG (the tests share one process environment).
    let config_dir = tempfile::tempdir().expect("tempdir");
    let dir_text = config_dir.path().to_str().expect("utf-8").to_string();
    if alone::rerun(module_path!(), name, &[("DOCKER_CONFIG", &dir_text)]) {
        return;
    }
    let config_dir = PathBuf::from(std::env::var("DOCKER_CONFIG").expect("DOCKER_CONFIG"));
    let rt = runtime();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let addr = rt.block_on(registry(log));
    let config = config_dir.join("config.json");
    // "user:secret"; a credential helper is named too, and must not be run.
    std::fs::write(
        &config,
        format!(r#"{{"auths": {{"{addr}": {{"auth": "dXNlcjpzZWNyZXQ="}}}}, "credsStore": "no-such-helper"}}"#),
    )
    .expect("config.json");
    let spec =
        format!("  hostCollectors:\n    - registryImages: {{images: [\"{addr}/team/app:v1\"]}}\n");
    let image = format!("{addr}/team/app:v1");

    let dir = tempfile::tempdir().expect("tempdir");
    rt.block_on(collect_and_analyze(&spec, dir.path()));
    let doc = read_json(dir.path(), "host-collectors/registry-images/images.json");
    assert_eq!(doc["images"][&image], json!({"exists": true}));

    // Owned by another user: not trusted, so no credentials and the token is refused.
    std::os::unix::fs::chown(&config, Some(65534), Some(65534)).expect("chown");
    let dir = tempfile::tempdir().expect("tempdir");
    rt.block_on(collect_and_analyze(&spec, dir.path()));
    let doc = read_json(dir.path(), "host-collectors/registry-images/images.json");
    assert_eq!(doc["images"][&image]["exists"], false);
    assert!(
        doc["images"][&image]["error"]
            .as_str()
            .unwrap_or("")
            .contains("401"),
        "{doc}"
    );

    // Ours again but writable by others: not trusted either.
    let me = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&config_dir).expect("dir"));
    std::os::unix::fs::chown(&config, Some(me), None).expect("chown");
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o666))
        .expect("chmod");
    let dir = tempfile::tempdir().expect("tempdir");
    rt.block_on(collect_and_analyze(&spec, dir.path()));
    let doc = read_json(dir.path(), "host-collectors/registry-images/images.json");
    assert_eq!(doc["images"][&image]["exists"], false);
}
